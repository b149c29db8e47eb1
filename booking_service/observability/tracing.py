"""OpenTelemetry traces: a SERVER span per call, CLIENT spans per SQL statement and peer request, a
PRODUCER span per published event, and the W3C trace context passed on to the peers and, through the
outbox, into the events' message headers (Kafka's or RabbitMQ's), so that one booking can be
followed across services.

Off unless configured (OTEL_EXPORTER_OTLP_ENDPOINT, or OTEL_TRACES_EXPORTER=otlp|console): then each
hook returns at its first line, and nothing is extracted, injected or stored.

Choices:
- The module keeps its own TracerProvider rather than installing the global one, which can be set
  only once per process: configure() can run again (tests, `serve` twice in one process).
- Only the W3C trace context (traceparent, tracestate) crosses the service's boundaries, whatever
  OTEL_PROPAGATORS says: it is the contract with the peers and the event consumers, and a caller's
  baggage is not handed on to third parties.
- Spans carry no guest data: no request bodies, no SQL parameters (see sql_tracing.py), and the
  type of an error rather than its message.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from importlib import metadata

import grpc
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from booking_service.config import Settings

TRACE_HEADERS = ("traceparent", "tracestate")
_W3C = TraceContextTextMapPropagator()
#: Calls that make no span: probes would drown the traces.
_UNTRACED = ("/grpc.health.",)
#: gRPC codes that are the server's failure, not the caller's (OpenTelemetry's gRPC conventions).
_SERVER_ERRORS = {
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.UNIMPLEMENTED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DATA_LOSS,
}
_WORD_OR_VERSION = re.compile(r"[a-z-]*|v\d+")

#: The tracer spans come from; None while tracing is off.
_tracer: trace.Tracer | None = None


class Tracing:
    """Tracing as configured; shutdown() exports what is still buffered and turns tracing off."""

    def __init__(self, provider: TracerProvider | None = None, tracer: trace.Tracer | None = None) -> None:
        self._provider, self._tracer = provider, tracer

    @property
    def enabled(self) -> bool:
        return self._provider is not None

    def force_flush(self) -> None:
        if self._provider is not None:
            self._provider.force_flush()

    def __enter__(self) -> Tracing:
        return self

    def __exit__(self, *_: object) -> None:
        self.shutdown()

    def shutdown(self) -> None:
        global _tracer
        if self._provider is None:
            return
        if _tracer is self._tracer:
            _tracer = None
        self._provider.shutdown()
        self._provider = None


def configure(settings: Settings, *, processor: SpanProcessor | None = None) -> Tracing:
    """Tracing per OTEL_TRACES_EXPORTER; `processor` sends the spans elsewhere instead (tests)."""
    global _tracer
    if processor is None:
        exporter = _exporter(settings)
        if exporter is None:
            _tracer = None
            return Tracing()
        processor = BatchSpanProcessor(exporter)
    version = _version()
    provider = TracerProvider(
        resource=Resource.create(
            {
                SERVICE_NAME: settings.otel_service_name,
                SERVICE_VERSION: version,
                SERVICE_INSTANCE_ID: str(uuid.uuid4()),  # one per process (`serve --workers N`)
            }
        )
    )
    provider.add_span_processor(processor)
    _tracer = provider.get_tracer("booking_service", version)
    return Tracing(provider, _tracer)


def active_tracer() -> trace.Tracer | None:
    """The tracer of the configured tracing, or None while tracing is off."""
    return _tracer


def _exporter(settings: Settings) -> SpanExporter | None:
    if settings.otel_traces_exporter == "console":
        return ConsoleSpanExporter()
    if settings.otel_traces_exporter != "otlp":
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    # The base endpoint names no signal; without one the exporter reads its own variables.
    base = settings.otel_exporter_otlp_endpoint
    return OTLPSpanExporter(endpoint=f"{base.rstrip('/')}/v1/traces" if base else None)


def _version() -> str:
    try:
        return metadata.version("booking-service")
    except metadata.PackageNotFoundError:
        return "unknown"


# --- calls -----------------------------------------------------------------------------------------


class CallSpan:
    """The span of one call; the caller tells it the call's status code before it ends."""

    __slots__ = ("code",)

    def __init__(self) -> None:
        self.code = grpc.StatusCode.OK

    def set_code(self, code: grpc.StatusCode) -> None:
        self.code = code


