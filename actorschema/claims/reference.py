"""The claim reference: the small JSON object a message carries in place of an offloaded value.

A reference is one top-level argument value (an item of ``args`` or a value
of ``kwargs``), never anything deeper and never in the options::

    {"$actorschema_claim": 1, "store": "dir", "key": "6f1c...-document",
     "sha256": "<64 lowercase hex>", "size": 5242880, "content_type": "application/json"}

* ``$actorschema_claim``: the marker, always the integer ``1`` (the format's
  version). For an actor with the claim check on, a top-level object with
  this key **is** a reference, and must be a valid one: a real argument that
  happens to hold the key is refused at send, so the two can never be
  confused (the published schema says the same with a ``not``).
* ``store``: the name of the store holding the blob (a worker looks it up
  among its configured stores).
* ``key``: the blob's key in that store (letters, digits, ``.``, ``_``, ``-``;
  at most 200 characters; it cannot name a path outside a directory store).
* ``sha256``, ``size``: of the blob's bytes; the worker refuses a blob that
  does not match both.
* ``content_type``: ``application/json``: the blob is the value's JSON text
  (UTF-8), exactly what it would have been inline.

:data:`REFERENCE_SCHEMA` is the JSON Schema of this object; ``actorschema
generate`` writes it as ``claim-reference.json`` in the schema folder.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from ..errors import Violation

__all__ = [
    "CONTENT_TYPE",
    "DEFINITION",
    "MARKER",
    "REFERENCE_SCHEMA",
    "REFERENCE_SCHEMA_FILE",
    "Reference",
    "claimable",
    "is_marked",
    "reference_violation",
]

#: The key that makes a top-level argument value a claim reference.
MARKER = "$actorschema_claim"
#: The only format version there is.
VERSION = 1
#: What the blob holds: the value's JSON text.
CONTENT_TYPE = "application/json"
#: The reference's schema file in the schema folder.
#: Not ``*.schema.json``: tools that read those files as the actors' message schemas keep working.
REFERENCE_SCHEMA_FILE = "claim-reference.json"

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"
STORE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
_KEY = re.compile(KEY_PATTERN.removesuffix("$") + r"\Z")
_STORE = re.compile(STORE_PATTERN.removesuffix("$") + r"\Z")
_SHA256 = re.compile(SHA256_PATTERN.removesuffix("$") + r"\Z")
_FIELDS = frozenset((MARKER, "store", "key", "sha256", "size", "content_type"))

#: The JSON Schema of a claim reference (draft 2020-12).
REFERENCE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": REFERENCE_SCHEMA_FILE,
    "title": "actorschema claim reference",
    "description": (
        "Stands in for one top-level argument value whose JSON text was moved to a blob store. "
        "The worker fetches the blob, checks its size and SHA-256, and hands the actor the value "
        "it would have received inline."
    ),
    "type": "object",
    "properties": {
        MARKER: {"const": VERSION, "description": "Marks the object as a claim reference (format version)."},
        "store": {"type": "string", "pattern": STORE_PATTERN, "description": "The store's name."},
        "key": {"type": "string", "pattern": KEY_PATTERN, "description": "The blob's key in the store."},
        "sha256": {"type": "string", "pattern": SHA256_PATTERN, "description": "SHA-256 of the blob."},
        "size": {"type": "integer", "minimum": 0, "description": "The blob's size in bytes."},
        "content_type": {"const": CONTENT_TYPE, "description": "The blob is the value's JSON text."},
    },
    "required": sorted(_FIELDS),
    "additionalProperties": False,
}


#: Where an actor's schema holds its copy of :data:`REFERENCE_SCHEMA` (self-contained: no file to resolve).
DEFINITION = "actorschema-claim-reference"

#: An argument value that is not marked as a reference (the inline branch of :func:`claimable`).
_NOT_MARKED = {"not": {"type": "object", "properties": {MARKER: True}, "required": [MARKER]}}


def claimable(schema: dict[str, Any]) -> dict[str, Any]:
    """A top-level argument's schema for an actor with the claim check on: its value, or a reference.

    Exactly one branch holds for any value: an object with the marker key is a
    reference and nothing else, so a value's schema that admits objects is joined
    with "not marked" (one that admits none, a ``str`` say, needs no such clause,
    and schema diffs then see a plain widening).
    """
    if not _may_be_object(schema):
        inline = schema
    else:
        inline = {"allOf": [schema, _NOT_MARKED]} if schema else _NOT_MARKED
    return {"anyOf": [inline, {"$ref": f"#/$defs/{DEFINITION}"}]}


def _may_be_object(schema: Any) -> bool:
    """False only when ``schema`` certainly admits no JSON object (its types, consts and enums say so)."""
    if not isinstance(schema, dict):
        return schema is not False
    kind = schema.get("type")
    if isinstance(kind, str):
        return kind == "object"
    if isinstance(kind, list):
        return "object" in kind
    if "const" in schema:
        return isinstance(schema["const"], dict)
    if isinstance(schema.get("enum"), list):
        return any(isinstance(value, dict) for value in schema["enum"])
    for combinator in ("anyOf", "oneOf"):
        if isinstance(schema.get(combinator), list) and not (schema.keys() - {combinator, *_ANNOTATIONS}):
            return any(map(_may_be_object, schema[combinator]))
    return True


#: Keywords that describe a schema without constraining it.
_ANNOTATIONS = frozenset(
    ("title", "description", "default", "examples", "$comment", "deprecated", "readOnly", "writeOnly")
)


def reference_definition() -> dict[str, Any]:
    """:data:`REFERENCE_SCHEMA` as an actor schema's ``$defs`` entry."""
    return {k: v for k, v in REFERENCE_SCHEMA.items() if k not in ("$schema", "$id")}


