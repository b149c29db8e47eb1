"""SQL spans: a CLIENT span per statement, in the trace of the call that runs it: the engine's
statements (trace_statements) and those run on the request pool's connections (driver_statement).

Hooked by hand on SQLAlchemy's engine events rather than with opentelemetry-instrumentation-sqlalchemy
(a beta package pinned to each SDK release, for what is a few lines here), so that two promises are
ours to keep: a span carries the statement text (its $n placeholders) but never the parameters, and a
failure carries the exception's type but never its message (PostgreSQL quotes the offending values);
guests' names, emails and phones never reach a trace. A statement outside any trace (the sweeper, the
saga recovery, the readiness probe) makes no span: every poll would be a trace of its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Protocol

from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, ExceptionContext, ExecutionContext
from sqlalchemy.ext.asyncio import AsyncEngine

from booking_service.observability import tracing

_SPAN_ATTRIBUTE = "_booking_service_span"


class Located(Protocol):
    """Whatever knows its database's URL: the engine, the request pool (adapters/connections.py)."""

    @property
    def url(self) -> URL: ...


def trace_statements(engine: AsyncEngine) -> None:
    """A CLIENT span per statement the engine runs (its events fire on the sync engine underneath,
    in a greenlet that shares the calling task's context)."""
    attributes = {
        "db.system": "postgresql",
        "db.name": engine.url.database or "",
        "server.address": engine.url.host or "",
    }

    def before(
        conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        tracer = tracing.active_tracer()
        if tracer is None or context is None or not trace.get_current_span().get_span_context().is_valid:
            return
        operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
        span = tracer.start_span(
            operation,
            kind=SpanKind.CLIENT,
            attributes={**attributes, "db.operation": operation, "db.statement": statement},
        )
        setattr(context, _SPAN_ATTRIBUTE, span)

    def after(
        conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        _end_statement(context, None)

    def failed(exception: ExceptionContext) -> None:
        _end_statement(exception.execution_context, type(exception.original_exception).__name__)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "after_cursor_execute", after)
    event.listen(engine.sync_engine, "handle_error", failed)


def _end_statement(context: ExecutionContext | None, error: str | None) -> None:
    span: trace.Span | None = getattr(context, _SPAN_ATTRIBUTE, None)
    if span is None:
        return
    setattr(context, _SPAN_ATTRIBUTE, None)
    if error is not None:
        span.set_attribute("error.type", error)
        span.set_status(StatusCode.ERROR, error)
    span.end()


@contextlib.contextmanager
def driver_statement(database: Located, statement: str) -> Iterator[None]:
    """The same span for a statement run on the driver directly (on a connection of the request
    pool, adapters/connections.py: no SQLAlchemy events fire there), with the same two promises."""
    tracer = tracing.active_tracer()
    if tracer is None or not trace.get_current_span().get_span_context().is_valid:
        yield
        return
    operation = statement.lstrip().split(None, 1)[0].upper()
    attributes = {
        "db.system": "postgresql",
        "db.name": database.url.database or "",
        "server.address": database.url.host or "",
        "db.operation": operation,
        "db.statement": statement,
    }
    with tracer.start_as_current_span(
        operation,
        kind=SpanKind.CLIENT,
        attributes=attributes,
        record_exception=False,  # the message may quote values
        set_status_on_exception=False,
    ) as span:
        try:
            yield
        except Exception as exc:
            span.set_attribute("error.type", type(exc).__name__)
            span.set_status(StatusCode.ERROR, type(exc).__name__)
            raise
