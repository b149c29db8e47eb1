"""Whether this process can serve: the database answers, with the service's schema in it, on a
connection of its own.

`/readyz` used to borrow a connection from the request pool and wait up to the pool's timeout (5 s),
so a busy pod went not ready, was taken out of its load balancer, and its load went to the others;
and gRPC health said SERVING from start to stop, whatever the database did. Here one connection,
outside the pool, reads the schema's version (`alembic_version`: a database that answers but was
dropped and made again, empty, serves no call) every READINESS_INTERVAL_SECONDS within
READINESS_TIMEOUT_SECONDS (its connect bounded the same way, and replaced when it breaks).
`/readyz` and gRPC health read the last answer and cost nothing; health turns NOT_SERVING as soon
as a probe fails and SERVING again when one succeeds (the drain after SIGTERM sets NOT_SERVING for
good: GrpcServer.stop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from booking_service.adapters.database import driver_url

log = logging.getLogger("booking_service")

Listener = Callable[[bool], Awaitable[None]]


class Readiness:
    def __init__(
        self,
        database_url: str,
        *,
        interval_seconds: float = 2.0,
        timeout_seconds: float = 1.0,
    ) -> None:
        self._url = driver_url(database_url)
        self._interval, self._timeout = interval_seconds, timeout_seconds
        self._connection: Any = None
        self._ready: bool | None = None  # not asked yet
        self._why = ""  # what the last failed probe met
        self._listeners: list[Listener] = []

    def on_change(self, listener: Listener) -> None:
        """Calls `listener(ready)` after each change of state (and once with the first state)."""
        self._listeners.append(listener)

    async def is_ready(self) -> bool:
        """The last probe's answer (the REST gateway's `/readyz`)."""
        return self._ready is True

    async def probe(self) -> bool:
        """Asks the database once, and tells the listeners if the answer changed."""
        ready = await self._ask()
        if ready != self._ready:
            self._ready = ready
            if ready:
                log.info("ready: the database answers")
            else:
                log.warning(
                    "not ready: the database does not answer, or holds no schema",
                    extra={"timeout_seconds": self._timeout, "cause": self._why},
                )
            for listener in self._listeners:
                await listener(ready)
        return ready

    async def run(self) -> None:
        """Probes until cancelled."""
        try:
            while True:
                await self.probe()
                await asyncio.sleep(self._interval)
        finally:
            await self.aclose()

    async def _ask(self) -> bool:
        try:
            async with asyncio.timeout(self._timeout):
                if self._connection is None or self._connection.is_closed():
                    self._connection = await asyncpg.connect(self._url, timeout=self._timeout)
                # The simple query protocol: no statement is prepared, so the probe works the same
                # through a transaction pooler, whose next transaction may be on another session.
                await self._connection.execute("SELECT version_num FROM alembic_version")
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            self._why = f"{type(error).__name__}: {error}"[:300]
            await self.aclose()
            return False
        return True

    async def aclose(self) -> None:
        """Closes the probe's connection (run() does when cancelled)."""
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.terminate()  # no goodbye: it may be the connection that hangs
