"""One vocabulary: the names, defaults and words each consumer uses are the core's.

Each consumer is read the way a user meets it (a settings file without [rules], the reference page,
the ledger refusing a word, the rules' own defaults) and compared with the one definition.
"""

from __future__ import annotations

import pytest

from session_reaper.config import RULE_DESCRIPTIONS, parse_settings
from session_reaper.core import vocabulary
from session_reaper.core.model import ActivityKind
from session_reaper.core.plan import StepKind
from session_reaper.core.results import Outcome
from session_reaper.core.rules import DEFAULT_RULES, RULE_ORDER, Action, Policy
from session_reaper.ledger import vocabulary as ledger_words
from tools.configuration import reference_markdown


def test_every_rule_has_one_name_in_every_list() -> None:
    assert len(set(RULE_ORDER)) == len(RULE_ORDER) >= 6
    assert set(DEFAULT_RULES) == set(RULE_ORDER) == set(RULE_DESCRIPTIONS)


@pytest.mark.parametrize("name", RULE_ORDER)
def test_an_empty_settings_file_gives_the_rules_own_threshold(name: str) -> None:
    settings = parse_settings("")
    assert settings.rules.get(name).after == DEFAULT_RULES[name].after
    assert settings.policy().rule(name).after == DEFAULT_RULES[name].after
    assert Policy().rule(name).after == DEFAULT_RULES[name].after


@pytest.mark.parametrize("name", RULE_ORDER)
def test_a_rule_table_without_after_keeps_the_rules_own_threshold(name: str) -> None:
    settings = parse_settings(f"[rules.{name}]\nenabled = false\n")
    assert settings.rules.get(name).after == DEFAULT_RULES[name].after
    assert settings.rules.get(name).enabled is False


@pytest.mark.parametrize("name", RULE_ORDER)
def test_the_reference_page_describes_every_rule(name: str) -> None:
    row = next(line for line in reference_markdown().splitlines() if line.startswith(f"| `{name}` |"))
    assert RULE_DESCRIPTIONS[name] in row


def test_the_ledger_accepts_exactly_the_cores_words() -> None:
    actions, outcomes = {a.value for a in Action}, {o.value for o in Outcome} | {"interrupted"}
    # `pending`: a decision of a rule with approval = true, waiting for an operator (the console)
    assert actions | {"pending"} == ledger_words.DECISIONS
    assert outcomes == ledger_words.DECISION_OUTCOMES
    assert {"warning", "closing"} == ledger_words.MESSAGE_KINDS
    for action in Action:
        assert ledger_words.check(action.value, ledger_words.DECISIONS, "decision") == action.value
    with pytest.raises(ValueError, match="unknown decision 'closed'"):
        ledger_words.check("closed", ledger_words.DECISIONS, "decision")
    assert ledger_words.EFFECTIVE_STEP_OUTCOMES <= ledger_words.STEP_OUTCOMES
    assert set(ledger_words.INACTION_OUTCOMES) <= ledger_words.DECISION_OUTCOMES
    assert set(ledger_words.CLOSING_DECISIONS) <= ledger_words.DECISIONS


@pytest.mark.parametrize(
    ("step", "word", "activity"),
    [
        (StepKind.WARNING_TEXT, "warning", ActivityKind.REAPER_WARNING),
        (StepKind.CLOSING_TEXT, "closing", ActivityKind.REAPER_CLOSING),
    ],
)
def test_a_text_step_its_journal_word_and_its_activity_are_one_mapping(
    step: StepKind, word: str, activity: ActivityKind
) -> None:
    assert vocabulary.TEXT_STEPS[step] == word
    assert vocabulary.own_activity(word) is activity
    assert set(vocabulary.TEXT_STEPS) == {StepKind.WARNING_TEXT, StepKind.CLOSING_TEXT}


def test_an_unknown_journal_word_is_still_the_reapers_own_text() -> None:
    # never counted as a person's message: only the reaper writes rows of that table
    assert vocabulary.own_activity("notice") is ActivityKind.REAPER_CLOSING
