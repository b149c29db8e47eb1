"""The OpenAPI document, the offline docs pages, and a schema-driven fuzz run against the gateway."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import httpx
import pytest
from openapi_spec_validator import validate

SEED_PATHS = {
    ("post", "/api/v1/bookings"),
    ("get", "/api/v1/bookings/{booking_id}"),
    ("get", "/api/v1/bookings/reference/{booking_reference}"),
    ("put", "/api/v1/bookings/{booking_id}"),
    ("post", "/api/v1/bookings/{booking_id}/cancel"),
    ("post", "/api/v1/bookings/{booking_id}/status"),
    ("get", "/api/v1/bookings/guest/{guest_id}"),
    ("get", "/api/v1/bookings/venue/{venue_id}"),
    ("post", "/api/v1/bookings/availability/check"),
}


async def test_the_document_is_valid_openapi_3_with_every_seed_path(rest: httpx.AsyncClient) -> None:
    document = (await rest.get("/openapi.json")).json()
    validate(document)
    assert document["openapi"].startswith("3.")
    assert {
        (verb, path) for path, operations in document["paths"].items() for verb in operations
    } == SEED_PATHS


async def test_the_document_carries_the_proto_comments_and_shapes(rest: httpx.AsyncClient) -> None:
    document = (await rest.get("/openapi.json")).json()
    create = document["paths"]["/api/v1/bookings"]["post"]
    assert create["description"].startswith("Creates a booking in status PENDING")
    assert create["responses"]["default"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/google.rpc.Status"
    }
    booking = document["components"]["schemas"]["booking.v1.Booking"]
    assert booking["properties"]["version"]["type"] == "string"  # int64, as proto3 JSON writes it
    assert booking["properties"]["start_time"]["format"] == "date-time"
    assert booking["properties"]["status"]["enum"][1] == "BOOKING_STATUS_PENDING"
    assert booking["properties"]["booking_id"]["readOnly"] is True
    assert "UUID" in booking["properties"]["booking_id"]["description"]
    listing = document["paths"]["/api/v1/bookings/venue/{venue_id}"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert {"venue_id", "page_size", "page_token", "filters.statuses", "filters.local_date.year"} <= names
    cancel = document["paths"]["/api/v1/bookings/{booking_id}/cancel"]["post"]
    body = cancel["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "booking_id" not in document["components"]["schemas"][body]["properties"]  # it is in the path
    assert {"Idempotency-Key", "If-Match"} <= {p["name"] for p in cancel["parameters"]}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_pages_load_nothing_from_the_network(rest: httpx.AsyncClient, page: str) -> None:
    html = (await rest.get(page)).text
    assert not re.search(r"https?://", html)
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', html)
    assert assets
    for asset in assets:
        response = await rest.get(asset)
        assert response.status_code == 200, asset
        assert len(response.content) > 100


@pytest.mark.slow
async def test_a_schema_driven_fuzz_run_finds_no_server_error(
    rest: httpx.AsyncClient, tmp_path: Path
) -> None:
    schemathesis = Path(sys.executable).parent / "schemathesis"
    process = await asyncio.create_subprocess_exec(
        str(schemathesis),
        "run",
        str(rest.base_url).rstrip("/") + "/openapi.json",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        "25",
        "--seed",
        "20261126",
        "--generation-database",
        "none",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=tmp_path,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=300)
    report = output.decode()
    assert process.returncode == 0, report
    assert re.search(r"\d+ generated, \d+ passed", report), report
