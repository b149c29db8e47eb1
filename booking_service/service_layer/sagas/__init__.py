"""Sagas: the changes that coordinate the peers, each a sequence of steps written down as it goes.

Every step that can fail after an earlier one succeeded has its compensation beside it, and the
saga log (table booking_sagas) says how far each saga got, so that a crash between two steps is
finished or compensated by the recovery worker (recovery.py). Steps call the peers with
idempotency keys derived from the booking and the step, so a repeated step does nothing twice.
"""
