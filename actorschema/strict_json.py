"""The strict JSON check: is a value exactly plain JSON, and if not, where not.

"Strict JSON" is what survives ``json.loads(json.dumps(value)) == value`` with
its types intact and what every other language's parser reads: ``dict`` with
``str`` keys, ``list``, ``str`` (valid Unicode), ``int``, finite ``float``,
``bool`` and ``None``, each of its exact type. Anything else is either not
JSON (``datetime``, ``set``, ``bytes``...) or would arrive silently changed
(a tuple as a list, ``{1: "a"}`` as ``{"1": "a"}``, a ``str``-Enum as a plain
string, ``NaN`` as a token other parsers reject).

Two functions share that definition: :func:`find_violations` walks the value
and names every offending path; :func:`is_strict_json` answers yes/no at C
speed, level by level, and is allowed to answer "no" when unsure (it then
hands over to :func:`find_violations`, which decides). The property tests
check that they agree.

One exception is structural: Dramatiq nests whole messages inside options
(``pipe_target``, ``group_completion_callbacks``) and callback arguments
(``message.asdict()``), and their ``args`` is a tuple. Inside a dict that has
exactly the fields of a Dramatiq message, a tuple under ``args`` travels as
an array and is accepted.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import math
import uuid
from collections.abc import Callable, Iterator
from itertools import chain, compress, repeat
from operator import is_
from typing import Any

from .errors import Violation, type_name
from .message import MESSAGE_FIELDS
from .paths import Path, render_path

__all__ = [
    "MAX_DEPTH",
    "MESSAGE_FIELDS",
    "find_violations",
    "has_json_shape",
    "has_non_finite_float",
    "is_strict_json",
    "type_name",
]

#: How deeply containers may nest inside one value. Deeper values are
#: rejected rather than risking a ``RecursionError`` in an encoder or in a
#: consumer written in another language. Dramatiq messages nested in options
#: (pipelines) start a new count, so long pipelines are not limited by it.
MAX_DEPTH = 128


#: At most this many violations are reported for one message.
MAX_VIOLATIONS = 20

#: At most this many values are looked at in one value. Only a structure that
#: shares its containers can hold more than memory allows (``a = [a, a]``
#: doubles at every level); past this it is rejected, never walked for ever.
MAX_NODES = 10_000_000

_NoneType = type(None)
_SCALARS = frozenset((str, int, float, bool, _NoneType))
_ALLOWED = _SCALARS | {dict, list}
_STR_ONLY = frozenset((str,))
_DICT_ONLY = {dict}
_LIST_ONLY = {list}


def is_strict_json(value: Any) -> bool:
    """Return True if ``value`` is certainly strict JSON.

    False means "not certain": call :func:`find_violations` for the verdict
    and the paths.
    """
    small = _small_is_strict(value)
    if small is not None:
        return small
    return has_json_shape(value) and not has_non_finite_float(value) and _all_writable(value)


def has_json_shape(value: Any) -> bool:
    """True if ``value`` holds only exact JSON types, with ``str`` keys, nested at most ``MAX_DEPTH`` deep.

    It does not look inside floats (``NaN``) or strings (lone surrogates): the
    gateway's single msgspec encoding catches both for free (see
    :func:`actorschema.encoder.encode_strict`). The walk goes one nesting
    level at a time and does each level's type checks with C iterators, so a
    10,000-item list costs a handful of Python steps rather than 10,000.
    """
    kind = type(value)
    if kind is dict:
        # The common cases, an empty dict or a flat one of scalars, in at most two C passes.
        if not value:
            return True
        if set(map(type, value.values())) <= _SCALARS:
            return set(map(type, value)) <= _STR_ONLY
    elif kind is list:
        if not value or set(map(type, value)) <= _SCALARS:
            return True
    else:
        return kind in _SCALARS
    plain = _plain_walk(value, _PLAIN_BUDGET, shape=True, floats=False, text=False)
    if plain is not None:
        return plain
    dicts: list[dict[Any, Any]] = [value] if kind is dict else []
    lists: list[list[Any]] = [value] if kind is list else []
    seen = 0
    for _depth in range(MAX_DEPTH):
        level_size = len(dicts) + len(lists)
        # Levels this wide are rare, and a cycle that branches (a = [a, a]) gets here fast:
        # one identity check then tells a shared container from a genuinely wide level.
        crossing = seen <= _SHARING_CHECK < seen + level_size
        if crossing and len(set(map(id, chain(dicts, lists)))) < level_size:
            return False  # not a tree: find_violations names the cycle
        seen += level_size
        if seen > MAX_NODES:
            return False
        if dicts and not set(map(type, chain.from_iterable(dicts))) <= _STR_ONLY:
            return False
        level = _level_values(dicts, lists)
        types = set(map(type, level()))
        if not types <= _ALLOWED:
            return False
        if dict not in types and list not in types:
            return True
        # A level of only dicts (or only lists) is the next level as it is.
        if types == _DICT_ONLY:
            dicts, lists = list(level()), []
        elif types == _LIST_ONLY:
            dicts, lists = [], list(level())
        else:
            dicts = list(_only(level, dict)) if dict in types else []
            lists = list(_only(level, list)) if list in types else []
    return False


def has_non_finite_float(value: Any) -> bool:
    """True if a ``NaN`` or infinite float sits anywhere in a value of JSON shape."""
    dicts, lists = _containers(value)
    if not dicts and not lists:
        return type(value) is float and not math.isfinite(value)
    plain = _plain_walk(value, _PLAIN_BUDGET, shape=False, floats=True, text=False)
    if plain is not None:
        return not plain
    # Callers check the shape first (depth included); the bound only guards misuse.
    for _depth in range(MAX_DEPTH + 1):
        if not dicts and not lists:
            break
        level = _level_values(dicts, lists)
        if not all(map(math.isfinite, _only(level, float))):
            return True
        dicts, lists = list(_only(level, dict)), list(_only(level, list))
    return False


def _all_writable(value: Any) -> bool:
    """True if every string (keys included) in a value of JSON shape is valid UTF-8 text
    and every int is short enough for Python to write as text."""
    dicts, lists = _containers(value)
    if not dicts and not lists:
        return _describe(value, type(value)) is None
    for _depth in range(MAX_DEPTH + 1):
        if not dicts and not lists:
            break
        level = _level_values(dicts, lists)
        if not _utf8_ok(chain(chain.from_iterable(dicts), _only(level, str))):
            return False
        if max(map(int.bit_length, _only(level, int)), default=0) > _INT_TEXT_BITS:
            return False
        dicts, lists = list(_only(level, dict)), list(_only(level, list))
    return True


def _containers(value: Any) -> tuple[list[dict[Any, Any]], list[list[Any]]]:
    kind = type(value)
    return ([value] if kind is dict else []), ([value] if kind is list else [])


def _level_values(dicts: list[dict[Any, Any]], lists: list[list[Any]]) -> Callable[[], Iterator[Any]]:
    """A fresh iterator over one level's values each call: re-walking beats materialising."""

    def level() -> Iterator[Any]:
        return chain(chain.from_iterable(map(dict.values, dicts)), chain.from_iterable(lists))

    return level


