"""Comparing two schema folders, actor by actor and keyword by keyword: every change and the rule it falls under.

See :mod:`actorschema.compat` for the directions and the conventions
(``oneOf`` read as ``anyOf``, open and closed objects).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

# Without types-jsonschema installed these are Any; with it, fully typed.
from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]
from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped, unused-ignore]

from ..defaults import COMPUTED
from .bounds import (
    assertion_change,
    at_least,
    at_most,
    bound_change,
    lower_bound,
    max_items,
    multiple_change,
    upper_bound,
)
from .normalize import OPAQUE, Branch, Unclassifiable, alternatives, canon, same, show, type_family
from .rules import BACKWARD, BOTH, FORWARD, NONE, Change, Found, Mode, directions_of

__all__ = ["breaking", "diff", "diff_transitive"]


def diff(old: Mapping[str, Mapping[str, Any]], new: Mapping[str, Mapping[str, Any]]) -> list[Change]:
    """Every change from the folder ``old`` to the folder ``new`` (as :func:`~actorschema.catalogue.load_folder` returns them).

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


def narrowed(
    old: Mapping[str, Any], new: Mapping[str, Any], old_root: Mapping[str, Any], new_root: Mapping[str, Any]
) -> list[str]:
    """What the schema ``new`` refuses of the values ``old`` accepts, in words; empty when it accepts them all.

    The backward direction of :func:`diff`, on two subschemas: used to check that a
    pipeline step's parameter takes the previous step's declared result. A change
    this module cannot classify is left out (the worker still judges the value).

    Parameters:
      old: The schema of the values handed over (with ``$ref`` into ``old_root``).
      new: The schema that receives them (with ``$ref`` into ``new_root``).
      old_root: The document ``old``'s ``$ref`` point into (its ``$defs``).
      new_root: The same for ``new``.
    """
    found = _Comparer(old_root, new_root).compare(old, new, "")
    # What this module cannot classify it reports as breaking both ways; here that proves nothing.
    return [
        f"{f.path or 'the value'}: {f.detail}"
        for f in _merged(found)
        if f.breaks >= BACKWARD and "cannot classify" not in f.detail
    ]


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


def _diff_actor(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Found]:
    found: list[Found] = []
    old_schema, new_schema = old["schema"], new["schema"]
    old_queue, new_queue = _queue(old), _queue(new)
    if old_queue != new_queue:
        detail = (
            f"queue {old_queue!r} -> {new_queue!r}: queued messages wait where new workers do not read, "
            "new messages go where old workers do not read"
        )
        found.append(Found("QUEUE_CHANGED", "queue_name", detail, BOTH))
    found.extend(_size_change(old.get("max_message_bytes"), new.get("max_message_bytes")))
    comparer = _Comparer(old_schema, new_schema)
    found.extend(comparer.compare(_envelope(old_schema), _envelope(new_schema), ""))
    found.extend(_result_change(old.get("result_schema"), new.get("result_schema")))
    return _merged(found)


def _result_change(old: Any, new: Any) -> list[Found]:
    """Results travel too (results backends, the next pipeline step): results already stored or
    piped are old data that new code reads, so the directions are those of messages."""
    if old is None and new is None:
        return []
    if old is None:
        detail = "the results now have a schema: results stored or piped before may not fit it"
        return [Found("RESULT_TYPED", "result", detail, BACKWARD)]
    if new is None:
        detail = "the results no longer have a schema: readers of the old result type may get any JSON"
        return [Found("RESULT_UNTYPED", "result", detail, FORWARD)]
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


def _size_change(old: Any, new: Any) -> list[Found]:
    def shown(limit: Any) -> str:
        return "no limit" if limit is None else f"{limit} bytes"

    if old == new:
        return []
    if new is not None and (old is None or new < old):
        detail = f"size limit {shown(old)} -> {shown(new)}: queued messages may be larger than the new limit"
        return [Found("SIZE_LIMIT_LOWERED", "", detail, BACKWARD)]
    detail = f"size limit {shown(old)} -> {shown(new)}: new messages may be larger than old workers accept"
    return [Found("SIZE_LIMIT_RAISED", "", detail, FORWARD)]


