"""Statements on the driver: the unit of work's SQL, run on the pooled asyncpg connection directly.

SQLAlchemy's execution path (greenlet hand-offs, compiled-cache lookups, parameter processing,
result wrapping) cost more CPU than the round trip itself: about 45% of a CreateBooking's CPU went
there (measured with cProfile over 300 creates in one process). SQL texts are built once, from the
table definitions in tables.py, and asyncpg prepares each once per connection. The connections come
from asyncpg's own pool (connections.py); SQLAlchemy's engine keeps the migrations and the Core
statements off the request path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table

from booking_service.adapters.errors import connection_lost
from booking_service.observability.sql_tracing import Located, driver_statement


def columns(table: Table, *, without: Iterable[str] = ()) -> tuple[str, ...]:
    skipped = set(without)
    return tuple(column.name for column in table.c if column.name not in skipped)


def insert_sql(table: Table, names: Sequence[str], *, suffix: str = "") -> str:
    """`INSERT INTO table (names) VALUES ($1, ...)` with an optional suffix (ON CONFLICT, RETURNING)."""
    placeholders = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    text = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({placeholders})"
    return f"{text} {suffix}" if suffix else text


class DriverSession:
    """One connection's statements inside a unit of work, each in a SQL span when tracing is on."""

    def __init__(self, database: Located, connection: Any) -> None:
        """`database`: where the connection goes, for the spans (the pool: connections.py)."""
        self._database = database
        self.connection = connection  # an asyncpg Connection

    async def execute(self, statement: str, *arguments: Any) -> str:
        with driver_statement(self._database, statement):
            status: str = await self.connection.execute(statement, *arguments)
        return status

    async def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        with driver_statement(self._database, statement):
            await self.connection.executemany(statement, rows)

    async def fetch(self, statement: str, *arguments: Any) -> list[Any]:
        with driver_statement(self._database, statement):
            rows: list[Any] = await self.connection.fetch(statement, *arguments)
        return rows

    async def fetchrow(self, statement: str, *arguments: Any) -> Any:
        with driver_statement(self._database, statement):
            return await self.connection.fetchrow(statement, *arguments)

    def unusable_after(self, exc: BaseException) -> bool:
        """Whether the connection must leave the pool after `exc`: the server ended the session, or
        the failure was not an error of ours or of a statement (a cancellation may have cut a
        statement off half-way, and the connection's state is then unknown)."""
        return self.connection.is_closed() or connection_lost(exc) or not isinstance(exc, Exception)
