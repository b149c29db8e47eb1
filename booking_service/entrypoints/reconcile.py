"""`booking-service reconcile [--since DURATION] [--fix] [--json]`: the bookings against the peers.

Every booking changed in the window (and every booking whose creation did not finish) is compared
with the inventory's reservations and the payment service's intents and refunds for it; each drift
is printed (a table, or JSON with --json) and counted in the `booking_reconcile_drifts` gauge. With
--fix the fixable ones are settled through the sagas (service_layer/reconcile). Exit status: 0 when
nothing drifts (or everything found was fixed), 1 when something is left, 2 when misconfigured.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from booking_service.config import Settings
from booking_service.entrypoints.running import operator_app
from booking_service.service_layer.reconcile.run import Report, reconcile

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> timedelta:
    """`90s`, `15m`, `24h`, `7d` or a sum of them (`1h30m`); plain digits are seconds."""
    if text.isdigit():
        return timedelta(seconds=int(text))
    parts = re.findall(r"(\d+)([smhd])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 90s, 15m, 24h, 7d or 1h30m")
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in parts))


def spoken(window: timedelta) -> str:
    """A duration as `duration` reads it: 86400 s is `24h`, 5400 s `1h30m`."""
    seconds, parts = int(window.total_seconds()), []
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def add_parser(commands: Any, with_data_dir: Callable[[argparse.ArgumentParser], None]) -> None:
    command = commands.add_parser("reconcile", help="compare the bookings with the peers' own view")
    command.add_argument("--since", type=duration, default=timedelta(hours=24), help="the window (24h)")
    command.add_argument("--fix", action="store_true", help="settle the fixable drifts through the sagas")
    command.add_argument("--json", action="store_true", help="the report as one JSON object")
    with_data_dir(command)


async def run(settings: Settings, args: argparse.Namespace) -> int:
    """The report; exit status 0 when no drift is left, else 1. A peer that cannot be asked raises
    BookingError (failures.py says it)."""
    async with operator_app(settings, command="reconcile", need_peers=True) as app:
        report = await reconcile(app.use_cases.ctx, args.since, fix=args.fix)
    print(json.dumps(as_json(report)) if args.json else table(report))
    left = [d for d in report.drifts if report.fixes.get(d.booking_id) != "fixed"]
    return 1 if left else 0


def as_json(report: Report) -> dict[str, Any]:
    return {
        "since_seconds": int(report.since.total_seconds()),
        "checked": report.checked,
        "in_flight": report.in_flight,
        "drifts": [
            {
                "kind": d.kind,
                "booking_id": d.booking_id,
                "detail": d.detail,
                "fixable": d.fixable,
                "fix": report.fixes.get(d.booking_id, ""),
            }
            for d in report.drifts
        ],
    }


def table(report: Report) -> str:
    lines = []
    if report.drifts:
        rows = [(d.kind, d.booking_id, d.detail, report.fixes.get(d.booking_id, "")) for d in report.drifts]
        header = ("KIND", "BOOKING", "DETAIL", "FIX")
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
        for row in (header, *rows):
            lines.append(
                "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            )
    fixable = sum(d.fixable for d in report.drifts)
    lines.append(
        f"checked {report.checked} bookings changed in the last {spoken(report.since)} "
        f"({report.in_flight} in flight, skipped): {len(report.drifts)} drifts, {fixable} fixable"
    )
    return "\n".join(lines)
