import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VenuePolicy(_message.Message):
    __slots__ = ("venue_id", "time_zone", "min_notice", "max_advance", "min_party_size", "max_party_size", "min_duration", "max_duration", "buffer_before", "buffer_after", "version", "update_time", "venue_fields", "history")
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    MIN_NOTICE_FIELD_NUMBER: _ClassVar[int]
    MAX_ADVANCE_FIELD_NUMBER: _ClassVar[int]
    MIN_PARTY_SIZE_FIELD_NUMBER: _ClassVar[int]
    MAX_PARTY_SIZE_FIELD_NUMBER: _ClassVar[int]
    MIN_DURATION_FIELD_NUMBER: _ClassVar[int]
    MAX_DURATION_FIELD_NUMBER: _ClassVar[int]
    BUFFER_BEFORE_FIELD_NUMBER: _ClassVar[int]
    BUFFER_AFTER_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELDS_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    venue_id: str
    time_zone: str
    min_notice: _duration_pb2.Duration
    max_advance: _duration_pb2.Duration
    min_party_size: int
    max_party_size: int
    min_duration: _duration_pb2.Duration
    max_duration: _duration_pb2.Duration
    buffer_before: _duration_pb2.Duration
    buffer_after: _duration_pb2.Duration
    version: int
    update_time: _timestamp_pb2.Timestamp
    venue_fields: _containers.RepeatedScalarFieldContainer[str]
    history: _containers.RepeatedCompositeFieldContainer[VenuePolicyChange]
    def __init__(self, venue_id: _Optional[str] = ..., time_zone: _Optional[str] = ..., min_notice: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_advance: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., min_party_size: _Optional[int] = ..., max_party_size: _Optional[int] = ..., min_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., max_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., buffer_before: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., buffer_after: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., version: _Optional[int] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., venue_fields: _Optional[_Iterable[str]] = ..., history: _Optional[_Iterable[_Union[VenuePolicyChange, _Mapping]]] = ...) -> None: ...

class VenuePolicyChange(_message.Message):
    __slots__ = ("version", "actor", "change_time", "changed_fields", "old_values", "new_values")
    class OldValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class NewValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    CHANGE_TIME_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    OLD_VALUES_FIELD_NUMBER: _ClassVar[int]
    NEW_VALUES_FIELD_NUMBER: _ClassVar[int]
    version: int
    actor: str
    change_time: _timestamp_pb2.Timestamp
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    old_values: _containers.ScalarMap[str, str]
    new_values: _containers.ScalarMap[str, str]
    def __init__(self, version: _Optional[int] = ..., actor: _Optional[str] = ..., change_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., changed_fields: _Optional[_Iterable[str]] = ..., old_values: _Optional[_Mapping[str, str]] = ..., new_values: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetVenuePolicyRequest(_message.Message):
    __slots__ = ("venue_id",)
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    venue_id: str
    def __init__(self, venue_id: _Optional[str] = ...) -> None: ...

class UpdateVenuePolicyRequest(_message.Message):
    __slots__ = ("venue_id", "policy", "expected_version", "update_mask")
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    venue_id: str
    policy: VenuePolicy
    expected_version: int
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, venue_id: _Optional[str] = ..., policy: _Optional[_Union[VenuePolicy, _Mapping]] = ..., expected_version: _Optional[int] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...
