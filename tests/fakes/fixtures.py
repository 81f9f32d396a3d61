"""Pytest fixtures for the fake servers, registered for the whole suite.

Each server starts once per test session; the per-test fixture clears what it
recorded and what was scripted, so tests never see each other's traffic.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.smtp_server import FakeSmtpServer
from tests.fakes.stripe_server import FakeStripeServer
from tests.fakes.vendor_server import FakeVendorServer


@pytest.fixture(scope="session")
def _fake_openai_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(scope="session")
def _fake_vendor_server() -> Iterator[FakeVendorServer]:
    with FakeVendorServer() as server:
        yield server


@pytest.fixture(scope="session")
def _fake_smtp_server() -> Iterator[FakeSmtpServer]:
    with FakeSmtpServer() as server:
        yield server


@pytest.fixture
def fake_openai(_fake_openai_server: FakeOpenAIServer) -> FakeOpenAIServer:
    _fake_openai_server.reset()
    return _fake_openai_server


@pytest.fixture
def fake_vendor(_fake_vendor_server: FakeVendorServer) -> FakeVendorServer:
    _fake_vendor_server.reset()
    return _fake_vendor_server


@pytest.fixture
def fake_smtp(_fake_smtp_server: FakeSmtpServer) -> FakeSmtpServer:
    _fake_smtp_server.reset()
    return _fake_smtp_server


@pytest.fixture(scope="session")
def _fake_stripe_server() -> Iterator[FakeStripeServer]:
    with FakeStripeServer() as server:
        yield server


@pytest.fixture
def fake_stripe(_fake_stripe_server: FakeStripeServer) -> FakeStripeServer:
    _fake_stripe_server.reset()
    return _fake_stripe_server
