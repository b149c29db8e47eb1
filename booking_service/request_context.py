"""What the current request is, for whichever layer needs to say so (logs, calls to the peers): its
id and its deadline, set once at the edge (the gRPC interceptor, which the REST gateway's calls
pass through too) and read by the peer clients.

The request id rule lives here, for both transports: the caller's `X-Request-Id` is kept when it is
1 to 128 characters of printable ASCII (0x20-0x7E, no leading or trailing space), so that it can go
into the peers' request headers, gRPC metadata and log lines as it is; anything else (non-ASCII such
as `café`, control characters, CR/LF, longer ids) is replaced by a fresh UUID. Never an error.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from contextvars import ContextVar

#: The longest request id kept (characters).
MAX_REQUEST_ID_LENGTH = 128

#: The id of the request being served (the caller's X-Request-Id when valid, or a new one).
request_id_var: ContextVar[str] = ContextVar("request_id", default="")

#: True while a saga compensates (undoes what a failed request did): the peer calls it makes are part
#: of the failed logical call, and the circuit breaker does not count their failures again.
compensating_var: ContextVar[bool] = ContextVar("compensating", default=False)

#: When the request being served must have its answer: a time.monotonic() value in seconds, or None
#: when it has no deadline (work outside a request: recovery, expiry).
deadline_var: ContextVar[float | None] = ContextVar("deadline", default=None)


def valid_request_id(value: str) -> bool:
    """Whether `value` may be used as a request id as it is (the rule in this module's docstring)."""
    return (
        0 < len(value) <= MAX_REQUEST_ID_LENGTH
        and value.isascii()
        and value.isprintable()
        and value[0] != " "
        and value[-1] != " "
    )


def request_id_from(given: str | bytes | None) -> str:
    """The caller's request id if it is valid, else a fresh UUID (a bytes value is never valid: gRPC
    gives bytes only for binary `-bin` metadata)."""
    if isinstance(given, str) and valid_request_id(given):
        return given
    return str(uuid.uuid4())


def remaining_seconds() -> float | None:
    """Seconds left before the current request's deadline (negative once passed), None without one."""
    deadline = deadline_var.get()
    return None if deadline is None else deadline - time.monotonic()


@contextlib.contextmanager
def compensating() -> Iterator[None]:
    """Marks the peer calls made in the block as a compensation (see compensating_var)."""
    token = compensating_var.set(True)
    try:
        yield
    finally:
        compensating_var.reset(token)
