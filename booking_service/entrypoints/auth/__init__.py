"""Who calls and what they may do: tokens, client certificates, scopes and per-caller rate limits.

Decided once per call, for both transports, before any servicer code runs (see grpc/interceptors.py).
"""
