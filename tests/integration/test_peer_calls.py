"""PeerHttp's rules against a scripted peer on loopback: which answers are retried, the circuit
breaker (one logical call counts once; its half-open trial is always given back) and the caller's
deadline (no attempt or pause that cannot end before it)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from booking_service.adapters.peers.breaker import CircuitBreaker
from booking_service.adapters.peers.clients import PaymentsClient
from booking_service.adapters.peers.http import PeerAnswer, PeerHttp
from booking_service.domain.errors import PeerRejected, PeerUnavailable
from booking_service.domain.values import Money
from booking_service.request_context import deadline_var
from tests.integration.scripted_peer import Scripted, answer, scripted


class Clock:
    """A monotonic clock the test moves (the breaker's open interval without waiting)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def replying(*statuses: int, then: int = 200):
    """A peer answering the given statuses in turn (over any connections), then `then` forever."""
    queue = list(statuses)

    async def script(peer: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await peer.read_request(reader)
            status = queue.pop(0) if queue else then
            writer.write(answer(status, b'{"error": {"code": "c%d", "message": "m"}}' % status))
            await writer.drain()

    return script


def always(body: bytes):
    """A peer answering every request 200 with `body`."""

    async def script(peer: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await peer.read_request(reader)
            writer.write(answer(200, body))
            await writer.drain()

    return script


async def hanging(peer: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await peer.read_request(reader)
    await reader.read()  # never answers


@pytest.fixture
def deadline() -> Iterator[Callable[[float], None]]:
    """Sets request_context's deadline (as the interceptor does) to `seconds` from now."""
    token = deadline_var.set(None)
    yield lambda seconds: deadline_var.set(time.monotonic() + seconds) and None
    deadline_var.reset(token)


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
async def test_transient_statuses_are_retried(status: int) -> None:
    async with scripted(replying(status, status)) as server:
        peer = PeerHttp("pricing", server.url, retries=2)
        assert await peer.call("POST", "/x", {}) == {"error": {"code": "c200", "message": "m"}}
        await peer.aclose()
    assert len(server.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409, 410, 422, 301])
async def test_other_statuses_are_permanent_answers_never_retried(status: int) -> None:
    async with scripted(replying(status)) as server:
        peer = PeerHttp("pricing", server.url, retries=2)
        with pytest.raises(PeerAnswer) as answered:
            await peer.call("POST", "/x", {})
        await peer.aclose()
    assert (answered.value.status, answered.value.code, len(server.requests)) == (status, f"c{status}", 1)
    assert peer.breaker.state == "closed"  # the peer is up: an answer is not a failure


async def test_one_failed_call_counts_once_however_many_attempts() -> None:
    async with scripted(replying(then=503)) as server:
        peer = PeerHttp("inventory", server.url, retries=2, breaker=CircuitBreaker(failures_to_open=2))
        with pytest.raises(PeerUnavailable):
            await peer.call("POST", "/api/v1/inventory/reserve", {}, key="k")
        assert (len(server.requests), peer.breaker.state) == (3, "closed")  # three attempts, one failure
        with pytest.raises(PeerUnavailable):
            await peer.call("POST", "/api/v1/inventory/reserve", {}, key="k")
        assert (len(server.requests), peer.breaker.state) == (6, "open")
        with pytest.raises(PeerUnavailable) as refused:
            await peer.call("POST", "/api/v1/inventory/reserve", {}, key="k")
        await peer.aclose()
    assert refused.value.metadata.get("circuit") == "open"
    assert len(server.requests) == 6  # failed fast


async def test_a_cancelled_trial_gives_the_trial_back() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures_to_open=1, open_seconds=5, clock=clock)
    async with scripted(replying(503)) as failing, scripted(hanging) as slow, scripted(replying()) as ok:
        first = PeerHttp("payments", failing.url, retries=0, breaker=breaker)
        with pytest.raises(PeerUnavailable):
            await first.call("POST", "/x", {})
        assert breaker.state == "open"
        clock.now += 5
        trial = PeerHttp("payments", slow.url, retries=0, breaker=breaker)
        task = asyncio.create_task(trial.call("POST", "/x", {}))
        await slow.arrived.wait()  # the trial is out, waiting for its answer
        task.cancel()  # the caller's deadline, a client gone, a shutdown
        with pytest.raises(asyncio.CancelledError):
            await task
        assert breaker.state == "half_open"
        after = PeerHttp("payments", ok.url, retries=0, breaker=breaker)
        assert await after.call("POST", "/x", {}) == {"error": {"code": "c200", "message": "m"}}
        assert breaker.state == "closed"
        for peer in (first, trial, after):
            await peer.aclose()


async def test_a_trial_that_raises_something_unexpected_gives_the_trial_back() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures_to_open=1, open_seconds=5, clock=clock)
    broken = True

    def handler(request: httpx.Request) -> httpx.Response:
        if broken:
            raise RuntimeError("a bug below PeerHttp")
        return httpx.Response(200, json={"ok": True})

    async with scripted(replying(503)) as failing:
        first = PeerHttp("payments", failing.url, retries=0, breaker=breaker)
        with pytest.raises(PeerUnavailable):
            await first.call("POST", "/x", {})
        await first.aclose()
    clock.now += 5
    peer = PeerHttp(
        "payments", "http://payments.invalid", breaker=breaker, transport=httpx.MockTransport(handler)
    )
    with pytest.raises(RuntimeError):
        await peer.call("POST", "/x", {})
    broken = False
    assert await peer.call("POST", "/x", {}) == {"ok": True}
    assert breaker.state == "closed"


async def test_no_attempt_starts_once_the_deadline_has_passed(deadline: Callable[[float], None]) -> None:
    async with scripted(replying()) as server:
        peer = PeerHttp("pricing", server.url, retries=2)
        deadline(-0.001)
        with pytest.raises(PeerUnavailable, match="deadline"):
            await peer.call("POST", "/x", {})
        await peer.aclose()
    assert server.requests == []


async def test_attempts_and_pauses_stay_within_the_deadline(deadline: Callable[[float], None]) -> None:
    """A peer that never answers, a timeout of 5 s a try and three tries, but 0.3 s left: one attempt,
    cut at the deadline, and no retry (nothing could finish after it)."""
    async with scripted(hanging) as server:
        peer = PeerHttp("pricing", server.url, timeout=5.0, retries=2)
        deadline(0.3)
        with pytest.raises(PeerUnavailable, match="Timeout"):
            await peer.call("POST", "/x", {})
        await peer.aclose()
    assert len(server.requests) == 1


async def test_ids_in_a_peer_path_are_percent_encoded() -> None:
    intent = b'{"intent_id": "x", "status": "requires_capture", "amount_minor": 1, "currency": "EUR"}'
    async with scripted(always(intent)) as server:
        client = PaymentsClient(PeerHttp("payments", server.url, retries=0))
        await client.get("a/../b?c=1#d %é")
        await client.confirm("k", "../refunds")
        for unusable in ("", ".", ".."):
            with pytest.raises(PeerRejected):
                await client.get(unusable)
        await client.http.aclose()
    lines = [head.split(b"\r\n", 1)[0] for head, _ in server.requests]
    assert lines == [
        b"GET /api/v1/payments/intents/a%2F..%2Fb%3Fc=1%23d%20%25%C3%A9 HTTP/1.1",  # (= needs no escape)
        b"POST /api/v1/payments/intents/..%2Frefunds/confirm HTTP/1.1",
    ]


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", b"{}", b'{"intent_id": "x", "status": "succeeded", "amount_minor": "many"}']
)
async def test_a_malformed_answer_is_the_peers_error_not_a_crash(body: bytes) -> None:
    """Found: a 2xx whose body lacked a field became a KeyError, so an INTERNAL error of ours after a
    change had committed. Every client reads answers through one rule: malformed is PeerRejected."""
    async with scripted(always(body)) as server:
        client = PaymentsClient(PeerHttp("payments", server.url, retries=0))
        calls = (
            lambda: client.get("x"),
            lambda: client.refund("k", "x", Money(100, "EUR"), "r", {}),
            lambda: client.intents("b"),
        )
        for call in calls:
            with pytest.raises(PeerRejected, match="malformed"):
                await call()
        await client.http.aclose()


