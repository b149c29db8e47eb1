"""The REST gateway: the seed's /api/v1 paths, mapped onto the RPCs by their google.api.http rules."""
