"""Venue policies on PostgreSQL: the policy row (what the venue sets, as JSON: seconds or people)
and one history row per version.

A save is conditional on the version that was loaded: of two changes made from the same version
exactly one lands (the other, PolicyVersionMismatch); two first policies of a venue race on the
primary key, with the same outcome.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import asyncpg

from booking_service.adapters.driver import DriverSession
from booking_service.domain.errors import PolicyVersionMismatch
from booking_service.domain.values import Actor, ChangeSource
from booking_service.domain.venue_policy import PARTY_SIZES, PolicyChange, Value, VenuePolicy
from booking_service.service_layer.unit_of_work import VenuePolicyStore

#: The columns policy_of reads.
COLUMNS = ("venue_id", "version", "time_zone", "rules", "update_time")
GET = f"SELECT {', '.join(COLUMNS)} FROM venue_policies WHERE venue_id = $1"
HISTORY = (
    "SELECT version, actor, source, changed_fields, old_values, new_values, change_time"
    " FROM venue_policy_history WHERE venue_id = $1 ORDER BY version"
)
_INSERT = (
    "INSERT INTO venue_policies (venue_id, version, time_zone, rules, update_time)"
    " VALUES ($1, $2, $3, $4::jsonb, $5)"
)
_UPDATE = (
    "UPDATE venue_policies SET version = $2, time_zone = $3, rules = $4::jsonb, update_time = $5"
    " WHERE venue_id = $1 AND version = $6"
)
_INSERT_HISTORY = (
    "INSERT INTO venue_policy_history (venue_id, version, actor, source, changed_fields, old_values,"
    " new_values, change_time) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8)"
)
_CURRENT = "SELECT version FROM venue_policies WHERE venue_id = $1"


def value_json(name: str, value: Value | None) -> Any:
    """A policy value as JSON: seconds for durations, people, the zone's name; None as null."""
    return int(value.total_seconds()) if isinstance(value, timedelta) else value


def value_of(name: str, data: Any) -> Value | None:
    if data is None or name == "time_zone" or name in PARTY_SIZES:
        return data  # type: ignore[no-any-return]
    return timedelta(seconds=data)


def _decoded(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def policy_of(row: Mapping[str, Any] | None, venue_id: str, history: list[Any] = ()) -> VenuePolicy:  # type: ignore[assignment]
    """The policy from its row, or the venue's empty policy (version 0) when there is none."""
    if row is None:
        return VenuePolicy(venue_id)
    rules = _decoded(row["rules"]) or {}
    values = {name: value_of(name, data) for name, data in rules.items()}
    return VenuePolicy(
        venue_id=row["venue_id"],
        version=row["version"],
        time_zone=row["time_zone"],
        values=values,  # type: ignore[arg-type]
        update_time=row["update_time"],
        history=[_change_of(entry) for entry in history],
        stored_version=row["version"],
    )


def _change_of(row: Mapping[str, Any]) -> PolicyChange:
    old, new = _decoded(row["old_values"]), _decoded(row["new_values"])
    return PolicyChange(
        version=row["version"],
        actor=Actor(row["actor"], ChangeSource(row["source"])),
        changed_at=row["change_time"],
        changed_fields=tuple(row["changed_fields"]),
        old={name: value_of(name, data) for name, data in old.items()},
        new={name: value_of(name, data) for name, data in new.items()},
    )


class PostgresVenuePolicies(VenuePolicyStore):
    def __init__(self, session: DriverSession) -> None:
        self._db = session

    async def get(self, venue_id: str) -> VenuePolicy:
        row = await self._db.fetchrow(GET + " FOR UPDATE", venue_id)
        history = await self._db.fetch(HISTORY, venue_id) if row is not None else []
        return policy_of(row, venue_id, history)

    async def save(self, policy: VenuePolicy) -> None:
        if policy.version == policy.stored_version:
            return
        rules = json.dumps({name: value_json(name, value) for name, value in policy.values.items()})
        values = [policy.venue_id, policy.version, policy.time_zone, rules, policy.update_time]
        try:
            if policy.stored_version == 0:
                status = await self._db.execute(_INSERT, *values)
            else:
                status = await self._db.execute(_UPDATE, *values, policy.stored_version)
        except asyncpg.UniqueViolationError as exc:  # another first policy landed first
            raise PolicyVersionMismatch(policy.venue_id, 0, 1) from exc
        if status not in ("INSERT 0 1", "UPDATE 1"):
            current = await self._db.fetchrow(_CURRENT, policy.venue_id)
            raise PolicyVersionMismatch(
                policy.venue_id, policy.stored_version, current["version"] if current else 0
            )
        for entry in policy.new_history:
            await self._db.execute(
                _INSERT_HISTORY,
                policy.venue_id,
                entry.version,
                entry.actor.actor_id,
                entry.actor.source.value,
                list(entry.changed_fields),
                json.dumps({k: value_json(k, v) for k, v in entry.old.items()}),
                json.dumps({k: value_json(k, v) for k, v in entry.new.items()}),
                entry.changed_at,
            )
        policy.new_history.clear()
        policy.stored_version = policy.version
