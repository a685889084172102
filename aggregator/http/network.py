"""The innermost transport: the network, through the proxy the environment names."""

from __future__ import annotations

import urllib.request

import httpx


class _NetworkTransport(httpx.AsyncBaseTransport):
    """httpx's own transport, through the proxy the environment names.

    httpx honours HTTP_PROXY / HTTPS_PROXY / ALL_PROXY / NO_PROXY only when the client builds
    its transport itself; because ours wraps the transport, this puts that behaviour back.
    """

    def __init__(self) -> None:
        self._proxies = urllib.request.getproxies()
        self._transports: dict[str | None, httpx.AsyncHTTPTransport] = {}

    def proxy_for(self, url: httpx.URL) -> str | None:
        proxy = self._proxies.get(url.scheme) or self._proxies.get("all")
        if not proxy or _no_proxy(url.host, self._proxies.get("no", "")):
            return None
        return proxy if "://" in proxy else f"http://{proxy}"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        proxy = self.proxy_for(request.url)
        if proxy not in self._transports:
            self._transports[proxy] = httpx.AsyncHTTPTransport(proxy=proxy)
        return await self._transports[proxy].handle_async_request(request)

    async def aclose(self) -> None:
        for transport in self._transports.values():
            await transport.aclose()


def _no_proxy(host: str, no_proxy: str) -> bool:
    """curl's NO_PROXY rule: ``*``, or the host equals or ends in ``.`` + an entry."""
    host = host.lower()
    for entry in (e.strip().lower().lstrip(".") for e in no_proxy.split(",")):
        if entry == "*" or (entry and (host == entry or host.endswith("." + entry))):
            return True
    return False