#: Up to this many container items, a plain walk beats the level-by-level one
#: (whose fixed cost per level dominates on small and mid-sized values).
_PLAIN_BUDGET = 2048
#: After this many containers, the level-by-level walk checks once for shared ones.
_SHARING_CHECK = 100_000
_SMALL = 64


def _small_is_strict(value: Any) -> bool | None:
    """The full verdict for a small value, or None once it holds more than ``_SMALL`` items."""
    return _plain_walk(value, _SMALL, shape=True, floats=True, text=True)


def _plain_walk(value: Any, budget: int, *, shape: bool, floats: bool, text: bool) -> bool | None:
    """Walk ``value`` depth-first, checking what the caller asks for, within a budget of items.

    Returns True when every requested check passed, False when one failed,
    and None when the value holds more than ``budget`` items or nests deeper
    than ``MAX_DEPTH`` (a cycle does both): the level-by-level walk decides.

    Parameters:
      shape: Check exact JSON types and ``str`` keys.
      floats: Check that floats are finite.
      text: Check that strings and keys are valid UTF-8 text, and ints short enough to write.
    """
    stack: list[tuple[Any, int]] = [([value], 0)]
    items = 0
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return None
        items += len(node)
        if items > budget:
            return None
        if type(node) is dict:
            for key in node:
                if shape and type(key) is not str:
                    return False
                if text and not (key.isascii() or _utf8_ok((key,))):
                    return False
            node = node.values()
        for child in node:
            kind = type(child)
            if kind is dict or kind is list:
                stack.append((child, depth + 1))
            elif kind is float:
                if floats and not math.isfinite(child):
                    return False
            elif kind is str:
                if text and not child.isascii() and not _utf8_ok((child,)):
                    return False
            elif kind is int:
                if text and child.bit_length() > _INT_TEXT_BITS:
                    return False
            elif shape and kind is not bool and child is not None:
                return False
    return True


