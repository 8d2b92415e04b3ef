"""Compatibility of two schema folders: which changes strand queued messages or break rolling deploys.

``actorschema generate`` writes one JSON Schema per actor (the whole
Dramatiq message) and an ``index.json``. This module compares two such
folders, actor by actor and keyword by keyword, and reports every change
with a stable rule id (in the spirit of ``buf breaking``) and the
directions it breaks:

* **backward**: new workers must accept every message valid under the OLD
  schemas. Messages already queued, delayed or being retried are old data
  read by new code, so this is the mode that matters most for queues.
* **forward**: old workers must accept every message valid under the NEW
  schemas, as during a rolling deploy where new producers run beside old
  workers.
* **full**: both.

The rules follow Confluent Schema Registry's JSON Schema rules. Content
models matter: ``kwargs`` is *closed* (``additionalProperties: false``)
unless the actor takes ``**kwargs``, so adding an optional parameter is
backward-safe but breaks forward; pydantic models are *open* by default
(no ``additionalProperties``), so adding a field to one breaks backward
(an old message may carry that key with any value) and removing one breaks
forward. Widening a type breaks forward only, narrowing backward only, and
anything this module cannot classify precisely is reported as
``TYPE_CHANGED`` breaking both directions: never a silent "compatible".

``oneOf`` is read as ``anyOf`` (pydantic's discriminated unions have
disjoint branches), and a union branch counts as kept only when a single
branch of the other side accepts all of it, which may report a break that
a union of several branches would in fact absorb (conservative, never the
other way round).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

# Without types-jsonschema installed these are Any; with it, fully typed.
from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]
from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped, unused-ignore]

from .catalogue import CatalogueError, history, load_folder
from .defaults import COMPUTED

#: A schema folder cannot be read, or its index does not match its files (the catalogue's error).
CompatError = CatalogueError

__all__ = [
    "RULES",
    "Change",
    "CompatError",
    "Mode",
    "breaking",
    "diff",
    "diff_transitive",
    "history",
    "load_folder",
]

Mode = Literal["backward", "forward", "full"]

NONE: frozenset[str] = frozenset()
BACKWARD: frozenset[str] = frozenset({"backward"})
FORWARD: frozenset[str] = frozenset({"forward"})
BOTH: frozenset[str] = frozenset({"backward", "forward"})

#: Every rule id this module reports, with what it means. The directions a
#: change breaks are on each :class:`Change`: for some rules they depend on
#: the context (an open or a closed object, a required or optional field).
RULES: dict[str, str] = {
    "ACTOR_ADDED": "A new actor. Breaks nothing.",
    "ACTOR_REMOVED": "An actor is gone: messages already queued for it have no worker. Breaks backward.",
    "QUEUE_CHANGED": "The actor's queue changed: queued messages sit where no new worker reads, "
    "new messages go where no old worker reads. Breaks both.",
    "SIZE_LIMIT_LOWERED": "The size limit is lower (or now set): queued messages may exceed it. "
    "Breaks backward.",
    "SIZE_LIMIT_RAISED": "The size limit is higher (or now unset): new messages may exceed the old "
    "limit. Breaks forward.",
    "PARAMETER_ADDED_REQUIRED": "A new parameter without a default. Breaks backward (queued messages "
    "lack it) and forward on a closed kwargs (old workers do not take it).",
    "PARAMETER_ADDED_OPTIONAL": "A new parameter with a default. Breaks forward on a closed kwargs.",
    "PARAMETER_REMOVED": "A parameter is gone. Breaks backward on a closed kwargs (queued messages may "
    "carry it), forward when it was required.",
    "FIELD_ADDED_REQUIRED": "A new required property of a nested object (model). Breaks backward; "
    "forward too when the object was closed.",
    "FIELD_ADDED_OPTIONAL": "A new optional property of a nested object. Breaks backward when the "
    "object is open (old data may carry that key with any value), forward when it was closed.",
    "FIELD_REMOVED": "A property of a nested object is gone. Breaks backward when the object is closed, "
    "forward when it is open or the property was required.",
    "REQUIRED_ADDED": "A property that was optional is required. Breaks backward.",
    "REQUIRED_REMOVED": "A property that was required is optional. Breaks forward.",
    "TYPE_CHANGED": "The type changed (or the change cannot be classified precisely). Breaks both.",
    "TYPE_NARROWED": "Fewer values are accepted (a type or union branch dropped, a type restricted to "
    "listed values). Breaks backward.",
    "TYPE_WIDENED": "More values are accepted (a type or union branch added). Breaks forward.",
    "ENUM_VALUE_ADDED": "A listed value (Literal, Enum, const) was added. Breaks forward.",
    "ENUM_VALUE_REMOVED": "A listed value was removed. Breaks backward.",
    "CONSTRAINT_TIGHTENED": "A bound, length, pattern, format or item count is stricter. Breaks backward.",
    "CONSTRAINT_LOOSENED": "A bound, length, pattern, format or item count is looser. Breaks forward.",
    "CONSTRAINT_CHANGED": "A constraint changed in a way that is neither stricter nor looser. Breaks both.",
    "CONTENT_CLOSED": "An object no longer accepts undeclared properties (**kwargs removed, "
    "extra='forbid'). Breaks backward.",
    "CONTENT_OPENED": "An object now accepts undeclared properties (**kwargs added, extra='forbid' "
    "dropped). Breaks forward.",
    "DEFAULT_CHANGED": "A default value changed: messages that omit the value behave differently. "
    "Breaks no schema.",
    "RESULT_TYPED": "The actor's results now have a schema (a return annotation was added): results "
    "stored or piped before may not fit it. Breaks backward.",
    "RESULT_UNTYPED": "The actor's results no longer have a schema: readers written for the old "
    "result type may get any JSON. Breaks forward.",
}


@dataclass(frozen=True)
class Change:
    """One difference between two versions of an actor's message schema.

    Parameters:
      actor: The actor's name.
      rule: A stable rule id, a key of :data:`RULES`.
      path: Where in the message the change is, e.g. ``kwargs.order.items[].quantity``
        (``[]`` is any item of an array, ``[0]`` a position, ``*`` any undeclared property);
        empty for changes to the actor itself.
      detail: A sentence for humans saying what changed.
      breaks: The directions it breaks: a subset of ``{"backward", "forward"}``.
    """

    actor: str
    rule: str
    path: str
    detail: str
    breaks: frozenset[str]

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        verdict = "breaks " + " and ".join(sorted(self.breaks)) if self.breaks else "compatible"
        return f"{self.actor}: {where}{self.rule}: {self.detail} ({verdict})"


# --------------------------------------------------------------------------- the API


def diff(old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]) -> list[Change]:
    """Every change from the folder ``old`` to the folder ``new`` (as :func:`load_folder` returns them).

    Changes that break nothing (an added actor, a new default) are included:
    filter with :func:`breaking`. The order is stable: actors by name, then
    the order of the schemas.
    """
    changes: list[Change] = []
    for actor in sorted(old.keys() | new.keys()):
        if actor not in new:
            detail = "the actor is gone: messages already queued for it have no worker"
            changes.append(Change(actor, "ACTOR_REMOVED", "", detail, BACKWARD))
        elif actor not in old:
            changes.append(Change(actor, "ACTOR_ADDED", "", "a new actor", NONE))
        else:
            found = _diff_actor(old[actor], new[actor])
            changes.extend(Change(actor, f.rule, f.path, f.detail, f.breaks) for f in found)
    return changes


def breaking(changes: Iterable[Change], mode: Mode) -> list[Change]:
    """The changes that break ``mode``: ``"backward"``, ``"forward"`` or ``"full"`` (either)."""
    wanted = BOTH if mode == "full" else frozenset({mode})
    if not wanted <= BOTH:
        raise ValueError(f"mode must be 'backward', 'forward' or 'full', not {mode!r}")
    return [change for change in changes if change.breaks & wanted]


def diff_transitive(
    history: Sequence[Mapping[str, Mapping[str, Any]]], new: Mapping[str, Mapping[str, Any]]
) -> list[Change]:
    """The changes from every earlier version in ``history`` (oldest first) to ``new``.

    This is what a queue needs: a message enqueued under any earlier version
    may still be waiting (delayed, retried) when the newest workers run. A
    change found against several versions is reported once.
    """
    seen: set[Change] = set()
    changes: list[Change] = []
    for old in history:
        for change in diff(old, new):
            if change not in seen:
                seen.add(change)
                changes.append(change)
    return changes


# --------------------------------------------------------------------------- one actor


@dataclass(frozen=True)
class _Found:
    rule: str
    path: str
    detail: str
    breaks: frozenset[str]


def _diff_actor(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[_Found]:
    found: list[_Found] = []
    old_schema, new_schema = old["schema"], new["schema"]
    old_queue, new_queue = _queue(old), _queue(new)
    if old_queue != new_queue:
        detail = (
            f"queue {old_queue!r} -> {new_queue!r}: queued messages wait where new workers do not read, "
            "new messages go where old workers do not read"
        )
        found.append(_Found("QUEUE_CHANGED", "queue_name", detail, BOTH))
    found.extend(_size_change(old.get("max_message_bytes"), new.get("max_message_bytes")))
    comparer = _Comparer(old_schema, new_schema)
    found.extend(comparer.compare(_envelope(old_schema), _envelope(new_schema), ""))
    found.extend(_result_change(old.get("result_schema"), new.get("result_schema")))
    return _merged(found)


def _result_change(old: Any, new: Any) -> list[_Found]:
    """Results travel too (results backends, the next pipeline step): results already stored or
    piped are old data that new code reads, so the directions are those of messages."""
    if old is None and new is None:
        return []
    if old is None:
        detail = "the results now have a schema: results stored or piped before may not fit it"
        return [_Found("RESULT_TYPED", "result", detail, BACKWARD)]
    if new is None:
        detail = "the results no longer have a schema: readers of the old result type may get any JSON"
        return [_Found("RESULT_UNTYPED", "result", detail, FORWARD)]
    return _Comparer(old, new).compare(old, new, "result")


def _queue(entry: Mapping[str, Any]) -> Any:
    if "queue" in entry:
        return entry["queue"]
    names = entry["schema"].get("properties", {}).get("queue_name", {}).get("enum", [None])
    return names[0]


def _envelope(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The message schema without what the queue decides (compared through the index)."""
    envelope = {k: v for k, v in schema.items() if k not in ("if", "then", "else")}
    properties = dict(envelope.get("properties", {}))
    properties.pop("queue_name", None)
    envelope["properties"] = properties
    return envelope