@dataclass(frozen=True)
class Reference:
    """A valid claim reference.

    Parameters:
      store: The store's name.
      key: The blob's key.
      sha256: The blob's SHA-256, lowercase hex.
      size: The blob's size in bytes.
    """

    store: str
    key: str
    sha256: str
    size: int

    @classmethod
    def for_blob(cls, store: str, key: str, blob: bytes) -> Reference:
        """The reference to ``blob`` stored under ``key`` in ``store``."""
        return cls(store, key, hashlib.sha256(blob).hexdigest(), len(blob))

    @classmethod
    def parse(cls, value: Any) -> Reference | None:
        """The reference ``value`` is, or None when it is not a valid one."""
        if reference_violation(value, "$") is not None:
            return None
        return cls(value["store"], value["key"], value["sha256"], value["size"])

    def as_json(self) -> dict[str, Any]:
        """The reference as it travels in a message."""
        return {
            MARKER: VERSION,
            "store": self.store,
            "key": self.key,
            "sha256": self.sha256,
            "size": self.size,
            "content_type": CONTENT_TYPE,
        }


def is_marked(value: Any) -> bool:
    """True when ``value`` claims to be a reference: an object with the marker key."""
    return type(value) is dict and MARKER in value


def reference_violation(value: Any, path: str) -> Violation | None:
    """Why the marked ``value`` at ``path`` is not a valid reference; None when it is one."""
    problem = _problem(value)
    if problem is None:
        return None
    hint = (
        f"a reference as {REFERENCE_SCHEMA_FILE} describes it; an argument value may not itself "
        f"hold the key {MARKER!r} (it marks a reference)"
    )
    return Violation(path, f"has the claim-reference key {MARKER!r} but {problem}", hint)


def _problem(value: Any) -> str | None:
    if type(value) is not dict:
        return "is not an object"
    unknown = sorted(map(str, value.keys() - _FIELDS))
    if unknown:
        return f"has fields a reference does not have: {', '.join(unknown)}"
    missing = sorted(_FIELDS - value.keys())
    if missing:
        return f"lacks {', '.join(missing)}"
    version = value[MARKER]
    if type(version) is not int or version != VERSION:
        return f"its version is {version!r}, not {VERSION}"
    store, key, digest, size = value["store"], value["key"], value["sha256"], value["size"]
    if type(store) is not str or not _STORE.match(store):
        return f"its store {store!r} is not a store name ({STORE_PATTERN})"
    if type(key) is not str or not _KEY.match(key):
        return f"its key {key!r} is not a blob key ({KEY_PATTERN})"
    if type(digest) is not str or not _SHA256.match(digest):
        return "its sha256 is not 64 lowercase hex digits"
    if type(size) is not int or size < 0:
        return f"its size {size!r} is not a non-negative integer"
    if value["content_type"] != CONTENT_TYPE:
        return f"its content_type {value['content_type']!r} is not {CONTENT_TYPE!r}"
    return None
