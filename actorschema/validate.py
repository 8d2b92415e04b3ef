"""Check Dramatiq messages against a schema folder, without the app: the consumer's side.

``load_schemas`` reads what ``actorschema generate`` wrote (``index.json`` and
one schema per actor) and compiles one draft 2020-12 validator per actor,
with format assertion on: the worker's own format checker
(:data:`actorschema.formats.FORMAT_CHECKER`), so ``validate`` and the worker
apply one rule to every ``date-time``, ``uuid``... even in a schema written
before the patterns were. ``read_messages`` reads messages from a JSON file
(one message or a list of them), a JSON Lines file, or stdin (``-``).
``validate_message`` returns what is wrong with one message: each problem as a
:class:`Finding` with a JSON path (``$.kwargs.order.items[0].quantity``) and
a reason. Invalid JSON, a message that is not an object, an unknown actor and
a message over its actor's ``max_message_bytes`` are findings too, never
exceptions.

Sizes are those of the bytes as given: a JSON Lines line without its line
break, a one-message file without the whitespace around it. Messages read
from inside a JSON array have no bytes of their own; they are measured as the
gateway encodes them (compact UTF-8 JSON).
"""

from __future__ import annotations

import errno
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import msgspec

# Without types-jsonschema installed these are Any; with it, fully typed.
from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]
from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped, unused-ignore]

from .catalogue import CatalogueError, load_folder
from .consume.envelope import decode_strict_json, received_size
from .formats import FORMAT_CHECKER, WHAT_TO_SEND, form_of, without_pattern_twins

__all__ = [
    "Catalogue",
    "CatalogueError",
    "Finding",
    "SchemaEntry",
    "Unparsable",
    "Verdict",
    "check_message",
    "load_schemas",
    "read_messages",
    "validate_message",
]


@dataclass(frozen=True)
class Finding:
    """One problem with one message.

    Parameters:
      path: Where, as a JSON path from the message's root (``$`` for the message itself).
      reason: What is wrong, in one line.
    """

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class Unparsable:
    """What :func:`read_messages` yields in place of a message that is not valid JSON.

    Parameters:
      reason: The parser's complaint, with the position.
    """

    reason: str


@dataclass(frozen=True)
class SchemaEntry:
    """One actor of a schema folder.

    Parameters:
      actor: The actor's name.
      queue: Its queue.
      schema: Its message schema, as read.
      validator: The compiled validator (format assertion on).
      max_message_bytes: Its size limit, or None for none.
      limit_source: Where the limit comes from (``actor``, ``queue`` or ``global``).
      positional: The names of the parameters that can be passed positionally, in order
        (the index's ``positional``), to bind a message in the legacy positional form.
      positional_only: How many of them are positional-only (they stay in ``args``).
      var_positional: The actor takes ``*args``.
    """

    actor: str
    queue: str
    schema: dict[str, Any]
    validator: Draft202012Validator = field(repr=False)
    max_message_bytes: int | None
    limit_source: str
    positional: tuple[str, ...] = ()
    positional_only: int = 0
    var_positional: bool = False


@dataclass(frozen=True)
class Verdict:
    """What :func:`check_message` says about one message.

    Parameters:
      findings: Everything wrong with it; empty when it is valid.
      legacy: It carries named parameters positionally in ``args`` (the legacy form,
        as ``actor.message(...).asdict()`` writes it), which the worker binds to the
        signature first and so does this check.
    """

    findings: list[Finding]
    legacy: bool = False


@dataclass(frozen=True)
class Catalogue:
    """A schema folder, loaded: actor name -> :class:`SchemaEntry`.

    Parameters:
      folder: Where it was read from.
      actors: The actors, by name.
    """

    folder: Path
    actors: dict[str, SchemaEntry]


def load_schemas(folder: str | Path) -> Catalogue:
    """Read the schema folder ``folder`` and compile a validator per actor.

    Parameters:
      folder: The folder, or ``git:REF:path`` for the folder as committed at ``REF``
        (read by :func:`actorschema.catalogue.load_folder`, as strictly as ``diff`` reads it).

    Raises:
      CatalogueError: The index or a schema is missing, not strict JSON, not a valid
        draft 2020-12 schema, or not the file the index hashed (edited or stale).
    """
    actors = {
        name: SchemaEntry(
            actor=name,
            queue=str(entry.get("queue", "")),
            schema=entry["schema"],
            validator=Draft202012Validator(entry["schema"], format_checker=FORMAT_CHECKER),
            max_message_bytes=entry.get("max_message_bytes"),
            limit_source=str(entry.get("limit_source", "")),
            positional=tuple(entry.get("positional", ())),
            positional_only=entry.get("positional_only", 0),
            var_positional=entry.get("var_positional") is True,
        )
        for name, entry in load_folder(folder).items()
    }
    return Catalogue(Path(folder), actors)


