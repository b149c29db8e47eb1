"""What the runtime image leaves out is never imported (issue 15): Django comes with the docs assets'
wheel (drf-spectacular-sidecar) and the image leaves it out (requirements/runtime.txt); every entry
point and the docs assets must work without it."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
sys.modules["django"] = None  # an import of it now fails, as in the image
import booking_service.entrypoints.cli
from booking_service.entrypoints.rest.docs import ASSET_PREFIX, DocsAssets
assets = DocsAssets("booking-service")
page = assets.swagger_page.decode() + assets.redoc_page.decode()
paths = [p for p in page.split('"') if p.startswith(ASSET_PREFIX)]
assert paths, "the pages name their assets"
for path in paths:
    assert assets.asset(path) is not None, path
print(sorted(m for m in sys.modules if m.split(".")[0] in ("django", "asgiref", "sqlparse")))
"""


def test_no_entry_point_nor_the_docs_assets_need_django() -> None:
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['django']", done.stdout  # only the blocked entry, never loaded
