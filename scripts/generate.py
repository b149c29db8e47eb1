"""Regenerate the typed stubs in generated/ from protos/ (the only way generated/ changes), and the
AsyncAPI document of the events made from them and the relay's default settings
(generated/asyncapi.json, booking_service/entrypoints/asyncapi/).

Run with the project's virtualenv: `.venv/bin/python scripts/generate.py`. CI runs it and fails when
`git diff --exit-code generated/` shows that the committed stubs or document are stale.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
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
    mypy_grpc_plugin = Path(sys.executable).parent / "protoc-gen-mypy_grpc"
    with tempfile.TemporaryDirectory() as tmp:
        staging = Path(tmp)
        (staging / "booking").mkdir()
        code = protoc.main(
            [
                "grpc_tools.protoc",
                f"-I{PROTOS}",
                f"-I{googleapis_include_dir()}",
                f"-I{Path(protoc.__file__).parent / '_proto'}",
                f"--plugin=protoc-gen-mypy_grpc={mypy_grpc_plugin}",
                f"--python_out={staging}",
                f"--pyi_out={staging}",
                f"--grpc_python_out={staging}",
                f"--mypy_grpc_out={staging}",
                # The comments, for the OpenAPI document the REST gateway serves.
                f"--descriptor_set_out={staging / 'booking' / 'descriptors.binpb'}",
                "--include_source_info",
                *protos,
            ]
        )
        if code != 0:
            print("protoc failed; generated/ is unchanged", file=sys.stderr)
            return int(code)
        for package_dir in {p.parent for p in staging.rglob("*_pb2.py")}:
            while package_dir != staging:
                (package_dir / "__init__.py").touch()
                package_dir = package_dir.parent
        (staging / "booking" / "py.typed").touch()
        shutil.rmtree(OUT, ignore_errors=True)
        shutil.copytree(staging, OUT)
        OUT.chmod(0o755)  # not the private mode of the temporary directory
    # In a new interpreter, which imports the stubs just written.
    document = [sys.executable, "-m", "booking_service.entrypoints.asyncapi", str(OUT / "asyncapi.json")]
    if subprocess.run(document, cwd=ROOT, check=False).returncode != 0:
        print("the AsyncAPI document could not be written", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
