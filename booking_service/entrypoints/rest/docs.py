"""Swagger UI at /docs and ReDoc at /redoc, served from local files (no CDN: works offline).

The JavaScript and CSS bundles come from the drf-spectacular-sidecar wheel, which ships both as
plain static files (its Django app is never imported).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

ASSET_PREFIX = "/docs/assets/"

_ASSETS = {
    "swagger-ui-bundle.js": ("swagger-ui-dist/swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": ("swagger-ui-dist/swagger-ui.css", "text/css"),
    "favicon-32x32.png": ("swagger-ui-dist/favicon-32x32.png", "image/png"),
    "redoc.standalone.js": ("redoc/bundles/redoc.standalone.js", "text/javascript"),
}

SWAGGER_UI = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8"><title>{title}: Swagger UI</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
  <link rel="icon" type="image/png" href="/docs/assets/favicon-32x32.png">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({{url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true}});
  </script>
</body>
</html>
"""

REDOC = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{title}: ReDoc</title></head>
<body>
  <redoc spec-url="/openapi.json"></redoc>
  <script src="/docs/assets/redoc.standalone.js"></script>
</body>
</html>
"""


def _static_root() -> Path:
    spec = importlib.util.find_spec("drf_spectacular_sidecar")  # finds, does not import (it needs Django)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("drf-spectacular-sidecar is not installed: no offline docs assets")
    return Path(next(iter(spec.submodule_search_locations))) / "static" / "drf_spectacular_sidecar"


class DocsAssets:
    """The asset files, read once at start-up."""

    def __init__(self, title: str) -> None:
        root = _static_root()
        self.files = {name: ((root / path).read_bytes(), kind) for name, (path, kind) in _ASSETS.items()}
        self.swagger_page = SWAGGER_UI.format(title=title).encode()
        self.redoc_page = REDOC.format(title=title).encode()

    def asset(self, path: str) -> tuple[bytes, str] | None:
        return self.files.get(path.removeprefix(ASSET_PREFIX))
