"""The events side of the service: the broker (Kafka, configured or embedded, or RabbitMQ), the
outbox relay, and `booking-service events tail`, a consumer that prints decoded events for debugging
(Kafka's; RabbitMQ's is rabbitmq_tail.py)."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TextIO

from booking.v1 import booking_pb2
from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from google.protobuf import json_format

from booking_service.adapters.database import open_session
from booking_service.adapters.kafka.embedded_broker import EmbeddedKafka
from booking_service.adapters.kafka.publisher import kafka_publisher
from booking_service.adapters.outbox_relay.publisher import Publisher
from booking_service.adapters.outbox_relay.relay import OutboxRelay, RelaySettings
from booking_service.adapters.rabbitmq.publisher import BrokerRefused, check_broker, rabbit_publisher
from booking_service.bootstrap import session_limits
from booking_service.config import ConfigError, Settings
from booking_service.entrypoints import running

log = logging.getLogger("booking_service")
TOPIC_PARTITIONS = 4
#: How long serve waits at start for RabbitMQ to answer its check (a refusal stops the start; no
#: answer only delays the events).
BROKER_CHECK_SECONDS = 5.0
#: The logger librdkafka's own messages go to.
KAFKA_LOG = "booking_service.kafka"


def address_file(settings: Settings) -> Path:
    """Where `serve` writes the embedded broker's address while it runs, for `events tail` and kcat."""
    return settings.data_dir / running.BROKER


@contextlib.asynccontextmanager
async def events_broker(settings: Settings) -> AsyncIterator[str]:
    """RABBITMQ_URL (EVENTS_BROKER=rabbitmq), KAFKA_BOOTSTRAP_SERVERS, or an embedded Kafka broker's
    address while it runs. A broker that does not answer is no reason not to start: the events wait
    in the outbox until it does (the relay logs it, and the outbox gauges of /metrics show it)."""
    if settings.rabbitmq and settings.rabbitmq_url:
        try:
            await check_broker(settings.rabbitmq_url, settings.events_topic, BROKER_CHECK_SECONDS)
        except BrokerRefused as refused:
            raise ConfigError(
                f"{refused}: check RABBITMQ_URL (user, password, vhost) and BOOKING_EVENTS_TOPIC"
            ) from None
        yield settings.rabbitmq_url
        return
    if settings.kafka_bootstrap_servers:
        yield settings.kafka_bootstrap_servers
        return
    broker = EmbeddedKafka()
    try:
        broker.create_topic(settings.events_topic, TOPIC_PARTITIONS)
        log.warning(
            "KAFKA_BOOTSTRAP_SERVERS is not set: events go to an embedded broker (in memory)",
            extra={
                "bootstrap_servers": broker.bootstrap_servers,
                "topic": settings.events_topic,
                "try": f"kcat -b {broker.bootstrap_servers} -t {settings.events_topic} -C",
            },
        )
        with running.published(settings, running.BROKER, broker.bootstrap_servers):
            yield broker.bootstrap_servers
    finally:
        broker.close()


def relay_settings(settings: Settings) -> RelaySettings:
    """What the outbox relay publishes to and how; the AsyncAPI document describes the same."""
    return RelaySettings(
        topic=settings.events_topic,
        delivery_timeout=settings.events_delivery_timeout,
        retention=settings.outbox_retention,
    )


def build_relay(settings: Settings, database_url: str, broker: str) -> OutboxRelay:
    """The relay on a session of its own (Settings.session_url: its advisory locks and LISTEN stay
    with that session), held to the service's limits, publishing to `broker` (events_broker's
    address: RabbitMQ's URL, or Kafka's bootstrap servers); ConfigError as session_url raises it."""
    publishing = relay_settings(settings)
    publisher: Publisher
    if settings.rabbitmq:
        publisher = rabbit_publisher(broker, publishing)
    else:
        # The embedded broker speaks plaintext only: the security settings are for the configured one.
        security = settings.kafka_security if settings.kafka_bootstrap_servers else None
        publisher = kafka_publisher(broker, publishing, security)
    connect = functools.partial(
        open_session,
        limits=session_limits(settings),
        application="booking-service-relay",
        # Behind PgBouncer (DATABASE_SESSION_URL may be a session-mode pool) the limits are SET.
        startup=not settings.db_transaction_pooling,
    )
    return OutboxRelay(settings.session_url(database_url), publisher, publishing, connect=connect)


