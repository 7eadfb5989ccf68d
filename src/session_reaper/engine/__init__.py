"""Reconcile one conversation (read, decide, act, verify, journal); the sweep loops over it."""
