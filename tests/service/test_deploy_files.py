"""The systemd unit and the Kubernetes manifest say what the service needs, and stay loadable."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNIT = DEPLOY / "session-reaper.service"
MANIFEST = DEPLOY / "kubernetes.yaml"


def unit_settings() -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def test_the_unit_runs_serve_unprivileged_with_secrets_from_a_file() -> None:
    unit = unit_settings()
    assert unit["ExecStart"] == [
        "/opt/session-reaper/.venv/bin/session-reaper serve --config /etc/session-reaper/session-reaper.toml"
    ]
    assert unit["DynamicUser"] == ["yes"] and "User" not in unit
    assert unit["EnvironmentFile"] == ["/etc/session-reaper/credentials.env"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["RestartPreventExitStatus"] == ["2 3"]  # config and credential errors: a restart won't help
    for hardening in ("NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "RestrictSUIDSGID"):
        assert unit[hardening][0] in ("yes", "strict"), hardening
    assert "GENESYSCLOUD_OAUTHCLIENT_SECRET=" not in "".join(unit.get("Environment", []))


def test_systemd_accepts_the_unit() -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    done = subprocess.run([analyze, "verify", str(UNIT)], capture_output=True, text=True, timeout=60)
    problems = [
        line
        for line in (done.stdout + done.stderr).splitlines()
        if line.strip() and "is not executable" not in line and "No such file" not in line
    ]
    assert not problems, problems


def manifests() -> list[dict[str, Any]]:
    yaml = pytest.importorskip("yaml")
    return [doc for doc in yaml.safe_load_all(MANIFEST.read_text()) if doc]


def test_the_manifest_text_has_what_operators_rely_on() -> None:
    text = MANIFEST.read_text()
    for needed in (
        "kind: Deployment",
        "replicas: 2",
        "kind: Secret",
        "kind: ConfigMap",
        "kind: Service",
        "path: /healthz",
        "path: /readyz",
        'prometheus.io/scrape: "true"',
        "runAsNonRoot: true",
        "postgresql://",
        "- 0.0.0.0",
    ):
        assert needed in text, needed
    assert "emulator-secret" not in text


def test_the_manifest_parses_and_wires_probes_secrets_and_config() -> None:
    docs = {doc["kind"]: doc for doc in manifests()}
    assert {"Secret", "ConfigMap", "Deployment", "Service"} <= set(docs)
    pod = docs["Deployment"]["spec"]["template"]
    container = pod["spec"]["containers"][0]
    assert docs["Deployment"]["spec"]["replicas"] == 2
    assert container["args"][:3] == ["serve", "--host", "0.0.0.0"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["envFrom"][0]["secretRef"]["name"] == docs["Secret"]["metadata"]["name"]
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["limits"]["memory"]
    assert "postgresql://" in docs["ConfigMap"]["data"]["session-reaper.toml"]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == "9464"
    grace = float(container["args"][container["args"].index("--grace") + 1])
    assert grace < pod["spec"]["terminationGracePeriodSeconds"]
