"""The world the invariant test runs in: one sandbox peer process (inventory, pricing and payments on
one port), two `booking-service serve` processes on one database and one broker, their gRPC stubs,
SIGKILL and restart, and the sandbox's admin API (faults, fail-next, decline-next, state).

Every wait here polls with a bound and fails with the process's log when the bound passes."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
from booking.v1 import booking_pb2_grpc

from tests.e2e.test_command_line import BIN, environment, free_port

READY_SECONDS = 60.0
STOP_SECONDS = 30.0

#: Quick clocks, so that sagas are recovered and PENDING bookings expire within the run.
SERVICE_SETTINGS = {
    "SAGA_LEASE_SECONDS": "3",
    "RECOVERY_INTERVAL_SECONDS": "1",
    "PENDING_TIMEOUT_SECONDS": "6",
    "SWEEP_INTERVAL_SECONDS": "2",
    "PEER_TIMEOUT_SECONDS": "1",
    "PEER_RETRIES": "1",
    "PEER_OPEN_SECONDS": "1",
    "DB_POOL_SIZE": "6",
    "DB_LOCK_TIMEOUT_SECONDS": "3",
    "SHUTDOWN_GRACE_SECONDS": "2",
    "LOG_LEVEL": "INFO",
}
#: How long a "timeout" fault hangs: longer than PEER_TIMEOUT_SECONDS, so the caller gives up.
HANG_SECONDS = 1.5
#: Quick reconnects after a restart (gRPC's default backoff grows to two minutes).
CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
]


@dataclass
class ServiceProcess:
    index: int
    grpc_port: int
    http_port: int
    log: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    channel: grpc.aio.Channel | None = None
    stub: Any = None
    starts: int = 0
    kills: int = 0
    restarting: bool = False

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def spawn(self) -> None:
        self.starts += 1
        command = [
            str(BIN / "booking-service"),
            "serve",
            "--host",
            "127.0.0.1",
            "--grpc-port",
            str(self.grpc_port),
            "--http-port",
            str(self.http_port),
        ]
        with self.log.open("ab") as sink:
            sink.write(f"\n===== start {self.starts} =====\n".encode())
            sink.flush()
            self.process = subprocess.Popen(command, env=self.env, stdout=sink, stderr=sink)

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_SECONDS
        async with httpx.AsyncClient(timeout=1) as client:
            while time.monotonic() < deadline:
                if not self.alive:
                    raise AssertionError(f"service {self.index} exited:\n{_tail(self.log)}")
                try:
                    if (await client.get(f"http://127.0.0.1:{self.http_port}/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise AssertionError(f"service {self.index} not ready in {READY_SECONDS} s:\n{_tail(self.log)}")

    def kill(self) -> None:
        assert self.process is not None
        self.kills += 1
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=STOP_SECONDS)

    def stop(self) -> None:
        if not self.alive:
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_SECONDS)


@dataclass
class Cluster:
    sandbox_url: str
    sandbox: subprocess.Popen[bytes]
    services: list[ServiceProcess]
    admin: httpx.AsyncClient
    restarts: set[asyncio.Task[None]] = field(default_factory=set)

    # --- processes -------------------------------------------------------------------------------

    def killable(self) -> list[int]:
        """Services up and serving (not between a kill and their restart)."""
        return [s.index for s in self.services if s.alive and not s.restarting]

    def kill_then_restart(self, index: int, after_seconds: float) -> None:
        """SIGKILLs one service now and starts it again after a pause (in the background)."""
        service = self.services[index]
        service.restarting = True
        service.kill()
        task = asyncio.create_task(self._restart(service, after_seconds), name=f"restart-{index}")
        self.restarts.add(task)
        task.add_done_callback(self.restarts.discard)

    async def _restart(self, service: ServiceProcess, after_seconds: float) -> None:
        await asyncio.sleep(after_seconds)
        service.spawn()
        await service.wait_ready()
        service.restarting = False

    async def revive_all(self) -> None:
        """Waits for pending restarts, then starts any service that is dead (whatever killed it)."""
        if self.restarts:
            await asyncio.gather(*self.restarts)
        for service in self.services:
            if not service.alive:
                service.spawn()
                await service.wait_ready()

    # --- the sandbox's admin API -----------------------------------------------------------------

    async def post(self, path: str, body: dict[str, Any]) -> None:
        (await self.admin.post(path, json=body)).raise_for_status()

    async def clear_faults(self) -> None:
        await self.post("/admin/reset", {})  # faults and pending fail-next
        await self.post("/admin/decline-next", {"count": 0})
        await self.post("/admin/faults", {"hang_seconds": HANG_SECONDS})

    async def state(self) -> dict[str, Any]:
        response = await self.admin.get("/admin/state")
        response.raise_for_status()
        state: dict[str, Any] = response.json()
        return state

    async def close(self) -> None:
        for task in list(self.restarts):
            task.cancel()
        await asyncio.gather(*self.restarts, return_exceptions=True)
        for service in self.services:
            if service.channel is not None:
                await service.channel.close()
            service.stop()
        await self.admin.aclose()
        if self.sandbox.poll() is None:
            self.sandbox.send_signal(signal.SIGTERM)
            try:
                self.sandbox.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.sandbox.kill()
                self.sandbox.wait(timeout=STOP_SECONDS)


async def start_cluster(tmp_path: Path, database_url: str, bootstrap_servers: str) -> Cluster:
    """The sandbox, then two services on `database_url` (migrated already) pointing at it."""
    sandbox_port = free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    sandbox_log = tmp_path / "sandbox.log"
    sandbox = _spawn_sandbox(sandbox_port, sandbox_log)
    admin = httpx.AsyncClient(base_url=sandbox_url, timeout=10)
    cluster = Cluster(sandbox_url, sandbox, [], admin)
    try:
        await _wait_sandbox(cluster, sandbox_log)
        await cluster.clear_faults()
        for index in range(2):
            env = environment(
                DATABASE_URL=database_url,
                INVENTORY_SERVICE_URL=sandbox_url,
                PRICING_SERVICE_URL=sandbox_url,
                PAYMENT_SERVICE_URL=sandbox_url,
                KAFKA_BOOTSTRAP_SERVERS=bootstrap_servers,
                BOOKING_DATA_DIR=str(tmp_path / f"data-{index}"),
                **SERVICE_SETTINGS,
            )
            service = ServiceProcess(index, free_port(), free_port(), tmp_path / f"serve-{index}.log", env)
            cluster.services.append(service)
            service.spawn()
        for service in cluster.services:
            await service.wait_ready()
            service.channel = grpc.aio.insecure_channel(
                f"127.0.0.1:{service.grpc_port}", options=CHANNEL_OPTIONS
            )
            service.stub = booking_pb2_grpc.BookingServiceStub(service.channel)  # type: ignore[no-untyped-call]
    except BaseException:
        await cluster.close()
        raise
    return cluster


def _spawn_sandbox(port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(
            [str(BIN / "booking-service"), "sandbox", "--host", "127.0.0.1", "--port", str(port)],
            env=environment(),
            stdout=sink,
            stderr=sink,
        )


async def _wait_sandbox(cluster: Cluster, log: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if cluster.sandbox.poll() is not None:
            raise AssertionError(f"the sandbox exited:\n{_tail(log)}")
        try:
            if (await cluster.admin.get("/admin/state")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError(f"the sandbox did not answer in {READY_SECONDS} s:\n{_tail(log)}")


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"
