"""The outbox relay, whichever the broker: relay.py reads the outbox and marks what the broker
acknowledged; publisher.py is what it asks of a broker (adapters/kafka/, adapters/rabbitmq/)."""
