"""What a running `serve` leaves in its data directory for the operator commands (`sagas`,
`reconcile`, `events tail`) when it runs embedded parts: the embedded PostgreSQL's URL, the
in-process sandbox's URL and the embedded broker's address, each in a file that lives as long as the
part does.

The embedded PostgreSQL's data directory belongs to one process at a time (embedded_postgres.py),
so an operator command run beside `serve` reaches the database through its server instead of
starting a second one; with DATABASE_URL and the peer URLs set, these files play no part.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from booking_service.adapters.embedded_postgres import DataDirInUse
from booking_service.bootstrap import Application, PeerUrls, bootstrap
from booking_service.config import ConfigError, Settings

log = logging.getLogger("booking_service")
DATABASE, SANDBOX, BROKER = "database.url", "sandbox.url", "kafka.address"


@contextlib.contextmanager
def published(settings: Settings, name: str, url: str) -> Iterator[None]:
    """Writes `url` to `<data dir>/<name>` for as long as the block runs."""
    path = settings.data_dir / name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(url)
    except OSError as error:  # the service runs all the same; only the operator commands miss it
        log.warning("could not write %s", path, extra={"error": str(error)})
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _read(settings: Settings, name: str) -> str | None:
    path: Path = settings.data_dir / name
    return path.read_text().strip() or None if path.is_file() else None


@contextlib.asynccontextmanager
async def operator_app(settings: Settings, *, command: str, need_peers: bool) -> AsyncIterator[Application]:
    """The application as an operator command (`command`: "sagas", "reconcile") uses it: on
    DATABASE_URL, or the running serve's embedded database, or an embedded one of its own (when no
    serve runs); on the configured peers, or the running serve's sandbox. Raises ConfigError when
    `need_peers` and none can be reached."""
    from booking_service.adapters import migrations
    from booking_service.entrypoints.serve import database

    configured = (settings.inventory_service_url, settings.pricing_service_url, settings.payment_service_url)
    sandbox = _read(settings, SANDBOX)
    if all(configured):
        peers = PeerUrls(*configured)  # type: ignore[arg-type]
    elif need_peers and sandbox is None:
        raise ConfigError(
            "no peers to ask: set INVENTORY_SERVICE_URL, PRICING_SERVICE_URL and PAYMENT_SERVICE_URL, "
            f"or run this beside a `serve` that uses the in-process sandbox (data dir {settings.data_dir})"
        )
    else:
        url = sandbox or "http://127.0.0.1:9"  # unreachable: only read-only commands get here
        peers = PeerUrls(*(value or url for value in configured))
    async with contextlib.AsyncExitStack() as stack:
        try:
            database_url = await stack.enter_async_context(database(settings, owner=command))
            await migrations.upgrade(settings.session_url(database_url))
        except DataDirInUse:
            found = _read(settings, DATABASE)
            if found is None:
                raise
            database_url = found
        app = bootstrap(settings, database_url, peers)
        try:
            yield app
        finally:
            await app.aclose()
