"""The `booking-service` command line: serve, migrate, health, sandbox, events tail, sagas, reconcile."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import math
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from booking_service.config import ConfigError, Settings, read_as
from booking_service.entrypoints import (
    events,
    failures,
    health_probe,
    logs,
    rabbitmq_tail,
    reconcile,
    sagas,
    serve,
    workers,
)
from booking_service.entrypoints.sandbox import run_sandbox

T = TypeVar("T")


class _Parser(argparse.ArgumentParser):
    """argparse, refusing a command line in one line (exit status 2), as every failure here ends."""

    def error(self, message: str) -> NoReturn:
        self.exit(failures.SETTING, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def parser(defaults: Settings) -> argparse.ArgumentParser:
    root = _Parser(prog="booking-service", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    run = commands.add_parser("serve", help="serve gRPC (and REST) until SIGTERM")
    run.add_argument(
        "--grpc-port", type=_port, default=defaults.grpc_port, help="gRPC port (GRPC_PORT; 50051)"
    )
    run.add_argument(
        "--http-port", type=_port, default=defaults.http_port, help="REST port (HTTP_PORT; 8002)"
    )
    run.add_argument(
        "--sandbox-port",
        type=_port,
        default=defaults.sandbox_port,
        help="port of the in-process sandbox peers, started when a peer URL is not set "
        "(SANDBOX_PORT; 8003; 0: any free port)",
    )
    run.add_argument("--host", default=defaults.bind_host, help="address to listen on (BIND_HOST; localhost)")
    run.add_argument(
        "--workers",
        type=_as_setting("WORKERS", lambda reader, name: reader.workers(name, 1)),
        default=defaults.workers,
        help="processes sharing the ports, to use every core (WORKERS; 1)",
    )
    run.add_argument(
        "--dev",
        action="store_true",
        help="start embedded stand-ins (PostgreSQL, broker, sandbox peers) for every dependency not "
        "configured, even when a production setting is given (else such a service refuses to start)",
    )
    run.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # one of --workers N
    _data_dir(run, defaults)

    migrate = commands.add_parser("migrate", help="apply the database migrations (alembic upgrade head)")
    _data_dir(migrate, defaults)

    commands.add_parser(
        "health",
        help="ask the service on localhost:GRPC_PORT for grpc.health.v1; exit 0 if SERVING, else 1",
    )

    sandbox = commands.add_parser("sandbox", help="serve the sandbox inventory, pricing and payment peers")
    sandbox.add_argument(
        "--port", type=_port, default=defaults.sandbox_port, help="port (SANDBOX_PORT; 8003; 0: any free one)"
    )
    sandbox.add_argument("--host", default="localhost", help="address to listen on (localhost)")

    topic = commands.add_parser("events", help="the booking events topic").add_subparsers(
        dest="action", required=True
    )
    tail = topic.add_parser("tail", help="print the topic's events, decoded, as JSON lines")
    broker = tail.add_mutually_exclusive_group()
    broker.add_argument(
        "--bootstrap-servers",
        type=_as_setting("KAFKA_BOOTSTRAP_SERVERS", lambda reader, name: reader.bootstrap_servers(name)),
        help="the Kafka broker (KAFKA_BOOTSTRAP_SERVERS; else the embedded one of serve)",
    )
    broker.add_argument(
        "--rabbitmq-url",
        type=_as_setting("RABBITMQ_URL", lambda reader, name: reader.amqp_url(name)),
        help="read RabbitMQ at this amqp:// URL (RABBITMQ_URL, with EVENTS_BROKER=rabbitmq)",
    )
    tail.add_argument(
        "--from-beginning", action="store_true", help="start at the oldest event, not the next one"
    )
    tail.add_argument("--max-messages", type=_count, help="stop after this many events (1 or more)")
    tail.add_argument(
        "--idle-timeout", type=_seconds(), help="stop after this many seconds without an event (more than 0)"
    )
    tail.add_argument(
        "--timeout",
        type=_seconds(events.TAIL_TIMEOUT_MAX_SECONDS),
        default=events.TAIL_TIMEOUT_SECONDS,
        help=f"seconds to wait for the broker to answer, at the start and whenever it stops answering "
        f"({events.TAIL_TIMEOUT_SECONDS:g}; at most {events.TAIL_TIMEOUT_MAX_SECONDS:g}); then it "
        "fails, saying where it looked",
    )
    _data_dir(tail, defaults)
    sagas.add_parser(commands, lambda command: _data_dir(command, defaults))
    reconcile.add_parser(commands, lambda command: _data_dir(command, defaults))
    return root


def _data_dir(command: argparse.ArgumentParser, defaults: Settings) -> None:
    command.add_argument(
        "--data-dir",
        type=Path,
        default=defaults.data_dir,
        help="where the embedded PostgreSQL keeps its data when DATABASE_URL is unset (BOOKING_DATA_DIR)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command; its exit status. Whatever stops a command ends here, as one line on
    standard error naming the cause and the remedy (failures.py), never a traceback (that is logged
    at DEBUG)."""
    command = "booking-service"
    try:
        settings = Settings.from_env()
        args = parser(settings).parse_args(argv)
        command = args.command
        return _command(args, settings)
    except (Exception, KeyboardInterrupt) as error:
        status, line = failures.explain(error, command)
        logging.getLogger("booking_service").debug("%s failed", command, exc_info=True)
        print(f"booking-service: {line}", file=sys.stderr)
        return status


