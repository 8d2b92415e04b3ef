"""The schema folder: what ``actorschema generate`` writes, and the one way to read it back.

A schema folder holds one ``<actor_name>.schema.json`` per actor (the whole
Dramatiq message), one ``<actor_name>.result-schema.json`` per actor with a
typed result, and an ``index.json``::

  {"generator": "actorschema", "format": 1, "actors": {"<actor_name>": {
      "queue": ..., "schema": "<actor_name>.schema.json", "sha256": ...,
      "max_message_bytes": ..., "limit_source": ...,
      "positional": [...], "positional_only": N, "var_positional": true,
      "payload_contract": "json",
      "result_schema": "<actor_name>.result-schema.json", "result_sha256": ...}}}

(the last six only when they apply). Every file is written the same way
(sorted keys, two-space indent, a trailing newline), so the same app always
gives byte-identical files.

:func:`load_folder` is the one reader, for ``validate``, ``diff`` and
anything new: a folder on disk or as committed in git (``git:REF:path``),
each file decoded by the worker's strict JSON decoder, each schema
hash-checked against the index and checked as a draft 2020-12 schema. A
folder one reader accepts, every reader accepts.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

# Without types-jsonschema installed this is Any; with it, fully typed.
from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]

from .consume.envelope import decode_strict_json

__all__ = [
    "INDEX",
    "RESULT_SUFFIX",
    "SUFFIX",
    "CatalogueError",
    "Difference",
    "compare",
    "digest",
    "dump",
    "history",
    "index_document",
    "last_good",
    "load_folder",
    "write",
]

#: The index file of a schema folder.
INDEX = "index.json"
#: The suffix of message schema files.
SUFFIX = ".schema.json"
#: The suffix of result schema files. Not ``SUFFIX``: tools that read ``*.schema.json`` as the
#: message schemas keep working, and no actor name (``x.result``) can clash with one.
RESULT_SUFFIX = ".result-schema.json"
#: The version of the index layout ``generate`` writes.
FORMAT = 1


class CatalogueError(Exception):
    """The schema folder cannot be used: a missing or invalid index or schema file, or a git failure."""


@dataclass(frozen=True)
class Difference:
    """How one file on disk differs from what ``generate`` would write.

    Parameters:
      name: The file name, relative to the schema folder.
      kind: ``"missing"``, ``"stale"`` or ``"extra"``.
      diff: A unified diff (empty for extra files).
    """

    name: str
    kind: str
    diff: str


# --------------------------------------------------------------------------- writing


def dump(document: Any) -> str:
    """``document`` as every file of a schema folder is written: sorted keys, two-space indent, a newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def digest(text: str) -> str:
    """The ``sha256`` the index records for a file whose content is ``text``."""
    return hashlib.sha256(text.encode()).hexdigest()


def index_document(actors: dict[str, Any]) -> dict[str, Any]:
    """The content of ``index.json`` for the index entries ``actors`` (actor name -> entry)."""
    return {"generator": "actorschema", "format": FORMAT, "actors": actors}


def write(out: Path, files: dict[str, str], keep: frozenset[str] = frozenset()) -> list[str]:
    """Write ``files`` into ``out``, removing schema files of actors that are gone.

    Parameters:
      out: The schema folder.
      files: File name -> text, as :func:`actorschema.generate.render` returns them.
      keep: Names of files to leave in place although ``files`` lacks them (the last good
        schema of an actor whose contract cannot be built now).

    Returns:
      The names of the files written, changed or removed.
    """
    out.mkdir(parents=True, exist_ok=True)
    touched = []
    for name, text in files.items():
        path = out / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            touched.append(name)
    for path in _schema_files(out):
        if path.name not in files and path.name not in keep:
            path.unlink()
            touched.append(path.name)
    return touched


def compare(out: Path, files: dict[str, str]) -> list[Difference]:
    """How the folder ``out`` differs from ``files``; empty when it is current."""
    found = []
    for name, text in files.items():
        path = out / name
        if not path.exists():
            found.append(Difference(name, "missing", _diff("", text, name)))
        elif (current := path.read_text()) != text:
            found.append(Difference(name, "stale", _diff(current, text, name)))
    if out.is_dir():
        for path in _schema_files(out):
            if path.name not in files:
                found.append(Difference(path.name, "extra", ""))
    return found


