import os

# Tests start and stop PostgreSQL through subprocesses; gRPC's fork handlers only log noise then.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
