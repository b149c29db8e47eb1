"""Why a command failed, as the one line the command line prints: the cause and what to do about it.

Every `booking-service` command ends through cli.main, which hands whatever stopped it to
explain(): a setting that cannot be used (exit status 2), or something the command could not reach
or use (1): a port, the data directory, the database, the broker. The layers below raise errors that
carry the facts (CannotListen: what, where, why; DataDirInUse: the owner's pid and command;
DatabaseUnreachable: where and why); the remedy, in the command line's own terms (its flags and
variables), is written here, once. Anything else is a bug: one line says so, and LOG_LEVEL=DEBUG
logs its traceback.
"""

from __future__ import annotations

import errno

import asyncpg
from confluent_kafka import KafkaException
from sqlalchemy.exc import DBAPIError

from booking_service.adapters.database import DatabaseUnreachable
from booking_service.adapters.embedded_postgres import DataDirInUse, DataDirUnusable
from booking_service.config import ConfigError
from booking_service.domain.errors import BookingError
from booking_service.entrypoints.events import BrokerUnavailable
from booking_service.entrypoints.listening import CannotListen
from booking_service.entrypoints.sandbox import WHAT as SANDBOX
from booking_service.service_layer.sagas.operators import OperatorError

#: Exit statuses: a setting the service cannot use (as argparse's own errors), and everything else.
SETTING, FAILED, INTERRUPTED = 2, 1, 130

#: The flags that move each server's port, per command (serve's unless the command says otherwise).
_PORT_FLAGS = {
    ("serve", "gRPC"): "--grpc-port (GRPC_PORT)",
    ("serve", "REST"): "--http-port (HTTP_PORT)",
    ("serve", SANDBOX): "--sandbox-port (SANDBOX_PORT; 0: any free port)",
    ("sandbox", SANDBOX): "--port (SANDBOX_PORT)",
}


def explain(error: BaseException, command: str) -> tuple[int, str]:
    """The exit status and the line (without the program's name) for `error`, which ended
    `command` ("serve", "migrate", "sandbox", "events", "sagas", "reconcile", "health")."""
    if isinstance(error, ConfigError):
        return SETTING, str(error)
    if isinstance(error, KeyboardInterrupt):
        return INTERRUPTED, "interrupted"
    if isinstance(error, CannotListen):
        return FAILED, _cannot_listen(error, command)
    if isinstance(error, DataDirInUse):
        return FAILED, _data_dir_in_use(error, command)
    if isinstance(error, DataDirUnusable):
        return FAILED, (
            f"{error.strerror}: pass --data-dir (BOOKING_DATA_DIR) naming a directory this user may "
            "write, or set DATABASE_URL to use a PostgreSQL server instead"
        )
    if isinstance(error, DatabaseUnreachable):
        return FAILED, (
            f"{error}: check DATABASE_URL (host, port, user, password, database name) and that "
            "PostgreSQL runs there and lets this service in"
        )
    if isinstance(error, BrokerUnavailable):
        return FAILED, str(error)
    if isinstance(error, OperatorError):
        return FAILED, f"{command}: {error} (`booking-service sagas list` shows those needing attention)"
    if isinstance(error, BookingError):  # an operator command that had to ask a peer
        return FAILED, (
            f"{command}: {error.message} ({error.reason}): check that the peers answer (the "
            "*_SERVICE_URL settings, or the sandbox of the serve running on this data directory)"
        )
    if isinstance(error, DBAPIError | asyncpg.PostgresError):
        cause = (error.orig or error) if isinstance(error, DBAPIError) else error
        remedy = (
            "give DATABASE_URL's role the rights it needs (migrate: to create tables and indexes)"
            if isinstance(cause, asyncpg.InsufficientPrivilegeError)
            else "run it again with LOG_LEVEL=DEBUG for the details"
        )
        return FAILED, f"the database refused: {type(cause).__name__}: {_first_line(cause)}: {remedy}"
    if isinstance(error, KafkaException):
        return FAILED, (
            f"the Kafka client refused: {error.args[0].str()}: check KAFKA_BOOTSTRAP_SERVERS and the "
            "KAFKA_* security settings"
        )
    if isinstance(error, OSError | TimeoutError):
        return FAILED, (
            f"could not run: {type(error).__name__}: {_first_line(error)}: run it again with "
            "LOG_LEVEL=DEBUG for the details"
        )
    return FAILED, (
        f"failed unexpectedly: {type(error).__name__}: {_first_line(error)}; this is a bug: run it "
        "again with LOG_LEVEL=DEBUG for the traceback, and report it"
    )


def _cannot_listen(error: CannotListen, command: str) -> str:
    flag = _PORT_FLAGS.get((command, error.what)) or _PORT_FLAGS.get(("serve", error.what), "another port")
    if error.code == errno.EACCES:
        return f"{error}: choose a port above 1023 with {flag}"
    if error.code != errno.EADDRINUSE:
        return f"{error}: check " + ("--host" if command == "sandbox" else "--host (BIND_HOST)")
    shows = f"`ss -ltnp 'sport = :{error.port}'` shows it"
    remedy = f"stop what holds it ({shows}), or choose another with {flag}"
    if error.what == SANDBOX and command == "serve":
        remedy += (
            f"; or, if `booking-service sandbox` runs there, use it: set INVENTORY_SERVICE_URL, "
            f"PRICING_SERVICE_URL and PAYMENT_SERVICE_URL to http://localhost:{error.port} and run "
            "`booking-service serve --dev`"
        )
    return f"{error}: {remedy}"


def _data_dir_in_use(error: DataDirInUse, command: str) -> str:
    holder = f"booking-service {error.owner}".rstrip()
    stop = f"kill -TERM {error.pid}" if error.pid.isdigit() else "stop it"
    if command == "migrate":
        return (
            f"migrate cannot run while {holder} (pid {error.pid}) holds the embedded database in "
            f"{error.data_dir}: a serve applies its migrations itself when it starts "
            f"(MIGRATE_ON_START), so one that runs needs none; to migrate anyway, stop it ({stop}) "
            "and run migrate again"
        )
    return (
        f"another {holder} (pid {error.pid}) is already running on data directory {error.data_dir}: "
        f"stop it first ({stop}), or pass --data-dir (BOOKING_DATA_DIR) for a separate one"
    )


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [""])[0][:300]
