"""The two errors of the settings; both exit 2 (bad input)."""

from __future__ import annotations

from session_reaper.errors import EXIT_USAGE, ReaperError


class ConfigError(ReaperError):
    """A configuration problem; the message names the file, the line and the key (never a secret)."""

    exit_code = EXIT_USAGE


class CredentialsError(ConfigError):
    """A credential is missing or malformed; the message names the variable, never its value."""
