"""The ``actorschema`` command line."""

from __future__ import annotations

import typer

from . import __version__

app = typer.Typer(
    name="actorschema",
    help=(
        "A schema and size gateway for Dramatiq.\n\n"
        "Add actorschema.PayloadGateway to your broker to check every message before it is "
        "enqueued: strict JSON values, arguments that fit the actor's type hints, and an exact size limit."
    ),
    no_args_is_help=True,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"actorschema {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """A schema and size gateway for Dramatiq."""


def main() -> None:
    """Entry point of the ``actorschema`` console script."""
    app()
