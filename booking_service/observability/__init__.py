"""What the service shows operators about itself: Prometheus metrics."""
