"""`booking-service serve --workers N`: N processes on the same ports, connections spread across
them, one database and broker, a dead worker started again, and SIGTERM stopping them all."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_command_line import BIN, environment, free_port

pytestmark = pytest.mark.slow


def workers_command(grpc_port: int, http_port: int, *options: str) -> list[str]:
    """`booking-service serve --workers 2` on loopback and the given ports, with `options`."""
    return [
        str(BIN / "booking-service"),
        "serve",
        "--workers",
        "2",
        "--host",
        "127.0.0.1",
        "--grpc-port",
        str(grpc_port),
        "--http-port",
        str(http_port),
        *options,
    ]


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def wait_ready(url: str, process: subprocess.Popen[str], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"not ready:\n{log.read_text()}")


def test_workers_share_the_ports_and_stop_together(tmp_path: Path, database_url: str) -> None:
    grpc_port, http_port, log = free_port(), free_port(), tmp_path / "serve.log"
    with log.open("w") as sink:
        supervisor = subprocess.Popen(
            workers_command(grpc_port, http_port, "--dev"),
            env=environment(DATABASE_URL=database_url, BOOKING_DATA_DIR=str(tmp_path / "data")),
            stdout=sink,
            stderr=sink,
            text=True,
        )
    try:
        base = f"http://127.0.0.1:{http_port}"
        wait_ready(f"{base}/readyz", supervisor, log)
        deadline = time.monotonic() + 30
        while len(workers := children(supervisor.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(workers) == 2
        for _ in range(40):  # a new connection each time: the kernel picks a worker for each
            with httpx.Client(base_url=base) as client:
                assert client.get("/api/v1/bookings/00000000-0000-4000-8000-000000000000").status_code == 404
        pids = {entry["pid"] for entry in _log(log) if entry.get("message") == "rpc"}
        assert pids == set(workers), "both workers answered calls"

        victim = workers[0]
        subprocess.run(["kill", "-9", str(victim)], check=True)
        deadline = time.monotonic() + 30
        while (
            victim in children(supervisor.pid) or len(children(supervisor.pid)) < 2
        ) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert victim not in children(supervisor.pid)
        assert len(children(supervisor.pid)) == 2, "the dead worker was started again"
        while _count(log, "booking-service serving") < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _count(log, "booking-service serving") == 3
    finally:
        survivors = children(supervisor.pid)
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=60) == 0, log.read_text()
    assert not any(Path(f"/proc/{pid}").exists() for pid in survivors), "no worker outlives the supervisor"
    messages = [entry.get("message") for entry in _log(log)]
    assert messages.count("booking-service stopped") >= 2
    assert "workers stopped" in messages


def _count(path: Path, message: str) -> int:
    return sum(entry.get("message") == message for entry in _log(path))


def _log(path: Path) -> list[dict]:
    entries = []
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries
