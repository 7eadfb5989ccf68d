"""The import rules of the layout, read from the source (ast), never by importing it.

Every module of src/ is parsed; every `import x`, `from x import y` (relative ones resolved, those under
`if TYPE_CHECKING:` and inside functions included) and `importlib.import_module("x")` with a literal
counts. A rule names a layer and the layers it must not reach.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# Libraries that do I/O or own a clock: the core is pure, so it reaches none of them.
IO_LIBRARIES = (
    "httpx",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "fastapi",
    "starlette",
    "uvicorn",
    "structlog",
    "prometheus_client",
    "rich",
    "typer",
    "socket",
    "subprocess",
)


@dataclass(frozen=True)
class Import:
    importer: str
    target: str
    line: int


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path) -> Iterator[Import]:
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            yield Import(name, module, node.lineno)
            # `from pkg import submodule` reaches pkg.submodule too
            for alias in node.names:
                yield Import(name, f"{module}.{alias.name}", node.lineno)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield Import(name, node.args[0].value, node.lineno)


def all_imports(root: Path) -> list[Import]:
    return [i for path in sorted(root.rglob("*.py")) for i in imports_of(path, root)]


def within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def violations(
    imports: list[Import], layer: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()
) -> list[str]:
    return sorted(
        f"{i.importer}:{i.line} imports {i.target}"
        for i in imports
        if within(i.importer, layer)
        and any(within(i.target, f) for f in forbidden)
        and not any(within(i.target, a) for a in allowed)
    )


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    found = all_imports(SRC)
    # the scan must see the tree it judges: every layer present, and imports inside each
    importers = {
        i.importer.split(".")[0] + "." + i.importer.split(".")[1] for i in found if "." in i.importer
    }
    for layer in (
        "session_reaper.core",
        "session_reaper.engine",
        "session_reaper.genesys",
        "session_reaper.ledger",
    ):
        assert layer in importers, f"no module of {layer} found under {SRC}"
    assert any(within(i.importer, "genesys_emulator") for i in found), "no module of genesys_emulator found"
    return found


REAPER_OUTSIDE_CORE = (
    "session_reaper.genesys",
    "session_reaper.ledger",
    "session_reaper.engine",
    "session_reaper.commands",
    "session_reaper.telemetry",
    "session_reaper.config",
    "genesys_emulator",
)


def test_the_core_imports_nothing_outside_itself(imports: list[Import]) -> None:
    assert violations(imports, "session_reaper.core", REAPER_OUTSIDE_CORE) == []


def test_the_core_does_no_io(imports: list[Import]) -> None:
    assert violations(imports, "session_reaper.core", IO_LIBRARIES) == []


def test_the_emulator_imports_nothing_of_the_reaper(imports: list[Import]) -> None:
    assert violations(imports, "genesys_emulator", ("session_reaper",)) == []


def test_adapters_do_not_reach_up(imports: list[Import]) -> None:
    """genesys/ and ledger/ implement the engine's ports; they never call the engine or a command."""
    up = ("session_reaper.engine", "session_reaper.commands", "genesys_emulator")
    ports = ("session_reaper.engine.ports",)
    assert violations(imports, "session_reaper.genesys", (*up, "session_reaper.ledger"), ports) == []
    assert violations(imports, "session_reaper.ledger", (*up, "session_reaper.genesys"), ports) == []


def test_only_commands_reach_the_commands(imports: list[Import]) -> None:
    for layer in (
        "session_reaper.core",
        "session_reaper.engine",
        "session_reaper.telemetry",
        "session_reaper.config",
    ):
        assert violations(imports, layer, ("session_reaper.commands",)) == [], layer


def test_the_runtime_package_imports_no_tests_or_benchmarks(imports: list[Import]) -> None:
    for layer in ("session_reaper", "genesys_emulator"):
        assert violations(imports, layer, ("tests", "benchmarks", "tools")) == []


def test_the_engine_reaches_the_platform_and_the_ledger_only_through_ports(imports: list[Import]) -> None:
    concrete = (
        "session_reaper.genesys",
        "session_reaper.ledger",
        "session_reaper.commands",
        "genesys_emulator",
    )
    assert violations(imports, "session_reaper.engine", concrete) == []


@pytest.mark.parametrize(
    ("source", "relative_path", "expected"),
    [
        (
            "from session_reaper.genesys.api import GenesysApi\n",
            "session_reaper/core/x.py",
            "session_reaper.genesys.api",
        ),
        ("import session_reaper.ledger as l\n", "session_reaper/core/x.py", "session_reaper.ledger"),
        ("from ..engine import sweep\n", "session_reaper/core/x.py", "session_reaper.engine.sweep"),
        ("from .. import commands\n", "session_reaper/core/x.py", "session_reaper.commands"),
        (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from genesys_emulator.state import World\n",
            "session_reaper/core/x.py",
            "genesys_emulator.state",
        ),
        ("def f():\n    import httpx\n", "session_reaper/core/x.py", "httpx"),
        (
            "import importlib\nm = importlib.import_module('session_reaper.ledger')\n",
            "session_reaper/core/x.py",
            "session_reaper.ledger",
        ),
        ("from session_reaper import config\n", "genesys_emulator/x.py", "session_reaper"),
    ],
)
def test_the_scan_catches_every_form_of_import(
    tmp_path: Path, source: str, relative_path: str, expected: str
) -> None:
    """The rules above are only as good as the scan: each form of import is seen as a violation."""
    path = tmp_path / relative_path
    path.parent.mkdir(parents=True)
    path.write_text(source)
    found = all_imports(tmp_path)
    layer = relative_path.split("/")[0] if relative_path.startswith("genesys") else "session_reaper.core"
    forbidden = ("session_reaper",) if layer == "genesys_emulator" else (*REAPER_OUTSIDE_CORE, *IO_LIBRARIES)
    caught = violations(found, layer, forbidden)
    assert any(f"imports {expected}" in v for v in caught), caught


def http_reaches(root: Path) -> list[str]:
    """Every `x.http` outside genesys/: the transport (its limiter, its raw requests) is genesys's own."""
    found = []
    for path in sorted(root.rglob("*.py")):
        name = module_name(path, root)
        if within(name, "session_reaper.genesys") or not within(name, "session_reaper"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found += [
            f"{name}:{n.lineno}" for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "http"
        ]
    return found


def test_only_genesys_reaches_the_platform_transport() -> None:
    assert http_reaches(SRC) == []


def test_the_transport_scan_catches_a_reach(tmp_path: Path) -> None:
    path = tmp_path / "session_reaper" / "commands" / "x.py"
    path.parent.mkdir(parents=True)
    path.write_text("async def f(api):\n    await api.http.limiter.wait_for_room(2)\n")
    (tmp_path / "session_reaper" / "genesys").mkdir()
    (tmp_path / "session_reaper" / "genesys" / "api.py").write_text("def g(self):\n    return self.http\n")
    assert http_reaches(tmp_path) == ["session_reaper.commands.x:2"]
