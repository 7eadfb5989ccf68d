"""The generated documents, kept in sync with the code they describe.

    .venv/bin/python -m tools.docs --write-docs   # regenerate every one of them
    .venv/bin/python -m tools.docs --check-docs   # exit 1 naming each one that is stale

README.md's configuration reference (between the markers) and docs/configuration.md come from
`tools.configuration.reference_markdown()`, examples/session-reaper.toml from `example_toml()`,
docs/permissions.md from `tools.permissions.permissions_markdown()`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from tools.configuration import EXAMPLE, example_toml, reference_markdown
from tools.permissions import permissions_markdown

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CONFIGURATION_DOC = ROOT / "docs" / "configuration.md"
PERMISSIONS_DOC = ROOT / "docs" / "permissions.md"
EXAMPLE_CONFIG = ROOT / EXAMPLE
START = "<!-- config-reference:start -->"
END = "<!-- config-reference:end -->"
WRITE = ".venv/bin/python -m tools.docs --write-docs"


def readme_block(text: str) -> str | None:
    """What README.md holds between the markers (without the marker lines); None = no markers."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        return None
    return text[start + len(START) : end].strip("\n")


def with_reference(text: str) -> str:
    """README text with the block between the markers replaced by ``reference_markdown()``."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README.md has no {START} ... {END} markers")
    return text[: start + len(START)] + "\n" + reference_markdown().strip("\n") + "\n" + text[end:]


def _generated() -> list[tuple[Path, Callable[[str], str]]]:
    """Each generated file and how its current text becomes the generated one."""
    return [
        (README, with_reference),
        (CONFIGURATION_DOC, lambda _: reference_markdown()),
        (PERMISSIONS_DOC, lambda _: permissions_markdown()),
        (EXAMPLE_CONFIG, lambda _: example_toml()),
    ]


def _current(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def stale_docs() -> list[str]:
    """The generated documents that differ from the code (empty = all current)."""
    return [str(path) for path, generate in _generated() if generate(_current(path)) != _current(path)]


def write_docs() -> list[str]:
    """Regenerate every generated document; the files changed."""
    changed = []
    for path, generate in _generated():
        text = _current(path)
        updated = generate(text)
        if updated != text:
            path.write_text(updated, encoding="utf-8")
            changed.append(str(path))
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    """``--write-docs``: regenerate the generated docs; ``--check-docs``: exit 1 when one is stale."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--write-docs"]:
        try:
            changed = write_docs()
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        for path in changed:
            print(f"regenerated {path}")
        return 0
    if args == ["--check-docs"]:
        stale = stale_docs()
        for path in stale:
            print(f"{path} is stale: run {WRITE}")
        return 1 if stale else 0
    print("usage: python -m tools.docs --write-docs | --check-docs", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
