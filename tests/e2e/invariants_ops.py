"""The operations of the invariant test: a plan drawn from the seed, run by a few concurrent workers
against both service processes, each operation logged with its actor, process and outcome.

The plan is a list of (kind, random.Random) drawn from the seed before anything runs, so that one
seed gives the same operations in the same order; each step draws its details (venue, unit, slot,
which booking, which process, stale version or not) from its own generator. Which booking a step
meets depends on what earlier steps achieved, so a replay follows the seed, not the timing."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from booking.v1 import booking_pb2 as pb
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from tests.e2e.invariants_cluster import Cluster

#: Codes that tell the caller, for certain, that nothing was done.
DEFINITE = frozenset({"ABORTED", "FAILED_PRECONDITION", "INVALID_ARGUMENT", "NOT_FOUND", "ALREADY_EXISTS"})
CALL_TIMEOUT = 10.0
#: Each step waits up to this long before it runs, so that a run spans the clocks it exercises
#: (the PENDING timeout, saga leases, restarts) instead of finishing in a few seconds.
THINK_SECONDS = 0.9
FINAL = frozenset(
    {
        pb.BOOKING_STATUS_CANCELLED,
        pb.BOOKING_STATUS_EXPIRED,
        pb.BOOKING_STATUS_COMPLETED,
        pb.BOOKING_STATUS_NO_SHOW,
    }
)
WEIGHTS = {"create": 34, "confirm": 20, "reschedule": 12, "cancel": 6, "check_in": 8, "race": 10, "fault": 8}
RACES = (("confirm", "cancel"), ("reschedule", "cancel"), ("confirm", "reschedule"))
PEER_PATHS = (
    "/api/v1/inventory/reserve",
    "/api/v1/inventory/release",
    "/api/v1/inventory/update-reservation",
    "/api/v1/pricing/calculate",
    "/api/v1/payments/intents",
    "/api/v1/payments/refunds",
)
FAIL_MODES = ("error", "timeout", "error_after", "timeout_after", "late")


@dataclass(frozen=True)
class VenueSpec:
    venue_id: str
    venue_type: int
    units: tuple[str, ...]
    capacity: int = 200

    @property
    def hotel(self) -> bool:
        return self.venue_type == pb.VENUE_TYPE_HOTEL


#: A small pool, so that creates and reschedules contend for units (and the retail venue for seats).
VENUES = (
    VenueSpec("inv-hotel-a", pb.VENUE_TYPE_HOTEL, ("room-1", "room-2", "room-3")),
    VenueSpec("inv-hotel-b", pb.VENUE_TYPE_HOTEL, ("room-1", "room-2")),
    VenueSpec("inv-retail", pb.VENUE_TYPE_RETAIL_EXPERIENCE, ("slot-1", "slot-2"), capacity=4),
    VenueSpec("inv-resto", pb.VENUE_TYPE_RESTAURANT, ("table-1", "table-2", "table-3")),
)


@dataclass
class OpRecord:
    actor: str  # op-<n>, op-<n>a / op-<n>b in a race; also its idempotency key's suffix
    kind: str
    process: int | None = None
    booking_id: str = ""
    expected_version: int | None = None
    detail: str = ""
    outcome: str = "?"  # OK, or the gRPC code's name
    reason: str = ""  # the ErrorInfo reason
    key: str = ""

    @property
    def definite_error(self) -> bool:
        return self.outcome in DEFINITE

    def line(self) -> str:
        where = "-" if self.process is None else f"p{self.process}"
        version = "" if self.expected_version is None else f" v{self.expected_version}"
        result = self.outcome + (f" {self.reason}" if self.reason else "")
        booking = self.booking_id[:8] if self.booking_id else "-"
        return f"{self.actor:>9} {self.kind:<10} {where} {booking}{version} {self.detail} -> {result}"


def plan(seed: int, count: int, kills: int) -> list[tuple[str, random.Random]]:
    rng = random.Random(seed)
    kinds = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()), k=count)
    for position in rng.sample(range(count // 10, count), kills):
        kinds[position] = "kill"
    return [(kind, random.Random(rng.getrandbits(64))) for kind in kinds]


class Runner:
    def __init__(self, cluster: Cluster, seed: int, count: int, kills: int) -> None:
        self.cluster, self.seed = cluster, seed
        self.plan = plan(seed, count, kills)
        self.log: list[OpRecord] = []
        self.created: list[str] = []  # booking ids, in the order their creates answered OK
        self.finished: set[str] = set()  # bookings an answer showed in a final status
        now = datetime.now(UTC)
        self.anchor = (now + timedelta(hours=7)).replace(minute=0, second=0, microsecond=0)

    async def run(self, workers: int) -> None:
        for venue in VENUES:
            await self.cluster.post(
                "/admin/capacity", {"venue_id": venue.venue_id, "capacity": venue.capacity}
            )
        steps = iter(enumerate(self.plan))

        async def worker() -> None:
            for n, (kind, rng) in steps:  # one iterator shared by every worker
                await self.step(n, kind, rng)

        await asyncio.gather(*(worker() for _ in range(workers)))

    def process(self, rng: random.Random) -> int:
        """A process at random; one being restarted after a kill gets a tenth of its calls (the
        rest go to the other, instead of failing at once and using the plan up)."""
        chosen, anyway = rng.randrange(2), rng.random() < 0.1
        return 1 - chosen if self.cluster.services[chosen].restarting and not anyway else chosen

    async def step(self, n: int, kind: str, rng: random.Random) -> None:
        await asyncio.sleep(rng.uniform(0, THINK_SECONDS))
        actor = f"op-{n}"
        if kind == "create":
            await self.create(OpRecord(actor, kind, self.process(rng)), rng)
        elif kind == "fault":
            await self.fault(OpRecord(actor, kind), rng)
        elif kind == "kill":
            killable = self.cluster.killable()
            record = OpRecord(actor, kind, outcome="SKIPPED")
            if len(killable) == len(self.cluster.services):  # one always keeps serving
                record.process, record.outcome = rng.choice(killable), "OK"
                self.cluster.kill_then_restart(record.process, rng.uniform(1.0, 4.0))
            self.log.append(record)
        else:
            await self.on_booking(actor, kind, rng)

    # --- creates ---------------------------------------------------------------------------------

    async def create(self, record: OpRecord, rng: random.Random) -> None:
        venue = rng.choice(VENUES)
        unit = rng.choice(venue.units)
        if venue.hotel:
            start = self.anchor + timedelta(days=rng.randrange(3))
            end = start + timedelta(days=rng.randint(1, 2), hours=-4)
            party = 2
        else:
            start = self.anchor + timedelta(hours=4 * rng.randrange(10))
            end = start + timedelta(hours=2 if venue.venue_type == pb.VENUE_TYPE_RESTAURANT else 1)
            party = rng.randint(1, 3)
        record.key = f"inv-{self.seed}-{record.actor}"
        request = pb.CreateBookingRequest(
            guest=pb.Guest(guest_id=f"guest-{record.actor}", name="Invariant Tester"),
            venue=pb.Venue(venue_id=venue.venue_id, venue_type=venue.venue_type, time_zone="Europe/Berlin"),
            unit_id=unit,
            party_size=party,
            idempotency_key=record.key,
        )
        request.start_time.FromDatetime(start)
        request.end_time.FromDatetime(end)
        record.detail = f"{venue.venue_id}/{unit} {_t(start)}..{_t(end)} x{party}"
        self.log.append(record)
        booking = await self.call(record, "CreateBooking", request)
        if booking is not None:
            record.booking_id = booking.booking_id
            self.created.append(booking.booking_id)

    # --- changes to a booking --------------------------------------------------------------------

    async def on_booking(self, actor: str, kind: str, rng: random.Random) -> None:
        if not self.created:
            self.log.append(OpRecord(actor, kind, outcome="SKIPPED", detail="no booking yet"))
            return
        # Mostly recent bookings that may still change (a finished one only refuses), now and then any.
        recent, open_only = int(rng.expovariate(1 / 6)), rng.random() < 0.85
        candidates = [b for b in self.created if b not in self.finished] if open_only else []
        candidates = candidates or self.created
        booking_id = candidates[-1 - min(len(candidates) - 1, recent)]
        read = OpRecord(f"{actor}r", "read", self.process(rng), booking_id)
        current = await self.call(read, "GetBooking", pb.GetBookingRequest(booking_id=booking_id))
        if current is None:
            read.kind = f"read/{kind}"
            self.log.append(read)
            return
        version = current.version
        if rng.random() < 0.1 and version > 1:
            version -= 1  # a stale version: must be ABORTED with nothing done
        if kind != "race":
            record = OpRecord(actor, kind, self.process(rng), booking_id, version)
            await self.change(record, current, rng)
            return
        pair = rng.choice(RACES)
        first = rng.randrange(2)  # one to each process, whatever state they are in
        records = [
            OpRecord(f"{actor}{tag}", what, process, booking_id, version, detail="race")
            for tag, what, process in zip("ab", pair, (first, 1 - first), strict=True)
        ]
        await asyncio.gather(*(self.change(r, current, rng) for r in records))

    async def change(self, record: OpRecord, current: pb.Booking, rng: random.Random) -> None:
        record.key = f"inv-{self.seed}-{record.actor}"
        self.log.append(record)
        common: dict[str, Any] = {
            "booking_id": record.booking_id,
            "expected_version": record.expected_version,
            "idempotency_key": record.key,
        }
        if record.kind == "confirm":
            request: Any = pb.UpdateBookingStatusRequest(**common, status=pb.BOOKING_STATUS_CONFIRMED)
            await self.call(record, "UpdateBookingStatus", request)
        elif record.kind == "check_in":
            request = pb.UpdateBookingStatusRequest(**common, status=pb.BOOKING_STATUS_CHECKED_IN)
            await self.call(record, "UpdateBookingStatus", request)
        elif record.kind == "cancel":
            await self.call(record, "CancelBooking", pb.CancelBookingRequest(**common, reason=record.actor))
        else:
            start, end = current.start_time.ToDatetime(UTC), current.end_time.ToDatetime(UTC)
            hours = rng.choice(
                (-24, 24, -2, 2) if current.venue.venue_type == pb.VENUE_TYPE_HOTEL else (-3, 3)
            )
            if start + timedelta(hours=hours) < datetime.now(UTC) + timedelta(hours=1):
                hours = abs(hours)
            request = pb.UpdateBookingRequest(**common)
            request.start_time.FromDatetime(start + timedelta(hours=hours))
            request.end_time.FromDatetime(end + timedelta(hours=hours))
            record.detail = f"{record.detail} {_t(start)} {hours:+d}h".strip()
            await self.call(record, "UpdateBooking", request)

    # --- faults ----------------------------------------------------------------------------------

    async def fault(self, record: OpRecord, rng: random.Random) -> None:
        draw = rng.random()
        if draw < 0.35:
            record.detail = "clear"
            await self.cluster.post("/admin/reset", {})
            await self.cluster.post("/admin/decline-next", {"count": 0})
        elif draw < 0.6:
            body: dict[str, Any] = {
                "peer": rng.choice(("*", "inventory", "pricing", "payments")),
                "latency_ms": rng.choice((0, 0, 20, 80)),
                "error_rate": rng.choice((0.0, 0.05, 0.15)),
                "timeout_rate": rng.choice((0.0, 0.03, 0.08)),
            }
            record.detail = f"faults {body}"
            await self.cluster.post("/admin/faults", body)
        elif draw < 0.9:
            body = {
                "path": rng.choice(PEER_PATHS),
                "mode": rng.choice(FAIL_MODES),
                "count": rng.randint(1, 2),
            }
            record.detail = f"fail-next {body}"
            await self.cluster.post("/admin/fail-next", body)
        else:
            count = rng.randint(1, 2)
            record.detail = f"decline-next {count}"
            await self.cluster.post("/admin/decline-next", {"count": count})
        record.outcome = "OK"
        self.log.append(record)

    # --- one call --------------------------------------------------------------------------------

    async def call(self, record: OpRecord, method: str, request: Any) -> Any:
        assert record.process is not None
        stub = self.cluster.services[record.process].stub
        try:
            answer = await getattr(stub, method)(
                request, metadata=(("x-actor", record.actor),), timeout=CALL_TIMEOUT
            )
        except grpc.aio.AioRpcError as error:
            record.outcome, record.reason = error.code().name, _reason(error)
            return None
        record.outcome = "OK"
        if isinstance(answer, pb.Booking) and answer.status in FINAL:
            self.finished.add(answer.booking_id)
        if isinstance(answer, pb.Booking) and method != "GetBooking":
            record.detail = (
                f"{record.detail} => {pb.BookingStatus.Name(answer.status)[15:]} v{answer.version}"
            )
        return answer


def _reason(error: grpc.aio.AioRpcError) -> str:
    try:
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
    except ValueError:
        return ""
    for detail in status.details if status is not None else ():
        info = error_details_pb2.ErrorInfo()
        if detail.Is(info.DESCRIPTOR):
            detail.Unpack(info)
            return info.reason
    return ""


def _t(moment: datetime) -> str:
    return moment.strftime("%d %H:%M")
