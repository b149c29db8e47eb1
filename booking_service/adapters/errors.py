"""Translating database failures into domain errors, in one place.

Constraint violations that need a booking's context are translated by the repository (using
constraint_of); everything else that a client can cause or retry is translated here.

Every failure passing through translate() first loses the driver's DETAIL line ("Key (...)=(...)",
"Failing row contains (...)"): it repeats row values, guest email and phone included, and an error
nobody translates is logged with its traceback. The engine hides statement parameters likewise.
"""

from __future__ import annotations

import logging

import asyncpg
from sqlalchemy.exc import DBAPIError, InterfaceError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from booking_service.domain.errors import BookingError, Contention, StorageUnavailable

#: SQLSTATEs that mean "someone else holds what you need; try again".
_CONTENTION = {
    "55P03": "a lock could not be taken in time",  # lock_not_available (lock_timeout)
    "40001": "a concurrent transaction conflicted",  # serialization_failure
    "40P01": "a deadlock was broken",  # deadlock_detected
    "57014": "the statement took too long",  # query_canceled (statement_timeout)
}
#: Stands in for a DETAIL line that quoted row values.
_WITHHELD = "(row values withheld from logs)"
#: SQLSTATE classes that mean "the database is not there".
_UNAVAILABLE_CLASSES = ("08", "53", "57P")

log = logging.getLogger("booking_service.database")


class PoolExhausted(Exception):
    """No connection of the request pool became free within the pool timeout (connections.py);
    translated as SQLAlchemy's pool timeout was: StorageUnavailable, pool_exhausted."""

    def __init__(self, timeout_seconds: float) -> None:
        super().__init__(f"no database connection became free within {timeout_seconds:g} s")


def sqlstate_of(exc: BaseException) -> str | None:
    cause = _driver_error(exc)
    state = getattr(cause, "sqlstate", None)
    return state if isinstance(state, str) else None


def constraint_of(exc: BaseException) -> str | None:
    name = getattr(_driver_error(exc), "constraint_name", None)
    return name if isinstance(name, str) else None


def withhold_row_values(exc: BaseException) -> None:
    """Drops the DETAIL of the driver's error, which quotes the row a constraint refused."""
    driver = _driver_error(exc)
    if isinstance(driver, asyncpg.PostgresError) and getattr(driver, "detail", None):
        driver.detail = _WITHHELD


def _driver_error(exc: BaseException) -> BaseException | None:
    """The asyncpg exception under SQLAlchemy's wrappers, if there is one."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, asyncpg.PostgresError):
            found: BaseException = seen
            return found
        orig = seen.orig if isinstance(seen, DBAPIError) else None
        seen = orig if isinstance(orig, BaseException) and orig is not seen else seen.__cause__
    return None


def connection_lost(exc: BaseException) -> bool:
    """Whether the failure took the connection with it: the server ended the session (SQLSTATE
    classes 08, 53, 57P) or the driver lost or broke it (InternalClientError: found mid-operation
    when the server ended the session under it). Such a connection must not be used again."""
    state = sqlstate_of(exc)
    if state is not None and state.startswith(_UNAVAILABLE_CLASSES):
        return True
    return (isinstance(exc, DBAPIError) and exc.connection_invalidated) or isinstance(
        exc, InterfaceError | ConnectionError | OSError | asyncpg.InterfaceError | asyncpg.InternalClientError
    )


def translate(exc: BaseException) -> BookingError | None:
    """The domain error for a database failure a client can retry, or None for a real bug."""
    withhold_row_values(exc)
    if isinstance(exc, BookingError):
        return None
    if isinstance(exc, PoolExhausted | PoolTimeout):
        return StorageUnavailable(
            "Every database connection is busy; retry shortly.", {"reason": "pool_exhausted"}
        )
    state = sqlstate_of(exc)
    if state in _CONTENTION:
        return Contention(
            f"The booking is busy ({_CONTENTION[state]}); retry the request.", {"sqlstate": state}
        )
    if connection_lost(exc):
        return unavailable(exc, "The booking database is unavailable; retry shortly.")
    return None


def unavailable(
    exc: BaseException, message: str = "The booking database is unavailable."
) -> StorageUnavailable:
    """StorageUnavailable for a failure that took the database away, and one log line with its
    cause: the client is told only UNAVAILABLE, the operator learns why (a refused connection, a
    pooler refusing a startup parameter, a server shutting down). Row values are withheld first."""
    withhold_row_values(exc)
    state = sqlstate_of(exc) or ""
    log.warning(
        "the database is unavailable",
        extra={"cause": f"{type(exc).__name__}: {exc}"[:500], "sqlstate": state},
    )
    return StorageUnavailable(message, {"sqlstate": state})
