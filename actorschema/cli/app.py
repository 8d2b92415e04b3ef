"""The ``actorschema`` command line: the typer app and its commands.

Exit codes scripts can rely on: 0 all is well, 1 the check failed (stale
schemas), 2 usage (bad arguments, an app that cannot be imported). Errors go
to stderr as one line with the cause and a hint; ``--json`` prints results
for machines on stdout.
"""

from __future__ import annotations

import enum
import inspect as pyinspect
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .. import __version__
from ..asyncapi import asyncapi_document
from ..catalogue import RESULT_SUFFIX, CatalogueError, compare, last_good, write
from ..claims.reference import REFERENCE_SCHEMA_FILE
from ..compat import CompatError, breaking, diff_transitive, history, load_folder
from ..compat import diff as compat_diff
from ..consume.deadletters import dead_letter_reasons
from ..contract import ABSENT, ContractError, hint_text
from ..defaults import function_facts
from ..generate import ActorEntry, app_actors, render
from ..validate import check_message, load_schemas, read_messages
from .targets import AppNotFound, load_broker

__all__ = ["app", "main"]

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
    # A crash must not print local variables: they hold the app's values (a DSN read from the environment...).
    pretty_exceptions_show_locals=False,
)

TARGET_HELP = (
    "The app: a module ([bold]examples.shop[/]), [bold]module:broker[/] for a broker attribute, "
    "or a file path ([bold]examples/shop.py[/]). Importing it must declare the actors."
)
OUT_HELP = "The schema folder."
JSON_HELP = "Print the result as JSON on stdout."

Target = Annotated[str, typer.Argument(help=TARGET_HELP, show_default=False)]
Out = Annotated[Path, typer.Option("--out", "-o", help=OUT_HELP)]
AsJson = Annotated[bool, typer.Option("--json", help=JSON_HELP, metavar="")]
Queues = Annotated[
    list[str] | None,
    typer.Option(
        "--queue",
        "-q",
        help="A queue to read (repeat for more); default: every queue of the app.",
        metavar="QUEUE",
    ),
]

err = Console(stderr=True, soft_wrap=True)  # one-line causes stay one line (and greppable)
out = Console(soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"actorschema {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit.", metavar=""
        ),
    ] = False,
) -> None:
    """Schemas and a size gateway for Dramatiq actors."""


def _declared_contracts(record: logging.LogRecord) -> bool:
    # The gateway logs an actor without a contract as it is declared: the command names it once, itself.
    return record.funcName != "_declare"


def _broker(target: str) -> Any:
    gateway_log = logging.getLogger("actorschema")
    gateway_log.addFilter(_declared_contracts)
    try:
        return load_broker(target)
    except AppNotFound as error:
        err.print(f"[red]error:[/] {error}", highlight=False)
        err.print(f"hint: {error.hint}", markup=False, highlight=False)
        raise typer.Exit(2) from None
    finally:
        gateway_log.removeFilter(_declared_contracts)


@app.command()
def generate(target: Target, out_dir: Out = Path("schemas"), as_json: AsJson = False) -> None:
    """Write one JSON Schema (draft 2020-12) per actor, and an index.json, into the schema folder.

    Each schema describes the whole Dramatiq message the gateway emits for that actor. Files of actors that no longer exist are removed. The output is byte-for-byte deterministic: commit it.

    A target without actors is refused (exit 2) and nothing is written or removed. An actor whose contract cannot be built is named on one line each (exit 2); the others are written, and its last good schema stays.
    """
    broker = _broker(target)
    entries, failures = _entries(broker, target)
    kept, keep = last_good(out_dir, [error.actor_name for error in failures])
    files = render(broker, entries, kept)
    touched = write(out_dir, files, keep)
    _warn_untyped(entries)
    if as_json:
        report = {
            "out": str(out_dir),
            "files": sorted(files),
            "changed": touched,
            "errors": [_failure_record(error) for error in failures],
            "way_out": {e.contract.actor_name: e.way_out_reason for e in entries if e.contract.way_out},
            "hidden_signature": [e.contract.actor_name for e in entries if e.contract.hidden_signature],
        }
        print(json.dumps(report, indent=2))
    else:
        results = sum(name.endswith(RESULT_SUFFIX) for name in files)
        actors = len(files) - 1 - results - (REFERENCE_SCHEMA_FILE in files)
        out.print(
            f"{actors} actor schema(s) in {out_dir}/, {results} result schema(s): "
            f"{len(touched)} file(s) written or removed"
        )
        for name in touched:
            out.print(f"  {name}")
    if failures:
        kept_text = f"; their last good schema stays in {out_dir}/" if keep else ""
        err.print(f"{len(failures)} actor(s) have no contract{kept_text}", markup=False, highlight=False)
        raise typer.Exit(2)


