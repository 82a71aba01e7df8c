"""A lean HTTP/1.1 client for load generation: one keep-alive connection per worker over raw asyncio streams.

Why not httpx or aiohttp: on a 2-core machine the load generator shares the CPU with the server under test and with
PostgreSQL. A general-purpose client spends tens of microseconds per request on things a benchmark does not need
(URL objects, header classes, cookie jars, pools, timeouts per request). This client writes one pre-formatted request
head plus a JSON body, reads the response head up to the blank line, and reads exactly Content-Length body bytes (or
the chunks of a chunked body). That is all the wallet API needs, and it keeps the generator's share of the CPU small.

It speaks only what it needs: HTTP/1.1, Content-Length request bodies, keep-alive, responses with Content-Length or
chunked bodies, `Connection: close` honoured by reconnecting on the next request.
"""

import asyncio
import contextlib
from dataclasses import dataclass

HEAD_END = b"\r\n\r\n"
MAX_HEAD_BYTES = 64 * 1024


class HttpProtocolError(Exception):
    """The server answered something this client does not understand, or closed the connection mid-response."""


@dataclass(slots=True, frozen=True)
class HttpResponse:
    status: int
    body: bytes


class HttpConnection:
    """One keep-alive HTTP/1.1 connection to host:port. Not safe for concurrent use: one request at a time."""

    def __init__(self, host: str, port: int, authorization: str | None = None) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._host_header = f"Host: {host}:{port}\r\n"
        if authorization:  # the wallet API answers services only: every request carries the bench's service token
            self._host_header += f"Authorization: {authorization}\r\n"

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port, limit=MAX_HEAD_BYTES)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()

    def request_head(self, method: str, path: str) -> bytes:
        """The constant part of a request head (everything but Content-Length); callers may cache it."""
        return f"{method} {path} HTTP/1.1\r\n{self._host_header}Content-Type: application/json\r\n".encode("latin-1")

    async def send(self, head: bytes, body: bytes = b"") -> HttpResponse:
        """Send a request whose head came from `request_head`, and read the whole response."""
        if self._writer is None:
            await self.connect()
        assert self._reader is not None
        assert self._writer is not None
        try:
            self._writer.write(b"%sContent-Length: %d\r\n\r\n%s" % (head, len(body), body))
            return await self._read_response(self._reader)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, HttpProtocolError):
            await self.close()
            raise

    async def post_json(self, path: str, body: bytes) -> HttpResponse:
        return await self.send(self.request_head("POST", path), body)

    async def get(self, path: str) -> HttpResponse:
        return await self.send(self.request_head("GET", path))

    async def _read_response(self, reader: asyncio.StreamReader) -> HttpResponse:
        head = await reader.readuntil(HEAD_END)
        lines = head.split(b"\r\n")
        status_line = lines[0]
        if not status_line.startswith(b"HTTP/1.") or len(status_line) < 12:
            raise HttpProtocolError(f"bad status line {status_line[:80]!r}")
        status = int(status_line[9:12])
        length = -1
        chunked = False
        close = status_line.startswith(b"HTTP/1.0")
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        if chunked:
            body = await _read_chunked(reader)
        elif length >= 0:
            body = await reader.readexactly(length) if length else b""
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:  # body delimited by the end of the connection
            body = await reader.read()
            close = True
        if close:
            await self.close()
        return HttpResponse(status, body)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            # Trailers (usually none) end with an empty line.
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        if await reader.readexactly(2) != b"\r\n":
            raise HttpProtocolError("chunk not followed by CRLF")


async def open_connections(host: str, port: int, count: int, authorization: str | None = None) -> list[HttpConnection]:
    connections = [HttpConnection(host, port, authorization) for _ in range(count)]
    try:
        await asyncio.gather(*(connection.connect() for connection in connections))
    except BaseException:
        await close_connections(connections)
        raise
    return connections


async def close_connections(connections: list[HttpConnection]) -> None:
    await asyncio.gather(*(connection.close() for connection in connections), return_exceptions=True)
