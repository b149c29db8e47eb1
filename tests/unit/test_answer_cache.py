"""The answer cache's rules (service_layer/answer_cache.py) on a fake clock: fresh answers used as
they are, stale ones used while one background refresh runs, expired ones never used, concurrent
misses sharing one call, a cancelled caller not cancelling the call others wait on, failures never
kept (a failed refresh keeps the old answer until its max age), the size bound, shutdown."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from booking_service.service_layer.answer_cache import AnswerCache, Lookup


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Peer:
    """Answers `value` after an event is set (or at once); counts its calls; fails on demand."""

    def __init__(self) -> None:
        self.calls = 0
        self.value = 1
        self.fail: Exception | None = None
        self.gate: asyncio.Event | None = None

    async def __call__(self) -> int:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return self.value


def cache(clock: Clock, seen: list[Lookup] | None = None, size: int = 100) -> AnswerCache[str, int]:
    return AnswerCache(10.0, size=size, clock=clock, observe=(seen if seen is not None else []).append)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_fresh_then_stale_with_one_refresh_then_expired() -> None:
    clock, peer, seen = Clock(), Peer(), []
    answers = cache(clock, seen)
    assert await answers.get("k", peer) == 1
    peer.value = 2
    clock.now += 4.9  # fresh: used as it is
    assert await answers.get("k", peer) == 1
    assert peer.calls == 1
    clock.now += 0.2  # 5.1 s old: stale, used, refreshed once however many ask
    peer.gate = asyncio.Event()
    assert [await answers.get("k", peer) for _ in range(3)] == [1, 1, 1]
    await settle()
    assert peer.calls == 2
    peer.gate.set()
    await settle()
    assert await answers.get("k", peer) == 2  # the refresh's answer, fresh
    assert peer.calls == 2
    assert seen == [Lookup.MISS, Lookup.FRESH, Lookup.STALE, Lookup.STALE, Lookup.STALE, Lookup.FRESH]
    clock.now += 10.0  # past the max age: never used, the caller waits for a new answer
    peer.value = 3
    peer.gate = None
    assert await answers.get("k", peer) == 3
    assert peer.calls == 3


async def test_the_age_counts_from_when_the_call_started() -> None:
    clock, peer = Clock(), Peer()
    answers = cache(clock)
    peer.gate = asyncio.Event()
    first = asyncio.create_task(answers.get("k", peer))
    await settle()
    clock.now += 9.0  # the call took 9 s: its answer is 9 s old when it comes
    peer.gate.set()
    assert await first == 1
    clock.now += 1.0
    peer.value, peer.gate = 2, None
    assert await answers.get("k", peer) == 2
    assert peer.calls == 2


async def test_concurrent_misses_share_one_call() -> None:
    clock, peer, seen = Clock(), Peer(), []
    answers = cache(clock, seen)
    peer.gate = asyncio.Event()
    waiting = [asyncio.create_task(answers.get("k", peer)) for _ in range(8)]
    other = asyncio.create_task(answers.get("other", peer))
    await settle()
    peer.gate.set()
    assert await asyncio.gather(*waiting, other) == [1] * 9
    assert peer.calls == 2  # one per key
    assert seen.count(Lookup.MISS) == 2
    assert seen.count(Lookup.SHARED) == 7


async def test_a_cancelled_caller_does_not_cancel_the_call_others_wait_on() -> None:
    clock, peer = Clock(), Peer()
    answers = cache(clock)
    peer.gate = asyncio.Event()
    first = asyncio.create_task(answers.get("k", peer))
    await settle()
    second = asyncio.create_task(answers.get("k", peer))
    await settle()
    first.cancel()
    await settle()
    peer.gate.set()
    assert await second == 1
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await answers.get("k", peer) == 1  # kept, although its starter went away
    assert peer.calls == 1


async def test_a_failure_is_never_kept() -> None:
    clock, peer = Clock(), Peer()
    answers = cache(clock)
    peer.gate, peer.fail = asyncio.Event(), ConnectionError("down")
    waiting = [asyncio.create_task(answers.get("k", peer)) for _ in range(3)]
    await settle()
    peer.gate.set()
    for task in waiting:
        with pytest.raises(ConnectionError):
            await task
    assert peer.calls == 1
    assert len(answers) == 0
    peer.fail, peer.gate = None, None
    assert await answers.get("k", peer) == 1  # asked again
    assert peer.calls == 2


async def test_a_failed_refresh_keeps_the_old_answer_until_its_max_age() -> None:
    clock, peer = Clock(), Peer()
    answers = cache(clock)
    assert await answers.get("k", peer) == 1
    clock.now += 6.0
    peer.fail = ConnectionError("down")
    assert await answers.get("k", peer) == 1  # stale, the refresh fails in the background
    await settle()
    assert peer.calls == 2
    clock.now += 1.0
    assert await answers.get("k", peer) == 1  # still kept; another refresh tried
    await settle()
    assert peer.calls == 3
    clock.now += 3.0  # 10 s old: no longer used, the failure reaches the caller
    with pytest.raises(ConnectionError):
        await answers.get("k", peer)


async def test_every_call_runs_outside_the_request_that_started_it() -> None:
    clock = Clock()
    answers = cache(clock)
    request: contextvars.ContextVar[str] = contextvars.ContextVar("request", default="")
    seen: list[str] = []

    async def call() -> int:
        seen.append(request.get())
        return 1

    request.set("search-1")
    await answers.get("k", call)
    clock.now += 6.0
    request.set("search-2")
    await answers.get("k", call)
    await settle()
    assert seen == ["", ""]  # a caller's deadline and request id stay its own


async def test_the_least_recently_used_answer_goes_first() -> None:
    clock, peer = Clock(), Peer()
    answers = cache(clock, size=2)
    for key in ("a", "b"):
        await answers.get(key, peer)
    await answers.get("a", peer)  # used: "b" is now the oldest
    await answers.get("c", peer)
    assert len(answers) == 2
    assert peer.calls == 3
    await answers.get("a", peer)
    assert peer.calls == 3
    await answers.get("b", peer)
    assert peer.calls == 4


async def test_closing_cancels_the_calls_still_running() -> None:
    clock, peer = Clock(), Peer()
    answers = cache(clock)
    peer.gate = asyncio.Event()
    waiting = asyncio.create_task(answers.get("k", peer))
    await settle()
    await answers.aclose()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert len(answers) == 0


def test_a_cache_needs_a_positive_age_and_size() -> None:
    with pytest.raises(ValueError, match="positive max_age and size"):
        AnswerCache[str, int](0)
    with pytest.raises(ValueError, match="positive max_age and size"):
        AnswerCache[str, int](1, size=0)


async def test_kept_answers_are_looked_up_without_waiting() -> None:
    """`kept`: the answer if usable (a stale one starting its refresh), else None and no call."""
    clock, peer, seen = Clock(), Peer(), []
    answers = cache(clock, seen)
    assert answers.kept("k", peer) is None
    assert peer.calls == 0
    await answers.get("k", peer)
    assert answers.kept("k", peer) == 1
    clock.now += 6.0
    peer.value = 2
    assert answers.kept("k", peer) == 1
    await settle()
    assert peer.calls == 2
    assert answers.kept("k", peer) == 2
    clock.now += 10.0
    assert answers.kept("k", peer) is None
    assert seen == [Lookup.MISS, Lookup.FRESH, Lookup.STALE, Lookup.FRESH]


async def test_forgetting_drops_a_groups_answers_and_keeps_nothing_a_running_call_answers() -> None:
    """`forget` drops the selected answers of one group only; a call running for a forgotten key
    still answers its caller, but its answer is not kept (it may predate what was forgotten)."""
    clock, peer = Clock(), Peer()
    answers: AnswerCache[tuple[str, int], int] = AnswerCache(10.0, clock=clock, group_of=lambda key: key[0])
    for key in (("a", 1), ("a", 2), ("b", 1)):
        await answers.get(key, peer)
    assert peer.calls == 3
    assert answers.forget("a", lambda key: key[1] == 1) == 1
    await answers.get(("a", 2), peer)
    await answers.get(("b", 1), peer)
    assert peer.calls == 3  # kept: another key of the group, and another group
    peer.gate = asyncio.Event()
    running = asyncio.create_task(answers.get(("a", 1), peer))
    await settle()
    assert answers.forget("a", lambda key: True) == 2  # ("a", 1) being asked, ("a", 2) kept
    peer.gate.set()
    assert await running == 1
    assert len(answers) == 1  # ("b", 1): the forgotten call's answer was not kept
    await answers.get(("a", 1), peer)
    assert peer.calls == 5