@app.command()
def check(target: Target, out_dir: Out = Path("schemas"), as_json: AsJson = False) -> None:
    """Exit 1 if the committed schemas differ from what generate would write (for CI).

    Prints a unified diff of every stale file. Fix with: actorschema generate TARGET --out DIR.
    """
    broker = _broker(target)
    entries, failures = _entries(broker, target)  # an actor without a contract is named, not a traceback
    kept, keep = last_good(out_dir, [error.actor_name for error in failures])
    differences = [d for d in compare(out_dir, render(broker, entries, kept)) if d.name not in keep]
    if as_json:
        report = [{"file": d.name, "problem": d.kind, "diff": d.diff} for d in differences]
        print(json.dumps({"out": str(out_dir), "current": not differences, "differences": report}, indent=2))
    elif differences:
        for difference in differences:
            err.print(f"[red]{difference.kind}:[/] {out_dir / difference.name}")
            if difference.diff:
                sys.stderr.write(difference.diff)
        err.print(f"hint: actorschema generate {target} --out {out_dir}")
    elif not failures:
        out.print(f"{out_dir}/ is current")
    if failures:
        raise typer.Exit(2)  # cannot tell whether the folder is current
    if differences:
        raise typer.Exit(1)


@app.command()
def inspect(target: Target, as_json: AsJson = False) -> None:
    """Show each actor: its queue, its parameters with their types and defaults, its result type, its size limit."""
    entries, failures = _entries(_broker(target), target)
    rows: list[dict[str, Any]] = []
    for entry in entries:
        contract = entry.contract
        facts = function_facts(contract.function)
        parameters = []
        for p in contract.parameters:
            has_default = p.default is not pyinspect.Parameter.empty and p.default is not ABSENT
            # Only a default written as a literal is shown: a computed one may be a secret, and differs by machine.
            literal = has_default and facts.literal_default(p.name, p.default)
            parameters.append(
                {
                    "name": p.name,
                    "kind": p.kind.name.lower(),
                    "type": hint_text(p.hint),
                    "required": p.required,
                    "default": repr(p.default) if literal else None,
                    "default_computed": has_default and not literal,
                }
            )
        rows.append(
            {
                "actor": contract.actor_name,
                "queue": contract.queue_name,
                "parameters": parameters,
                "returns": None if entry.result is None else hint_text(entry.result.hint),
                "max_message_bytes": entry.limit.limit,
                "limit_source": entry.limit.source,
                "way_out": (
                    {"option": contract.way_out, "why": entry.way_out_reason} if contract.way_out else None
                ),
                "hidden_signature": contract.hidden_signature,
            }
        )
    if as_json:
        errors = [_failure_record(error) for error in failures]
        print(json.dumps({"actors": rows, "errors": errors}, indent=2))
        if failures:
            raise typer.Exit(2)
        return
    table = Table(title="Dramatiq actors")
    for column in ("actor", "queue", "parameters", "size limit"):
        table.add_column(column)
    for row in rows:
        params = "\n".join(_parameter_text(p) for p in row["parameters"]) or "(none)"
        if row["way_out"]:
            params += f"\n[yellow]{row['way_out']['option']}[/]: any strict JSON ({row['way_out']['why']})"
        if row["hidden_signature"]:
            params += "\n[yellow]only (*args, **kwargs)[/]: untyped (a wrapper without functools.wraps?)"
        if row["returns"] is not None:
            params += f"\n-> {row['returns']}"
        limit = row["max_message_bytes"]
        size = "none" if limit is None else f"{limit:,} B ({row['limit_source']})"
        table.add_row(row["actor"], row["queue"], params, size)
    out.print(table)
    if failures:
        raise typer.Exit(2)


