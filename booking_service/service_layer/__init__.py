"""Use cases: each runs in one unit of work; transports call them through UseCases."""