def _only(values: Callable[[], Iterator[Any]] | list[Any], kind: type) -> Iterator[Any]:
    """The items of exactly type ``kind``; ``values`` is a list or a fresh-iterator factory."""
    items, types = (values(), map(type, values())) if callable(values) else (values, map(type, values))
    return compress(items, map(is_, types, repeat(kind)))


def _utf8_ok(strings: Any) -> bool:
    try:
        "".join(strings).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def find_violations(value: Any, path: Path = ()) -> list[Violation]:
    """Walk ``value`` and return one :class:`Violation` per offending node.

    Parameters:
      value: The value to check.
      path: Where ``value`` sits in the message; prefixed to every path.

    Returns:
      The violations in depth-first order, at most ``MAX_VIOLATIONS``; an
      empty list when ``value`` is strict JSON.
    """
    found: list[Violation] = []
    # An explicit stack: a recursive walk would itself hit the recursion
    # limit on the deep or circular values it exists to report. Each entry
    # carries whether a tuple is structural there (``args`` of a nested
    # Dramatiq message).
    stack: list[tuple[Any, Path, int, frozenset[int], bool]] = [(value, path, 0, frozenset(), False)]
    visited = 0
    while stack and len(found) < MAX_VIOLATIONS:
        node, where, depth, ancestors, tuple_ok = stack.pop()
        visited += 1
        if visited > MAX_NODES:
            problem = f"holds more than {MAX_NODES:,} values (containers shared many times over?)"
            found.append(Violation(render_path(path), problem, "a smaller value: an id or a path"))
            break
        kind = type(node)
        if kind is dict or kind is list or (kind is tuple and tuple_ok):
            if id(node) in ancestors:
                found.append(Violation(render_path(where), "is a circular reference", _HINT_CYCLE))
                continue
            if depth >= MAX_DEPTH:
                problem = f"nests deeper than {MAX_DEPTH} levels"
                found.append(Violation(render_path(where), problem, "a flatter structure"))
                continue
            inner = ancestors | {id(node)}
            children: list[tuple[Any, Path, int, frozenset[int], bool]]
            if kind is dict:
                found.extend(_key_violations(node, where))
                if node.keys() == MESSAGE_FIELDS:
                    children = [(v, (*where, k), 0, inner, k == "args") for k, v in node.items()]
                else:
                    children = [(v, (*where, k), depth + 1, inner, False) for k, v in node.items()]
            else:
                children = [(v, (*where, i), depth + 1, inner, False) for i, v in enumerate(node)]
            stack.extend(reversed(children))
            continue
        problem_hint = _describe(node, kind)
        if problem_hint is not None:
            found.append(Violation(render_path(where), *problem_hint))
    return found[:MAX_VIOLATIONS]


def _key_violations(node: dict[Any, Any], where: Path) -> list[Violation]:
    found: list[Violation] = []
    seen: dict[str, Any] = {}
    for key in node:
        if type(key) is str:
            if not (key.isascii() or _utf8_ok((key,))):
                found.append(
                    Violation(render_path((*where, key)), "has a key with a lone surrogate", _HINT_TEXT)
                )
            continue
        text = _json_key_text(key)
        if text is None:
            problem = f"has a key {key!r} of type {type_name(key)}; JSON object keys must be strings"
        else:
            problem = f"has a key {key!r} ({type_name(key)}) that JSON turns into the string {text!r}"
        found.append(
            Violation(render_path(where), problem, "str keys: {str(k): v for k, v in value.items()}")
        )
        if text is not None:
            seen.setdefault(text, key)
    for text, key in seen.items():
        if text in node:
            problem = f"has keys {key!r} and {text!r}, which collide as {text!r}; one would be lost"
            found.append(Violation(render_path(where), problem, "distinct str keys"))
    return found


