"""A small in-process cache of a peer's answers: stale-while-revalidate, one call per key at a
time, bounded in size. The slot search keeps the inventory's answers in one
(service_layer/search_inventory.py).

For each key:

- an answer younger than `fresh_for` is used as it is;
- an answer older than that but younger than `max_age` is used too, and starts one refresh in the
  background (none when one is already running for the key), so a busy key's callers almost
  never wait for the peer;
- an answer past `max_age` is never used: the caller waits for a new call;
- callers that need the same missing key while its call runs share that call (one peer call),
  each waiting on it shielded: a caller cancelled (its request failed or timed out) does not cancel
  the call the others wait on; the answer is kept when it comes;
- a failed call (any exception) is never kept: its waiters get the exception, the next caller
  asks again; a failed refresh leaves the answer it was refreshing until its `max_age`;
- an answer's age counts from when its call started (it is at least that old);
- at most `size` answers are kept, the least recently used dropped first;
- `forget(group, meets)` drops the answers of a group (`group_of(key)`) that `meets` selects, and
  keeps nothing from the calls for them still running (their waiters still get what they answer):
  for a caller that knows the peer's answers changed (the slot search's, when this process changes
  a hold at a venue).

Every call runs in a context of its own, outside the request that happened to start it: no
deadline but the peer's own timeout, no request id. So a caller with a short deadline never fails
the others waiting on its call (each waits no longer than its own deadline: a cancelled wait leaves
the call running), and a refresh in the background outlives the request that started it.

Why our own code (the project prefers a library): `cashews`' `early` decorator does the
stale-while-revalidate part but not the cold miss (its documentation: "not good at cold cache":
concurrent misses each call), its `locked` waits by polling the backend, and its
`thunder_protection` shares a task unshielded, so one cancelled caller cancels the call every
other caller waits on (checked with cashews 7.6.0); it keys by strings built from templates and
reads the wall clock, so its ages cannot be tested without sleeping. `async-lru` coalesces and
expires but has no stale-while-revalidate: every `max_age` a busy key's callers would all wait.
The whole rule is this one module, tested with a fake clock (tests/unit/test_answer_cache.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lookup(StrEnum):
    """How a caller's answer was had (the metric's `outcome` label)."""

    FRESH = "fresh"  # used as it was
    STALE = "stale"  # used, and a refresh runs in the background
    MISS = "miss"  # none usable: this caller started the call and waited for it
    SHARED = "shared"  # none usable: this caller waited on a call already running


@dataclass(frozen=True, slots=True)
class _Answer(Generic[V]):
    value: V
    asked_at: float


class AnswerCache(Generic[K, V]):
    def __init__(
        self,
        max_age: float,
        *,
        fresh_for: float | None = None,
        size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        observe: Callable[[Lookup], None] = lambda _: None,
        group_of: Callable[[K], Hashable] = lambda _: None,
    ) -> None:
        """`max_age` seconds (positive); `fresh_for` defaults to half of it; `group_of`: the group
        of a key, for `forget`."""
        if max_age <= 0 or size < 1:
            raise ValueError("an answer cache needs a positive max_age and size")
        self.max_age = max_age
        self.fresh_for = max_age / 2 if fresh_for is None else fresh_for
        self.size = size
        self._clock = clock
        self._observe = observe
        self._answers: OrderedDict[K, _Answer[V]] = OrderedDict()
        self._calls: dict[K, asyncio.Task[V]] = {}
        self._group_of = group_of
        #: The keys kept or being asked, by group (for forget: a group's keys, not every key).
        self._groups: dict[Hashable, set[K]] = {}

    def __len__(self) -> int:
        return len(self._answers)

    async def get(self, key: K, call: Callable[[], Awaitable[V]]) -> V:
        """The answer for `key`: kept, or what `call()` answers (see the module's rules)."""
        answer = self._usable(key, call)
        if answer is not None:
            return answer.value
        running = self._calls.get(key)
        self._observe(Lookup.MISS if running is None else Lookup.SHARED)
        task = running or self._start(key, call)
        return await asyncio.shield(task)

    def kept(self, key: K, call: Callable[[], Awaitable[V]]) -> V | None:
        """The answer kept for `key` if one may be used (refreshed in the background by `call`
        when stale), else None: without a task or a wait, for callers that look many keys up and
        only ask for those missing (with `get`). A None value cannot be told from none kept."""
        answer = self._usable(key, call)
        return None if answer is None else answer.value

    def _usable(self, key: K, call: Callable[[], Awaitable[V]]) -> _Answer[V] | None:
        answer = self._answers.get(key)
        if answer is None:
            return None
        age = self._clock() - answer.asked_at
        if age >= self.max_age:
            self._drop(key)
            return None
        self._answers.move_to_end(key)
        if age < self.fresh_for:
            self._observe(Lookup.FRESH)
        else:
            self._observe(Lookup.STALE)
            if key not in self._calls:
                self._start(key, call)
        return answer

    async def aclose(self) -> None:
        """Cancels the calls still running (at shutdown) and forgets every answer."""
        tasks = list(self._calls.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._answers.clear()
        self._groups.clear()

    def forget(self, group: Hashable, meets: Callable[[K], bool]) -> int:
        """Drops the group's answers whose key `meets` selects, and keeps nothing that the calls
        running for such keys answer; returns how many keys it forgot."""
        keys = [key for key in self._groups.get(group, ()) if meets(key)]
        for key in keys:
            self._calls.pop(key, None)  # _done keeps only what a registered call answers
            self._drop(key)
        return len(keys)

    def _drop(self, key: K) -> None:
        self._answers.pop(key, None)
        if key in self._calls:
            return  # still being asked: its group keeps it until the call ends
        group = self._group_of(key)
        members = self._groups.get(group)
        if members is not None:
            members.discard(key)
            if not members:
                del self._groups[group]

    def _start(self, key: K, call: Callable[[], Awaitable[V]]) -> asyncio.Task[V]:
        asked_at = self._clock()

        async def run() -> V:
            return await call()

        # Outside the request that started it (the module's docstring), whether or not it waits.
        task = asyncio.get_running_loop().create_task(run(), context=contextvars.Context())
        self._calls[key] = task
        self._groups.setdefault(self._group_of(key), set()).add(key)
        task.add_done_callback(lambda done: self._done(key, done, asked_at))
        return task

    def _done(self, key: K, task: asyncio.Task[V], asked_at: float) -> None:
        registered = self._calls.get(key) is task  # not, once forgotten
        if registered:
            del self._calls[key]
        failed = task.cancelled() or task.exception() is not None  # retrieved: never logged as lost
        if failed or not registered:
            if key not in self._answers:
                self._drop(key)
            return
        self._answers[key] = _Answer(task.result(), asked_at)
        self._answers.move_to_end(key)
        self._groups.setdefault(self._group_of(key), set()).add(key)
        while len(self._answers) > self.size:
            oldest, _ = self._answers.popitem(last=False)
            self._drop(oldest)
