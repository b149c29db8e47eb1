"""Adapters at the edge: PostgreSQL tables, repository, idempotency store, unit of work, the calls'
connection pool, engine."""
