"""How every command's --help names values: one vocabulary (FILE, DURATION, ID, N, ...), no Typer
placeholders (`<bool>` beside a flag, `{ID}` or `ID <str>` for an argument)."""

from __future__ import annotations

from typing import Any

import typer.core


class _Argument(typer.core.TyperArgument):
    """An argument reads as its metavar (`ID`), like a flag's value: not `{ID}` nor `ID <str>`."""

    def _usage_display_name(self) -> str:
        return self.display_name_raw

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


def _conventional(params: list[Any]) -> list[Any]:
    """The help every command shows: flags without a value, arguments by their metavar alone."""
    for param in params:
        if isinstance(param, typer.core.TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""  # a flag takes no value (Typer would print `<bool>`)
        elif type(param) is typer.core.TyperArgument and param.metavar is not None:
            param.__class__ = _Argument  # Typer has no hook to choose an argument's class
    return params


class ConventionalCommand(typer.core.TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _conventional(super().get_params(ctx))


class ConventionalGroup(typer.core.TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _conventional(super().get_params(ctx))
