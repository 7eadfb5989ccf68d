"""The events worlds' part of `compare.py`'s section: their table, the issue's targets, what drops cost."""

from __future__ import annotations

from typing import Any

SECTION = "## Events mode vs polling (issue 11)"
RECONCILE_INTERVAL = 600.0  # seconds: `[events] reconcile_interval`'s default, which the events worlds run
TOPIC_P99 = 5.0
REST_P99 = RECONCILE_INTERVAL + 10.0


def _f(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def missed_beyond_interval(plain: dict[str, Any], dropped: dict[str, Any], end: float) -> dict[str, Any]:
    """Closes the drops cost: more than one reconcile interval past the threshold in the day with drops
    although the day without drops was on time (`late`), or not at all although the day without drops
    closed them with time left (`neverClosed`). Late in both days, or late where the day without drops
    has no steady-state close to compare with, is counted apart (`lateAnyway`, `lateUncompared`)."""
    with_drops, without = dropped.get("steadyCloses", {}), plain.get("steadyCloses", {})
    late = [cid for cid, (at, due) in with_drops.items() if at - due > RECONCILE_INTERVAL]
    anyway = [c for c in late if c in without and without[c][0] - without[c][1] > RECONCILE_INTERVAL]
    uncompared = [c for c in late if c not in without]
    caused = [c for c in late if c not in anyway and c not in uncompared]
    closed_anywhere = set(dropped.get("closedIds", [])) | set(with_drops)
    never = [
        cid
        for cid, (_, due) in without.items()
        if due + RECONCILE_INTERVAL < end and cid not in closed_anywhere
    ]
    return {
        "late": len(caused),
        "neverClosed": len(never),
        "lateAnyway": len(anyway),
        "lateUncompared": len(uncompared),
        "examples": (caused + never)[:10],
    }


def delays(x: dict[str, Any], key: str) -> str:
    d = x.get(key) or {}
    return f"{_f(d.get('p50'), 1)} / {_f(d.get('p99'), 1)} / {_f(d.get('max'), 1)} ({_f(d.get('count'))})"


ROWS: list[tuple[str, Any]] = [
    ("API requests (the day)", lambda x: _f(x["apiRequests"])),
    ("conversations closed", lambda x: _f(x["closed"])),
    ("conversation-minutes watched", lambda x: _f(x["conversationMinutesWatched"])),
    (
        "**API requests per 1,000 conversation-minutes**",
        lambda x: f"**{_f(x['requestsPer1000ConversationMinutes'], 1)}**",
    ),
    (
        "… on conversations left alone (never written to), per 1,000 conversation-minutes",
        lambda x: _f(x.get("leftAlonePer1000ConversationMinutes"), 2),
    ),
    (
        "… naming no conversation (analytics pages, channel, clock checks)",
        lambda x: _f(sum((x.get("requestsNamingNoConversation") or {}).values())),
    ),
    (
        "API requests per closed conversation (all requests / closes)",
        lambda x: _f(x["requestsPerClosedConversation"], 1),
    ),
    (
        "requests naming a conversation acted on, per such conversation",
        lambda x: _f(x.get("requestsPerConversationActedOn"), 2),
    ),
    (
        "429s received (all / in steady state)",
        lambda x: f"{_f(x['rateLimited'])} / {_f(x['rateLimitedSteadyState'])}",
    ),
    ("**wrong closes** (in use, exempt, platform timer)", lambda x: f"**{_f(x['wrongCloses'])}**"),
    ("double acts (the same close, disconnect or wrap-up served twice)", lambda x: _f(x.get("doubleActs"))),
    (
        "reaction delay, all steady-state closes, p50 / p95 / p99 (s)",
        lambda x: " / ".join(_f(x["reactionDelaySeconds"][k], 1) for k in ("p50", "p95", "p99")),
    ),
    (
        "… **topic-visible** conversations, p50 / p99 / max (count)",
        lambda x: delays(x, "reactionDelayTopicVisible"),
    ),
    (
        "… **the rest** (flows, bots, orphans: reconciliation), p50 / p99 / max (count)",
        lambda x: delays(x, "reactionDelayRest"),
    ),
    ("steady state from (virtual minute)", lambda x: _f(x["backlogDrainedMinutes"], 0)),
    ("stale conversations open at the end", lambda x: _f(x["staleAtEnd"])),
    (
        "socket drops injected / frames lost in transit",
        lambda x: f"{len(x.get('socketDrops') or [])} / {_f(x.get('framesLostInTransit'))}",
    ),
    (
        "events the emulator sent / the reaper took in",
        lambda x: f"{_f(x.get('eventsSentByEmulator'))} / {_f(x.get('framesTakenIn'))}",
    ),
    ("peak RSS of the process, MiB (emulator world + traffic + tool)", lambda x: _f(x["peakRssMiB"], 0)),
    ("CPU s / wall s of the process", lambda x: f"{_f(x['cpuSeconds'], 0)} / {_f(x['wallSeconds'], 0)}"),
]


def table(results: dict[str, dict[str, Any]]) -> str:
    shown = [
        ("reaper", "polling reaper"),
        ("events", "events mode"),
        ("events-drops", "events mode, 10 socket drops"),
    ]
    shown = [(k, label) for k, label in shown if k in results]
    lines = ["| figure | " + " | ".join(label for _, label in shown) + " |", "|---|" + "---:|" * len(shown)]
    for label, value in ROWS:
        cells = []
        for key, _ in shown:
            try:
                cells.append(value(results[key]))
            except (KeyError, TypeError):
                cells.append("–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(results: dict[str, dict[str, Any]], end: float) -> list[tuple[str, str, str]]:
    r, e = results["reaper"], results["events"]
    d = results.get("events-drops")

    def verdict(ok: bool, miss: str = "", measured: bool = True) -> str:
        if not measured:
            return "not measured (no such close in steady state)"
        return "met" if ok else f"**missed**{' ' + miss if miss else ''}"

    rows: list[tuple[str, str, str]] = []
    visible = (e.get("reactionDelayTopicVisible") or {}).get("p99")
    rest = (e.get("reactionDelayRest") or {}).get("p99")
    rows.append(
        (
            f"reaction p99 ≤ {TOPIC_P99:g} s, topic-visible",
            f"{_f(visible, 1)} s",
            verdict(
                visible is not None and visible <= TOPIC_P99, f"by {_f((visible or 0) - TOPIC_P99, 1)} s"
            ),
        )
    )
    rows.append(
        (
            f"reaction p99 ≤ reconcile interval + 10 s = {REST_P99:g} s, the rest",
            f"{_f(rest, 1)} s",
            verdict(
                rest is not None and rest <= REST_P99,
                f"by {_f((rest or 0) - REST_P99, 1)} s",
                rest is not None,
            ),
        )
    )
    alone = e.get("leftAlonePer1000ConversationMinutes")
    rows.append(
        (
            "≤ 2 requests per 1,000 conversation-minutes on conversations left alone",
            _f(alone, 2),
            verdict(alone is not None and alone <= 2, f"{(alone or 0) / 2:.1f}× the target"),
        )
    )
    ratio = None
    if e["requestsPer1000ConversationMinutes"] and r["requestsPer1000ConversationMinutes"]:
        ratio = e["requestsPer1000ConversationMinutes"] / r["requestsPer1000ConversationMinutes"]
    rows.append(
        (
            "all requests ≤ 1/10 of the polling reaper's (per 1,000 conversation-minutes)",
            f"1/{1 / ratio:.1f} ({e['apiRequests']:,} vs {r['apiRequests']:,} requests)" if ratio else "–",
            verdict(ratio is not None and ratio <= 0.1, f"{ratio / 0.1:.1f}× the bound" if ratio else ""),
        )
    )
    per_close = e.get("requestsPerConversationActedOn")
    rows.append(
        (
            "requests per close ≤ 5, re-check included (requests naming the conversation)",
            _f(per_close, 2),
            verdict(per_close is not None and per_close <= 5, f"by {_f((per_close or 0) - 5, 2)}"),
        )
    )
    rows.append(("zero wrong closes", _f(e["wrongCloses"]), verdict(e["wrongCloses"] == 0)))
    rows.append(("zero 429s", _f(e["rateLimited"]), verdict(e["rateLimited"] == 0)))
    if d is not None:
        missed = missed_beyond_interval(e, d, end)
        n = missed["late"] + missed["neverClosed"]
        rows.append(
            (
                "10 drops: zero closes missed beyond one reconcile interval",
                f"{n} ({missed['late']} late, {missed['neverClosed']} never closed; apart: "
                f"{missed['lateAnyway']} as late without drops, {missed['lateUncompared']} late with "
                "nothing to compare)",
                verdict(n == 0),
            )
        )
        doubles = d.get("doubleActs")
        rows.append(("10 drops: zero double acts", _f(doubles), verdict(doubles == 0)))
        rows.append(("10 drops: zero wrong closes", _f(d["wrongCloses"]), verdict(d["wrongCloses"] == 0)))
    return rows


def section(results: dict[str, dict[str, Any]], meta: dict[str, Any]) -> str:
    from benchmarks.common import machine_line

    end = meta["endTimestamp"]
    rows = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in targets(results, end))
    e, r = results["events"], results["reaper"]
    ops = e.get("requestsByOperation") or {}
    op_text = ", ".join(f"`{k}` {v:,}" for k, v in sorted(ops.items(), key=lambda kv: -kv[1])[:12])
    drops = results.get("events-drops", {}).get("socketDrops") or []
    drop_text = ", ".join(f"{d['at'] / 60:.0f}" for d in drops)
    return f"""{SECTION}

`benchmarks/compare.py --tools reaper,events,events-drops` ({meta["at"]}; product code: {meta["product"]}):
the polling reaper and the reaper in events mode, each against its own emulator world, on the same day
as "Reaper vs naive" (seed {meta["seed"]}: the demo's organization {meta["backlog"]} times over,
{meta["longChats"]:,} long-lived chats, {meta["arrivals"]:,.0f} arrivals an hour, {meta["warmup"]:g}
minutes of traffic before the first sweep, the platform's 300 requests a minute) **but only its first
{meta["hours"]:g} virtual hours** (08:00–{8 + meta["hours"]:g}:00 UTC): on this shared machine the full
ten hours of three worlds would not have finished in the time there was. Unended web messaging
conversations: {e["concurrent"]["min"]:,}–{e["concurrent"]["max"]:,} (mean {e["concurrent"]["mean"]:,.0f}).

The events mode: `engine/watch.py`'s `Watch` over `genesys/events.py` with the built-in defaults —
`reconcile_interval = "10m"`, `clock_sync = "30s"`, `heartbeat_timeout = "1m"` — and the same
`wrapup_code` as the polling reaper, listening on the emulator's real WebSocket. In the third world the
socket is dropped ten times at random (the emulator's socket fault `disconnect`; at virtual minutes
{drop_text or "–"}). `benchmarks/events_world.py` runs the watch's asyncio loop on the world's virtual
clock: the loop's `time()` is the world's clock, and whenever nothing is runnable and nothing is in
transit (no HTTP request on the wire, no socket handshake, no event the emulator has made due that the
reaper has not read) it hands the time it waits for to the driver, to the millisecond. The driver plays
guests and agents on the shared 10-second grid only, so the traffic is the other worlds'; between grid
points it moves the clock as far as the watch waits (its timer loop ticks every 0.25 s). Requests and
event frames take no virtual time (network latency is not modelled): a re-check at a timer is served
at the timer's millisecond, so the measured delays are the design's, before any network.

Machine: {machine_line(meta["machine"])}; shared with other work: load average (1, 5, 15 min) before
{", ".join(map(str, meta["loadBefore"]))}, after {", ".join(map(str, meta["loadAfter"]))}. The
virtual-time figures do not depend on the machine's load; CPU and wall time do.

{table(results)}

| target (issue 11) | measured | |
|---|---|---|
{rows}

How it is measured (beyond "Reaper vs naive"'s definitions, which hold here):
- **Topic-visible** = the conversation had a participant with a queue (an acd leg or an agent leg's
  queue), so the queue topics show it; **the rest** (flows, bots, orphans without a queue) only
  reconciliation finds.
- **Left alone** = requests whose path names a conversation the tool never wrote to (no close, text,
  attribute or wrap-up served), from the emulator's request log; the same count for both modes.
  Requests naming no conversation (analytics pages, channel creation, subscriptions, the `HEAD`
  channel checks every `clock_sync`) are counted apart.
- **Requests per close** = requests naming a conversation the tool acted on, per such conversation
  (decision read, re-check, annotation, closing text, disconnect, verification, later wrap-ups).
- **Double act** = the same close request (participant or conversation disconnect, teardown,
  wrap-up) served with success twice. **Missed beyond one reconcile interval** = a conversation the
  day without drops closed in steady state, whose threshold passed more than one interval before the
  end, closed more than one interval past its threshold (or not at all) in the day with drops.

The events world's requests by operation: {op_text}. Polling reaper's in the same hours:
{r["apiRequests"]:,} requests.
"""
