"""RabbitMQ (EVENTS_BROKER=rabbitmq): the outbox relay's publisher, to a durable topic exchange."""