def _size_change(old: Any, new: Any) -> list[_Found]:
    def shown(limit: Any) -> str:
        return "no limit" if limit is None else f"{limit} bytes"

    if old == new:
        return []
    if new is not None and (old is None or new < old):
        detail = f"size limit {shown(old)} -> {shown(new)}: queued messages may be larger than the new limit"
        return [_Found("SIZE_LIMIT_LOWERED", "", detail, BACKWARD)]
    detail = f"size limit {shown(old)} -> {shown(new)}: new messages may be larger than old workers accept"
    return [_Found("SIZE_LIMIT_RAISED", "", detail, FORWARD)]


def _merged(found: Iterable[_Found]) -> list[_Found]:
    """One entry per (rule, path, detail), breaking every direction any of its duplicates breaks."""
    merged: dict[tuple[str, str, str], frozenset[str]] = {}
    for item in found:
        key = (item.rule, item.path, item.detail)
        merged[key] = merged.get(key, NONE) | item.breaks
    return [_Found(rule, path, detail, breaks) for (rule, path, detail), breaks in merged.items()]


# --------------------------------------------------------------------------- schemas


class _Unclassifiable(Exception):
    """A construct this module cannot compare precisely: the change is reported as TYPE_CHANGED."""


_TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")
_NUMERIC = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"})
_BY_TYPE: dict[str, frozenset[str]] = {
    "null": frozenset(),
    "boolean": frozenset(),
    "integer": _NUMERIC,
    "number": _NUMERIC,
    "string": frozenset({"minLength", "maxLength", "pattern", "format"}),
    "array": frozenset(
        {
            "items",
            "prefixItems",
            "minItems",
            "maxItems",
            "uniqueItems",
            "contains",
            "minContains",
            "maxContains",
            "unevaluatedItems",
            "additionalItems",
        }
    ),
    "object": frozenset(
        {
            "properties",
            "required",
            "additionalProperties",
            "patternProperties",
            "minProperties",
            "maxProperties",
            "propertyNames",
            "dependentRequired",
            "dependentSchemas",
            "dependencies",
            "unevaluatedProperties",
        }
    ),
}
#: Keywords compared only for equality: any change is TYPE_CHANGED (both directions).
_OPAQUE = frozenset(
    {
        "not",
        "if",
        "then",
        "else",
        "contains",
        "minContains",
        "maxContains",
        "unevaluatedItems",
        "additionalItems",
        "patternProperties",
        "propertyNames",
        "dependentRequired",
        "dependentSchemas",
        "dependencies",
        "unevaluatedProperties",
    }
)
_ANY_TYPE = frozenset({"not", "if", "then", "else"})
_STRUCTURAL = frozenset({"type", "enum", "const", "$ref", "allOf", "anyOf", "oneOf"})
#: Every keyword that constrains values; anything else (title, default, format
#: annotations such as contentEncoding, x-...) is an annotation and ignored.
_ASSERTIONS = frozenset().union(*_BY_TYPE.values(), _ANY_TYPE, _STRUCTURAL)


