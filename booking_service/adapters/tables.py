"""The database tables (SQLAlchemy Core); alembic/versions builds the same schema.

The no-double-booking rule lives here, in the database: an exclusion constraint refuses two active
bookings that hold the same unit of a venue over overlapping times, each time widened by the
booking's frozen turnover buffers (BLOCKED_RANGE), whatever the concurrency.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID, ExcludeConstraint
from sqlalchemy.dialects.postgresql import base as postgresql_types
from sqlalchemy.types import UserDefinedType

from booking_service.domain.status import ACTIVE, BookingStatus

metadata = MetaData()

_ALL_STATUSES = ", ".join(f"'{s.value}'" for s in BookingStatus)
ACTIVE_PREDICATE = (
    "status IN (" + ", ".join(f"'{s.value}'" for s in sorted(ACTIVE, key=lambda s: s.value)) + ")"
)

#: The time a booking blocks its unit, [start - buffer before, end + buffer after): an IMMUTABLE SQL
#: function made by migration 0009 (a timestamptz minus an interval is only STABLE in PostgreSQL,
#: since a day or a month depends on the zone; whole seconds do not, so the function is truthful).
BLOCKED_RANGE = "booking_blocked_range"

bookings = Table(
    "bookings",
    metadata,
    Column("booking_id", UUID(as_uuid=False), primary_key=True),
    Column("booking_reference", String(16), nullable=False, unique=True),
    Column("guest_id", Text, nullable=False),
    Column("guest_name", Text, nullable=False),
    Column("guest_email", Text, nullable=False, server_default=""),
    Column("guest_phone", Text, nullable=False, server_default=""),
    Column("venue_id", Text, nullable=False),
    Column("venue_type", Text, nullable=False),
    Column("venue_name", Text, nullable=False, server_default=""),
    Column("venue_time_zone", Text, nullable=False),
    Column("unit_id", Text, nullable=True),
    Column("start_time", DateTime(timezone=True), nullable=False),
    Column("end_time", DateTime(timezone=True), nullable=False),
    Column("local_start_date", Date, nullable=False),
    Column("party_size", Integer, nullable=False),
    Column("special_requests", Text, nullable=False, server_default=""),
    Column("status", Text, nullable=False),
    Column("price_amount_minor", BigInteger, nullable=True),
    Column("price_currency", String(3), nullable=True),
    Column("payment_intent_id", Text, nullable=False, server_default=""),
    Column("inventory_reservation_id", Text, nullable=False, server_default=""),
    Column("version", BigInteger, nullable=False),
    Column("cancellation_reason", Text, nullable=False, server_default=""),
    Column("idempotency_key", Text, nullable=False, server_default=""),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
    Column("confirm_time", DateTime(timezone=True), nullable=True),
    Column("check_in_time", DateTime(timezone=True), nullable=True),
    Column("complete_time", DateTime(timezone=True), nullable=True),
    Column("cancel_time", DateTime(timezone=True), nullable=True),
    Column("no_show_time", DateTime(timezone=True), nullable=True),
    Column("expire_time", DateTime(timezone=True), nullable=True),
    Column("pricing_quote_id", Text, nullable=False, server_default=""),
    Column("requires_prepayment", Boolean, nullable=False, server_default="false"),
    Column("cancellation_free_until", DateTime(timezone=True), nullable=True),
    Column("cancellation_fee_percent", Integer, nullable=False, server_default="0"),
    # The saga changing the booking's money or hold right now (one at a time; see 0006).
    Column("saga_id", UUID(as_uuid=False), nullable=True),
    # The money record (domain/payment.py): what the payment service confirmed.
    Column("payment_status", Text, nullable=True),
    Column("captured_amount_minor", BigInteger, nullable=True),
    Column("refunds", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("attention", JSONB, nullable=True),
    # The venue's rules frozen when the booking was made (0009): its buffers, which the exclusion
    # constraint reads, the policy version, and every limit (JSON; NULL for older bookings).
    Column("buffer_before_seconds", Integer, nullable=False, server_default="0"),
    Column("buffer_after_seconds", Integer, nullable=False, server_default="0"),
    Column("policy_version", BigInteger, nullable=False, server_default="0"),
    Column("rules", JSONB, nullable=True),
    # The booking group the booking is an item of (NULL for one made on its own; see 0010).
    Column("group_id", UUID(as_uuid=False), nullable=True),
    # The version at which the guest's personal data was erased (NULL: never; see 0012).
    Column("guest_erased_version", BigInteger, nullable=True),
    CheckConstraint("end_time > start_time", name="bookings_end_after_start"),
    CheckConstraint(f"status IN ({_ALL_STATUSES})", name="bookings_status_known"),
    CheckConstraint("version >= 1", name="bookings_version_positive"),
    ExcludeConstraint(
        ("venue_id", "="),
        ("unit_id", "="),
        (text(f"{BLOCKED_RANGE}(start_time, end_time, buffer_before_seconds, buffer_after_seconds)"), "&&"),
        name="bookings_no_double_booking",
        using="gist",
        where=text(f"unit_id IS NOT NULL AND {ACTIVE_PREDICATE}"),
    ),
    Index("bookings_guest_start", "guest_id", "start_time", "booking_id"),
    Index("bookings_venue_start", "venue_id", "start_time", "booking_id"),
    # The zone last recorded for a venue (service_layer/venue_zone.py), read from the index alone.
    Index(
        "bookings_venue_created",
        "venue_id",
        "create_time",
        "booking_id",
        postgresql_include=["venue_time_zone"],
    ),
    Index("bookings_group", "group_id", postgresql_where=text("group_id IS NOT NULL")),
    Index("bookings_pending_expiry", "expire_time", postgresql_where=text("status = 'PENDING'")),
    Index(
        "bookings_confirmed_start", "start_time", "booking_id", postgresql_where=text("status = 'CONFIRMED'")
    ),
)

booking_status_history = Table(
    "booking_status_history",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("booking_id", UUID(as_uuid=False), ForeignKey("bookings.booking_id"), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("from_status", Text, nullable=True),
    Column("to_status", Text, nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("actor", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("changed_fields", ARRAY(Text), nullable=False, server_default="{}"),
    Column("change_time", DateTime(timezone=True), nullable=False),
    Index("booking_status_history_booking", "booking_id", "version", unique=True),
)

#: Bookings made together, all or nothing (service_layer/groups): the group's one payment intent
#: pays for every item; each item is a booking with its own lifecycle (bookings.group_id).
booking_groups = Table(
    "booking_groups",
    metadata,
    Column("group_id", UUID(as_uuid=False), primary_key=True),
    Column("group_reference", String(16), nullable=False, unique=True),
    Column("guest_id", Text, nullable=False),
    Column("guest_name", Text, nullable=False),
    Column("guest_email", Text, nullable=False, server_default=""),
    Column("guest_phone", Text, nullable=False, server_default=""),
    Column("venue_id", Text, nullable=False),
    Column("venue_type", Text, nullable=False),
    Column("venue_name", Text, nullable=False, server_default=""),
    Column("venue_time_zone", Text, nullable=False),
    # The items, in the order the request gave them.
    Column("booking_ids", ARRAY(UUID(as_uuid=False)), nullable=False),
    Column("total_amount_minor", BigInteger, nullable=True),
    Column("total_currency", String(3), nullable=True),
    Column("payment_intent_id", Text, nullable=False, server_default=""),
    Column("version", BigInteger, nullable=False),
    Column("cancellation_reason", Text, nullable=False, server_default=""),
    Column("idempotency_key", Text, nullable=False, server_default=""),
    Column("create_time", DateTime(timezone=True), nullable=False),
    Column("update_time", DateTime(timezone=True), nullable=False),
    Column("cancel_time", DateTime(timezone=True), nullable=True),
    CheckConstraint("version >= 1", name="booking_groups_version_positive"),
    CheckConstraint("cardinality(booking_ids) >= 1", name="booking_groups_not_empty"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("fingerprint", LargeBinary, nullable=False),
    Column("response", JSONB, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    # The saga of the request that claimed the key, when it runs one: only that saga may give the
    # key back (a late compensation never frees a later request's claim).
    Column("owner", Text, nullable=True),
    # The request's digest with the guest's personal data erased: it replaces `fingerprint` once
    # the guest is erased (0012; NULL for a key claimed before, or once it replaced it).
    Column("erased_fingerprint", LargeBinary, nullable=True),
    Index("idempotency_keys_expiry", "expires_at"),
)


class Xid8(UserDefinedType[int]):
    """PostgreSQL's 64-bit transaction id (`pg_current_xact_id()`), read and written as an int."""

    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "xid8"


