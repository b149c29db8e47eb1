"""Kafka: the embedded broker for development and tests, and the outbox relay's publisher."""
