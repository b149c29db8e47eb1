"""The AsyncAPI 3 document of the events, generated from the proto descriptors and the relay's settings.

- Servers: Kafka (EVENTS_BROKER=kafka, KAFKA_BOOTSTRAP_SERVERS) and RabbitMQ (EVENTS_BROKER=rabbitmq,
  RABBITMQ_URL), as templates: their addresses are the deployment's, not the document's.
- Channels, from RelaySettings (what the relay publishes to): the Kafka topic (BOOKING_EVENTS_TOPIC),
  keyed by the booking id; the RabbitMQ durable topic exchange of the same name, one routing key per
  event type (domain/events.py's EVENT_TYPES, the one list of types).
- One message per broker binding, both carrying a booking.v1.BookingEvent: on the wire binary
  protobuf (`application/protobuf`, named by the `dataschema` attribute); its payload schema here is
  the event's proto3 JSON form (proto_schema.py, with the proto comments), whose `type` is one of
  EVENT_TYPES and whose guest's email and phone are marked as present only with
  EVENTS_GUEST_CONTACT=include. Headers: the CloudEvents binding of each broker (the Kafka ones as
  the relay writes them), and the W3C trace context when the change was traced.
- The example is the booking.created of a sample booking, made by event_message (sample.py).

`scripts/generate.py` writes the document for the default settings to generated/asyncapi.json (CI
fails when it is stale); the REST gateway serves the running service's at /asyncapi.json.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from google.protobuf.descriptor import Descriptor

from booking_service.adapters.kafka.publisher import producer_config
from booking_service.adapters.outbox import BOOKING_FIELDS_NOT_IN_EVENTS
from booking_service.adapters.outbox_relay.publisher import CONTENT_TYPE
from booking_service.adapters.outbox_relay.relay import RelaySettings
from booking_service.adapters.rabbitmq.publisher import APP_ID, DELIVERY_MODE, MANDATORY
from booking_service.config import Settings
from booking_service.domain.events import EVENT_TYPES, GUEST_CONTACT_FIELDS, GuestContact
from booking_service.entrypoints.asyncapi import headers, sample
from booking_service.entrypoints.asyncapi.headers import AMQP_PREFIX, KAFKA_PREFIX
from booking_service.entrypoints.events import relay_settings
from booking_service.entrypoints.proto_schema import Comments, Schemas

KAFKA_BINDINGS = "0.5.0"
AMQP_BINDINGS = "0.3.0"


def document_for(settings: Settings) -> dict[str, Any]:
    """The document of a service running with `settings`."""
    return build(relay_settings(settings), settings.events_guest_contact, Comments.packaged())


def build(relay: RelaySettings, guest_contact: GuestContact, comments: Comments) -> dict[str, Any]:
    example = sample.created_event(guest_contact)
    schemas = Schemas(comments, requests=False)
    payload = schemas.ref(cast(Descriptor, example.DESCRIPTOR))
    _mark_event_fields(schemas.components, example, guest_contact)
    row = sample.outbox_row(example)
    kafka_headers = headers.kafka(row, relay.source)
    amqp_headers = headers.amqp(row, relay.source)
    topic = relay.topic
    proto_file = example.DESCRIPTOR.file.name
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "booking-service events",
            "version": "v1",
            "description": _INFO.format(proto=proto_file, contact=guest_contact.value),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": _SERVERS,
        "channels": {
            "kafka": {
                "address": topic,
                "title": "The events topic (Kafka)",
                "description": (
                    f"The topic `{topic}` (BOOKING_EVENTS_TOPIC). Records are keyed by the booking id: "
                    "one booking's events share a partition and keep their order."
                ),
                "servers": [{"$ref": "#/servers/kafka"}],
                "messages": {"bookingEvent": {"$ref": "#/components/messages/kafkaBookingEvent"}},
                "bindings": {"kafka": {"topic": topic, "bindingVersion": KAFKA_BINDINGS}},
            },
            "rabbitmq": {
                "address": "{eventType}",
                "title": "The events exchange (RabbitMQ), by routing key",
                "description": (
                    f"The durable topic exchange `{topic}` (named like the Kafka topic: "
                    "BOOKING_EVENTS_TOPIC); each message's routing key is its event type. Bind a queue "
                    "with `booking.#` for every event, or with the types you need."
                ),
                "parameters": {
                    "eventType": {
                        "description": "The routing key: the event type.",
                        "enum": list(EVENT_TYPES),
                        "location": f"$message.header#/{AMQP_PREFIX}type",
                    }
                },
                "servers": [{"$ref": "#/servers/rabbitmq"}],
                "messages": {"bookingEvent": {"$ref": "#/components/messages/amqpBookingEvent"}},
                "bindings": {
                    "amqp": {
                        "is": "routingKey",
                        "exchange": {"name": topic, "type": "topic", "durable": True, "autoDelete": False},
                        "bindingVersion": AMQP_BINDINGS,
                    }
                },
            },
        },
        "operations": {
            "publishToKafka": {
                "action": "send",
                "channel": {"$ref": "#/channels/kafka"},
                "messages": [{"$ref": "#/channels/kafka/messages/bookingEvent"}],
                "summary": "The outbox relay publishes every committed change (EVENTS_BROKER=kafka).",
                "bindings": {
                    "kafka": {
                        "clientId": {"type": "string", "enum": [_kafka_client_id()]},
                        "bindingVersion": KAFKA_BINDINGS,
                    }
                },
            },
            "publishToRabbitmq": {
                "action": "send",
                "channel": {"$ref": "#/channels/rabbitmq"},
                "messages": [{"$ref": "#/channels/rabbitmq/messages/bookingEvent"}],
                "summary": "The outbox relay publishes every committed change (EVENTS_BROKER=rabbitmq).",
                "bindings": {
                    "amqp": {
                        "deliveryMode": int(DELIVERY_MODE),
                        "mandatory": MANDATORY,
                        "bindingVersion": AMQP_BINDINGS,
                    }
                },
            },
        },
        "components": {
            "messages": {
                "kafkaBookingEvent": _message(
                    "A booking event on Kafka",
                    _KAFKA_MESSAGE.format(topic=topic),
                    headers.schema(
                        kafka_headers, headers.kafka(sample.OTHER_ROW, relay.source), KAFKA_PREFIX
                    ),
                    payload,
                    {"kafka": {"key": _KEY, "bindingVersion": KAFKA_BINDINGS}},
                    kafka_headers,
                    example,
                ),
                "amqpBookingEvent": _message(
                    "A booking event on RabbitMQ",
                    _AMQP_MESSAGE.format(content_type=CONTENT_TYPE, app_id=APP_ID),
                    headers.schema(amqp_headers, headers.amqp(sample.OTHER_ROW, relay.source), AMQP_PREFIX),
                    payload,
                    {"amqp": {"bindingVersion": AMQP_BINDINGS}},
                    amqp_headers,
                    example,
                ),
            },
            "schemas": schemas.components,
        },
    }


def _message(
    title: str,
    description: str,
    headers: dict[str, Any],
    payload: dict[str, Any],
    bindings: dict[str, Any],
    example_headers: dict[str, str],
    example: Any,
) -> dict[str, Any]:
    return {
        "name": "BookingEvent",
        "title": title,
        "description": description,
        "contentType": CONTENT_TYPE,
        "headers": headers,
        "payload": payload,
        "bindings": bindings,
        "examples": [
            {
                "name": example.type,
                "summary": "A table for four, just booked (the event a sample booking's create wrote).",
                "headers": example_headers,
                "payload": sample.as_json(example),
            }
        ],
    }


def _mark_event_fields(components: dict[str, Any], example: Any, guest_contact: GuestContact) -> None:
    """The event's `type` is one of EVENT_TYPES; its booking has no history (and the messages only
    the history refers to are left out); the guest's contact fields may be absent."""
    event = example.DESCRIPTOR
    components[event.full_name]["properties"]["type"]["enum"] = list(EVENT_TYPES)
    booking = event.fields_by_name["booking"].message_type
    for name in BOOKING_FIELDS_NOT_IN_EVENTS:
        del components[booking.full_name]["properties"][name]
    referred = _referred(components, event.full_name)
    for name in list(components):
        if name not in referred:
            del components[name]
    guest = booking.fields_by_name["guest"].message_type
    for name in GUEST_CONTACT_FIELDS:
        field = components[guest.full_name]["properties"][name]
        field["description"] = (
            f"{field.get('description', '')} In events: present only when the service runs with "
            f"EVENTS_GUEST_CONTACT=include (this one: {guest_contact.value}); absent otherwise."
        ).strip()
        field["x-present-only-with"] = "EVENTS_GUEST_CONTACT=include"


