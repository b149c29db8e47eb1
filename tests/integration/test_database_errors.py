"""A database error nobody translates is logged with its traceback: on a real PostgreSQL, neither the
statement's parameters nor the DETAIL line quoting the refused row may carry guest data into it."""

from __future__ import annotations

import traceback

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from booking_service.adapters.database import create_engine
from booking_service.adapters.errors import translate

EMAIL, PHONE = "ada.db-errors@example.com", "+4915199887766"


@pytest.mark.parametrize(
    "second_row",
    [
        {"email": EMAIL, "phone": "+4915100000000"},  # unique violation: DETAIL Key (email)=(...)
        {"email": "other@example.com", "phone": PHONE},  # check violation: DETAIL Failing row contains
    ],
)
async def test_an_untranslated_constraint_error_quotes_no_row_values(
    database_url: str, second_row: dict[str, str]
) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(
                text(f"CREATE TEMP TABLE guests (email text UNIQUE, phone text CHECK (phone <> '{PHONE}'))")
            )
            insert = text("INSERT INTO guests VALUES (:email, :phone)")
            await conn.execute(insert, {"email": EMAIL, "phone": "+4915111111111"})
            with pytest.raises(IntegrityError) as raised:
                await conn.execute(insert, second_row)
    finally:
        await engine.dispose()
    assert translate(raised.value) is None, "a real bug: logged, not translated"
    logged = "".join(traceback.format_exception(raised.value))
    assert "DETAIL" in logged  # the line stays, its values go
    for value in (EMAIL, PHONE):
        assert value not in logged
