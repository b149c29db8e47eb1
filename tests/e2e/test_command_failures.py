"""Every way a `booking-service` command fails that a person can cause, run as they run it: a real
process, which ends with one line naming the cause and the remedy, a non-zero exit status, and no
traceback (entrypoints/failures.py writes the lines)."""

from __future__ import annotations

import fcntl
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from confluent_kafka import Producer
from sqlalchemy.engine import make_url

from booking_service.adapters.kafka.embedded_broker import EmbeddedKafka
from tests.e2e.test_command_line import BIN, environment, free_port

pytestmark = pytest.mark.slow


def run(*args: str, timeout: float = 90, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "booking-service"), *args],
        env=environment(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def failure(result: subprocess.CompletedProcess[str], status: int = 1) -> str:
    """The one line the command ended with, once it is checked: the exit status, the only line that
    is not a log record, and no traceback anywhere."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    lines = [line for line in result.stderr.splitlines() if not line.startswith("{")]  # JSON logs
    assert len(lines) == 1, output
    assert lines[0].startswith("booking-service"), output
    assert result.returncode == status, output
    return lines[0]


@contextmanager
def taken_port() -> Iterator[int]:
    """A port some other program listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


@contextmanager
def data_dir_held(data_dir: Path, pid: int, command: str) -> Iterator[None]:
    """The data directory locked as a running `booking-service <command>` (pid) locks it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "serve.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        lock.write(f"{pid} {command}")
        lock.flush()
        yield


def serve(database_url: str, data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`serve --dev` on loopback on the tests' database (an embedded PostgreSQL in pytest's temporary
    directory could lose it to another pytest session: conftest.server_url), everything else
    embedded, on free ports unless `args` name others, with its own data directory (the default
    one may be held by a service the developer runs: that refusal would come first)."""
    ports = ["--grpc-port", str(free_port()), "--http-port", str(free_port()), "--sandbox-port", "0"]
    where = ["--data-dir", str(data_dir)]
    return run(
        "serve", "--dev", "--host", "127.0.0.1", *ports, *where, *args, DATABASE_URL=database_url, **env
    )


@pytest.mark.parametrize(
    ("flag", "variable"),
    [("--grpc-port", "GRPC_PORT"), ("--http-port", "HTTP_PORT"), ("--sandbox-port", "SANDBOX_PORT")],
)
def test_serve_on_a_busy_port_names_it_and_the_flag_that_moves_it(
    database_url: str, tmp_path: Path, flag: str, variable: str
) -> None:
    with taken_port() as port:
        line = failure(serve(database_url, tmp_path / "data", flag, str(port)))
    assert f"127.0.0.1:{port}: the port is in use" in line
    assert f"{flag} ({variable}" in line
    if flag == "--sandbox-port":  # or use the sandbox that may be running there
        assert f"SERVICE_URL to http://localhost:{port}" in line


def test_serve_workers_on_a_busy_port_fail_before_starting_anything(tmp_path: Path) -> None:
    with taken_port() as port:
        result = run(
            "serve",
            "--workers",
            "2",
            "--host",
            "127.0.0.1",
            "--http-port",
            str(port),
            "--grpc-port",
            str(free_port()),
            "--data-dir",
            str(tmp_path / "data"),
        )
    line = failure(result)
    assert line.startswith(f"booking-service: cannot listen for REST on 127.0.0.1:{port}: the port is in use")
    assert not (tmp_path / "data").exists(), "nothing was started"


def test_the_sandbox_on_a_busy_port_names_its_flag() -> None:
    with taken_port() as port:
        line = failure(run("sandbox", "--host", "127.0.0.1", "--port", str(port)))
    assert f"cannot listen for the sandbox peers on 127.0.0.1:{port}: the port is in use" in line
    assert "--port (SANDBOX_PORT)" in line


def test_serve_on_an_address_of_another_machine_says_to_check_the_host(
    database_url: str, tmp_path: Path
) -> None:
    line = failure(serve(database_url, tmp_path / "data", "--host", "192.0.2.1", AUTH_ALLOW_OPEN="true"))
    assert "on 192.0.2.1:" in line
    assert "the address is not one of this machine's: check --host (BIND_HOST)" in line


def test_a_second_serve_on_a_data_dir_in_use_names_the_first_and_the_way_out(tmp_path: Path) -> None:
    with data_dir_held(tmp_path / "data", 4242, "serve"):
        line = failure(
            run("serve", "--grpc-port", "0", "--http-port", "0", "--data-dir", str(tmp_path / "data"))
        )
    assert "another booking-service serve (pid 4242) is already running on data directory" in line
    assert "kill -TERM 4242" in line
    assert "--data-dir (BOOKING_DATA_DIR)" in line


def test_a_serve_with_a_database_and_embedded_parts_owns_its_data_dir(
    tmp_path: Path, database_url: str
) -> None:
    """Its embedded broker's and sandbox's addresses are published in the data directory for the
    operator commands: a second serve there would overwrite them, and remove them when it stops."""
    with data_dir_held(tmp_path / "data", 4242, "serve"):
        line = failure(
            run(
                "serve",
                "--dev",
                "--grpc-port",
                "0",
                "--http-port",
                "0",
                "--sandbox-port",
                "0",
                "--data-dir",
                str(tmp_path / "data"),
                DATABASE_URL=database_url,
            )
        )
    assert "another booking-service serve (pid 4242) is already running on data directory" in line


def test_migrate_while_serve_holds_the_data_dir_says_what_to_do_instead(tmp_path: Path) -> None:
    with data_dir_held(tmp_path / "data", 4242, "serve"):
        line = failure(run("migrate", "--data-dir", str(tmp_path / "data")))
    assert "migrate cannot run while booking-service serve (pid 4242) holds the embedded database" in line
    assert "applies its migrations itself when it starts" in line
    assert "stop it (kill -TERM 4242) and run migrate again" in line


def test_a_data_dir_that_cannot_be_made_says_so(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    line = failure(run("migrate", "--data-dir", str(tmp_path / "a-file" / "data")))
    assert f"cannot use data directory {tmp_path / 'a-file' / 'data'}" in line
    assert "pass --data-dir (BOOKING_DATA_DIR)" in line


@pytest.mark.parametrize(
    "command", [["serve", "--dev", "--grpc-port", "0", "--http-port", "0"], ["migrate"], ["sagas", "list"]]
)
def test_a_database_that_refuses_the_connection_is_named(tmp_path: Path, command: list[str]) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql://postgres@127.0.0.1:{port}/bookings"
    line = failure(run(*command, "--data-dir", str(tmp_path / "data"), DATABASE_URL=url))
    assert f"cannot reach the database at 127.0.0.1:{port}/bookings: connection refused" in line
    assert "check DATABASE_URL" in line


def test_a_database_that_does_not_let_the_role_in_says_why(database_url: str) -> None:
    url = make_url(database_url).set(username="no_such_role").render_as_string(hide_password=False)
    line = failure(run("migrate", DATABASE_URL=url))
    assert 'role "no_such_role" does not exist' in line
    assert "check DATABASE_URL (host, port, user, password, database name)" in line


@pytest.mark.parametrize(
    "command",
    [["serve"], ["migrate"], ["sandbox"], ["events", "tail"], ["sagas", "list"], ["reconcile"], ["health"]],
)
def test_a_bad_setting_stops_every_command_with_its_name(command: list[str]) -> None:
    line = failure(run(*command, GRPC_PORT="not-a-port"), status=2)
    assert line == "booking-service: GRPC_PORT must be a whole number, not 'not-a-port'"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"PAYMENT_SERVICE_URL": "notaurl"},
            "booking-service: PAYMENT_SERVICE_URL must be an http:// or https:// URL with a host, such as "
            "http://payment:8003, not 'notaurl'",
        ),
        (
            {"INVENTORY_SERVICE_URL": "ftp://x"},
            "booking-service: INVENTORY_SERVICE_URL must be an http:// or https:// URL with a host, such as "
            "http://inventory:8003, not 'ftp://x'",
        ),
        (
            {"LOG_LEVEL": "LOUD"},
            "booking-service: LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'LOUD'",
        ),
    ],
)
def test_serve_with_a_malformed_setting_is_one_line_naming_it(env: dict[str, str], expected: str) -> None:
    """Refused before anything starts, not a service whose every prepaid create fails (a peer URL)
    nor a bug report (a log level)."""
    line = failure(run("serve", "--dev", "--host", "127.0.0.1", **env), status=2)
    assert line == expected


