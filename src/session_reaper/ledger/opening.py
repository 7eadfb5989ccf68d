"""Why a ledger cannot be opened, in one line that names it (never its password) and the cause.

Every command that opens a ledger (scan, sweep, explain, serve, report, doctor) reports the same
`LedgerUnavailable`: configuration trouble (a SQLite path that cannot hold a database, a file that is
not one, a PostgreSQL that refuses the role or database) is the user's to fix (exit 2); a database
server that does not answer may come back by itself (``unreachable``: exit 1, a supervisor retries).
Nothing is created on the way: a directory that does not exist is an error, not made silently.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from session_reaper.errors import EXIT_ACTION_FAILED, EXIT_USAGE, ReaperError
from session_reaper.redaction import redact

# Driver phrases that mean "no server answered" rather than "the server said no".
_UNREACHABLE = re.compile(
    r"connection refused|could not translate host|name or service not known|nodename nor servname"
    r"|timeout expired|timed out|no route to host|network is unreachable|server closed the connection"
    r"|could not connect to server|connection reset",
    re.IGNORECASE,
)
# Causes, from the driver's text to the words a user needs.
_SQLITE_CAUSES = (
    ("file is not a database", "the file is not a SQLite database"),
    ("readonly database", "the file is read-only"),
    ("unable to open database file", "the file cannot be created or opened"),
    ("disk i/o error", "disk I/O error"),
    ("database is locked", "the database is locked by another process"),
)


class LedgerUnavailable(ReaperError):
    """The ledger at `ledger` (shown without its password) cannot be opened or written, and why."""

    def __init__(self, ledger: str, cause: str, *, unreachable: bool = False) -> None:
        super().__init__(f"ledger {ledger}: {cause}")
        self.ledger = ledger
        self.cause = cause
        self.unreachable = unreachable
        self.exit_code = EXIT_ACTION_FAILED if unreachable else EXIT_USAGE  # may come back: 1


def shown(url: URL) -> str:
    """The URL as the user wrote it (no driver suffix), the password masked."""
    return url.set(drivername=url.get_backend_name()).render_as_string(hide_password=True)


def sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite ledger, or None for an in-memory one (or another back end)."""
    if url.get_backend_name() != "sqlite" or (url.database or "") in ("", ":memory:"):
        return None
    return Path(url.database or "")


def check_sqlite_path(url: URL, path: Path) -> None:
    """Raise LedgerUnavailable when `path` cannot hold the ledger; nothing is created."""
    path = path if path.is_absolute() else Path.cwd() / path
    cause = _path_problem(path)
    if cause is not None:
        raise LedgerUnavailable(shown(url), cause)


