"""A TCP forwarder on loopback that a test can break: cut (every connection reset, new ones refused)
or black-holed (connections stay open and nothing passes: a peer that vanished without a word)."""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit


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
        await asyncio.gather(
            self._pump(reader, upstream_writer), self._pump(upstream_reader, writer), return_exceptions=True
        )

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Forwards until either side ends; in a hole, keeps reading (so that an end is noticed and
        passed on, as a peer's FIN would be) but holds what it read."""
        held = bytearray()
        with contextlib.suppress(OSError, ConnectionError):
            while data := await reader.read(65536):
                if self._cut:
                    break
                held += data
                if self._passing.is_set():
                    writer.write(bytes(held))
                    held.clear()
                    await writer.drain()
        writer.transport.abort()
        self._pipes.discard(writer)


def on_loopback_port(url: str, port: int) -> str:
    """`url` (its user, database and other parameters) pointed at 127.0.0.1:`port` over TCP: a
    proxy or pooler in front of the server it named (a Unix socket's `host=` parameter dropped)."""
    parts = urlsplit(url)
    userinfo, _, _ = parts.netloc.rpartition("@")
    where = f"127.0.0.1:{port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "host"])
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{where}" if userinfo else where, query=query))