@app.command()
def validate(
    sources: Annotated[
        list[str],
        typer.Argument(
            help="Message files: a JSON message, a JSON array of messages, or JSON Lines; - for stdin."
        ),
    ],
    schemas: Annotated[
        Path, typer.Option("--schemas", "-s", help="The schema folder (with its index.json).")
    ] = Path("schemas"),
    as_json: AsJson = False,
) -> None:
    """Check messages against their actor's schema and size limit: what a producer's CI runs.

    The worker's own rules on the same bytes: one strict decoder (no duplicate keys, no 1e400, no lone surrogates), the legacy positional form bound to the signature (reported as legacy in --json), the size of the bytes as given. Each invalid message is reported with the JSON path of every problem; JSON Lines are judged line by line. Exit 1 if any message is invalid, 0 if all are valid, 2 if the schema folder or a file cannot be read.
    """
    try:
        catalogue = load_schemas(schemas)
    except CatalogueError as error:
        err.print(f"[red]error:[/] {error}")
        err.print(f"hint: actorschema generate YOUR_APP --out {schemas}")
        raise typer.Exit(2) from None
    results = []
    for source in sources:
        try:
            for label, message, raw in read_messages(source):
                verdict = check_message(catalogue, message, None if raw is None else len(raw))
                results.append((label, verdict))
        except OSError as error:
            err.print(f"[red]error:[/] cannot read {source}: {error.strerror or error}", highlight=False)
            raise typer.Exit(2) from None
    invalid = [(label, verdict.findings) for label, verdict in results if verdict.findings]
    if as_json:
        report = [
            {
                "message": label,
                "valid": not verdict.findings,
                "legacy": verdict.legacy,
                "findings": [vars(f) for f in verdict.findings],
                "offloaded": [{"path": path, "blob_size": size} for path, size in verdict.offloaded],
            }
            for label, verdict in results
        ]
        print(json.dumps({"messages": report, "invalid": len(invalid)}, indent=2))
    else:
        for label, findings in invalid:
            out.print(f"[red]invalid[/] {label}")
            for finding in findings:
                out.print(f"  {finding.path}: {finding.reason}", highlight=False, markup=False)
        for label, verdict in results:
            for path, size in verdict.offloaded:
                # The limit counted the reference; the blob travels through the claim store.
                out.print(f"{label}: {path} is a claim reference to a {size}-byte blob", highlight=False)
        out.print(f"{len(results)} message(s), {len(invalid)} invalid")
    if invalid:
        raise typer.Exit(1)


@app.command()
def asyncapi(
    target: Target,
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the document here instead of to stdout.")
    ] = None,
    title: Annotated[str, typer.Option(help="info.title of the document.")] = "Dramatiq app",
    version: Annotated[
        str, typer.Option("--api-version", help="info.version: your app's API version.")
    ] = "0.0.0",
    as_json: AsJson = False,
) -> None:
    """Write an AsyncAPI 3.0 document: one channel per queue, one message per actor.

    Each message's payload is the actor's message schema (JSON Schema draft 2020-12).
    """
    broker = _broker(target)
    _, failures = _entries(broker, target)  # an actor without a contract is named, not a traceback
    if failures:
        raise typer.Exit(2)  # a document without some of the app's messages would mislead
    document = asyncapi_document(broker, title=title, version=version)
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if out_file is None:
        sys.stdout.write(text)  # the document itself is the JSON output
        return
    out_file.write_text(text)
    channels, messages = sorted(document["channels"]), sorted(document["components"]["messages"])
    if as_json:
        print(json.dumps({"out": str(out_file), "channels": channels, "messages": messages}, indent=2))
    else:
        out.print(f"wrote {out_file}: {len(channels)} channel(s), {len(messages)} message(s)")


class CompatMode(enum.StrEnum):
    backward = "backward"
    forward = "forward"
    full = "full"


