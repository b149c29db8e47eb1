"""What the current request is, for whichever layer needs to say so (logs, calls to the peers)."""

from __future__ import annotations

from contextvars import ContextVar

#: The id of the request being served (from the caller's X-Request-Id, or a new one).
request_id_var: ContextVar[str] = ContextVar("request_id", default="")
