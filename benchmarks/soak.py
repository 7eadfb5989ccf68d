"""The soak: `session-reaper serve --apply` (a real process) against the emulator for a virtual week.

- The platform: the emulator in this process (`EmulatorServer`), its clock moved a virtual minute at each of
  the driver's steps and at real speed between them (`common.stepped`, flowing), its per-client limit of 300
  requests per *virtual* minute.
- The traffic: the demo's organization as a stale backlog (`seed_demo`), then the demo's generator
  (`TrafficGenerator`) plus `LongChats`: >= 2,000 chats open at once.
- The reaper: `serve --apply` on a PostgreSQL ledger in a PostgreSQL instance of its own (initdb/pg_ctl
  on another port, so that it can be restarted under the ledger without touching anyone else's).
- Time: `serve`'s interval is real time, the platform's clock is virtual. The driver steps the clock by
  one virtual minute at a time, preferably while no request is being served, and never (up to
  `ACT_WAIT`) inside an act on a conversation the step changes, from its re-check to its ending write
  (`Rechecks`): on the real platform that sequence takes milliseconds, and a minute of the world
  dropped into it is a race magnified thousands of times, not one the reaper could close. It paces the
  steps so that the whole run takes about `--wall` seconds. The reaper's own `requests_per_minute` is
  the platform's 300 scaled by the clock's speed-up (its local count runs on real time); the
  platform's count, on the virtual clock, is the one that binds, and it reaches the reaper in the
  `inin-ratelimit-*` headers.
- Faults (`schedule`): PostgreSQL restarted, 5xx storms, 429 bursts, the token revoked, analytics lagging,
  answers slower than `request_timeout`, SIGKILL + restart; with `--mode events` (serve in the events
  mode, on the emulator's Notifications socket) also the socket dropped, `socket_closing` sent, events
  lost without a word, and a socket gone silent (no heartbeat).
- Invariants, from the emulator's own state (its request log, its conversations at the instant of each
  close), and the ledger read directly at the end: see `invariants`.

`python -m benchmarks.soak` (make soak) runs the week; `--smoke` one virtual hour with a few faults.
The figures go to benchmarks/results.json (key "soak", or "soakSmoke"); exit 1 if an invariant broke.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

from benchmarks.common import (
    CloseLog,
    LongChats,
    Thresholds,
    WatchedHands,
    machine,
    percentile,
    stepped,
)
from genesys_emulator.assumptions import CUSTOMER_PURPOSES
from genesys_emulator.auth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from genesys_emulator.clock import parse_iso
from genesys_emulator.server import EmulatorServer, _free_port
from genesys_emulator.spec import FaultSpec
from genesys_emulator.traffic import TrafficGenerator, seed_demo

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results.json"
LIMIT = 300  # the platform's requests per minute for one OAuth client
STEP = 60.0  # virtual seconds per clock step
# serve's default cap (200 closes a window) at the default `reconcile_interval` (10 min) is 1,200 closes a
# virtual hour; the soak's window is a virtual hour (its reconcile_interval), so the same rate is 1,200 a
# window. Left at 200, the cap bound the required world in the events mode: closes deferred for hours.
EVENTS_MAX_CLOSES = 1200
EVENTS_MAX_TEARDOWNS = 120  # serve's 20 a window, the same way (the week at 120x deferred orphans without it)
QUIET_WAIT = 0.05  # real seconds a step waits for the requests being served to be answered
REQUEST_TIMEOUT = 5  # real seconds: `[sweep] request_timeout` of the reaper under test
SLOW_MS = 8_000  # the slow-answer fault: past the timeout
INTERVAL = "1s"  # serve's interval (real time)
DAY = 86_400.0
WRAPUP_CODE = "code-follow-up"  # one of the emulator's wrap-up codes, as the demo's policy has it
RETENTION_DAYS = 2  # `[sweep] journal_retention` of the reaper under test: pruning works inside the week
HEARTBEAT_SECONDS = (
    1.0  # the emulator's heartbeat (wall seconds) in the events mode: a dead socket is seen soon
)
HEARTBEAT_TIMEOUT = 5  # wall seconds: `[events] heartbeat_timeout` of the reaper under test
CONVERSATION_IN_PATH = re.compile(r"/conversations/(?:messages/)?([0-9a-f-]{36})")
# The reaper's re-check (steps.py: the message media view, read only just before a write)
RECHECK_PATH = re.compile(r"^/api/v2/conversations/messages/([0-9a-f-]{36})$")
# Real seconds a step waits for the next write of an act on a conversation the step changes.
# Measured (`midAct.recheckToWrite`, events mode, 2 shared CPUs): p50 20-60 ms, p99 ~0.5 s, and 1.35 s
# once in the start's backlog, the reaper's loop busy with dozens of acts. A re-check that cancelled
# is followed by no write, one of a SIGKILLed process never: then the step goes ahead (`forcedSteps`).
ACT_WAIT = 3.0
# The world's operations a reaper's write reaches: those that end its act (a disconnect, a teardown, a
# wrap-up) and those that come before the ending one (the annotation, the closing or warning text)
ENDING_WRITES = (
    "patch_participant",
    "disconnect_participant",
    "disconnect_conversation",
    "teardown",
    "apply_wrapup",
)
EARLIER_WRITES = ("set_attributes", "send_message")
RECENT = 16  # platform requests kept per conversation, as evidence of a broken invariant


# ------------------------------------------------------------------------------ PostgreSQL of its own


class DedicatedPostgres:
    """A PostgreSQL cluster in a temporary directory on a free port, run as the `postgres` user."""

    def __init__(self, workdir: Path) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not found:
            raise SystemExit("soak: no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
        self.bin = Path(found[-1]).parent
        self.data = workdir / "pgdata"
        self.port = _free_port("127.0.0.1")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.restarts = 0

    def _run(self, *args: str) -> None:
        as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*as_postgres, *args], check=True, capture_output=True, timeout=120)

    def start(self) -> DedicatedPostgres:
        self.data.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(self.data.parent, "postgres")
            shutil.chown(self.data, "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")
        self._pg_ctl("start")
        return self

    def _pg_ctl(self, verb: str) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.data / "log"),
            "-w",
            "-m",
            "fast",
            "-o",
            options,
            verb,
        )

    def start_again(self) -> None:
        """Start the stopped cluster again, its data as it was."""
        self._pg_ctl("start")

    def restart(self) -> None:
        self._pg_ctl("restart")
        self.restarts += 1

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already down
            self._pg_ctl("stop")

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url) as connection:
            return list(connection.execute(sql, params).fetchall())


# ------------------------------------------------------------------------------------- the reaper


class Reaper:
    """`session-reaper serve --apply` as a real process; killed with SIGKILL, started again."""

    def __init__(
        self,
        workdir: Path,
        base_url: str,
        ledger: str,
        speedup: float,
        mode: str = "poll",
        max_closes: int | None = None,
        concurrency: int | None = None,
    ) -> None:
        self.workdir = workdir
        self.stderr = workdir / "serve.log"
        self.config = workdir / "session-reaper.toml"
        config = (
            "[sweep]\n"
            f'interval = "{INTERVAL}"\n'
            f'ledger = "{ledger}"\n'
            f"requests_per_minute = {round(LIMIT * speedup)}\n"
            f'request_timeout = "{REQUEST_TIMEOUT}s"\n'
            'verify_timeout = "5s"\n'
            f'journal_retention = "{RETENTION_DAYS}d"\n'
        )
        if max_closes is not None:
            # sized for the world: the default 200 a pass cannot keep up with hundreds of arrivals an
            # hour once a pass over thousands of open chats lasts hours of the platform's time
            config += f"max_closes = {max_closes}\n"
        if mode == "events":
            config += f"max_teardowns = {EVENTS_MAX_TEARDOWNS}\n"
        if concurrency is not None:
            # conversations handled at once, to test run N's guess that one serve waits on round trips
            # (half a day of the required world: 32 was no faster than the default 8)
            config += f"concurrency = {concurrency}\n"
        if mode == "events":
            # Its durations are wall time: a reconciliation every virtual hour, the clock checked every
            # wall second (the platform's minute moves in a tenth of that), a dead socket seen in 5 s.
            config += (
                'mode = "events"\n'
                "[events]\n"
                f'reconcile_interval = "{max(1, round(3600 / speedup))}s"\n'
                'clock_sync = "1s"\n'
                f'heartbeat_timeout = "{HEARTBEAT_TIMEOUT}s"\n'
            )
        # as the demo and the comparison: acw-stuck acts (without it, agents gone without a wrap-up keep
        # their conversations open for good, and the open set grows whatever the reaper does)
        config += f'[close]\nwrapup_code = "{WRAPUP_CODE}"\n'
        self.config.write_text(config)
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("GENESYSCLOUD_", "SESSION_REAPER_"))
        }
        self.env.update(
            GENESYSCLOUD_API_URL=base_url,
            GENESYSCLOUD_OAUTHCLIENT_ID=DEFAULT_CLIENT_ID,
            GENESYSCLOUD_OAUTHCLIENT_SECRET=DEFAULT_CLIENT_SECRET,
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        # The smoke's hour is 30 s of wall time: a restart that takes seconds on a loaded machine would
        # eat it, so there the platform's time waits for serve to be up again (the week's does not).
        self.wait_after_kill = False
        self.waited = 0.0  # real seconds the platform's time stood still for serve to come up
        self.starts = 0
        self.kills = 0
        self.exits: list[int] = []  # exit codes of processes that ended on their own

    def start(self) -> None:
        port = self.port = _free_port("127.0.0.1")
        command = [
            sys.executable,
            "-m",
            "session_reaper.commands.cli",
            "serve",
            "--apply",
            "--port",
            str(port),
            "--config",
            str(self.config),
            "--log-level",
            "info",
        ]
        with self.stderr.open("ab") as stderr:
            self.process = subprocess.Popen(
                command, env=self.env, cwd=self.workdir, stdout=subprocess.DEVNULL, stderr=stderr
            )
        self.starts += 1

    def wait_until_up(self, timeout: float = 120.0) -> None:
        """Until serve answers /healthz: the platform's time starts once the reaper is there (on a loaded
        machine its start takes seconds, many virtual minutes of a smoke's hour)."""
        began = time.monotonic()
        deadline = began + timeout
        try:
            self._wait_until_up(deadline)
        finally:
            self.waited += time.monotonic() - began

    def _wait_until_up(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                code = self.process.returncode
                raise SystemExit(f"soak: serve exited at its start ({code}); see {self.stderr}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.1)
        raise SystemExit("soak: serve did not answer /healthz in time")

    def check_alive(self) -> None:
        """A serve that exited on its own is recorded and started again (the soak goes on)."""
        if self.process is not None and self.process.poll() is not None:
            self.exits.append(self.process.returncode)
            self.start()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.kills += 1
        self.start()
        if self.wait_after_kill:
            self.wait_until_up()

    def stop(self) -> int | None:
        if self.process is None:
            return None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return None

    def settle(self, conversation_ids: list[str]) -> int:
        """One `sweep --apply --only` of these conversations, after serve stopped: what the next start
        would do with the intents the last one left open (each is settled before anything is decided)."""
        command = [sys.executable, "-m", "session_reaper.commands.cli", "sweep", "--apply", "--config"]
        command += [str(self.config), *(arg for cid in conversation_ids for arg in ("--only", cid))]
        with self.stderr.open("ab") as stderr:
            done = subprocess.run(
                command, env=self.env, cwd=self.workdir, stdout=subprocess.DEVNULL, stderr=stderr, timeout=300
            )
        return done.returncode

    def rss(self) -> int | None:
        try:
            return int(psutil.Process(self.process.pid).memory_info().rss) if self.process else None
        except psutil.Error:
            return None


# --------------------------------------------------------------------------------------- the acts


@dataclass
class ActLog(CloseLog):
    """CloseLog (each close judged at the instant it is served) plus every act, per conversation."""

    acts: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (conversation, kind, who)
    texts: Counter[str] = field(default_factory=Counter)  # texts sent, per conversation and close
    last_text: dict[str, datetime] = field(default_factory=dict)  # when the latest one was served
    # Every act as it was served (virtual time, kind, participant or message id): a double act's evidence.
    timeline: defaultdict[str, list[tuple[str, str, str]]] = field(default_factory=lambda: defaultdict(list))

    def install(self) -> ActLog:
        super().install()
        world = self.world
        for name, kind in (
            ("disconnect_participant", "participant"),
            ("disconnect_conversation", "conversation"),
            ("teardown", "teardown"),
            ("apply_wrapup", "wrapup"),
        ):
            setattr(world, name, self._count(getattr(world, name), kind))
        send = world.send_message

        def send_message(conversation_id: str, communication_id: str, text: str) -> dict[str, Any]:
            last = self.last_text.get(conversation_id)
            sent = send(conversation_id, communication_id, text)
            if last is not None and self._guest_wrote_since(conversation_id, last):
                # The guest came back after the first text and wrote: that close was called off, and a
                # later one is a new close with its own text (run S), not the first one sent twice.
                self.texts[conversation_id] = 0
            self.texts[conversation_id] += 1
            self.last_text[conversation_id] = self.world.clock.now()
            self._note(conversation_id, "text", str(sent.get("id", "")))
            return sent

        world.send_message = send_message  # type: ignore[method-assign]
        return self

    def _count(self, operation: Callable[..., Any], kind: str) -> Callable[..., Any]:
        def counted(conversation_id: str, *args: Any) -> Any:
            # A teardown is the one write the platform takes as done on an ended conversation (it is
            # retried like a read: repeating it is harmless). One that ends nothing, because its first
            # attempt's answer was lost, changes nothing a person sees: noted, not an act (run S).
            ends = kind != "teardown" or any(leg.active or leg.in_acw for leg in self._legs(conversation_id))
            result = operation(conversation_id, *args)  # raises when refused: not an act
            who = str(args[0]) if args and kind in ("participant", "wrapup") else ""
            if not ends:
                self._note(conversation_id, "teardown (nothing left to end)", who)
                return result
            self.acts[(conversation_id, kind, who)] += 1
            self._note(conversation_id, kind, who)
            return result

        return counted

    def _guest_wrote_since(self, conversation_id: str, moment: datetime) -> bool:
        return any(
            written.at > moment
            for leg in self._legs(conversation_id)
            if leg.purpose in CUSTOMER_PURPOSES
            for written in leg.messages
        )

    def _legs(self, conversation_id: str) -> list[Any]:
        conversation = self.world.conversations.get(conversation_id)
        return [] if conversation is None else list(conversation.legs)

    def _note(self, conversation_id: str, kind: str, who: str) -> None:
        self.timeline[conversation_id].append((self.world.clock.now().isoformat(), kind, who))

    def doubles(self) -> list[str]:
        twice = {conv for (conv, _, _), n in self.acts.items() if n > 1}
        return sorted(twice | {conv for conv, n in self.texts.items() if n > 1})


class ServedLog(deque[dict[str, Any]]):
    """The emulator's request log (`world.requests`), each entry stamped with the wall time it was
    logged (`wall`): the evidence of a broken invariant says how far apart two requests were."""

    def append(self, entry: dict[str, Any]) -> None:  # on the emulator's server thread
        entry["wall"] = time.monotonic()
        super().append(entry)


@dataclass
class Rechecks:
    """The acts between their re-check and their ending write, judged inside the emulator.

    The reaper re-reads a conversation's media view (`GET /conversations/messages/{id}`, read for
    nothing else) right before its first write (the annotation, a text) and again right before the
    disconnect, and writes at once after each. On the real platform the whole sequence takes
    milliseconds; a clock step inside it puts a minute of the world's messages there: a person "writes"
    between the re-check and the disconnect (a close in use), or between the annotation and the closing
    text (told "closed", the disconnect then cancelled, a second text another day). The soak would
    judge its own clock, not the reaper. Every read and write is served under `world.lock`, and the
    driver asks `waiting` under that lock before a step, so no re-check slips in between its look and
    the step."""

    world: Any
    waiting_since: dict[str, float] = field(default_factory=dict)  # conversation -> wall time of its last
    # seconds from a re-check to the write after it, by the world's operation that write reached
    gaps: defaultdict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    _read_at: dict[str, float] = field(default_factory=dict)  # conversation -> its latest re-check

    def install(self) -> Rechecks:
        world = self.world
        read = world.media_view

        def media_view(conversation_id: str) -> bytes:
            answer: bytes = read(conversation_id)  # raises when not there: no write follows
            self.waiting_since[conversation_id] = self._read_at[conversation_id] = time.monotonic()
            return answer

        world.media_view = media_view
        for name in (*ENDING_WRITES, *EARLIER_WRITES):
            setattr(world, name, self._write(getattr(world, name), name, ending=name in ENDING_WRITES))
        return self

    def _write(self, operation: Callable[..., Any], name: str, *, ending: bool) -> Callable[..., Any]:
        def written(conversation_id: str, *args: Any) -> Any:
            now = time.monotonic()
            read_at = self._read_at.pop(conversation_id, None)
            if read_at is not None:
                self.gaps[name].append(now - read_at)
            if ending:
                self.waiting_since.pop(conversation_id, None)  # the act is over
            elif conversation_id in self.waiting_since:
                self.waiting_since[conversation_id] = now  # the act goes on: its next write is near
            return operation(conversation_id, *args)

        return written

    def waiting(self, among: set[str]) -> bool:
        """Whether an act on one of `among` is between its re-check and its ending write, its last
        request less than `ACT_WAIT` ago (asked under the world's lock)."""
        now = time.monotonic()
        for cid in [c for c, at in self.waiting_since.items() if now - at >= ACT_WAIT]:
            del self.waiting_since[cid]  # it cancelled, ended with a text, or its process died
        return any(cid in among for cid in self.waiting_since)


@dataclass
class ListingCoverage:
    """Each discovery scan of the reaper against the platform's own answer: what the query selected when
    the scan began (its probe, a page of size 1), what the scan's pages listed, and which of the former
    the pages never listed though they were still open at its last page (a scan that skips).

    Judged inside the emulator, on the very answers served: `analytics.run` is wrapped, and the selection
    at the probe is the same query paged to its end at that instant (under the world's lock)."""

    world: Any
    scans: list[dict[str, Any]] = field(default_factory=list)
    _current: dict[str, dict[str, Any]] = field(default_factory=dict)  # query without paging -> its scan
    selected_by: Counter[str] = field(default_factory=Counter)  # conversation -> scans that selected it
    missed_by: Counter[str] = field(default_factory=Counter)  # ... and whose pages never listed it

    def install(self, start: datetime) -> ListingCoverage:
        from genesys_emulator import analytics

        original = analytics.run

        def run(world: Any, body: Any, organization: str = "default") -> bytes:
            answer: bytes = original(world, body, organization)
            with contextlib.suppress(Exception):  # a measurement: never the emulator's trouble
                self._saw(world, body, answer, original, organization, start)
            return answer

        analytics.run = run
        return self

    def _saw(
        self, world: Any, body: Any, answer: bytes, original: Any, organization: str, start: datetime
    ) -> None:
        paging = body.get("paging") or {}
        key = json.dumps({k: v for k, v in body.items() if k != "paging"}, sort_keys=True)
        if paging.get("pageSize") == 1 and paging.get("pageNumber", 1) == 1:  # a probe: a scan begins
            self._close(key, world)
            selected: set[str] = set()
            page = 1
            while True:
                whole = {**body, "paging": {"pageSize": 100, "pageNumber": page}}
                got = json.loads(original(world, whole, organization)).get("conversations") or []
                selected.update(c["conversationId"] for c in got)
                if len(got) < 100:
                    break
                page += 1
            at = (world.clock.now() - start).total_seconds() / 3600
            self._current[key] = {"atHour": round(at, 2), "selected": selected, "listed": set(), "pages": 0}
            return
        scan = self._current.get(key)
        if scan is None:
            return
        scan["pages"] += 1
        scan["listed"].update(c["conversationId"] for c in json.loads(answer).get("conversations") or [])
        scan["missed"] = {c for c in scan["selected"] - scan["listed"] if c in world.open_ids}

    def _close(self, key: str, world: Any) -> None:
        scan = self._current.pop(key, None)
        if scan is None:
            return
        missed = scan.get("missed", set())
        self.selected_by.update(scan["selected"])
        self.missed_by.update(missed)
        self.scans.append(
            {
                "atHour": scan["atHour"],
                "pages": scan["pages"],
                "selected": len(scan["selected"]),
                "listed": len(scan["listed"]),
                "missedStillOpen": len(missed),
            }
        )

    def figures(self, world: Any, most_overdue: list[str]) -> dict[str, Any]:
        for key in list(self._current):
            self._close(key, world)
        scanned = [s for s in self.scans if s["pages"]]
        return {
            "scans": len(scanned),
            "scansThatMissed": sum(1 for s in scanned if s["missedStillOpen"]),
            "missedStillOpen": sum(s["missedStillOpen"] for s in scanned),
            "selected": sum(s["selected"] for s in scanned),
            "worst": sorted(scanned, key=lambda s: s["missedStillOpen"], reverse=True)[:5],
            # the most overdue at the end: in how many scans the query selected them, and how many of
            # those never listed them
            "mostOverdue": [
                {"id": cid, "selectedBy": self.selected_by[cid], "missedBy": self.missed_by[cid]}
                for cid in most_overdue
            ],
        }


def touched_by_step(traffic: TrafficGenerator, long_chats: LongChats, until: datetime) -> set[str]:
    """The conversations the next step's guests and agents act on (a message, a leave, a wrap-up):
    only a re-check of one of these can be overtaken by the step. New arrivals have no re-check yet."""
    touched = {sim.id for sim in traffic.active if sim.due <= until}
    touched.update(str(chat["id"]) for due, _, _, chat in long_chats.events if due <= until)
    return touched


# ------------------------------------------------------------------------------------ the faults


@dataclass
class Fault:
    name: str
    at: list[float]  # virtual seconds from the start
    duration: float  # virtual seconds until it is lifted (0: at once)
    begin: Callable[[], Any]
    end: Callable[[], Any] = lambda: None
    recoveries: list[float] = field(default_factory=list)  # virtual seconds when it was lifted
    injected: int = 0  # times begun (one still on at the end has no recovery yet)


class Sockets:
    """The socket faults, through the emulator's admin API (the sockets live on its server's loop)."""

    def __init__(self, base_url: str) -> None:
        self.url = f"{base_url}/emulator/v1/notifications"
        self.matched: Counter[str] = Counter()  # open sockets each kind of fault reached

    def fault(self, **body: Any) -> Callable[[], None]:
        def inject() -> None:
            answer = httpx.post(f"{self.url}/faults", json=body, timeout=30)
            answer.raise_for_status()
            self.matched[body["type"]] += int(answer.json().get("sockets", 0))

        return inject

    def clear(self) -> None:
        httpx.delete(f"{self.url}/faults", timeout=30).raise_for_status()

    def heartbeat(self, seconds: float) -> None:
        httpx.post(f"{self.url}/settings", json={"heartbeatSeconds": seconds}, timeout=30).raise_for_status()

    def state(self) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(self.url, timeout=30).json()
        return body


def spread(count: int, first: float, last: float) -> list[float]:
    """`count` moments from `first` to `last`, evenly apart."""
    return [first + (last - first) * i / max(1, count - 1) for i in range(count)]


def socket_faults(week: float, smoke: bool, sockets: Sockets) -> list[Fault]:
    """The events mode's own faults. A silent socket lasts long enough in wall time (the reaper's
    heartbeat timeout is wall time) to be found dead: a virtual hour is ~6 wall seconds at the week's pace."""
    if smoke:
        h = 3600.0
        return [
            Fault("socket dropped", [0.2 * h, 0.6 * h], 0, sockets.fault(type="disconnect")),
            Fault(
                "socket_closing sent", [0.4 * h], 0, sockets.fault(type="socket_closing", closeAfterSeconds=1)
            ),
            Fault("events lost (50, no word)", [0.3 * h], 0, sockets.fault(type="drop", times=50)),
            Fault(
                "socket silent (no heartbeat)", [0.7 * h], 1200, sockets.fault(type="silence"), sockets.clear
            ),
        ]
    day = DAY

    return [
        Fault(
            "socket dropped", spread(8, 1.05 * day, week - 0.35 * day), 0, sockets.fault(type="disconnect")
        ),
        Fault(
            "socket_closing sent",
            spread(8, 1.25 * day, week - 0.45 * day),
            0,
            sockets.fault(type="socket_closing", closeAfterSeconds=2),
        ),
        Fault(
            "events lost (200, no word)",
            spread(6, 1.35 * day, week - 0.55 * day),
            0,
            sockets.fault(type="drop", times=200),
        ),
        Fault(
            "socket silent for a virtual hour (no heartbeat)",
            spread(4, 1.45 * day, week - 0.65 * day),
            3600,
            sockets.fault(type="silence"),
            sockets.clear,
        ),
    ]


def schedule(week: float, smoke: bool, world: Any, pg: DedicatedPostgres, reaper: Reaper) -> list[Fault]:
    """The fault schedule. Kills fall in the first virtual day so that one process lives the rest of the
    run, whose RSS is then measured from its first day to its last."""
    lock = world.lock

    def fault(**spec: Any) -> Callable[[], Any]:
        return lambda: world.faults.add_fault(FaultSpec(**spec))

    def revoke() -> None:  # every token of the reaper's client stops working (as a revoked grant)
        with lock:
            registry = world.registry
            registry.tokens = {
                t: v for t, v in registry.tokens.items() if v[0].client_id != DEFAULT_CLIENT_ID
            }

    def lag(seconds: float) -> Callable[[], None]:
        def set_lag() -> None:
            world.analytics_lag = timedelta(seconds=seconds)

        return set_lag

    if smoke:
        # No PostgreSQL restart here until the hang it can cause is fixed (docs/reliability.md, bug 1;
        # tests/durability/test_ledger_restart_hang.py): make test must not depend on that race.
        h = 3600.0
        return [
            Fault("SIGKILL + restart", spread(2, 0.15 * h, 0.45 * h), 0, reaper.kill),
            Fault(
                "5xx storm (3 min, 503)",
                [0.25 * h],
                180,
                fault(path="^/api/v2/", status=503),
                world.faults.clear_faults,
            ),
            Fault(
                "429 burst (30 answers)",
                # early: a burst counted in answers lasts as long as serve takes to draw them, and one that
                # met the socket faults' re-subscribing (0.2-0.9 h) left the 30 s smoke still polling at
                # its end once reconnects no longer re-read everything (fix 29)
                [0.08 * h],
                0,
                fault(path="^/api/v2/", status=429, retryAfter=1, times=30),
            ),
            Fault("token revoked", [0.55 * h], 0, revoke),
        ]
    day = DAY
    return [
        Fault("SIGKILL + restart", spread(20, 0.05 * day, 0.95 * day), 0, reaper.kill),
        Fault("PostgreSQL restarted", spread(6, 1.3 * day, week - 0.4 * day), 0, pg.restart),
        Fault(
            "5xx storm (5 min, 503)",
            spread(6, 1.1 * day, week - 0.3 * day),
            300,
            fault(path="^/api/v2/", status=503),
            world.faults.clear_faults,
        ),
        Fault(
            "5xx storm (3 min, 500/502 on reads and acts)",
            spread(4, 1.6 * day, week - 0.7 * day),
            180,
            fault(path="^/api/v2/conversations", status=502),
            world.faults.clear_faults,
        ),
        Fault(
            "429 burst (200 answers, Retry-After 1)",
            spread(6, 1.2 * day, week - 0.2 * day),
            0,
            fault(path="^/api/v2/", status=429, retryAfter=1, times=200),
        ),
        Fault("token revoked", spread(6, 1.4 * day, week - 0.5 * day), 0, revoke),
        Fault(
            "analytics lagging 10 min (for 2 h)",
            spread(3, 2.2 * day, week - 1.2 * day),
            7200,
            lag(600),
            lag(0),
        ),
        Fault(
            f"answers slower than request_timeout ({SLOW_MS} ms, 30 requests)",
            spread(6, 1.5 * day, week - 0.6 * day),
            0,
            fault(path="^/api/v2/", latencyMs=SLOW_MS, times=30),
        ),
    ]


# ---------------------------------------------------------------------------------------- the run


def run(args: argparse.Namespace) -> dict[str, Any]:
    wall0 = time.monotonic()
    length = 3600.0 if args.smoke else args.days * DAY
    speedup = length / args.wall
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    pg = DedicatedPostgres(workdir)
    try:
        return soak(args, length, speedup, workdir, pg.start(), wall0)
    finally:
        if args.keep:
            print(f"soak: kept {workdir} (PostgreSQL at {pg.url})", file=sys.stderr)
        else:
            pg.stop()
            shutil.rmtree(workdir, ignore_errors=True)


def soak(
    args: argparse.Namespace,
    length: float,
    speedup: float,
    workdir: Path,
    pg: DedicatedPostgres,
    wall0: float,
) -> dict[str, Any]:
    server = EmulatorServer(rate_limit=LIMIT, seed="none")
    # Flowing: between steps the clock runs at real speed, as the platform's does. Frozen, serve's
    # estimate of the platform's time (last reading + time since) ran ahead of it by up to a step's wall
    # time, and a timer due just after a step fired before the platform got there: a close judged "in
    # use" at 29 min 59.4 s of silence (a 6-hour probe at 84x, where a step is 0.71 s of wall time).
    world = stepped(server.world, flowing=True)
    # serve sleeps on real time: the count's reset (and a 429's wait) in its seconds, not virtual ones.
    # Unscaled, a virtual minute filled to the budget held every request for up to 60 s of wall time
    # (two virtual hours at 120x): a stall a faster machine met often (re-check to write, max 60 s).
    world.registry.wait_scale = 1 / speedup
    world.requests = ServedLog(maxlen=world.requests.maxlen)
    acts = ActLog(world, Thresholds()).install()
    rechecks = Rechecks(world).install()
    coverage = ListingCoverage(world).install(world.clock.now())
    seed_demo(
        world, args.seed + 1_000_003
    )  # the overnight backlog: every situation of SCENARIOS.md, stale already
    hands = WatchedHands(world)
    clock = world.clock
    traffic = TrafficGenerator(hands, args.seed, args.arrivals, now=clock.now())
    long_chats = LongChats(hands, args.seed + 1, args.chats, clock.now())
    server.start()
    reaper = Reaper(workdir, server.base_url, pg.url, speedup, args.mode, args.max_closes, args.concurrency)
    reaper.wait_after_kill = args.smoke
    sockets = Sockets(server.base_url)
    planned = schedule(length, args.smoke, world, pg, reaper)
    if args.mode == "events":
        sockets.heartbeat(HEARTBEAT_SECONDS)
        planned += socket_faults(length, args.smoke, sockets)
    faults = [f for f in planned if not any(f.name.startswith(prefix) for prefix in args.without)]
    kills_planned = sum(len(f.at) for f in faults if f.begin == reaper.kill)
    todo = sorted(((at, n) for n, f in enumerate(faults) for at in f.at), reverse=True)
    lifts: list[tuple[float, int]] = []
    start = clock.now()
    per_minute: Counter[int] = Counter()
    statuses: Counter[int] = Counter()
    open_chats: list[int] = []
    rss: list[tuple[float, int]] = []  # (virtual seconds, bytes) of the process that lives longest
    forced = 0
    forced_mid_act = 0  # steps taken all the same inside an act on a conversation they change (ACT_WAIT)
    held_mid_act = 0  # steps that found such an act, and waited for its ending write
    # The last requests served for each conversation (virtual time, method, path after the id, status).
    # (virtual time, method, view and path after the id, status, wall seconds from the start)
    recent: defaultdict[str, deque[tuple[str, str, str, int, float]]] = defaultdict(
        lambda: deque(maxlen=RECENT)
    )
    reaper.start()
    try:
        reaper.wait_until_up()
        elapsed = 0.0
        while elapsed < length:
            quiet_by = time.monotonic() + QUIET_WAIT
            while world.in_flight and time.monotonic() < quiet_by:
                time.sleep(0.002)
            forced += bool(world.in_flight)
            # Not inside an act (its re-check to its ending write) on a conversation this step changes:
            # the step would drop its minute of messages into a gap the real platform keeps to
            # milliseconds.
            touched = touched_by_step(traffic, long_chats, clock.now() + timedelta(seconds=STEP))
            act_by = time.monotonic() + ACT_WAIT
            held = False
            while True:
                with world.lock:
                    mid_act = rechecks.waiting(touched)
                    if not mid_act or time.monotonic() >= act_by:
                        forced_mid_act += mid_act
                        traffic.step(STEP, tick=STEP)
                        long_chats.step(clock.now())
                        world.tick()
                        break
                held = True
                time.sleep(0.002)
            held_mid_act += held
            elapsed += STEP
            while todo and todo[-1][0] <= elapsed:
                _, n = todo.pop()
                faults[n].begin()
                faults[n].injected += 1
                if faults[n].duration:
                    lifts.append((elapsed + faults[n].duration, n))
                else:
                    faults[n].recoveries.append(elapsed)
            for lift in [x for x in lifts if x[0] <= elapsed]:
                lifts.remove(lift)
                faults[lift[1]].end()
                faults[lift[1]].recoveries.append(elapsed)
            while world.requests:
                entry = world.requests.popleft()
                if (about := CONVERSATION_IN_PATH.search(entry["path"])) is not None:
                    # which view was read (the re-check reads the media view), and when in wall time
                    view = "messages " if "/messages/" in about.group(0) else ""
                    tail = view + (entry["path"][about.end() :] or "/")
                    wall_at = round(entry["wall"] - wall0, 3)
                    recent[about.group(1)].append(
                        (entry["at"], entry["method"], tail, entry["status"], wall_at)
                    )
                if entry["path"].startswith("/api/v2/") or entry["path"] == "/oauth/token":
                    per_minute[int((parse_iso(entry["at"]) - start).total_seconds() // 60)] += 1
                    statuses[entry["status"]] += 1
            if elapsed % 3600 == 0:
                reaper.check_alive()
                if elapsed % DAY == 0:
                    print(
                        f"soak: virtual day {elapsed / DAY:.0f} at {time.monotonic() - wall0:.0f} s wall,"
                        f" {len(acts.closes)} close requests, {sum(per_minute.values())} API requests,"
                        f" {len(world.open_ids)} conversations open,"
                        f" serve RSS {(reaper.rss() or 0) / 2**20:.1f} MiB",
                        file=sys.stderr,
                        flush=True,
                    )
                open_chats.append(len(world.open_ids))
                sample = reaper.rss()
                if sample is not None and reaper.kills == kills_planned:
                    rss.append((elapsed, sample))
            behind = elapsed / speedup - (time.monotonic() - wall0 - reaper.waited)
            if behind > 0:
                time.sleep(behind)
        final_rss = reaper.rss()
        notifications = notification_figures(sockets, args.mode)
        stopped = reaper.stop()
    finally:
        if reaper.process is not None and reaper.process.poll() is None:
            reaper.process.kill()
    open_at_stop = _open_steps(pg)
    if open_at_stop:
        # An intent the last pass left open (a write whose answer never came, in the run's last minutes)
        # is settled by the next start, once its request can no longer land (its in-flight mark). Do
        # what that start would do, then judge: "every journalled intent resolved" is the reaper's
        # doing, not the run's length.
        until = pg.query("SELECT max(in_flight_until) FROM steps WHERE outcome_at IS NULL")[0][0]
        if until is not None:
            time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.5)
        reaper.settle(sorted({row[0] for row in open_at_stop}))
    wall = time.monotonic() - wall0
    open_steps = _open_steps(pg)
    journal = dict(
        pg.query("SELECT 'decisions', count(*) FROM decisions UNION ALL SELECT 'steps', count(*) FROM steps")
    )
    by_day = pg.query(
        "SELECT floor(extract(epoch FROM decided_at - %s) / 86400)::int, count(*) FROM decisions"
        " GROUP BY 1 ORDER BY 1",
        (start,),
    )
    # Inaction the pruning should have taken: older than the retention plus a day of slack (a prune
    # runs after a pass, once a platform hour; one pass can last many virtual hours at this speed-up).
    stale = pg.query(
        "SELECT count(*) FROM decisions d WHERE d.outcome IN ('skipped', 'deferred', 'dry-run')"
        " AND NOT EXISTS (SELECT 1 FROM steps s WHERE s.decision_id = d.id) AND d.decided_at < %s",
        (clock.now() - timedelta(days=RETENTION_DAYS + 1),),
    )[0][0]
    journal["staleInaction"] = stale
    with world.lock:  # what is still open at the end, by shape: the reaper's backlog, or the world's own
        shapes = Counter(
            " ".join(sorted(f"{leg.purpose}:{leg.state}" for leg in world.conversations[cid].legs))
            for cid in world.open_ids
        )
        backlog = backlog_at_end(world, reaper.config, clock.now())
    server.stop()
    log = reaper.stderr.read_text(errors="replace")
    log_tail = log[-4000:]
    broken = acts.doubles()[:5] + [c.conversation_id for c in acts.closes if c.wrong][:5]
    evidence = {cid: act_evidence(cid, acts, pg, log, recent[cid], world) for cid in broken}
    result = summarize(
        args,
        length,
        wall,
        acts,
        faults,
        per_minute,
        statuses,
        open_chats,
        rss,
        final_rss,
        forced,
        open_steps,
        journal,
        by_day,
        reaper,
        stopped,
        pg,
        long_chats,
        traffic,
        log_tail,
        evidence,
        notifications,
        log,
        sockets,
    )
    result["openAtEndByShape"] = dict(shapes.most_common(8))
    result["backlogAtEnd"] = backlog
    with world.lock:
        result["discoveryCoverage"] = coverage.figures(world, [o["id"] for o in backlog["mostOverdue"]])
    for entry in result["discoveryCoverage"]["mostOverdue"]:  # and what the ledger says of them
        rows = pg.query(
            "SELECT count(*), max(decided_at)::text, string_agg(DISTINCT trigger_outcome, ',') FROM"
            " (SELECT decided_at, coalesce(rule, '-') || ':' || decision || ':' || coalesce(outcome, '-')"
            " AS trigger_outcome FROM decisions WHERE conversation_id = %s) d",
            (entry["id"],),
        )[0]
        entry["decisions"], entry["lastDecidedAt"], entry["decided"] = rows
        entry["readSchedule"] = [
            list(map(str, r))
            for r in pg.query("SELECT * FROM read_schedule WHERE conversation_id = %s", (entry["id"],))
        ]
    # left open by the last stop, before the settling pass (openIntentsAtEnd is after it)
    result["openIntentsAtStop"] = len(open_at_stop)
    result["midAct"] = {
        # steps taken inside an act on a conversation they changed (ACT_WAIT ran out): each could drop
        # a minute of the world between a re-check and a write
        "forcedSteps": forced_mid_act,
        "heldSteps": held_mid_act,  # steps that waited for such an act (without it: stepped inside)
        "recheckToWrite": {name: gap_figures(gaps) for name, gaps in sorted(rechecks.gaps.items())},
    }
    return result


def gap_figures(gaps: list[float]) -> dict[str, Any]:
    """How long re-checks' evidence waited for its write (wall milliseconds)."""
    return {
        "count": len(gaps),
        "p50Ms": round(1000 * (percentile(gaps, 50) or 0), 1),
        "p99Ms": round(1000 * (percentile(gaps, 99) or 0), 1),
        "maxMs": round(1000 * max(gaps), 1),
    }


def _open_steps(pg: DedicatedPostgres) -> list[tuple[Any, ...]]:
    return pg.query(
        "SELECT s.conversation_id, s.kind, s.intent_at::text, d.rule, d.outcome, d.error FROM steps s"
        " JOIN decisions d ON d.id = s.decision_id WHERE s.outcome_at IS NULL ORDER BY s.intent_at"
    )


def notification_figures(sockets: Sockets, mode: str) -> dict[str, Any] | None:
    """The emulator's own count of the channels and their events (before serve stops and removes none)."""
    if mode != "events":
        return None
    state = sockets.state()
    channels = state.get("channels", [])
    return {
        "channels": len(channels),
        "eventsSent": sum(c.get("eventsSent", 0) for c in channels),
        "eventsDropped": sum(c.get("eventsDropped", 0) for c in channels),
        "connectedAtEnd": sum(bool(c.get("connected")) for c in channels),
    }


def act_evidence(
    cid: str,
    acts: ActLog,
    pg: DedicatedPostgres,
    log: str,
    recent: deque[tuple[str, str, str, int, float]],
    world: Any,
) -> dict[str, Any]:
    """What a double act or a wrong close looked like: each act as the emulator served it, the last
    requests served for that conversation, its messages, the ledger's rows, and serve's log lines."""
    conversation = world.conversations.get(cid)
    messages = (
        sorted((w.at.isoformat(), leg.purpose) for leg in conversation.legs for w in leg.messages)[-8:]
        if conversation is not None
        else []
    )
    steps = pg.query(
        "SELECT id, decision_id, kind, participant_id, intent_at::text, outcome, outcome_at::text,"
        " http_status, error_code FROM steps WHERE conversation_id = %s ORDER BY id",
        (cid,),
    )
    decisions = pg.query(
        "SELECT id, sweep_id, decided_at::text, decision, rule, outcome, reason, error FROM decisions"
        " WHERE conversation_id = %s AND decision NOT IN ('skip', 'defer') ORDER BY id",
        (cid,),
    )
    return {
        "acts": acts.timeline[cid],
        "requests": list(recent),
        "messages": messages,
        "steps": [list(row) for row in steps],
        "decisions": [list(row) for row in decisions],
        "log": [line[:600] for line in log.splitlines() if cid in line][-30:],
    }


OVERDUE_BUCKETS = (
    (timedelta(hours=6), "over6h"),
    (timedelta(hours=1), "over1h"),
    (timedelta(minutes=10), "over10m"),
)


def backlog_at_end(world: Any, config: Path, now: datetime) -> dict[str, Any]:
    """The conversations still open at the end, judged by serve's own rules on the platform's state:
    how many the reaper would act on now, and how long past their threshold they are (the reaper's
    backlog), beside those the rules leave open (in use, exempt, not yet due: the world's own).

    Read from the emulator's generic view through the reaper's mapping and `rules.evaluate`, with serve's
    policy from its config file. Without the reaper's record of its own texts, a warning it sent counts
    as the agent's activity: a conversation warned and not yet closed is counted as not due (a backlog
    on the low side, never one the rules would not show).
    """
    from genesys_emulator.views import generic_dict
    from session_reaper.config.loading import load_settings
    from session_reaper.core.rules import evaluate
    from session_reaper.genesys.errors import MalformedResponse
    from session_reaper.genesys.mapping import to_conversation

    policy = load_settings(config).policy()
    actions: Counter[str] = Counter()
    overdue: Counter[str] = Counter()
    late: list[float] = []
    overdue_ids: list[tuple[float, str, str]] = []  # (seconds past, id, verdict): the most overdue, to trace
    for cid in world.open_ids:
        try:
            verdict = evaluate(to_conversation(generic_dict(world.conversations[cid])), now, policy)
        except MalformedResponse:
            actions["unreadable"] += 1
            continue
        actions[f"{verdict.action.value}:{verdict.rule}" if verdict.acts else "left open"] += 1
        if verdict.acts and verdict.since is not None and verdict.threshold is not None:
            past = now - verdict.since - verdict.threshold
            late.append(past.total_seconds())
            overdue_ids.append((past.total_seconds(), cid, f"{verdict.action.value}:{verdict.rule}"))
            for bound, name in OVERDUE_BUCKETS:
                if past > bound:
                    overdue[name] += 1
                    break
    late.sort()
    return {
        "open": sum(actions.values()),
        "byVerdict": dict(actions.most_common()),
        "dueNow": len(late),
        "pastThreshold": {name: overdue[name] for _, name in reversed(OVERDUE_BUCKETS)},
        "medianMinutesPastThreshold": round(late[len(late) // 2] / 60, 1) if late else None,
        # the twenty most overdue, to look up in serve's log and the ledger (`--keep`)
        "mostOverdue": [
            {"id": cid, "verdict": said, "minutesPast": round(past / 60)}
            for past, cid, said in sorted(overdue_ids, reverse=True)[:20]
        ],
    }


def summarize(
    args: argparse.Namespace,
    length: float,
    wall: float,
    acts: ActLog,
    faults: list[Fault],
    per_minute: Counter[int],
    statuses: Counter[int],
    open_chats: list[int],
    rss: list[tuple[float, int]],
    final_rss: int | None,
    forced: int,
    open_steps: list[tuple[Any, ...]],
    journal: dict[str, int],
    by_day: list[tuple[int, int]],
    reaper: Reaper,
    stopped: int | None,
    pg: DedicatedPostgres,
    long_chats: LongChats,
    traffic: TrafficGenerator,
    log_tail: str,
    evidence: dict[str, Any],
    notifications: dict[str, Any] | None,
    log: str,
    sockets: Sockets,
) -> dict[str, Any]:
    closes = acts.closes
    open_intents = len(open_steps)
    in_use = [c for c in closes if c.in_use]
    wrong = [c for c in closes if c.wrong]
    doubles = acts.doubles()
    max_minute = max(per_minute.values(), default=0)
    after: dict[str, list[int]] = defaultdict(list)
    for f in faults:
        for moment in f.recoveries:
            after[f.name].append(per_minute[int(moment // 60)])
    rss_first = next((b for s, b in rss if s >= rss[0][0] + DAY), None) if rss else None
    rss_last = final_rss if final_rss is not None else (rss[-1][1] if rss else None)
    growth = (rss_last - rss_first) / rss_first if rss_first and rss_last else None
    after_recovery = max((n for v in after.values() for n in v), default=0)
    invariants = {
        "closesInUse": len(in_use),
        "wrongCloses": len(wrong),
        "doubleActs": len(doubles),
        "openIntentsAtEnd": open_intents,
        "maxRequestsPerMinute": max_minute,
        "maxRequestsInMinuteAfterRecovery": after_recovery,
        "rssGrowthAfterFirstDay": None if growth is None else round(growth, 3),
    }
    ok = {
        "closesInUse": len(in_use) == 0,
        "wrongCloses": len(wrong) == 0,
        "doubleActs": not doubles,
        "openIntentsAtEnd": open_intents == 0,
        "maxRequestsPerMinute": max_minute <= LIMIT,
        "maxRequestsInMinuteAfterRecovery": after_recovery <= LIMIT,
        "rssGrowthAfterFirstDay": args.smoke or (growth is not None and growth < 0.10),
        "serveNeverExitedOnItsOwn": not reaper.exits,
        "serveStoppedCleanly": stopped == 0,
        "journalBoundedByPruning": journal.get("staleInaction", 0) == 0,
    }
    if notifications is not None:
        # the events mode must have stayed the events mode: a serve that fell back to polling for good
        # would pass every other check without having met one socket fault
        notifications |= {
            "socketsReachedByFaults": dict(sockets.matched),
            "reconnects": log.count("notification socket reconnected"),
            "socketEnded": log.count("notification socket ended"),
            "fellBackToPolling": log.count("events mode failed") + log.count("events mode refused"),
        }
        # (a pass of polling while the platform refused the subscription, e.g. in a 429 burst, is by design)
        ok["eventsModeKept"] = notifications["connectedAtEnd"] > 0
    return {
        "smoke": args.smoke,
        "mode": args.mode,
        "virtualDays": round(length / DAY, 3),
        "wallSeconds": round(wall, 1),
        "speedup": round(length / args.wall),
        "serveConfig": {
            "maxCloses": args.max_closes,
            "maxTeardowns": EVENTS_MAX_TEARDOWNS if args.mode == "events" else None,
            "concurrency": args.concurrency,
        },
        "forcedClockSteps": forced,
        "concurrentChats": {
            "min": min(open_chats, default=0),
            "max": max(open_chats, default=0),
            # (virtual hour, conversations open), as often as the RSS samples: is the open set flat?
            "samples": [(h, n) for h, n in enumerate(open_chats, start=1)][:: max(1, len(open_chats) // 12)],
        },
        "conversationsCreated": long_chats.created + len(traffic.created),
        "closes": len({c.conversation_id for c in closes}),
        "closeRequests": len(closes),
        "closesByRule": dict(Counter(c.situation for c in acts.first_closes())),
        "wrapups": acts.wrapups,
        "apiRequests": sum(per_minute.values()),
        "requestsByStatus": {str(k): v for k, v in sorted(statuses.items())},
        "rateLimited": statuses[429],
        "maxRequestsPerMinute": max_minute,
        "faults": [
            {"fault": f.name, "injected": f.injected, "requestsInMinuteAfter": after[f.name]} for f in faults
        ],
        "serveStarts": reaper.starts,
        "serveKills": reaper.kills,
        "serveExitedOnItsOwn": reaper.exits,
        "serveExitCode": stopped,
        "postgresRestarts": pg.restarts,
        "notifications": notifications,
        "rssMiB": {
            "firstDay": None if rss_first is None else round(rss_first / 2**20, 1),
            "last": None if rss_last is None else round(rss_last / 2**20, 1),
            "samples": [(round(s / 3600), round(b / 2**20, 1)) for s, b in rss[:: max(1, len(rss) // 12)]],
        },
        "journalRows": journal,
        "decisionsByDay": [n for _, n in by_day],
        "invariants": invariants,
        "invariantsHeld": ok,
        "examples": {
            "inUse": [vars_of_close(c) for c in in_use[:5]],
            "doubleActs": doubles[:5],
            "evidence": evidence,  # of each double act and wrong close listed
            "openIntents": [list(row) for row in open_steps[:10]],
        },
        "serveLogTail": log_tail if not all(ok.values()) else "",
        "machine": machine(),
    }


def vars_of_close(close: Any) -> dict[str, Any]:
    return {
        "conversationId": close.conversation_id,
        "at": close.at.isoformat(),
        "kind": close.kind,
        "situation": close.situation,
        "lastPerson": close.last_person.isoformat() if close.last_person else None,
    }


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="one virtual hour, a few faults, < 60 s")
    parser.add_argument("--days", type=float, default=7.0, help="virtual days")
    parser.add_argument("--wall", type=float, default=None, help="target wall seconds (week: 1000)")
    parser.add_argument("--chats", type=int, default=None, help="long chats kept open (week: 2000)")
    parser.add_argument("--arrivals", type=float, default=300.0, help="new conversations per virtual hour")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument(
        "--max-closes",
        type=int,
        default=None,
        help="serve's [sweep] max_closes (default: its own, 200; in the events mode 1200, EVENTS_MAX_CLOSES)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=None, help="serve's [sweep] concurrency (default: its own, 8)"
    )
    parser.add_argument(
        "--mode",
        choices=("poll", "events"),
        default="poll",
        help="serve's [sweep] mode (events: with socket faults)",
    )
    parser.add_argument(
        "--without", action="append", default=[], metavar="FAULT", help="leave out faults named so (prefix)"
    )
    parser.add_argument("--key", default=None, help="key in the results JSON (default soak / soakSmoke)")
    parser.add_argument("--keep", action="store_true", help="keep the work directory and PostgreSQL running")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results JSON to merge into")
    args = parser.parse_args(argv)
    if args.wall is None:
        args.wall = 30.0 if args.smoke else 1000.0
    if args.chats is None:
        args.chats = 300 if args.smoke else 2000
    if args.max_closes is None and args.mode == "events":
        args.max_closes = EVENTS_MAX_CLOSES
    # SIGTERM ends the run as Ctrl-C does: serve and the run's own PostgreSQL are stopped, not left behind
    signal.signal(signal.SIGTERM, _terminated)
    result = run(args)
    key = args.key or ("soakSmoke" if args.smoke else "soak")
    existing = json.loads(args.out.read_text()) if args.out.exists() else {}
    existing[key] = result
    args.out.write_text(json.dumps(existing, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("machine", "serveLogTail")}, indent=2))
    broken = [name for name, held in result["invariantsHeld"].items() if not held]
    if broken:
        # the log's tail first, the verdict last: whoever reads only the end of stderr sees what broke
        print(result["serveLogTail"], file=sys.stderr)
        print(f"soak: invariants broken: {', '.join(broken)}", file=sys.stderr)
        print(f"soak: figures: {json.dumps(result['invariants'])}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
