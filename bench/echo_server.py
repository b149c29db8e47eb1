"""The transport ceiling: a trivial unary RPC on the service's own stack (grpc.aio on uvloop), which
answers its request bytes unchanged. Prints its port, then serves until killed."""

from __future__ import annotations

import sys
from typing import Any

import grpc
import uvloop


async def echo(request: bytes, context: Any) -> bytes:
    return request


async def main(port: int) -> None:
    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
    )
    server.add_generic_rpc_handlers((handler,))
    bound = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    print(bound, flush=True)
    await server.wait_for_termination()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
