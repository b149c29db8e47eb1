"""Running the Alembic migrations from the service (`booking-service migrate`, and `serve` at start)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

_PACKAGE = Path(__file__).resolve().parent.parent


def script_location() -> Path:
    """The migrations: inside the installed wheel, or alembic/ beside the package in a checkout."""
    for candidate in (_PACKAGE / "_alembic", _PACKAGE.parent / "alembic"):
        if (candidate / "env.py").is_file():
            return candidate
    raise FileNotFoundError("no Alembic migrations found beside booking_service")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(script_location()))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


async def upgrade(database_url: str) -> None:
    """`alembic upgrade head`, in a thread of its own (Alembic runs its own event loop)."""
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), "head")
