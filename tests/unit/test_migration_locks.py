"""Migrations after the first never block the service's writes while they build an index (issue 15):
an index on a table that an earlier migration made (and that may hold millions of rows) is built
CONCURRENTLY, and such a migration does nothing else, since a migration whose transaction committed
half-way cannot be run again. Read from the SQL each migration emits (`alembic upgrade --sql`), so
a migration written with a plain `op.create_index` fails here."""

from __future__ import annotations

import io
import re

import pytest
from alembic import command
from alembic.script import ScriptDirectory

from booking_service.adapters import migrations

CREATE_TABLE = re.compile(r"^CREATE TABLE (\w+)", re.M)
CREATE_INDEX = re.compile(r"^CREATE (?:UNIQUE )?INDEX (CONCURRENTLY )?(?:IF NOT EXISTS )?\w+ ON (\w+)", re.M)
# What an index-only migration may say besides building its index: the transaction around the
# autocommit block, the version stamp, and dropping a half-built index.
BOOKKEEPING = re.compile(
    r"^(BEGIN|COMMIT|DROP INDEX CONCURRENTLY IF EXISTS \w+|UPDATE alembic_version .*|"
    r"INSERT INTO alembic_version .*|CREATE TABLE alembic_version .*|CREATE (UNIQUE )?INDEX .*)$"
)


def steps() -> list[tuple[str, str]]:
    """(from, to) for every migration after the first, oldest first."""
    script = ScriptDirectory.from_config(migrations.alembic_config("postgresql://unused"))
    revisions = list(reversed(list(script.walk_revisions())))
    return [(r.down_revision, r.revision) for r in revisions if isinstance(r.down_revision, str)]


def sql_of(step: tuple[str, str]) -> str:
    config = migrations.alembic_config("postgresql://unused/offline")
    config.output_buffer = io.StringIO()
    command.upgrade(config, f"{step[0]}:{step[1]}", sql=True)
    buffer = config.output_buffer
    assert isinstance(buffer, io.StringIO)
    return buffer.getvalue()


def statements(sql: str) -> list[str]:
    """The statements, one line each, without comments."""
    lines = [line for line in sql.splitlines() if line.strip() and not line.startswith("--")]
    return [" ".join(s.split()) for s in " ".join(lines).split(";") if s.strip()]


@pytest.mark.parametrize("step", steps(), ids=lambda step: step[1])
def test_an_index_on_an_existing_table_is_built_concurrently_and_alone(step: tuple[str, str]) -> None:
    sql = sql_of(step)
    created_here = set(CREATE_TABLE.findall(sql)) - {"alembic_version"}
    indexes = [(bool(concurrently), table) for concurrently, table in CREATE_INDEX.findall(sql)]
    for concurrently, table in indexes:
        if table not in created_here:
            assert concurrently, f"{step[1]} builds an index on {table} without CONCURRENTLY:\n{sql}"
    if any(concurrently for concurrently, _ in indexes):
        others = [s for s in statements(sql) if not BOOKKEEPING.match(s)]
        assert not others, f"{step[1]} builds an index concurrently and also does {others}"


def test_the_rule_catches_a_plain_index_on_an_existing_table() -> None:
    """The check above can fail: a plain CREATE INDEX on bookings, as 0003 once had it."""
    plain = "CREATE INDEX bookings_confirmed_start ON bookings (start_time, booking_id);"
    assert CREATE_INDEX.findall(plain) == [("", "bookings")]
    concurrent = "CREATE INDEX CONCURRENTLY bookings_confirmed_start ON bookings (start_time);"
    assert CREATE_INDEX.findall(concurrent) == [("CONCURRENTLY ", "bookings")]
