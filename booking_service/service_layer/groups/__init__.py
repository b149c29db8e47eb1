"""Booking groups: several bookings of one guest at one venue, made all or nothing (create.py),
read (read.py) and cancelled (cancel.py) together. Each item is an ordinary booking that carries
the group's id; the single-booking calls work on it."""