def _command(args: argparse.Namespace, settings: Settings) -> int:
    if getattr(args, "data_dir", None) is not None:
        settings = dataclasses.replace(settings, data_dir=args.data_dir)
    if args.command == "serve":
        settings = dataclasses.replace(
            settings,
            grpc_port=args.grpc_port,
            http_port=args.http_port,
            sandbox_port=args.sandbox_port,
            bind_host=args.host,
        )
    logs.configure(settings.log_level, settings.log_format)
    if args.command == "health":
        healthy, line = health_probe.check(settings)
        print(line)
        return 0 if healthy else 1
    if args.command == "events" and (args.rabbitmq_url or (settings.rabbitmq and not args.bootstrap_servers)):
        if args.from_beginning:
            rabbitmq_tail.refuse_from_beginning()
        return rabbitmq_tail.tail(
            settings,
            url=args.rabbitmq_url or settings.rabbitmq_url or "",
            source="from --rabbitmq-url" if args.rabbitmq_url else "from RABBITMQ_URL",
            max_messages=args.max_messages,
            idle_timeout=args.idle_timeout,
            timeout=args.timeout,
        )
    if args.command == "events":
        return events.tail(
            settings,
            bootstrap_servers=args.bootstrap_servers,
            from_beginning=args.from_beginning,
            max_messages=args.max_messages,
            idle_timeout=args.idle_timeout,
            timeout=args.timeout,
        )
    if args.command == "sandbox":
        _run(run_sandbox(args.host, args.port))
        return 0
    if args.command == "sagas":
        return _run(sagas.run(settings, args))
    if args.command == "reconcile":
        return _run(reconcile.run(settings, args))
    if args.command == "serve" and args.workers > 1 and not args.worker:
        return _run(workers.supervise(settings, args.workers, dev=args.dev))
    if args.command == "serve":
        _run(serve.serve(settings, worker=args.worker, dev=args.dev))
    else:
        _run(serve.migrate(settings))
    return 0


def _port(text: str) -> int:
    """argparse's type for a port number (0: any free port)."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return port


def _as_setting(setting: str, read: Callable[[Any, str], T]) -> Callable[[str], T]:
    """argparse's type for a flag that stands for `setting`: read by the setting's own rule
    (config._Reader), refused in the setting's own words."""

    def convert(text: str) -> T:
        try:
            return read_as(setting, text, read)
        except ConfigError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return convert


def _seconds(maximum: float | None = None) -> Callable[[str], float]:
    """argparse's type for a number of seconds: finite, more than 0, and at most `maximum`."""
    bound = "" if maximum is None else f" and at most {maximum:g}"

    def seconds(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0 and (maximum is None or value <= maximum)):
            raise argparse.ArgumentTypeError(f"must be more than 0{bound} seconds, not {text!r}")
        return value

    return seconds


def _count(text: str) -> int:
    """argparse's type for a number of things to wait for: a whole number, 1 or more."""
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number, 1 or more, not {text!r}")
    return count


def _run(job: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(job)
    return uvloop.run(job)


if __name__ == "__main__":
    sys.exit(main())
