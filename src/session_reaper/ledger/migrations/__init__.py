"""Alembic revisions of the ledger, run by `session_reaper.ledger.migrate` (no alembic.ini, no env.py).

Each revision is frozen once released: it spells its own columns with plain SQLAlchemy types instead
of importing `schema.py`, so a later change to the code cannot rewrite history.
"""
