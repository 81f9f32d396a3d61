"""The web dashboard (the single-page app built from `web/`), served at `/`.

The build lives in `src/botskis/web_dist/` (Vite's `build.outDir`; the wheel ships
it), or wherever WEB_DIST_DIR points. Files are served as they are: `assets/` holds
content-hashed names, cached for a year as immutable; everything else, `index.html`
above all, is revalidated on every use (`no-cache`), so a new build shows at the
next load. A GET or HEAD for any other path that does not look like a file answers
`index.html`, so client-side routes survive a reload; a missing file (a name with a
dot) is a 404. Paths of the API and the operations endpoints are never the app's:
an unknown `/api/...` path stays a problem+json 404.

The app's pages get a Content-Security-Policy that allows only this origin (and
its WebSocket); the API keeps its own, stricter one (api/middleware.py adds that
only where a response has none).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import mimetypes
import os
import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from loguru import logger
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

import botskis
from botskis.config import Settings

BUILT_IN_DIST = Path(botskis.__file__).parent / "web_dist"
# Never answered with the app, whatever follows them.
RESERVED_PREFIXES = (
    "/api",
    "/ws",
    "/docs",
    "/redoc",
    "/openapi.json",
    "/health",
    "/ready",
    "/metrics",
)
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
HASHED_DIR = "assets/"
COMPRESSIBLE = frozenset({".js", ".mjs", ".css", ".html", ".svg", ".json", ".map", ".txt"})
MIN_GZIP_BYTES = 1024
_HOST = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$")
# 'unsafe-eval': the config forms validate against JSON Schemas that arrive from the
# API at run time, and ajv compiles each schema into a function in the page. Scripts
# still come only from this origin; no inline script runs.
UI_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'{sockets}; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)
BUILD_HINT = "cd web && npm ci && npm run build (./run.sh does this when Node.js 20+ is installed)"
NOT_BUILT_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Botskis</title></head>
<body><h1>Botskis</h1>
<p>The web dashboard is not built. Build it with <code>{BUILD_HINT}</code>,
then reload this page.</p>
<p>The API is running: see <a href="/docs">/docs</a>.</p></body></html>
"""


def ui_csp(scope: Scope) -> str:
    """The UI's policy. Its WebSocket is named explicitly (ws: and wss: of this host),
    since older browsers do not count it as 'self'."""
    host = Headers(scope=scope).get("host", "")
    sockets = f" ws://{host} wss://{host}" if _HOST.match(host) else ""
    return UI_CSP.format(sockets=sockets)


def dist_dir(settings: Settings) -> Path:
    return Path(settings.web_dist_dir) if settings.web_dist_dir else BUILT_IN_DIST


def is_reserved(path: str) -> bool:
    return any(path == prefix or path.startswith(prefix + "/") for prefix in RESERVED_PREFIXES)


@dataclass(frozen=True, slots=True)
class Found:
    """What a path resolves to on disk: a file, its stat and how long to cache it,
    and its gzip encoding when the client takes one."""

    path: Path
    stat: os.stat_result
    cache_control: str
    gzipped: bytes | None = None

    @property
    def etag(self) -> str:
        version = f"{self.stat.st_mtime_ns}-{self.stat.st_size}".encode()
        digest = hashlib.sha256(version).hexdigest()[:32]
        return f'"{digest}-gzip"' if self.gzipped is not None else f'"{digest}"'


def accepts_gzip(scope: Scope) -> bool:
    for coding in Headers(scope=scope).get("accept-encoding", "").lower().split(","):
        name, _, params = coding.strip().partition(";")
        if name.strip() in ("gzip", "*") and params.replace(" ", "") not in ("q=0", "q=0.0"):
            return True
    return False


class Dashboard:
    """The router's default: what answers a request that no route of the app matched
    (a route that matched only by path still answers 405, before this is asked). A
    GET or HEAD outside the reserved prefixes is the app's; anything else goes on to
    the router's own not-found answer, the problem+json 404.

    Text files are sent gzip-compressed to clients that take it, each compressed
    once per build and kept in memory (a build is a few hundred KB)."""

    # Its label in the request metrics: one series for every page of the app.
    path = "/{dashboard_path:path}"

    def __init__(self, root: Path, fallback: ASGIApp) -> None:
        self.root = root.resolve()
        self.index = self.root / "index.html"
        self.fallback = fallback
        self.compressed: dict[Path, tuple[int, int, bytes]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or is_reserved(scope["path"])
        ):
            await self.fallback(scope, receive, send)
            return
        scope["route"] = self
        found = await asyncio.to_thread(self.resolve, scope["path"], accepts_gzip(scope))
        headers = {"content-security-policy": ui_csp(scope), "cache-control": REVALIDATE}
        response: Response
        if found is None:
            response = HTMLResponse(NOT_BUILT_PAGE, status_code=503, headers=headers)
        else:
            headers["cache-control"] = found.cache_control
            headers["etag"] = found.etag
            if found.path.suffix in COMPRESSIBLE:
                headers["vary"] = "Accept-Encoding"
            if Headers(scope=scope).get("if-none-match") == found.etag:
                response = Response(status_code=304, headers=headers)
            elif found.gzipped is not None:
                headers["content-encoding"] = "gzip"
                media_type = mimetypes.guess_type(found.path.name)[0]
                response = Response(found.gzipped, headers=headers, media_type=media_type)
            else:
                response = FileResponse(found.path, headers=headers, stat_result=found.stat)
        await response(scope, receive, send)

    def resolve(self, url_path: str, gzip_ok: bool) -> Found | None:
        """The file for `url_path`, the index for a client-side route, None when there
        is no build. Runs in a thread: it touches the disk."""
        try:
            index_stat = self.index.stat()
        except OSError:
            return None
        found = Found(self.index, index_stat, REVALIDATE)
        relative = url_path.lstrip("/")
        if relative:
            candidate = (self.root / relative).resolve()
            if candidate.is_relative_to(self.root) and candidate.is_file():
                cache = IMMUTABLE if relative.startswith(HASHED_DIR) else REVALIDATE
                found = Found(candidate, candidate.stat(), cache)
            elif "." in relative.rsplit("/", 1)[-1]:
                raise HTTPException(status_code=404)
        if gzip_ok and found.path.suffix in COMPRESSIBLE and found.stat.st_size >= MIN_GZIP_BYTES:
            return Found(found.path, found.stat, found.cache_control, self.gzip(found))
        return found

    def gzip(self, found: Found) -> bytes:
        mtime, size = found.stat.st_mtime_ns, found.stat.st_size
        kept = self.compressed.get(found.path)
        if kept is not None and kept[0] == mtime and kept[1] == size:
            return kept[2]
        body = gzip.compress(found.path.read_bytes(), compresslevel=9, mtime=0)
        self.compressed[found.path] = (mtime, size, body)
        return body


def install_dashboard(app: FastAPI, settings: Settings) -> None:
    """Make the dashboard the router's default, and say at start-up when there is
    nothing to serve yet."""
    root = dist_dir(settings)
    if not (root / "index.html").is_file():
        logger.bind(dist=str(root)).warning(f"web dashboard not built: {BUILD_HINT}")
    app.router.default = Dashboard(root, app.router.default)