def last_good(out: Path, actors: Iterable[str]) -> tuple[dict[str, Any], frozenset[str]]:
    """The index entries and file names, in the folder ``out``, of ``actors`` (those whose contract cannot be built now).

    ``generate`` keeps them as they are, so that an actor broken by a bad edit keeps its
    last good schema. Not :func:`load_folder`: what is read here only decides what is not
    deleted, so a folder that no longer reads strictly keeps what it can rather than nothing.

    Parameters:
      out: The schema folder.
      actors: The names of the actors whose entries to carry over.
    """
    wanted = list(actors)
    if not wanted:
        return {}, frozenset()
    try:
        index = json.loads((out / INDEX).read_text(encoding="utf-8"))
        entries = index["actors"]
    except Exception:  # no folder yet, or no readable index: nothing to keep
        return {}, frozenset()
    kept: dict[str, Any] = {}
    names: set[str] = set()
    for actor in wanted:
        entry = entries.get(actor) if isinstance(entries, dict) else None
        if isinstance(entry, dict):
            kept[actor] = entry
            names.update(str(entry[key]) for key in ("schema", "result_schema") if key in entry)
    return kept, frozenset(names)


def _schema_files(out: Path) -> list[Path]:
    """The message and result schema files in the folder ``out``."""
    return sorted([*out.glob("*" + SUFFIX), *out.glob("*" + RESULT_SUFFIX)])


def _diff(old: str, new: str, name: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        f"{name} (committed)",
        f"{name} (generated)",
    )
    return "".join(lines)


# --------------------------------------------------------------------------- reading


