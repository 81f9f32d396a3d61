"""Outbound HTTP refuses our own network, after DNS and on every redirect, and
caps response bodies."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError

from botskis.config import Settings
from botskis.execution.outbound import (
    AddressPolicy,
    BlockedAddress,
    GuardedTransport,
    ResponseTooLarge,
    create_client,
    is_public,
)
from tests.fakes.threaded_http import Reply
from tests.fakes.vendor_server import FakeVendorServer

ClientFactory = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def make_client() -> AsyncIterator[ClientFactory]:
    clients: list[httpx.AsyncClient] = []

    def factory(allowlist: str = "", **settings: object) -> httpx.AsyncClient:
        client = create_client(Settings(_env_file=None, http_allowlist=allowlist, **settings))  # type: ignore[call-arg, arg-type]
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.aclose()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.100.100.200",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fd00:ec2::254",
        "fe80::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:a00:1::",
        "64:ff9b::a9fe:a9fe",
    ],
)
def test_internal_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_internet_addresses_are_public(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/x",
        "http://10.0.0.1/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:{port}/x",
        "http://[fd00:ec2::254]/x",
        "http://localhost:{port}/x",
        "http://metadata.google.internal/computeMetadata/v1/",
        # Other spellings of loopback that resolvers accept (inet_aton forms).
        "http://2130706433:{port}/x",
        "http://0x7f.0.0.1:{port}/x",
        "http://0x7f000001:{port}/x",
        "http://127.1:{port}/x",
        "http://[::ffff:127.0.0.1]:{port}/x",
        "http://[::ffff:7f00:1]:{port}/x",
        # Userinfo that looks like a public host in front of a private one.
        "http://example.com@127.0.0.1:{port}/x",
        "http://user:pass@localhost:{port}/x",
    ],
)
async def test_private_destinations_are_refused(
    make_client: ClientFactory, fake_vendor: FakeVendorServer, url: str
) -> None:
    client = make_client()
    with pytest.raises(BlockedAddress, match="HTTP_ALLOWLIST"):
        await client.get(url.format(port=fake_vendor.port))
    assert fake_vendor.requests == []


async def test_octal_loopback_never_leaves_the_client(
    make_client: ClientFactory, fake_vendor: FakeVendorServer
) -> None:
    # httpx refuses the octal form as an invalid URL before any lookup.
    with pytest.raises((BlockedAddress, httpx.InvalidURL)):
        await make_client().get(f"http://0177.0.0.1:{fake_vendor.port}/x")
    assert fake_vendor.requests == []


async def test_allowlisted_host_name_is_reachable(
    make_client: ClientFactory, fake_vendor: FakeVendorServer
) -> None:
    client = make_client("localhost")
    response = await client.get(f"http://localhost:{fake_vendor.port}/by-name")
    assert response.status_code == 200
    assert fake_vendor.requests_to("/by-name")


async def test_allowlisted_cidr_is_reachable_and_the_connection_is_pinned(
    make_client: ClientFactory, fake_vendor: FakeVendorServer
) -> None:
    client = make_client("127.0.0.0/8")
    response = await client.get(f"http://localhost:{fake_vendor.port}/pinned")
    assert response.status_code == 200
    (request,) = fake_vendor.requests_to("/pinned")
    assert request.headers["host"] == f"localhost:{fake_vendor.port}"


async def test_allowlisting_one_network_does_not_open_others(
    make_client: ClientFactory,
) -> None:
    client = make_client("127.0.0.0/8")
    with pytest.raises(BlockedAddress):
        await client.get("http://10.0.0.1/x")
    with pytest.raises(BlockedAddress):
        await client.get("http://169.254.169.254/x")


async def test_redirect_to_a_forbidden_address_is_refused(
    make_client: ClientFactory, fake_vendor: FakeVendorServer
) -> None:
    target = f"http://127.0.0.1:{fake_vendor.port}/internal"
    fake_vendor.respond("/start", Reply(302, headers={"Location": target}))
    client = make_client("localhost")
    with pytest.raises(BlockedAddress):
        await client.get(f"http://localhost:{fake_vendor.port}/start")
    assert fake_vendor.requests_to("/start") and not fake_vendor.requests_to("/internal")


async def test_redirect_to_metadata_is_refused_even_when_the_fake_is_allowed(
    make_client: ClientFactory, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond(
        "/start", Reply(307, headers={"Location": "http://169.254.169.254/latest/"})
    )
    with pytest.raises(BlockedAddress, match="metadata"):
        await make_client("127.0.0.1").get(f"{fake_vendor.url}/start")


async def test_allowed_redirects_are_followed(
    make_client: ClientFactory, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond("/old", Reply(301, headers={"Location": "/new"}))
    response = await make_client("127.0.0.1").get(f"{fake_vendor.url}/old")
    assert response.status_code == 200 and response.url.path == "/new"


async def test_non_http_schemes_are_refused(make_client: ClientFactory) -> None:
    with pytest.raises(httpx.UnsupportedProtocol):
        await make_client().get("file:///etc/passwd")


async def test_response_body_over_the_cap_is_refused(
    make_client: ClientFactory, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond("/big", Reply(200, body="x" * 5000))
    client = make_client("127.0.0.1", http_max_response_bytes=1024)
    with pytest.raises(ResponseTooLarge, match="1024"):
        await client.get(f"{fake_vendor.url}/big")
    small = await client.get(f"{fake_vendor.url}/small")
    assert small.status_code == 200


async def test_unresolvable_host_is_a_connect_error() -> None:
    policy = AddressPolicy()
    with pytest.raises(httpx.ConnectError):
        await policy.resolve("does-not-exist.invalid", 80)


@pytest.mark.parametrize("entry", ["10.0.0.0/33", "not a host", "http://x.io"])
def test_bad_allowlist_entries_fail_at_start(entry: str) -> None:
    with pytest.raises(ValidationError, match="http_allowlist"):
        Settings(_env_file=None, http_allowlist=entry)  # type: ignore[call-arg]


def _self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.mark.parametrize(("cert_name", "verified"), [("localhost", True), ("other.example", False)])
async def test_pinned_https_still_verifies_the_certificate_against_the_host_name(
    tmp_path: Path, cert_name: str, verified: bool
) -> None:
    cert, key = _self_signed(tmp_path, cert_name)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    client_tls = ssl.create_default_context(cafile=str(cert))
    transport = GuardedTransport(AddressPolicy(["127.0.0.0/8"]), 1024 * 1024, verify=client_tls)
    with FakeVendorServer(tls=server_tls) as server:
        async with httpx.AsyncClient(transport=transport) as client:
            url = f"https://localhost:{server.port}/secure"
            if verified:
                response = await client.get(url)
                assert response.status_code == 200
                assert (
                    server.requests_to("/secure")[0].headers["host"] == f"localhost:{server.port}"
                )
            else:
                with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                    await client.get(url)


async def test_a_tls_connection_is_never_reused_for_another_host_name_on_the_same_address(
    tmp_path: Path,
) -> None:
    cert, key = _self_signed(tmp_path, "localhost")
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    client_tls = ssl.create_default_context(cafile=str(cert))
    transport = GuardedTransport(AddressPolicy(["127.0.0.0/8"]), 1024 * 1024, verify=client_tls)
    with FakeVendorServer(tls=server_tls) as server:
        async with httpx.AsyncClient(transport=transport) as client:
            ok = await client.get(f"https://localhost:{server.port}/a")
            assert ok.status_code == 200
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.get(f"https://127.0.0.1:{server.port}/b")
