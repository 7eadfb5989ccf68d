"""One exception root: every error the reaper defines is a `ReaperError` that knows its exit code.

Every module of session_reaper is imported and every exception class it defines is checked, so an
error added later without the root (or with a code the commands do not use) fails here.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import session_reaper
from session_reaper import errors
from session_reaper.config import ConfigError, CredentialsError
from session_reaper.genesys import errors as platform
from session_reaper.genesys.regions import UnknownRegion
from session_reaper.ledger import LedgerUrlError, LedgerVersionError

EXIT_CODES = {errors.EXIT_OK, errors.EXIT_ACTION_FAILED, errors.EXIT_USAGE, errors.EXIT_AUTH}


def defined_exceptions() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(session_reaper.__path__, "session_reaper."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[f"{module.__name__}.{name}"] = value
    return list(found.values())


def test_the_scan_finds_the_errors_it_judges() -> None:
    names = {e.__name__ for e in defined_exceptions()}
    assert {
        "ConfigError",
        "GenesysError",
        "LedgerUrlError",
        "StepFailed",
        "ReportError",
        "DemoError",
    } <= names


@pytest.mark.parametrize("error", defined_exceptions(), ids=lambda e: f"{e.__module__}.{e.__name__}")
def test_every_error_the_reaper_defines_has_the_one_root(error: type[BaseException]) -> None:
    assert issubclass(error, errors.ReaperError), f"{error.__module__}.{error.__name__} lacks ReaperError"
    assert error.exit_code in EXIT_CODES - {errors.EXIT_OK}


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConfigError, errors.EXIT_USAGE),
        (CredentialsError, errors.EXIT_USAGE),
        (UnknownRegion, errors.EXIT_USAGE),
        (LedgerUrlError, errors.EXIT_USAGE),
        (LedgerVersionError, errors.EXIT_USAGE),
        (platform.AuthenticationFailed, errors.EXIT_AUTH),
        (platform.PermissionMissing, errors.EXIT_AUTH),
        (platform.GenesysError, errors.EXIT_ACTION_FAILED),
        (platform.NotFound, errors.EXIT_ACTION_FAILED),
        (platform.Conflict, errors.EXIT_ACTION_FAILED),
        (platform.BadRequest, errors.EXIT_ACTION_FAILED),
        (platform.RateLimited, errors.EXIT_ACTION_FAILED),
        (platform.ServerError, errors.EXIT_ACTION_FAILED),
        (platform.TransportError, errors.EXIT_ACTION_FAILED),
    ],
)
def test_each_error_carries_the_code_the_commands_exit_with(
    error: type[errors.ReaperError], code: int
) -> None:
    """The codes the CLI maps these errors to today (cli._run, serve's start-up)."""
    assert error.exit_code == code


def test_the_old_bases_still_catch_them() -> None:
    # callers that catch ValueError / RuntimeError keep working
    assert issubclass(UnknownRegion, ValueError)
    assert issubclass(LedgerUrlError, ValueError)
    assert issubclass(LedgerVersionError, RuntimeError)


def test_a_start_up_failure_keeps_its_own_code() -> None:
    from session_reaper.commands.serve.service import StartupFailed

    assert StartupFailed(errors.EXIT_AUTH, "refused").exit_code == errors.EXIT_AUTH
    assert StartupFailed(errors.EXIT_USAGE, "bad").exit_code == errors.EXIT_USAGE
