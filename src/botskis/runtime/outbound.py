"""Outbound HTTP that user-authored steps cannot turn against our own network.

`create_client(settings)` returns the shared httpx client every step uses. Its
transport, before each request and again for every redirect hop (httpx sends
each hop through the transport):

* resolves the host and refuses it when any address is private, loopback,
  link-local, unspecified, multicast, reserved or a cloud metadata address
  (169.254.169.254, fd00:ec2::254, 100.100.100.200, ...), IPv4-mapped and 6to4
  forms included, unless the host name or the address's network is listed in
  `HTTP_ALLOWLIST`;
* connects to the address it checked (the URL is pinned to the IP, the Host
  header and TLS SNI keep the name), so a second DNS answer cannot swap in an
  internal address;
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
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING

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


class _CappedStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, limit: int, request: httpx.Request) -> None:
        self.inner = inner
        self.limit = limit
        self.request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        received = 0
        async for chunk in self.inner:
            received += len(chunk)
            if received > self.limit:
                raise ResponseTooLarge(too_large_message(self.request.url, self.limit))
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


def too_large_message(url: httpx.URL, limit: int) -> str:
    return f"response from {url.host} is larger than {limit} bytes (HTTP_MAX_RESPONSE_BYTES)"


class GuardedTransport(httpx.AsyncBaseTransport):
    """Checks and pins every destination; caps every response body."""

    def __init__(
        self,
        policy: AddressPolicy,
        max_response_bytes: int,
        inner: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.policy = policy
        self.max_response_bytes = max_response_bytes
        self.inner = inner or httpx.AsyncHTTPTransport(retries=0)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(
                f"only http and https URLs are allowed, not {url.scheme!r}", request=request
            )
        try:
            address = await self.policy.resolve(url.host, url.port or _default_port(url))
        except httpx.RequestError as exc:
            exc.request = request
            raise
        outgoing = request
        if address is not None and address != url.host:
            extensions = dict(request.extensions)
            if url.scheme == "https":
                extensions["sni_hostname"] = url.host
            outgoing = httpx.Request(
                request.method,
                url.copy_with(host=address),
                headers=request.headers,
                stream=request.stream,
                extensions=extensions,
            )
        response = await self.inner.handle_async_request(outgoing)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_response_bytes:
            await response.aclose()
            raise ResponseTooLarge(too_large_message(url, self.max_response_bytes), request=request)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_CappedStream(response.stream, self.max_response_bytes, request),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80


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


class _CappedStream2(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, limit: int, url: httpx2.URL) -> None:
        self.inner = inner
        self.limit = limit
        self.url = url

    async def __aiter__(self) -> AsyncIterator[bytes]:
        received = 0
        async for chunk in self.inner:
            received += len(chunk)
            if received > self.limit:
                raise ResponseTooLarge(too_large_message(httpx.URL(str(self.url)), self.limit))
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


class GuardedTransport2(httpx2.AsyncBaseTransport):
    """`GuardedTransport` for httpx2 clients (the openai SDK)."""

    def __init__(self, policy: AddressPolicy, max_response_bytes: int) -> None:
        self.policy = policy
        self.max_response_bytes = max_response_bytes
        self.inner = httpx2.AsyncHTTPTransport(retries=0, trust_env=False)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx2.UnsupportedProtocol(
                f"only http and https URLs are allowed, not {url.scheme!r}"
            )
        port = url.port or (443 if url.scheme == "https" else 80)
        address = await self.policy.resolve(url.host, port)
        outgoing = request
        if address is not None and address != url.host:
            extensions = dict(request.extensions)
            if url.scheme == "https":
                extensions["sni_hostname"] = url.host
            outgoing = httpx2.Request(
                request.method,
                url.copy_with(host=address),
                headers=request.headers,
                stream=request.stream,
                extensions=extensions,
            )
        response = await self.inner.handle_async_request(outgoing)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_response_bytes:
            await response.aclose()
            raise ResponseTooLarge(too_large_message(httpx.URL(str(url)), self.max_response_bytes))
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        return httpx2.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_CappedStream2(response.stream, self.max_response_bytes, url),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


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
