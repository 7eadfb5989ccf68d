"""The pure parts of `sweep --plan` / `--only`: reading a plan, its age, and when a fresh verdict carries
out a reviewed line (the scenarios in tests/scenarios/test_selection.py drive them end to end)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from session_reaper.core.rules import Action, Verdict
from session_reaper.engine.selection import PlanError, Selection, load_plan
from tests.helpers.clocks import T0


def _line(cid: str, decision: str = "close", rule: str | None = "idle", at: datetime = T0) -> str:
    stamp = at.isoformat().replace("+00:00", "Z")
    return json.dumps({"conversationId": cid, "rule": rule, "decision": decision, "decidedAt": stamp})


def _write(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "plan.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_only_actionable_lines_are_carried_and_the_oldest_dates_the_plan(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        _line("a", at=T0 + timedelta(minutes=2)),
        _line("b", "skip", None, at=T0 - timedelta(hours=5)),  # information only: does not age the plan
        _line("c", "teardown", "orphaned", at=T0),
        _line("d", "pending"),
        _line("e", "wrapup", "acw-stuck", at=T0 + timedelta(minutes=1)),
        _line("f", "warn", at=T0 + timedelta(minutes=1)),
        _line("a", "close", "customer-left"),  # a second line for the same id: the first counts
        '{"summary":{"scanned":6}}',
    )

    plan = load_plan(path)

    assert list(plan.actions) == ["a", "c", "e", "f"]
    assert plan.actions["a"].rule == "idle" and plan.actions["a"].line == 1
    assert plan.made_at == T0


@pytest.mark.parametrize(
    ("age", "refused"),
    [(timedelta(minutes=59), False), (timedelta(hours=1), False), (timedelta(hours=1, seconds=1), True)],
)
def test_a_plan_older_than_the_bound_is_refused(tmp_path: Path, age: timedelta, refused: bool) -> None:
    plan = load_plan(_write(tmp_path, _line("a")))

    if refused:
        with pytest.raises(PlanError, match="plan-max-age 1h"):
            plan.check_age(T0 + age, timedelta(hours=1))
    else:
        plan.check_age(T0 + age, timedelta(hours=1))


def test_a_plan_of_information_only_has_no_age(tmp_path: Path) -> None:
    plan = load_plan(_write(tmp_path, _line("a", "skip", None)))

    assert plan.actions == {} and plan.made_at is None
    plan.check_age(T0 + timedelta(days=30), timedelta(hours=1))


def _verdict(action: Action, rule: str | None) -> Verdict:
    return Verdict(rule, action, "why", None, decided_at=T0)


@pytest.mark.parametrize(
    ("fresh", "holds"),
    [
        (_verdict(Action.CLOSE, "idle"), True),
        (_verdict(Action.CLOSE, "customer-left"), False),  # same action, another rule
        (_verdict(Action.WARN, "idle"), False),  # another action: never swapped
        (_verdict(Action.TEARDOWN, "orphaned"), False),  # nor upgraded
        (_verdict(Action.SKIP, None), False),  # e.g. already ended
        (_verdict(Action.DEFER, "idle"), False),
    ],
)
def test_a_reviewed_line_is_carried_out_only_by_the_same_verdict(
    tmp_path: Path, fresh: Verdict, holds: bool
) -> None:
    selection = Selection(plan=load_plan(_write(tmp_path, _line("a"))))

    reason = selection.cancels("a", fresh)

    assert (reason is None) == holds
    if reason is not None:
        assert "reviewed close (idle)" in reason and fresh.action.value in reason
    assert selection.cancels("not-planned", fresh) is None


def test_only_and_plan_narrow_each_other(tmp_path: Path) -> None:
    plan = load_plan(_write(tmp_path, _line("a"), _line("b"), _line("c")))

    assert Selection(plan=plan, only=("c", "a", "z")).ids() == ["a", "c"]
    assert Selection(only=("b", "a", "b")).ids() == ["b", "a"]
    assert Selection().ids() is None and Selection().everything
    assert Selection(only=("x",)).named("x") and not Selection().named("x")
