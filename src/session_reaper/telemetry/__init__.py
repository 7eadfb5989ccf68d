"""What the process says about itself: structured logs (secrets redacted) and metrics."""
