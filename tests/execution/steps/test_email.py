"""The email step against the local SMTP server: delivery, credentials, and the
classification of refusals and unreachable servers."""

from __future__ import annotations

from typing import Any

import pytest

from botskis.execution.steps import StepFailure, StepResult, execute_step
from botskis.execution.workflow import Step
from tests.execution.steps.conftest import ContextFactory, Harness, step_settings
from tests.fakes.smtp_server import FakeSmtpServer
from tests.live_server import free_port


async def call(harness: Harness, **params: Any) -> StepResult:
    return await execute_step(Step(id="mail", kind="email", params=params), harness.ctx)


async def fail(harness: Harness, **params: Any) -> StepFailure:
    with pytest.raises(StepFailure) as failure:
        await call(harness, **params)
    return failure.value


async def test_email_is_delivered_with_subject_and_body(
    make_context: ContextFactory, fake_smtp: FakeSmtpServer
) -> None:
    harness = make_context(variables={"input": {"name": "Ada", "invoice": "INV-7"}})
    result = await call(
        harness,
        to=["ada@example.com", "Billing <billing@example.com>"],
        cc="boss@example.com",
        subject="Invoice {{ input.invoice }} is due",
        body="Hello {{ input.name }},\nplease pay.",
        reply_to="help@example.com",
    )
    (message,) = fake_smtp.messages
    assert message.subject == "Invoice INV-7 is due"
    assert message.text.strip() == "Hello Ada,\nplease pay."
    assert message.mail_from == "bot@example.com"
    assert message.recipients == ["ada@example.com", "billing@example.com", "boss@example.com"]
    assert message.message["Reply-To"] == "help@example.com"
    assert message.message["Message-ID"] == result.output["message_id"]
    assert result.output["recipients"] == message.recipients


async def test_html_body_is_sent_as_an_alternative(
    make_context: ContextFactory, fake_smtp: FakeSmtpServer
) -> None:
    await call(make_context(), to="a@example.com", subject="s", body="plain", html="<b>rich</b>")
    (message,) = fake_smtp.messages
    assert message.text.strip() == "plain"
    assert (message.html or "").strip() == "<b>rich</b>"


async def test_the_users_smtp_credential_is_used_with_its_login(
    make_context: ContextFactory, fake_smtp: FakeSmtpServer
) -> None:
    fake_smtp.password = "s3cret"
    harness = make_context(
        settings=step_settings(),
        credentials={
            "smtp": {
                "host": fake_smtp.host,
                "port": fake_smtp.port,
                "username": "shop",
                "password": "s3cret",
                "from_address": "shop@example.com",
            }
        },
    )
    await call(harness, to="c@example.com", subject="s", body="b")
    assert fake_smtp.logins == [("shop", "s3cret")]
    assert fake_smtp.messages[0].mail_from == "shop@example.com"


async def test_a_refused_login_is_permanent(
    make_context: ContextFactory, fake_smtp: FakeSmtpServer
) -> None:
    fake_smtp.password = "right"
    harness = make_context(
        credentials={
            "smtp": {
                "host": fake_smtp.host,
                "port": fake_smtp.port,
                "username": "u",
                "password": "wrong",
                "from_address": "u@example.com",
            }
        }
    )
    failure = await fail(harness, to="c@example.com", subject="s", body="b")
    assert failure.kind == "auth" and not failure.transient
    assert fake_smtp.messages == []


async def test_a_credential_host_on_a_private_network_is_refused(
    make_context: ContextFactory, fake_smtp: FakeSmtpServer
) -> None:
    harness = make_context(
        settings=step_settings(http_allowlist=""),
        credentials={
            "smtp": {"host": "127.0.0.1", "port": fake_smtp.port, "from_address": "u@example.com"}
        },
    )
    failure = await fail(harness, to="c@example.com", subject="s", body="b")
    assert failure.kind == "blocked_address" and not failure.transient
    assert fake_smtp.messages == []


async def test_no_smtp_configured_is_a_missing_credential(make_context: ContextFactory) -> None:
    failure = await fail(
        make_context(settings=step_settings()), to="c@example.com", subject="s", body="b"
    )
    assert failure.kind == "missing_credential" and "SMTP_HOST" in failure.message


async def test_an_unreachable_server_is_transient(make_context: ContextFactory) -> None:
    harness = make_context(
        settings=step_settings(
            smtp_host="127.0.0.1",
            smtp_port=free_port(),
            smtp_from="bot@example.com",
            smtp_starttls=False,
        )
    )
    failure = await fail(harness, to="c@example.com", subject="s", body="b")
    assert failure.transient and failure.kind == "connection"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"to": "not-an-address", "subject": "s", "body": "b"}, "not an email address"),
        ({"to": "a@example.com\r\nBcc: x@evil.io", "subject": "s", "body": "b"}, "not an email"),
        ({"to": "{{ input.blank }}", "subject": "s", "body": "b"}, "to rendered empty"),
        ({"to": "a@example.com", "subject": "{{ input.blank }}", "body": "b"}, "subject"),
        ({"to": ["a@example.com"] * 51, "subject": "s", "body": "b"}, "at most 50"),
    ],
)
async def test_bad_rendered_params_are_permanent(
    make_context: ContextFactory,
    fake_smtp: FakeSmtpServer,
    params: dict[str, Any],
    message: str,
) -> None:
    failure = await fail(make_context(variables={"input": {"blank": ""}}), **params)
    assert not failure.transient and failure.kind == "invalid_config"
    assert message in failure.message
    assert fake_smtp.messages == []


async def test_subject_newlines_cannot_inject_headers(
    make_context: ContextFactory, fake_smtp: FakeSmtpServer
) -> None:
    harness = make_context(variables={"input": {"s": "Hi\r\nBcc: spy@evil.io"}})
    await call(harness, to="a@example.com", subject="{{ input.s }}", body="b")
    (message,) = fake_smtp.messages
    assert message.recipients == ["a@example.com"]
    assert message.message["Bcc"] is None


async def test_the_operators_server_never_sends_as_a_user_chosen_address(
    make_context: ContextFactory, fake_smtp: FakeSmtpServer
) -> None:
    await call(
        make_context(), to="a@example.com", subject="s", body="b", **{"from": "ceo@bank.example"}
    )
    (message,) = fake_smtp.messages
    assert message.mail_from == "bot@example.com"
    assert message.message["From"] == "bot@example.com"
    assert message.message["Reply-To"] == "ceo@bank.example"


async def test_the_users_own_server_may_send_as_another_address(
    make_context: ContextFactory, fake_smtp: FakeSmtpServer
) -> None:
    harness = make_context(
        credentials={
            "smtp": {"host": fake_smtp.host, "port": fake_smtp.port, "from_address": "a@shop.io"}
        }
    )
    await call(harness, to="c@example.com", subject="s", body="b", **{"from": "sales@shop.io"})
    assert fake_smtp.messages[0].mail_from == "sales@shop.io"
