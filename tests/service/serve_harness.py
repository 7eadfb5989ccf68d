"""`session-reaper serve` as a real process against the emulator, and what it exposes over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

CLIENT_ID = "emulator"
CLIENT_SECRET = "emulator-secret"
START_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Poll until `predicate()` is truthy; returns its value. Fails the test after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Serve:
    """One `session-reaper serve` process; its stderr (the JSON logs) goes to a file."""

    def __init__(self, base_url: str, workdir: Path) -> None:
        self.base_url = base_url
        self.workdir = workdir
        self.ledger_url = f"sqlite:///{workdir / 'ledger.db'}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stderr_path = workdir / "serve.stderr"
        self.process: subprocess.Popen[bytes] | None = None
        self.client_id = CLIENT_ID
        self.client_secret = CLIENT_SECRET

    def config(
        self,
        sweep: dict[str, str | int | bool] | None = None,
        tables: dict[str, dict[str, Any]] | None = None,
    ) -> Path:
        keys: dict[str, str | int | bool] = {
            "interval": "1s",
            "ledger": self.ledger_url,
            "verify_timeout": "5s",
            **(sweep or {}),
        }
        lines = ["[sweep]", *(f"{k} = {json.dumps(v)}" for k, v in keys.items())]
        for table, values in (tables or {}).items():  # e.g. {"events": {"clock_sync": "1s"}}
            lines += [f"[{table}]", *(f"{k} = {json.dumps(v)}" for k, v in values.items())]
        path = self.workdir / "session-reaper.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(
        self,
        *args: str,
        sweep: dict[str, str | int | bool] | None = None,
        tables: dict[str, dict[str, Any]] | None = None,
    ) -> Serve:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GENESYSCLOUD_", "SESSION_REAPER_"))}
        env.update(
            GENESYSCLOUD_API_URL=self.base_url,
            GENESYSCLOUD_OAUTHCLIENT_ID=self.client_id,
            GENESYSCLOUD_OAUTHCLIENT_SECRET=self.client_secret,
        )
        command = [
            sys.executable,
            "-m",
            "session_reaper.commands.cli",
            "serve",
            "--port",
            str(self.port),
            "--config",
            str(self.config(sweep, tables)),
            *args,
        ]
        with self.stderr_path.open("ab") as stderr:  # a restart appends
            self.process = subprocess.Popen(
                command, env=env, cwd=self.workdir, stdout=subprocess.DEVNULL, stderr=stderr
            )
        return self

    # -- talking to it -----------------------------------------------------------------------------

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10)

    def _answer(self, path: str) -> httpx.Response | None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"serve exited with {self.process.returncode}:\n{self.stderr()}")
        try:
            return self.get(path)
        except httpx.TransportError:
            return None

    def wait_ready(self) -> httpx.Response:
        def ready() -> httpx.Response | None:
            answer = self._answer("/readyz")
            return answer if answer is not None and answer.status_code == 200 else None

        return wait_until(ready, "/readyz to answer 200", START_TIMEOUT)  # type: ignore[no-any-return]

    def metrics(self) -> Samples:
        answer = self._answer("/metrics")
        if answer is None:
            return {}
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(answer.text)
            for s in family.samples
        }

    def metric(self, name: str, **labels: str) -> float:
        return self.metrics().get((name, frozenset(labels.items())), 0.0)

    @staticmethod
    def wait_until(predicate: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
        return wait_until(predicate, what, timeout)

    def wait_metric(self, name: str, expected: float, **labels: str) -> None:
        wait_until(lambda: self.metric(name, **labels) == expected, f"{name}{labels} == {expected}")

    def signal(self, sig: signal.Signals = signal.SIGTERM) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def wait_exit(self, timeout: float = 30.0) -> int:
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def log_lines(self) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self.stderr().splitlines() if raw.strip()]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)