def validate_message(catalogue: Catalogue, message: object, encoded_size: int | None) -> list[Finding]:
    """Everything wrong with ``message``; an empty list when it is a valid message.

    Parameters:
      catalogue: The loaded schema folder.
      message: The decoded message (or an :class:`Unparsable` from :func:`read_messages`).
      encoded_size: The size of its encoded bytes; None to measure it as the gateway
        encodes it (compact UTF-8 JSON).
    """
    return check_message(catalogue, message, encoded_size).findings


def check_message(catalogue: Catalogue, message: object, encoded_size: int | None) -> Verdict:
    """The verdict the worker reaches on ``message``: what is wrong with it, and whether it is legacy.

    The worker's rules, in its order: strict JSON (the one decoder saw to it,
    nesting depth included), the legacy positional form bound to the
    signature, the actor's schema, the size counted as the worker counts it
    (the options Dramatiq writes itself left out).

    Parameters:
      catalogue: The loaded schema folder.
      message: The decoded message (or an :class:`Unparsable` from :func:`read_messages`).
      encoded_size: The size of its bytes as received; None to measure it as the gateway
        encodes it (compact UTF-8 JSON).
    """
    if isinstance(message, Unparsable):
        return Verdict([Finding("$", f"invalid JSON: {message.reason}")])
    if not isinstance(message, dict):
        return Verdict([Finding("$", f"a Dramatiq message is a JSON object, got {_json_type(message)}")])
    actor = message.get("actor_name")
    if not isinstance(actor, str):
        reason = "missing" if "actor_name" not in message else f"must be a string, got {_json_type(actor)}"
        return Verdict([Finding("$.actor_name", f"{reason}: cannot tell which actor's schema applies")])
    entry = catalogue.actors.get(actor)
    if entry is None:
        known = ", ".join(sorted(catalogue.actors)) or "none"
        return Verdict([Finding("$.actor_name", f"unknown actor {actor!r} (the schema folder has: {known})")])
    canonical, legacy, findings = _bind(entry, message)
    try:
        errors = without_pattern_twins(list(entry.validator.iter_errors(canonical)))
    except RecursionError:
        errors = []
        findings.append(Finding("$", "nested too deeply to check"))
    findings += [Finding(_json_path(error.absolute_path), _reason(error)) for error in errors]
    findings.sort(key=lambda finding: (finding.path, finding.reason))
    limit = entry.max_message_bytes
    if limit is not None:
        size = encoded_size if encoded_size is not None else len(msgspec.json.encode(message))
        size = received_size(size, message.get("options"))
        if size > limit:
            findings.append(
                Finding(
                    "$",
                    f"the message is {size} bytes, over the {limit}-byte limit of actor {actor!r} "
                    f"({entry.limit_source} limit)",
                )
            )
    return Verdict(findings, legacy)


def _bind(entry: SchemaEntry, message: dict[str, Any]) -> tuple[dict[str, Any], bool, list[Finding]]:
    """The message in canonical form, as the worker binds it (``ActorContract.bind``), and whether it was legacy.

    Named parameters sent positionally move to ``kwargs``; positional-only ones and
    ``*args`` values stay in ``args``. Anything the binding cannot place is left where
    it is, for the schema to report.
    """
    args, kwargs = message.get("args"), message.get("kwargs")
    positional = entry.positional
    if type(args) is not list or type(kwargs) is not dict or len(args) <= entry.positional_only:
        return message, False, []
    count = len(args)
    if count > len(positional):
        # Too many for the signature (the schema says so), or *args values pinning every positional.
        return message, False, []
    findings = []
    moved = {}
    for index, name in enumerate(positional[:count]):
        if index < entry.positional_only:
            continue
        if name in kwargs:
            problem = f"got multiple values for {name!r} (positional in args[{index}] and keyword)"
            findings.append(Finding(_json_path(("kwargs", name)), problem))
        moved[name] = args[index]
    return {**message, "args": args[: entry.positional_only], "kwargs": {**moved, **kwargs}}, True, findings


