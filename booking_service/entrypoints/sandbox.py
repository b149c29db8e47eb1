"""The sandbox peers as the service runs them: in process when a peer URL is not set, or alone
(`booking-service sandbox --port PORT`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from booking_service.bootstrap import PeerUrls
from booking_service.config import Settings
from booking_service.entrypoints import running
from booking_service.entrypoints.http_server import AsgiServer
from booking_service.sandbox.app import SandboxApp

log = logging.getLogger("booking_service")
#: The sandbox's name in listening.CannotListen.
WHAT = "the sandbox peers"


@contextlib.asynccontextmanager
async def peer_urls(settings: Settings) -> AsyncIterator[PeerUrls]:
    """The configured peers; any that is not configured is served by an in-process sandbox on
    127.0.0.1:SANDBOX_PORT (the seed's 8003; 0: any free port). Raises listening.CannotListen when
    that port cannot be had."""
    configured = (settings.inventory_service_url, settings.pricing_service_url, settings.payment_service_url)
    if all(configured):
        yield PeerUrls(*configured)  # type: ignore[arg-type]
        return
    server = AsgiServer(SandboxApp(), "127.0.0.1", settings.sandbox_port, what=WHAT)
    await server.start()
    url = f"http://127.0.0.1:{server.port}"
    missing = [
        name for name, value in zip(("INVENTORY", "PRICING", "PAYMENT"), configured, strict=True) if not value
    ]
    log.warning(
        "SANDBOX PEERS: no real %s service configured; using the in-process sandbox stand-ins at %s "
        "(fake capacity, prices and payments; set %s for real ones). Their admin API: %s/admin/state, "
        "/admin/faults, /admin/fail-next, /admin/capacity, /admin/decline-next, /admin/reset",
        ", ".join(m.lower() for m in missing),
        url,
        ", ".join(f"{m}_SERVICE_URL" for m in missing),
        url,
        extra={"sandbox_url": url, "admin": admin_url(url)},
    )
    try:
        with running.published(settings, running.SANDBOX, url):
            yield PeerUrls(
                settings.inventory_service_url or url,
                settings.pricing_service_url or url,
                settings.payment_service_url or url,
            )
    finally:
        await server.stop(1)


def in_process_url(settings: Settings, peers: PeerUrls) -> str | None:
    """The in-process sandbox's URL among `peers` (what peer_urls yielded), or None when every peer
    is configured."""
    configured = (settings.inventory_service_url, settings.pricing_service_url, settings.payment_service_url)
    urls = (peers.inventory, peers.pricing, peers.payments)
    mine = [url for url, given in zip(urls, configured, strict=True) if not given]
    return mine[0] if mine else None


def admin_url(url: str) -> str:
    """The sandbox's admin API (its state; faults, capacity and resets under /admin/...)."""
    return f"{url}/admin/state"


async def run_sandbox(host: str, port: int) -> None:
    """Serves the three sandbox peers until SIGTERM or SIGINT."""
    from booking_service.entrypoints.serve import stop_signals

    with stop_signals() as stop:
        server = AsgiServer(SandboxApp(), host, port, what=WHAT)
        await server.start()
        url = f"http://{host}:{server.port}"
        log.info(
            "sandbox peers serving at %s (admin API: %s)",
            url,
            admin_url(url),
            extra={"url": url, "admin": admin_url(url)},
        )
        await stop.wait()
        await server.stop(5)
    await asyncio.sleep(0)
