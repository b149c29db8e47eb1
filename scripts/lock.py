"""The lock: `uv.lock` (every package's version and hashes, resolved from pyproject.toml) and the
three requirements files exported from it, which pip installs with `--require-hashes`:

- `requirements/dev.txt`: the service with its `dev` extra and the build backend (README's two
  commands and CI install this, then the project itself with `--no-deps --no-build-isolation`);
- `requirements/runtime.txt`: what the image's virtual environment holds (installed `--no-deps`),
  without Django and its two requirements, which the docs assets' wheel names but nothing imports
  (tests/unit/test_runtime_imports.py);
- `requirements/build.txt`: the build backend alone, for the image's build stage.

Run with the project's virtualenv (uv is a dev dependency):

    .venv/bin/python scripts/lock.py            # after editing pyproject.toml: re-lock, re-export
    .venv/bin/python scripts/lock.py --upgrade  # take the newest releases pyproject.toml allows
    .venv/bin/python scripts/lock.py --check    # exit 1 if pyproject.toml, uv.lock and the exports disagree

`--check` needs no network (uv validates the lock against pyproject.toml from the lock alone);
tests/unit/test_lock_file.py runs it, so CI fails when someone edits pyproject.toml and not the lock.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Never in the image: Django, and what only Django requires (drf-spectacular-sidecar's requirement).
NOT_IN_IMAGE = ("django", "asgiref", "sqlparse")

# Each exported file: its name and `uv export` options beyond the common ones.
EXPORTS: dict[str, tuple[str, ...]] = {
    "dev.txt": ("--extra", "dev", "--group", "build"),
    "runtime.txt": ("--no-dev", *(f"--no-emit-package={name}" for name in NOT_IN_IMAGE)),
    "build.txt": ("--only-group", "build"),
}


def uv(root: Path, *args: str, capture: bool = False) -> subprocess.CompletedProcess[str]:
    """Runs the uv next to this interpreter (the venv's) on the project in `root`."""
    command = [str(Path(sys.executable).parent / "uv"), *args]
    return subprocess.run(command, cwd=root, text=True, capture_output=capture, check=False)


def export(root: Path, name: str) -> str:
    """The text of requirements/<name> as uv exports it from uv.lock (without re-resolving)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / name
        done = uv(
            root,
            "export",
            "--frozen",
            "--no-emit-project",
            "--no-header",
            "--quiet",
            *EXPORTS[name],
            "--output-file",
            str(out),
            capture=True,
        )
        if done.returncode != 0:
            raise SystemExit(f"uv export for {name} failed: {done.stderr.strip()}")
        header = "# Exported from uv.lock by scripts/lock.py; install with pip --require-hashes.\n"
        return header + out.read_text()


def check(root: Path) -> int:
    """0 when uv.lock satisfies pyproject.toml and every export matches it; else 1, saying why."""
    done = uv(root, "lock", "--check", "--offline", "--quiet", capture=True)
    if done.returncode != 0:
        print(
            "uv.lock does not match pyproject.toml: run `.venv/bin/python scripts/lock.py`\n"
            + done.stderr.strip(),
            file=sys.stderr,
        )
        return 1
    requirements = root / "requirements"
    stale = [
        name
        for name in EXPORTS
        if not (requirements / name).exists() or (requirements / name).read_text() != export(root, name)
    ]
    if stale:
        print(
            f"requirements/{', requirements/'.join(stale)} differ from uv.lock: "
            "run `.venv/bin/python scripts/lock.py`",
            file=sys.stderr,
        )
        return 1
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 on a stale lock")
    parser.add_argument("--upgrade", action="store_true", help="take the newest allowed releases")
    parser.add_argument("--root", type=Path, default=ROOT, help="the project (default: this one)")
    args = parser.parse_args()
    root: Path = args.root
    if args.check:
        return check(root)
    done = uv(root, "lock", *(["--upgrade"] if args.upgrade else []))
    if done.returncode != 0:
        return done.returncode
    (root / "requirements").mkdir(exist_ok=True)
    for name in EXPORTS:
        (root / "requirements" / name).write_text(export(root, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
