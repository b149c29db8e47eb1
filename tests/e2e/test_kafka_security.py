"""The Kafka security settings reach the wire (issue 15), as far as this machine allows: librdkafka's
mock cluster (the test broker) speaks plaintext only, so a relay producer configured for SASL is seen
to ask for SASL and be refused, and one configured without is served."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from confluent_kafka import KafkaException, Producer

from booking_service.adapters.kafka.embedded_broker import EmbeddedKafka
from booking_service.adapters.kafka.publisher import producer_config
from booking_service.adapters.kafka.security import KafkaSecurity

PLAIN = KafkaSecurity(protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_username="u", sasl_password="p")


def test_a_sasl_producer_asks_the_broker_for_sasl(
    kafka: EmbeddedKafka, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="booking_service.kafka")
    producer = Producer(producer_config(kafka.bootstrap_servers, timedelta(seconds=2), PLAIN))
    with pytest.raises(KafkaException):
        producer.list_topics(timeout=3)
    producer.poll(0.5)  # delivers librdkafka's log lines to the logger
    assert any("sasl_plaintext://" in r.getMessage() for r in caplog.records), caplog.text


def test_a_plaintext_producer_is_served(kafka: EmbeddedKafka) -> None:
    producer = Producer(producer_config(kafka.bootstrap_servers, timedelta(seconds=2), KafkaSecurity()))
    assert producer.list_topics(timeout=5).brokers
