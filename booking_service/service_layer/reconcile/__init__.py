"""Reconciliation: this service's bookings against the peers' own view of holds and money
(`booking-service reconcile`)."""