def _json_key_text(key: Any) -> str | None:
    if key is None:
        return "null"
    if key is True:
        return "true"
    if key is False:
        return "false"
    if isinstance(key, int):
        try:
            return str(int(key))
        except ValueError:  # too many digits to write
            return None
    if isinstance(key, float):
        # What json.dumps writes for a float key; infinities and NaN as JavaScript's names.
        return {math.inf: "Infinity", -math.inf: "-Infinity"}.get(key, "NaN" if key != key else repr(key))
    return None


# Ints below this many bits have fewer than 4,300 digits, Python's default limit for int <-> text.
_INT_TEXT_BITS = 14_000
_HINT_CYCLE = "a tree: JSON has no references, so pass ids instead of back-links"
_HINT_TEXT = "valid Unicode text (lone surrogates such as '\\ud800' cannot be encoded as UTF-8)"
_HINT_BINARY = (
    "a path or an object-store key; for a few bytes, base64 text (or declare the parameter as bytes)"
)


def _describe(value: Any, kind: type) -> tuple[str, str] | None:
    """Return (problem, hint) for a leaf that is not strict JSON, else None."""
    if kind is str:
        return None if value.isascii() or _utf8_ok((value,)) else ("contains a lone surrogate", _HINT_TEXT)
    if kind is float:
        if math.isfinite(value):
            return None
        return (
            f"is {value!r}, which JSON cannot represent (most parsers reject NaN and Infinity)",
            "null, or a finite number, or a string such as 'NaN' declared as such",
        )
    if kind is int and value.bit_length() > _INT_TEXT_BITS:
        try:
            str(value)
        except ValueError:
            return (
                "is an integer too long to write as JSON text (Python's limit is 4,300 digits)",
                "a string of its digits, or (better) an id",
            )
        return None
    if kind in _SCALARS:
        return None
    name = type_name(value)
    if isinstance(value, enum.Enum):
        return (
            f"is the enum member {value!r}, which arrives as its bare value {value.value!r}",
            "value.value, or declare the parameter with the Enum type so it is converted back",
        )
    if isinstance(value, bool | int | float | str | list | dict):
        base = next(b for b in (bool, int, float, str, list, dict) if isinstance(value, b)).__name__
        return (
            f"is a {name} (a {base} subclass), which arrives as a plain {base}",
            f"{base}(value), or declare the parameter's type so it is converted back",
        )
    if isinstance(value, tuple):
        if hasattr(value, "_fields"):
            return (f"is a namedtuple {name}, which arrives as a list", "value._asdict(), or a list")
        return ("is a tuple, which arrives as a list", "a list, or declare the parameter as tuple[...]")
    return _describe_object(value, name)


#: What to send instead of a value of a common type that is not JSON, first match wins (a
#: datetime is a date).
_INSTEAD: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (datetime.datetime, "value.isoformat() with a UTC offset, or declare the parameter as datetime"),
    (datetime.date, "value.isoformat(), or declare the parameter as date"),
    (datetime.time, "value.isoformat() with a UTC offset, or declare the parameter as time"),
    (datetime.timedelta, "value.total_seconds(), or declare the parameter as timedelta"),
    (uuid.UUID, "str(value), or declare the parameter as UUID"),
    (decimal.Decimal, "str(value) to keep every digit, or declare the parameter as Decimal"),
    ((bytes, bytearray, memoryview), _HINT_BINARY),
    ((set, frozenset), "a list, e.g. sorted(value), or declare the parameter as set[...]"),
    (complex, "a [real, imag] pair"),
)


def _describe_object(value: Any, name: str) -> tuple[str, str]:
    not_json = f"is a {name}, which is not JSON"
    for kind, instead in _INSTEAD:
        if isinstance(value, kind):
            return (not_json, instead)
    if hasattr(value, "model_dump"):
        return (not_json, "declare the parameter with the model type, or value.model_dump(mode='json')")
    if dataclasses.is_dataclass(value):
        return (not_json, "dataclasses.asdict(value), or declare a pydantic model for the parameter")
    return (not_json, "its id, or a dict of plain values")