@contextlib.contextmanager
def server_span(
    method: str, transport: str, metadata: Sequence[tuple[str, str | bytes]]
) -> Iterator[CallSpan]:
    """A SERVER span for an RPC (over gRPC, or REST in process), continuing the caller's trace when
    its metadata carries a traceparent. Exceptions do not mark it failed: the status code does."""
    call = CallSpan()
    tracer = _tracer
    if tracer is None or method.startswith(_UNTRACED):
        yield call
        return
    carrier = {k: v for k, v in metadata if k in TRACE_HEADERS and isinstance(v, str)}
    caller = _W3C.extract(carrier, context=otel_context.Context())
    name = method.lstrip("/")
    service, _, rpc = name.partition("/")
    attributes = {"rpc.system": "grpc", "rpc.service": service, "rpc.method": rpc, "rpc.transport": transport}
    with tracer.start_as_current_span(
        name,
        context=caller,
        kind=SpanKind.SERVER,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield call
        finally:
            span.set_attribute("rpc.grpc.status_code", call.code.value[0])
            if call.code in _SERVER_ERRORS:
                span.set_status(StatusCode.ERROR, call.code.name)


# --- peers -----------------------------------------------------------------------------------------


class PeerSpan:
    """The span of one request to a peer; told the answer's HTTP status."""

    __slots__ = ("_span",)

    def __init__(self, span: trace.Span | None) -> None:
        self._span = span

    def answered(self, status: int) -> None:
        if self._span is None:
            return
        self._span.set_attribute("http.response.status_code", status)
        if status >= 400:
            self._span.set_attribute("error.type", str(status))
            self._span.set_status(StatusCode.ERROR)


@contextlib.contextmanager
def peer_span(
    peer: str, method: str, base_url: object, path: str, headers: dict[str, str], attempt: int
) -> Iterator[PeerSpan]:
    """A CLIENT span around one HTTP request to a peer; its W3C context goes into `headers`."""
    tracer = _tracer
    if tracer is None:
        yield PeerSpan(None)
        return
    template = "/".join(s if _WORD_OR_VERSION.fullmatch(s) else "{id}" for s in path.split("/"))
    attributes: dict[str, str | int] = {
        "http.request.method": method,
        "url.full": str(base_url).rstrip("/") + path,
        "url.template": template,
        "peer.service": peer,
    }
    if attempt:
        attributes["http.request.resend_count"] = attempt
    with tracer.start_as_current_span(
        f"{method} {template}",
        kind=SpanKind.CLIENT,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        _W3C.inject(headers)
        try:
            yield PeerSpan(span)
        except BaseException as exc:
            span.set_attribute("error.type", type(exc).__name__)
            span.set_status(StatusCode.ERROR, type(exc).__name__)
            raise


# --- events ----------------------------------------------------------------------------------------


def current_trace_context() -> dict[str, str] | None:
    """The W3C headers of the current span, for the outbox to keep beside the event it writes."""
    if _tracer is None:
        return None
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier or None


class ProducerSpan:
    """The PRODUCER span of one event; `headers` are the trace headers its message carries."""

    __slots__ = ("_span", "headers")

    def __init__(self, span: trace.Span | None, headers: list[tuple[str, bytes]]) -> None:
        self._span, self.headers = span, headers

    def end(self, error: object | None) -> None:
        """On the delivery report (or once the flush is over: a second call does nothing)."""
        span, self._span = self._span, None
        if span is None:
            return
        if error is not None:
            span.set_status(StatusCode.ERROR, str(error))
        span.end()


def producer_span(
    topic: str, event_id: str, key: str, stored: object, *, routing_key: str | None = None
) -> ProducerSpan:
    """Publishing one event in the trace of the call that wrote it (`stored`: the outbox's
    trace_context, as JSON text or a mapping). With tracing off here the stored headers pass as
    they are; an event without a trace gets no span. `routing_key`: published to RabbitMQ (the
    exchange `topic`, with this routing key), else to Kafka (the topic, with message key `key`)."""
    carrier = _stored_headers(stored)
    tracer = _tracer
    if tracer is None or not carrier:
        return ProducerSpan(None, [(k, v.encode()) for k, v in carrier.items()])
    span = tracer.start_span(
        f"publish {topic}",
        context=_W3C.extract(carrier, context=otel_context.Context()),
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.operation": "publish",
            "messaging.destination.name": topic,
            "messaging.message.id": event_id,
            **(
                {"messaging.system": "kafka", "messaging.kafka.message.key": key}
                if routing_key is None
                else {
                    "messaging.system": "rabbitmq",
                    "messaging.rabbitmq.destination.routing_key": routing_key,
                }
            ),
        },
    )
    headers: dict[str, str] = {}
    _W3C.inject(headers, context=trace.set_span_in_context(span))
    return ProducerSpan(span, [(k, v.encode()) for k, v in headers.items()])


def _stored_headers(stored: object) -> dict[str, str]:
    if isinstance(stored, str):
        with contextlib.suppress(ValueError):
            stored = json.loads(stored)
    if not isinstance(stored, Mapping):
        return {}
    return {k: v for k, v in stored.items() if k in TRACE_HEADERS and isinstance(v, str)}
