"""Many organizations on one emulator, swept by `serve --apply` replicas sharing one ledger.

Each organization is an OAuth client of its own in the emulator (its `organization`, its rate limit)
and an `[orgs.NAME]` table naming the environment variables of its credentials, its limit and its
policy overrides. What the tests judge comes from the emulator (its state, its request log by
clientId) and from the replicas' own answers (/readyz, their JSON logs).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests.durability.conftest import writes_per_conversation
from tests.service import serve_harness
from tests.service.serve_harness import free_port


@dataclass
class Org:
    name: str
    limit: int  # the client's platform limit per minute, and the org's requests_per_minute
    policy: dict[str, dict[str, Any]] = field(default_factory=dict)  # [orgs.NAME.*] overrides

    @property
    def client_id(self) -> str:
        return f"{self.name}-client"

    @property
    def secret(self) -> str:
        return f"{self.name}-secret"

    def register(self, emulator: Any) -> None:
        emulator.add_client(
            self.client_id, self.secret, organization=self.name, rateLimitPerMinute=self.limit
        )

    def toml(self, api_url: str) -> list[str]:
        upper = self.name.upper()
        lines = [
            f"[orgs.{self.name}]",
            f'client_id_env = "{upper}_CLIENT_ID"',
            f'client_secret_env = "{upper}_CLIENT_SECRET"',
            f'api_url = "{api_url}"',
            f"requests_per_minute = {self.limit}",
        ]
        for table, keys in self.policy.items():
            lines.append(f"[orgs.{self.name}.{table}]")
            lines.extend(f"{key} = {json.dumps(value)}" for key, value in keys.items())
        return lines

    def env(self) -> dict[str, str]:
        upper = self.name.upper()
        return {f"{upper}_CLIENT_ID": self.client_id, f"{upper}_CLIENT_SECRET": self.secret}


def wait_until(predicate: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """The serve harness's wait, with longer to go by default: replicas dividing orgs take a few passes."""
    return serve_harness.wait_until(predicate, what, timeout)


class Replica:
    """One `session-reaper serve --apply` process over every configured organization."""

    def __init__(
        self, name: str, workdir: Path, config: Path, env: dict[str, str], args: tuple[str, ...] = ()
    ) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stderr_path = workdir / f"{name}.stderr"
        command = [
            sys.executable,
            "-m",
            "session_reaper.commands.cli",
            "serve",
            "--apply",
            "--port",
            str(self.port),
            "--config",
            str(config),
            *args,
        ]
        with self.stderr_path.open("ab") as stderr:
            self.process = subprocess.Popen(
                command, env=env, cwd=workdir, stdout=subprocess.DEVNULL, stderr=stderr
            )

    def readyz(self) -> dict[str, Any] | None:
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited {self.process.returncode}:\n{self.stderr()}")
        try:
            return httpx.get(self.url + "/readyz", timeout=5).json()  # type: ignore[no-any-return]
        except httpx.TransportError:
            return None

    def held(self) -> set[str]:
        """The orgs this replica says it sweeps (its /readyz detail)."""
        ready = self.readyz() or {}
        return {org for org, state in ready.get("orgs", {}).items() if state == "ok"}

    def metrics(self) -> str:
        return httpx.get(self.url + "/metrics", timeout=5).text

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def terminate(self, timeout: float = 30.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for raw in self.stderr().splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                continue
        return lines


class Deployment:
    """The orgs registered in the emulator, one config file, and the replicas started on it."""

    def __init__(self, emulator: Any, workdir: Path, ledger_url: str, orgs: list[Org], **sweep: Any) -> None:
        self.emulator = emulator
        self.workdir = workdir
        self.orgs = {org.name: org for org in orgs}
        for org in orgs:
            org.register(emulator)
        keys = {
            "ledger": ledger_url,
            "interval": "1s",
            "concurrency": 4,
            "max_closes": 1000,
            "verify_timeout": "5s",
            "org_lease": "3s",
            **sweep,
        }
        lines = ["[sweep]", *(f"{k} = {json.dumps(v)}" for k, v in keys.items())]
        for org in orgs:
            lines.extend(["", *org.toml(emulator.base_url)])
        self.config = workdir / "session-reaper.toml"
        self.config.write_text("\n".join(lines) + "\n")
        self.replicas: list[Replica] = []

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GENESYSCLOUD_", "SESSION_REAPER_"))}
        for org in self.orgs.values():
            env.update(org.env())
        return env

    def start(self, name: str, *args: str) -> Replica:
        replica = Replica(name, self.workdir, self.config, self.env(), args)
        self.replicas.append(replica)
        return replica

    def terminate(self, timeout: float = 40.0) -> dict[str, int]:
        """SIGTERM to every replica at once (one stopping alone would hand its orgs to the others),
        then each one's exit code."""
        for replica in self.replicas:
            if replica.process.poll() is None:
                replica.process.send_signal(signal.SIGTERM)
        return {replica.name: replica.process.wait(timeout=timeout) for replica in self.replicas}

    def stop(self) -> None:
        for replica in self.replicas:
            if replica.process.poll() is None:
                replica.kill()

    def conversations(self, org: str, specs: list[dict[str, Any]]) -> list[str]:
        ids: list[str] = self.emulator.create_conversations([{**s, "organization": org} for s in specs])
        return ids

    def ended(self, conversation_id: str) -> bool:
        view = self.emulator.conversation(conversation_id)
        return all(p["state"] in ("disconnected", "terminated") for p in view["participants"])


def requests_by_client(log: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for entry in log:
        if entry["path"].startswith("/api/v2/"):
            found.setdefault(entry["clientId"], []).append(entry)
    return found


def busiest_minute(entries: list[dict[str, Any]]) -> int:
    """The most requests in any 60 s (by the emulator's clock, which the tests do not move meanwhile)."""
    times = sorted(datetime.fromisoformat(e["at"].replace("Z", "+00:00")).timestamp() for e in entries)
    most, start = 0, 0
    for end, moment in enumerate(times):
        while times[start] <= moment - 60:
            start += 1
        most = max(most, end - start + 1)
    return most


def disconnects(log: list[dict[str, Any]], ids: list[str]) -> Counter[str]:
    """Disconnect writes per conversation, refused ones too (the act; exactly once when closed)."""
    counts = writes_per_conversation(log, ids, refused_too=True)
    return Counter({cid: counts[cid]["disconnect:participant"] for cid in ids})
