"""Transports and the command line: thin layers over UseCases."""

import os

# The embedded PostgreSQL is started and stopped through subprocesses; gRPC's fork handlers are not
# needed for that and only log noise. Must be set before grpc is first imported.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
