"""The `session-reaper` command: parse, call, print. Work happens in the modules it calls."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="session-reaper",
    help="Find idle and stale Genesys Cloud web messaging sessions and end them cleanly.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold secrets
)


@app.command()
def emulator(
    host: str = typer.Option("127.0.0.1", help="Interface to bind; loopback by default."),
    port: int = typer.Option(8089, help="TCP port."),
    rate_limit: int = typer.Option(300, "--rate-limit", help="Requests per minute per OAuth client."),
    seed: str = typer.Option("demo", help="'demo' fills the world with realistic traffic; 'none' starts empty."),
    analytics_lag: float = typer.Option(0.0, "--analytics-lag", help="Seconds before analytics sees a change."),
) -> None:
    """Run the Genesys Cloud platform emulator (platform API + /emulator/v1 admin API)."""
    from session_reaper.emulator.server import serve

    serve(host=host, port=port, rate_limit=rate_limit, seed=seed, analytics_lag=analytics_lag)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
