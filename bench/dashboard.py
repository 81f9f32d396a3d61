"""The dashboard in real Chromium against a throwaway `botskis serve`.

`load`: the JavaScript a browser downloads for a first visit to /agents (empty
cache, logged in), counted as the bytes on the wire (the server gzips text
assets); target < 300 KB. `timeline`: for each step of a run started from the
agent page, the time from the step's `finished_at` (server clock) until the run
page shows the step as finished (browser clock, same machine, recorded by a
MutationObserver); target < 200 ms. The probed endpoint answers after 1 s, so
the run page is open and subscribed before the first step ends.

Usage: .venv/bin/python -m bench.dashboard [--runs 5]
Needs /usr/bin/chromium, the playwright package and the built app
(src/botskis/web_dist, `cd web && npm ci && npm run build`).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

from bench.server_process import bench_server

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
PASSWORD = "bench password 123"
OBSERVER = """() => {
  window.__seen = {};
  new MutationObserver(() => {
    for (const el of document.querySelectorAll('[data-step]')) {
      const state = el.getAttribute('data-state');
      const id = el.getAttribute('data-step');
      if (!['pending', 'running'].includes(state) && !(id in window.__seen)) window.__seen[id] = Date.now();
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true});
}"""


class _SlowEndpoint(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        time.sleep(1.0)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def slow_endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/status"
    finally:
        server.shutdown()


def _account(base: str, probe_url: str) -> tuple[str, str]:
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    with httpx.Client(base_url=base, timeout=30) as client:
        client.post(
            "/api/v1/users", json={"email": email, "password": PASSWORD, "full_name": "Bench"}
        ).raise_for_status()
        token = client.post(
            "/api/v1/auth/login", json={"email": email, "password": PASSWORD}
        ).json()["access_token"]
        agent = client.post(
            "/api/v1/agents/deploy",
            json={
                "template_id": "system-health-monitor",
                "config": {"url": probe_url},
                "trigger": {"type": "manual"},
            },
            headers={"Authorization": f"Bearer {token}"},
        )
        agent.raise_for_status()
        return email, agent.json()["id"]


def _epoch_ms(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with slow_endpoint() as probe_url, bench_server({"HTTP_ALLOWLIST": "127.0.0.1"}) as base:
        email, agent_id = _account(base, probe_url)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            context = browser.new_context()
            context.request.post(
                f"{base}/api/v1/auth/session", data={"email": email, "password": PASSWORD}
            )
            page = context.new_page()
            scripts: dict[str, int] = {}

            def count(response: Any) -> None:
                if response.request.resource_type == "script":
                    scripts[response.url] = response.request.sizes()["responseBodySize"]

            page.on("response", count)
            page.goto(f"{base}/agents")
            page.get_by_role("heading", name="Your agents").wait_for()
            page.wait_for_load_state("networkidle")
            page.remove_listener("response", count)
            total = sum(scripts.values())
            print(f"load /agents: {len(scripts)} scripts, {total / 1024:.1f} KB on the wire")
            for url, size in sorted(scripts.items(), key=lambda item: -item[1]):
                print(f"  {size / 1024:7.1f} KB  {url.rsplit('/', 1)[-1]}")

            lags: list[float] = []
            cookies = {c["name"]: c["value"] for c in context.cookies()}
            with httpx.Client(base_url=base, cookies=cookies) as api:
                for _ in range(args.runs):
                    page.goto(f"{base}/agents/{agent_id}")
                    page.get_by_role("button", name="Run now").click()
                    page.wait_for_url("**/runs/**")
                    page.evaluate(OBSERVER)
                    page.get_by_test_id("run-status").filter(has_text="succeeded").wait_for()
                    page.wait_for_timeout(300)
                    seen: dict[str, float] = page.evaluate("() => window.__seen")
                    run_id = page.url.rsplit("/", 1)[-1]
                    steps = api.get(f"/api/v1/runs/{run_id}").json()["steps"]
                    for step in steps:
                        if step["step_id"] in seen:
                            lags.append(seen[step["step_id"]] - _epoch_ms(step["finished_at"]))
            browser.close()
    lags.sort()
    print(
        f"timeline: {len(lags)} steps over {args.runs} runs, step finished -> shown: "
        f"p50 {statistics.median(lags):.0f} ms, max {lags[-1]:.0f} ms"
    )


if __name__ == "__main__":
    main()
