"""The lock (issue 15): uv.lock agrees with pyproject.toml, the requirements files that README's
commands, CI and the Dockerfile install are exported from it, every pin carries hashes, and the
image's file leaves Django out. `scripts/lock.py --check` is the rule; these run it."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCK_SCRIPT = ROOT / "scripts" / "lock.py"


def run_check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(LOCK_SCRIPT), "--check", "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def copy_of_the_project(tmp_path: Path) -> Path:
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    return tmp_path


def test_the_lock_and_its_exports_match_pyproject() -> None:
    done = run_check(ROOT)
    assert done.returncode == 0, done.stderr


def test_a_dependency_added_to_pyproject_and_not_locked_fails_the_check(tmp_path: Path) -> None:
    root = copy_of_the_project(tmp_path)
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text.replace('"orjson>=3.10",', '"orjson>=3.10",\n    "six>=1.16",', 1))
    done = run_check(root)
    assert done.returncode == 1
    assert "uv.lock does not match pyproject.toml" in done.stderr


def test_a_narrowed_bound_the_lock_breaks_fails_the_check(tmp_path: Path) -> None:
    root = copy_of_the_project(tmp_path)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"orjson>=3.10"', '"orjson>=3.10,<3.10.1"', 1))
    done = run_check(root)
    assert done.returncode == 1
    assert "uv.lock does not match pyproject.toml" in done.stderr


def test_an_export_edited_by_hand_fails_the_check(tmp_path: Path) -> None:
    root = copy_of_the_project(tmp_path)
    runtime = root / "requirements" / "runtime.txt"
    runtime.write_text(re.sub(r"^orjson==\S+", "orjson==3.10.0", runtime.read_text(), flags=re.M))
    done = run_check(root)
    assert done.returncode == 1
    assert "requirements/runtime.txt differ from uv.lock" in done.stderr


def pins(path: Path) -> dict[str, str]:
    """name -> the text of its entry (the pin line and its --hash lines)."""
    entries: dict[str, str] = {}
    for entry in re.split(r"\n(?=[a-z0-9])", path.read_text(), flags=re.I):
        first = entry.split("\n", 1)[0]
        if first.startswith("#") or not first.strip():
            continue
        entries[re.split(r"[=<> ;]", first, maxsplit=1)[0].lower()] = entry
    return entries


def test_every_pin_is_exact_and_hashed_and_the_image_has_no_django() -> None:
    for name in ("dev.txt", "runtime.txt", "build.txt"):
        for package, entry in pins(ROOT / "requirements" / name).items():
            assert re.match(rf"{re.escape(package)}==\S+", entry, flags=re.I), (name, entry[:80])
            assert "--hash=sha256:" in entry, (name, package)
    runtime = pins(ROOT / "requirements" / "runtime.txt")
    assert not {"django", "asgiref", "sqlparse"} & set(runtime)
    assert {"grpcio", "asyncpg", "drf-spectacular-sidecar", "uvicorn"} <= set(runtime)
    assert not {"pytest", "mypy", "hatchling", "uv"} & set(runtime)


def test_the_image_installs_only_from_the_lock_on_a_pinned_base() -> None:
    """No docker engine runs where this is tested, so the Dockerfile is read: its base image is
    pinned by digest, and every pip install is hash-checked from requirements/, or the project's
    own wheel without its requirements."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:[\w.-]+@sha256:[0-9a-f]{64}$", dockerfile, flags=re.M)
    installs = re.findall(r"pip (?:--python \S+ )?install ([^\n\\&]*)", dockerfile)
    assert len(installs) == 3, installs
    for options in installs:
        from_lock = "--require-hashes" in options and "-r requirements/" in options
        own_wheel = "--no-deps /wheels/booking_service-" in options
        assert from_lock or own_wheel, options
    assert "--require-hashes --no-deps -r requirements/runtime.txt" in dockerfile
