"""A test run leaves the checkout as it found it: the tools' caches go to a temporary directory, and
the run fails if the checkout changed anyway (a new file, a changed tracked file, a new ignored
directory such as `.hypothesis/`), naming what changed.

Hypothesis keeps its example database and its caches in `$HYPOTHESIS_STORAGE_DIRECTORY`, by default
`.hypothesis/` in the working directory; the variable also reaches the subprocesses tests start
(schemathesis, which runs in its test's temporary directory as well). Failing examples are replayed
by seed (`--fuzz-seed`), not from that database. Bytecode and pytest's own cache are left out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_STORAGE = "HYPOTHESIS_STORAGE_DIRECTORY"
_BEFORE = pytest.StashKey[frozenset[str] | None]()
_CACHES = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    if _STORAGE not in os.environ:
        config.stash[_CACHES] = os.environ[_STORAGE] = tempfile.mkdtemp(prefix="booking-service-tool-caches-")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _CACHES in config.stash:
        shutil.rmtree(config.stash[_CACHES], ignore_errors=True)
        os.environ.pop(_STORAGE, None)


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_BEFORE] = checkout_status()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    before, after = session.config.stash.get(_BEFORE, None), checkout_status()
    if before is None or after is None:
        return
    changed = sorted(after - before)
    if changed:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("")
            reporter.write_sep("!", "the test run changed the checkout (git status --ignored)", red=True)
            for line in changed:
                reporter.write_line(line, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def checkout_status() -> frozenset[str] | None:
    """`git status --porcelain --ignored` of the checkout, bytecode and pytest's cache left out; None
    outside a git checkout."""
    try:
        result = subprocess.run(
            ["git", "status", "--porcelain", "--ignored", "--untracked-files=normal"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return frozenset(
        line
        for line in result.stdout.splitlines()
        if "__pycache__" not in line and ".pytest_cache" not in line and not line.endswith(".pyc")
    )
