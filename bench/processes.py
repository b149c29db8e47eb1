"""The benchmark's processes: starting, pinning, watching and stopping them.

CPU affinity: with at least two cores, the load generator gets the last core and the systems it
loads (the service, the baseline, the echo server) every other core, so that the generator's CPU is
not taken from theirs. PostgreSQL, the sandbox peers, the broker (in bench/run.py's own process)
and pgbench stay unpinned: on a two-core machine they share both cores with the two pinned sides.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Pinning:
    """Which cores the loaded systems and the load generator run on (None: unpinned)."""

    def __init__(self, enabled: bool = True) -> None:
        cores = sorted(os.sched_getaffinity(0))
        self.service: list[int] | None = None
        self.load: list[int] | None = None
        if enabled and len(cores) >= 2:
            self.service, self.load = cores[:-1], cores[-1:]

    @staticmethod
    def pin(process: subprocess.Popen[Any], cores: list[int] | None) -> None:
        """Pins a child just started: Popen returns once it has exec'd, before the interpreter has
        started a thread, so every thread (and child process) it starts inherits the mask. (Not a
        preexec_fn: this process runs the broker's threads, and a fork with threads must not run
        Python code.)"""
        if cores is not None:
            os.sched_setaffinity(process.pid, cores)

    def describe(self) -> dict[str, Any]:
        return {
            "service_baseline_echo": self.service,
            "load_generator": self.load,
            "unpinned": "PostgreSQL, sandbox peers, broker, pgbench",
        }


class LoadGenerator:
    """bench/load.py in a process of its own, one JSON command and answer per line."""

    def __init__(self, cores: list[int] | None, pinning: Pinning) -> None:
        self._process = subprocess.Popen(
            [PYTHON, "-m", "bench.load"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        pinning.pin(self._process, cores)

    @property
    def pid(self) -> int:
        return self._process.pid

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.write(json.dumps(command) + "\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError("the load generator died")
        return dict(json.loads(line))

    def close(self) -> None:
        if self._process.stdin:
            self._process.stdin.close()
        self._process.wait(10)


def start(
    args: list[str], env: dict[str, str], log: Path, cores: list[int] | None, pinning: Pinning
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(args, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT)
    pinning.pin(process, cores)
    return process


def stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} not ready after {timeout} s")


def rss_kib(pid: int) -> int:
    """Resident size of a process and its children (the workers in --workers mode)."""
    total = 0
    for child in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def _children(pid: int) -> list[int]:
    try:
        found = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []
    return found + [c for child in found for c in _children(child)]


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its children so far."""
    ticks = 0
    for one in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK"), sum(values) / os.sysconf("SC_CLK_TCK")
