"""Outbound HTTP that user-authored steps cannot turn against our own network.

`create_client(settings)` returns the shared httpx client every step uses. For
every connection it opens (so for every host a request or a redirect hop
reaches) its transport:

* resolves the host and refuses it when any address is private, loopback,
  link-local, unspecified, multicast, reserved or a cloud metadata address
  (169.254.169.254, fd00:ec2::254, 100.100.100.200, ...), IPv4-mapped and 6to4
  forms included, unless the host name or the address's network is listed in
  `HTTP_ALLOWLIST`;
* connects to the address it checked — the check lives in the connection
  pool's network backend, so it runs for every new connection while the URL,
  Host header, TLS SNI, certificate check and pooling stay per host name — so a
  second DNS answer cannot swap in an internal address;
* stops reading a response body past `HTTP_MAX_RESPONSE_BYTES`.

Refusals raise `BlockedAddress`, oversized bodies `ResponseTooLarge`; both are
permanent step failures (see `runtime.errors`).

The `openai` SDK is built on httpx2 (a fork with the same API), so the same
guard exists once more for it: `create_llm_http_client(settings)`, used when an
LLM base URL comes from a user's credential.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

import httpcore
import httpcore2
import httpx
import httpx2

if TYPE_CHECKING:
    from botskis.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})
NAT64 = ipaddress.ip_network("64:ff9b::/96")
DEFAULT_TIMEOUT_SECONDS = 30.0
MAX_REDIRECTS = 5
USER_AGENT = "Botskis/0.1 (+https://github.com/botskis)"
POOL_MAX_CONNECTIONS = 100
POOL_MAX_KEEPALIVE = 20
POOL_KEEPALIVE_SECONDS = 5.0


class BlockedAddress(httpx.RequestError):
    """The destination is on a network user-authored requests may not reach."""


class ResponseTooLarge(httpx.RequestError):
    """The response body passed the configured size cap."""


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one reaches through a translation mechanism."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]
    return None


def is_public(ip: IPAddress) -> bool:
    """Whether an address is on the public internet (and not a metadata service)."""
    embedded = _embedded_ipv4(ip)
    if embedded is not None and not is_public(embedded):
        return False
    return not (
        ip in METADATA_ADDRESSES
        or not ip.is_global
        or ip.is_multicast
        or ip.is_unspecified
        or ip.is_reserved
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_private
    )


class AddressPolicy:
    """Which destinations are reachable: public addresses, plus the allowlist."""

    def __init__(self, allowlist: Iterable[str] = ()) -> None:
        self.hosts: set[str] = set()
        self.networks: list[IPNetwork] = []
        for entry in allowlist:
            entry = entry.strip().lower().strip("[]")
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.hosts.add(entry.rstrip("."))

    @classmethod
    def from_settings(cls, settings: Settings) -> AddressPolicy:
        return cls(settings.http_allowlist)

    def allows_ip(self, ip: IPAddress) -> bool:
        return is_public(ip) or any(ip in network for network in self.networks)

    async def resolve(self, host: str, port: int) -> str | None:
        """The address to connect to, or None to connect by name (allow-listed host).

        Raises BlockedAddress when the host is, or resolves to, a refused address.
        """
        name = host.lower().rstrip(".").strip("[]")
        if name in self.hosts:
            return None
        try:
            literal: IPAddress | None = ipaddress.ip_address(name)
        except ValueError:
            literal = None
        if literal is not None:
            self._check(host, [literal])
            return str(literal)
        if name in METADATA_HOSTS:
            raise BlockedAddress(_refusal(host, "a cloud metadata service"))
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(name, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpx.ConnectError(f"cannot resolve {host}: {exc.strerror}") from exc
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
        if not addresses:
            raise httpx.ConnectError(f"cannot resolve {host}")
        self._check(host, addresses)
        return str(addresses[0])

    def _check(self, host: str, addresses: list[IPAddress]) -> None:
        for ip in addresses:
            if not self.allows_ip(ip):
                what = "a cloud metadata service" if ip in METADATA_ADDRESSES else str(ip)
                raise BlockedAddress(_refusal(host, what))


def _refusal(host: str, what: str) -> str:
    shown = host if what == host else f"{host} ({what})"
    return (
        f"refused to connect to {shown}: private, loopback, link-local and metadata "
        "addresses are not reachable from steps (an operator can allow it in HTTP_ALLOWLIST)"
    )


class _AddressCheckingBackend:
    """Every new connection resolves its host, checks every address and connects
    to the checked one, so a second DNS answer cannot swap in another address.
    Connections are pooled per host name, so TLS (SNI, certificate checks) and
    connection reuse work exactly as without the guard.

    One body for both network stacks: httpcore (our httpx client) and httpcore2
    (under the openai SDK's httpx2); the subclasses only pick the base class and
    the inner backend."""

    policy: AddressPolicy
    inner: Any

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> Any:
        address = await self.policy.resolve(host, port)
        return await self.inner.connect_tcp(
            address or host,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Any = None,
    ) -> Any:
        raise BlockedAddress("unix sockets are not reachable from steps")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class _GuardedBackend(_AddressCheckingBackend, httpcore.AsyncNetworkBackend):
    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self.inner = httpcore.AnyIOBackend()


class _GuardedBackend2(_AddressCheckingBackend, httpcore2.AsyncNetworkBackend):
    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy
        self.inner = httpcore2.AnyIOBackend()


def too_large_message(host: str, limit: int) -> str:
    return f"response from {host} is larger than {limit} bytes (HTTP_MAX_RESPONSE_BYTES)"


class _CappedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, limit: int, host: str) -> None:
        self.inner = inner
        self.limit = limit
        self.host = host

    async def __aiter__(self) -> AsyncIterator[bytes]:
        received = 0
        async for chunk in self.inner:
            received += len(chunk)
            if received > self.limit:
                raise ResponseTooLarge(too_large_message(self.host, self.limit))
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


class _CappedStream2(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, limit: int, host: str) -> None:
        self.inner = inner
        self.limit = limit
        self.host = host

    async def __aiter__(self) -> AsyncIterator[bytes]:
        received = 0
        async for chunk in self.inner:
            received += len(chunk)
            if received > self.limit:
                raise ResponseTooLarge(too_large_message(self.host, self.limit))
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with a guarded connection pool and capped response bodies."""

    def __init__(
        self,
        policy: AddressPolicy,
        max_response_bytes: int,
        *,
        verify: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(retries=0, trust_env=False)
        self.max_response_bytes = max_response_bytes
        # httpx takes no network backend, so its pool is replaced by an equal one
        # whose backend checks every address it connects to.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=verify or httpx.create_ssl_context(trust_env=False),
            max_connections=POOL_MAX_CONNECTIONS,
            max_keepalive_connections=POOL_MAX_KEEPALIVE,
            keepalive_expiry=POOL_KEEPALIVE_SECONDS,
            network_backend=_GuardedBackend(policy),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(
                f"only http and https URLs are allowed, not {request.url.scheme!r}",
                request=request,
            )
        response = await super().handle_async_request(request)
        host = request.url.host
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_response_bytes:
            await response.aclose()
            raise ResponseTooLarge(
                too_large_message(host, self.max_response_bytes), request=request
            )
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_CappedStream(response.stream, self.max_response_bytes, host),
            extensions=response.extensions,
        )


class GuardedTransport2(httpx2.AsyncHTTPTransport):
    """`GuardedTransport` for httpx2 clients (the openai SDK)."""

    def __init__(self, policy: AddressPolicy, max_response_bytes: int) -> None:
        super().__init__(retries=0, trust_env=False)
        self.max_response_bytes = max_response_bytes
        self._pool = httpcore2.AsyncConnectionPool(
            ssl_context=httpx2.create_ssl_context(trust_env=False),
            max_connections=POOL_MAX_CONNECTIONS,
            max_keepalive_connections=POOL_MAX_KEEPALIVE,
            keepalive_expiry=POOL_KEEPALIVE_SECONDS,
            network_backend=_GuardedBackend2(policy),
        )

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.url.scheme not in ("http", "https"):
            raise httpx2.UnsupportedProtocol(
                f"only http and https URLs are allowed, not {request.url.scheme!r}"
            )
        response = await super().handle_async_request(request)
        host = request.url.host
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_response_bytes:
            await response.aclose()
            raise ResponseTooLarge(too_large_message(host, self.max_response_bytes))
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        return httpx2.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_CappedStream2(response.stream, self.max_response_bytes, host),
            extensions=response.extensions,
        )


def create_client(settings: Settings) -> httpx.AsyncClient:
    """The shared client for steps; the caller owns it and closes it."""
    transport = GuardedTransport(
        AddressPolicy.from_settings(settings), settings.http_max_response_bytes
    )
    return httpx.AsyncClient(
        transport=transport,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        timeout=DEFAULT_TIMEOUT_SECONDS,
        headers={"User-Agent": USER_AGENT},
        trust_env=False,
    )


def create_llm_http_client(settings: Settings) -> httpx2.AsyncClient:
    """An httpx2 client for the openai SDK when the base URL is user-controlled."""
    transport = GuardedTransport2(
        AddressPolicy.from_settings(settings), settings.http_max_response_bytes
    )
    return httpx2.AsyncClient(
        transport=transport,
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        timeout=DEFAULT_TIMEOUT_SECONDS,
        trust_env=False,
    )
