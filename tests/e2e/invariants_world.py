"""Reading the world after the run: waiting until it settles, taking one consistent snapshot of the
database and the sandbox, and the failure report (the seed, each violation, the operations of the
bookings involved)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from typing import Any

import asyncpg

from tests.e2e.invariants_checks import Violation, World, created_by
from tests.e2e.invariants_cluster import Cluster
from tests.e2e.invariants_ops import OpRecord

#: The recovery worker pauses up to 60 s between attempts at a saga whose peer kept failing
#: (sagas/recovery.py), so a saga that failed during the faults may wait that long once they clear.
SETTLE_SECONDS = 75.0
SNAPSHOT_ATTEMPTS = 20
SHOWN_PER_CHECK = 6

_FINGERPRINT = """
SELECT (SELECT coalesce(max(id), 0) FROM booking_status_history),
       (SELECT coalesce(sum(version), 0) FROM bookings),
       (SELECT count(*) FROM booking_sagas),
       (SELECT max(updated_at) FROM booking_sagas),
       (SELECT coalesce(max(id), 0) FROM booking_outbox)
"""


async def settle(database_url: str) -> list[Violation]:
    """Waits (bounded) until no saga is running and no PENDING booking is overdue; what is still
    open after SETTLE_SECONDS is a violation of its own."""
    conn = await asyncpg.connect(database_url)
    try:
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            sagas = await conn.fetch(
                "SELECT booking_id::text, kind, step, attempts, error, lease_until FROM booking_sagas "
                "WHERE status = 'running' ORDER BY created_at"
            )
            overdue = await conn.fetch(
                "SELECT booking_id::text, expire_time FROM bookings "
                "WHERE status = 'PENDING' AND expire_time < now()"
            )
            if not sagas and not overdue:
                return []
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
    found = [
        Violation(
            "0 settle",
            (s["booking_id"],),
            f"{s['kind']} saga still running at step {s['step']} after {s['attempts']} attempts "
            f"(lease until {s['lease_until']:%H:%M:%S}): {s['error'][:200]}",
        )
        for s in sagas
    ]
    found += [
        Violation("0 settle", (o["booking_id"],), f"PENDING, overdue since {o['expire_time']:%H:%M:%S}")
        for o in overdue
    ]
    return found


async def snapshot(database_url: str, cluster: Cluster) -> World:
    """The database and the sandbox as of one moment: the database did not change while the
    sandbox was read (every peer call of the service happens inside a saga or a transition)."""
    conn = await asyncpg.connect(database_url)
    try:
        for _ in range(SNAPSHOT_ATTEMPTS):
            before = await conn.fetchrow(_FINGERPRINT)
            state = await cluster.state()
            rows = {
                "bookings": await conn.fetch("SELECT * FROM bookings"),
                "history": await conn.fetch("SELECT * FROM booking_status_history ORDER BY version, id"),
                "outbox": await conn.fetch(
                    "SELECT id, booking_id, booking_version, event_type FROM booking_outbox ORDER BY id"
                ),
                "sagas": await conn.fetch("SELECT * FROM booking_sagas ORDER BY created_at"),
            }
            if before == await conn.fetchrow(_FINGERPRINT):
                return _world(rows, state)
            await asyncio.sleep(0.5)
    finally:
        await conn.close()
    raise AssertionError(f"the database kept changing over {SNAPSHOT_ATTEMPTS} snapshots")


def _world(rows: dict[str, list[asyncpg.Record]], state: dict[str, Any]) -> World:
    def plain(record: asyncpg.Record) -> dict[str, Any]:
        row = dict(record)
        for name in ("booking_id", "saga_id", "event_id"):
            if row.get(name) is not None:
                row[name] = str(row[name])
        for name in ("data", "refunds", "attention"):
            if isinstance(row.get(name), str):
                row[name] = json.loads(row[name])
        return row

    history: dict[str, list[dict[str, Any]]] = defaultdict(list)
    outbox: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for h in map(plain, rows["history"]):
        history[h["booking_id"]].append(h)
    for e in map(plain, rows["outbox"]):
        outbox[e["booking_id"]].append(e)
    refunds: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for refund in state["refunds"]:
        refunds[refund["intent_id"]].append(refund)
    return World(
        bookings={b["booking_id"]: b for b in map(plain, rows["bookings"])},
        history=dict(history),
        outbox=dict(outbox),
        sagas=[plain(s) for s in rows["sagas"]],
        holds={h["reservation_id"]: h for h in state["holds"]},
        intents={i["intent_id"]: i for i in state["intents"]},
        refunds=dict(refunds),
    )


def attribute_creates(world: World, log: list[OpRecord]) -> None:
    """Gives each create that got no answer the booking id its saga used (for the report)."""
    by_key = created_by(world)
    for op in log:
        if op.kind == "create" and not op.booking_id and by_key.get(op.key):
            op.booking_id = ",".join(by_key[op.key])


def report(seed: int, violations: list[Violation], log: list[OpRecord], world: World | None) -> str:
    counts = Counter(v.check for v in violations)
    lines = [
        f"INVARIANTS VIOLATED with seed {seed} (replay: pytest tests/e2e/test_invariants.py "
        f"--invariant-seed {seed}; or INVARIANT_SEED={seed})",
        "violations per check: " + ", ".join(f"{check}: {n}" for check, n in sorted(counts.items())),
    ]
    by_booking: dict[str, list[OpRecord]] = defaultdict(list)
    for op in log:
        for booking_id in op.booking_id.split(","):
            by_booking[booking_id].append(op)
    for check in sorted(counts):
        shown = [v for v in violations if v.check == check][:SHOWN_PER_CHECK]
        lines.append(f"\n=== {check}: {counts[check]} violation(s), the first {len(shown)}:")
        for violation in shown:
            lines.append(f"- {violation.message}")
            for booking_id in violation.booking_ids:
                lines.append(f"  booking {booking_id}:")
                lines += [f"    op {op.line()}" for op in by_booking.get(booking_id, [])]
                if world is not None:
                    lines += [
                        f"    history v{h['version']} {h['from_status']} -> {h['to_status']} "
                        f"by {h['actor']} {list(h['changed_fields'])} {h['reason'][:60]!r}"
                        for h in world.history.get(booking_id, [])
                    ]
    return "\n".join(lines)
