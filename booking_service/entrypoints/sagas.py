"""`booking-service sagas list|retry|resolve`: the sagas that need an operator, and what to do with them.

    booking-service sagas list [--status needs_attention] [--booking ID] [--limit 100] [--json]
    booking-service sagas retry SAGA_ID [--actor NAME]
    booking-service sagas resolve SAGA_ID --note TEXT [--actor NAME]

`retry` runs the saga again at once, in this process, against the peers (see running.py for how
the command finds the database and the peers); `resolve` records that the matter was settled by
hand. Exit status: 0 done, 1 refused (unknown saga, not needing attention, a retry that needs
attention again), 2 misconfigured.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from booking_service.config import Settings
from booking_service.domain.values import Actor, ChangeSource
from booking_service.entrypoints.running import operator_app
from booking_service.service_layer.sagas import operators
from booking_service.service_layer.sagas.log import DONE, STATUSES, Saga

_COLUMNS = ("saga_id", "kind", "status", "booking_id", "step", "attempts", "created_at", "error")


def add_parser(commands: Any, with_data_dir: Callable[[argparse.ArgumentParser], None]) -> None:
    sagas = commands.add_parser("sagas", help="sagas that need an operator: list, retry, resolve")
    actions = sagas.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="list sagas (those that need attention, unless --status says)")
    listing.add_argument(
        "--status", action="append", choices=STATUSES, help="a status to list (repeatable; needs_attention)"
    )
    listing.add_argument("--booking", help="only this booking's sagas")
    listing.add_argument("--limit", type=_count, default=100, help="at most this many (100)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    retry = actions.add_parser("retry", help="run a saga that needs attention again, now")
    retry.add_argument("saga_id")
    retry.add_argument("--actor", default="operator", help="who retries it, for the booking's history")
    resolve = actions.add_parser("resolve", help="record that a saga's business was settled by hand")
    resolve.add_argument("saga_id")
    resolve.add_argument("--note", required=True, help="how it was settled, for the booking's history")
    resolve.add_argument("--actor", default="operator", help="who settled it, for the booking's history")
    for action in (listing, retry, resolve):
        with_data_dir(action)


async def run(settings: Settings, args: argparse.Namespace) -> int:
    """The exit status: 0 done, 1 a retry that needs attention again. A saga that cannot be acted on
    raises operators.OperatorError (failures.py says it)."""
    async with operator_app(settings, command="sagas", need_peers=args.action == "retry") as app:
        ctx = app.use_cases.ctx
        if args.action == "list":
            statuses = tuple(args.status or ("needs_attention",))
            found = await operators.list_sagas(ctx, statuses, args.booking, args.limit)
            _print(found, as_json=args.json)
            return 0
        actor = Actor(args.actor, ChangeSource.API)
        if args.action == "retry":
            saga = await operators.retry_saga(ctx, args.saga_id, actor)
            print(
                f"saga {saga.saga_id} ({saga.kind}): {saga.status}"
                + (f": {saga.error}" if saga.error else "")
            )
            return 0 if saga.status == DONE else 1
        saga = await operators.resolve_saga(ctx, args.saga_id, args.note, actor)
        print(f"saga {saga.saga_id} ({saga.kind}): {saga.status}")
        return 0


def _count(text: str) -> int:
    """argparse's type for a count of at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def _row(saga: Saga) -> dict[str, Any]:
    return {
        "saga_id": saga.saga_id,
        "kind": saga.kind,
        "status": saga.status,
        "booking_id": saga.booking_id,
        "step": saga.step,
        "attempts": saga.attempts,
        "created_at": saga.created_at.isoformat(),
        "error": saga.error,
    }


def _print(sagas: list[Saga], *, as_json: bool) -> None:
    rows = [_row(saga) for saga in sagas]
    if as_json:
        for row in rows:
            print(json.dumps(row))
        return
    if not rows:
        print("no sagas")
        return
    cells = [[str(row[name]) for name in _COLUMNS] for row in rows]
    widths = [min(60, max(len(name), *(len(c[i]) for c in cells))) for i, name in enumerate(_COLUMNS)]
    print("  ".join(name.upper().ljust(width) for name, width in zip(_COLUMNS, widths, strict=True)).rstrip())
    for line in cells:
        print("  ".join(cell[:width].ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
