"""The client's address as the edge saw it: X-Forwarded-For is believed only when it came from a trusted proxy."""

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from starlette.requests import Request

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def parse_networks(trusted_proxies: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """CIDR networks (a bare address is a /32 or /128); raises ValueError on a malformed entry."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in trusted_proxies)


def _trusted(address: str, networks: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_ip(request: Request, trusted_proxies: Sequence[str]) -> str:
    """The address of the client that sent `request`.

    The direct peer is the answer unless it is a trusted proxy; then X-Forwarded-For is read from the right (the hop
    nearest to us) and the first address that is not a trusted proxy is the client. Entries a client wrote itself
    (left of the first untrusted hop) are never believed. A malformed entry stops the walk at the last good hop.
    """
    peer = request.client.host if request.client else "unknown"
    networks = parse_networks(tuple(trusted_proxies))
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [hop.strip() for header in request.headers.getlist("x-forwarded-for") for hop in header.split(",")]
    current = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return current
        current = hop
        if not _trusted(hop, networks):
            return hop
    return current
