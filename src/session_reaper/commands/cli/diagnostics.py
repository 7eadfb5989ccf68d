"""What the ledger says happened (`report`) and whether everything the rules need is there (`doctor`)."""

from __future__ import annotations

from pathlib import Path

import typer

from session_reaper.commands.cli.app import ConfigOption, command, err, fail, failed, load, out


@command()
def report(
    since: str = typer.Option(
        "7d", "--since", metavar="DURATION", help="How far back to look: a duration such as 7d, 24h, 90m."
    ),
    html_file: str | None = typer.Option(
        None, "--html", metavar="FILE", help="Also write a self-contained HTML report with charts to FILE."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the figures as one JSON object."),
    config: Path | None = ConfigOption,
) -> None:
    """From the ledger: closes by rule, queue and hour, failures with their last error, requests per close."""
    import json

    from rich.console import Console

    from session_reaper.commands.report import html as report_html
    from session_reaper.commands.report import terminal as report_terminal
    from session_reaper.commands.report.as_json import to_json
    from session_reaper.commands.report.collect import ReportError, parse_since
    from session_reaper.commands.report.collect import load as load_report
    from session_reaper.errors import EXIT_USAGE

    stdout = Console(highlight=False, soft_wrap=True)  # unlike `out`, as wide as the terminal: tables fold
    try:
        period = parse_since(since)
    except ValueError as exc:
        raise fail(EXIT_USAGE, f"--since: {exc}") from None
    settings = load(config)
    try:
        data = load_report(settings.sweep.ledger, period)
    except ReportError as exc:
        raise failed(exc) from None
    if data.empty:
        notice = f"Nothing recorded yet: the ledger holds no sweep in the last {since}."
        (err if as_json else stdout).print(notice, markup=False)
    if as_json:
        print(json.dumps(to_json(data), ensure_ascii=False), flush=True)
    elif not data.empty:
        report_terminal.render_terminal(stdout, data)
    if html_file is not None:
        try:
            report_html.write_html(Path(html_file), data)
        except OSError as exc:
            raise fail(EXIT_USAGE, f"cannot write {html_file}: {exc.strerror or exc}") from None
        (err if as_json else stdout).print(f"Wrote {html_file}", markup=False)


@command()
def doctor(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of the list."),
    org: str | None = typer.Option(
        None, "--org", metavar="NAME", help="Only this organization ([orgs.NAME]). Default: every one."
    ),
    config: Path | None = ConfigOption,
) -> None:
    """Check config, region, token, organization, every permission the rules need, queues' own timers."""
    from session_reaper.commands.doctor import run

    raise typer.Exit(run(config, out, as_json=as_json, org=org))
