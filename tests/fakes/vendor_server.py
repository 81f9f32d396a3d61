"""A fake vendor API (Slack webhooks, Trello, HubSpot, Shopify, any REST endpoint).

It records every request and answers 200 `{"ok": true}` unless told otherwise:

    fake_vendor.respond("/slack/hook", Reply(503), Reply(200, json={"ok": True}))
    fake_vendor.respond("/cards", Reply(201, json={"id": "c1"}), method="POST")
    fake_vendor.respond("/old", Reply(302, headers={"Location": "http://10.0.0.1/"}))
    fake_vendor.respond("/api/*", Reply(404))          # a trailing * matches a prefix

One reply is used for every matching request; several are played in order and
the last one then repeats ("503 then 200"). `requests_to(path)` lists what a path
received; `wait_for_requests(n, where=...)` blocks until n have arrived.
"""

from __future__ import annotations

import ssl
from collections import deque

from tests.fakes.threaded_http import RecordedRequest, Reply, ThreadedHttpServer

DEFAULT_REPLY = Reply(200, json={"ok": True})


class FakeVendorServer(ThreadedHttpServer):
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(tls)
        self._routes: dict[tuple[str, str], deque[Reply]] = {}

    def respond(self, path: str, *replies: Reply, method: str = "*") -> None:
        if not replies:
            raise ValueError("give at least one reply")
        with self._lock:
            self._routes[(method.upper(), path)] = deque(replies)

    def reset(self) -> None:
        with self._lock:
            self._routes.clear()
            self._requests.clear()

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if r.path == path and (method is None or r.method == method.upper())
        ]

    def _route_for(self, request: RecordedRequest) -> deque[Reply] | None:
        for method in (request.method, "*"):
            if (method, request.path) in self._routes:
                return self._routes[(method, request.path)]
        prefixes = [
            (len(path), replies)
            for (method, path), replies in self._routes.items()
            if path.endswith("*")
            and request.path.startswith(path[:-1])
            and method in (request.method, "*")
        ]
        return max(prefixes, key=lambda item: item[0])[1] if prefixes else None

    def respond_to(self, request: RecordedRequest) -> Reply:
        with self._lock:
            replies = self._route_for(request)
            if not replies:
                return DEFAULT_REPLY
            return replies.popleft() if len(replies) > 1 else replies[0]