def test_serve_workers_0_is_refused_as_workers_0_is() -> None:
    line = failure(run("serve", "--workers", "0"), status=2)
    assert line == (
        "booking-service serve: argument --workers: WORKERS must be between 1 and 64, not 0 "
        "(see `booking-service serve --help`)"
    )


def test_a_bad_argument_is_one_line_pointing_at_help() -> None:
    line = failure(run("serve", "--grpc-port", "70000"), status=2)
    assert line == (
        "booking-service serve: argument --grpc-port: '70000' is not a port number (0 to 65535) "
        "(see `booking-service serve --help`)"
    )


def test_reconcile_without_peers_to_ask_says_where_they_come_from(tmp_path: Path) -> None:
    line = failure(run("reconcile", "--data-dir", str(tmp_path / "data")), status=2)
    assert "no peers to ask: set INVENTORY_SERVICE_URL" in line


def test_health_with_the_service_stopped_is_one_line(tmp_path: Path) -> None:
    result = run("health", GRPC_PORT=str(free_port()))
    assert (result.returncode, result.stderr) == (1, ""), result.stderr
    assert "Traceback" not in result.stdout
    [line] = result.stdout.splitlines()
    assert "UNAVAILABLE" in line
    assert "is `booking-service serve` running" in line


def test_events_tail_with_no_service_running_says_where_the_address_would_be(tmp_path: Path) -> None:
    began = time.monotonic()
    line = failure(run("events", "tail", "--data-dir", str(tmp_path / "data")))
    assert time.monotonic() - began < 10, "it does not wait for a broker nobody named"
    assert "no broker to read" in line
    assert f"writes the broker's address to {tmp_path / 'data' / 'kafka.address'}" in line
    assert "--bootstrap-servers" in line


