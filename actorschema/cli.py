"""The ``actorschema`` command line.

Exit codes scripts can rely on: 0 all is well, 1 the check failed (stale
schemas), 2 usage (bad arguments, an app that cannot be imported). Errors go
to stderr as one line with the cause and a hint; ``--json`` prints results
for machines on stdout.
"""

from __future__ import annotations

import inspect as pyinspect
import json
import sys
import typing
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from . import __version__
from .app import AppNotFound, load_broker
from .export import app_actors, compare, render, write

app = typer.Typer(
    name="actorschema",
    help=(
        "Schemas and a size gateway for Dramatiq actors.\n\n"
        "Add actorschema.PayloadGateway to your broker to check every message before it is enqueued; "
        "use these commands to publish each actor's message contract as JSON Schema and keep it current."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)

TARGET_HELP = (
    "The app: a module ([bold]examples.shop[/]), [bold]module:broker[/] for a broker attribute, "
    "or a file path ([bold]examples/shop.py[/]). Importing it must declare the actors."
)
OUT_HELP = "The schema folder."
JSON_HELP = "Print the result as JSON on stdout."

Target = Annotated[str, typer.Argument(help=TARGET_HELP, show_default=False)]
Out = Annotated[Path, typer.Option("--out", "-o", help=OUT_HELP)]
AsJson = Annotated[bool, typer.Option("--json", help=JSON_HELP)]

err = Console(stderr=True, soft_wrap=True)  # one-line causes stay one line (and greppable)
out = Console()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"actorschema {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Schemas and a size gateway for Dramatiq actors."""


def _broker(target: str) -> Any:
    try:
        return load_broker(target)
    except AppNotFound as error:
        err.print(f"[red]error:[/] {error}")
        err.print("hint: run from the folder that holds the app, or give a file path (app/tasks.py)")
        raise typer.Exit(2) from None


@app.command()
def generate(target: Target, out_dir: Out = Path("schemas"), as_json: AsJson = False) -> None:
    """Write one JSON Schema (draft 2020-12) per actor, and an index.json, into the schema folder.

    Each schema describes the whole Dramatiq message the gateway emits for that actor. Files of
    actors that no longer exist are removed. The output is byte-for-byte deterministic: commit it.
    """
    files = render(_broker(target))
    touched = write(out_dir, files)
    if as_json:
        print(json.dumps({"out": str(out_dir), "files": sorted(files), "changed": touched}, indent=2))
        return
    actors = len(files) - 1
    out.print(f"{actors} actor schema(s) in {out_dir}/: {len(touched)} file(s) written or removed")
    for name in touched:
        out.print(f"  {name}")


@app.command()
def check(target: Target, out_dir: Out = Path("schemas"), as_json: AsJson = False) -> None:
    """Exit 1 if the committed schemas differ from what generate would write (for CI).

    Prints a unified diff of every stale file. Fix with: actorschema generate TARGET --out DIR.
    """
    differences = compare(out_dir, render(_broker(target)))
    if as_json:
        report = [{"file": d.name, "problem": d.kind, "diff": d.diff} for d in differences]
        print(json.dumps({"out": str(out_dir), "current": not differences, "differences": report}, indent=2))
    elif differences:
        for difference in differences:
            err.print(f"[red]{difference.kind}:[/] {out_dir / difference.name}")
            if difference.diff:
                sys.stderr.write(difference.diff)
        err.print(f"hint: actorschema generate {target} --out {out_dir}")
    else:
        out.print(f"{out_dir}/ is current")
    if differences:
        raise typer.Exit(1)


@app.command()
def inspect(target: Target, as_json: AsJson = False) -> None:
    """Show each actor: its queue, its parameters with their types and defaults, its size limit."""
    entries = app_actors(_broker(target))
    rows: list[dict[str, Any]] = []
    for entry in entries:
        contract = entry.contract
        parameters = [
            {
                "name": p.name,
                "kind": p.kind.name.lower(),
                "type": _type_text(p.hint),
                "required": p.required,
                "default": None if p.default is pyinspect.Parameter.empty else repr(p.default),
            }
            for p in contract.parameters
        ]
        rows.append(
            {
                "actor": contract.actor_name,
                "queue": contract.queue_name,
                "parameters": parameters,
                "max_message_bytes": entry.limit.limit,
                "limit_source": entry.limit.source,
            }
        )
    if as_json:
        print(json.dumps({"actors": rows}, indent=2))
        return
    table = Table(title="Dramatiq actors")
    for column in ("actor", "queue", "parameters", "size limit"):
        table.add_column(column)
    for row in rows:
        params = "\n".join(_parameter_text(p) for p in row["parameters"]) or "(none)"
        limit = row["max_message_bytes"]
        size = "none" if limit is None else f"{limit:,} B ({row['limit_source']})"
        table.add_row(row["actor"], row["queue"], params, size)
    out.print(table)


def _parameter_text(parameter: dict[str, Any]) -> str:
    text = f"{parameter['name']}: {parameter['type']}"
    if parameter["default"] is not None:
        text += f" = {parameter['default']}"
    return text


def _type_text(hint: Any) -> str:
    if hint is pyinspect.Parameter.empty:
        return "any JSON"
    if typing.get_origin(hint) is Annotated:
        base, *metadata = typing.get_args(hint)
        constraints = [str(item) for meta in metadata for item in getattr(meta, "metadata", [meta])]
        return f"{_type_text(base)} ({', '.join(constraints)})" if constraints else _type_text(base)
    if isinstance(hint, type) and not typing.get_args(hint):
        return hint.__qualname__
    return repr(hint).replace("typing.", "")


def main() -> None:
    """Entry point of the ``actorschema`` console script."""
    app()
