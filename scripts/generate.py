"""Regenerate the typed stubs in generated/ from protos/ (the only way generated/ changes).

Run with the project's virtualenv: `.venv/bin/python scripts/generate.py`. CI runs it and fails when
`git diff --exit-code generated/` shows that the committed stubs are stale.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import google.api
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
OUT = ROOT / "generated"


def googleapis_include_dir() -> Path:
    """Where googleapis-common-protos keeps google/api/*.proto (a namespace package: no __file__)."""
    return Path(next(iter(google.api.__path__))).parent.parent


def main() -> int:
    protos = sorted(str(p.relative_to(PROTOS)) for p in PROTOS.rglob("*.proto"))
    for stale in OUT.iterdir() if OUT.exists() else []:
        if stale.is_dir():
            shutil.rmtree(stale)
    OUT.mkdir(exist_ok=True)
    grpc_include = Path(protoc.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"-I{googleapis_include_dir()}",
        f"-I{grpc_include}",
        f"--python_out={OUT}",
        f"--pyi_out={OUT}",
        f"--grpc_python_out={OUT}",
        f"--mypy_grpc_out={OUT}",
        *protos,
    ]
    code = protoc.main(args)
    if code != 0:
        return int(code)
    for package_dir in {p.parent for p in OUT.rglob("*_pb2.py")}:
        while package_dir != OUT:
            (package_dir / "__init__.py").touch()
            package_dir = package_dir.parent
    (OUT / "booking" / "py.typed").touch()
    return 0


if __name__ == "__main__":
    sys.exit(main())
