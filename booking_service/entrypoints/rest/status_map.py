"""The one table from gRPC status codes to HTTP statuses (grpc-gateway's).

FAILED_PRECONDITION stays 400, as in grpc-gateway and in google.rpc.Code's own HTTP mapping: an
invalid transition or a closed booking is a request that cannot succeed in the booking's current
state, and clients tell these apart by the ErrorInfo reason (INVALID_TRANSITION, BOOKING_CLOSED,
TRANSITION_TOO_EARLY), not by the HTTP status. Conflicts that a retry can resolve (VERSION_MISMATCH,
an idempotency key in progress) are ABORTED, and a taken unit is ALREADY_EXISTS: both 409.
"""

from __future__ import annotations

import grpc

HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}

CODE_BY_NUMBER: dict[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}