def load_folder(source: str | Path, *, cwd: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """Read a schema folder written by ``actorschema generate``, strictly.

    Every file is decoded by the worker's strict JSON decoder (no duplicate keys,
    no ``NaN``, UTF-8 only); every schema must match the ``sha256`` the index
    records for it (when it records one), be a JSON object and a valid draft
    2020-12 schema; file names are plain names inside the folder; ``positional``
    is a list of names and ``positional_only`` a count.

    Parameters:
      source: A folder path, or ``git:REF:path`` to read that folder as it is at
        the git revision ``REF`` of the repository of the working directory
        (``git:main:schemas``, ``git:v1.2.0:app/schemas``). A relative ``path`` is
        relative to the working directory, as for a plain folder.
      cwd: The working directory (default: the process's).

    Returns:
      Actor name -> the actor's entry of ``index.json`` (``queue``,
      ``max_message_bytes``, ``limit_source``, ``sha256``...), with ``schema``
      replaced by the parsed schema and the file name kept in ``schema_file``,
      and ``result_schema`` (for an actor that has one) by its parsed result schema.

    Raises:
      CatalogueError: When the index or a schema is missing, unreadable, not strict
        JSON, not a valid schema, or not the file the index hashed (edited or stale).
    """
    source = str(source)
    read = _reader(source, Path(cwd) if cwd is not None else Path.cwd())
    index = _decoded(read(INDEX), f"{source}: {INDEX}")
    actors = index.get("actors") if isinstance(index, dict) else None
    if not isinstance(actors, dict):
        raise CatalogueError(
            f"{source}: {INDEX} has no 'actors' object: not written by actorschema generate?"
        )
    loaded: dict[str, dict[str, Any]] = {}
    for name in sorted(actors):
        entry = actors[name]
        where = f"{source}: {INDEX}: actor {name!r}"
        if not isinstance(entry, dict):
            raise CatalogueError(f"{where} is not an object")
        _check_entry(entry, where)
        loaded[name] = {
            **entry,
            "schema_file": entry["schema"],
            "schema": _schema(read, source, entry["schema"], entry.get("sha256")),
        }
        if "result_schema" in entry:
            result = _schema(read, source, entry["result_schema"], entry.get("result_sha256"))
            loaded[name]["result_schema"] = result
    return loaded


def history(source: str, *, cwd: str | Path | None = None) -> list[str]:
    """Every committed version of a schema folder, oldest first, as ``git:COMMIT:path`` sources.

    Parameters:
      source: ``git:REF:path``: the versions are the commits reachable from ``REF``
        that changed the folder's ``index.json`` (every generate that changed a
        schema changes its hash there).
      cwd: The working directory (default: the process's).

    Raises:
      CatalogueError: For a source that is not ``git:REF:path``, or when git fails.
    """
    if not source.startswith("git:"):
        raise CatalogueError(f"{source!r}: the versions of a folder come from git: give git:REF:path")
    ref, folder = _git_source(source)
    index = str(PurePosixPath(folder or ".") / INDEX)
    base = Path(cwd) if cwd is not None else Path.cwd()
    done = _git(["log", "--format=%H", "--reverse", ref, "--", index], base)
    if done.returncode != 0:
        raise CatalogueError(f"{source}: git log failed: {done.stderr.decode(errors='replace').strip()}")
    commits = done.stdout.decode().split()
    if not commits:
        raise CatalogueError(f"{source}: no commit of {ref} has {index}")
    return [f"git:{commit}:{folder}" for commit in commits]


def _reader(source: str, base: Path) -> Callable[[str], bytes]:
    """How to read a file of the folder ``source`` by name: from disk, or from a git revision."""
    if source.startswith("git:"):
        ref, folder = _git_source(source)

        def from_git(name: str) -> bytes:
            path = PurePosixPath(folder or ".") / name
            spec = str(path) if path.is_absolute() or str(path).startswith(("./", "../")) else f"./{path}"
            done = _git(["show", f"{ref}:{spec}"], base)
            if done.returncode != 0:
                message = done.stderr.decode(errors="replace").strip()
                raise CatalogueError(f"git:{ref}:{folder}: cannot read {name}: {message}")
            return done.stdout

        return from_git
    root = base / source

    def from_disk(name: str) -> bytes:
        try:
            return (root / name).read_bytes()
        except OSError as error:
            raise CatalogueError(f"{source}: cannot read {name}: {error.strerror or error}") from None

    return from_disk


def _git_source(source: str) -> tuple[str, str]:
    """``(REF, path)`` of a ``git:REF:path`` source."""
    ref, separator, folder = source[len("git:") :].partition(":")
    if not separator or not ref:
        raise CatalogueError(f"{source!r}: expected git:REF:path, e.g. git:main:schemas")
    return ref, folder


def _git(arguments: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *arguments], cwd=cwd, capture_output=True, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise CatalogueError(f"cannot run git: {error}") from None


def _check_entry(entry: dict[str, Any], where: str) -> None:
    """The index entry's own fields are what ``generate`` writes (the schemas are checked as they are read)."""
    for key in ("schema", "result_schema"):
        if key in entry and not _plain_name(entry[key]):
            raise CatalogueError(f"{where}: {key!r} names no file of the folder")
    if "schema" not in entry:
        raise CatalogueError(f"{where} has no schema file")
    if "queue" in entry and not isinstance(entry["queue"], str):
        raise CatalogueError(f"{where}: 'queue' is not a queue name")
    limit = entry.get("max_message_bytes")
    if limit is not None and (type(limit) is not int or limit < 0):
        raise CatalogueError(f"{where}: 'max_message_bytes' is not a size in bytes nor null")
    positional = entry.get("positional", [])
    if not (isinstance(positional, list) and all(isinstance(p, str) for p in positional)):
        raise CatalogueError(f"{where}: 'positional' is not a list of names")
    count = entry.get("positional_only", 0)
    if type(count) is not int or count < 0:
        raise CatalogueError(f"{where}: 'positional_only' is not a count")


def _plain_name(name: Any) -> bool:
    return isinstance(name, str) and bool(name) and PurePosixPath(name).name == name and "\\" not in name


def _schema(read: Callable[[str], bytes], source: str, file_name: str, expected: Any) -> dict[str, Any]:
    data = read(file_name)
    found = hashlib.sha256(data).hexdigest()
    if expected is not None and found != expected:
        raise CatalogueError(
            f"{source}: {file_name} does not match its sha256 in {INDEX} "
            f"(its sha256 is {found}, the index says {expected}; edited by hand? "
            "hint: regenerate the folder with actorschema generate)"
        )
    schema = _decoded(data, f"{source}: {file_name}")
    if not isinstance(schema, dict):
        raise CatalogueError(f"{source}: {file_name} is not a JSON object")
    try:
        Draft202012Validator.check_schema(schema)
    except Exception as error:
        cause = " ".join(str(getattr(error, "message", error)).split())[:200]
        raise CatalogueError(f"{source}: {file_name}: not a valid draft 2020-12 schema: {cause}") from None
    return schema


def _decoded(data: bytes, what: str) -> Any:
    try:
        return decode_strict_json(data)
    except ValueError as error:
        raise CatalogueError(f"{what} is not strict JSON: {error}") from None
