"""session-reaper: ends idle and stale Genesys Cloud web messaging sessions, cleanly."""

__version__ = "0.1.0"
