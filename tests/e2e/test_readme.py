"""README's console sessions run as written, in order, against a fresh service (issue 16), so that
an example can no longer rot: see tests/e2e/readme_session.py for how README is read and compared."""

from __future__ import annotations

import functools
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.readme_session import (
    BashSession,
    Ids,
    blocks,
    is_the_service_itself,
    port_map,
    problems,
    session_environment,
    with_ports,
)
from tests.e2e.test_command_line import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def start_service(home: Path, grpc: int, http: int, sandbox: int, log: Path) -> subprocess.Popen[bytes]:
    """README's first command's service, on the session's ports, with a HOME of its own (so that
    README's `~/.local/share/booking-service` is this run's data directory)."""
    command = [
        ".venv/bin/booking-service",
        "serve",
        "--grpc-port",
        str(grpc),
        "--http-port",
        str(http),
        "--sandbox-port",
        str(sandbox),
    ]
    with log.open("w") as sink:
        process = subprocess.Popen(
            command, cwd=home, env=session_environment(home), stdout=sink, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{http}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"serve did not become ready:\n{log.read_text()}")


def test_every_console_session_in_readme_runs_as_written(tmp_path: Path) -> None:
    # The HOME (and so the embedded PostgreSQL's data) outside pytest's base temporary directory,
    # which another pytest session tightens to 0700 (conftest.server_url).
    home = Path(tempfile.mkdtemp(prefix="booking-service-readme-"))
    request_cleanup = functools.partial(shutil.rmtree, home, ignore_errors=True)
    (home / ".venv").symlink_to(Path(sys.prefix))
    grpc, http, sandbox = free_port(), free_port(), free_port()
    ports = port_map(grpc, http, sandbox)
    service = start_service(home, grpc, http, sandbox, tmp_path / "serve.log")
    bash = BashSession(home, session_environment(home))
    ids = Ids()
    found: list[str] = []
    ran = 0
    try:
        for block in blocks((ROOT / "README.md").read_text()):
            if block.skip is not None:
                continue
            for step in block.steps:
                if is_the_service_itself(step):
                    continue
                command = ids.apply(with_ports(step.command, ports))
                status, output = bash.run(command)
                ran += 1
                ids.learn(step.expected, output)
                expected = [ids.apply(with_ports(line, ports)) for line in step.expected]
                missing = list(problems(step, expected, output))
                if not step.expected and not step.comment and status != 0:
                    missing.append(f"exit status {status}")
                if missing:
                    found.append(
                        f"README.md:{step.line}: $ {step.command}\n  lacks: {missing}\n  printed:\n"
                        + "\n".join(f"    {line}" for line in output.splitlines()[:40])
                    )
    finally:
        bash.close()
        service.send_signal(signal.SIGTERM)
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()
        request_cleanup()
    assert ran >= 20, f"only {ran} commands were run: is README's format still what this test reads?"
    assert not found, f"{len(found)} of {ran} README commands differ from README:\n\n" + "\n\n".join(found)
