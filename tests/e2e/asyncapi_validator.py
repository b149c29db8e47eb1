"""The official AsyncAPI 3.0.0 JSON Schema (npm package @asyncapi/specs), for validating documents
with Python's jsonschema.

The package is fetched with npm at test time, pinned by version and checked against its registry
integrity (sha512), into a cache outside the checkout ($XDG_CACHE_HOME/booking-service/asyncapi, so
that a run leaves the checkout unchanged and later runs need no network). Where npm is missing or
cannot fetch it, the tests that need it skip, or fail when BOOKING_TEST_REQUIRES names
`asyncapi-validator` (.ci/run does).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from functools import cache
from pathlib import Path
from typing import Any, NoReturn

from jsonschema import Draft7Validator

from tests.conftest import missing_server

NAME = "asyncapi-validator"
PACKAGE, VERSION = "@asyncapi/specs", "6.11.1"
INTEGRITY = "sha512-A3WBLqAKGoJ2+6FWFtpjBlCQ1oFCcs4GxF7zsIGvNqp/klGUHjlA3aAcZ9XMMpLGE8zPeYDz2x9FmO6DSuKraQ=="
#: The schema of AsyncAPI 3.0.0 documents in the package, its definitions bundled (with their $ids).
SCHEMA = "package/schemas/3.0.0.json"


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "booking-service" / "asyncapi"


#: Why the package could not be had, once that was found (later tests skip or fail at once).
_unavailable: list[str] = []


@cache
def official_schema() -> dict[str, Any]:
    tarball = cache_dir() / f"asyncapi-specs-{VERSION}.tgz"
    if _unavailable:
        missing_server(NAME, _unavailable[0])
    if not tarball.exists():
        _fetch(tarball)
    data = tarball.read_bytes()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != INTEGRITY:
        tarball.unlink()
        raise AssertionError(f"{tarball} is not {PACKAGE}@{VERSION} ({digest}); removed, run again")
    with tarfile.open(tarball) as archive:
        member = archive.extractfile(SCHEMA)
        assert member is not None, f"{PACKAGE}@{VERSION} has no {SCHEMA}"
        schema: dict[str, Any] = json.load(member)
    return schema


def errors(document: dict[str, Any]) -> list[str]:
    """Where `document` breaks the AsyncAPI 3.0.0 schema (bindings included), one line each."""
    validator = Draft7Validator(official_schema())
    return [
        f"/{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    ]


def _fetch(tarball: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        _missing(f"npm is not installed: {PACKAGE} (the AsyncAPI schema) cannot be fetched")
    tarball.parent.mkdir(parents=True, exist_ok=True)
    # npm's cache beside the package (not ~/.npm); a registry that does not answer is given up soon.
    options = [
        "--loglevel=error",
        "--cache",
        str(tarball.parent / "npm"),
        "--fetch-timeout=30000",
        "--fetch-retries=1",
    ]
    with tempfile.TemporaryDirectory(dir=tarball.parent) as folder:
        try:
            done = subprocess.run(
                [npm, "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", folder, *options],
                cwd=folder,
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
            )
        except subprocess.TimeoutExpired:
            _missing(f"npm took over 180 s to fetch {PACKAGE}@{VERSION}")
        packed = list(Path(folder).glob("*.tgz"))
        if done.returncode != 0 or len(packed) != 1:
            said = [line for line in done.stderr.splitlines() if "Error" in line or " code " in line]
            _missing(f"npm could not fetch {PACKAGE}@{VERSION}: {(said or ['no message'])[0]}")
        os.replace(packed[0], tarball)  # whole or not at all, whatever runs beside this one


def _missing(reason: str) -> NoReturn:
    _unavailable.append(reason)
    missing_server(NAME, reason)