def _merged(found: Iterable[Found]) -> list[Found]:
    """One entry per (rule, path, detail), breaking every direction any of its duplicates breaks."""
    merged: dict[tuple[str, str, str], frozenset[str]] = {}
    for item in found:
        key = (item.rule, item.path, item.detail)
        merged[key] = merged.get(key, NONE) | item.breaks
    return [Found(rule, path, detail, breaks) for (rule, path, detail), breaks in merged.items()]


class _Comparer:
    """Compares two schemas of one actor, each resolved against its own root (its ``$defs``)."""

    def __init__(self, old_root: Mapping[str, Any], new_root: Mapping[str, Any]) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.same_defs = same(old_root.get("$defs", {}), new_root.get("$defs", {}))
        self.active: set[tuple[str, str]] = set()

    def compare(self, old: Any, new: Any, path: str) -> list[Found]:
        """The changes from the subschema ``old`` to ``new``, found at ``path``."""
        found: list[Found] = []
        both = isinstance(old, dict) and isinstance(new, dict)
        if both:
            before, after = _default_of(old), _default_of(new)
            if _NO_DEFAULT not in (before, after) and _default_changed(before, after):
                detail = f"default {_show_default(before)} -> {_show_default(after)}"
                found.append(Found("DEFAULT_CHANGED", path, detail, NONE))
        if self.same_defs and same(old, new):
            return found
        if not ("$ref" in canon(old) or "$ref" in canon(new)) and same(old, new):
            return found
        key: tuple[str, str] | None = None
        if both and isinstance(old.get("$ref"), str) and isinstance(new.get("$ref"), str):
            key = (old["$ref"], new["$ref"])
        else:
            # A pair already being compared further up is a cycle: a recursive schema (its $ref
            # expanded by alternatives) against an open object, or against a non-recursive one.
            key = (canon(old), canon(new))
        if key is not None:
            if key in self.active:
                return found  # a recursive model: this pair is being compared further up
            self.active.add(key)
        try:
            found.extend(self._compare(old, new, path))
        except Unclassifiable as error:
            detail = f"cannot classify this change ({error}): treated as breaking both ways"
            found.append(Found("TYPE_CHANGED", path, detail, BOTH))
        finally:
            if key is not None:
                self.active.discard(key)
        return found

    def _compare(self, old: Any, new: Any, path: str) -> list[Found]:
        olds = alternatives(old, self.old_root)
        news = alternatives(new, self.new_root)
        old_families = {type_family(b.type): None for b in olds}
        new_families = {type_family(b.type): None for b in news}
        lost = [b.type for b in olds if type_family(b.type) not in new_families]
        gained = [b.type for b in news if type_family(b.type) not in old_families]
        found: list[Found] = []
        if lost and gained and not (old_families.keys() & new_families.keys()):
            detail = f"type {_types(olds)} -> {_types(news)}"
            return [Found("TYPE_CHANGED", path, detail, BOTH)]
        if lost:
            found.append(Found("TYPE_NARROWED", path, f"no longer accepts {_names(lost)}", BACKWARD))
        if gained:
            found.append(Found("TYPE_WIDENED", path, f"now also accepts {_names(gained)}", FORWARD))
        for family in old_families:
            if family in new_families:
                found.extend(
                    self._pair(
                        [b for b in olds if type_family(b.type) == family],
                        [b for b in news if type_family(b.type) == family],
                        path,
                    )
                )
        return found

    def _pair(self, olds: list[Branch], news: list[Branch], path: str) -> list[Found]:
        """Match the alternatives of one type: each old one must fit a new one (backward), and back."""
        matrix = [[self._branch(o, n, path) for n in news] for o in olds]
        if len(olds) == 1 and len(news) == 1:
            return matrix[0][0]
        found: list[Found] = []
        for row in matrix:
            best = min(row, key=lambda cell: (_count(cell, "backward"), len(cell)))
            found.extend(_restricted(best, BACKWARD))
        for j in range(len(news)):
            column = [row[j] for row in matrix]
            best = min(column, key=lambda cell: (_count(cell, "forward"), len(cell)))
            found.extend(_restricted(best, FORWARD))
        return _merged(found)

    def _branch(self, old: Branch, new: Branch, path: str) -> list[Found]:
        """Compare two alternatives of the same type family."""
        found: list[Found] = []
        if old.type != new.type:
            if old.type == "integer":
                found.append(Found("TYPE_WIDENED", path, "integer -> number: now accepts fractions", FORWARD))
            else:
                detail = "number -> integer: no longer accepts fractions"
                found.append(Found("TYPE_NARROWED", path, detail, BACKWARD))
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
        for key in sorted(OPAQUE & (old.schema.keys() | new.schema.keys())):
            if old.enum is None and new.enum is None and not same(old.schema.get(key), new.schema.get(key)):
                detail = f"{key!r} changed, which actorschema cannot classify: treated as breaking both ways"
                found.append(Found("TYPE_CHANGED", path, detail, BOTH))
        return found

    # ----------------------------------------------------------------- listed values

    def _values(self, old: Branch, new: Branch, path: str) -> list[Found]:
        found: list[Found] = []
        if old.enum is None:
            detail = f"now accepts only {_names([show(v) for v in new.enum or ()])}"
            found.append(Found("TYPE_NARROWED", path, detail, BACKWARD))
        else:
            lost = [v for v in old.enum if not self._accepts(new, v, self.new_root)]
            if lost:
                detail = f"no longer accepts {_names([show(v) for v in lost])}"
                found.append(Found("ENUM_VALUE_REMOVED", path, detail, BACKWARD))
        if new.enum is None:
            detail = f"now accepts any {new.type}, not only {_names([show(v) for v in old.enum or ()])}"
            found.append(Found("TYPE_WIDENED", path, detail, FORWARD))
        else:
            gained = [v for v in new.enum if not self._accepts(old, v, self.old_root)]
            if gained:
                detail = f"now also accepts {_names([show(v) for v in gained])}"
                found.append(Found("ENUM_VALUE_ADDED", path, detail, FORWARD))
        return found

    @staticmethod
    def _accepts(branch: Branch, value: Any, root: Mapping[str, Any]) -> bool:
        if branch.enum is not None and not any(same(value, v) for v in branch.enum):
            return False
        schema = {"$defs": root.get("$defs", {}), **branch.schema}
        try:
            return bool(Draft202012Validator(schema).is_valid(value))
        except SchemaError as error:
            raise Unclassifiable(f"invalid schema: {error.message}") from error

    # ----------------------------------------------------------------- scalars

    def _numbers(self, old: Branch, new: Branch, path: str) -> list[Found]:
        integral = old.type == new.type == "integer"
        found = bound_change(
            path, "lower bound", lower_bound(old.schema, integral), lower_bound(new.schema, integral), True
        )
        found += bound_change(
            path, "upper bound", upper_bound(old.schema, integral), upper_bound(new.schema, integral), False
        )
        found += multiple_change(path, old.schema.get("multipleOf"), new.schema.get("multipleOf"), integral)
        return found

    def _strings(self, old: dict[str, Any], new: dict[str, Any], path: str) -> list[Found]:
        found = bound_change(path, "minLength", at_least(old, "minLength"), at_least(new, "minLength"), True)
        found += bound_change(path, "maxLength", at_most(old, "maxLength"), at_most(new, "maxLength"), False)
        for key in ("pattern", "format"):
            found += assertion_change(path, key, old.get(key), new.get(key))
        return found

    # ----------------------------------------------------------------- arrays

    def _arrays(self, old: dict[str, Any], new: dict[str, Any], path: str) -> list[Found]:
        old_prefix, new_prefix = old.get("prefixItems", []), new.get("prefixItems", [])
        old_items, new_items = old.get("items", True), new.get("items", True)
        if isinstance(old_items, list) or isinstance(new_items, list):
            raise Unclassifiable("draft-07 array form of 'items'")
        old_max, new_max = max_items(old), max_items(new)
        found = bound_change(path, "minItems", at_least(old, "minItems"), at_least(new, "minItems"), True)
        found += bound_change(
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
                found.append(Found("CONSTRAINT_TIGHTENED", path, "items must now be unique", BACKWARD))
            else:
                found.append(Found("CONSTRAINT_LOOSENED", path, "items no longer need to be unique", FORWARD))
        return found

    # ----------------------------------------------------------------- objects

    def _objects(self, old: dict[str, Any], new: dict[str, Any], path: str) -> list[Found]:
        old_props: dict[str, Any] = old.get("properties", {})
        new_props: dict[str, Any] = new.get("properties", {})
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        old_extra, new_extra = _extra(old), _extra(new)
        top = path == "kwargs"
        kind, noun = ("PARAMETER", "parameter") if top else ("FIELD", "property")
        found: list[Found] = []
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
            found.append(Found("CONTENT_OPENED", path, f"{what}: old code rejects them", FORWARD))
        elif old_extra is not False and new_extra is False:
            what = "the actor no longer takes **kwargs" if top else "undeclared properties are now rejected"
            found.append(Found("CONTENT_CLOSED", path, f"{what}: old messages may carry them", BACKWARD))
        elif old_extra is not False and new_extra is not False:
            found += self.compare(old_extra, new_extra, _join(path, "*"))
        found += bound_change(
            path, "minProperties", at_least(old, "minProperties"), at_least(new, "minProperties"), True
        )
        found += bound_change(
            path, "maxProperties", at_most(old, "maxProperties"), at_most(new, "maxProperties"), False
        )
        return found

    def _removed(self, where: str, noun: str, kind: str, schema: Any, required: bool, extra: Any) -> Found:
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
        return Found(f"{kind}_REMOVED", where, detail, directions_of(back, forward))

    def _added(self, where: str, noun: str, kind: str, schema: Any, required: bool, extra: Any) -> Found:
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
        return Found(f"{kind}_ADDED_{label}", where, detail, directions_of(back, forward))


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _count(found: Iterable[Found], direction: str) -> int:
    return sum(1 for item in found if direction in item.breaks)


def _restricted(found: Iterable[Found], directions: frozenset[str]) -> list[Found]:
    """Keep what breaks ``directions`` (and what breaks nothing), breaking only those."""
    kept = []
    for item in found:
        if not item.breaks:
            kept.append(item)
        elif item.breaks & directions:
            kept.append(Found(item.rule, item.path, item.detail, item.breaks & directions))
    return kept


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
    return not same(before, after)


def _show_default(value: Any) -> str:
    return "(computed at run time)" if value is _COMPUTED_DEFAULT else show(value)


def _names(items: Sequence[str]) -> str:
    return ", ".join(dict.fromkeys(items))


def _types(branches: Sequence[Branch]) -> str:
    kinds = list(dict.fromkeys(b.type for b in branches))
    return kinds[0] if len(kinds) == 1 else "[" + ", ".join(kinds) + "]"


def _extra(schema: Mapping[str, Any]) -> Any:
    """What an object does with undeclared properties: False rejects them, else their schema."""
    extra = schema.get("additionalProperties", True)
    return True if extra == {} else extra


def _required(where: str, noun: str, before: bool, after: bool) -> list[Found]:
    if before == after:
        return []
    if after:
        detail = f"the {noun} is now required: old messages may lack it"
        return [Found("REQUIRED_ADDED", where, detail, BACKWARD)]
    detail = f"the {noun} is now optional: old code requires it"
    return [Found("REQUIRED_REMOVED", where, detail, FORWARD)]