@app.command()
def diff(
    old: Annotated[
        str, typer.Argument(help="The schemas before: a folder, or git:REF:path (git:main:schemas).")
    ],
    new: Annotated[str, typer.Argument(help="The schemas after: a folder, or git:REF:path.")],
    mode: Annotated[
        CompatMode,
        typer.Option(
            help="backward: new workers must accept messages already queued (and retried). "
            "forward: old workers must accept what new producers send (rolling deploys). full: both."
        ),
    ] = CompatMode.backward,
    transitive: Annotated[
        bool,
        typer.Option(
            help="Check NEW against every committed version of OLD (a git:REF:path), not just the last.",
            metavar="",
        ),
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Classify every change between two versions of the schemas; exit 1 if one breaks the mode.

    Each change is named by a rule (PARAMETER_ADDED_REQUIRED, TYPE_NARROWED, ENUM_VALUE_REMOVED, CONTENT_CLOSED, SIZE_LIMIT_LOWERED...) and says which directions it breaks, following Confluent Schema Registry's rules for JSON Schema. The default, backward, protects messages already sitting in a queue.
    """
    try:
        after = load_folder(new)
        before = [load_folder(version) for version in history(old)] if transitive else [load_folder(old)]
    except CompatError as error:
        err.print(f"[red]error:[/] {error}", highlight=False)
        err.print("hint: give two folders written by actorschema generate, or git:REF:path")
        raise typer.Exit(2) from None
    try:
        changes = diff_transitive(before, after) if transitive else compat_diff(before[0], after)
    except Exception as error:  # a schema valid as JSON Schema, but not one generate writes
        cause = _one_line(f"{type(error).__name__}: {error}")[:300]
        err.print(f"error: cannot compare {old} with {new}: {cause}", markup=False, highlight=False)
        err.print("hint: compare folders written by actorschema generate, not edited by hand")
        raise typer.Exit(2) from None
    broken = breaking(changes, mode.value)
    if as_json:
        report = [
            {"actor": c.actor, "rule": c.rule, "path": c.path, "detail": c.detail, "breaks": sorted(c.breaks)}
            for c in changes
        ]
        print(json.dumps({"mode": mode.value, "compatible": not broken, "changes": report}, indent=2))
    else:
        for change in changes:
            mark = "[red]✗ breaks[/]" if change in broken else "[green]✓ allowed[/]"
            where = f" {change.path}" if change.path else ""
            directions = ", ".join(sorted(change.breaks)) or "nothing"
            out.print(f"{mark} {change.actor}{where}: [bold]{change.rule}[/] (breaks {directions})")
            out.print(f"    {change.detail}", markup=False, highlight=False)
    if not as_json:
        verdict = f"{len(broken)} change(s) break {mode.value} compatibility" if broken else "compatible"
        out.print(f"{len(changes)} change(s); {verdict}")
    if broken:
        raise typer.Exit(1)


@app.command("dead-letters")
def dead_letters(
    target: Target,
    queues: Queues = None,
    as_json: AsJson = False,
) -> None:
    """List the messages the gateway dead-lettered on the worker, and why.

    Reads the reason kept beside each dead-letter queue, through the app's own
    broker: on Redis the [bold]<queue>.XQ.reasons[/] hash, on RabbitMQ the
    [bold]x-actorschema-reason[/] header (read without consuming the messages).
    Each entry names the actor, the message id and every path with its
    problem. Exit code 1 when there is any, so a monitoring script can alert.
    """
    broker = _broker(target)
    names = queues or sorted({actor.queue_name for actor in broker.actors.values()})
    found: list[dict[str, Any]] = []
    try:
        for queue in names:
            for key, record in sorted(dead_letter_reasons(broker, queue).items()):
                found.append({"id": key, **record})
    except Exception as error:  # a broker that cannot be reached, or does not keep reasons
        err.print(f"[red]error:[/] cannot read dead-letter reasons: {error}")
        err.print("  hint: check the broker the app connects to (its URL, and that it is running)")
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps({"queues": names, "dead_letters": found}, indent=2))
    elif not found:
        out.print(f"no dead letters with a reason in {', '.join(names) or 'any queue'}")
    else:
        table = Table(title="Dead-lettered by actorschema")
        for column in ("queue", "actor", "message id", "why"):
            table.add_column(column)
        for entry in found:
            why = "\n".join(f"{v['path']}: {v['problem']}" for v in entry["violations"])
            table.add_row(entry["queue"], entry["actor"], str(entry["message_id"] or entry["id"]), why)
        out.print(table)
    if found:
        raise typer.Exit(1)


claims_app = typer.Typer(help="The claim check's blob stores.", no_args_is_help=True)
app.add_typer(claims_app, name="claims")


@claims_app.command("gc")
def claims_gc(
    target: Target,
    min_age: Annotated[
        float, typer.Option("--min-age", help="Keep blobs younger than this many seconds (on their way).")
    ] = 3600.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the orphans, delete nothing.")] = False,
    as_json: AsJson = False,
) -> None:
    """Delete the claim check's orphaned blobs: blobs no queued or dead-lettered message references.

    Reads the app's queues without consuming them (on Redis every [bold]*.msgs[/] hash, in one
    transaction; on RabbitMQ with basic_get, put back; refused while a queue has consumers, whose
    prefetched messages it cannot see). Blobs younger than --min-age are kept. Exit 1 when
    --dry-run finds orphans or gc cannot see every queue; 2 when the app has no claim check.
    """
    from ..claims.gc import GcRefused, collect

    broker = _broker(target)
    checks = [m.claim_check for m in broker.middleware if getattr(m, "claim_check", None) is not None]
    if not checks:
        err.print("[red]error:[/] the app's broker has no claim check")
        err.print("  hint: PayloadGateway(claim_check=ClaimCheck(store)) in the app's broker middleware")
        raise typer.Exit(2)
    stores = list({id(s): s for check in checks for s in check.stores.values()}.values())
    try:
        report = collect(broker, stores, min_age=min_age, dry_run=dry_run)
    except GcRefused as refusal:
        err.print(f"[red]refused:[/] {refusal}", highlight=False)
        raise typer.Exit(1) from None
    except Exception as error:  # a broker or store that cannot be reached
        err.print(f"[red]error:[/] {_one_line(f'{type(error).__name__}: {error}')}", highlight=False)
        err.print("  hint: check the broker and the stores the app connects to (URLs, that they run)")
        raise typer.Exit(2) from None
    if as_json:
        print(json.dumps({"dry_run": dry_run, **report.as_json()}, indent=2))
    else:
        verb = "would delete" if dry_run else "deleted"
        out.print(
            f"{report.blobs} blob(s), {report.messages} queued message(s) referencing "
            f"{len(report.referenced)}: {verb} {len(report.orphans)} orphan(s), "
            f"kept {report.kept_young} younger than {min_age:g}s",
            highlight=False,
        )
        for store, key, age in report.orphans:
            out.print(f"  {store}:{key} ({age:.0f}s old)", highlight=False)
    if dry_run and report.orphans:
        raise typer.Exit(1)


class QueueState(enum.StrEnum):
    ready = "ready"
    delayed = "delayed"
    dead_lettered = "dead-lettered"


@app.command("audit")
def audit_queues(
    target: Target,
    queues: Queues = None,
    against: Annotated[
        str | None,
        typer.Option(
            help="Judge by this schema folder (the next release's schemas/, or git:REF:schemas) "
            "instead of the app's current contracts.",
            metavar="SCHEMAS",
        ),
    ] = None,
    states: Annotated[
        list[QueueState] | None,
        typer.Option(
            "--state", help="Read only these (repeat for more); default: all three.", metavar="STATE"
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """See what is queued now: which messages would be refused, and how large they are.

    Reads every message in the app's queues (with --against, the folder's queues too; ready, delayed, dead-lettered) through its own broker, without removing, reordering or changing any, and checks each as the worker would: against the app's current contracts (its gateway's, whatever its mode), or against a schema folder with --against. Reports per actor and queue the count, how many would be refused and why (paths), and the sizes (median, p95, max) against the limit that applies. Redis is read with HSCAN; RabbitMQ, which cannot show a queue without delivering it, hands each message over unacknowledged and takes it back in its place when the command closes its connection (the messages come back flagged redelivered). Exit 1 if any message would be refused, 0 if none, 2 if the queues or the schemas cannot be read.
    """
    from ..audit import STATES, Audit, AuditError, ContractJudge, SchemaJudge, State, broker_messages

    broker = _broker(target)
    try:
        if against is None:
            judge: ContractJudge | SchemaJudge = ContractJudge(broker)
            extra: set[str] = set()
        else:
            judge = SchemaJudge(load_schemas(against))
            extra = {entry.queue for entry in judge.catalogue.actors.values() if entry.queue}
    except (AuditError, CatalogueError) as error:
        err.print(f"error: {_one_line(str(error))}", markup=False, highlight=False)
        if against is not None:
            err.print("hint: give a folder written by actorschema generate, or git:REF:path", markup=False)
        raise typer.Exit(2) from None
    known = {actor.queue_name for actor in broker.actors.values()} | extra
    names = queues or sorted(known)
    if not names:
        err.print(f"error: {target} declares no actors, so it has no queues to read", markup=False)
        err.print("hint: name the module that declares them, or the queues with --queue", markup=False)
        raise typer.Exit(2)
    for queue in sorted(set(names) - known):
        # A typo would read an empty queue and report that nothing would be refused.
        err.print(f"warning: no actor of {target} reads the queue {queue!r}", markup=False, highlight=False)
    chosen: tuple[State, ...] = tuple(s.value for s in states) if states else STATES
    report = Audit(judge)
    progress = _Progress() if sys.stderr.isatty() else None
    for queue in names:
        try:
            report.read(broker_messages(broker, queue, states=chosen), progress)
        except AuditError as error:
            err.print(f"error: {_one_line(str(error))}", markup=False, highlight=False)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            # Not exit 1 ("would be refused"): the audit did not finish. The reader's connection is
            # closed by now, so RabbitMQ has taken back every message it held.
            err.print("interrupted: the audit is incomplete; nothing was changed", markup=False)
            raise typer.Exit(130) from None
        except Exception as error:  # a broker that cannot be reached, a connection dropped mid-read
            cause = _one_line(f"{type(error).__name__}: {error}")[:300]
            err.print(f"error: cannot read queue {queue!r}: {cause}", markup=False, highlight=False)
            err.print("hint: check the broker the app connects to (its URL, and that it is running)")
            raise typer.Exit(2) from None
        finally:
            if progress is not None:
                progress.done()
    groups = report.sorted_groups()
    source = "contracts" if against is None else against
    if as_json:
        document = {
            "against": source,
            "queues": names,
            "states": list(chosen),
            "messages": report.messages,
            "refused": report.refused,
            "groups": [group.as_json() for group in groups],
        }
        print(json.dumps(document, indent=2))
    else:
        for group in groups:
            _print_group(group.as_json())
        judged = "the app's contracts" if against is None else against
        out.print(
            f"{report.messages:,} message(s) in {len(names)} queue(s), checked against {judged}: "
            f"{report.refused:,} would be refused",
            markup=False,
            highlight=False,
        )
    if report.refused:
        raise typer.Exit(1)


class _Progress:
    """One line on a terminal's stderr, rewritten at most five times a second, while the queues are read."""

    def __init__(self) -> None:
        self.count = 0
        self.shown = 0.0

    def __call__(self, queued: Any) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self.shown >= 0.2:
            self.shown = now
            where = f"{queued.queue_name} ({queued.state})"
            sys.stderr.write(f"\r\x1b[Kreading {where}: {self.count:,} message(s)")
            sys.stderr.flush()

    def done(self) -> None:
        sys.stderr.write("\r\x1b[K")
        sys.stderr.flush()


