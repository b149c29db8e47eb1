"""A request's headers as the gateway reads them, and the one rule for a header given on several
lines: they are one field whose value is the lines joined by commas (RFC 9110 5.3).

Per header, by `_REPEATED` (every header not named there refuses):

- JOIN: a list field, read as the joined list, which is what its lines mean (`Accept`,
  `Transfer-Encoding`, `Tracestate`; `If-Match` too, whose list of ETags etags.py refuses as it
  refuses `If-Match: "1", "2"`).
- ABSENT: read as not given, for a header whose invalid value is already replaced rather than
  refused (`X-Request-Id`: a fresh id, as for any id that is not valid; `Traceparent`: several are
  invalid, W3C Trace Context, and an invalid one starts a new trace).
- REFUSE, the default: a header read as one value (`Idempotency-Key`, `X-Actor`, `Authorization`,
  `Grpc-Timeout`, `Content-Type`, `Content-Length`, `Grpc-Metadata-*`...) is RepeatedHeader, a 400
  naming it, when read; never one of its lines, which would be the client's guess of which wins.
  A repeated header that is never read (a second `Cookie`, `Via`) is no refusal.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping

from booking_service.domain.errors import FieldViolation


class Repeated(enum.Enum):
    JOIN = "join"
    ABSENT = "absent"
    REFUSE = "refuse"


_REPEATED = {
    "accept": Repeated.JOIN,
    "transfer-encoding": Repeated.JOIN,
    "tracestate": Repeated.JOIN,
    "if-match": Repeated.JOIN,
    "x-request-id": Repeated.ABSENT,
    "traceparent": Repeated.ABSENT,
}


class RepeatedHeader(ValueError):
    """A header read as one value was given on several lines; `violation` names it."""

    def __init__(self, name: str) -> None:
        shown = "-".join(part.capitalize() for part in name.split("-"))
        super().__init__(f"The {shown} header is given on several lines; send it once.")
        self.violation = FieldViolation(
            shown,
            f"must be given once: several {shown} lines are one list (RFC 9110 5.3), and it takes one value",
        )


class RequestHeaders(Mapping[str, str]):
    """Header names (lower case) to their values; reading a header given on several lines follows
    its rule above (RepeatedHeader for REFUSE). `in` and iteration never refuse."""

    def __init__(self, lines: Iterable[tuple[str, str]]) -> None:
        grouped: dict[str, list[str]] = {}
        for name, value in lines:
            grouped.setdefault(name.lower(), []).append(value)
        self._values: dict[str, str] = {}
        self._repeated: set[str] = set()
        for name, values in grouped.items():
            rule = _REPEATED.get(name, Repeated.REFUSE)
            if len(values) == 1 or rule is Repeated.JOIN:
                self._values[name] = ", ".join(values)
            elif rule is Repeated.REFUSE:
                self._values[name] = ""
                self._repeated.add(name)

    def __getitem__(self, name: str) -> str:
        value = self._values[name]
        if name in self._repeated:
            raise RepeatedHeader(name)
        return value

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)
