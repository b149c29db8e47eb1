"""The booking & reservation service: the transactional core that owns every booking's state."""
