"""Browser sessions: the dashboard's access token travels in an httpOnly cookie, so
no script on the page can read it, and is a second *source* of the same token that
a bearer header carries (core/auth.py checks both the same way).

* `botskis_session` holds the access token: httpOnly, SameSite=Lax, Path=/, Secure
  over https and in production (`Settings.secure_cookies`).
* `botskis_csrf` holds the CSRF token, readable by the page's script, which echoes
  it in an `X-CSRF-Token` header on every unsafe request (double submit). The value
  is an HMAC of the session's id (the token's `jti`) under SECRET_KEY, so a cookie
  planted by a sibling subdomain cannot forge it, and each login gets a new one.
* A request that sends `Authorization: Bearer` is judged by that header alone; its
  cookies are never read, so API clients are untouched.
* The cookie carries only tokens this server set: an API key placed in it is no
  session (keys travel in the Authorization header or the WebSocket handshake).
* The WebSocket takes the session cookie only from pages of this server's own
  origin, or of an origin in BROWSER_ORIGINS: the browser sends cookies with a
  socket opened by any page, and only `Origin` tells them apart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from loguru import logger
from starlette.requests import HTTPConnection
from starlette.responses import Response

from botskis.config import Settings
from botskis.core.errors import Forbidden
from botskis.core.security import AccessToken, TokenClaims
from botskis.users.api_keys import is_api_key

SESSION_COOKIE = "botskis_session"
CSRF_COOKIE = "botskis_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
VIA_COOKIE_KEY = "via_session_cookie"


class CsrfRefused(Forbidden):
    """An unsafe request authenticated by the session cookie without the CSRF echo."""

    def __init__(self) -> None:
        super().__init__(
            "A request authenticated by the session cookie must echo the botskis_csrf "
            "cookie in the X-CSRF-Token header"
        )


def csrf_token(secret_key: str, session_id: str) -> str:
    digest = hmac.new(
        secret_key.encode(), b"botskis-csrf:" + session_id.encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def session_token(connection: HTTPConnection) -> str | None:
    """The access token of the session cookie, if the request carries one."""
    token = connection.cookies.get(SESSION_COOKIE)
    if not token or is_api_key(token):
        return None
    return token


def is_cookie_session(connection: HTTPConnection) -> bool:
    """Whether the caller was authenticated by the session cookie (core/auth.py
    notes it), not by a bearer header."""
    return bool(connection.scope["state"].get(VIA_COOKIE_KEY))


def require_csrf(connection: HTTPConnection, claims: TokenClaims, secret_key: str) -> None:
    """Unsafe methods must echo the session's CSRF token, both as cookie and header.
    Checked after the token itself, so a stale session is a 401, not a 403."""
    method = connection.scope.get("method", "GET")
    if method in SAFE_METHODS:
        return
    expected = csrf_token(secret_key, claims.jti)
    header = connection.headers.get(CSRF_HEADER, "")
    cookie = connection.cookies.get(CSRF_COOKIE, "")
    if not (hmac.compare_digest(header, expected) and hmac.compare_digest(cookie, expected)):
        logger.bind(security=True, user_id=str(claims.subject)).warning("csrf refused")
        raise CsrfRefused()


def set_session_cookies(
    response: Response, connection: HTTPConnection, settings: Settings, token: AccessToken
) -> str:
    """Both cookies for a freshly issued token; returns the CSRF token."""
    secure = settings.secure_cookies(connection.url.scheme)
    csrf = csrf_token(settings.secret_key, token.jti)
    for name, value, http_only in ((SESSION_COOKIE, token.token, True), (CSRF_COOKIE, csrf, False)):
        response.set_cookie(
            name,
            value,
            max_age=token.expires_in,
            path="/",
            secure=secure,
            httponly=http_only,
            samesite="lax",
        )
    return csrf


def clear_session_cookies(
    response: Response, connection: HTTPConnection, settings: Settings
) -> None:
    secure = settings.secure_cookies(connection.url.scheme)
    for name, http_only in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
        response.delete_cookie(name, path="/", secure=secure, httponly=http_only, samesite="lax")


def socket_origin_allowed(connection: HTTPConnection, settings: Settings) -> bool:
    """May this WebSocket handshake use the session cookie? Only from a page of the
    host it reached (https, or http when the socket itself is not over TLS: TLS may
    end at a proxy in front of us) or from BROWSER_ORIGINS. A handshake without
    Origin comes from no page and has no business with a browser's cookie."""
    origin = connection.headers.get("origin", "").lower()
    if origin in settings.browser_origins:
        return True
    host = connection.headers.get("host", "").lower()
    if not host or not origin:
        return False
    if origin == f"https://{host}":
        return True
    return origin == f"http://{host}" and connection.url.scheme == "ws"