def _referred(components: dict[str, Any], root: str) -> set[str]:
    """The schemas `root` refers to, itself included, directly or not."""
    found, todo = set(), [root]
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(ref.rsplit("/", 1)[-1] for ref in _refs(components[name]))
    return found


def _refs(value: Any) -> list[str]:
    if isinstance(value, dict):
        own = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return own + [ref for item in value.values() for ref in _refs(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in _refs(item)]
    return []


def _kafka_client_id() -> str:
    client_id: str = producer_config("", timedelta(seconds=1))["client.id"]
    return client_id


_KEY = {"type": "string", "format": "uuid", "description": "The booking id (the payload's `booking_id`)."}
_SERVERS = {
    "kafka": {
        "host": "{bootstrapServer}",
        "protocol": "kafka",
        "title": "Kafka (EVENTS_BROKER=kafka, the default)",
        "description": (
            "The brokers of KAFKA_BOOTSTRAP_SERVERS (`kafka-secure` with KAFKA_SECURITY_PROTOCOL SSL or "
            "SASL_SSL). With none set, `booking-service serve` starts an embedded broker on loopback "
            "and logs its address."
        ),
        "variables": {
            "bootstrapServer": {"default": "localhost:9092", "description": "One of KAFKA_BOOTSTRAP_SERVERS."}
        },
    },
    "rabbitmq": {
        "host": "{host}:{port}",
        "pathname": "{vhost}",
        "protocol": "amqp",
        "title": "RabbitMQ (EVENTS_BROKER=rabbitmq)",
        "description": "The broker of RABBITMQ_URL (`amqps` for an amqps:// URL).",
        "variables": {
            "host": {"default": "localhost", "description": "RABBITMQ_URL's host."},
            "port": {"default": "5672", "description": "RABBITMQ_URL's port."},
            "vhost": {"default": "/", "description": "RABBITMQ_URL's virtual host."},
        },
    },
}
_INFO = """Every committed change of a booking, published through a transactional outbox to one broker
(EVENTS_BROKER): Kafka or RabbitMQ. Each message is one booking.v1.BookingEvent ({proto}) in binary
protobuf; the payload schemas below are its proto3 JSON form (proto field names; fields at their
default value, such as an empty string, are absent), with the proto comments.

- Delivery is at least once: deduplicate by `event_id` (the CloudEvents `id` header).
- One booking's events keep their order; `booking_version` rises by one with every change of the
  booking, so a consumer can tell a gap or a repeat. A status change is published twice, as
  booking.status_changed and as its specific event, at the same version.
- Minimal personal data: the booking's guest is named by `guest_id` and `name`; `email` and `phone`
  are present only when the service runs with EVENTS_GUEST_CONTACT=include (this one: {contact}).
- Fields that only some types carry (`previous_status`, `change`, `payment_change`, `saga_id`,
  `group_id`, ...) are absent from the others; each field's description says when it is there."""
_KAFKA_MESSAGE = """A record of the topic `{topic}`: the key is the booking id, the value the serialized
BookingEvent, the headers the CloudEvents Kafka binding in binary mode (`ce_` attributes and
`content-type`)."""
_AMQP_MESSAGE = """A persistent message on the exchange, routed by its event type: the body is the serialized
BookingEvent; the properties carry `content_type` ({content_type}), `message_id` (the event id),
`type` (the event type), `timestamp` (the event's time) and `app_id` ({app_id}); the headers the
CloudEvents AMQP binding in binary mode (`cloudEvents_` attributes, `cloudEvents_partitionkey` being
the booking id). Not `mandatory`: a message no queue is bound for is dropped, so bind a durable
queue before the events you need are published."""
