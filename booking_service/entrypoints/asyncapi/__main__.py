"""Writes the AsyncAPI document of the default settings to the path given (scripts/generate.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from booking_service.config import Settings
from booking_service.entrypoints.asyncapi import document_for, text


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m booking_service.entrypoints.asyncapi PATH", file=sys.stderr)
        return 2
    Path(argv[0]).write_text(text(document_for(Settings())), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
