"""A TCP forwarder on loopback that a test can break: cut (every connection reset, new ones refused)
or black-holed (connections stay open and nothing passes: a peer that vanished without a word); and,
in front of PostgreSQL, one that loses a transaction's COMMIT, or the server's answer to it
(`lose_commit`).

Losing a COMMIT: the proxy reads each connection's PostgreSQL protocol, which is clear text (the
test servers run with ssl off; a client's SSLRequest is answered "N" and the startup follows). The
client's messages are framed (untyped startup messages first, then a type byte and a length each).
A transaction is marked when it runs a statement whose text holds the pattern: the text comes in a
simple Query, or in a Parse (the extended protocol, asyncpg's); asyncpg prepares a statement once
per connection and caches it by name, sending its text the first time only, so the proxy remembers
every named statement's text and also matches a later Bind of it (a pooled connection that prepared
the INSERT for an earlier test is watched all the same). asyncpg ends a transaction with the simple
query `COMMIT;`. Armed, the proxy then either drops that COMMIT and closes both sides (the server
never got it: the transaction rolls back when its session ends), or passes it on, holds the
server's answer until it is whole, and, when it carries the CommandComplete tag `COMMIT` (the
transaction is committed), closes both sides instead of passing it on: the client's commit raises
although the server committed. An answer with another outcome is passed on.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: What `lose_commit` loses: the COMMIT on its way to the server, or the server's answer to it.
Lost = Literal["commit", "answer"]
#: Untyped requests a client may send before its startup message (SSLRequest, GSSENCRequest).
_ENCRYPTION_REQUESTS = (80877103, 80877104)
#: The server's CommandComplete for a COMMIT that committed (a failed transaction's says ROLLBACK).
_COMMITTED = b"C" + struct.pack("!i", 4 + len(b"COMMIT\x00")) + b"COMMIT\x00"
#: ReadyForQuery, idle: the end of an answer to a COMMIT.
_READY = b"Z" + struct.pack("!i", 5) + b"I"
#: What to pass on of a read, and whether to close both sides after it.
Inspect = Callable[[bytes], tuple[bytes, bool]]


@dataclass
class _Watch:
    """What the proxy knows of one connection's protocol."""

    started: bool = False  # past the startup messages: typed messages follow
    unparsed: bytearray = field(default_factory=bytearray)
    prepared: dict[bytes, bytes] = field(default_factory=dict)  # statement name -> text
    marked: bool = False  # the open transaction ran a statement that matched, the proxy armed
    committing: bool = False  # its COMMIT went to the server, whose answer is to be lost
    answer: bytearray = field(default_factory=bytearray)

    def messages(self, data: bytes) -> list[tuple[bytes, bytes, int]]:
        """The whole typed messages completed by `data`: (type, body, offset of the message in
        `data`, negative when it began in an earlier read)."""
        carried = len(self.unparsed)
        buffer = self.unparsed
        buffer += data
        found, offset = [], 0
        while True:
            if not self.started:
                if len(buffer) - offset < 8:
                    break
                length, code = struct.unpack_from("!ii", buffer, offset)
                if len(buffer) - offset < length:
                    break
                offset += length
                self.started = code not in _ENCRYPTION_REQUESTS
                continue
            if len(buffer) - offset < 5:
                break
            (length,) = struct.unpack_from("!i", buffer, offset + 1)
            if len(buffer) - offset < 1 + length:
                break
            kind, body = bytes(buffer[offset : offset + 1]), bytes(buffer[offset + 5 : offset + 1 + length])
            found.append((kind, body, offset - carried))
            offset += 1 + length
        del buffer[:offset]
        return found

    def statement(self, kind: bytes, body: bytes) -> bytes | None:
        """The text of the statement a message prepares or runs (a Query; a Parse, whose named
        statement is remembered; a Bind of a remembered one), else None."""
        if kind == b"Q":
            return body.rstrip(b"\x00")
        if kind == b"P":
            name, _, rest = body.partition(b"\x00")
            text = rest.partition(b"\x00")[0]
            if name:
                self.prepared[name] = text
            return text
        if kind == b"B":
            return self.prepared.get(body.split(b"\x00", 2)[1])
        return None


