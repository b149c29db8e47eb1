"""The gRPC transport: servicer, proto ↔ domain mapping, the error table, interceptors, server."""