def slow(seconds: float):
    """A peer answering every request 200, `seconds` after it arrives."""

    async def script(peer: Scripted, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await peer.read_request(reader)
            await asyncio.sleep(seconds)
            writer.write(answer(200, b'{"ok": true}'))
            await writer.drain()

    return script


async def test_a_call_that_runs_out_of_the_callers_deadline_does_not_open_the_circuit(
    deadline: Callable[[float], None],
) -> None:
    """A healthy peer answering in 0.3 s, a peer timeout of 2 s, a breaker that opens on the first
    failure: calls with 0.1 s left (cut short by the deadline, not by the peer) and a call with no
    time left at all fail PeerUnavailable, and the circuit stays closed for the next caller."""
    breaker = CircuitBreaker(failures_to_open=1)
    async with scripted(slow(0.3)) as server:
        peer = PeerHttp("inventory", server.url, timeout=2.0, retries=2, breaker=breaker)
        for _ in range(3):
            deadline(0.1)
            with pytest.raises(PeerUnavailable, match="Timeout"):
                await peer.call("POST", "/x", {})
        deadline(-0.001)
        with pytest.raises(PeerUnavailable, match="deadline"):
            await peer.call("POST", "/x", {})
        assert breaker.state == "closed"
        deadline(5.0)
        assert await peer.call("POST", "/x", {}) == {"ok": True}
        await peer.aclose()


async def test_a_peer_slower_than_its_own_timeout_opens_the_circuit(
    deadline: Callable[[float], None],
) -> None:
    """The same peer with a peer timeout of 0.1 s, and time enough left: the peer failed the call."""
    breaker = CircuitBreaker(failures_to_open=1)
    async with scripted(slow(0.3)) as server:
        peer = PeerHttp("inventory", server.url, timeout=0.1, retries=0, breaker=breaker)
        deadline(5.0)
        with pytest.raises(PeerUnavailable, match="Timeout"):
            await peer.call("POST", "/x", {})
        await peer.aclose()
    assert breaker.state == "open"
