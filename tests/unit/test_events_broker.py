"""EVENTS_BROKER and RABBITMQ_URL (config.py, deployment.py): one broker, fully named, refused at
start in the settings' own words when it cannot work; and the relay's rule for what a batch marks
sent (outbox_relay/publisher.py), whichever the broker."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from booking_service.adapters.outbox_relay.publisher import cloud_event_attributes, in_booking_order
from booking_service.config import ConfigError, Settings
from booking_service.entrypoints.deployment import plan

URL = "amqp://booking:s3cret@rabbitmq.internal:5672/bookings"


def test_rabbitmq_is_chosen_by_events_broker_with_its_url() -> None:
    settings = Settings.from_env({"EVENTS_BROKER": "RabbitMQ", "RABBITMQ_URL": URL})
    assert (settings.events_broker, settings.rabbitmq, settings.rabbitmq_url) == ("rabbitmq", True, URL)
    assert Settings.from_env({}).events_broker == "kafka"
    assert Settings.from_env({"EVENTS_BROKER": "rabbitmq", "RABBITMQ_URL": "amqps://mq"}).rabbitmq


@pytest.mark.parametrize(
    ("env", "refusal"),
    [
        ({"EVENTS_BROKER": "rabbitmq"}, "EVENTS_BROKER=rabbitmq needs RABBITMQ_URL, such as amqp://"),
        ({"EVENTS_BROKER": "nats"}, "EVENTS_BROKER must be one of kafka, rabbitmq, not 'nats'"),
        ({"RABBITMQ_URL": URL}, "RABBITMQ_URL is set, but events go to Kafka (EVENTS_BROKER=kafka)"),
        (
            {"EVENTS_BROKER": "rabbitmq", "RABBITMQ_URL": URL, "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092"},
            "KAFKA_BOOTSTRAP_SERVERS is set, but EVENTS_BROKER=rabbitmq publishes to RABBITMQ_URL",
        ),
        (
            {"EVENTS_BROKER": "rabbitmq", "RABBITMQ_URL": "http://booking:s3cret@rabbitmq:5672/"},
            "RABBITMQ_URL must be an amqp:// or amqps:// URL with a host, such as amqp://booking:secret@"
            "rabbitmq:5672/bookings, not 'http://booking:***@rabbitmq:5672/'",
        ),
        ({"EVENTS_BROKER": "rabbitmq", "RABBITMQ_URL": "amqp://rabbitmq:99999/"}, "RABBITMQ_URL must be"),
        ({"EVENTS_BROKER": "rabbitmq", "RABBITMQ_URL": "amqp:///vhost"}, "RABBITMQ_URL must be"),
    ],
)
def test_a_broker_setting_that_cannot_work_is_refused_by_name(env: dict[str, str], refusal: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(env)
    assert refusal in str(raised.value)
    assert "s3cret" not in str(raised.value)


def test_check_refuses_rabbitmq_without_its_url_however_the_settings_were_made() -> None:
    with pytest.raises(ConfigError, match="EVENTS_BROKER=rabbitmq needs RABBITMQ_URL"):
        Settings(events_broker="rabbitmq").check()


def test_rabbitmq_is_a_real_events_broker_named_by_its_url() -> None:
    settings = Settings(events_broker="rabbitmq", rabbitmq_url=URL, database_url="postgresql://db/bookings")
    [broker] = [d for d in plan(settings, dev=True) if d.part == "events broker"]
    assert (broker.setting, broker.mode) == ("RABBITMQ_URL", "real")
    with pytest.raises(ConfigError) as refused:  # production: the other dependencies must be real too
        plan(replace(settings, database_url=None))
    assert "DATABASE_URL (" in str(refused.value)
    assert "RABBITMQ_URL (" not in str(refused.value)


def row(row_id: int, booking: str) -> dict[str, object]:
    return {
        "id": row_id,
        "event_id": f"event-{row_id}",
        "booking_id": booking,
        "event_type": "booking.created",
        "occurred_at": datetime(2030, 1, 1, 9, 0, tzinfo=UTC),
    }


def test_a_failed_row_holds_back_every_later_row_of_its_booking_and_no_other() -> None:
    rows = [row(1, "a"), row(2, "b"), row(3, "a"), row(4, "a"), row(5, "b"), row(6, "c")]
    outcome = {1: None, 2: None, 3: "nacked", 4: None, 5: None}  # 6: no report at all
    assert in_booking_order(rows, outcome) == [1, 2, 5]


def test_the_cloudevents_attributes_are_canonical_strings_with_the_booking_as_partition_key() -> None:
    assert cloud_event_attributes(row(7, "booking-7"), "/booking-service") == {
        "specversion": "1.0",
        "id": "event-7",
        "source": "/booking-service",
        "type": "booking.created",
        "time": "2030-01-01T09:00:00Z",
        "subject": "booking-7",
        "dataschema": "type.googleapis.com/booking.v1.BookingEvent",
        "partitionkey": "booking-7",
    }
