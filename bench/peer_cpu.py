"""Client CPU per peer request, by HTTP engine: N identical POSTs through PeerHttp, one at a time,
against the sandbox peers running in ANOTHER process (so that their CPU is not counted).

    python -m bench.peer_cpu --requests 3000 [--port 8013] [--url http://127.0.0.1:8013]

Without --url it starts `booking-service sandbox --port PORT` itself and stops it at the end. Prints,
for each engine, the client's CPU time per request in microseconds (time.process_time, this process
only), best of --rounds rounds, on uvloop as `serve` runs (--loop asyncio for the default loop). The
engines: "aiohttp" (httpx's API over aiohttp, httpx-aiohttp, the one the service uses), "httpcore"
(httpx's own default transport), and "handwritten" (the HTTP/1.1 client the service used before,
removed; measured when restored for the run with
`git show 834f662:booking_service/adapters/peers/transport.py > booking_service/adapters/peers/transport.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import httpx

from booking_service.adapters.peers.engine import peer_transport
from booking_service.adapters.peers.http import PeerHttp

#: A pricing estimate: a POST with a JSON body and a small JSON answer, like most peer calls.
PATH = "/api/v1/pricing/estimate"
BODY = {
    "venue_id": "bench-venue",
    "venue_type": "VENUE_TYPE_RESTAURANT",
    "unit_id": None,
    "start_time": "2030-01-03T18:00:00+00:00",
    "end_time": "2030-01-03T20:00:00+00:00",
    "party_size": 2,
    "time_zone": "UTC",
}


def engines() -> dict[str, Callable[[], httpx.AsyncBaseTransport]]:
    found: dict[str, Callable[[], httpx.AsyncBaseTransport]] = {
        "aiohttp": peer_transport,
        "httpcore": lambda: httpx.AsyncHTTPTransport(
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20)
        ),
    }
    with contextlib.suppress(ImportError):
        legacy = importlib.import_module("booking_service.adapters.peers.transport")
        found["handwritten"] = legacy.Http1Transport
    return found


async def measure(url: str, make: Callable[[], httpx.AsyncBaseTransport], requests: int) -> float:
    """CPU microseconds per request over `requests` calls (after a warm-up of 200)."""
    peer = PeerHttp("pricing", url, timeout=5.0, retries=0, transport=make())
    try:
        for _ in range(200):
            await peer.call("POST", PATH, BODY)
        started = time.process_time()
        for _ in range(requests):
            await peer.call("POST", PATH, BODY)
        return (time.process_time() - started) / requests * 1e6
    finally:
        await peer.aclose()


@contextlib.contextmanager
def sandbox(port: int) -> Iterator[str]:
    """`booking-service sandbox --port PORT` in a process of its own, until it answers."""
    command = [sys.executable, "-m", "booking_service", "sandbox", "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{url}/admin/state", timeout=1.0)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"the sandbox did not start on port {port}")
        yield url
    finally:
        process.terminate()
        process.wait(10)


async def run(url: str, requests: int, rounds: int) -> None:
    for name, make in engines().items():
        best = min([await measure(url, make, requests) for _ in range(rounds)])
        print(f"{name:<12} {best:8.1f} µs CPU per request (best of {rounds} x {requests})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=8013)
    parser.add_argument("--url", help="a sandbox already running elsewhere")
    parser.add_argument("--loop", choices=("uvloop", "asyncio"), default="uvloop", help="as `serve` runs")
    args = parser.parse_args()
    runner = asyncio.run
    if args.loop == "uvloop":
        import uvloop

        runner = uvloop.run
    if args.url:
        runner(run(args.url, args.requests, args.rounds))
        return
    with sandbox(args.port) as url:
        runner(run(url, args.requests, args.rounds))


if __name__ == "__main__":
    main()
