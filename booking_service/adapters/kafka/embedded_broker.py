"""An embedded Kafka-protocol broker: librdkafka's mock cluster, for development and tests.

confluent-kafka bundles librdkafka, whose mock cluster is a real Kafka-protocol broker on
loopback (producers, consumers and consumer groups of any client can use it, kcat included). Its
control API (bootstrap address, broker down and up) is not in the Python binding, so this module
calls it through ctypes on the bundled library. It keeps messages in memory: fine for development
and tests, never for production (set KAFKA_BOOTSTRAP_SERVERS there).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import confluent_kafka

_PRODUCER = 0  # rd_kafka_type_t RD_KAFKA_PRODUCER


def _library() -> ctypes.CDLL:
    package = Path(confluent_kafka.__file__).resolve().parent
    candidates = sorted((package.parent / "confluent_kafka.libs").glob("librdkafka*.so*")) + sorted(
        package.glob("**/librdkafka*.so*")
    )
    if not candidates:
        raise RuntimeError("the librdkafka bundled with confluent-kafka was not found")
    lib = ctypes.CDLL(str(candidates[0]))
    lib.rd_kafka_conf_new.restype = ctypes.c_void_p
    lib.rd_kafka_conf_set.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_size_t,
    ]
    lib.rd_kafka_new.restype = ctypes.c_void_p
    lib.rd_kafka_new.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.rd_kafka_destroy.argtypes = [ctypes.c_void_p]
    lib.rd_kafka_mock_cluster_new.restype = ctypes.c_void_p
    lib.rd_kafka_mock_cluster_new.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.rd_kafka_mock_cluster_bootstraps.restype = ctypes.c_char_p
    lib.rd_kafka_mock_cluster_bootstraps.argtypes = [ctypes.c_void_p]
    lib.rd_kafka_mock_cluster_destroy.argtypes = [ctypes.c_void_p]
    lib.rd_kafka_mock_topic_create.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
    for name in ("rd_kafka_mock_broker_set_down", "rd_kafka_mock_broker_set_up"):
        getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_int32]
    return lib


class EmbeddedKafka:
    """A one-broker mock cluster on loopback; `bootstrap_servers` is its address."""

    BROKER_ID = 1

    def __init__(self) -> None:
        self._lib = _library()
        errors = ctypes.create_string_buffer(512)
        conf = self._lib.rd_kafka_conf_new()
        # The handle only hosts the cluster; quiet its complaint about having no brokers of its own.
        self._lib.rd_kafka_conf_set(conf, b"log_level", b"0", errors, len(errors))
        self._handle = self._lib.rd_kafka_new(_PRODUCER, conf, errors, len(errors))
        if not self._handle:
            raise RuntimeError(f"cannot start the embedded Kafka broker: {errors.value.decode()}")
        self._cluster = self._lib.rd_kafka_mock_cluster_new(self._handle, 1)
        if not self._cluster:
            self._lib.rd_kafka_destroy(self._handle)
            raise RuntimeError("cannot start the embedded Kafka broker")
        self.bootstrap_servers: str = self._lib.rd_kafka_mock_cluster_bootstraps(self._cluster).decode()

    def create_topic(self, topic: str, partitions: int = 4) -> None:
        error = self._lib.rd_kafka_mock_topic_create(self._cluster, topic.encode(), partitions, 1)
        if error:
            raise RuntimeError(f"cannot create topic {topic!r} (librdkafka error {error})")

    def set_down(self) -> None:
        """Drops every connection and refuses new ones, until set_up() (for fault tests)."""
        self._lib.rd_kafka_mock_broker_set_down(self._cluster, self.BROKER_ID)

    def set_up(self) -> None:
        self._lib.rd_kafka_mock_broker_set_up(self._cluster, self.BROKER_ID)

    def close(self) -> None:
        if self._cluster:
            self._lib.rd_kafka_mock_cluster_destroy(self._cluster)
            self._cluster = None
        if self._handle:
            self._lib.rd_kafka_destroy(self._handle)
            self._handle = None
