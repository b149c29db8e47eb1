"""The AsyncAPI 3 document of the events (document.py): its headers (headers.py) and example
(sample.py). `python -m booking_service.entrypoints.asyncapi PATH` writes the document of the default
settings, as scripts/generate.py commits it to generated/asyncapi.json."""

from __future__ import annotations

import json
from typing import Any

from booking_service.entrypoints.asyncapi.document import build, document_for

__all__ = ["build", "document_for", "text"]


def text(document: dict[str, Any]) -> str:
    """The document as committed: indented JSON, keys in the order they were built."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
