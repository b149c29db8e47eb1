"""The descriptor pool that server reflection reads, able to find methods and enum values.

The default (upb) pool finds the file of a message, field, enum or service, but not of a method or
an enum value, so `grpcurl describe booking.v1.BookingService.CreateBooking` would fail. Those
live in the same file as their parent, which the pool does find.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor, descriptor_pool


class ReflectionPool:
    def __init__(self, pool: descriptor_pool.DescriptorPool | None = None) -> None:
        self._pool = pool or descriptor_pool.Default()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)

    def FindFileContainingSymbol(self, symbol: str) -> descriptor.FileDescriptor:
        try:
            return self._pool.FindFileContainingSymbol(symbol)
        except KeyError:
            parent = symbol.rpartition(".")[0]
            if not parent:
                raise
            return self._pool.FindFileContainingSymbol(parent)
