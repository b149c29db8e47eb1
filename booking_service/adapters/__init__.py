"""Adapters at the edge: PostgreSQL tables, repository, idempotency store, unit of work, engine."""
