import datetime

from booking.v1 import booking_pb2 as _booking_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BookingEvent(_message.Message):
    __slots__ = ("event_id", "type", "event_time", "booking_id", "booking_version", "previous_status", "status", "reason", "actor", "source", "booking", "change", "payment_change", "saga_id", "group_id")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    BOOKING_ID_FIELD_NUMBER: _ClassVar[int]
    BOOKING_VERSION_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATUS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    BOOKING_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_CHANGE_FIELD_NUMBER: _ClassVar[int]
    SAGA_ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    type: str
    event_time: _timestamp_pb2.Timestamp
    booking_id: str
    booking_version: int
    previous_status: _booking_pb2.BookingStatus
    status: _booking_pb2.BookingStatus
    reason: str
    actor: str
    source: _booking_pb2.ChangeSource
    booking: _booking_pb2.Booking
    change: BookingChange
    payment_change: PaymentChange
    saga_id: str
    group_id: str
    def __init__(self, event_id: _Optional[str] = ..., type: _Optional[str] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., booking_id: _Optional[str] = ..., booking_version: _Optional[int] = ..., previous_status: _Optional[_Union[_booking_pb2.BookingStatus, str]] = ..., status: _Optional[_Union[_booking_pb2.BookingStatus, str]] = ..., reason: _Optional[str] = ..., actor: _Optional[str] = ..., source: _Optional[_Union[_booking_pb2.ChangeSource, str]] = ..., booking: _Optional[_Union[_booking_pb2.Booking, _Mapping]] = ..., change: _Optional[_Union[BookingChange, _Mapping]] = ..., payment_change: _Optional[_Union[PaymentChange, _Mapping]] = ..., saga_id: _Optional[str] = ..., group_id: _Optional[str] = ...) -> None: ...

class PaymentChange(_message.Message):
    __slots__ = ("amount", "refund_id")
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    amount: _booking_pb2.Money
    refund_id: str
    def __init__(self, amount: _Optional[_Union[_booking_pb2.Money, _Mapping]] = ..., refund_id: _Optional[str] = ...) -> None: ...

class BookingChange(_message.Message):
    __slots__ = ("changed_fields", "previous_start_time", "previous_end_time", "previous_unit_id")
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_START_TIME_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_END_TIME_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_UNIT_ID_FIELD_NUMBER: _ClassVar[int]
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    previous_start_time: _timestamp_pb2.Timestamp
    previous_end_time: _timestamp_pb2.Timestamp
    previous_unit_id: str
    def __init__(self, changed_fields: _Optional[_Iterable[str]] = ..., previous_start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., previous_end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., previous_unit_id: _Optional[str] = ...) -> None: ...
