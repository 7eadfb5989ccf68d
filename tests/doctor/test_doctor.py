"""`session-reaper doctor` as a real process against the emulator: every verdict from real answers.

The emulator (like the platform) checks a permission before it looks a conversation up, so the
doctor's probes on random conversation ids get 403 exactly when a permission is missing.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from genesys_emulator.client import Emulator
from session_reaper.commands.doctor import CAPABILITIES, known_permissions, permission_label
from tests.scenarios.conftest import Reaper, ReaperRun

DISCONNECT = "conversation:communication:disconnect"
_ids = itertools.count()


def client(emulator: Emulator, permissions: list[str], secret: str = "doctor-secret-value") -> str:
    """A fresh OAuth client (clients outlive the per-test reset, so every test gets its own id)."""
    client_id = f"doctor-{next(_ids)}-{permissions[0].replace(':', '-') if permissions else 'none'}"
    emulator.add_client(client_id, secret, permissions)
    return client_id


def every_permission_but(*missing: str) -> list[str]:
    return [p for p in known_permissions() if p not in missing]


def doctor(
    reaper: Reaper,
    client_id: str,
    secret: str = "doctor-secret-value",
    args: tuple[str, ...] = (),
    **kwargs: Any,
) -> ReaperRun:
    reaper.client_id, reaper.client_secret = client_id, secret
    return reaper.run("doctor", *args, **kwargs)


def lines(run: ReaperRun, mark: str) -> list[str]:
    return [line for line in run.stdout.splitlines() if line.startswith(mark)]


@pytest.fixture
def reaper(emulator: Emulator, tmp_path: Path) -> Reaper:
    return Reaper(emulator.base_url, tmp_path)


def test_every_permission_present_exits_0_with_a_tick_per_check(emulator: Emulator, reaper: Reaper) -> None:
    cid = client(emulator, ["*"])
    run = doctor(reaper, cid, config={"close": {"wrapup_code": "code-resolved"}})
    assert run.code == 0, run.stdout + run.stderr
    ticks = "\n".join(lines(run, "✓"))
    for check in ("config", "credentials", "region and hosts", "token", "organization"):
        assert f"✓ {check}:" in ticks
    assert "session-reaper emulator" in ticks  # the organization's name, from /api/v2/tokens/me
    for capability in CAPABILITIES:  # wrap-up is needed here: wrapup_code is set
        assert f"✓ permission: {capability.title}" in ticks, run.stdout
    assert not lines(run, "✗")
    assert "doctor-secret-value" not in run.stdout + run.stderr


def test_missing_disconnect_is_named_with_its_ui_label(emulator: Emulator, reaper: Reaper) -> None:
    cid = client(emulator, every_permission_but(DISCONNECT))
    run = doctor(reaper, cid)
    assert run.code == 3, run.stdout + run.stderr
    crosses = lines(run, "✗")
    participant = [c for c in crosses if "disconnect a participant" in c]
    assert participant, run.stdout
    assert DISCONNECT in participant[0]
    assert "Conversation > Communication > Disconnect" in participant[0]
    fix = run.stdout.split(participant[0], 1)[1].splitlines()[1]
    assert fix.strip().startswith("fix: grant the role 'Conversation > Communication > Disconnect'")
    # the other permission of the whole-conversation disconnect (park) is there, so that one passes
    assert any(t.startswith("✓ permission: disconnect a whole conversation") for t in lines(run, "✓"))


def test_bad_secret_exits_3_and_never_prints_a_secret(emulator: Emulator, reaper: Reaper) -> None:
    cid = client(emulator, ["*"], secret="the-right-secret")
    run = doctor(reaper, cid, secret="a-wrong-secret-123")
    assert run.code == 3, run.stdout + run.stderr
    assert lines(run, "✗ token")
    assert "GENESYSCLOUD_OAUTHCLIENT_SECRET" in run.stdout  # the fix names the variable ...
    assert "a-wrong-secret-123" not in run.stdout + run.stderr  # ... never its value
    assert "the-right-secret" not in run.stdout + run.stderr
    # nothing after the refused token was asked of the platform
    assert [r["path"] for r in emulator.requests()] == ["/oauth/token"]


def test_queues_without_the_platform_timer_are_listed(emulator: Emulator, reaper: Reaper) -> None:
    emulator.add_queue("q-timer-on", name="Timed", inactivityTimeoutSeconds=1800)
    emulator.add_queue("q-timer-off", name="Untimed")
    run = doctor(reaper, client(emulator, ["*"]))
    assert run.code == 0, run.stdout + run.stderr
    warnings = lines(run, "⚠")
    assert any("Untimed" in w and "q-timer-off" in w and "timer off" in w for w in warnings), run.stdout
    assert not any("Timed " in w or "q-timer-on" in w for w in warnings)
    assert any("platform timer on in 1 of 2" in t and "Timed (1800s)" in t for t in lines(run, "✓"))

    as_json = doctor(reaper, reaper.client_id, "doctor-secret-value", args=("--json",))
    assert as_json.code == 0
    report = json.loads(as_json.stdout)
    assert report["queuesWithoutTimer"] == [{"id": "q-timer-off", "name": "Untimed"}]
    assert report["exitCode"] == 0 and all(c["status"] != "fail" for c in report["checks"])


def test_what_is_needed_follows_the_configuration(emulator: Emulator, reaper: Reaper) -> None:
    no_texts = every_permission_but("conversation:message:create", "conversation:webmessaging:create")
    cid = client(emulator, no_texts)
    # With the default closing_text the reaper writes to the guest: the missing permission fails ...
    with_text = doctor(reaper, cid)
    assert with_text.code == 3
    assert any("send the warning and closing texts" in c for c in lines(with_text, "✗"))
    # ... with no text at all, it is not needed, and the same client passes.
    silent = doctor(reaper, cid, config={"close": {"closing_text": "", "warn_before": "0m"}})
    assert silent.code == 0, silent.stdout
    assert any("send the warning and closing texts" in s and "not needed" in s for s in lines(silent, "–"))


def test_missing_queue_permission_is_only_a_warning(emulator: Emulator, reaper: Reaper) -> None:
    run = doctor(reaper, client(emulator, every_permission_but("routing:queue:view")))
    assert run.code == 0, run.stdout + run.stderr
    warned = lines(run, "⚠")
    assert any("read queues" in w and "routing:queue:view" in w for w in warned)
    assert any(w.startswith("⚠ queue inactivity timers: not checked") for w in warned)


def test_probes_change_nothing_and_config_errors_send_nothing(emulator: Emulator, reaper: Reaper) -> None:
    live = emulator.create_conversation(
        {
            "participants": [
                {"purpose": "customer", "state": "connected", "messages": [{"ago": "45m"}]},
                {"purpose": "agent", "state": "connected", "messages": [{"ago": "44m"}]},
            ]
        }
    )
    before = emulator.conversation(live["id"])
    run = doctor(reaper, client(emulator, ["*"]))
    assert run.code == 0
    sent = emulator.requests()
    writes = [r for r in sent if r["method"] in ("POST", "PATCH") and r["path"] != "/oauth/token"]
    assert writes, "the write permissions were probed"
    assert all(r["status"] in (200, 404) for r in writes), writes
    assert all(live["id"] not in r["path"] for r in emulator.requests())
    assert emulator.conversation(live["id"]) == before

    emulator.clear_requests()
    bad = doctor(reaper, "emulator", "emulator-secret", config_text='[rules.idle]\nafter = "soon"\n')
    assert bad.code == 2
    assert lines(bad, "✗ config") and "[rules.idle] after" in bad.stdout
    assert emulator.requests() == []


def test_unknown_region_and_a_wrong_vendors_host(emulator: Emulator, reaper: Reaper) -> None:
    unknown = doctor(
        reaper,
        "emulator",
        "emulator-secret",
        env={"GENESYSCLOUD_API_URL": "", "GENESYSCLOUD_REGION": "moon-east-1"},
    )
    assert unknown.code == 2
    assert lines(unknown, "✗ region and hosts") and "moon-east-1" in unknown.stdout
    nice = doctor(
        reaper, "emulator", "emulator-secret", env={"GENESYSCLOUD_API_URL": "https://api.mynicecxone.com"}
    )
    assert nice.code == 2
    assert any("mynicecxone.com" in c and "NICE" in c for c in lines(nice, "✗ region and hosts"))


def test_labels_are_the_ui_s() -> None:
    assert permission_label("analytics:conversationDetail:view") == "Analytics > Conversation Detail > View"
    assert permission_label(DISCONNECT) == "Conversation > Communication > Disconnect"
    assert "routing:queue:view" in known_permissions()


def test_a_ready_access_token_is_checked_and_an_unreachable_host_exits_1(
    emulator: Emulator, reaper: Reaper
) -> None:
    auth = emulator.platform.auth
    token = getattr(auth, "token", "")
    assert token
    ready = doctor(
        reaper,
        "",
        "",
        env={
            "GENESYSCLOUD_OAUTHCLIENT_ID": "",
            "GENESYSCLOUD_OAUTHCLIENT_SECRET": "",
            "GENESYSCLOUD_ACCESS_TOKEN": token,
        },
    )
    assert ready.code == 0, ready.stdout + ready.stderr
    assert "GENESYSCLOUD_ACCESS_TOKEN" in ready.stdout and token not in ready.stdout + ready.stderr

    gone = doctor(reaper, "emulator", "emulator-secret", env={"GENESYSCLOUD_API_URL": "http://127.0.0.1:9"})
    assert gone.code == 1, gone.stdout + gone.stderr
    assert lines(gone, "✗ token") and "no answer" in gone.stdout


def test_the_doctor_s_permissions_are_the_ones_the_emulator_enforces() -> None:
    from genesys_emulator import platform

    routes = {(method, path): permissions for path, method, _, permissions in platform.ROUTES}
    for capability in CAPABILITIES:
        enforced = routes[(capability.method, capability.path)]
        if capability.key == "disconnect-participant":
            # the route needs none; its handler asks for Disconnect when the body sets a state
            enforced = (platform.DISCONNECT,)
        assert set(capability.permissions) == set(enforced), capability.key


def test_many_untimed_queues_are_summed_up_after_the_first_ones(emulator: Emulator, tmp_path: Path) -> None:
    from session_reaper.commands.doctor import MAX_QUEUES_LISTED, Status, diagnose

    for number in range(MAX_QUEUES_LISTED + 3):
        emulator.add_queue(f"q-{number:02d}", name=f"Queue {number:02d}")
    environ = {
        "GENESYSCLOUD_OAUTHCLIENT_ID": "emulator",
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": "emulator-secret",
        "GENESYSCLOUD_API_URL": emulator.base_url,
    }
    config = tmp_path / "session-reaper.toml"
    config.write_text('[sweep]\nqueues = { exclude = ["q-00"] }\n')
    diagnosis = diagnose(config, environ)
    assert diagnosis.exit_code == 0
    assert len(diagnosis.queues_without_timer) == MAX_QUEUES_LISTED + 2  # q-00 is out of scope
    listed = [c for c in diagnosis.checks if c.name.startswith("queue Queue")]
    assert len(listed) == MAX_QUEUES_LISTED and all(c.status is Status.WARN for c in listed)
    assert "Queue 00" not in {c.name for c in listed}
    assert [c.detail for c in diagnosis.checks if c.name == "more queues"] == [
        "2 more with the timer off (all of them: doctor --json)"
    ]


def test_the_ledger_is_checked_without_being_changed(emulator: Emulator, tmp_path: Path) -> None:
    from session_reaper.commands.doctor import Status, diagnose
    from session_reaper.ledger import Ledger

    environ = {
        "GENESYSCLOUD_OAUTHCLIENT_ID": "emulator",
        "GENESYSCLOUD_OAUTHCLIENT_SECRET": "emulator-secret",
        "GENESYSCLOUD_API_URL": emulator.base_url,
    }
    config = tmp_path / "session-reaper.toml"

    def ledger_check(url: str) -> tuple[int, Any]:
        config.write_text(f"[sweep]\nledger = {json.dumps(url)}\n")
        diagnosis = diagnose(config, environ)
        return diagnosis.exit_code, next(c for c in diagnosis.checks if c.name == "ledger")

    future = tmp_path / "ledger-later.db"
    code, check = ledger_check(f"sqlite:///{future}")
    assert (code, check.status) == (0, Status.OK) and "created at the first sweep" in check.detail
    assert sorted(p.name for p in tmp_path.iterdir()) == ["session-reaper.toml"]  # nothing created

    missing = tmp_path / "later" / "ledger.db"
    code, check = ledger_check(f"sqlite:///{missing}")
    assert (code, check.status) == (2, Status.FAIL) and "does not exist" in check.detail
    assert not missing.parent.exists()

    existing = tmp_path / "ledger.db"
    Ledger.open(f"sqlite:///{existing}").close()
    code, check = ledger_check(f"sqlite:///{existing}")
    assert (code, check.status) == (0, Status.OK) and "(current)" in check.detail

    code, check = ledger_check("mysql://reaper:hunter2@db/reaper")
    assert (code, check.status) == (2, Status.FAIL)
    assert "hunter2" not in check.detail

    code, check = ledger_check("postgresql://reaper:hunter2@127.0.0.1:9/reaper")
    assert (code, check.status) == (1, Status.FAIL)
    assert "hunter2" not in check.detail + check.fix


def test_a_platform_slower_than_the_request_timeout_is_reported_not_waited_for(
    emulator: Emulator, reaper: Reaper
) -> None:
    # Doctor probes with the sweep's own `request_timeout` (at most 15 s): a platform that answers after
    # it is what the sweep would meet, so it is the finding. Before, doctor waited a fixed 15 s and a
    # platform 1.5 s slow looked healthy to it while every sweep request timed out.
    emulator.fault(path="^/api/v2/", latencyMs=1500, times=1000)
    run = doctor(reaper, client(emulator, known_permissions()), config={"sweep": {"request_timeout": "1s"}})
    assert run.code == 1, run.stdout + run.stderr
    (failed,) = lines(run, "✗ organization")
    assert "no answer from the platform" in failed and "ReadTimeout" in failed, failed
    assert "Traceback" not in run.stderr and "doctor-secret-value" not in run.stdout + run.stderr
