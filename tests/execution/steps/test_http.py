"""The http step against the recording vendor fake: requests, credentials,
outputs and the classification of every failure."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from botskis.execution.steps import StepFailure, StepResult, execute_step
from botskis.execution.workflow import Step
from tests.execution.steps.conftest import ContextFactory, Harness, step_settings
from tests.fakes.threaded_http import Reply
from tests.fakes.vendor_server import FakeVendorServer
from tests.live_server import free_port


async def call(harness: Harness, **params: Any) -> StepResult:
    return await execute_step(Step(id="call", kind="http", params=params), harness.ctx)


async def fail(harness: Harness, **params: Any) -> StepFailure:
    with pytest.raises(StepFailure) as failure:
        await call(harness, **params)
    return failure.value


async def test_get_with_query_and_headers_exposes_status_headers_and_json(
    make_context: ContextFactory, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond("/orders", Reply(200, json={"orders": [1, 2]}, headers={"X-Total": "2"}))
    harness = make_context(variables={"input": {"shop": "acme"}})
    result = await call(
        harness,
        url=f"{fake_vendor.url}/orders",
        query={"shop": "{{ input.shop }}", "limit": 5},
        headers={"X-Trace": "t1"},
    )
    (request,) = fake_vendor.requests_to("/orders", "GET")
    assert request.query == {"shop": "acme", "limit": "5"}
    assert request.headers["x-trace"] == "t1"
    assert result.output["status"] == 200
    assert result.output["json"] == {"orders": [1, 2]}
    assert result.output["headers"]["x-total"] == "2"
    assert result.output["text"] == '{"orders": [1, 2]}'


async def test_post_json_form_and_raw_bodies(
    make_context: ContextFactory, fake_vendor: FakeVendorServer
) -> None:
    harness = make_context()
    await call(harness, method="POST", url=f"{fake_vendor.url}/j", json={"a": [1, {"b": None}]})
    await call(harness, method="PUT", url=f"{fake_vendor.url}/f", form={"name": "Ada", "n": 1})
    await call(
        harness,
        method="PATCH",
        url=f"{fake_vendor.url}/r",
        body="<xml/>",
        headers={"Content-Type": "application/xml"},
    )
    assert fake_vendor.requests_to("/j", "POST")[0].json == {"a": [1, {"b": None}]}
    form = fake_vendor.requests_to("/f", "PUT")[0]
    assert form.form == {"name": "Ada", "n": "1"}
    assert form.headers["content-type"] == "application/x-www-form-urlencoded"
    raw = fake_vendor.requests_to("/r", "PATCH")[0]
    assert raw.body == b"<xml/>" and raw.headers["content-type"] == "application/xml"


@pytest.mark.parametrize(
    ("kind", "secret", "header", "value"),
    [
        ("http_bearer", {"token": "tok"}, "authorization", "Bearer tok"),
        ("hubspot", {"access_token": "hs"}, "authorization", "Bearer hs"),
        ("http_basic", {"username": "u", "password": "p"}, "authorization", "Basic dTpw"),
        ("http_header", {"header_name": "X-Api-Key", "value": "k"}, "x-api-key", "k"),
        ("shopify", {"shop_domain": "s", "access_token": "sh"}, "x-shopify-access-token", "sh"),
    ],
)
async def test_credentials_are_injected_as_headers(
    make_context: ContextFactory,
    fake_vendor: FakeVendorServer,
    kind: str,
    secret: dict[str, str],
    header: str,
    value: str,
) -> None:
    harness = make_context(credentials={kind: secret})
    await call(harness, url=f"{fake_vendor.url}/api", credential=kind)
    assert fake_vendor.requests_to("/api")[0].headers[header] == value
    assert harness.credential_lookups == [kind]


async def test_trello_credential_goes_in_the_query(
    make_context: ContextFactory, fake_vendor: FakeVendorServer
) -> None:
    harness = make_context(credentials={"trello": {"api_key": "key1", "token": "tok1"}})
    await call(
        harness,
        method="POST",
        url=f"{fake_vendor.url}/1/cards",
        query={"idList": "L"},
        credential="trello",
    )
    assert fake_vendor.requests_to("/1/cards")[0].query == {
        "idList": "L",
        "key": "key1",
        "token": "tok1",
    }


async def test_slack_webhook_credential_supplies_the_url(
    make_context: ContextFactory, fake_vendor: FakeVendorServer
) -> None:
    harness = make_context(
        credentials={"slack_webhook": {"webhook_url": f"{fake_vendor.url}/services/T/B/X"}}
    )
    result = await call(harness, method="POST", credential="slack_webhook", json={"text": "hi"})
    assert fake_vendor.requests_to("/services/T/B/X")[0].json == {"text": "hi"}
    assert result.output["status"] == 200


async def test_missing_credential_is_permanent(
    make_context: ContextFactory, fake_vendor: FakeVendorServer
) -> None:
    failure = await fail(make_context(), url=f"{fake_vendor.url}/x", credential="stripe")
    assert failure.kind == "missing_credential" and not failure.transient
    assert "'stripe'" in failure.message
    assert fake_vendor.requests == []


async def test_credential_without_its_fields_is_a_config_error(
    make_context: ContextFactory, fake_vendor: FakeVendorServer
) -> None:
    harness = make_context(credentials={"http_bearer": {}})
    failure = await fail(harness, url=f"{fake_vendor.url}/x", credential="http_bearer")
    assert failure.kind == "invalid_config" and "'token'" in failure.message


async def test_503_is_transient(
    make_context: ContextFactory, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond("/flaky", Reply(503, body="maintenance"))
    failure = await fail(make_context(), url=f"{fake_vendor.url}/flaky")
    assert failure.transient and failure.kind == "upstream_error"
    assert "503" in failure.message and "maintenance" in failure.message


async def test_503_then_200_succeeds_on_the_next_attempt(
    make_context: ContextFactory, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond("/flaky", Reply(503), Reply(200, json={"ok": 1}))
    harness = make_context()
    assert (await fail(harness, url=f"{fake_vendor.url}/flaky")).transient
    assert (await call(harness, url=f"{fake_vendor.url}/flaky")).output["json"] == {"ok": 1}


async def test_429_is_transient_with_retry_after(
    make_context: ContextFactory, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond("/limited", Reply(429, headers={"Retry-After": "7"}))
    failure = await fail(make_context(), url=f"{fake_vendor.url}/limited")
    assert failure.transient and failure.kind == "rate_limited" and failure.retry_after == 7.0


async def test_429_with_an_http_date_retry_after(
    make_context: ContextFactory, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond(
        "/limited", Reply(429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    )
    failure = await fail(make_context(), url=f"{fake_vendor.url}/limited")
    assert failure.transient and failure.retry_after == 0.0


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_refusals_are_permanent(
    make_context: ContextFactory, fake_vendor: FakeVendorServer, status: int
) -> None:
    fake_vendor.respond("/secure", Reply(status, json={"error": "bad token"}))
    failure = await fail(make_context(), url=f"{fake_vendor.url}/secure")
    assert not failure.transient and failure.kind == "auth"
    assert str(status) in failure.message and "credential" in failure.message


async def test_other_4xx_is_permanent_with_status_and_body_snippet(
    make_context: ContextFactory, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond("/cards", Reply(422, json={"error": "idList is invalid " + "z" * 1000}))
    failure = await fail(make_context(), method="POST", url=f"{fake_vendor.url}/cards", json={})
    assert not failure.transient and failure.kind == "http_error"
    assert "422" in failure.message and "idList is invalid" in failure.message
    assert len(failure.message) < 500


async def test_expect_status_rejects_other_successes(
    make_context: ContextFactory, fake_vendor: FakeVendorServer
) -> None:
    harness = make_context()
    failure = await fail(harness, url=f"{fake_vendor.url}/x", expect_status=201)
    assert failure.kind == "http_error" and "expected [201]" in failure.message
    fake_vendor.respond("/gone", Reply(404))
    result = await call(harness, url=f"{fake_vendor.url}/gone", expect_status=[200, 404])
    assert result.output["status"] == 404


async def test_refused_address_is_a_permanent_step_error(
    make_context: ContextFactory, fake_vendor: FakeVendorServer
) -> None:
    harness = make_context(settings=step_settings(http_allowlist=""))
    failure = await fail(harness, url=f"{fake_vendor.url}/x")
    assert failure.kind == "blocked_address" and not failure.transient
    assert "HTTP_ALLOWLIST" in failure.message
    metadata = await fail(harness, url="http://169.254.169.254/latest/meta-data/")
    assert metadata.kind == "blocked_address"
    assert fake_vendor.requests == []


async def test_connection_refused_is_transient(make_context: ContextFactory) -> None:
    failure = await fail(make_context(), url=f"http://127.0.0.1:{free_port()}/x")
    assert failure.transient and failure.kind == "connection"


async def test_read_timeout_is_transient(
    make_context: ContextFactory, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond("/slow", Reply(200, delay=1.0))
    failure = await fail(make_context(), url=f"{fake_vendor.url}/slow", timeout=0.1)
    assert failure.transient and failure.kind == "timeout"


async def test_oversized_body_is_permanent(
    make_context: ContextFactory, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond("/big", Reply(200, body="x" * 5000))
    harness = make_context(settings=step_settings(http_max_response_bytes=1024))
    failure = await fail(harness, url=f"{fake_vendor.url}/big")
    assert failure.kind == "response_too_large" and not failure.transient


async def test_compressed_body_is_capped_after_decompression(
    make_context: ContextFactory, fake_vendor: FakeVendorServer
) -> None:
    payload = gzip.compress(b"z" * 50_000)
    assert len(payload) < 1024
    fake_vendor.respond("/bomb", Reply(200, body=payload, headers={"Content-Encoding": "gzip"}))
    harness = make_context(settings=step_settings(http_max_response_bytes=4096))
    failure = await fail(harness, url=f"{fake_vendor.url}/bomb")
    assert failure.kind == "response_too_large"


async def test_long_text_is_truncated_in_the_output(
    make_context: ContextFactory, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond("/page", Reply(200, body="p" * 10_000))
    harness = make_context(settings=step_settings(step_output_max_bytes=4096))
    result = await call(harness, url=f"{fake_vendor.url}/page")
    assert result.output["status"] == 200 and result.output["text"] == "p" * 2048


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"url": "{{ input.missing }}"}, "cannot render"),
        ({"url": "ftp://example.com/x"}, "http and https"),
        ({"url": "{{ input.blank }}"}, "rendered empty"),
        ({"url": "http://x.io", "method": "{{ input.verb }}"}, "unsupported HTTP method"),
        ({"url": "http://x.io", "headers": "{{ input.blank }}"}, "must be a mapping"),
        ({"url": "http://x.io", "timeout": "soon"}, "timeout"),
    ],
)
async def test_bad_rendered_params_are_permanent(
    make_context: ContextFactory, params: dict[str, Any], message: str
) -> None:
    harness = make_context(variables={"input": {"blank": "", "verb": "FETCH"}})
    failure = await fail(harness, **params)
    assert not failure.transient and message in failure.message


async def test_credentials_do_not_follow_a_redirect_to_another_origin(
    make_context: ContextFactory, fake_vendor: FakeVendorServer
) -> None:
    elsewhere = f"http://localhost:{fake_vendor.port}/elsewhere"
    fake_vendor.respond("/moved", Reply(302, headers={"Location": elsewhere}))
    fake_vendor.respond("/here", Reply(302, headers={"Location": "/moved"}))
    harness = make_context(
        settings=step_settings(http_allowlist="127.0.0.1,localhost"),
        credentials={
            "http_header": {"header_name": "X-Api-Key", "value": "k1"},
        },
    )
    result = await call(harness, url=f"{fake_vendor.url}/here", credential="http_header")
    assert result.output["status"] == 200
    assert fake_vendor.requests_to("/moved")[0].headers["x-api-key"] == "k1"
    assert "x-api-key" not in fake_vendor.requests_to("/elsewhere")[0].headers


async def test_endless_redirects_fail_permanently(
    make_context: ContextFactory, fake_vendor: FakeVendorServer
) -> None:
    fake_vendor.respond("/loop", Reply(302, headers={"Location": "/loop"}))
    failure = await fail(make_context(), url=f"{fake_vendor.url}/loop")
    assert failure.kind == "http_error" and not failure.transient
    assert "redirected too many times" in failure.message


async def test_header_values_with_line_breaks_are_refused(
    make_context: ContextFactory, fake_vendor: FakeVendorServer
) -> None:
    harness = make_context(variables={"input": {"v": "a\r\nX-Injected: 1"}})
    failure = await fail(harness, url=f"{fake_vendor.url}/h", headers={"X-V": "{{ input.v }}"})
    assert failure.kind == "invalid_config" and not failure.transient
    assert fake_vendor.requests == []
