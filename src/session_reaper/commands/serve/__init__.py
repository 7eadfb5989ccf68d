"""`serve`: sweep on a schedule, answer health probes, expose metrics, stop cleanly.

One asyncio loop runs two things side by side: a tiny Starlette app (served by uvicorn) for
`/healthz`, `/readyz` and `/metrics`, and the sweep loop.

Schedule. A pass starts `[sweep] interval` after the previous one *started*, or as soon as it ended
when it took longer: passes never overlap. One `NotBefore` is kept across passes, so a conversation
proven unable to become eligible before T is not read again before T.

Shutdown. SIGTERM or SIGINT: /readyz turns 503, the pass in flight stops starting conversations, the
ones being acted on finish their steps and are journalled, then the process exits 0. If that takes
longer than `grace` seconds (or a second signal comes) the pass is cancelled: the steps cut short
keep their journalled intent and the next start resolves them from the platform's state (exit 1).

Failures. Bad credentials or a missing permission at start — the token check or the first pass —
exit 3: a deployment that cannot work should fail its rollout. Later on, a pass stopped by a missing
permission (or refused credentials) is logged, counted (`sweeps_total{outcome="aborted"}`) and turns
/readyz 503, but the service keeps running and tries again on the next interval: a role fixed by an
administrator takes effect without a restart, and an orchestrator does not restart-loop against the
token endpoint. Any other error in a pass is logged and counted (`outcome="error"`); the next pass runs.
"""

from __future__ import annotations

# Here, apart from the rest, so that the CLI's options show them without loading uvicorn.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9464
DEFAULT_GRACE = 25.0  # seconds; below the 30 s an orchestrator waits by default before SIGKILL
