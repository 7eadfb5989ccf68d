"""The checks that need no platform: the ledger opens and takes a write, the hosts are Genesys Cloud's."""

from __future__ import annotations

from urllib.parse import urlsplit

from session_reaper.commands.doctor.verdicts import Check, Names, Status
from session_reaper.config import Credentials
from session_reaper.errors import EXIT_ACTION_FAILED, EXIT_USAGE
from session_reaper.genesys.regions import REGIONS, Endpoints

# Hosts the forums suggest that are not Genesys Cloud at all.
_WRONG_HOSTS = {
    "mynicecxone.com": "NICE CXone's, another vendor's platform",
    "mygen.com": "made up; Genesys Cloud has no such domain",
}
_GENESYS_SUFFIXES = tuple(sorted({d for d in REGIONS.values()} | {"pure.cloud", "us-gov-pure.cloud"}))


def host_check(endpoints: Endpoints, credentials: Credentials, names: Names | None = None) -> Check:
    names = names or Names()
    host = urlsplit(endpoints.api_base).hostname or ""
    login_host = urlsplit(endpoints.login_base).hostname or ""
    where = f"API {endpoints.api_base}, login {endpoints.login_base}"
    source = (
        f"{names.api_url}" if credentials.api_url else f"{names.region}={credentials.region or 'us-east-1'}"
    )
    for checked in (host, login_host):
        for wrong, why in _WRONG_HOSTS.items():
            if checked == wrong or checked.endswith("." + wrong):
                return Check(
                    "region and hosts",
                    Status.FAIL,
                    f"{checked} is {why} ({source})",
                    f"set {names.region} to your organization's region (e.g. us-east-1, eu-west-1) "
                    f"and unset {names.api_url}",
                )
    loopback = host in ("localhost", "::1") or host.startswith("127.")
    genesys = any(host == s or host.endswith("." + s) for s in _GENESYS_SUFFIXES)
    if not (loopback or genesys):
        return Check(
            "region and hosts",
            Status.WARN,
            f"{where} ({source}): not a Genesys Cloud domain; fine for a gateway",
            f"unless a gateway forwards to Genesys Cloud, unset {names.api_url} and set {names.region}",
        )
    note = " (loopback: the emulator?)" if loopback else ""
    return Check("region and hosts", Status.OK, f"{where} ({source}){note}")


def ledger_check(url: str) -> tuple[Check, int | None]:
    """Whether the audit ledger opens and takes a write (in a transaction rolled back: no change)."""
    from session_reaper.ledger import LedgerUnavailable, LedgerUrlError, migrate
    from session_reaper.ledger.opening import probe

    fix_url = 'set [sweep] ledger = "sqlite:///session-reaper.db" or "postgresql://user@host/db"'
    try:
        found = probe(url)
    except LedgerUrlError as exc:
        return Check("ledger", Status.FAIL, str(exc), fix_url), EXIT_USAGE
    except LedgerUnavailable as exc:
        fix = "check the database is reachable and the user may connect (PGPASSWORD for PostgreSQL)"
        if exc.unreachable:
            return Check("ledger", Status.FAIL, str(exc), fix), EXIT_ACTION_FAILED
        return Check("ledger", Status.FAIL, str(exc), fix_url if "sqlite" in exc.ledger else fix), EXIT_USAGE
    shown = found.shown
    if found.in_memory:
        return Check("ledger", Status.WARN, f"{shown}: in memory, nothing is kept", fix_url), None
    if not found.exists:
        return Check(
            "ledger", Status.OK, f"{shown}: created at the first sweep (its directory is writable)"
        ), None
    if found.revision is None:
        return Check(
            "ledger", Status.OK, f"{shown}: reachable and writable; the schema is created at the first sweep"
        ), None
    if found.revision == migrate.head():
        return Check(
            "ledger", Status.OK, f"{shown}: schema revision {found.revision} (current), writable"
        ), None
    known = {rev.revision for rev in migrate.script_directory().walk_revisions()}
    if found.revision not in known:
        return (
            Check(
                "ledger",
                Status.FAIL,
                f"{shown}: schema revision {found.revision} is newer than this session-reaper knows",
                "upgrade session-reaper",
            ),
            EXIT_USAGE,
        )
    return Check(
        "ledger", Status.OK, f"{shown}: schema revision {found.revision}, upgraded at the first sweep"
    ), None
