"""`session-reaper report`: the figures on a terminal, as JSON and as an HTML page; usage errors exit 2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from session_reaper.commands.cli import app
from session_reaper.ledger import Ledger
from tests.helpers.pages import parse

from .conftest import HOSTILE, FakeClock, fill


def config_for(directory: Path, ledger_url: str) -> Path:
    path = directory / "session-reaper.toml"
    path.write_text(f'[sweep]\nledger = "{ledger_url}"\n', encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def recent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, datetime]]:
    """A config whose ledger was filled on the machine's clock: the command reports up to now."""
    directory = tmp_path_factory.mktemp("cli")
    url = f"sqlite:///{directory}/reaper.db"
    t0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=6)
    clock = FakeClock(t0)
    with Ledger.open(url, clock=clock) as ledger:
        fill(ledger, clock, t0)
    yield config_for(directory, url), t0


def run(*args: str) -> Result:
    return CliRunner().invoke(app, ["report", *args], env={"SESSION_REAPER_CONFIG": "", "COLUMNS": "160"})


def test_json_gives_the_figures(recent: tuple[Path, datetime]) -> None:
    config, t0 = recent
    result = run("--config", str(config), "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    hour = [(t0 + timedelta(hours=h)).strftime("%Y-%m-%dT%H:00Z") for h in (0, 1, 3)]
    assert figures["closes"] == {
        "total": 7,
        "byRule": {"idle": 4, "customer-left": 2, "orphaned": 1},
        "byQueue": {"q-sales": 3, "q-support": 3, "(no queue)": 1},
        "byHour": {hour[0]: 3, hour[1]: 1, hour[2]: 3},
    }
    assert figures["sweeps"] == {"total": 3, "applied": 2}
    assert (figures["apiRequests"], figures["requestsPerClose"]) == (70, 10.0)
    assert [f["conversationId"] for f in figures["failures"]] == ["c-fail2", "c-fail"]
    assert figures["failures"][1]["reason"] == HOSTILE


def test_since_narrows_the_period(recent: tuple[Path, datetime]) -> None:
    config, _ = recent
    month = json.loads(run("--config", str(config), "--json", "--since", "30d").stdout)
    assert month["closes"]["total"] == 8 and month["requestsPerClose"] == 15.0
    # The period counts back from the last moment the ledger recorded (t0 + 3h40, the platform's clock),
    # not from the machine's: the last hour holds only the second applied sweep (t0 + 3h .. t0 + 3h40).
    late = json.loads(run("--config", str(config), "--json", "--since", "1h").stdout)
    assert late["closes"]["byRule"] == {"customer-left": 1, "idle": 1, "orphaned": 1}
    assert late["sweeps"]["total"] == 1


def test_terminal_tables(recent: tuple[Path, datetime]) -> None:
    config, _ = recent
    result = run("--config", str(config))
    assert result.exit_code == 0, result.output
    for text in (
        "Acted on, by rule",
        "Closes by queue",
        "Closes by hour (UTC)",
        "Failures",
        "API requests per close",
        "customer-left",
        "q-support",
        "service.unavailable",
        "ctx-9",
        "10.0",
    ):
        assert text in result.stdout, text
    # A "<b>" in an error is shown as recorded, not taken for markup.
    assert "still connected after escalation <b>" in result.stdout


def test_html_file(recent: tuple[Path, datetime], tmp_path: Path) -> None:
    config, _ = recent
    target = tmp_path / "out" / "report.html"
    target.parent.mkdir()
    result = run("--config", str(config), "--html", str(target))
    assert result.exit_code == 0, result.output
    page = target.read_text(encoding="utf-8")
    # By rule, by hour, over time, by queue, idle before close, past the threshold, requests per close.
    assert page.count("<svg") == 7 and parse(page).problems == []
    assert "<script" not in page and "&lt;script&gt;" in page
    assert f"Wrote {target}" in result.stdout
    # With --json, stdout stays pure JSON.
    result = run("--config", str(config), "--json", "--html", str(target))
    assert json.loads(result.stdout)["closes"]["total"] == 7


@pytest.mark.parametrize("since", ["bad", "7", "0d", "-1h"])
def test_a_bad_since_is_a_usage_error(since: str, recent: tuple[Path, datetime]) -> None:
    config, _ = recent
    result = run("--config", str(config), "--since", since)
    assert result.exit_code == 2
    assert "--since" in result.stderr and result.stdout == ""


def test_a_missing_ledger_has_nothing_recorded_yet(tmp_path: Path) -> None:
    database = tmp_path / "never.db"
    config = config_for(tmp_path, f"sqlite:///{database}")
    result = run("--config", str(config))
    assert result.exit_code == 0, result.output
    assert "Nothing recorded yet" in result.stdout
    assert not database.exists()
    result = run("--config", str(config), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["closes"]["total"] == 0
    assert "Nothing recorded yet" in result.stderr


def test_an_empty_ledger_has_nothing_recorded_yet(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/empty.db"
    Ledger.open(url).close()
    result = run("--config", str(config_for(tmp_path, url)), "--html", str(tmp_path / "r.html"))
    assert result.exit_code == 0, result.output
    assert "Nothing recorded yet" in result.stdout
    assert "Nothing recorded yet" in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_config_and_ledger_errors_are_usage_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[sweep]\nnope = 1\n", encoding="utf-8")
    result = run("--config", str(bad))
    assert result.exit_code == 2 and "nope" in result.stderr

    result = run("--config", str(config_for(tmp_path, "mysql://user:hunter2@db/reaper")))
    assert result.exit_code == 2
    assert "hunter2" not in result.stderr and "hunter2" not in result.stdout


def test_an_unwritable_html_file_is_reported(recent: tuple[Path, datetime], tmp_path: Path) -> None:
    config, _ = recent
    result = run("--config", str(config), "--html", str(tmp_path / "missing-dir" / "r.html"))
    assert result.exit_code == 2 and "cannot write" in result.stderr