@dataclass(frozen=True)
class _Branch:
    """One alternative of a schema, for one JSON type.

    Parameters:
      type: The JSON type (``integer`` stands for whole numbers only).
      schema: The keywords that apply to values of that type, ``type`` included.
      enum: The values allowed, when the schema lists them (enum, const).
    """

    type: str
    schema: dict[str, Any]
    enum: tuple[Any, ...] | None


def _family(kind: str) -> str:
    return "numeric" if kind in ("integer", "number") else kind


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _same(a: Any, b: Any) -> bool:
    return _canon(a) == _canon(b)


def _is_type(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, int | float)
    return isinstance(value, {"string": str, "array": list, "object": dict}[kind])


def _resolve(root: Mapping[str, Any], ref: str) -> Any:
    if not ref.startswith("#"):
        raise _Unclassifiable(f"cannot follow the non-local $ref {ref!r}")
    node: Any = root
    for token in ref[1:].split("/")[1:] if ref != "#" else []:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise _Unclassifiable(f"$ref {ref!r} points to nothing")
    return node


def _merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Both schemas at once (allOf, $ref with siblings, a union branch with its parent's keywords)."""
    merged = dict(a)
    for key, value in b.items():
        if key not in merged or _same(merged[key], value):
            merged[key] = value
        elif key == "type":
            left = [merged[key]] if isinstance(merged[key], str) else merged[key]
            right = [value] if isinstance(value, str) else value
            both = [t for t in left if t in right or (t == "integer" and "number" in right)]
            both += [t for t in right if t == "integer" and "number" in left and t not in both]
            merged[key] = both
        elif key == "required":
            merged[key] = list(dict.fromkeys([*merged[key], *value]))
        else:
            raise _Unclassifiable(f"two schemas both set {key!r} differently (allOf, or $ref with siblings)")
    return merged


def _flatten(node: Any, root: Mapping[str, Any], depth: int = 0) -> dict[str, Any] | bool:
    """``node`` without annotations, with its own ``$ref`` and ``allOf`` merged in; False accepts nothing."""
    if depth > 64:
        raise _Unclassifiable("$ref or allOf nested too deep (a cycle?)")
    if isinstance(node, bool):
        return node
    if not isinstance(node, dict):
        raise _Unclassifiable(f"not a schema: {node!r}")
    own = {k: v for k, v in node.items() if k in _ASSERTIONS and k not in ("$ref", "allOf")}
    parts: list[dict[str, Any] | bool] = [own]
    if "$ref" in node:
        parts.append(_flatten(_resolve(root, node["$ref"]), root, depth + 1))
    for sub in node.get("allOf", []):
        parts.append(_flatten(sub, root, depth + 1))
    flat: dict[str, Any] = {}
    for part in parts:
        if part is False:
            return False
        if isinstance(part, dict):
            flat = _merge(flat, part)
    return flat


def _branches(node: Any, root: Mapping[str, Any]) -> list[_Branch]:
    """``node`` as a list of alternatives, one JSON type each (anyOf/oneOf expanded)."""
    flat = _flatten(node, root)
    if flat is False:
        return []
    if flat is True:
        flat = {}
    if "anyOf" in flat and "oneOf" in flat:
        raise _Unclassifiable("both anyOf and oneOf")
    for key in ("anyOf", "oneOf"):
        if key in flat:
            base = {k: v for k, v in flat.items() if k != key}
            found: list[_Branch] = []
            for sub in flat[key]:
                part = _flatten(sub, root)
                if part is not False:
                    found.extend(_branches(_merge(base, part if isinstance(part, dict) else {}), root))
            return found
    declared = flat.get("type", list(_TYPES))
    types = [declared] if isinstance(declared, str) else list(declared)
    if "number" in types:
        types = [t for t in types if t != "integer"]
    values: list[Any] | None = None
    if "enum" in flat:
        values = list(flat["enum"])
    if "const" in flat:
        values = [flat["const"]] if values is None else [v for v in values if _same(v, flat["const"])]
    found = []
    for kind in _TYPES:
        if kind not in types:
            continue
        enum = None
        if values is not None:
            enum = tuple(v for v in values if _is_type(v, kind))
            if not enum:
                continue
        applies = _BY_TYPE[kind] | _ANY_TYPE
        schema = {"type": kind} | {k: v for k, v in flat.items() if k in applies}
        found.append(_Branch(kind, schema, enum))
    return found


# --------------------------------------------------------------------------- comparing


Bound = tuple[Any, bool] | None  # (value, exclusive); None: unbounded


class _Comparer:
    """Compares two schemas of one actor, each resolved against its own root (its ``$defs``)."""

    def __init__(self, old_root: Mapping[str, Any], new_root: Mapping[str, Any]) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.same_defs = _same(old_root.get("$defs", {}), new_root.get("$defs", {}))
        self.active: set[tuple[str, str]] = set()

    def compare(self, old: Any, new: Any, path: str) -> list[_Found]:
        """The changes from the subschema ``old`` to ``new``, found at ``path``."""
        found: list[_Found] = []
        both = isinstance(old, dict) and isinstance(new, dict)
        if both:
            before, after = _default_of(old), _default_of(new)
            if _NO_DEFAULT not in (before, after) and _default_changed(before, after):
                detail = f"default {_show_default(before)} -> {_show_default(after)}"
                found.append(_Found("DEFAULT_CHANGED", path, detail, NONE))
        if self.same_defs and _same(old, new):
            return found
        if not ("$ref" in _canon(old) or "$ref" in _canon(new)) and _same(old, new):
            return found
        key = None
        if both and isinstance(old.get("$ref"), str) and isinstance(new.get("$ref"), str):
            key = (old["$ref"], new["$ref"])
            if key in self.active:
                return found  # a recursive model: this pair is being compared further up
            self.active.add(key)
        try:
            found.extend(self._compare(old, new, path))
        except _Unclassifiable as error:
            detail = f"cannot classify this change ({error}): treated as breaking both ways"
            found.append(_Found("TYPE_CHANGED", path, detail, BOTH))
        finally:
            if key is not None:
                self.active.discard(key)
        return found

    def _compare(self, old: Any, new: Any, path: str) -> list[_Found]:
        olds = _branches(old, self.old_root)
        news = _branches(new, self.new_root)
        old_families = {_family(b.type): None for b in olds}
        new_families = {_family(b.type): None for b in news}
        lost = [b.type for b in olds if _family(b.type) not in new_families]
        gained = [b.type for b in news if _family(b.type) not in old_families]
        found: list[_Found] = []
        if lost and gained and not (old_families.keys() & new_families.keys()):
            detail = f"type {_types(olds)} -> {_types(news)}"
            return [_Found("TYPE_CHANGED", path, detail, BOTH)]
        if lost:
            found.append(_Found("TYPE_NARROWED", path, f"no longer accepts {_names(lost)}", BACKWARD))
        if gained:
            found.append(_Found("TYPE_WIDENED", path, f"now also accepts {_names(gained)}", FORWARD))
        for family in old_families:
            if family in new_families:
                found.extend(
                    self._pair(
                        [b for b in olds if _family(b.type) == family],
                        [b for b in news if _family(b.type) == family],
                        path,
                    )
                )
        return found

    def _pair(self, olds: list[_Branch], news: list[_Branch], path: str) -> list[_Found]:
        """Match the alternatives of one type: each old one must fit a new one (backward), and back."""
        matrix = [[self._branch(o, n, path) for n in news] for o in olds]
        if len(olds) == 1 and len(news) == 1:
            return matrix[0][0]
        found: list[_Found] = []
        for row in matrix:
            best = min(row, key=lambda cell: (_count(cell, "backward"), len(cell)))
            found.extend(_restricted(best, BACKWARD))
        for j in range(len(news)):
            column = [row[j] for row in matrix]
            best = min(column, key=lambda cell: (_count(cell, "forward"), len(cell)))
            found.extend(_restricted(best, FORWARD))
        return _merged(found)

    def _branch(self, old: _Branch, new: _Branch, path: str) -> list[_Found]:
        """Compare two alternatives of the same type family."""
        found: list[_Found] = []
        if old.type != new.type:
            if old.type == "integer":
                found.append(
                    _Found("TYPE_WIDENED", path, "integer -> number: now accepts fractions", FORWARD)
                )
            else:
                detail = "number -> integer: no longer accepts fractions"
                found.append(_Found("TYPE_NARROWED", path, detail, BACKWARD))
        if old.enum is not None or new.enum is not None:
            found.extend(self._values(old, new, path))
        elif old.type in ("integer", "number"):
            found.extend(self._numbers(old, new, path))
        elif old.type == "string":
            found.extend(self._strings(old.schema, new.schema, path))
        elif old.type == "array":
            found.extend(self._arrays(old.schema, new.schema, path))
        elif old.type == "object":
            found.extend(self._objects(old.schema, new.schema, path))
        for key in sorted(_OPAQUE & (old.schema.keys() | new.schema.keys())):
            if old.enum is None and new.enum is None and not _same(old.schema.get(key), new.schema.get(key)):
                detail = f"{key!r} changed, which actorschema cannot classify: treated as breaking both ways"
                found.append(_Found("TYPE_CHANGED", path, detail, BOTH))
        return found

    # ----------------------------------------------------------------- listed values

    def _values(self, old: _Branch, new: _Branch, path: str) -> list[_Found]:
        found: list[_Found] = []
        if old.enum is None:
            detail = f"now accepts only {_names([_show(v) for v in new.enum or ()])}"
            found.append(_Found("TYPE_NARROWED", path, detail, BACKWARD))
        else:
            lost = [v for v in old.enum if not self._accepts(new, v, self.new_root)]
            if lost:
                detail = f"no longer accepts {_names([_show(v) for v in lost])}"
                found.append(_Found("ENUM_VALUE_REMOVED", path, detail, BACKWARD))
        if new.enum is None:
            detail = f"now accepts any {new.type}, not only {_names([_show(v) for v in old.enum or ()])}"
            found.append(_Found("TYPE_WIDENED", path, detail, FORWARD))
        else:
            gained = [v for v in new.enum if not self._accepts(old, v, self.old_root)]
            if gained:
                detail = f"now also accepts {_names([_show(v) for v in gained])}"
                found.append(_Found("ENUM_VALUE_ADDED", path, detail, FORWARD))
        return found

    @staticmethod
    def _accepts(branch: _Branch, value: Any, root: Mapping[str, Any]) -> bool:
        if branch.enum is not None and not any(_same(value, v) for v in branch.enum):
            return False
        schema = {"$defs": root.get("$defs", {}), **branch.schema}
        try:
            return bool(Draft202012Validator(schema).is_valid(value))
        except SchemaError as error:
            raise _Unclassifiable(f"invalid schema: {error.message}") from error

    # ----------------------------------------------------------------- scalars

    def _numbers(self, old: _Branch, new: _Branch, path: str) -> list[_Found]:
        integral = old.type == new.type == "integer"
        found = _bounds(path, "lower bound", _lower(old.schema, integral), _lower(new.schema, integral), True)
        found += _bounds(
            path, "upper bound", _upper(old.schema, integral), _upper(new.schema, integral), False
        )
        found += _multiple(path, old.schema.get("multipleOf"), new.schema.get("multipleOf"), integral)
        return found

    def _strings(self, old: dict[str, Any], new: dict[str, Any], path: str) -> list[_Found]:
        found = _bounds(path, "minLength", _at_least(old, "minLength"), _at_least(new, "minLength"), True)
        found += _bounds(path, "maxLength", _at_most(old, "maxLength"), _at_most(new, "maxLength"), False)
        for key in ("pattern", "format"):
            found += _assertion(path, key, old.get(key), new.get(key))
        return found

    # ----------------------------------------------------------------- arrays

    def _arrays(self, old: dict[str, Any], new: dict[str, Any], path: str) -> list[_Found]:
        old_prefix, new_prefix = old.get("prefixItems", []), new.get("prefixItems", [])
        old_items, new_items = old.get("items", True), new.get("items", True)
        if isinstance(old_items, list) or isinstance(new_items, list):
            raise _Unclassifiable("draft-07 array form of 'items'")
        old_max, new_max = _max_items(old), _max_items(new)
        found = _bounds(path, "minItems", _at_least(old, "minItems"), _at_least(new, "minItems"), True)
        found += _bounds(
            path,
            "maximum number of items",
            None if old_max == math.inf else (old_max, False),
            None if new_max == math.inf else (new_max, False),
            False,
        )
        limit = min(old_max, new_max)  # positions both versions can have
        for i in range(max(len(old_prefix), len(new_prefix))):
            if i >= limit:
                break
            old_item = old_prefix[i] if i < len(old_prefix) else old_items
            new_item = new_prefix[i] if i < len(new_prefix) else new_items
            found += self.compare(old_item, new_item, f"{path}[{i}]")
        if max(len(old_prefix), len(new_prefix)) < limit:
            found += self.compare(old_items, new_items, f"{path}[]")
        if bool(old.get("uniqueItems")) != bool(new.get("uniqueItems")):
            if new.get("uniqueItems"):
                found.append(_Found("CONSTRAINT_TIGHTENED", path, "items must now be unique", BACKWARD))
            else:
                found.append(
                    _Found("CONSTRAINT_LOOSENED", path, "items no longer need to be unique", FORWARD)
                )
        return found

    # ----------------------------------------------------------------- objects

    def _objects(self, old: dict[str, Any], new: dict[str, Any], path: str) -> list[_Found]:
        old_props: dict[str, Any] = old.get("properties", {})
        new_props: dict[str, Any] = new.get("properties", {})
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        old_extra, new_extra = _extra(old), _extra(new)
        top = path == "kwargs"
        kind, noun = ("PARAMETER", "parameter") if top else ("FIELD", "property")
        found: list[_Found] = []
        for name in dict.fromkeys([*old_props, *new_props]):
            where = _join(path, name)
            if name in old_props and name in new_props:
                found += self.compare(old_props[name], new_props[name], where)
                found += _required(where, noun, name in old_required, name in new_required)
            elif name in old_props:
                found.append(
                    self._removed(where, noun, kind, old_props[name], name in old_required, new_extra)
                )
            else:
                found.append(self._added(where, noun, kind, new_props[name], name in new_required, old_extra))
        for name in sorted((old_required ^ new_required) - old_props.keys() - new_props.keys()):
            found += _required(_join(path, name), noun, name in old_required, name in new_required)
        if old_extra is False and new_extra is not False:
            what = "the actor now takes **kwargs" if top else "the object now accepts undeclared properties"
            found.append(_Found("CONTENT_OPENED", path, f"{what}: old code rejects them", FORWARD))
        elif old_extra is not False and new_extra is False:
            what = "the actor no longer takes **kwargs" if top else "undeclared properties are now rejected"
            found.append(_Found("CONTENT_CLOSED", path, f"{what}: old messages may carry them", BACKWARD))
        elif old_extra is not False and new_extra is not False:
            found += self.compare(old_extra, new_extra, _join(path, "*"))
        found += _bounds(
            path, "minProperties", _at_least(old, "minProperties"), _at_least(new, "minProperties"), True
        )
        found += _bounds(
            path, "maxProperties", _at_most(old, "maxProperties"), _at_most(new, "maxProperties"), False
        )
        return found

    def _removed(self, where: str, noun: str, kind: str, schema: Any, required: bool, extra: Any) -> _Found:
        if extra is False:
            back, forward = True, required
            detail = f"{noun} removed: old messages carrying it are rejected"
        else:
            inner = self.compare(schema, extra, where)
            back = _count(inner, "backward") > 0
            forward = required or _count(inner, "forward") > 0
            detail = f"{noun} removed from an open object: new messages may carry it with any value"
        if required:
            detail += "; old code requires it"
        return _Found(f"{kind}_REMOVED", where, detail, _directions(back, forward))

    def _added(self, where: str, noun: str, kind: str, schema: Any, required: bool, extra: Any) -> _Found:
        label = "REQUIRED" if required else "OPTIONAL"
        if extra is False:
            forward = True
            detail = f"new {'required' if required else 'optional'} {noun}: old code rejects it"
            back = required
        else:
            inner = self.compare(extra, schema, where)
            forward = _count(inner, "forward") > 0
            back = required or _count(inner, "backward") > 0
            detail = f"new {'required' if required else 'optional'} {noun} of an open object"
            if not required and back:
                detail += ": old messages may carry it with any value"
        if required:
            detail += "; old messages lack it"
        return _Found(f"{kind}_ADDED_{label}", where, detail, _directions(back, forward))


# --------------------------------------------------------------------------- helpers


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _directions(backward: bool, forward: bool) -> frozenset[str]:
    return (BACKWARD if backward else NONE) | (FORWARD if forward else NONE)


def _count(found: Iterable[_Found], direction: str) -> int:
    return sum(1 for item in found if direction in item.breaks)


def _restricted(found: Iterable[_Found], directions: frozenset[str]) -> list[_Found]:
    """Keep what breaks ``directions`` (and what breaks nothing), breaking only those."""
    kept = []
    for item in found:
        if not item.breaks:
            kept.append(item)
        elif item.breaks & directions:
            kept.append(_Found(item.rule, item.path, item.detail, item.breaks & directions))
    return kept


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


_NO_DEFAULT: Any = object()
#: A default the schema does not show (see actorschema.defaults): it may differ from any literal.
_COMPUTED_DEFAULT: Any = object()


def _default_of(node: Mapping[str, Any]) -> Any:
    if "default" in node:
        return node["default"]
    if COMPUTED in str(node.get("$comment", "")):
        return _COMPUTED_DEFAULT
    return _NO_DEFAULT


def _default_changed(before: Any, after: Any) -> bool:
    if _COMPUTED_DEFAULT in (before, after):
        return before is not after
    return not _same(before, after)


def _show_default(value: Any) -> str:
    return "(computed at run time)" if value is _COMPUTED_DEFAULT else _show(value)


def _names(items: Sequence[str]) -> str:
    return ", ".join(dict.fromkeys(items))


def _types(branches: Sequence[_Branch]) -> str:
    kinds = list(dict.fromkeys(b.type for b in branches))
    return kinds[0] if len(kinds) == 1 else "[" + ", ".join(kinds) + "]"


def _extra(schema: Mapping[str, Any]) -> Any:
    """What an object does with undeclared properties: False rejects them, else their schema."""
    extra = schema.get("additionalProperties", True)
    return True if extra == {} else extra


def _required(where: str, noun: str, before: bool, after: bool) -> list[_Found]:
    if before == after:
        return []
    if after:
        detail = f"the {noun} is now required: old messages may lack it"
        return [_Found("REQUIRED_ADDED", where, detail, BACKWARD)]
    detail = f"the {noun} is now optional: old code requires it"
    return [_Found("REQUIRED_REMOVED", where, detail, FORWARD)]


def _number(value: Any, keyword: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Unclassifiable(f"{keyword} is not a number: {value!r}")
    return value


def _lower(schema: Mapping[str, Any], integral: bool) -> Bound:
    bounds: list[tuple[Any, bool]] = []
    if "minimum" in schema:
        bounds.append((_number(schema["minimum"], "minimum"), False))
    if "exclusiveMinimum" in schema:
        bounds.append((_number(schema["exclusiveMinimum"], "exclusiveMinimum"), True))
    if not bounds:
        return None
    value, exclusive = max(bounds, key=lambda b: (b[0], b[1]))
    if integral:
        return (math.floor(value) + 1 if exclusive else math.ceil(value)), False
    return value, exclusive


def _upper(schema: Mapping[str, Any], integral: bool) -> Bound:
    bounds: list[tuple[Any, bool]] = []
    if "maximum" in schema:
        bounds.append((_number(schema["maximum"], "maximum"), False))
    if "exclusiveMaximum" in schema:
        bounds.append((_number(schema["exclusiveMaximum"], "exclusiveMaximum"), True))
    if not bounds:
        return None
    value, exclusive = min(bounds, key=lambda b: (b[0], not b[1]))
    if integral:
        return (math.ceil(value) - 1 if exclusive else math.floor(value)), False
    return value, exclusive


def _at_least(schema: Mapping[str, Any], keyword: str) -> Bound:
    value = _number(schema.get(keyword, 0), keyword)
    return (value, False) if value > 0 else None


def _at_most(schema: Mapping[str, Any], keyword: str) -> Bound:
    return (_number(schema[keyword], keyword), False) if keyword in schema else None


def _max_items(schema: Mapping[str, Any]) -> float:
    limit: float = _number(schema.get("maxItems", math.inf), "maxItems")
    if schema.get("items", True) is False:
        limit = min(limit, len(schema.get("prefixItems", [])))
    return limit


def _bounds(path: str, what: str, old: Bound, new: Bound, lower: bool) -> list[_Found]:
    """A lower (``lower=True``) or upper bound that moved: tighter breaks backward, looser forward."""
    if old == new:
        return []

    def tighter(a: Bound, b: Bound) -> bool:  # is a stricter than b?
        if a is None:
            return False
        if b is None:
            return True
        if a[0] != b[0]:
            return bool(a[0] > b[0]) if lower else bool(a[0] < b[0])
        return a[1] and not b[1]

    def shown(bound: Bound) -> str:
        if bound is None:
            return "none"
        sign = (">" if bound[1] else ">=") if lower else ("<" if bound[1] else "<=")
        return f"{sign} {bound[0]}"

    detail = f"{what} {shown(old)} -> {shown(new)}"
    if tighter(new, old):
        return [_Found("CONSTRAINT_TIGHTENED", path, detail, BACKWARD)]
    if tighter(old, new):
        return [_Found("CONSTRAINT_LOOSENED", path, detail, FORWARD)]
    return []


def _multiple(path: str, old: Any, new: Any, integral: bool) -> list[_Found]:
    if integral:
        old, new = (None if v == 1 else v for v in (old, new))
    if old == new:
        return []
    detail = f"multipleOf {old} -> {new}"
    if old is None:
        return [_Found("CONSTRAINT_TIGHTENED", path, detail, BACKWARD)]
    if new is None:
        return [_Found("CONSTRAINT_LOOSENED", path, detail, FORWARD)]
    ratio = Fraction(str(_number(old, "multipleOf"))) / Fraction(str(_number(new, "multipleOf")))
    if ratio.denominator == 1:  # every multiple of old is a multiple of new
        return [_Found("CONSTRAINT_LOOSENED", path, detail, FORWARD)]
    if ratio.numerator == 1:
        return [_Found("CONSTRAINT_TIGHTENED", path, detail, BACKWARD)]
    return [_Found("CONSTRAINT_CHANGED", path, detail, BOTH)]


def _assertion(path: str, keyword: str, old: Any, new: Any) -> list[_Found]:
    """A pattern or format: added is tighter, removed looser, replaced is both (unknowable)."""
    if old == new:
        return []
    detail = f"{keyword} {_show(old)} -> {_show(new)}"
    if old is None:
        return [_Found("CONSTRAINT_TIGHTENED", path, detail, BACKWARD)]
    if new is None:
        return [_Found("CONSTRAINT_LOOSENED", path, detail, FORWARD)]
    return [_Found("CONSTRAINT_CHANGED", path, detail, BOTH)]
