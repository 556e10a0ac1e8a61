"""HTTP/1.1 over asyncio streams, as much of it as a client of creditd needs:
one request at a time on a kept-alive connection, answers framed by
Content-Length, chunked transfer coding or the connection's end.

It sends what _transport.prepare() made and hands back (status, body,
headers); deciding what an answer means is the caller's. Every read is
bounded (LIMITS below) so that a broken or hostile peer cannot make the
client hold unbounded memory.
"""
import asyncio
import ssl
from typing import Dict, List, NamedTuple, Optional, Tuple

from ._transport import MAX_ANSWER_BYTES, Endpoint, Prepared

__all__ = ["Connection", "Answer", "ProtocolError", "StaleConnection", "open_connection"]

MAX_HEADER_LINES = 100          # creditd sends about a dozen
MAX_BODY_BYTES = MAX_ANSWER_BYTES   # 16 MiB: a page of 200 journal rows is well under 1 MiB
MAX_LINE_BYTES = 64 * 1024      # asyncio's own StreamReader limit: a longer line is an error


class ProtocolError(Exception):
    """The peer's bytes are not an HTTP/1.1 answer this client reads."""


class StaleConnection(Exception):
    """A kept-alive connection was found closed before any byte of an answer."""


class Answer(NamedTuple):
    status: int
    body: bytes
    headers: Dict[str, str]
    will_close: bool


