"""The booking domain: pure rules, no I/O (no SQLAlchemy, grpc or httpx imports here)."""
