"""The invariants, checked against the database and the sandbox peers' state once the run settled.

Each check returns Violations (which invariant, which bookings, what is wrong); the test reports
them all with the seed and the operations log of the bookings involved. Every money rule is in
check_money, one function, so that a richer money record on the booking extends one place."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tests.e2e.invariants_ops import OpRecord

ACTIVE = frozenset({"PENDING", "CONFIRMED", "CHECKED_IN"})
KEEPS_MONEY = frozenset({"CONFIRMED", "CHECKED_IN", "COMPLETED", "NO_SHOW"})
GIVES_BACK = frozenset({"CANCELLED", "EXPIRED"})
FINAL = KEEPS_MONEY - {"CONFIRMED", "CHECKED_IN"} | GIVES_BACK

Row = dict[str, Any]


@dataclass(frozen=True)
class Violation:
    check: str
    booking_ids: tuple[str, ...]
    message: str


@dataclass
class World:
    """One consistent snapshot: the database's rows and the sandbox's state."""

    bookings: dict[str, Row]
    history: dict[str, list[Row]]  # by booking, in version (then id) order
    outbox: dict[str, list[Row]]  # by booking, in id order
    sagas: list[Row]
    holds: dict[str, Row]  # by reservation id
    intents: dict[str, Row]  # by intent id
    refunds: dict[str, list[Row]]  # by intent id


def check_internal(log: list[OpRecord]) -> list[Violation]:
    """11: nothing a caller does, nor any fault of a peer, is answered INTERNAL or UNKNOWN."""
    return [
        Violation("11 internal", (op.booking_id,) if op.booking_id else (), f"{op.line()}")
        for op in log
        if op.outcome in ("INTERNAL", "UNKNOWN")
    ]


def check_all(world: World, log: list[OpRecord]) -> list[Violation]:
    """Every invariant. A booking whose saga never settled ("0 settle") is checked like any other:
    what it left behind (a live hold, a refund claimed but not made) is part of the failure."""
    return [
        *check_holds(world),
        *check_payments(world),
        *check_history(world),
        *check_events(world),
        *check_definite_errors(world, log),
        *check_double_booking(world),
        *check_attention(world),
        *check_internal(log),
    ]


def check_attention(world: World) -> list[Violation]:
    """9: nothing needs an operator: every fault the run injects is transient, so every saga must
    finish by itself (one given up on is a saga that could not)."""
    found = [
        Violation("9 attention", (s["booking_id"],), f"{s['kind']} saga needs attention: {s['error']}")
        for s in world.sagas
        if s["status"] == "needs_attention"
    ]
    found += [
        Violation("9 attention", (b["booking_id"],), f"the booking needs attention: {b['attention']}")
        for b in world.bookings.values()
        if b.get("attention")
    ]
    return found


def check_holds(world: World) -> list[Violation]:
    """1: an active booking holds exactly its hold, live and matching; 2: no live hold without one."""
    found = []
    for b in world.bookings.values():
        hold_id = b["inventory_reservation_id"]
        if b["status"] not in ACTIVE or not hold_id:
            continue
        hold = world.holds.get(hold_id)
        expected = (
            b["booking_id"],
            b["venue_id"],
            b["unit_id"],
            b["start_time"],
            b["end_time"],
            b["party_size"],
        )
        if hold is None:
            found.append(
                Violation("1 hold", (b["booking_id"],), f"{b['status']} booking's hold {hold_id} is unknown")
            )
            continue
        actual = (
            hold["booking_id"],
            hold["venue_id"],
            hold["unit_id"],
            datetime.fromisoformat(hold["start_time"]),
            datetime.fromisoformat(hold["end_time"]),
            hold["party_size"],
        )
        if hold["status"] != "held" or actual != expected:
            found.append(
                Violation("1 hold", (b["booking_id"],), f"{b['status']} booking {expected} but hold {hold}")
            )
    for hold in world.holds.values():
        b = world.bookings.get(hold["booking_id"])
        if hold["status"] != "held":
            continue
        if b is None or b["status"] not in ACTIVE or b["inventory_reservation_id"] != hold["reservation_id"]:
            what = (
                "no stored booking"
                if b is None
                else f"booking {b['status']} holding {b['inventory_reservation_id']!r}"
            )
            found.append(Violation("2 orphan hold", (hold["booking_id"],), f"live hold {hold}: {what}"))
    return found


def check_payments(world: World) -> list[Violation]:
    """3: no intent open or captured without a stored booking that accounts for it; and, per booking
    with an intent, check_money."""
    found = []
    for intent in world.intents.values():
        b = world.bookings.get(intent["booking_id"])
        if b is not None and b["payment_intent_id"] == intent["intent_id"]:
            continue
        if intent["status"] != "canceled":
            what = "a never-stored booking" if b is None else f"booking {b['status']} whose intent is another"
            found.append(
                Violation("3 captured money", (intent["booking_id"],), f"intent of {what}: {intent}")
            )
    for b in world.bookings.values():
        if not b["payment_intent_id"]:
            continue
        intent = world.intents.get(b["payment_intent_id"])
        refunds = world.refunds.get(b["payment_intent_id"], [])
        for check, message in check_money(b, world.history.get(b["booking_id"], []), intent, refunds):
            found.append(Violation(check, (b["booking_id"],), message))
    return found


def check_money(
    booking: Row, history: list[Row], intent: Row | None, refunds: list[Row]
) -> list[tuple[str, str]]:
    """Every money rule for one booking with a payment intent: (invariant, problem) pairs.

    The booking's price is the intent's amount; a PENDING booking's intent is not captured; money is
    captured only for a booking that was confirmed (and then keeps it, or gave back what it owes); a
    finished booking leaves no intent open; what the booking says was refunded (`refunded` today) is
    what the payment service refunded; a captured CANCELLED booking got back what its frozen
    cancellation policy gives at its cancel time, an EXPIRED one everything, any other nothing."""
    status, intent_id = booking["status"], booking["payment_intent_id"]
    if intent is None:
        return [
            ("3 captured money", f"{status} booking's intent {intent_id} is unknown to the payment service")
        ]
    problems = []
    said = f"{status} booking, intent {intent['status']} of {intent['amount_minor']}"
    if (
        intent["booking_id"] != booking["booking_id"]
        or intent["amount_minor"] != booking["price_amount_minor"]
    ):
        problems.append(
            ("4 money", f"{said}: booking price {booking['price_amount_minor']}, intent {intent}")
        )
    captured = intent["status"] == "succeeded"
    if captured and status == "PENDING":
        problems.append(("3 captured money", f"{said}: captured while PENDING"))
    if captured and not any(h["to_status"] == "CONFIRMED" for h in history):
        problems.append(("3 captured money", f"{said}: captured, but the booking was never CONFIRMED"))
    if not captured and status in KEEPS_MONEY:
        problems.append(("4 money", f"{said}: kept as paid, but nothing was captured"))
    if status in FINAL and intent["status"] == "requires_confirmation":
        problems.append(("3 captured money", f"{said}: the intent of a finished booking is still open"))
    refunded = intent["refunded_minor"]
    if sum(r["amount_minor"] for r in refunds if r["status"] == "succeeded") != refunded:
        problems.append(("4 money", f"{said}: refunds {refunds} do not add up to {refunded}"))
    problems += _money_record(booking, intent, refunds, said)
    if captured:
        owed = _refund_owed(booking, intent["amount_minor"])
        if refunded != owed:
            problems.append(("4 money", f"{said}: {refunded} refunded, its policy gives {owed}"))
    return problems


_RECORDED_STATUS = {
    "requires_confirmation": "REQUIRES_CONFIRMATION",
    "succeeded": "CAPTURED",
    "canceled": "VOIDED",
}


def _money_record(booking: Row, intent: Row, refunds: list[Row], said: str) -> list[tuple[str, str]]:
    """The booking's money record says what the payment service did, and only that: the intent's
    state, the amount captured, each refund (by the payment service's id) and nothing in flight."""
    problems = []
    if booking["payment_status"] != _RECORDED_STATUS[intent["status"]]:
        problems.append(
            ("4 money", f"{said}: the booking records the payment as {booking['payment_status']}")
        )
    captured = intent["amount_minor"] if intent["status"] == "succeeded" else None
    if booking["captured_amount_minor"] != captured:
        problems.append(
            ("4 money", f"{said}: the booking records {booking['captured_amount_minor']} captured")
        )
    recorded = booking["refunds"] or []
    ours = {r["refund_id"]: r["amount_minor"] for r in recorded if r["status"] == "SUCCEEDED"}
    theirs = {r["refund_id"]: r["amount_minor"] for r in refunds if r["status"] == "succeeded"}
    if ours != theirs:
        problems.append(
            ("4 money", f"{said}: the booking records refunds {ours}, the payment service made {theirs}")
        )
    pending = [r for r in recorded if r["status"] != "SUCCEEDED"]
    if pending:
        problems.append(("4 money", f"{said}: refunds left {pending}"))
    return problems


def _refund_owed(booking: Row, captured: int) -> int:
    if booking["status"] == "EXPIRED":
        return captured
    if booking["status"] != "CANCELLED":
        return 0
    free_until, cancelled = booking["cancellation_free_until"], booking["cancel_time"]
    free = free_until is not None and cancelled is not None and cancelled <= free_until
    fee = 0 if free else (booking["price_amount_minor"] * booking["cancellation_fee_percent"] + 50) // 100
    return max(0, captured - fee)


def check_history(world: World) -> list[Violation]:
    """5: versions 1..version, one history row each."""
    found = []
    for b in world.bookings.values():
        versions = [h["version"] for h in world.history.get(b["booking_id"], [])]
        if versions != list(range(1, b["version"] + 1)):
            found.append(
                Violation("5 history", (b["booking_id"],), f"version {b['version']}, history {versions}")
            )
    return found


def check_events(world: World) -> list[Violation]:
    """6: each booking's outbox rows, in id order, never go back a version; every version has one."""
    found = []
    for b in world.bookings.values():
        versions = [e["booking_version"] for e in world.outbox.get(b["booking_id"], [])]
        if versions != sorted(versions):
            found.append(
                Violation("6 events", (b["booking_id"],), f"event versions out of order: {versions}")
            )
        missing = set(range(1, b["version"] + 1)) - set(versions)
        extra = {v for v in versions if v > b["version"]}
        if missing or extra:
            found.append(
                Violation(
                    "6 events",
                    (b["booking_id"],),
                    f"version {b['version']}: events {versions}, "
                    f"missing {sorted(missing)}, beyond the booking {sorted(extra)}",
                )
            )
    return found


def check_definite_errors(world: World, log: list[OpRecord]) -> list[Violation]:
    """7: a caller told a definite error had nothing done: no history row is its actor's, and a
    create so told left no booking, no live hold and no intent that is not canceled."""
    found = []
    rows_by_actor: dict[str, list[Row]] = defaultdict(list)
    for rows in world.history.values():
        for h in rows:
            rows_by_actor[h["actor"]].append(h)
    created_by_key = created_by(world)
    for op in log:
        if not op.definite_error:
            continue
        told = f"{op.actor} ({op.kind}, p{op.process}) was told {op.outcome} {op.reason}"
        for h in rows_by_actor.get(op.actor, []):
            found.append(
                Violation(
                    "7 definite error",
                    (h["booking_id"],),
                    f"{told}, yet history has v{h['version']} {h['from_status']} -> {h['to_status']} by it",
                )
            )
        if op.kind == "confirm" and op.booking_id in world.bookings:
            # Only a confirm takes a payment: captured for a booking that never became CONFIRMED,
            # it was taken by a confirm told it failed (this one, or another so told).
            b = world.bookings[op.booking_id]
            intent = world.intents.get(b["payment_intent_id"]) or {}
            history = world.history.get(op.booking_id, [])
            if intent.get("status") == "succeeded" and not any(
                h["to_status"] == "CONFIRMED" for h in history
            ):
                found.append(
                    Violation(
                        "7 definite error",
                        (op.booking_id,),
                        f"{told}, yet the payment {intent['intent_id']} was captured and the booking "
                        f"never became CONFIRMED",
                    )
                )
        if op.kind != "create":
            continue
        for booking_id in created_by_key.get(op.key, ()):
            left = [f"booking {world.bookings[booking_id]['status']}"] if booking_id in world.bookings else []
            left += [
                f"live hold {h['reservation_id']}"
                for h in world.holds.values()
                if h["booking_id"] == booking_id and h["status"] == "held"
            ]
            left += [
                f"intent {i['intent_id']} {i['status']}"
                for i in world.intents.values()
                if i["booking_id"] == booking_id and i["status"] != "canceled"
            ]
            if left:
                found.append(
                    Violation("7 definite error", (booking_id,), f"{told}, yet left {', '.join(left)}")
                )
    return found


def created_by(world: World) -> dict[str, list[str]]:
    """Idempotency key -> the booking ids its create sagas used (a create's booking id is only told
    to a caller who got an answer)."""
    found: dict[str, list[str]] = defaultdict(list)
    for saga in world.sagas:
        if saga["kind"] == "create":
            key = (saga["data"].get("idempotency") or ["", ""])[1]
            found[key].append(saga["booking_id"])
    return found


def check_double_booking(world: World) -> list[Violation]:
    """8: no two active bookings of a venue share a unit over overlapping times."""
    found = []
    by_unit: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for b in world.bookings.values():
        if b["status"] in ACTIVE and b["unit_id"]:
            by_unit[(b["venue_id"], b["unit_id"])].append(b)
    for (venue, unit), rows in by_unit.items():
        for i, one in enumerate(rows):
            for other in rows[i + 1 :]:
                if one["start_time"] < other["end_time"] and other["start_time"] < one["end_time"]:
                    found.append(
                        Violation(
                            "8 double booking",
                            (one["booking_id"], other["booking_id"]),
                            f"{venue}/{unit}: {one['status']} and {other['status']} overlap",
                        )
                    )
    return found
