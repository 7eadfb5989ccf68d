"""The image can't be built here (no container engine): check the Dockerfile statically.

Non-root user, a pinned base, the package installed from the repository, no secret in the image,
the documented entry point, a health check, and a build context that leaves secrets and junk out.
`hadolint` lints it too when it is installed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    logical: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    if current:
        logical.append(current)
    pairs = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        pairs.append((keyword.upper(), rest.strip()))
    return pairs


@pytest.fixture(scope="module")
def steps() -> list[tuple[str, str]]:
    return instructions(DOCKERFILE.read_text())


def args_of(steps: list[tuple[str, str]], keyword: str) -> list[str]:
    return [rest for kw, rest in steps if kw == keyword]


def final_stage(steps: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (kw, _) in enumerate(steps) if kw == "FROM"]
    return steps[starts[-1] :]


def test_every_base_image_is_a_pinned_slim_python_311(steps: list[tuple[str, str]]) -> None:
    bases = [rest.split()[0] for rest in args_of(steps, "FROM") if not rest.startswith("--")]
    assert bases
    for base in bases:
        pinned_tag = re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", base)
        assert pinned_tag, f"{base}: use an exact python 3.11.x slim release (optionally with its digest)"
        assert "latest" not in base


def test_the_final_stage_runs_as_a_numeric_non_root_user(steps: list[tuple[str, str]]) -> None:
    users = args_of(final_stage(steps), "USER")
    assert users, "the final stage must switch to a non-root USER"
    user = users[-1].split(":")[0]
    assert user.isdigit() and int(user) != 0, "a numeric uid lets Kubernetes check runAsNonRoot"


def test_the_package_is_installed_from_the_repository(steps: list[tuple[str, str]]) -> None:
    copies = " ".join(args_of(steps, "COPY"))
    assert "pyproject.toml" in copies and "src" in copies
    installs = [rest for rest in args_of(steps, "RUN") if "pip install" in rest]
    assert any(re.search(r"pip install( --?[\w-]+(=\S+)?)* \.(\s|$)", rest) for rest in installs), installs


def test_entrypoint_command_port_and_healthcheck(steps: list[tuple[str, str]]) -> None:
    final = final_stage(steps)
    assert json.loads(args_of(final, "ENTRYPOINT")[-1]) == ["session-reaper"]
    assert json.loads(args_of(final, "CMD")[-1]) == ["serve", "--host", "0.0.0.0"]
    assert "9464" in args_of(final, "EXPOSE")[-1].split()
    (check,) = args_of(final, "HEALTHCHECK")
    assert "/healthz" in check and "9464" in check


def test_no_secret_is_baked_in(steps: list[tuple[str, str]]) -> None:
    text = DOCKERFILE.read_text()
    for kw, rest in steps:
        if kw in ("ENV", "ARG", "LABEL"):
            assert not re.search(r"(SECRET|TOKEN|PASSWORD|GENESYSCLOUD_)\w*\s*=", rest, re.IGNORECASE), rest
        if kw in ("COPY", "ADD"):
            assert not re.search(r"\.env\b|\.db\b|credentials|\.toml\s+/etc", rest), rest
    assert not re.search(r"emulator-secret|client_secret\s*=", text)
    assert not args_of(steps, "ADD"), "COPY is explicit; ADD fetches URLs and unpacks archives"


def test_the_build_context_is_an_allow_list() -> None:
    patterns = [
        ln.strip() for ln in DOCKERIGNORE.read_text().splitlines() if ln.strip() and not ln.startswith("#")
    ]
    assert patterns[0] in ("*", "**"), "exclude everything first, then allow what the build needs"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "src"}
    copied = set()
    for rest in args_of(instructions(DOCKERFILE.read_text()), "COPY"):
        if rest.startswith("--from"):
            continue
        copied.update(part.rstrip("/").removeprefix("./") for part in rest.split()[:-1])
    assert copied <= allowed, f"COPY needs {copied - allowed} in the build context"


def test_hadolint_is_happy() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed")
    done = subprocess.run(
        [hadolint, "--ignore", "DL3008", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
