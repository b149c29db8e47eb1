import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.type import date_pb2 as _date_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SlotStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SLOT_STATUS_UNSPECIFIED: _ClassVar[SlotStatus]
    SLOT_STATUS_AVAILABLE: _ClassVar[SlotStatus]
    SLOT_STATUS_UNAVAILABLE: _ClassVar[SlotStatus]

class SlotUnavailableReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SLOT_UNAVAILABLE_REASON_UNSPECIFIED: _ClassVar[SlotUnavailableReason]
    SLOT_UNAVAILABLE_REASON_IN_THE_PAST: _ClassVar[SlotUnavailableReason]
    SLOT_UNAVAILABLE_REASON_OUTSIDE_VENUE_RULES: _ClassVar[SlotUnavailableReason]
    SLOT_UNAVAILABLE_REASON_BOOKED: _ClassVar[SlotUnavailableReason]
    SLOT_UNAVAILABLE_REASON_SOLD_OUT: _ClassVar[SlotUnavailableReason]
SLOT_STATUS_UNSPECIFIED: SlotStatus
SLOT_STATUS_AVAILABLE: SlotStatus
SLOT_STATUS_UNAVAILABLE: SlotStatus
SLOT_UNAVAILABLE_REASON_UNSPECIFIED: SlotUnavailableReason
SLOT_UNAVAILABLE_REASON_IN_THE_PAST: SlotUnavailableReason
SLOT_UNAVAILABLE_REASON_OUTSIDE_VENUE_RULES: SlotUnavailableReason
SLOT_UNAVAILABLE_REASON_BOOKED: SlotUnavailableReason
SLOT_UNAVAILABLE_REASON_SOLD_OUT: SlotUnavailableReason

class SearchAvailableSlotsRequest(_message.Message):
    __slots__ = ("venue_id", "local_date", "party_size", "duration", "unit_ids", "slot_step", "time_range")
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    LOCAL_DATE_FIELD_NUMBER: _ClassVar[int]
    PARTY_SIZE_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    UNIT_IDS_FIELD_NUMBER: _ClassVar[int]
    SLOT_STEP_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    venue_id: str
    local_date: _date_pb2.Date
    party_size: int
    duration: _duration_pb2.Duration
    unit_ids: _containers.RepeatedScalarFieldContainer[str]
    slot_step: _duration_pb2.Duration
    time_range: SlotTimeRange
    def __init__(self, venue_id: _Optional[str] = ..., local_date: _Optional[_Union[_date_pb2.Date, _Mapping]] = ..., party_size: _Optional[int] = ..., duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., unit_ids: _Optional[_Iterable[str]] = ..., slot_step: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., time_range: _Optional[_Union[SlotTimeRange, _Mapping]] = ...) -> None: ...

class SlotTimeRange(_message.Message):
    __slots__ = ("start_time", "end_time")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SearchAvailableSlotsResponse(_message.Message):
    __slots__ = ("slots", "time_zone")
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    slots: _containers.RepeatedCompositeFieldContainer[AvailabilitySlot]
    time_zone: str
    def __init__(self, slots: _Optional[_Iterable[_Union[AvailabilitySlot, _Mapping]]] = ..., time_zone: _Optional[str] = ...) -> None: ...

class AvailabilitySlot(_message.Message):
    __slots__ = ("start_time", "end_time", "status", "reasons", "free_unit_ids", "remaining_capacity", "local_start_time", "rule_violations")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    FREE_UNIT_IDS_FIELD_NUMBER: _ClassVar[int]
    REMAINING_CAPACITY_FIELD_NUMBER: _ClassVar[int]
    LOCAL_START_TIME_FIELD_NUMBER: _ClassVar[int]
    RULE_VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    status: SlotStatus
    reasons: _containers.RepeatedScalarFieldContainer[SlotUnavailableReason]
    free_unit_ids: _containers.RepeatedScalarFieldContainer[str]
    remaining_capacity: int
    local_start_time: str
    rule_violations: _containers.RepeatedCompositeFieldContainer[SlotRuleViolation]
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[SlotStatus, str]] = ..., reasons: _Optional[_Iterable[_Union[SlotUnavailableReason, str]]] = ..., free_unit_ids: _Optional[_Iterable[str]] = ..., remaining_capacity: _Optional[int] = ..., local_start_time: _Optional[str] = ..., rule_violations: _Optional[_Iterable[_Union[SlotRuleViolation, _Mapping]]] = ...) -> None: ...

class SlotRuleViolation(_message.Message):
    __slots__ = ("field", "description")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    field: str
    description: str
    def __init__(self, field: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...
