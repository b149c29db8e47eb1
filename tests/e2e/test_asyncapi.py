"""The AsyncAPI document as the REST gateway serves it, valid against the official AsyncAPI 3.0.0
schema (tests/e2e/asyncapi_validator.py), which refuses a broken one."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from booking_service.bootstrap import Application
from booking_service.config import Settings
from booking_service.entrypoints.asyncapi import document_for
from booking_service.entrypoints.rest.server import RestServer, build_gateway
from tests.e2e import asyncapi_validator

ROOT = Path(__file__).resolve().parents[2]


async def test_the_served_document_is_valid_asyncapi_3(rest: httpx.AsyncClient) -> None:
    answer = await rest.get("/asyncapi.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    document = answer.json()
    assert document == document_for(Settings())
    assert asyncapi_validator.errors(document) == []
    committed = json.loads((ROOT / "generated" / "asyncapi.json").read_text(encoding="utf-8"))
    assert asyncapi_validator.errors(committed) == []


async def test_the_served_document_describes_the_running_services_events(app: Application) -> None:
    settings = Settings.from_env({"BOOKING_EVENTS_TOPIC": "bookings.prod", "EVENTS_GUEST_CONTACT": "include"})
    server = RestServer(build_gateway(app.use_cases, app.is_ready, events=settings), "127.0.0.1", 0)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
            document = (await client.get("/asyncapi.json")).json()
    finally:
        await server.stop(0)
    assert document["channels"]["kafka"]["address"] == "bookings.prod"
    assert document["channels"]["rabbitmq"]["bindings"]["amqp"]["exchange"]["name"] == "bookings.prod"
    [example] = document["components"]["messages"]["kafkaBookingEvent"]["examples"]
    assert {"email", "phone"} <= set(example["payload"]["booking"]["guest"])
    assert asyncapi_validator.errors(document) == []


def _pop(path: str) -> Callable[[dict[str, Any]], None]:
    def breaking(document: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node = document
        for part in parents:
            node = node[part]
        del node[last]

    return breaking


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def breaking(document: dict[str, Any]) -> None:
        *parents, last = path.split("/")
        node = document
        for part in parents:
            node = node[part]
        node[last] = value

    return breaking


BREAKAGES = {
    "a server without its protocol": _pop("servers/kafka/protocol"),
    "an AsyncAPI 2 operation (publish)": _set("operations/publishToKafka/action", "publish"),
    "an AMQP exchange of no AMQP type": _set("channels/rabbitmq/bindings/amqp/exchange/type", "broadcast"),
    "a Kafka key of no JSON Schema type": _set(
        "components/messages/kafkaBookingEvent/bindings/kafka/key", {"type": "uuid"}
    ),
    "a channel parameter that is a schema": _set(
        "channels/rabbitmq/parameters/eventType", {"type": "string", "enum": ["booking.created"]}
    ),
    "an unknown version": _set("asyncapi", "3.0"),
}


@pytest.mark.parametrize("breakage", BREAKAGES.values(), ids=BREAKAGES.keys())
def test_the_validator_refuses_a_broken_document(breakage: Callable[[dict[str, Any]], None]) -> None:
    document = copy.deepcopy(document_for(Settings()))
    assert asyncapi_validator.errors(document) == []
    breakage(document)
    assert asyncapi_validator.errors(document) != []
