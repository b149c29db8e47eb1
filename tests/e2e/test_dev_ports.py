"""The in-process sandbox peers listen where README says (SANDBOX_PORT, `--sandbox-port`; the seed's
8003 by default), and the start line says where their admin API is: with one `serve`, and with
`serve --workers N`, whose supervisor owns them."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_command_line import BIN, environment, free_port, serve, start_line
from tests.e2e.test_workers import wait_ready, workers_command

pytestmark = pytest.mark.slow


def test_serve_puts_the_sandbox_on_its_port_and_names_its_admin_api(
    tmp_path: Path, database_url: str
) -> None:
    sandbox_port, log = free_port(), tmp_path / "serve.log"
    env = {"SANDBOX_PORT": str(sandbox_port), "DATABASE_URL": database_url}
    with serve(tmp_path / "data", free_port(), log, dev=True, **env) as service:
        admin = f"http://127.0.0.1:{sandbox_port}/admin/state"
        assert start_line(service)["sandbox_admin"] == admin
        [sandbox_line] = [line for line in _log(service.log_path) if "SANDBOX PEERS" in line["message"]]
        assert f"Their admin API: {admin}" in sandbox_line["message"]  # a line a person reads
        assert httpx.get(admin).json()["holds"] == []
        assert (tmp_path / "data" / "sandbox.url").read_text() == f"http://127.0.0.1:{sandbox_port}"


def test_a_sandbox_of_its_own_serves_a_serve_dev_given_the_peer_urls(
    tmp_path: Path, database_url: str
) -> None:
    """`booking-service sandbox` in one terminal, `serve --dev` with the three URLs in another."""
    sandbox_port = free_port()
    with (tmp_path / "sandbox.log").open("w") as sink:
        sandbox = subprocess.Popen(
            [str(BIN / "booking-service"), "sandbox", "--host", "127.0.0.1", "--port", str(sandbox_port)],
            env=environment(),
            stdout=sink,
            stderr=sink,
            text=True,
        )
    try:
        url = f"http://127.0.0.1:{sandbox_port}"
        wait_ready(f"{url}/admin/state", sandbox, tmp_path / "sandbox.log")
        peers = {f"{peer}_SERVICE_URL": url for peer in ("INVENTORY", "PRICING", "PAYMENT")}
        log = tmp_path / "serve.log"
        with serve(
            tmp_path / "data", free_port(), log, dev=True, DATABASE_URL=database_url, **peers
        ) as service:
            banner = start_line(service)
            assert "sandbox_admin" not in banner
            assert banner["dependencies"]["payment service"] == "real"
            assert not (tmp_path / "data" / "sandbox.url").exists()
    finally:
        sandbox.send_signal(signal.SIGTERM)
        sandbox.wait(timeout=30)


def test_workers_with_nothing_configured_share_one_sandbox_on_its_port(tmp_path: Path) -> None:
    """Everything embedded: the workers are given the supervisor's addresses, not refused as a
    half-configured production service."""
    grpc_port, http_port, sandbox_port, log = free_port(), free_port(), free_port(), tmp_path / "serve.log"
    # The embedded PostgreSQL's data outside pytest's base temporary directory (conftest.server_url).
    data_dir = Path(tempfile.mkdtemp(prefix="booking-service-test-workers-"))
    command = workers_command(
        grpc_port, http_port, "--sandbox-port", str(sandbox_port), "--data-dir", str(data_dir)
    )
    env = {k: v for k, v in environment().items() if k != "PAGE_TOKEN_SECRET"}  # nothing configured
    with log.open("w") as sink:
        supervisor = subprocess.Popen(command, env=env, stdout=sink, stderr=sink, text=True)
    try:
        wait_ready(f"http://127.0.0.1:{http_port}/readyz", supervisor, log)
        [started] = [line for line in _log(log) if line["message"] == "workers started"]
        admin = f"http://127.0.0.1:{sandbox_port}/admin/state"
        assert started["sandbox_admin"] == admin
        assert httpx.get(admin).status_code == 200
    finally:
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=60) == 0, log.read_text()
        shutil.rmtree(data_dir, ignore_errors=True)


def _log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]