def read_messages(source: str | Path | IO[bytes]) -> Iterator[tuple[str, object, bytes | None]]:
    """Yield ``(label, message, raw_bytes)`` for every message in ``source``.

    ``source`` is a path, ``"-"`` for stdin, or a binary stream. Its content is
    one JSON document (a message, or an array of messages) or JSON Lines (one
    message per line; blank lines are skipped): a file named ``.jsonl`` or
    ``.ndjson``, or one most of whose lines are messages on their own, so that
    one broken line, the first included, is one finding among the others. ``label`` names where the
    message came from (``orders.jsonl:3``, ``batch.json[2]``); ``raw_bytes``
    are the message's own bytes, or None inside an array. A message that is
    not valid JSON is yielded as an :class:`Unparsable`.

    A ``.jsonl`` or ``.ndjson`` file is read a line at a time, in bounded memory
    whatever its size; any other file must fit in :data:`MAX_DOCUMENT_BYTES`.

    Raises:
      OSError: The file cannot be read, or is a whole document over :data:`MAX_DOCUMENT_BYTES`.
    """
    if (
        isinstance(source, (str, Path))
        and str(source) != "-"
        and Path(source).suffix.lower() in _LINES_SUFFIXES
    ):
        yield from _read_lines(str(source))
        return
    if isinstance(source, (str, Path)) and str(source) != "-":
        size = Path(source).stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise OSError(
                errno.EFBIG,
                f"{size:,} bytes is too large for one JSON document (at most {MAX_DOCUMENT_BYTES:,}); "
                "write one message per line in a .jsonl file, which is read a line at a time",
            )
    if isinstance(source, (str, Path)) and str(source) == "-":
        name, data = "<stdin>", sys.stdin.buffer.read()
    elif isinstance(source, (str, Path)):
        name, data = str(source), Path(source).read_bytes()
    else:
        name, data = str(getattr(source, "name", "<stream>")), source.read()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    body = data.strip(_WHITESPACE)
    if not body:
        return
    whole = _parse(body)
    if not isinstance(whole, Unparsable):
        if isinstance(whole, list):
            for position, item in enumerate(whole):
                yield f"{name}[{position}]", item, None
        else:
            yield name, whole, body
        return
    parsed = [
        (number, raw, _parse(raw))
        for number, line in enumerate(data.split(b"\n"), start=1)
        if (raw := line.rstrip(b"\r")).strip(_WHITESPACE)
    ]
    as_lines = Path(name).suffix.lower() in _LINES_SUFFIXES or (
        len(parsed) >= 2 and 2 * sum(isinstance(m, dict) for _, _, m in parsed) > len(parsed)
    )
    if not as_lines:
        yield name, whole, body  # one broken document (a pretty-printed one spans lines)
        return
    # JSON Lines: each line is judged alone, so a broken line is one finding and the rest are still checked.
    for number, raw, message in parsed:
        yield f"{name}:{number}", message, raw


_LINES_SUFFIXES = frozenset((".jsonl", ".ndjson", ".jsonlines"))

#: The largest file read as one JSON document (a message, or an array of them).
MAX_DOCUMENT_BYTES = 256 * 1024 * 1024


def _read_lines(path: str) -> Iterator[tuple[str, object, bytes | None]]:
    with open(path, "rb") as file:
        for number, line in enumerate(file, start=1):
            raw = line.rstrip(b"\n").rstrip(b"\r")
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            if raw.strip(_WHITESPACE):
                yield f"{path}:{number}", _parse(raw), raw


_WHITESPACE = b" \t\r\n"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _parse(data: bytes) -> object:
    """The worker's strict decoder (:func:`~actorschema.consume.envelope.decode_strict_json`); an :class:`Unparsable` otherwise."""
    try:
        return decode_strict_json(data)
    except ValueError as error:
        return Unparsable(str(error))


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _json_path(parts: Any) -> str:
    path = "$"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _IDENTIFIER.match(part):
            path += f".{part}"
        else:
            path += f"[{json.dumps(part, ensure_ascii=False)}]"
    return path


def _reason(error: ValidationError) -> str:
    """jsonschema's message, with the closest branch's complaint for a failed anyOf/oneOf."""
    reason = str(error.message)
    form = form_of(error.schema) if error.validator in ("format", "pattern") else None
    if form is not None:
        reason = f"{error.instance!r} is not a {form!r}; send {WHAT_TO_SEND[form]}"
    if error.validator in ("anyOf", "oneOf") and error.context:
        reasons = sorted({sub.message for sub in error.context})
        reason += " (" + "; ".join(reasons) + ")"
    if len(reason) > 300:
        reason = reason[:297] + "..."
    return reason
