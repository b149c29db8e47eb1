"""`serve` with EVENTS_BROKER=rabbitmq and `events tail` on RabbitMQ, as a user runs them: real
processes and the machine's RabbitMQ server, on an exchange of the test's own."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika
import pytest
from aio_pika.exceptions import ChannelNotFoundEntity

from tests.e2e.rabbitmq_support import rabbitmq_url
from tests.e2e.test_command_line import BIN, booking_request, environment, free_port, grpcurl, serve

pytestmark = pytest.mark.slow


@pytest.fixture
def exchange() -> Iterator[str]:
    name = f"booking.events.test-{uuid.uuid4().hex[:10]}"
    yield name
    asyncio.run(_delete_exchange(name))


async def _delete_exchange(name: str) -> None:
    connection = await aio_pika.connect(rabbitmq_url())
    async with connection:
        channel = await connection.channel()
        await channel.exchange_delete(name)


async def _exchange_exists(name: str) -> bool:
    connection = await aio_pika.connect(rabbitmq_url())
    async with connection:
        channel = await connection.channel()
        try:
            await channel.get_exchange(name, ensure=True)
        except ChannelNotFoundEntity:
            return False
        return True


@contextmanager
def tail(log: Path, *args: str, **env: str) -> Iterator[subprocess.Popen[str]]:
    """`events tail` running, its standard error going to `log`."""
    with log.open("w") as sink:
        process = subprocess.Popen(
            [str(BIN / "booking-service"), "events", "tail", *args],
            env=environment(**env),
            stdout=subprocess.PIPE,
            stderr=sink,
            text=True,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        assert process.stdout is not None
        process.stdout.close()


def wait_for(log: Path, text: str, process: subprocess.Popen[str], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while text not in log.read_text():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"no {text!r} in:\n{log.read_text()}"
        time.sleep(0.1)


def run_tail(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "booking-service"), "events", "tail", *args],
        env=environment(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_serve_publishes_to_rabbitmq_and_events_tail_reads_it(
    tmp_path: Path, exchange: str, database_url: str
) -> None:
    url = rabbitmq_url()
    broker = {"EVENTS_BROKER": "rabbitmq", "RABBITMQ_URL": url, "BOOKING_EVENTS_TOPIC": exchange}
    port = free_port()
    database = {"DATABASE_URL": database_url}
    with serve(tmp_path / "data", port, tmp_path / "serve.log", dev=True, **broker, **database) as service:
        assert asyncio.run(_exchange_exists(exchange))  # declared as the relay starts
        line = next(json.loads(x) for x in service.log.splitlines() if "booking-service serving" in x)
        assert line["dependencies"]["events broker"] == "real"
        with tail(tmp_path / "tail.log", "--max-messages", "1", "--timeout", "10", **broker) as reader:
            wait_for(tmp_path / "tail.log", "reading the events exchange", reader)
            start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
            request = booking_request(start)  # its own key and unit: the test database is shared
            request.update(idempotency_key=f"rabbit-{uuid.uuid4()}", unit_id=f"room-{uuid.uuid4().hex[:8]}")
            created = grpcurl(port, "booking.v1.BookingService/CreateBooking", data=request)
            assert created.returncode == 0, created.stderr
            booking_id = json.loads(created.stdout)["booking_id"]
            out, _ = reader.communicate(timeout=30)
            assert reader.returncode == 0, (tmp_path / "tail.log").read_text()
    [printed] = [json.loads(x) for x in out.splitlines()]
    assert printed["routing_key"] == "booking.created"
    assert printed["key"] == booking_id
    assert printed["content_type"] == "application/protobuf"
    assert printed["message_id"] == printed["event"]["event_id"] == printed["headers"]["cloudEvents_id"]
    assert printed["headers"]["cloudEvents_type"] == "booking.created"
    assert printed["event"]["booking_id"] == booking_id


def test_events_tail_on_rabbitmq_without_the_exchange_names_it(exchange: str) -> None:
    result = run_tail("--rabbitmq-url", rabbitmq_url(), BOOKING_EVENTS_TOPIC=exchange)
    assert result.returncode == 1
    assert f"has no exchange {exchange}: check BOOKING_EVENTS_TOPIC" in result.stderr
    assert "Traceback" not in result.stderr


def test_events_tail_on_rabbitmq_gives_up_where_nothing_answers() -> None:
    port = free_port()
    result = run_tail(
        "--timeout", "1", EVENTS_BROKER="rabbitmq", RABBITMQ_URL=f"amqp://guest:secret@127.0.0.1:{port}/"
    )
    assert result.returncode == 1
    assert f"no RabbitMQ broker answered at 127.0.0.1:{port}/ within 1 s (from RABBITMQ_URL" in result.stderr
    assert "secret" not in result.stderr


def test_events_tail_on_rabbitmq_refuses_from_beginning() -> None:
    result = run_tail("--from-beginning", "--rabbitmq-url", "amqp://127.0.0.1:5672/")
    assert result.returncode != 0
    assert "RabbitMQ keeps none for a new queue" in result.stderr


def run_serve(data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`serve --dev` as it fails at start (a serve that starts is stopped by the timeout: a failure);
    give it DATABASE_URL, so that no embedded PostgreSQL starts in a pytest directory (another pytest
    session may close those to other users, the embedded server's included)."""
    command = [
        str(BIN / "booking-service"),
        "serve",
        "--dev",
        "--data-dir",
        str(data_dir),
        "--host",
        "127.0.0.1",
    ]
    ports = ["--grpc-port", str(free_port()), "--http-port", str(free_port())]
    return subprocess.run(
        [*command, *ports], env=environment(**env), capture_output=True, text=True, timeout=90, check=False
    )


def test_serve_refuses_rabbitmq_credentials_the_broker_refuses(
    tmp_path: Path, exchange: str, database_url: str
) -> None:
    parts = urlsplit(rabbitmq_url())
    wrong = parts._replace(netloc=f"guest:not-the-password@{parts.hostname}:{parts.port or 5672}").geturl()
    result = run_serve(
        tmp_path / "data",
        EVENTS_BROKER="rabbitmq",
        RABBITMQ_URL=wrong,
        BOOKING_EVENTS_TOPIC=exchange,
        DATABASE_URL=database_url,
    )
    assert result.returncode == 2, result.stderr
    [line] = [x for x in result.stderr.splitlines() if x.startswith("booking-service: ")]
    assert "refused the login" in line
    assert "check RABBITMQ_URL (user, password, vhost)" in line
    assert "not-the-password" not in result.stderr


def test_serve_refuses_an_exchange_that_is_no_durable_topic_exchange(tmp_path: Path, exchange: str) -> None:
    asyncio.run(_declare(exchange, aio_pika.ExchangeType.FANOUT))
    result = run_serve(
        tmp_path / "data",
        EVENTS_BROKER="rabbitmq",
        RABBITMQ_URL=rabbitmq_url(),
        BOOKING_EVENTS_TOPIC=exchange,
    )
    assert result.returncode == 2, result.stderr
    assert f"has an exchange {exchange} that is not a durable topic exchange" in result.stderr


async def _declare(name: str, kind: aio_pika.ExchangeType) -> None:
    connection = await aio_pika.connect(rabbitmq_url())
    async with connection:
        channel = await connection.channel()
        await channel.declare_exchange(name, kind, durable=False)
