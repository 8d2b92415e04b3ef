"""JSON Schema as alternatives to compare: ``$ref`` and ``allOf`` merged in, ``anyOf``/``oneOf`` expanded, one JSON type each.

Two schemas that accept the same values can be written many ways; the
comparison reads each as a list of :class:`Branch` (one JSON type and the
keywords that apply to it) so that like is compared with like. Anything this
cannot read precisely raises :class:`Unclassifiable`, which the comparison
reports as breaking both ways: never a silent "compatible".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["OPAQUE", "Branch", "Unclassifiable", "alternatives", "canon", "same", "show", "type_family"]


class Unclassifiable(Exception):
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
OPAQUE = frozenset(
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
class Branch:
    """One alternative of a schema, for one JSON type.

    Parameters:
      type: The JSON type (``integer`` stands for whole numbers only).
      schema: The keywords that apply to values of that type, ``type`` included.
      enum: The values allowed, when the schema lists them (enum, const).
    """

    type: str
    schema: dict[str, Any]
    enum: tuple[Any, ...] | None


def type_family(kind: str) -> str:
    """Integers and numbers are one family: their alternatives are matched with each other."""
    return "numeric" if kind in ("integer", "number") else kind


def canon(value: Any) -> str:
    """``value`` as canonical JSON text, for comparing schemas and values by content."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def same(a: Any, b: Any) -> bool:
    """``a`` and ``b`` are the same JSON (key order aside)."""
    return canon(a) == canon(b)


def show(value: Any) -> str:
    """``value`` as JSON, for a change's detail."""
    return json.dumps(value, ensure_ascii=False)


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
        raise Unclassifiable(f"cannot follow the non-local $ref {ref!r}")
    node: Any = root
    for token in ref[1:].split("/")[1:] if ref != "#" else []:
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise Unclassifiable(f"$ref {ref!r} points to nothing")
    return node


def _merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
    """Both schemas at once (allOf, $ref with siblings, a union branch with its parent's keywords)."""
    merged = dict(a)
    for key, value in b.items():
        if key not in merged or same(merged[key], value):
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
            raise Unclassifiable(f"two schemas both set {key!r} differently (allOf, or $ref with siblings)")
    return merged


def _flatten(node: Any, root: Mapping[str, Any], depth: int = 0) -> dict[str, Any] | bool:
    """``node`` without annotations, with its own ``$ref`` and ``allOf`` merged in; False accepts nothing."""
    if depth > 64:
        raise Unclassifiable("$ref or allOf nested too deep (a cycle?)")
    if isinstance(node, bool):
        return node
    if not isinstance(node, dict):
        raise Unclassifiable(f"not a schema: {node!r}")
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


def alternatives(node: Any, root: Mapping[str, Any]) -> list[Branch]:
    """``node`` as a list of alternatives, one JSON type each (anyOf/oneOf expanded)."""
    flat = _flatten(node, root)
    if flat is False:
        return []
    if flat is True:
        flat = {}
    if "anyOf" in flat and "oneOf" in flat:
        raise Unclassifiable("both anyOf and oneOf")
    for key in ("anyOf", "oneOf"):
        if key in flat:
            base = {k: v for k, v in flat.items() if k != key}
            found: list[Branch] = []
            for sub in flat[key]:
                part = _flatten(sub, root)
                if part is not False:
                    found.extend(alternatives(_merge(base, part if isinstance(part, dict) else {}), root))
            return found
    declared = flat.get("type", list(_TYPES))
    types = [declared] if isinstance(declared, str) else list(declared)
    if "number" in types:
        types = [t for t in types if t != "integer"]
    values: list[Any] | None = None
    if "enum" in flat:
        values = list(flat["enum"])
    if "const" in flat:
        values = [flat["const"]] if values is None else [v for v in values if same(v, flat["const"])]
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
        found.append(Branch(kind, schema, enum))
    return found
