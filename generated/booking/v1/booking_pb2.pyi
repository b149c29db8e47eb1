import datetime

from booking.v1 import booking_group_pb2 as _booking_group_pb2
from booking.v1 import guest_erasure_pb2 as _guest_erasure_pb2
from booking.v1 import slots_pb2 as _slots_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.type import date_pb2 as _date_pb2
from booking.v1 import venue_policy_pb2 as _venue_policy_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PaymentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_STATUS_UNSPECIFIED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_REQUIRES_CONFIRMATION: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_CAPTURED: _ClassVar[PaymentStatus]
    PAYMENT_STATUS_VOIDED: _ClassVar[PaymentStatus]

class RefundStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REFUND_STATUS_UNSPECIFIED: _ClassVar[RefundStatus]
    REFUND_STATUS_REQUESTED: _ClassVar[RefundStatus]
    REFUND_STATUS_SUCCEEDED: _ClassVar[RefundStatus]
    REFUND_STATUS_FAILED: _ClassVar[RefundStatus]

class BookingView(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BOOKING_VIEW_UNSPECIFIED: _ClassVar[BookingView]
    BOOKING_VIEW_BASIC: _ClassVar[BookingView]
    BOOKING_VIEW_FULL: _ClassVar[BookingView]

class AvailabilitySource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    AVAILABILITY_SOURCE_UNSPECIFIED: _ClassVar[AvailabilitySource]
    AVAILABILITY_SOURCE_BOOKINGS: _ClassVar[AvailabilitySource]
    AVAILABILITY_SOURCE_INVENTORY: _ClassVar[AvailabilitySource]

class BookingStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BOOKING_STATUS_UNSPECIFIED: _ClassVar[BookingStatus]
    BOOKING_STATUS_PENDING: _ClassVar[BookingStatus]
    BOOKING_STATUS_CONFIRMED: _ClassVar[BookingStatus]
    BOOKING_STATUS_CHECKED_IN: _ClassVar[BookingStatus]
    BOOKING_STATUS_COMPLETED: _ClassVar[BookingStatus]
    BOOKING_STATUS_CANCELLED: _ClassVar[BookingStatus]
    BOOKING_STATUS_NO_SHOW: _ClassVar[BookingStatus]
    BOOKING_STATUS_EXPIRED: _ClassVar[BookingStatus]

class VenueType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VENUE_TYPE_UNSPECIFIED: _ClassVar[VenueType]
    VENUE_TYPE_HOTEL: _ClassVar[VenueType]
    VENUE_TYPE_RESTAURANT: _ClassVar[VenueType]
    VENUE_TYPE_CAFE: _ClassVar[VenueType]
    VENUE_TYPE_RETAIL_EXPERIENCE: _ClassVar[VenueType]

class ChangeSource(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHANGE_SOURCE_UNSPECIFIED: _ClassVar[ChangeSource]
    CHANGE_SOURCE_API: _ClassVar[ChangeSource]
    CHANGE_SOURCE_SYSTEM: _ClassVar[ChangeSource]
PAYMENT_STATUS_UNSPECIFIED: PaymentStatus
PAYMENT_STATUS_REQUIRES_CONFIRMATION: PaymentStatus
PAYMENT_STATUS_CAPTURED: PaymentStatus
PAYMENT_STATUS_VOIDED: PaymentStatus
REFUND_STATUS_UNSPECIFIED: RefundStatus
REFUND_STATUS_REQUESTED: RefundStatus
REFUND_STATUS_SUCCEEDED: RefundStatus
REFUND_STATUS_FAILED: RefundStatus
BOOKING_VIEW_UNSPECIFIED: BookingView
BOOKING_VIEW_BASIC: BookingView
BOOKING_VIEW_FULL: BookingView
AVAILABILITY_SOURCE_UNSPECIFIED: AvailabilitySource
AVAILABILITY_SOURCE_BOOKINGS: AvailabilitySource
AVAILABILITY_SOURCE_INVENTORY: AvailabilitySource
BOOKING_STATUS_UNSPECIFIED: BookingStatus
BOOKING_STATUS_PENDING: BookingStatus
BOOKING_STATUS_CONFIRMED: BookingStatus
BOOKING_STATUS_CHECKED_IN: BookingStatus
BOOKING_STATUS_COMPLETED: BookingStatus
BOOKING_STATUS_CANCELLED: BookingStatus
BOOKING_STATUS_NO_SHOW: BookingStatus
BOOKING_STATUS_EXPIRED: BookingStatus
VENUE_TYPE_UNSPECIFIED: VenueType
VENUE_TYPE_HOTEL: VenueType
VENUE_TYPE_RESTAURANT: VenueType
VENUE_TYPE_CAFE: VenueType
VENUE_TYPE_RETAIL_EXPERIENCE: VenueType
CHANGE_SOURCE_UNSPECIFIED: ChangeSource
CHANGE_SOURCE_API: ChangeSource
CHANGE_SOURCE_SYSTEM: ChangeSource

class Booking(_message.Message):
    __slots__ = ("booking_id", "booking_reference", "guest", "venue", "unit_id", "start_time", "end_time", "party_size", "special_requests", "status", "price", "payment_intent_id", "inventory_reservation_id", "version", "cancellation_reason", "idempotency_key", "create_time", "update_time", "confirm_time", "check_in_time", "complete_time", "cancel_time", "no_show_time", "expire_time", "history", "pricing", "refunded", "payment", "attention", "group_id")
    BOOKING_ID_FIELD_NUMBER: _ClassVar[int]
    BOOKING_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    GUEST_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    UNIT_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    PARTY_SIZE_FIELD_NUMBER: _ClassVar[int]
    SPECIAL_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    INVENTORY_RESERVATION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CANCELLATION_REASON_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CONFIRM_TIME_FIELD_NUMBER: _ClassVar[int]
    CHECK_IN_TIME_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_TIME_FIELD_NUMBER: _ClassVar[int]
    CANCEL_TIME_FIELD_NUMBER: _ClassVar[int]
    NO_SHOW_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    PRICING_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    ATTENTION_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    booking_id: str
    booking_reference: str
    guest: Guest
    venue: Venue
    unit_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    party_size: int
    special_requests: str
    status: BookingStatus
    price: Money
    payment_intent_id: str
    inventory_reservation_id: str
    version: int
    cancellation_reason: str
    idempotency_key: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    confirm_time: _timestamp_pb2.Timestamp
    check_in_time: _timestamp_pb2.Timestamp
    complete_time: _timestamp_pb2.Timestamp
    cancel_time: _timestamp_pb2.Timestamp
    no_show_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    history: _containers.RepeatedCompositeFieldContainer[BookingHistoryEntry]
    pricing: PricingSnapshot
    refunded: Money
    payment: PaymentRecord
    attention: _containers.RepeatedCompositeFieldContainer[Attention]
    group_id: str
    def __init__(self, booking_id: _Optional[str] = ..., booking_reference: _Optional[str] = ..., guest: _Optional[_Union[Guest, _Mapping]] = ..., venue: _Optional[_Union[Venue, _Mapping]] = ..., unit_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., party_size: _Optional[int] = ..., special_requests: _Optional[str] = ..., status: _Optional[_Union[BookingStatus, str]] = ..., price: _Optional[_Union[Money, _Mapping]] = ..., payment_intent_id: _Optional[str] = ..., inventory_reservation_id: _Optional[str] = ..., version: _Optional[int] = ..., cancellation_reason: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., confirm_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., check_in_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., complete_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cancel_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., no_show_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., history: _Optional[_Iterable[_Union[BookingHistoryEntry, _Mapping]]] = ..., pricing: _Optional[_Union[PricingSnapshot, _Mapping]] = ..., refunded: _Optional[_Union[Money, _Mapping]] = ..., payment: _Optional[_Union[PaymentRecord, _Mapping]] = ..., attention: _Optional[_Iterable[_Union[Attention, _Mapping]]] = ..., group_id: _Optional[str] = ...) -> None: ...

class PaymentRecord(_message.Message):
    __slots__ = ("intent_id", "status", "amount", "captured", "refunds", "refunded", "refund_pending")
    INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    CAPTURED_FIELD_NUMBER: _ClassVar[int]
    REFUNDS_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_FIELD_NUMBER: _ClassVar[int]
    REFUND_PENDING_FIELD_NUMBER: _ClassVar[int]
    intent_id: str
    status: PaymentStatus
    amount: Money
    captured: Money
    refunds: _containers.RepeatedCompositeFieldContainer[Refund]
    refunded: Money
    refund_pending: Money
    def __init__(self, intent_id: _Optional[str] = ..., status: _Optional[_Union[PaymentStatus, str]] = ..., amount: _Optional[_Union[Money, _Mapping]] = ..., captured: _Optional[_Union[Money, _Mapping]] = ..., refunds: _Optional[_Iterable[_Union[Refund, _Mapping]]] = ..., refunded: _Optional[_Union[Money, _Mapping]] = ..., refund_pending: _Optional[_Union[Money, _Mapping]] = ...) -> None: ...

class Refund(_message.Message):
    __slots__ = ("key", "refund_id", "amount", "status", "reason", "request_time", "settle_time", "failure")
    KEY_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_TIME_FIELD_NUMBER: _ClassVar[int]
    SETTLE_TIME_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    key: str
    refund_id: str
    amount: Money
    status: RefundStatus
    reason: str
    request_time: _timestamp_pb2.Timestamp
    settle_time: _timestamp_pb2.Timestamp
    failure: str
    def __init__(self, key: _Optional[str] = ..., refund_id: _Optional[str] = ..., amount: _Optional[_Union[Money, _Mapping]] = ..., status: _Optional[_Union[RefundStatus, str]] = ..., reason: _Optional[str] = ..., request_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., settle_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failure: _Optional[str] = ...) -> None: ...

class Attention(_message.Message):
    __slots__ = ("saga_id", "saga_kind", "reason", "since")
    SAGA_ID_FIELD_NUMBER: _ClassVar[int]
    SAGA_KIND_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    saga_id: str
    saga_kind: str
    reason: str
    since: _timestamp_pb2.Timestamp
    def __init__(self, saga_id: _Optional[str] = ..., saga_kind: _Optional[str] = ..., reason: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PricingSnapshot(_message.Message):
    __slots__ = ("quote_id", "total", "requires_prepayment", "cancellation")
    QUOTE_ID_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_PREPAYMENT_FIELD_NUMBER: _ClassVar[int]
    CANCELLATION_FIELD_NUMBER: _ClassVar[int]
    quote_id: str
    total: Money
    requires_prepayment: bool
    cancellation: CancellationPolicy
    def __init__(self, quote_id: _Optional[str] = ..., total: _Optional[_Union[Money, _Mapping]] = ..., requires_prepayment: _Optional[bool] = ..., cancellation: _Optional[_Union[CancellationPolicy, _Mapping]] = ...) -> None: ...

class CancellationPolicy(_message.Message):
    __slots__ = ("free_until", "fee_percent")
    FREE_UNTIL_FIELD_NUMBER: _ClassVar[int]
    FEE_PERCENT_FIELD_NUMBER: _ClassVar[int]
    free_until: _timestamp_pb2.Timestamp
    fee_percent: int
    def __init__(self, free_until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., fee_percent: _Optional[int] = ...) -> None: ...

class Guest(_message.Message):
    __slots__ = ("guest_id", "name", "email", "phone")
    GUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    guest_id: str
    name: str
    email: str
    phone: str
    def __init__(self, guest_id: _Optional[str] = ..., name: _Optional[str] = ..., email: _Optional[str] = ..., phone: _Optional[str] = ...) -> None: ...

class Venue(_message.Message):
    __slots__ = ("venue_id", "venue_type", "name", "time_zone")
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    VENUE_TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    venue_id: str
    venue_type: VenueType
    name: str
    time_zone: str
    def __init__(self, venue_id: _Optional[str] = ..., venue_type: _Optional[_Union[VenueType, str]] = ..., name: _Optional[str] = ..., time_zone: _Optional[str] = ...) -> None: ...

class Money(_message.Message):
    __slots__ = ("amount_minor", "currency")
    AMOUNT_MINOR_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    amount_minor: int
    currency: str
    def __init__(self, amount_minor: _Optional[int] = ..., currency: _Optional[str] = ...) -> None: ...

class BookingHistoryEntry(_message.Message):
    __slots__ = ("version", "from_status", "to_status", "reason", "actor", "source", "change_time", "changed_fields")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FROM_STATUS_FIELD_NUMBER: _ClassVar[int]
    TO_STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CHANGE_TIME_FIELD_NUMBER: _ClassVar[int]
    CHANGED_FIELDS_FIELD_NUMBER: _ClassVar[int]
    version: int
    from_status: BookingStatus
    to_status: BookingStatus
    reason: str
    actor: str
    source: ChangeSource
    change_time: _timestamp_pb2.Timestamp
    changed_fields: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, version: _Optional[int] = ..., from_status: _Optional[_Union[BookingStatus, str]] = ..., to_status: _Optional[_Union[BookingStatus, str]] = ..., reason: _Optional[str] = ..., actor: _Optional[str] = ..., source: _Optional[_Union[ChangeSource, str]] = ..., change_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., changed_fields: _Optional[_Iterable[str]] = ...) -> None: ...

class BookingFilters(_message.Message):
    __slots__ = ("statuses", "time_range", "local_date")
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    LOCAL_DATE_FIELD_NUMBER: _ClassVar[int]
    statuses: _containers.RepeatedScalarFieldContainer[BookingStatus]
    time_range: TimeRange
    local_date: _date_pb2.Date
    def __init__(self, statuses: _Optional[_Iterable[_Union[BookingStatus, str]]] = ..., time_range: _Optional[_Union[TimeRange, _Mapping]] = ..., local_date: _Optional[_Union[_date_pb2.Date, _Mapping]] = ...) -> None: ...

class TimeRange(_message.Message):
    __slots__ = ("start_time", "end_time")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateBookingRequest(_message.Message):
    __slots__ = ("guest", "venue", "unit_id", "start_time", "end_time", "party_size", "special_requests", "idempotency_key")
    GUEST_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    UNIT_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    PARTY_SIZE_FIELD_NUMBER: _ClassVar[int]
    SPECIAL_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    guest: Guest
    venue: Venue
    unit_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    party_size: int
    special_requests: str
    idempotency_key: str
    def __init__(self, guest: _Optional[_Union[Guest, _Mapping]] = ..., venue: _Optional[_Union[Venue, _Mapping]] = ..., unit_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., party_size: _Optional[int] = ..., special_requests: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class GetBookingRequest(_message.Message):
    __slots__ = ("booking_id",)
    BOOKING_ID_FIELD_NUMBER: _ClassVar[int]
    booking_id: str
    def __init__(self, booking_id: _Optional[str] = ...) -> None: ...

class GetBookingByReferenceRequest(_message.Message):
    __slots__ = ("booking_reference",)
    BOOKING_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    booking_reference: str
    def __init__(self, booking_reference: _Optional[str] = ...) -> None: ...

class UpdateBookingRequest(_message.Message):
    __slots__ = ("booking_id", "expected_version", "guest", "unit_id", "start_time", "end_time", "party_size", "special_requests", "update_mask", "idempotency_key")
    BOOKING_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    GUEST_FIELD_NUMBER: _ClassVar[int]
    UNIT_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    PARTY_SIZE_FIELD_NUMBER: _ClassVar[int]
    SPECIAL_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    booking_id: str
    expected_version: int
    guest: Guest
    unit_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    party_size: int
    special_requests: str
    update_mask: _field_mask_pb2.FieldMask
    idempotency_key: str
    def __init__(self, booking_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., guest: _Optional[_Union[Guest, _Mapping]] = ..., unit_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., party_size: _Optional[int] = ..., special_requests: _Optional[str] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class CancelBookingRequest(_message.Message):
    __slots__ = ("booking_id", "expected_version", "reason", "idempotency_key")
    BOOKING_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    booking_id: str
    expected_version: int
    reason: str
    idempotency_key: str
    def __init__(self, booking_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., reason: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class UpdateBookingStatusRequest(_message.Message):
    __slots__ = ("booking_id", "expected_version", "status", "reason", "idempotency_key")
    BOOKING_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    booking_id: str
    expected_version: int
    status: BookingStatus
    reason: str
    idempotency_key: str
    def __init__(self, booking_id: _Optional[str] = ..., expected_version: _Optional[int] = ..., status: _Optional[_Union[BookingStatus, str]] = ..., reason: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class ListGuestBookingsRequest(_message.Message):
    __slots__ = ("guest_id", "page_size", "page_token", "filters", "view")
    GUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    guest_id: str
    page_size: int
    page_token: str
    filters: BookingFilters
    view: BookingView
    def __init__(self, guest_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., filters: _Optional[_Union[BookingFilters, _Mapping]] = ..., view: _Optional[_Union[BookingView, str]] = ...) -> None: ...

class ListGuestBookingsResponse(_message.Message):
    __slots__ = ("bookings", "next_page_token")
    BOOKINGS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    bookings: _containers.RepeatedCompositeFieldContainer[Booking]
    next_page_token: str
    def __init__(self, bookings: _Optional[_Iterable[_Union[Booking, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListVenueBookingsRequest(_message.Message):
    __slots__ = ("venue_id", "page_size", "page_token", "filters", "view")
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    VIEW_FIELD_NUMBER: _ClassVar[int]
    venue_id: str
    page_size: int
    page_token: str
    filters: BookingFilters
    view: BookingView
    def __init__(self, venue_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., filters: _Optional[_Union[BookingFilters, _Mapping]] = ..., view: _Optional[_Union[BookingView, str]] = ...) -> None: ...

class ListVenueBookingsResponse(_message.Message):
    __slots__ = ("bookings", "next_page_token")
    BOOKINGS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    bookings: _containers.RepeatedCompositeFieldContainer[Booking]
    next_page_token: str
    def __init__(self, bookings: _Optional[_Iterable[_Union[Booking, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CheckAvailabilityRequest(_message.Message):
    __slots__ = ("venue_id", "unit_id", "start_time", "end_time", "party_size", "exclude_booking_id", "include_price_estimate", "venue_type")
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    UNIT_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    PARTY_SIZE_FIELD_NUMBER: _ClassVar[int]
    EXCLUDE_BOOKING_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_PRICE_ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    VENUE_TYPE_FIELD_NUMBER: _ClassVar[int]
    venue_id: str
    unit_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    party_size: int
    exclude_booking_id: str
    include_price_estimate: bool
    venue_type: VenueType
    def __init__(self, venue_id: _Optional[str] = ..., unit_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., party_size: _Optional[int] = ..., exclude_booking_id: _Optional[str] = ..., include_price_estimate: _Optional[bool] = ..., venue_type: _Optional[_Union[VenueType, str]] = ...) -> None: ...

class CheckAvailabilityResponse(_message.Message):
    __slots__ = ("available", "conflicting_bookings", "checks", "price_estimate", "conflicts")
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    CONFLICTING_BOOKINGS_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    PRICE_ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    available: bool
    conflicting_bookings: _containers.RepeatedCompositeFieldContainer[Booking]
    checks: _containers.RepeatedCompositeFieldContainer[AvailabilityCheck]
    price_estimate: Money
    conflicts: _containers.RepeatedCompositeFieldContainer[ConflictingBooking]
    def __init__(self, available: _Optional[bool] = ..., conflicting_bookings: _Optional[_Iterable[_Union[Booking, _Mapping]]] = ..., checks: _Optional[_Iterable[_Union[AvailabilityCheck, _Mapping]]] = ..., price_estimate: _Optional[_Union[Money, _Mapping]] = ..., conflicts: _Optional[_Iterable[_Union[ConflictingBooking, _Mapping]]] = ...) -> None: ...

class ConflictingBooking(_message.Message):
    __slots__ = ("booking_id", "booking_reference", "status", "unit_id", "start_time", "end_time")
    BOOKING_ID_FIELD_NUMBER: _ClassVar[int]
    BOOKING_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    UNIT_ID_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    booking_id: str
    booking_reference: str
    status: BookingStatus
    unit_id: str
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, booking_id: _Optional[str] = ..., booking_reference: _Optional[str] = ..., status: _Optional[_Union[BookingStatus, str]] = ..., unit_id: _Optional[str] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AvailabilityCheck(_message.Message):
    __slots__ = ("source", "available", "reason")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    source: AvailabilitySource
    available: bool
    reason: str
    def __init__(self, source: _Optional[_Union[AvailabilitySource, str]] = ..., available: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...

class CreateBookingGroupRequest(_message.Message):
    __slots__ = ("guest", "venue", "items", "idempotency_key")
    GUEST_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    guest: Guest
    venue: Venue
    items: _containers.RepeatedCompositeFieldContainer[_booking_group_pb2.BookingGroupItem]
    idempotency_key: str
    def __init__(self, guest: _Optional[_Union[Guest, _Mapping]] = ..., venue: _Optional[_Union[Venue, _Mapping]] = ..., items: _Optional[_Iterable[_Union[_booking_group_pb2.BookingGroupItem, _Mapping]]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class BookingGroup(_message.Message):
    __slots__ = ("group_id", "group_reference", "bookings", "version", "guest", "venue", "total_price", "payment_intent_id", "cancellation_reason", "idempotency_key", "create_time", "update_time", "cancel_time")
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    GROUP_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    BOOKINGS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    GUEST_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PRICE_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_INTENT_ID_FIELD_NUMBER: _ClassVar[int]
    CANCELLATION_REASON_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CANCEL_TIME_FIELD_NUMBER: _ClassVar[int]
    group_id: str
    group_reference: str
    bookings: _containers.RepeatedCompositeFieldContainer[Booking]
    version: int
    guest: Guest
    venue: Venue
    total_price: Money
    payment_intent_id: str
    cancellation_reason: str
    idempotency_key: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    cancel_time: _timestamp_pb2.Timestamp
    def __init__(self, group_id: _Optional[str] = ..., group_reference: _Optional[str] = ..., bookings: _Optional[_Iterable[_Union[Booking, _Mapping]]] = ..., version: _Optional[int] = ..., guest: _Optional[_Union[Guest, _Mapping]] = ..., venue: _Optional[_Union[Venue, _Mapping]] = ..., total_price: _Optional[_Union[Money, _Mapping]] = ..., payment_intent_id: _Optional[str] = ..., cancellation_reason: _Optional[str] = ..., idempotency_key: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cancel_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class WatchBookingsRequest(_message.Message):
    __slots__ = ("venue_id", "guest_id", "start_position")
    VENUE_ID_FIELD_NUMBER: _ClassVar[int]
    GUEST_ID_FIELD_NUMBER: _ClassVar[int]
    START_POSITION_FIELD_NUMBER: _ClassVar[int]
    venue_id: str
    guest_id: str
    start_position: str
    def __init__(self, venue_id: _Optional[str] = ..., guest_id: _Optional[str] = ..., start_position: _Optional[str] = ...) -> None: ...

class WatchBookingsResponse(_message.Message):
    __slots__ = ("position", "event", "heartbeat")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    position: str
    event: BookingEvent
    heartbeat: bool
    def __init__(self, position: _Optional[str] = ..., event: _Optional[_Union[BookingEvent, _Mapping]] = ..., heartbeat: _Optional[bool] = ...) -> None: ...

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
    previous_status: BookingStatus
    status: BookingStatus
    reason: str
    actor: str
    source: ChangeSource
    booking: Booking
    change: BookingChange
    payment_change: PaymentChange
    saga_id: str
    group_id: str
    def __init__(self, event_id: _Optional[str] = ..., type: _Optional[str] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., booking_id: _Optional[str] = ..., booking_version: _Optional[int] = ..., previous_status: _Optional[_Union[BookingStatus, str]] = ..., status: _Optional[_Union[BookingStatus, str]] = ..., reason: _Optional[str] = ..., actor: _Optional[str] = ..., source: _Optional[_Union[ChangeSource, str]] = ..., booking: _Optional[_Union[Booking, _Mapping]] = ..., change: _Optional[_Union[BookingChange, _Mapping]] = ..., payment_change: _Optional[_Union[PaymentChange, _Mapping]] = ..., saga_id: _Optional[str] = ..., group_id: _Optional[str] = ...) -> None: ...

class PaymentChange(_message.Message):
    __slots__ = ("amount", "refund_id")
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REFUND_ID_FIELD_NUMBER: _ClassVar[int]
    amount: Money
    refund_id: str
    def __init__(self, amount: _Optional[_Union[Money, _Mapping]] = ..., refund_id: _Optional[str] = ...) -> None: ...

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