# So that reflection (the schema check of tests/integration/test_migrations.py) knows the type.
postgresql_types.ischema_names["xid8"] = Xid8


#: Events written in the transaction of the change that raised them, published by the relay.
booking_outbox = Table(
    "booking_outbox",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("event_id", UUID(as_uuid=False), nullable=False, unique=True),
    Column("booking_id", UUID(as_uuid=False), nullable=False),
    Column("booking_version", BigInteger, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("partition", SmallInteger, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    # The W3C traceparent/tracestate of the call that wrote the event, for the relay to publish.
    Column("trace_context", JSONB(none_as_null=True), nullable=True),
    Index("booking_outbox_unsent", "partition", "id", postgresql_where=text("sent_at IS NULL")),
    Index("booking_outbox_sent", "sent_at", postgresql_where=text("sent_at IS NOT NULL")),
    # WatchBookings (adapters/outbox_watch.py): the writing transaction's id, set by the column's
    # default, and whose booking it is. Rows written before 0013 have none of them: never streamed.
    Column("xid", Xid8(), nullable=True, server_default=text("pg_current_xact_id()")),
    Column("venue_id", Text, nullable=True),
    Column("guest_id", Text, nullable=True),
    Index("booking_outbox_watch", "xid", "id", postgresql_where=text("xid IS NOT NULL")),
    Index("booking_outbox_watch_venue", "venue_id", "xid", "id", postgresql_where=text("xid IS NOT NULL")),
    Index("booking_outbox_watch_guest", "guest_id", "xid", "id", postgresql_where=text("xid IS NOT NULL")),
)

#: The highest watch position the relay's purge has deleted (one row): a watch may resume only
#: from a position at or above it (adapters/outbox_watch.py).
booking_outbox_horizon = Table(
    "booking_outbox_horizon",
    metadata,
    Column("singleton", SmallInteger, primary_key=True, server_default=text("1")),
    Column("xid", Xid8(), nullable=False, server_default=text("'0'::xid8")),
    Column("id", BigInteger, nullable=False, server_default=text("0")),
    CheckConstraint("singleton = 1", name="booking_outbox_horizon_one_row"),
)

#: Multi-step changes that talk to the peers, with how far they got (see service_layer/sagas).
booking_sagas = Table(
    "booking_sagas",
    metadata,
    Column("saga_id", UUID(as_uuid=False), primary_key=True),
    Column("booking_id", UUID(as_uuid=False), nullable=False),
    Column("kind", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("step", Text, nullable=False),
    Column("data", JSONB, nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("error", Text, nullable=False, server_default=""),
    Column("lease_until", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint(
        "status IN ('running', 'done', 'compensated', 'needs_attention', 'resolved')",
        name="booking_sagas_status_known",
    ),
    Index("booking_sagas_open", "lease_until", postgresql_where=text("status = 'running'")),
    Index("booking_sagas_attention", "updated_at", postgresql_where=text("status = 'needs_attention'")),
    Index("booking_sagas_booking", "booking_id"),
    Index(
        "booking_sagas_one_change",
        "booking_id",
        unique=True,
        postgresql_where=text("status = 'running' AND kind IN ('update', 'confirm')"),
    ),
)

#: Guests whose personal data was erased (EraseGuestData): a booking or group written later for the
#: guest id is stored erased (adapters/erasure.py; domain/erasure.py says what is personal data).
erased_guests = Table(
    "erased_guests",
    metadata,
    Column("guest_id", Text, primary_key=True),
    Column("erase_time", DateTime(timezone=True), nullable=False),
    Column("actor", Text, nullable=False),
)

#: A venue's own booking rules (domain/venue_policy.py): only what the venue sets, by limit name
#: (seconds, or people), and its time zone ("" when it sets none).
venue_policies = Table(
    "venue_policies",
    metadata,
    Column("venue_id", Text, primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("time_zone", Text, nullable=False, server_default=""),
    Column("rules", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("update_time", DateTime(timezone=True), nullable=False),
    CheckConstraint("version >= 1", name="venue_policies_version_positive"),
)

#: One row per policy version: who, when, the changed fields with their old and new values.
venue_policy_history = Table(
    "venue_policy_history",
    metadata,
    Column("venue_id", Text, ForeignKey("venue_policies.venue_id"), primary_key=True),
    Column("version", BigInteger, primary_key=True),
    Column("actor", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("changed_fields", ARRAY(Text), nullable=False),
    Column("old_values", JSONB, nullable=False),
    Column("new_values", JSONB, nullable=False),
    Column("change_time", DateTime(timezone=True), nullable=False),
)