class BrokerUnavailable(Exception):
    """`events tail` has no broker to read: none is named or running, none answered within the
    timeout, the topic is missing, or the broker failed; the message says where it looked and what
    to do."""


#: How long `events tail` waits for the broker's first answer by default (seconds), and the longest
#: it may be told to wait (librdkafka takes its timeouts in milliseconds, in an int).
TAIL_TIMEOUT_SECONDS = 5.0
TAIL_TIMEOUT_MAX_SECONDS = 3600.0
#: The errors librdkafka reports (to its error callback) when it has lost its brokers.
_BROKERS_LOST = (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT, KafkaError._RESOLVE)


def tail(
    settings: Settings,
    *,
    bootstrap_servers: str | None,
    from_beginning: bool,
    max_messages: int | None,
    idle_timeout: float | None,
    timeout: float = TAIL_TIMEOUT_SECONDS,
    out: TextIO = sys.stdout,
) -> int:
    """Prints the topic's events as JSON lines (headers, key, decoded BookingEvent) until stopped,
    `max_messages` are printed, or none came for `idle_timeout` seconds. The broker must answer within
    `timeout` seconds, at first and whenever it goes quiet or away; raises BrokerUnavailable
    otherwise (and when it fails while read)."""
    servers, source = _broker(settings, bootstrap_servers)
    embedded = source.startswith("the embedded")  # plaintext: the security settings are for real ones
    watch = _Connection()
    consumer = Consumer(
        {
            **({} if embedded else settings.kafka_security.client_config()),
            "bootstrap.servers": servers,
            "group.id": f"booking-events-tail-{uuid.uuid4()}",
            "auto.offset.reset": "earliest" if from_beginning else "latest",
            "enable.auto.commit": False,
            "logger": logging.getLogger(KAFKA_LOG),
            "error_cb": watch.error,
        }
    )
    # librdkafka's complaints about its connections are left out, while it connects and after (a
    # broker that goes away is retried some 20 times a second): a failure is one line. They reach
    # the log when the consumer is polled or closed, so the level stays up until it is closed.
    kafka_log = logging.getLogger(KAFKA_LOG)
    level = kafka_log.level
    kafka_log.setLevel(logging.CRITICAL)
    try:
        partitions = _partitions(consumer, settings.events_topic, servers, source, timeout)
        start = OFFSET_BEGINNING if from_beginning else OFFSET_END
        # Every partition, assigned directly: no consumer-group join to wait for.
        consumer.assign([TopicPartition(settings.events_topic, p, start) for p in partitions])
        stream = _Stream(consumer, settings.events_topic, servers, source, timeout, watch)
        stream.print_events(max_messages, idle_timeout, out)
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
        kafka_log.setLevel(level)
    return 0


def _broker(settings: Settings, bootstrap_servers: str | None) -> tuple[str, str]:
    """The broker's address and where it came from; BrokerUnavailable when nothing names one."""
    if bootstrap_servers:
        return bootstrap_servers, "from --bootstrap-servers"
    if settings.kafka_bootstrap_servers:
        return settings.kafka_bootstrap_servers, "from KAFKA_BOOTSTRAP_SERVERS"
    path = address_file(settings)
    found = path.read_text().strip() if path.is_file() else ""
    if found:
        return found, f"the embedded broker's address, read from {path}"
    raise BrokerUnavailable(
        f"no broker to read: KAFKA_BOOTSTRAP_SERVERS is not set, and no `booking-service serve` with "
        f"an embedded broker runs on data directory {settings.data_dir} (while it runs, it writes the "
        f"broker's address to {path}): start `booking-service serve` (with the same --data-dir), or "
        "pass --bootstrap-servers HOST:PORT"
    )