class TcpProxy:
    def __init__(self, host: str, port: int) -> None:
        """`host`: a name or address, or a directory holding PostgreSQL's Unix socket."""
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self._passing = asyncio.Event()
        self._passing.set()
        self._cut = False
        self.port = 0
        #: Connections accepted so far (refused ones included).
        self.accepted = 0
        self._armed: tuple[bytes, Lost, bool] | None = None
        #: COMMITs (or answers to them) lost so far.
        self.lost = 0
        #: The type of each message that marked a transaction (b"Q", b"P" or b"B"): a Bind means a
        #: statement prepared earlier on the connection was recognised by its name.
        self.marked_by: list[bytes] = []

    @classmethod
    def before(cls, url: str) -> TcpProxy:
        """A proxy in front of the server a postgresql:// URL names (over TCP, or its Unix socket:
        `?host=/dir`, as the embedded PostgreSQL's URL has it)."""
        parts = urlsplit(url)
        socket_dir = dict(parse_qsl(parts.query)).get("host", "")
        return cls(socket_dir or parts.hostname or "127.0.0.1", parts.port or 5432)

    def url(self, url: str) -> str:
        """The same URL, through this proxy (always TCP)."""
        return on_loopback_port(url, self.port)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()

    def hole(self) -> None:
        """Connections stay open and nothing passes (it is held, not lost; what comes after mend()
        brings it along); a side that closes still closes the other."""
        self._passing.clear()

    def lose_commit(self, pattern: bytes, lost: Lost, *, then_cut: bool = False) -> None:
        """Arms the proxy, once: the next COMMIT of a transaction that runs a statement whose text
        holds `pattern` is lost (`commit`: it never reaches the server; `answer`: the server
        commits, and its answer never reaches the client) and the connection is closed both ways.
        `then_cut`: the proxy is cut at that moment too (the database unreachable until mend())."""
        self._armed = (pattern, lost, then_cut)

    def mend(self) -> None:
        self._cut = False
        self._passing.set()

    def cut(self) -> None:
        """Every connection reset; new ones refused until mend()."""
        self._cut = True
        for writer in list(self._pipes):
            writer.transport.abort()
        self._pipes.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self._cut:
            writer.transport.abort()
            return
        self._pipes.add(writer)
        host, port = self._target
        try:
            if host.startswith("/"):
                upstream_reader, upstream_writer = await asyncio.open_unix_connection(
                    f"{host}/.s.PGSQL.{port}"
                )
            else:
                upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.transport.abort()
            return
        self._pipes.add(upstream_writer)
        watch, both = _Watch(), (writer, upstream_writer)
        await asyncio.gather(
            self._pump(reader, upstream_writer, lambda data: self._from_client(watch, data), both),
            self._pump(upstream_reader, writer, lambda data: self._from_server(watch, data), both),
            return_exceptions=True,
        )

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        inspect: Inspect,
        both: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        """Forwards until either side ends; in a hole, keeps reading (so that an end is noticed and
        passed on, as a peer's FIN would be) but holds what it read. `inspect` says what of a read
        to pass on, and whether to close both sides right after."""
        held = bytearray()
        with contextlib.suppress(OSError, ConnectionError):
            while data := await reader.read(65536):
                if self._cut:
                    break
                passed, close = inspect(data)
                held += passed
                if self._passing.is_set():
                    writer.write(bytes(held))
                    held.clear()
                    await writer.drain()
                if close:
                    for side in both:
                        side.transport.abort()
                        self._pipes.discard(side)
                    return
        writer.transport.abort()
        self._pipes.discard(writer)

    def _fire(self) -> None:
        assert self._armed is not None
        then_cut = self._armed[2]
        self._armed = None
        self.lost += 1
        if then_cut:
            self.cut()

    def _from_client(self, watch: _Watch, data: bytes) -> tuple[bytes, bool]:
        """All of the client's bytes, or those before a COMMIT that is to be lost."""
        for kind, body, start in watch.messages(data):
            text = watch.statement(kind, body)
            if text is None:
                continue
            armed = self._armed
            if armed is not None and armed[0] in text:
                if not watch.marked:
                    self.marked_by.append(kind)
                watch.marked = True
                continue
            verb = text.strip().upper() if kind == b"Q" else b""
            if verb.startswith((b"COMMIT", b"END")) and watch.marked and armed is not None:
                watch.marked = False
                if armed[1] == "commit":
                    self._fire()
                    return data[: max(0, start)], True
                watch.committing = True
            elif verb.startswith((b"BEGIN", b"START", b"COMMIT", b"END", b"ROLLBACK", b"ABORT")):
                watch.marked = False
        return data, False

    def _from_server(self, watch: _Watch, data: bytes) -> tuple[bytes, bool]:
        """The server's bytes; but the answer to a COMMIT to be lost is held until it is whole, and
        dropped (the connection closed) if it says the transaction committed."""
        if not watch.committing:
            return data, False
        watch.answer += data
        if _COMMITTED in watch.answer and self._armed is not None:
            watch.committing = False
            self._fire()
            return b"", True
        if _READY in watch.answer:  # another outcome (or the proxy disarmed meanwhile): passed on
            watch.committing = False
            answer = bytes(watch.answer)
            watch.answer.clear()
            return answer, False
        return b"", False


def on_loopback_port(url: str, port: int) -> str:
    """`url` (its user, database and other parameters) pointed at 127.0.0.1:`port` over TCP: a
    proxy or pooler in front of the server it named (a Unix socket's `host=` parameter dropped)."""
    parts = urlsplit(url)
    userinfo, _, _ = parts.netloc.rpartition("@")
    where = f"127.0.0.1:{port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "host"])
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{where}" if userinfo else where, query=query))
