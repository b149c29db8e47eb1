"""httpx clients for the peers: inventory, pricing and payments (one pooled client per peer)."""