def test_events_tail_with_the_service_gone_gives_up_after_its_timeout(tmp_path: Path) -> None:
    """A serve that was killed leaves its broker's address behind: nothing answers there."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "kafka.address").write_text(f"127.0.0.1:{free_port()}")
    began = time.monotonic()
    line = failure(run("events", "tail", "--timeout", "1", "--data-dir", str(tmp_path / "data")))
    assert time.monotonic() - began < 8
    assert "within 1 s (the embedded broker's address, read from" in line
    assert "is the `booking-service serve` that wrote it still running?" in line


def test_events_tail_reads_a_broker_that_answers_and_stops_when_idle(tmp_path: Path) -> None:
    broker = EmbeddedKafka()
    try:
        broker.create_topic("booking.events", 1)
        result = run("events", "tail", "--bootstrap-servers", broker.bootstrap_servers, "--idle-timeout", "1")
    finally:
        broker.close()
    assert (result.returncode, result.stdout) == (0, ""), result.stderr
    assert "Traceback" not in result.stderr


def test_events_tail_on_a_broker_without_the_topic_names_it(tmp_path: Path) -> None:
    broker = EmbeddedKafka()
    try:
        result = run(
            "events", "tail", "--bootstrap-servers", broker.bootstrap_servers, BOOKING_EVENTS_TOPIC="nope"
        )
    finally:
        broker.close()
    line = failure(result)
    assert f"the broker at {broker.bootstrap_servers} has no topic nope: check BOOKING_EVENTS_TOPIC" in line


@contextmanager
def broker_process(topic: str = "booking.events") -> Iterator[tuple[subprocess.Popen[str], str]]:
    """An embedded broker in a process of its own (as serve's is), holding one event on `topic`:
    the process, and the broker's address."""
    host = (
        "import sys, time\n"
        "from booking_service.adapters.kafka.embedded_broker import EmbeddedKafka\n"
        "broker = EmbeddedKafka()\n"
        "broker.create_topic(sys.argv[1], 1)\n"
        "print(broker.bootstrap_servers, flush=True)\n"
        "time.sleep(300)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", host, topic], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        address = process.stdout.readline().strip()
        publish(address, topic)
        yield process, address
    finally:
        process.kill()
        process.wait()
        process.stdout.close()


def publish(address: str, topic: str) -> None:
    """An empty BookingEvent on `topic`, by a producer gone before the broker is."""
    producer = Producer({"bootstrap.servers": address})
    producer.produce(topic, key=b"a-booking", value=b"")
    assert producer.flush(10) == 0, "the event was not delivered"


def tail_until_the_first_event(*args: str) -> subprocess.Popen[str]:
    """`events tail --from-beginning`, once it has printed the event the broker holds."""
    tail = subprocess.Popen(
        [str(BIN / "booking-service"), "events", "tail", "--from-beginning", *args],
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert tail.stdout is not None
    first = tail.stdout.readline()
    assert '"key": "a-booking"' in first, tail.communicate(timeout=30)
    return tail


def finished(tail: subprocess.Popen[str], within: float) -> subprocess.CompletedProcess[str]:
    try:
        stdout, stderr = tail.communicate(timeout=within)
    except subprocess.TimeoutExpired:
        tail.kill()
        stdout, stderr = tail.communicate()
        raise AssertionError(f"still running {within} s on: {stderr[-2000:]}") from None
    return subprocess.CompletedProcess(tail.args, tail.returncode, stdout, stderr)


@pytest.mark.parametrize("source", ["embedded", "named"])
def test_events_tail_gives_up_when_its_broker_goes_away(tmp_path: Path, source: str) -> None:
    """The serve whose broker it reads stops (or the named broker does): after --timeout seconds
    without one, one line names the broker lost, quietly (none of librdkafka's complaints)."""
    data_dir = tmp_path / "data"
    with broker_process() as (broker, address):
        if source == "embedded":
            data_dir.mkdir()
            (data_dir / "kafka.address").write_text(address)
            where = ["--data-dir", str(data_dir)]
        else:
            where = ["--bootstrap-servers", address]
        tail = tail_until_the_first_event("--timeout", "2", *where)
        broker.kill()
        began = time.monotonic()
        result = finished(tail, within=30)
    line = failure(result)
    assert time.monotonic() - began < 8, "it gives up about --timeout seconds after the broker went"
    assert result.stderr.splitlines() == [line], "librdkafka's complaints are kept out"
    assert f"lost the Kafka broker at {address}: no answer for 2 s" in line
    if source == "embedded":
        assert "is the `booking-service serve` that wrote it still running?" in line
    else:
        assert "check that the broker runs" in line


def test_events_tail_gives_up_on_a_broker_that_stops_answering(tmp_path: Path) -> None:
    """A broker that hangs (its process stopped) refuses nothing: no answer for --timeout is enough."""
    with broker_process() as (broker, address):
        tail = tail_until_the_first_event("--timeout", "2", "--bootstrap-servers", address)
        broker.send_signal(signal.SIGSTOP)
        began = time.monotonic()
        result = finished(tail, within=30)
    line = failure(result)
    assert time.monotonic() - began < 10
    assert result.stderr.splitlines() == [line]
    assert f"lost the Kafka broker at {address}: no answer for 2 s" in line


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "1e9", "3601", "soon"])
def test_events_tail_refuses_a_timeout_that_is_no_time_to_wait(tmp_path: Path, value: str) -> None:
    began = time.monotonic()
    line = failure(run("events", "tail", "--timeout", value, "--data-dir", str(tmp_path / "data")), status=2)
    assert time.monotonic() - began < 10
    assert line == (
        "booking-service events tail: argument --timeout: must be more than 0 and at most 3600 "
        f"seconds, not {value!r} (see `booking-service events tail --help`)"
    )


@pytest.mark.parametrize(
    ("flag", "value", "wanted"),
    [
        ("--idle-timeout", "0", "must be more than 0 seconds"),
        ("--idle-timeout", "-5", "must be more than 0 seconds"),
        ("--idle-timeout", "nan", "must be more than 0 seconds"),
        ("--idle-timeout", "inf", "must be more than 0 seconds"),
        ("--max-messages", "0", "must be a whole number, 1 or more"),
        ("--max-messages", "-3", "must be a whole number, 1 or more"),
        ("--max-messages", "1.5", "must be a whole number, 1 or more"),
    ],
)
def test_events_tail_refuses_a_limit_it_could_never_reach(
    tmp_path: Path, flag: str, value: str, wanted: str
) -> None:
    line = failure(run("events", "tail", flag, value, "--data-dir", str(tmp_path / "data")), status=2)
    assert line == (
        f"booking-service events tail: argument {flag}: {wanted}, not {value!r} "
        "(see `booking-service events tail --help`)"
    )
