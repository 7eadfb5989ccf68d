"""session-reaper: ends idle and stale Genesys Cloud web messaging sessions, cleanly."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("session-reaper")  # pyproject.toml is the one place the version is written
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
