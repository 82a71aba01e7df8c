"""client_ip: the direct peer, unless a trusted proxy forwarded the request."""

import asyncio

import httpx
import pytest
import uvicorn
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from croupier.kit.client_ip import client_ip
from croupier.kit.config import Settings
from croupier.kit.embedded_pg import find_free_port
from croupier.serving import server_config


def request(peer: str, forwarded: list[str] | None = None) -> Request:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded or []]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "client": (peer, 5000)})


def test_client_ip_when_no_proxy_trusted_is_the_peer_whatever_the_header_says() -> None:
    assert client_ip(request("203.0.113.9", ["1.2.3.4"]), []) == "203.0.113.9"


def test_client_ip_when_peer_untrusted_ignores_forwarded_for() -> None:
    assert client_ip(request("203.0.113.9", ["1.2.3.4"]), ["10.0.0.0/8"]) == "203.0.113.9"


def test_client_ip_when_peer_is_trusted_proxy_is_the_forwarded_client() -> None:
    assert client_ip(request("10.0.0.2", ["198.51.100.20"]), ["10.0.0.0/8"]) == "198.51.100.20"


def test_client_ip_when_client_forges_a_hop_takes_the_rightmost_untrusted() -> None:
    # The client sent "X-Forwarded-For: 1.1.1.1"; our proxy appended the address it saw.
    assert client_ip(request("10.0.0.2", ["1.1.1.1, 198.51.100.20"]), ["10.0.0.0/8"]) == "198.51.100.20"


def test_client_ip_when_several_trusted_proxies_chain_skips_all_of_them() -> None:
    forwarded = ["198.51.100.20, 10.1.1.1", "10.2.2.2"]
    assert client_ip(request("10.0.0.2", forwarded), ["10.0.0.0/8"]) == "198.51.100.20"


def test_client_ip_when_forwarded_entry_is_garbage_stops_at_the_last_good_hop() -> None:
    assert client_ip(request("10.0.0.2", ["not-an-ip"]), ["10.0.0.0/8"]) == "10.0.0.2"


def test_client_ip_when_trusted_proxy_sends_no_header_is_the_proxy() -> None:
    assert client_ip(request("10.0.0.2"), ["10.0.0.0/8"]) == "10.0.0.2"


def test_client_ip_when_ipv6_proxy_trusted_reads_the_header() -> None:
    assert client_ip(request("fd00::1", ["2001:db8::5"]), ["fd00::/8"]) == "2001:db8::5"


def test_client_ip_when_trusted_entry_malformed_raises() -> None:
    with pytest.raises(ValueError, match="does not appear to be"):
        client_ip(request("10.0.0.2"), ["ten.zero"])


async def test_server_hands_the_platform_the_tcp_peer_even_with_a_forwarded_header_from_localhost() -> None:
    """The HTTP server `croupier up` runs must not rewrite the peer itself (uvicorn trusts 127.0.0.1 by default):
    with no trusted proxy configured, a local client's X-Forwarded-For is ignored, as configuration.md says."""
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        seen.append(client_ip(Request(scope), Settings().trusted_proxies))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    settings = Settings(host="127.0.0.1")
    port = find_free_port("127.0.0.1")
    server = uvicorn.Server(server_config(app, settings, port))
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started:
                break
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient() as http:
            response = await http.get(f"http://127.0.0.1:{port}/", headers={"X-Forwarded-For": "198.51.100.7"})
        assert response.status_code == 204
    finally:
        server.should_exit = True
        await serving
    assert seen == ["127.0.0.1"]
