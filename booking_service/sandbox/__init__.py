"""Runnable stand-ins for the peers (inventory, pricing, payments), for development, demos and tests.

`booking-service sandbox --port PORT` serves all three; `booking-service serve` starts them in process
when a peer URL is not configured.
"""