class Connection:
    """One TCP (or TLS) connection to creditd."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host_header: str) -> None:
        self.reader = reader
        self.writer = writer
        self.host_header = host_header
        self.used = False

    def abort(self) -> None:
        """Closes at once, not waiting for the peer and dropping what is not
        sent yet (after an error, or when cancelled)."""
        self.writer.transport.abort()

    def reusable(self) -> bool:
        """Whether this idle connection may carry the next request: not
        closing, not at its end, and no byte waiting. Bytes nobody asked for
        would be read as the next request's answer (a desynchronised
        connection hands each caller someone else's answer), and a
        connection the server closed would fail the next try for nothing."""
        if self.writer.transport.is_closing() or self.reader.at_eof() or self.reader.exception() is not None:
            return False
        # StreamReader has no public count of buffered bytes; its buffer is it.
        return not getattr(self.reader, "_buffer", b"")

    def close_soon(self) -> None:
        """Starts closing, after what was sent, not waiting for the peer."""
        self.writer.close()

    async def close(self) -> None:
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 1.0)
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            pass

    def _head(self, call: Prepared) -> bytes:
        lines = ["%s %s HTTP/1.1" % (call.method, call.target), "Host: " + self.host_header]
        lines += ["%s: %s" % (k, v) for k, v in call.headers.items()]
        if call.data is not None or call.method in ("POST", "PUT", "PATCH"):
            lines.append("Content-Length: %d" % len(call.data or b""))
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def exchange(self, call: Prepared) -> Answer:
        """Sends one request and reads its whole answer. Raises StaleConnection
        when a reused connection ends before the answer's first byte,
        ProtocolError for bytes that are no answer, OSError for the network."""
        reused = self.used
        self.used = True
        try:
            self.writer.write(self._head(call) + (call.data or b""))
            await self.writer.drain()
            status_line = await _line(self.reader)
        except (ConnectionResetError, BrokenPipeError) as e:
            if reused:
                raise StaleConnection(e) from e
            raise
        if not status_line:
            if reused:
                raise StaleConnection("closed by the server")
            raise ProtocolError("the connection closed with no answer")
        status, version = _status(status_line)
        while 100 <= status < 200:          # an interim answer (100 Continue): the real one follows
            await _headers(self.reader)
            status, version = _status(await _line(self.reader))
        headers = await _headers(self.reader)
        body, until_end = await _body(self.reader, call.method, status, headers)
        connection = headers.get("connection", "").lower()
        will_close = until_end or "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection)
        return Answer(status, body, headers, will_close)


async def _line(reader: asyncio.StreamReader) -> bytes:
    """One line, up to its LF ends included (b"" at the connection's end)."""
    try:
        return await reader.readline()
    except ValueError as e:     # asyncio's own: a line over the reader's limit
        raise ProtocolError("a line over %d bytes" % MAX_LINE_BYTES) from e


def _digits(text: str) -> bool:
    """ASCII digits only (str.isdigit takes other scripts' digits and superscripts)."""
    return text.isascii() and text.isdigit()


def _status(line: bytes) -> Tuple[int, str]:
    parts = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not _digits(parts[1]) or len(parts[1]) != 3:
        raise ProtocolError("not an HTTP/1.x status line: %r" % line[:100])
    return int(parts[1]), parts[0]


async def _headers(reader: asyncio.StreamReader) -> Dict[str, str]:
    headers: Dict[str, str] = {}
    for _ in range(MAX_HEADER_LINES + 1):
        line = await _line(reader)
        if line in (b"\r\n", b"\n"):
            return headers
        if not line:
            raise ProtocolError("the connection closed inside the headers")
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise ProtocolError("a header line without a colon: %r" % line[:100])
        key = name.strip().lower()
        value = value.strip()
        headers[key] = headers[key] + ", " + value if key in headers else value
    raise ProtocolError("more than %d header lines" % MAX_HEADER_LINES)


async def _body(reader: asyncio.StreamReader, method: str, status: int,
                headers: Dict[str, str]) -> Tuple[bytes, bool]:
    """The answer's body, and whether it ran to the connection's end."""
    if method == "HEAD" or status in (204, 304):
        return b"", False
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return await _chunked(reader), False
    length = headers.get("content-length")
    if length is not None:
        if not _digits(length.strip()) or int(length) > MAX_BODY_BYTES:
            raise ProtocolError("Content-Length %r" % length[:40])
        return await reader.readexactly(int(length)), False
    data = await reader.read(MAX_BODY_BYTES + 1)
    chunks: List[bytes] = [data]
    total = len(data)
    while data and total <= MAX_BODY_BYTES:
        data = await reader.read(MAX_BODY_BYTES + 1 - total)
        chunks.append(data)
        total += len(data)
    if total > MAX_BODY_BYTES:
        raise ProtocolError("an answer over %d bytes" % MAX_BODY_BYTES)
    return b"".join(chunks), True


async def _chunked(reader: asyncio.StreamReader) -> bytes:
    parts: List[bytes] = []
    total = 0
    while True:
        size_line = (await _line(reader)).split(b";", 1)[0].rstrip(b"\r\n \t")
        # Hex digits only: int(x, 16) would take 0x, a sign, _ and spaces too.
        if not 0 < len(size_line) <= 16 or size_line.strip(b"0123456789abcdefABCDEF"):
            raise ProtocolError("a chunk size that is not hex digits: %r" % size_line[:40])
        size = int(size_line, 16)
        if total + size > MAX_BODY_BYTES:
            raise ProtocolError("an answer over %d bytes" % MAX_BODY_BYTES)
        if size == 0:
            await _headers(reader)          # the trailer, if any, up to the blank line
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        total += size
        if await reader.readexactly(2) != b"\r\n":
            raise ProtocolError("a chunk not ended by CRLF")


async def open_connection(where: Endpoint, ssl_context: Optional[ssl.SSLContext]) -> Connection:
    """A new connection to creditd (TLS for an https base URL)."""
    default_port = 443 if where.https else 80
    host = "[%s]" % where.host if ":" in where.host else where.host
    host_header = host if where.port == default_port else "%s:%d" % (host, where.port)
    if where.https:
        context = ssl_context or ssl.create_default_context()
        reader, writer = await asyncio.open_connection(where.host, where.port, ssl=context,
                                                       server_hostname=where.host, limit=MAX_LINE_BYTES)
    else:
        reader, writer = await asyncio.open_connection(where.host, where.port, limit=MAX_LINE_BYTES)
    return Connection(reader, writer, host_header)
