"""The AsyncAPI document of the events: one list of event types behind the proto comment and the
document, the relay's settings and headers, minimal guest data, examples that fit their schemas,
and the committed copy current. (Validation against the official AsyncAPI 3.0.0 schema:
tests/e2e/test_asyncapi.py.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator
from referencing import Registry
from referencing.jsonschema import DRAFT7

from booking_service.adapters.kafka.publisher import kafka_headers
from booking_service.adapters.outbox_relay.relay import RelaySettings
from booking_service.adapters.rabbitmq.publisher import amqp_headers
from booking_service.config import Settings
from booking_service.domain.events import EVENT_TYPES, GUEST_CONTACT_FIELDS, GuestContact
from booking_service.entrypoints.asyncapi import build, document_for, sample, text
from booking_service.entrypoints.proto_schema import Comments

ROOT = Path(__file__).resolve().parents[2]
EVENT = "booking.v1.BookingEvent"
DEFAULTS = Settings()


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return document_for(DEFAULTS)


def test_the_event_types_are_one_list_that_the_proto_comment_and_the_document_agree_with(
    document: dict[str, Any],
) -> None:
    assert len(set(EVENT_TYPES)) == len(EVENT_TYPES) >= 15
    assert {"booking.created", "booking.status_changed", "booking.attention_resolved"} <= set(EVENT_TYPES)
    named = set(re.findall(r"booking\.[a-z_]+", Comments.packaged().of(f"{EVENT}.type")))
    assert named == set(EVENT_TYPES), "events.proto's comment of BookingEvent.type names other types"
    schemas, messages = document["components"]["schemas"], document["components"]["messages"]
    assert schemas[EVENT]["properties"]["type"]["enum"] == list(EVENT_TYPES)
    assert document["channels"]["rabbitmq"]["parameters"]["eventType"]["enum"] == list(EVENT_TYPES)
    assert messages["kafkaBookingEvent"]["headers"]["properties"]["ce_type"]["enum"] == list(EVENT_TYPES)
    assert messages["amqpBookingEvent"]["headers"]["properties"]["cloudEvents_type"]["enum"] == list(
        EVENT_TYPES
    )


def test_the_channels_are_where_the_relay_publishes() -> None:
    settings = Settings.from_env({"BOOKING_EVENTS_TOPIC": "bookings.prod"})
    document = document_for(settings)
    kafka, rabbitmq = document["channels"]["kafka"], document["channels"]["rabbitmq"]
    assert kafka["address"] == kafka["bindings"]["kafka"]["topic"] == "bookings.prod"
    exchange = rabbitmq["bindings"]["amqp"]["exchange"]
    assert exchange == {"name": "bookings.prod", "type": "topic", "durable": True, "autoDelete": False}
    assert rabbitmq["address"] == "{eventType}"  # the routing key: the event type
    assert rabbitmq["bindings"]["amqp"]["is"] == "routingKey"
    assert {s["$ref"] for s in kafka["servers"] + rabbitmq["servers"]} == {
        "#/servers/kafka",
        "#/servers/rabbitmq",
    }


def test_the_headers_are_the_ones_the_publishers_write(document: dict[str, Any]) -> None:
    example = sample.created_event(GuestContact.OMIT)
    row = sample.outbox_row(example)
    written = dict(kafka_headers(row, RelaySettings().source))
    kafka = document["components"]["messages"]["kafkaBookingEvent"]
    assert kafka["headers"]["required"] == list(written)
    assert set(kafka["headers"]["properties"]) == {*written, "traceparent", "tracestate"}
    assert kafka["examples"][0]["headers"] == written
    assert kafka["headers"]["properties"]["ce_source"]["const"] == "/booking-service"
    amqp = document["components"]["messages"]["amqpBookingEvent"]
    amqp_written = amqp_headers(row, RelaySettings().source)
    assert amqp["headers"]["required"] == list(amqp_written)
    assert amqp["examples"][0]["headers"] == amqp_written
    assert amqp["headers"]["properties"]["cloudEvents_partitionkey"]["format"] == "uuid"
    assert kafka["contentType"] == amqp["contentType"] == written["content-type"] == "application/protobuf"


def test_the_guests_contact_fields_are_marked_as_present_only_when_included(document: dict[str, Any]) -> None:
    guest = document["components"]["schemas"]["booking.v1.Guest"]["properties"]
    for name in GUEST_CONTACT_FIELDS:
        assert guest[name]["x-present-only-with"] == "EVENTS_GUEST_CONTACT=include"
        assert (
            "present only when the service runs with EVENTS_GUEST_CONTACT=include"
            in guest[name]["description"]
        )
    assert "x-present-only-with" not in guest["guest_id"]
    assert "x-present-only-with" not in guest["name"]
    comment = Comments.packaged().of(f"{EVENT}.booking")
    assert "EVENTS_GUEST_CONTACT=include" in comment
    assert all(f"`{name}`" in comment for name in GUEST_CONTACT_FIELDS)
    [omitted] = document["components"]["messages"]["kafkaBookingEvent"]["examples"]
    assert set(omitted["payload"]["booking"]["guest"]) == {"guest_id", "name"}
    [included] = build(RelaySettings(), GuestContact.INCLUDE, Comments.packaged())["components"]["messages"][
        "kafkaBookingEvent"
    ]["examples"]
    assert set(included["payload"]["booking"]["guest"]) == {"guest_id", "name", "email", "phone"}


def test_an_event_never_carries_the_bookings_history(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert "history" not in schemas["booking.v1.Booking"]["properties"]
    assert "booking.v1.BookingHistoryEntry" not in schemas  # only the history referred to it
    assert "additionalProperties" not in schemas[EVENT]  # a consumer ignores fields added later


def test_every_reference_resolves_and_the_examples_fit_their_schemas(document: dict[str, Any]) -> None:
    for ref in _refs(document):
        assert _resolve(document, ref) is not None, ref
    registry = Registry().with_resource("urn:asyncapi", DRAFT7.create_resource(document))
    for message in document["components"]["messages"].values():
        for example in message["examples"]:
            for part in ("headers", "payload"):
                schema = message[part]
                if "$ref" in schema:
                    schema = {"$ref": "urn:asyncapi" + schema["$ref"]}
                errors = list(
                    Draft7Validator(
                        schema, registry=registry, format_checker=Draft7Validator.FORMAT_CHECKER
                    ).iter_errors(example[part])
                )
                assert not errors, [e.message for e in errors]
    payload = document["components"]["messages"]["kafkaBookingEvent"]["examples"][0]["payload"]
    assert (payload["type"], payload["booking_version"], payload["booking_id"]) == (
        "booking.created",
        "1",
        sample.BOOKING_ID,
    )


def test_what_the_schema_cannot_check_holds(document: dict[str, Any]) -> None:
    """What the AsyncAPI 3 specification asks beyond its JSON Schema (the parser's checks): each
    variable in an address is declared, and an operation sends messages of its own channel."""
    for server in document["servers"].values():
        named = set(re.findall(r"{(\w+)}", server["host"] + server.get("pathname", "")))
        assert named == set(server.get("variables", {}))
    for channel in document["channels"].values():
        assert set(re.findall(r"{(\w+)}", channel["address"])) == set(channel.get("parameters", {}))
    for operation in document["operations"].values():
        channel = operation["channel"]["$ref"]
        assert all(m["$ref"].startswith(channel + "/messages/") for m in operation["messages"])


def test_the_committed_document_is_the_one_the_code_makes() -> None:
    committed = (ROOT / "generated" / "asyncapi.json").read_text(encoding="utf-8")
    assert committed == text(document_for(Settings())), "run scripts/generate.py"


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["$ref"]] if "$ref" in value else []
        return own + [ref for item in value.values() for ref in _refs(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _refs(item)]
    return []


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"{ref} is not a reference within the document"
    node: Any = document
    for part in ref[2:].split("/"):
        node = node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, dict) else None
    return node


def test_the_document_is_json_that_reads_back_the_same(document: dict[str, Any]) -> None:
    assert json.loads(text(document)) == document
