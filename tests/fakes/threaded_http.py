"""A real HTTP server on a free 127.0.0.1 port, served from a background thread.

The fakes build on it so that sync tests, async tests (whose event loop must not
serve the fake) and subprocesses such as `botskis serve` can all reach them.
Every request is recorded; subclasses decide the reply.
"""

from __future__ import annotations

import json
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    # First value of each query parameter; `query_lists` keeps repeats.
    query: dict[str, str]
    query_lists: dict[str, list[str]]
    # Header names are lower-cased.
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    @property
    def json(self) -> Any:
        """The JSON body, or None when the body is not JSON."""
        try:
            return json.loads(self.body) if self.body else None
        except ValueError:
            return None

    @property
    def form(self) -> dict[str, str]:
        return {key: values[0] for key, values in parse_qs(self.text).items()}


@dataclass
class Reply:
    """What the fake answers: status, a JSON or raw body, headers, an optional delay."""

    status: int = 200
    json: Any = None
    body: bytes | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if self.body is not None:
            payload = self.body.encode() if isinstance(self.body, str) else self.body
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        elif self.json is not None:
            payload = json.dumps(self.json).encode()
            headers.setdefault("Content-Type", "application/json")
        else:
            payload = b""
        return payload, headers


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        query_lists = parse_qs(parts.query, keep_blank_values=True)
        request = RecordedRequest(
            method=self.command,
            path=parts.path,
            query={key: values[0] for key, values in query_lists.items()},
            query_lists=query_lists,
            headers={key.lower(): value for key, value in self.headers.items()},
            body=self._read_body(),
        )
        reply = self.server.owner.dispatch(request)
        if reply.delay:
            time.sleep(reply.delay)
        payload, headers = reply.encoded()
        self.send_response(reply.status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the recorded requests are the log."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, owner: ThreadedHttpServer, tls: ssl.SSLContext | None) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (a timeout test) is not an error worth printing."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class ThreadedHttpServer:
    """Start with `start()` (or `with`), stop with `stop()`; `url` is its base URL.

    Give `tls` (a server-side SSLContext) to serve HTTPS instead.
    """

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self._lock = threading.Condition()
        self._requests: list[RecordedRequest] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        self._server = _Server(self, self.tls)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        port: int = self._server.server_address[1]
        return port

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def wait_for_requests(
        self,
        count: int,
        *,
        where: Callable[[RecordedRequest], bool] = lambda _: True,
        timeout: float = 10.0,
    ) -> list[RecordedRequest]:
        """Block until `count` matching requests arrived (for subprocess tests)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                matching = [r for r in self._requests if where(r)]
                if len(matching) >= count:
                    return matching
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"expected {count} requests, got {len(matching)}: "
                        f"{[(r.method, r.path) for r in self._requests]}"
                    )
                self._lock.wait(remaining)

    def dispatch(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
            self._lock.notify_all()
        return self.respond_to(request)

    def respond_to(self, request: RecordedRequest) -> Reply:
        raise NotImplementedError
