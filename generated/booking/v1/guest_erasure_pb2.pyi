import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EraseGuestDataRequest(_message.Message):
    __slots__ = ("guest_id", "idempotency_key")
    GUEST_ID_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    guest_id: str
    idempotency_key: str
    def __init__(self, guest_id: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class EraseGuestDataResponse(_message.Message):
    __slots__ = ("guest_id", "erase_time", "bookings_erased", "booking_groups_erased", "history_entries_erased", "idempotency_records_erased", "outbox_events_erased", "saga_records_erased")
    GUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ERASE_TIME_FIELD_NUMBER: _ClassVar[int]
    BOOKINGS_ERASED_FIELD_NUMBER: _ClassVar[int]
    BOOKING_GROUPS_ERASED_FIELD_NUMBER: _ClassVar[int]
    HISTORY_ENTRIES_ERASED_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_RECORDS_ERASED_FIELD_NUMBER: _ClassVar[int]
    OUTBOX_EVENTS_ERASED_FIELD_NUMBER: _ClassVar[int]
    SAGA_RECORDS_ERASED_FIELD_NUMBER: _ClassVar[int]
    guest_id: str
    erase_time: _timestamp_pb2.Timestamp
    bookings_erased: int
    booking_groups_erased: int
    history_entries_erased: int
    idempotency_records_erased: int
    outbox_events_erased: int
    saga_records_erased: int
    def __init__(self, guest_id: _Optional[str] = ..., erase_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., bookings_erased: _Optional[int] = ..., booking_groups_erased: _Optional[int] = ..., history_entries_erased: _Optional[int] = ..., idempotency_records_erased: _Optional[int] = ..., outbox_events_erased: _Optional[int] = ..., saga_records_erased: _Optional[int] = ...) -> None: ...