def _partitions(consumer: Consumer, topic: str, servers: str, source: str, timeout: float) -> list[int]:
    """The topic's partitions, once the broker answers within `timeout` seconds."""
    try:
        found = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
    except KafkaException as error:
        remedy = (
            "is the `booking-service serve` that wrote it still running? Start it, or pass "
            "--bootstrap-servers HOST:PORT"
            if source.startswith("the embedded")
            else "check the address, that the broker runs, and the KAFKA_SECURITY_PROTOCOL settings; "
            "or wait longer with --timeout SECONDS"
        )
        raise BrokerUnavailable(
            f"no Kafka broker answered at {servers} within {timeout:g} s ({source}; "
            f"{error.args[0].str()}): {remedy}"
        ) from None
    if found is None or found.error is not None or not found.partitions:
        raise BrokerUnavailable(
            f"the broker at {servers} has no topic {topic}: check BOOKING_EVENTS_TOPIC, or start "
            "`booking-service serve` on this broker once (it publishes there)"
        )
    return sorted(found.partitions)


class _Connection:
    """What librdkafka's error callback (served by poll) said about the brokers: since when they are
    lost, and why (None while they answer)."""

    def __init__(self) -> None:
        self.lost_since: float | None = None
        self.why = ""
        self.fatal = ""

    def error(self, error: KafkaError) -> None:
        if error.code() in _BROKERS_LOST:
            if self.lost_since is None:
                self.lost_since = time.monotonic()
            self.why = error.str()
        elif error.fatal():  # the client cannot go on: no use waiting
            self.fatal = error.str()

    def answered(self) -> None:
        self.lost_since, self.why = None, ""


class _Stream:
    """The assigned consumer, read until done; the broker must answer within `timeout` seconds of
    going away (librdkafka says so) or quiet (neither an event nor metadata from it since)."""

    POLL_SECONDS = 0.5

    def __init__(
        self, consumer: Consumer, topic: str, servers: str, source: str, timeout: float, watch: _Connection
    ) -> None:
        self.consumer, self.topic, self.servers, self.source = consumer, topic, servers, source
        self.timeout, self.watch = timeout, watch

    def print_events(self, max_messages: int | None, idle_timeout: float | None, out: TextIO) -> None:
        seen = 0
        last_event = last_answer = time.monotonic()
        while max_messages is None or seen < max_messages:
            message = self.consumer.poll(self.POLL_SECONDS)
            now = time.monotonic()
            if self.watch.fatal:
                raise BrokerUnavailable(f"the broker at {self.servers} failed while read: {self.watch.fatal}")
            if message is None:
                if self.watch.lost_since is not None or now - last_answer >= self.timeout:
                    self._still_there()
                    last_answer = time.monotonic()
                if idle_timeout is not None and now - last_event >= idle_timeout:
                    return
                continue
            problem = message.error()
            if problem is not None:
                raise BrokerUnavailable(f"the broker at {self.servers} failed while read: {problem.str()}")
            last_event = last_answer = now
            self.watch.answered()
            event = booking_pb2.BookingEvent.FromString(message.value() or b"")
            line = {
                "partition": message.partition(),
                "offset": message.offset(),
                "key": (message.key() or b"").decode(),
                "headers": _headers(message.headers()),
                "event": json_format.MessageToDict(event, preserving_proto_field_name=True),
            }
            print(json.dumps(line), file=out, flush=True)
            seen += 1

    def _still_there(self) -> None:
        """Asks the broker for the topic's metadata, waiting what is left of `timeout` since it went
        away (or all of it, when it only went quiet); BrokerUnavailable if it does not answer."""
        lost_since = self.watch.lost_since
        left = self.timeout if lost_since is None else self.timeout - (time.monotonic() - lost_since)
        try:
            self.consumer.list_topics(self.topic, timeout=max(left, 0.001))
        except KafkaException as error:
            why = self.watch.why or error.args[0].str()
            remedy = (
                "is the `booking-service serve` that wrote it still running? Start it again (or pass "
                "--bootstrap-servers HOST:PORT) and run events tail again"
                if self.source.startswith("the embedded")
                else "check that the broker runs and this machine reaches it, and run events tail "
                "again; or wait longer with --timeout SECONDS"
            )
            raise BrokerUnavailable(
                f"lost the Kafka broker at {self.servers}: no answer for {self.timeout:g} s "
                f"({self.source}; {why}): {remedy}"
            ) from None
        self.watch.answered()


def _headers(headers: Any) -> dict[str, str]:
    pairs = headers.items() if isinstance(headers, dict) else (headers or [])
    return {str(k): v.decode(errors="replace") if isinstance(v, bytes) else str(v or "") for k, v in pairs}
