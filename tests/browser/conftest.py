"""Real headless Chromium (Debian's build, driven by Playwright) against the real
`botskis serve` process on SQLite, serving the built dashboard.

Skipped, saying why, where Chromium, Node.js, the built app or the Playwright
package is missing. Browser downloads are never attempted.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.openai_server import FakeOpenAIServer
from tests.fakes.smtp_server import FakeSmtpServer, ReceivedMessage
from tests.fakes.stripe_server import (
    PRICE_ENTERPRISE,
    PRICE_PROFESSIONAL,
    WEBHOOK_SECRET,
    FakeStripeServer,
)
from tests.fakes.stripe_server import SECRET_KEY as STRIPE_SECRET_KEY
from tests.fakes.vendor_server import FakeVendorServer
from tests.live_server import free_port, live_server, server_env

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
DIST = Path(os.environ.get("WEB_DIST_DIR") or ROOT / "src" / "botskis" / "web_dist")
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
# Screenshots land in an ignored folder so a test run leaves the tree clean;
# SCREENSHOT_DIR=docs/screenshots refreshes the committed ones.
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR") or ROOT / ".screenshots")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery"
# How often the account-mail outbox may be asked to mail one address (reset links,
# verification resends): low, so a test meets the limit as a person would.
ACCOUNT_MAIL_LIMIT = 3


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if shutil.which("node") is None:
        return "Node.js is not installed, so the dashboard cannot be built"
    if not (DIST / "index.html").exists():
        return f"the dashboard is not built ({DIST}/index.html): cd web && npm ci && npm run build"
    if not AXE.exists():
        return f"axe-core is not installed ({AXE}): cd web && npm ci"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e '.[test]')"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _missing()
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.e2e)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@dataclass
class Dashboard:
    """The running server and the fakes it talks to."""

    url: str
    vendor: FakeVendorServer
    openai: FakeOpenAIServer
    stripe: FakeStripeServer
    smtp: FakeSmtpServer

    def mail_to(self, address: str, subject: str, count: int = 1) -> ReceivedMessage:
        """The `count`-th mail with this subject to this address, waiting for the outbox."""
        seen = 0
        while True:
            messages = self.smtp.wait_for_messages(seen + 1, timeout=30)
            mine = [
                m
                for m in messages
                if address.lower() in {r.lower() for r in m.recipients} and m.subject == subject
            ]
            if len(mine) >= count:
                return mine[count - 1]
            seen = len(messages)

    def link_in(self, message: ReceivedMessage, path: str) -> str:
        """The link to this server's `path` that the mail carries."""
        match = re.search(re.escape(f"{self.url}{path}?token=") + r"[A-Za-z0-9_-]+", message.text)
        assert match is not None, message.text
        return match.group(0)

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def sign_up(self, email: str | None = None, name: str = "Ada Lovelace") -> dict[str, Any]:
        """An account made over the API (bearer), for tests about something else."""
        email = email or f"user-{uuid.uuid4().hex[:10]}@example.com"
        with self.api() as client:
            made = client.post(
                "/api/v1/users", json={"email": email, "password": PASSWORD, "full_name": name}
            )
            assert made.status_code == 201, made.text
            token = client.post(
                "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
            ).json()["access_token"]
        return {"email": email, "token": token, "id": made.json()["id"]}

    def deploy(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.api() as client:
            made = client.post(
                "/api/v1/agents/deploy", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            assert made.status_code == 201, made.text
            result: dict[str, Any] = made.json()
            return result


@pytest.fixture(scope="session")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    tmp = tmp_path_factory.mktemp("browser")
    port = free_port()
    with (
        FakeOpenAIServer() as openai,
        FakeVendorServer() as vendor,
        FakeStripeServer() as stripe,
        FakeSmtpServer() as smtp,
    ):
        env = server_env(
            f"sqlite+aiosqlite:///{tmp / 'botskis.db'}",
            tmp / "logs",
            WEB_DIST_DIR=str(DIST),
            OPENAI_BASE_URL=openai.url + "/v1",
            OPENAI_API_KEY="sk-test",
            HTTP_ALLOWLIST="127.0.0.1",
            WORKER_POLL_SECONDS="0.2",
            STRIPE_SECRET_KEY=STRIPE_SECRET_KEY,
            STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
            STRIPE_PRICE_PROFESSIONAL=PRICE_PROFESSIONAL,
            STRIPE_PRICE_ENTERPRISE=PRICE_ENTERPRISE,
            STRIPE_API_BASE=stripe.url,
            SMTP_HOST=smtp.host,
            SMTP_PORT=str(smtp.port),
            SMTP_STARTTLS="false",
            SMTP_FROM="Botskis <accounts@botskis.example>",
            MAIL_POLL_SECONDS="0.2",
            PUBLIC_URL=f"http://127.0.0.1:{port}",
            RATE_LIMIT_ACCOUNT_MAIL=f"{ACCOUNT_MAIL_LIMIT}/hour",
        )
        with live_server(env, port=port) as url:
            yield Dashboard(url=url, vendor=vendor, openai=openai, stripe=stripe, smtp=smtp)


# Module scope: the sync API runs an event loop in this thread while it is open, and
# async tests after the browser tests must not find one running.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    # A loaded two-core machine can take seconds to answer; assertions still wait for a state.
    expect.set_options(timeout=15_000)

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def log_in(page: Any, url: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{url}/login")
    # Exact names: the verification banner's "Email verification" also matches "Email".
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()


def check_accessibility(page: Any, name: str) -> None:
    """axe-core on the page as it is now: no serious or critical violation."""
    page.evaluate(AXE.read_text() + "\n;undefined")
    result = page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})); }"
    )
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: {json.dumps(bad, indent=1)}"


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