def _path_problem(path: Path) -> str | None:
    if path.is_dir():
        return f"{path} is a directory"
    parent = path.parent
    existing = next((p for p in (parent, *parent.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        return f"{existing} is a file, not a directory"
    if existing != parent:
        return f"directory {parent} does not exist (create it first)"
    if path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            return f"no permission to read and write {path}"
        return None
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"directory {parent} is not writable"
    return None


def explain(url: URL, exc: BaseException) -> LedgerUnavailable:
    """The driver's failure, as a LedgerUnavailable; the password never appears in it."""
    original = getattr(exc, "orig", None) or exc
    text = _driver_text(url, original)
    if url.get_backend_name() == "sqlite":
        lowered = text.lower()
        for phrase, cause in _SQLITE_CAUSES:
            if phrase in lowered:
                return LedgerUnavailable(shown(url), cause)
        return LedgerUnavailable(shown(url), text or type(original).__name__)
    cause = _postgresql_cause(text, original)
    unreachable = bool(_UNREACHABLE.search(text))
    where = "the database server does not answer" if unreachable else "the database server refused"
    return LedgerUnavailable(shown(url), f"{where}: {cause}", unreachable=unreachable)


def _driver_text(url: URL, original: BaseException) -> str:
    text = " ".join(str(original).split())
    if url.password:  # the one redactor, its one marker: the password is a secret like any other
        text = redact(text, [str(url.password)])
    return text


def _postgresql_cause(text: str, original: BaseException) -> str:
    # psycopg: "connection failed: connection to server at "h", port 5432 failed: FATAL:  database ..."
    cause = re.split(r"failed: ", text)[-1] if text else type(original).__name__
    return re.sub(r"^(FATAL|ERROR):\s*", "", cause).strip() or type(original).__name__


# PostgreSQL's own words for "this connection is over": class 08 (connection exception), and the
# server shutting down under it or not taking connections yet (a restart, a failover's promotion).
_GONE_STATES = ("57P01", "57P02", "57P03")


def connection_lost(url: URL, exc: BaseException) -> LedgerUnavailable | None:
    """A ledger call's failure as its connection lost, or None when it is anything else.

    Lost: SQLAlchemy saw the connection die under a statement (`connection_invalidated`: the server
    restarted, a proxy cut it), or PostgreSQL cannot be reached at all (the driver's own
    OperationalError, with no server's SQLSTATE: refused, timed out; or the server said it is shutting
    down or starting up). Each comes back by itself. A missing table, a constraint, a schema error, or
    anything of SQLite's (a file has no connection to lose) is not lost: those need a person.
    """
    if url.get_backend_name() != "postgresql" or not isinstance(exc, DBAPIError):
        return None
    if not exc.connection_invalidated:
        if not isinstance(exc, OperationalError):
            return None
        state = getattr(exc.orig, "sqlstate", None)
        if state is not None and not state.startswith("08") and state not in _GONE_STATES:
            return None
    original = exc.orig or exc
    cause = _postgresql_cause(_driver_text(url, original), original)  # never the password
    return LedgerUnavailable(shown(url), f"connection lost: {cause}", unreachable=True)


@dataclass(frozen=True, slots=True)
class Probe:
    """What `probe` proved: the ledger opens and takes a write (rolled back), or will be created."""

    shown: str
    in_memory: bool = False
    exists: bool = True  # False: a SQLite file not made yet, whose directory takes a new file
    revision: str | None = None  # None: no schema yet (made by the first sweep)


def probe(url: str) -> Probe:
    """Open the ledger and prove a write in a transaction that is rolled back: nothing is changed.

    Raises LedgerUrlError or LedgerUnavailable, as `Ledger.open` would.
    """
    from sqlalchemy import text

    from session_reaper.ledger import migrate
    from session_reaper.ledger.engine import create_ledger_engine, normalize_url, writer

    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite" and (parsed.database or "") in ("", ":memory:"):
        return Probe(shown(parsed), in_memory=True)
    path = sqlite_path(parsed)
    if path is not None:
        check_sqlite_path(parsed, path)
        if not path.exists():
            _prove_directory_takes_a_file(parsed, path.parent if path.is_absolute() else Path.cwd())
            return Probe(shown(parsed), exists=False)
    engine = create_ledger_engine(url, connect_timeout=5)
    try:
        with writer(engine).connect() as connection:
            transaction = connection.begin()
            try:
                revision = migrate.current_revision(connection)
                connection.execute(text("CREATE TABLE session_reaper_doctor_probe (x INTEGER)"))
                connection.execute(text("INSERT INTO session_reaper_doctor_probe (x) VALUES (1)"))
            finally:
                transaction.rollback()
    except (SQLAlchemyError, OSError) as exc:
        raise explain(parsed, exc) from None
    finally:
        engine.dispose()
    return Probe(shown(parsed), revision=revision)


def _prove_directory_takes_a_file(url: URL, directory: Path) -> None:
    try:
        handle, name = tempfile.mkstemp(dir=directory, prefix=".session-reaper-doctor-")
    except OSError as exc:
        raise LedgerUnavailable(
            shown(url), f"cannot create a file in {directory}: {exc.strerror or exc}"
        ) from None
    os.close(handle)
    os.unlink(name)
