"""Issue 14, class 9: a ledger that cannot be opened is one line naming it and the cause, never a
traceback, never its password: exit 2 when the user must fix it, 1 when the server does not answer.

Every command that opens a ledger is run as a real process (scan, sweep, explain, report, serve,
doctor); nothing may be created on the way (no directory made for a mistyped path).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests import environment

SECRET = "s3cret-Pw-7731"
COMMANDS: dict[str, tuple[str, ...]] = {
    "scan": ("scan",),
    "sweep": ("sweep", "--apply", "--json"),
    "explain": ("explain", "0d1e5a9c-0000-4000-8000-000000000001"),
    "report": ("report",),
    "serve": ("serve", "--port", "0", "--apply"),
    "doctor": ("doctor",),
}


def local_postgres() -> str:
    """The test PostgreSQL's URL (skipped, loudly, when it does not answer)."""
    return environment.answering_postgres()


def on_local(**parts: Any) -> str:
    return make_url(local_postgres()).set(**parts).render_as_string(hide_password=False)


# (variant, ledger URL maker (tmp_path -> URL), exit code, words of the cause)
Variant = tuple[str, Callable[[Path], str], int, str]


def missing_directory(tmp: Path) -> str:
    return f"sqlite:///{tmp / 'nope' / 'deeper' / 'ledger.db'}"


def under_a_file(tmp: Path) -> str:
    (tmp / "plain.txt").write_text("not a directory\n")
    return f"sqlite:///{tmp / 'plain.txt' / 'ledger.db'}"


def not_a_database(tmp: Path) -> str:
    (tmp / "notes.db").write_text("these are notes, not a database\n" * 200)
    return f"sqlite:///{tmp / 'notes.db'}"


def a_directory(tmp: Path) -> str:
    (tmp / "adir.db").mkdir()
    return f"sqlite:///{tmp / 'adir.db'}"


def unwritable_system_directory(tmp: Path) -> str:
    return "sqlite:////proc/session-reaper-ledger.db"  # not writable, even by root


VARIANTS: list[Variant] = [
    ("directory missing", missing_directory, 2, "does not exist"),
    ("path under a file", under_a_file, 2, "is a file, not a directory"),
    ("not a database file", not_a_database, 2, "not a SQLite database"),
    ("path is a directory", a_directory, 2, "is a directory"),
    ("unwritable directory", unwritable_system_directory, 2, "/proc"),
    ("bad URL scheme", lambda _: f"mysql://reaper:{SECRET}@db.example/reaper", 2, "unsupported back end"),
    ("PG wrong port", lambda _: f"postgresql://postgres:{SECRET}@127.0.0.1:1/test", 1, "does not answer"),
    ("PG wrong database", lambda _: on_local(database="no_such_db_14", password=SECRET), 2, "no_such_db_14"),
    ("PG wrong role", lambda _: on_local(username="no_such_role_14", password=SECRET), 2, "no_such_role_14"),
]


def judge(run: Any, code: int, cause: str, command: str) -> None:
    output = run.stdout + run.stderr
    assert run.code == code, (command, output)
    assert "Traceback" not in output and 'File "' not in output, output
    assert SECRET not in output, output
    assert cause in output, output
    if command != "doctor":  # doctor prints its table; the others say it in one line
        problem = [ln for ln in output.splitlines() if cause in ln]
        assert len(problem) == 1 and "ledger" in problem[0], output


@pytest.mark.parametrize(("variant", "make_url_for", "code", "cause"), VARIANTS, ids=[v[0] for v in VARIANTS])
@pytest.mark.parametrize("command", ["sweep", "report", "doctor"])
def test_every_unusable_ledger_is_one_line_naming_it_and_the_cause(
    emulator, reaper, tmp_path, command, variant, make_url_for, code, cause
):
    before = sorted(p.name for p in tmp_path.iterdir())
    url = make_url_for(tmp_path)
    run = reaper.run(*COMMANDS[command], config={"sweep": {"ledger": url}}, timeout=60)

    if command == "report" and variant == "unwritable directory":
        # a report only reads: no ledger there means nothing recorded yet, which is true
        assert (run.code, "Traceback" in run.stderr) == (0, False), run.stderr
        return
    judge(run, code, cause, command)
    assert not (tmp_path / "nope").exists()  # no directory made for a mistyped path
    made = {p.name for p in tmp_path.iterdir()} - set(before)
    assert made <= {"session-reaper.toml", "plain.txt", "notes.db", "adir.db"}  # the test's own files


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(
    ("variant", "make_url_for", "code", "cause"),
    [VARIANTS[0], VARIANTS[2], VARIANTS[6], VARIANTS[7]],
    ids=["directory missing", "not a database", "PG wrong port", "PG wrong database"],
)
def test_every_command_that_opens_a_ledger_says_so_in_one_line(
    emulator, reaper, tmp_path, command, variant, make_url_for, code, cause
):
    url = make_url_for(tmp_path)

    run = reaper.run(*COMMANDS[command], config={"sweep": {"ledger": url}}, timeout=60)

    judge(run, code, cause, command)
    assert not (tmp_path / "nope").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only directory anyway")
def test_a_read_only_directory_is_named(emulator, reaper, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        run = reaper.sweep(config={"sweep": {"ledger": f"sqlite:///{locked / 'ledger.db'}"}})
    finally:
        locked.chmod(stat.S_IRWXU)
    judge(run, 2, "not writable", "sweep")


def test_doctor_proves_a_write_and_changes_nothing(emulator, reaper, tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert reaper.sweep(config={"sweep": {"ledger": url}}).code == 0  # the ledger exists now
    before = (tmp_path / "ledger.db").read_bytes()

    run = reaper.run("doctor", config={"sweep": {"ledger": url}})

    assert run.code == 0, run.stdout + run.stderr
    assert "writable" in run.stdout
    assert (tmp_path / "ledger.db").read_bytes() == before
