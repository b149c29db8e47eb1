"""A PgBouncer of the test's own, in transaction mode, in front of the test database's server.

Its pool is small (2 server sessions per database and user by default), so that the transactions of
different clients really do share server sessions: a named prepared statement, a session setting or
an advisory lock of one client's transaction is then met (or missed) by the next client's. From
PgBouncer 1.21 on, `max_prepared_statements = 0` keeps PgBouncer from tracking named statements
itself, which would hide the failure this runs against (older versions have no such tracking).

The binary comes from the distribution (`apt-get install pgbouncer`; Debian puts it in /usr/sbin).
Where it is missing, tests that need it skip, unless BOOKING_TEST_REQUIRES names `pgbouncer`
(`.ci/run` does): then they fail.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.conftest import missing_server
from tests.e2e.tcp_proxy import on_loopback_port

#: Where Debian's package puts it (not on a non-root user's PATH).
_FALLBACK = Path("/usr/sbin/pgbouncer")


def binary() -> Path:
    """The pgbouncer binary; skips the test (fails it, when required) where there is none."""
    found = shutil.which("pgbouncer") or (str(_FALLBACK) if _FALLBACK.is_file() else None)
    if found is None:
        missing_server("pgbouncer", "pgbouncer is not installed (apt-get install pgbouncer)")
    return Path(found)


def version(path: Path) -> tuple[int, int]:
    """(major, minor) of `pgbouncer --version` ("PgBouncer 1.18.0")."""
    out = subprocess.run([str(path), "--version"], capture_output=True, text=True, check=True).stdout
    found = re.search(r"(\d+)\.(\d+)", out)
    assert found, f"no version in {out!r}"
    return int(found[1]), int(found[2])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgBouncer:
    def __init__(
        self,
        server_url: str,
        *,
        pool_size: int = 2,
        ignore_startup_parameters: Sequence[str] = (),
    ) -> None:
        """`server_url`: a postgresql:// URL of the server (TCP, or its Unix socket: `?host=/dir`).
        `ignore_startup_parameters`: ones PgBouncer drops instead of refusing the client."""
        parts = urlsplit(server_url)
        socket_dir = dict(parse_qsl(parts.query)).get("host", "")
        self._server_host = socket_dir or parts.hostname or "127.0.0.1"
        self._server_port = parts.port or 5432
        self._user = unquote(parts.username or "postgres")
        self._pool_size = pool_size
        self._ignored = tuple(ignore_startup_parameters)
        self._process: subprocess.Popen[bytes] | None = None
        self._dir = Path(tempfile.mkdtemp(prefix="booking-pgbouncer-"))
        self.port = 0

    def url(self, url: str) -> str:
        """The same URL (user, database), through this PgBouncer."""
        return on_loopback_port(url, self.port)

    def start(self) -> None:
        """Starts PgBouncer on a free loopback port; returns once it accepts connections."""
        path = binary()
        self.port = free_port()
        settings = {
            "listen_addr": "127.0.0.1",
            "listen_port": str(self.port),
            "unix_socket_dir": "",
            "auth_type": "trust",
            "auth_file": str(self._dir / "users.txt"),
            "pool_mode": "transaction",
            "default_pool_size": str(self._pool_size),
            "max_client_conn": "500",
            "server_login_retry": "1",
        }
        if version(path) >= (1, 21):
            settings["max_prepared_statements"] = "0"
        if self._ignored:
            settings["ignore_startup_parameters"] = ",".join(self._ignored)
        config = self._dir / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"* = host={self._server_host} port={self._server_port}\n"
            "[pgbouncer]\n" + "".join(f"{name} = {value}\n" for name, value in settings.items())
        )
        (self._dir / "users.txt").write_text(f'"{self._user}" ""\n')
        self._dir.chmod(0o755)
        command = [str(path), *self._as_user(), str(config)]
        with (self._dir / "pgbouncer.log").open("wb") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise AssertionError(f"pgbouncer exited at start:\n{self.log}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.2):
                return
            time.sleep(0.05)
        raise AssertionError(f"pgbouncer did not listen within 10 s:\n{self.log}")

    def _as_user(self) -> list[str]:
        """PgBouncer refuses to run as root: it then drops to the owner of the server's socket
        directory (the embedded PostgreSQL's user, the only one who may enter it), or nobody."""
        if os.geteuid() != 0:
            return []
        owner = os.stat(self._server_host).st_uid if self._server_host.startswith("/") else None
        name = pwd.getpwuid(owner).pw_name if owner else "nobody"
        return ["-u", name]

    @property
    def log(self) -> str:
        path = self._dir / "pgbouncer.log"
        return path.read_text(errors="replace") if path.is_file() else ""

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        shutil.rmtree(self._dir, ignore_errors=True)


@contextlib.contextmanager
def pgbouncer(server_url: str, **options: object) -> Iterator[PgBouncer]:
    """A running PgBouncer in front of `server_url`'s server (options: PgBouncer's)."""
    bouncer = PgBouncer(server_url, **options)  # type: ignore[arg-type]
    try:
        bouncer.start()
        yield bouncer
    finally:
        bouncer.stop()