def _print_group(group: dict[str, Any]) -> None:
    """An actor's messages in a queue, as the terminal shows them."""
    states = ", ".join(f"{state} {c['messages']:,}" for state, c in group["by_state"].items())
    mark = "[red]✗[/]" if group["refused"] else "[green]✓[/]"
    known = ""
    if group["actor"] == "?":
        known = " (bodies that name no actor)"
    elif not group["declared"]:
        known = " (not declared here: strict JSON and size only)"
    out.print(
        f"{mark} [bold]{group['queue']}[/] / [bold]{escape(group['actor'])}[/]{known}: "
        f"{group['messages']:,} message(s) ({states}), {group['refused']:,} would be refused",
        highlight=False,
    )
    size = group["size"]
    limit = size["limit"]
    against = (
        "no limit"
        if limit is None
        else f"limit {limit:,} B ({size['limit_source']}), {size['over_limit']:,} over it"
    )
    out.print(
        f"    size: median {size['median']:,} B, p95 {size['p95']:,} B, max {size['max']:,} B; {against}",
        markup=False,
        highlight=False,
    )
    rows = size["histogram"]
    widest = max((row["messages"] for row in rows), default=0)
    for row in rows:
        bar = "█" * math.ceil(24 * row["messages"] / widest) if row["messages"] else ""
        text = f"    {row['from']:>11,} - {row['to']:>11,} B  {bar:<24} {row['messages']:>9,}"
        if limit is not None and row["from"] > limit:
            text += "  (over the limit)"
        elif limit is not None and limit < row["to"]:
            text += f"  (limit {limit:,} B)"
        out.print(text, markup=False, highlight=False)
    for reason in group["reasons"]:
        examples = ", ".join(reason["examples"])
        out.print(
            f"    {reason['path']}: {reason['problem']} ({reason['messages']:,} message(s), e.g. {examples})",
            markup=False,
            highlight=False,
        )
        if reason["hint"]:
            out.print(f"        send instead: {reason['hint']}", markup=False, highlight=False)
    if group["other_reasons"]:
        out.print(f"    ... and {group['other_reasons']:,} more reason(s): see --json", markup=False)


