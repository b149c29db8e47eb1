"""What the service serves, in one place: its servicers and the interceptors every call passes.

The network server and the in-process invoker of the REST gateway are both built from these, so a
call takes the same path whichever transport brought it.
"""

from __future__ import annotations

from typing import Any

import grpc
from booking.v1 import booking_pb2, booking_pb2_grpc

from booking_service.entrypoints.auth.guard import CallGuard
from booking_service.entrypoints.grpc.interceptors import ServiceInterceptor
from booking_service.entrypoints.grpc.limits import CallLimits
from booking_service.entrypoints.grpc.raw_requests import RawRequests
from booking_service.entrypoints.grpc.servicer import BookingServicer
from booking_service.service_layer.use_cases import UseCases

SERVICE = booking_pb2.DESCRIPTOR.services_by_name["BookingService"]


def interceptors(
    guard: CallGuard | None = None, limits: CallLimits | None = None
) -> list[grpc.aio.ServerInterceptor]:
    """The chain every call passes; build it once and give it to both servers, so that the limits on
    calls in flight count both transports. Without a guard the service is open (anyone, every scope)."""
    return [ServiceInterceptor(guard, limits)]


def add_servicers(use_cases: UseCases, server: Any, *, raw_requests: bool = False) -> None:
    """Registers the servicers on a grpc.aio server (or anything with its registration methods).
    With raw_requests (the network server) requests arrive as bytes and the interceptor decodes
    them (raw_requests.py); without (the REST gateway, in process) they arrive as messages."""
    target: Any = RawRequests(server) if raw_requests else server
    booking_pb2_grpc.add_BookingServiceServicer_to_server(BookingServicer(use_cases), target)