def _entries(broker: Any, target: str) -> tuple[list[ActorEntry], list[ContractError]]:
    """The app's actors, and those whose hints make no contract, each named on one line of stderr.

    A broker without actors is refused (exit 2): a mistyped target (a package for its
    module) must not make ``generate`` empty the schema folder.
    """
    if not broker.actors:
        err.print(f"[red]error:[/] {target} declares no actors on its broker", highlight=False)
        err.print(
            "hint: name the module that declares them (examples.shop, not examples), or module:broker",
            markup=False,
            highlight=False,
        )
        raise typer.Exit(2)
    failures: list[ContractError] = []
    entries = app_actors(broker, failures)
    for error in failures:
        err.print(f"error: {_one_line(str(error))}", markup=False, highlight=False)
    return entries, failures


def _failure_record(error: ContractError) -> dict[str, str]:
    return {"actor": error.actor_name, "problem": _one_line(error.problem), "fix": error.fix}


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _warn_untyped(entries: list[ActorEntry]) -> None:
    """One warning line per actor whose arguments are not typed: the way out, or a hidden signature."""
    for entry in entries:
        contract = entry.contract
        name = contract.actor_name
        if contract.way_out:
            text = f"warning: actor {name!r} uses {contract.way_out} (any strict JSON arguments): {entry.way_out_reason}"
            err.print(text, markup=False, highlight=False)
        if contract.hidden_signature:
            text = (
                f"warning: actor {name!r} takes only (*args, **kwargs), so its arguments are untyped; "
                "if a decorator hid its signature, give its wrapper functools.wraps"
            )
            err.print(text, markup=False, highlight=False)


def _parameter_text(parameter: dict[str, Any]) -> str:
    text = f"{parameter['name']}: {parameter['type']}"
    if parameter["default"] is not None:
        text += f" = {parameter['default']}"
    elif parameter["default_computed"]:
        text += " = <computed at run time>"
    elif parameter["kind"] == "keyword_only" and not parameter["required"]:
        text += " (may be left out)"  # a NotRequired key of **kwargs: Unpack[...]: no default, just absent
    return text


def main() -> None:
    """Entry point of the ``actorschema`` console script.

    Whatever escapes a command ends as one line on stderr and exit 2, never a
    traceback: the commands run in CI and in shells, on any project.
    """
    try:
        app()
    except OSError as error:  # a folder that is a file, a file that cannot be written...
        where = f"{error.filename}: " if error.filename else ""
        print(f"error: {where}{error.strerror or error}", file=sys.stderr)
        sys.exit(2)
    except Exception as error:
        cause = _one_line(f"{type(error).__name__}: {error}")
        if len(cause) > 300:
            cause = cause[:297] + "..."
        print(f"error: {cause}", file=sys.stderr)
        print(
            "hint: this is a bug in actorschema if the input was not the cause: please report it",
            file=sys.stderr,
        )
        sys.exit(2)
