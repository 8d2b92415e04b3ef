"""What a parameter's type hint means on the wire: its hint classified once, at declare time.

Every hint is turned into a small tree of wire kinds (modelled on
``msgspec.inspect``): scalars, floats, times, sequences, mappings with a key
kind, records with fields (pydantic models, dataclasses, ``TypedDict``,
``NamedTuple``, msgspec ``Struct``), unions, and ``Any`` positions. From the
tree, and not from three pydantic modes that drift apart, come:

* whether the hint round-trips at all: :func:`classify` raises
  :class:`Unsupported` for a hint whose JSON form is not what its validator
  reads back (a ``SecretStr`` stores its mask, a serializer writes what no
  validator checks, an excluded field is lost, a ``Literal[1, 2]`` dict key
  comes back as text...), with the place inside the type, the reason and what
  to declare instead;
* where a validated value must still be walked before it is written
  (:func:`hidden_by_json_form`): ``Any`` positions held to strict JSON, non-finite
  floats (pydantic writes ``null``), naive or second-offset times, dict keys
  that are not text;
* where two dict keys become the same key once converted (``"1"`` and
  ``"01"`` for an ``int`` key): :func:`key_collisions`, on send and on the
  worker, names both keys instead of letting one entry silently win.

pydantic stays the conversion engine; the tree decides which forms are used
and what is refused. Two hints pydantic does not take as they are are
rewritten for it (:func:`for_pydantic`): a stdlib ``typing.TypedDict`` (refused by
pydantic before Python 3.12) is re-created as a ``typing_extensions.TypedDict``,
and a msgspec ``Struct`` is validated and written by msgspec itself, with
msgspec's JSON Schema.

The hints themselves are read here too: :func:`resolve_annotations` evaluates
only the annotations asked for (a return type imported under ``TYPE_CHECKING``
never blocks the parameters), and :func:`hint_text` writes a hint as people
read it in an error.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import datetime
import decimal
import enum
import functools
import inspect
import math
import operator
import re
import sys
import types
import typing
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

import msgspec
import pydantic
import pydantic.networks
import typing_extensions
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, TypeAdapter
from pydantic.fields import FieldInfo
from pydantic.functional_serializers import PlainSerializer, WrapSerializer
from pydantic_core import PydanticCustomError, core_schema

from .errors import Violation
from .paths import Path, render_path
from .patterns import Untranslatable, translate
from .ranges import decimal_multiple, float_exact
from .strict_json import find_violations

__all__ = [
    "Node",
    "Unsupported",
    "annotated_target",
    "classify",
    "flag_values",
    "for_pydantic",
    "hidden_by_json_form",
    "hint_text",
    "in_set_order",
    "key_collisions",
    "opaque_leaves",
    "reads_json_as_python",
    "resolve_annotation",
    "resolve_annotations",
]

#: This pydantic reads base64 bytes back from JSON (``val_json_bytes``, newer than ``ser_json_bytes``).
BASE64_READABLE = "val_json_bytes" in pydantic.ConfigDict.__annotations__

#: Most values a ``Flag`` may take before its schema (every combination, listed) is refused as too large.
MAX_FLAG_VALUES = 1024


class Unsupported(Exception):
    """A hint whose values cannot make the round trip to JSON and back.

    Parameters:
      where: The place inside the hint, e.g. ``Order.secret`` or ``dict key``.
      why: What goes wrong on the wire.
      instead: What to declare instead.
    """

    def __init__(self, where: str, why: str, instead: str) -> None:
        super().__init__(f"{where}: {why}; declare {instead}")
        self.where = where
        self.why = why
        self.instead = instead


@dataclasses.dataclass(eq=False)
class Node:
    """One position in a hint's wire tree.

    Parameters:
      kind: ``any`` (strict JSON), ``float``, ``time`` (``datetime``/``time``),
        ``leaf`` (a value pydantic writes exactly), ``seq``, ``map``, ``record``,
        ``root`` (a ``RootModel``) or ``union``; a dict key is ``text``, ``any``,
        or ``converted``/``float``/``time`` (its text is converted back, and
        two texts may name one key).
      hint: The hint at this position.
      children: Item nodes (``seq``; one per position for a fixed tuple), the
        value node of a ``map``, the members of a ``union``, the value of a ``root``.
      key: A ``map``'s key node.
      fields: A record's fields: attribute name, key on the wire, node.
      record: How a record holds its fields: ``model``, ``dataclass``,
        ``typeddict``, ``namedtuple`` or ``struct``.
      extras: A model's ``extra="allow"`` values.
      variadic: A ``seq`` whose one child applies to every item.
    """

    kind: str
    hint: Any
    children: list[Node] = dataclasses.field(default_factory=list)
    key: Node | None = None
    fields: list[tuple[str, str | int, Node]] = dataclasses.field(default_factory=list)
    record: str = ""
    extras: Node | None = None
    variadic: bool = True
    #: Values under this node may hide something from the JSON form (see hidden_by_json_form).
    walks: bool = False
    #: Some dict under this node has keys that two texts can name (see key_collisions).
    collides: bool = False
    #: A ``union`` with a discriminator (pydantic picks the member by its tag).
    tagged: bool = False
    #: Some union under this node has members whose JSON forms may overlap: the worker
    #: could pick another member than the one sent (``A | B`` with the same fields).
    overlaps: bool = False
    #: A ``seq`` that is a set (``set``, ``frozenset``): its items have no order of their own.
    unordered: bool = False
    #: Some set under this node: its JSON form is put in one order (see in_set_order).
    sorts: bool = False
    _key_adapter: TypeAdapter[Any] | None = dataclasses.field(default=None, repr=False)
    #: A record's ``float`` fields, read at C speed (see _finite), and its other fields that walk.
    _floats: Callable[[Any], Any] | None = dataclasses.field(default=None, repr=False)
    _deep: list[tuple[str, str | int, Node]] = dataclasses.field(default_factory=list, repr=False)
    _float_each: list[Callable[[Any], Any]] = dataclasses.field(default_factory=list, repr=False)

    def successors(self) -> list[Node]:
        found = [*self.children, *(node for _, _, node in self.fields)]
        found.extend(node for node in (self.key, self.extras) if node is not None)
        return found

    def key_adapter(self) -> TypeAdapter[Any]:
        assert self.key is not None
        if self._key_adapter is None:
            self._key_adapter = TypeAdapter(for_pydantic(self.key.hint))
        return self._key_adapter


def classify(hint: Any, *, base64_bytes: bool = True) -> Node:
    """Classify ``hint`` into its wire tree, or raise :class:`Unsupported`.

    Parameters:
      hint: A resolved parameter hint (``inspect.Parameter.empty`` for none).
      base64_bytes: ``bytes`` outside any model travel as base64url (the
        gateway's adapter config applies to the hint).
    """
    root = _Classifier(base64_bytes and BASE64_READABLE).node(hint, _hint_name(hint))
    _mark(root)
    return root


def _reachable(root: Node) -> list[Node]:
    """``root`` and every node reachable from it, each once (a recursive hint is a cycle)."""
    found: list[Node] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) not in seen:
            seen.add(id(node))
            found.append(node)
            stack.extend(node.successors())
    return found


#: Modules whose types at a leaf pydantic always writes a JSON Schema for.
_KNOWN_MODULES = frozenset(
    ("builtins", "datetime", "decimal", "uuid", "ipaddress", "pathlib", "enum", "typing", "typing_extensions")
)


def opaque_leaves(root: Node) -> list[Any]:
    """The leaf hints under ``root`` that actorschema knows nothing of (a custom type, ``Callable``, ``InstanceOf``).

    Only pydantic can tell whether such a type has a JSON Schema; without one, the
    worker (which checks each message against its schema) could never accept a message.
    """
    found = []
    for node in _reachable(root):
        hint = node.hint
        if node.kind != "leaf" or typing.get_origin(hint) is typing.Literal:
            continue
        module = getattr(hint, "__module__", "") or ""
        if not isinstance(hint, type) or not (
            module in _KNOWN_MODULES or module.split(".")[0] in ("pydantic", "pydantic_core")
        ):
            found.append(hint)
    return found


def _mark(root: Node) -> None:
    """Set ``walks`` and ``collides`` on every node: what is reachable from it (recursive hints loop)."""
    nodes = _reachable(root)
    for node in nodes:
        reach = _reachable(node)
        node.walks = any(_walks_here(n) for n in reach)
        node.collides = any(n.kind == "map" and n.key is not None and n.key.kind in _CONVERTED for n in reach)
        node.overlaps = any(_may_overlap(n) for n in reach)
        node.sorts = any(n.unordered for n in reach)
    for node in nodes:
        floats = [attribute for attribute, _, child in node.fields if child.kind == "float"]
        if floats and node.record != "typeddict":
            getter = operator.attrgetter(*floats)
            node._floats = getter if len(floats) > 1 else lambda value, one=getter: (one(value),)
            node._float_each = [operator.attrgetter(attribute) for attribute in floats]
        node._deep = [
            field
            for field in node.fields
            if field[2].walks and not (node._floats and field[2].kind == "float")
        ]


_CONVERTED = ("converted", "float", "time")
#: Union members whose JSON forms never overlap (pydantic's smart mode picks them by exact type).
_DISTINCT = (int, float, str, bool, type(None), None)  # a tuple: hints may be unhashable


def _may_overlap(node: Node) -> bool:
    """Could two members of this union share a JSON form, so that pydantic's smart mode picks another?"""
    if node.kind != "union" or node.tagged:
        return False
    members = [child for child in node.children if child.hint not in (None, type(None))]
    if len(members) < 2:
        return False
    if any(child.kind == "any" for child in members):
        return True
    distinct = [
        child
        for child in members
        if child.hint in _DISTINCT or typing.get_origin(child.hint) is typing.Literal
    ]
    structured = [child for child in members if child.kind in ("record", "root", "map", "seq", "union")]
    texts = [child for child in members if child not in distinct and child not in structured]
    return len(structured) >= 2 or len(texts) >= 2 or bool(texts and distinct)


def _walks_here(node: Node) -> bool:
    if node.kind in ("any", "float", "time") or node.extras is not None:
        return True
    return node.kind == "map" and node.key is not None and node.key.kind in ("any", "float", "time")


_EMPTY_HINTS = (Any, object)
# SecretStr, SecretBytes and Secret[T] share this private base; their public bases differ.
_SECRETS: tuple[type, ...] = (
    getattr(pydantic.types, "_SecretBase", pydantic.SecretStr),
    pydantic.SecretBytes,
)
_TIME_TYPES = (datetime.datetime, datetime.time)
# PostgresDsn, MongoDsn, NatsDsn...: pydantic's URLs with several hosts, on a private base.
_MULTI_HOST_URLS: tuple[type, ...] = tuple(
    base for base in (getattr(pydantic.networks, "_BaseMultiHostUrl", None),) if isinstance(base, type)
)
_ITERATORS = (
    collections.abc.Iterable,
    collections.abc.Iterator,
    collections.abc.Generator,
    collections.abc.AsyncIterable,
)
_SEQUENCES = (
    list,
    tuple,
    set,
    frozenset,
    collections.deque,
    collections.abc.Sequence,
    collections.abc.MutableSequence,
    collections.abc.Set,
    collections.abc.MutableSet,
)
_MAPPINGS = (dict, collections.abc.Mapping, collections.abc.MutableMapping, collections.OrderedDict)
_TEXT_KEY_TYPES = (str,)
#: Dict key types whose JSON text converts back exactly, but where two texts may name one key.
_CONVERTED_KEY_TYPES = (int, datetime.date, decimal.Decimal, uuid.UUID)  # bool is an int


class _Classifier:
    def __init__(self, base64_bytes: bool) -> None:
        self.records: dict[Any, Node] = {}
        #: The bytes encoding in effect: the enclosing model's config, else the adapter's.
        self.base64_bytes = base64_bytes

    def node(self, hint: Any, where: str) -> Node:
        if hint is inspect.Parameter.empty or hint in _EMPTY_HINTS:
            return Node("any", hint)
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin is typing.Annotated:
            return self.annotated(hint, args, where)
        if origin in (typing.Union, types.UnionType):
            _check_struct_union(args, where)
            return Node("union", hint, [self.node(arg, where) for arg in args])
        if origin is typing.Literal:
            return Node("leaf", hint)
        if origin in (typing_extensions.Required, typing_extensions.NotRequired, typing_extensions.ReadOnly):
            return self.node(args[0], where)
        if origin in _ITERATORS:
            raise Unsupported(
                where, "is validated into a one-shot iterator, not a value", "list[...] instead"
            )
        if origin in _MAPPINGS or hint in _MAPPINGS:
            key, value = args if len(args) == 2 else (Any, Any)
            return Node("map", hint, [self.node(value, f"{where}[value]")], key=self.key(key, where))
        if origin in _SEQUENCES or hint in _SEQUENCES:
            return self.sequence(hint, origin or hint, args, where)
        if origin is not None and isinstance(origin, type) and issubclass(origin, pydantic.BaseModel):
            return self.record(hint, where)  # a parametrised generic model
        supertype = getattr(hint, "__supertype__", None)  # typing.NewType
        if supertype is not None:
            return self.node(supertype, where)
        alias_value = getattr(hint, "__value__", None)  # a ``type X = ...`` alias (Python 3.12+)
        if alias_value is not None and not isinstance(hint, type):
            return self.node(alias_value, where)
        if not isinstance(hint, type):
            return Node("leaf", hint)
        return self.of_class(hint, where)

    def annotated(self, hint: Any, args: tuple[Any, ...], where: str) -> Node:
        base, *metadata = args
        tagged = False
        for meta in metadata:
            if getattr(meta, "discriminator", None) is not None or isinstance(meta, pydantic.Discriminator):
                tagged = True
            if isinstance(meta, PlainSerializer | WrapSerializer):
                raise Unsupported(
                    where,
                    f"has a {type(meta).__name__}: what it writes is not what the validator reads back",
                    "the type whose JSON form you want stored, without a serializer",
                )
            if isinstance(meta, FieldInfo) and meta.exclude:
                raise Unsupported(
                    where, "is excluded from the JSON form (exclude=True)", "it without exclude"
                )
            if isinstance(meta, pydantic.Json):
                raise Unsupported(
                    where,
                    "is JSON text inside JSON: the published schema cannot check what the text holds "
                    "(contentSchema is only an annotation), so producers' messages the schema accepts "
                    "would be dead-lettered by the worker",
                    "the parsed type itself (Json[list[int]] -> list[int]): the message then carries the value",
                )
        _check_constraints(_strip(base), metadata, where)
        node = self.node(base, where)
        if tagged and node.kind == "union":
            node.tagged = True
        return node

    def sequence(self, hint: Any, origin: Any, args: tuple[Any, ...], where: str) -> Node:
        if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
            if args == ((),):
                return Node("seq", hint, [], variadic=False)
            items = [self.node(arg, f"{where}[{index}]") for index, arg in enumerate(args)]
            return Node("seq", hint, items, variadic=False)
        item = args[0] if args else Any
        unordered = isinstance(origin, type) and issubclass(origin, collections.abc.Set)
        return Node("seq", hint, [self.node(item, f"{where}[]")], unordered=unordered)

    def key(self, hint: Any, where: str) -> Node:
        """A dict's key: text, a type two texts may name, or refused."""
        place = f"{where} (a dict key)"
        base = _strip(hint)
        if base in _EMPTY_HINTS:
            return Node("any", hint)
        instead = "str, int, an IntEnum or a str Enum as the key type"
        if typing.get_origin(base) is typing.Literal:
            values = typing.get_args(base)
            if all(type(value) is str for value in values):
                return Node("text", hint)
            raise Unsupported(place, f"{base!r} keys travel as text, which no Literal member equals", instead)
        if isinstance(base, type):
            if issubclass(base, enum.Flag):  # IntFlag too: pydantic reads only single members from key text
                raise Unsupported(
                    place, f"{base.__name__} keys travel as text, which no member equals", instead
                )
            if issubclass(base, enum.Enum):
                if all(type(member.value) is str for member in base):
                    return Node("text", hint)
                if issubclass(base, int):
                    return Node("converted", hint)
                raise Unsupported(
                    place, f"{base.__name__} keys travel as text, which no member equals", instead
                )
            if issubclass(base, _TEXT_KEY_TYPES):
                return Node("text", hint)
            if issubclass(base, float):
                return Node("float", hint)  # also walked: a non-finite key has no JSON text
            if issubclass(base, _TIME_TYPES):
                return Node("time", hint)  # also walked: a naive key would name another instant
            if issubclass(base, _CONVERTED_KEY_TYPES):
                return Node("converted", hint)
        raise Unsupported(place, f"{base!r} keys do not survive as JSON object keys", instead)

    def of_class(self, hint: type, where: str) -> Node:
        if issubclass(hint, _SECRETS):
            raise Unsupported(
                where,
                "is a secret type: its JSON form is the mask '**********', not the secret",
                "a reference the worker can look the secret up by (a key name, a vault path), as str",
            )
        if issubclass(hint, _MULTI_HOST_URLS):
            raise Unsupported(
                where,
                "is a URL with several hosts, a form no JSON Schema pattern states exactly: a producer's "
                "validator would accept text the worker refuses",
                "the URL as str, parsed in the actor, or a single-host URL type (AnyUrl, or a DSN type "
                "such as RedisDsn)",
            )
        if _is_v1_model(hint):
            return Node("leaf", hint)  # pydantic.v1 models: the failclosed workstream decides
        if issubclass(hint, float):
            return Node("float", hint)
        if issubclass(hint, bytes | bytearray) and not BASE64_READABLE:
            raise Unsupported(
                where,
                f"cannot travel as base64url with pydantic {pydantic.VERSION}, which reads bytes from JSON "
                "as UTF-8 text only (val_json_bytes came later)",
                "base64url text as str, decoded in the actor, or a newer pydantic",
            )
        if issubclass(hint, bytes | bytearray) and not self.base64_bytes:
            raise Unsupported(
                where,
                "travels as UTF-8 text under this model's config (pydantic's default), so bytes that are not "
                "UTF-8 cannot be sent; actorschema stores bytes as base64url everywhere",
                "model_config = ConfigDict(ser_json_bytes='base64', val_json_bytes='base64') on the class "
                "that holds it (pydantic.with_config for a TypedDict or dataclass)",
            )
        if issubclass(hint, _TIME_TYPES):
            return Node("time", hint)
        if issubclass(hint, enum.Flag) and not _flag_fits(hint):
            raise Unsupported(
                where,
                f"{hint.__name__} has more than {MAX_FLAG_VALUES} combinations to list in its schema",
                "list[...] of a plain Enum of its members",
            )
        if issubclass(hint, pydantic.BaseModel) or dataclasses.is_dataclass(hint) or _is_typeddict(hint):
            return self.record(hint, where)
        if issubclass(hint, tuple) and hasattr(hint, "_fields"):
            return self.record(hint, where)
        if issubclass(hint, msgspec.Struct):
            return self.record(hint, where)
        return Node("leaf", hint)

    def record(self, hint: Any, where: str) -> Node:
        if hint in self.records:
            return self.records[hint]
        node = self.records[hint] = Node("record", hint)
        cls = typing.get_origin(hint) or hint
        outer = self.base64_bytes
        config: Mapping[str, Any] | None = getattr(cls, "model_config", None)
        if config is None:
            config = getattr(cls, "__pydantic_config__", None)
        if config is None and isinstance(cls, type) and issubclass(cls, pydantic.BaseModel):
            config = {}
        if config is not None:
            self.base64_bytes = (
                BASE64_READABLE
                and config.get("ser_json_bytes") == "base64"
                and config.get("val_json_bytes") == "base64"
            )
        try:
            return self.record_fields(node, hint, cls)
        finally:
            self.base64_bytes = outer

    def record_fields(self, node: Node, hint: Any, cls: Any) -> Node:
        name = _hint_name(hint)
        if isinstance(cls, type) and issubclass(cls, pydantic.RootModel):
            node.kind = "root"
            node.children = [self.node(_field_type(hint.model_fields["root"]), f"{name}.root")]
            return node
        if isinstance(cls, type) and issubclass(cls, pydantic.BaseModel):
            self.model(node, hint, name)
        elif isinstance(cls, type) and issubclass(cls, msgspec.Struct):
            self.struct(node, cls, name)
        elif dataclasses.is_dataclass(cls):
            node.record = "dataclass"
            fields: Mapping[str, FieldInfo] | None = getattr(cls, "__pydantic_fields__", None)
            if fields is not None:
                config: Mapping[str, Any] = getattr(cls, "__pydantic_config__", {})
                self.pydantic_fields(
                    node,
                    fields,
                    name,
                    validate_by_alias=config.get("validate_by_alias", True),
                    validate_by_name=config.get("validate_by_name", False)
                    or config.get("populate_by_name", False),
                )
            else:
                hints = typing.get_type_hints(cls, include_extras=True)
                for field in dataclasses.fields(cls):
                    node.fields.append(
                        (field.name, field.name, self.node(hints[field.name], f"{name}.{field.name}"))
                    )
        elif _is_typeddict(cls):
            node.record = "typeddict"
            for key, field_hint in typing.get_type_hints(cls, include_extras=True).items():
                node.fields.append((key, key, self.node(field_hint, f"{name}.{key}")))
        else:
            node.record = "namedtuple"
            hints = typing.get_type_hints(cls, include_extras=True) if cls.__annotations__ else {}
            for index, attribute in enumerate(cls._fields):
                node.fields.append(
                    (attribute, index, self.node(hints.get(attribute, Any), f"{name}.{attribute}"))
                )
        return node

    def model(self, node: Node, hint: Any, name: str) -> None:
        cls = typing.get_origin(hint) or hint
        node.record = "model"
        decorators = cls.__pydantic_decorators__
        if decorators.model_serializers:
            raise Unsupported(
                name,
                "has a model_serializer: what it writes is not what the validator reads back",
                "the fields you want stored, without a model_serializer",
            )
        for decorator in decorators.field_serializers.values():
            fields = ", ".join(decorator.info.fields)
            raise Unsupported(
                f"{name}.{decorator.info.fields[0]}",
                f"has a field_serializer ({decorator.cls_var_name}, for {fields}): what it writes is not "
                "what the validator reads back",
                "the field as the type whose JSON form you want stored, without a serializer",
            )
        config = cls.model_config
        by_alias = config.get("validate_by_alias", True)
        by_name = config.get("validate_by_name", False) or config.get("populate_by_name", False)
        self.pydantic_fields(
            node, hint.model_fields, name, validate_by_alias=by_alias, validate_by_name=by_name
        )
        if config.get("extra") == "allow":
            extra_hint = _extras_hint(cls)
            node.extras = self.node(extra_hint, f"{name} (extra fields)")

    def pydantic_fields(
        self,
        node: Node,
        fields: Mapping[str, FieldInfo],
        name: str,
        *,
        validate_by_alias: bool,
        validate_by_name: bool,
    ) -> None:
        for attribute, field in fields.items():
            where = f"{name}.{attribute}"
            if field.exclude:
                raise Unsupported(
                    where,
                    "is excluded from the JSON form (exclude=True): the worker would never receive it",
                    "a private attribute (PrivateAttr) or a field without exclude",
                )
            for meta in field.metadata:
                if isinstance(meta, PlainSerializer | WrapSerializer):
                    raise Unsupported(
                        where,
                        f"has a {type(meta).__name__}: what it writes is not what the validator reads back",
                        "the type whose JSON form you want stored, without a serializer",
                    )
            written = field.serialization_alias or field.alias or attribute
            read = _read_key(field, attribute, validate_by_alias, validate_by_name, where)
            if written != read:
                raise Unsupported(
                    where,
                    f"is written as {written!r} but read (and published) as {read!r}",
                    f"Field(alias={read!r}) (one name for both directions)",
                )
            node.fields.append((attribute, written, self.node(_field_type(field), where)))

    def struct(self, node: Node, cls: type, name: str) -> None:
        node.record = "struct"
        info = msgspec.inspect.type_info(cls)
        assert isinstance(info, msgspec.inspect.StructType)
        if info.array_like:
            raise Unsupported(
                name, "is array_like: its schema and field names disagree", "a Struct without array_like"
            )
        struct_json_schema(cls)  # refuses recursive Structs, whose schema cannot be inlined
        hints = typing.get_type_hints(cls, include_extras=True)
        for field in info.fields:
            where = f"{name}.{field.name}"
            _check_struct_type(field.type, where)
            node.fields.append((field.name, field.encode_name, self.node(hints[field.name], where)))


#: Bounds of a ``Decimal``, published as patterns on its text (:mod:`actorschema.ranges`).
_DECIMAL_BOUNDS = ("gt", "ge", "lt", "le")


def _constraints(metadata: Any) -> Iterator[Any]:
    """Each constraint object of an ``Annotated`` hint's metadata, a ``Field(...)``'s own unpacked."""
    for meta in metadata:
        if isinstance(meta, FieldInfo):
            yield from meta.metadata
        else:
            yield meta


def _check_constraints(base: Any, metadata: Any, where: str) -> None:
    """Refuse the constraints no published schema states as the worker's validator applies them.

    A user ``pattern`` that :func:`~actorschema.patterns.translate` cannot write alike for every
    regex dialect; a ``Decimal`` constraint its published pattern cannot state (:func:`_check_decimal`).
    """
    for meta in _constraints(metadata):
        pattern = getattr(meta, "pattern", None)
        if isinstance(pattern, str):
            try:
                translate(pattern)
            except Untranslatable as error:
                raise Unsupported(
                    f"{where} (pattern {pattern!r})", error.why, f"the pattern with {error.instead}"
                ) from None
        if base is decimal.Decimal:
            _check_decimal(meta, where)


def _check_decimal(meta: Any, where: str) -> None:
    """Refuse the ``Decimal`` constraints the published pattern cannot state exactly (:mod:`.ranges`)."""
    for bound in _DECIMAL_BOUNDS:
        value = getattr(meta, bound, None)
        if value is not None and value != 0 and not float_exact(value):
            raise Unsupported(
                where,
                f"is a Decimal with {bound}={value!r}, which is {_exactly(value)}: a JSON number the "
                "producer writes is read as a float, compared with the bound as a float by the schema "
                "and as its shortest text by the worker, and the two verdicts differ at the bound",
                f"the bound as a Decimal with at most 15 significant digits, e.g. {bound}=Decimal('9.99')",
            )
    multiple_of = getattr(meta, "multiple_of", None)
    if multiple_of is not None and decimal_multiple(multiple_of) is None:
        raise Unsupported(
            where,
            f"is a Decimal with multiple_of={multiple_of!r}: decimals travel as text, and only a step "
            "whose significant digits are 1, 2, 4, 5 or 25, written as a Decimal (Decimal('0.05'), "
            "Decimal('0.25'), 5), is decided by its last digits, which a pattern states exactly",
            "Decimal with decimal_places (or such a multiple_of) and the step checked in the actor, "
            "or an int count of the unit with multiple_of",
        )


def _exactly(value: Any) -> str:
    """How a bound reads as an exact decimal (a float's binary value), for a refusal."""
    try:
        return f"exactly {decimal.Decimal(value)}"
    except (TypeError, ValueError, ArithmeticError):
        return "not a decimal"


def _check_struct_union(members: tuple[Any, ...], where: str) -> None:
    """Untagged Structs in one union: the first that converts wins, which may not be the one sent."""
    untagged = [
        member.__qualname__
        for member in members
        if isinstance(member, type)
        and issubclass(member, msgspec.Struct)
        and typing.cast(msgspec.inspect.StructType, msgspec.inspect.type_info(member)).tag is None
    ]
    if len(untagged) > 1:
        raise Unsupported(
            where,
            f"unites the untagged msgspec Structs {', '.join(untagged)}: a message for one may convert "
            "to another",
            "the Structs with tag=True (msgspec's tagged unions)",
        )


def _check_struct_type(info: msgspec.inspect.Type, where: str) -> None:
    """msgspec writes these types in forms the actor's schema and worker read back exactly; not others."""
    mi = msgspec.inspect
    if isinstance(info, mi.Metadata):
        _check_struct_type(info.type, where)
    elif isinstance(info, mi.UnionType):
        for member in info.types:
            _check_struct_type(member, where)
    elif isinstance(info, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        _check_struct_type(info.item_type, f"{where}[]")
    elif isinstance(info, mi.TupleType):
        for index, item in enumerate(info.item_types):
            _check_struct_type(item, f"{where}[{index}]")
    elif isinstance(info, mi.DictType):
        if not isinstance(info.key_type, mi.StrType):
            raise Unsupported(where, "is a dict with non-text keys inside a msgspec Struct", "dict[str, ...]")
        _check_struct_type(info.value_type, f"{where}[value]")
    elif isinstance(info, mi.StructType):
        pass  # classified as a record of its own
    elif not isinstance(info, _STRUCT_SAFE):
        raise Unsupported(
            where,
            f"is a {type(info).__name__.removesuffix('Type')} inside a msgspec Struct, which msgspec writes "
            "in a form the published schema cannot hold exactly (bytes as padded base64, Decimal and "
            "timedelta as unconstrained text)",
            "the field in a pydantic model, or str/int/float/bool/datetime/date/UUID/Enum/Literal fields",
        )


_STRUCT_SAFE = (
    msgspec.inspect.AnyType,
    msgspec.inspect.NoneType,
    msgspec.inspect.BoolType,
    msgspec.inspect.IntType,
    msgspec.inspect.FloatType,
    msgspec.inspect.StrType,
    msgspec.inspect.DateTimeType,
    msgspec.inspect.DateType,
    msgspec.inspect.UUIDType,
    msgspec.inspect.EnumType,
    msgspec.inspect.LiteralType,
)


def _read_key(field: FieldInfo, attribute: str, by_alias: bool, by_name: bool, where: str) -> str:
    """The key pydantic's validator (and its validation-mode schema) names this field by."""
    alias = field.validation_alias if field.validation_alias is not None else field.alias
    if not by_alias or alias is None:
        return attribute
    if isinstance(alias, str):
        return alias
    choices = getattr(alias, "choices", None)
    if choices and isinstance(choices[0], str):
        return str(choices[0])
    raise Unsupported(
        where,
        f"reads its value through {alias!r}, a path the JSON form does not write",
        "Field(alias='...') with one key",
    )


def _field_type(field: FieldInfo) -> Any:
    if field.metadata:
        return typing.Annotated[(field.annotation, *field.metadata)]
    return field.annotation


def _extras_hint(cls: type) -> Any:
    try:
        annotation = typing.get_type_hints(cls).get("__pydantic_extra__")
    except Exception:
        annotation = None
    args = typing.get_args(annotation) if annotation is not None else ()
    return args[1] if len(args) == 2 else Any


def _strip(hint: Any) -> Any:
    while typing.get_origin(hint) is typing.Annotated:
        hint = typing.get_args(hint)[0]
    supertype = getattr(hint, "__supertype__", None)
    return _strip(supertype) if supertype is not None else hint


def _is_typeddict(hint: Any) -> bool:
    return typing.is_typeddict(hint) or typing_extensions.is_typeddict(hint)


def _is_v1_model(hint: type) -> bool:
    return any(base.__module__.startswith("pydantic.v1") for base in hint.__mro__)


def _hint_name(hint: Any) -> str:
    if isinstance(hint, type) and not typing.get_args(hint):
        return hint.__qualname__
    return repr(hint).replace("typing.", "")


@functools.cache
def flag_values(flag: type[enum.Flag]) -> tuple[int, ...]:
    """Every value a ``Flag`` may take: each combination of its canonical members (0 included)."""
    bits = [member.value for member in flag if member.value and not member.value & (member.value - 1)]
    values = {0}
    for bit in bits:
        values |= {value | bit for value in values}
    return tuple(sorted(values))


def _flag_fits(flag: type[enum.Flag]) -> bool:
    bits = [member for member in flag if member.value and not member.value & (member.value - 1)]
    return bool(2 ** len(bits) <= MAX_FLAG_VALUES)


# -- values ---------------------------------------------------------------

_NO_VIOLATIONS: list[Violation] = []
_AWARE_HINT = "an aware value with a UTC offset, e.g. value.replace(tzinfo=datetime.timezone.utc)"
_PLAIN_SCALARS = frozenset((str, int, bool, type(None)))


def hidden_by_json_form(node: Node, value: Any, path: Path) -> list[Violation]:
    """What pydantic's JSON form of a validated ``value`` would hide or change.

    Non-JSON values in ``Any`` positions (``NaN`` would become ``null``, a set a
    list, a nested dataclass a dict), non-finite floats (``null``), naive
    ``datetime``/``time`` values and offsets with seconds (RFC 3339 has neither),
    and dict keys in ``Any`` positions that are not text.

    Parameters:
      node: The value's wire tree.
      value: A value pydantic validated against ``node.hint``.
      path: Where the value is in the message.
    """
    found: list[Violation] = []
    _walk(node, value, path, found, set())
    return found


def in_set_order(node: Node, wire: Any, encode: Callable[[Any], bytes]) -> None:
    """Put the items of every set in ``wire`` in one order, in place: by their JSON text.

    pydantic writes a set's items in its iteration order, which for text
    changes from process to process (hash randomization): the same set would
    be stored as different bytes, and a worker re-sending the set it received
    would write another order than it read. Sorted by their encoding, equal
    sets are written alike everywhere. Inner sets are ordered first, so the
    outer order is over final texts. A union is followed only into the one
    member the value's JSON shape (and a tag) leaves; where two remain, its
    sets keep pydantic's order rather than risk reordering a list.

    Parameters:
      node: The wire tree of the hint ``wire`` is the JSON form of.
      wire: A fresh JSON form (pydantic's ``dump_python(mode="json")``): changed in place.
      encode: The JSON encoding whose bytes order the items.
    """
    if not node.sorts:
        return
    kind = node.kind
    if kind == "seq" and type(wire) is list:
        if node.variadic:
            child = node.children[0]
            if child.sorts:
                for item in wire:
                    in_set_order(child, item, encode)
            if node.unordered:
                wire.sort(key=encode)
        else:
            for child, item in zip(node.children, wire, strict=False):
                in_set_order(child, item, encode)
    elif kind == "map" and type(wire) is dict:
        child = node.children[0]
        for item in wire.values():
            in_set_order(child, item, encode)
    elif kind == "record" and type(wire) in (dict, list):
        for _, key, child in node.fields:
            present = key in wire if type(wire) is dict else type(key) is int and key < len(wire)
            if child.sorts and present:
                in_set_order(child, wire[key], encode)
    elif kind == "root" and node.children:
        in_set_order(node.children[0], wire, encode)
    elif kind == "union":
        fitting = [child for child in node.children if _shape_fits(child, wire)]
        if len(fitting) == 1:
            in_set_order(fitting[0], wire, encode)


def _shape_fits(node: Node, wire: Any) -> bool:
    """Could ``wire`` be the JSON form of ``node``'s hint? By shape, and by a record's literal tag."""
    kind = node.kind
    if kind == "union":
        return any(_shape_fits(child, wire) for child in node.children)
    if kind == "root":
        return bool(node.children) and _shape_fits(node.children[0], wire)
    if kind == "seq":
        return type(wire) is list and (node.variadic or len(wire) == len(node.children))
    if kind == "map":
        return type(wire) is dict
    if kind == "record":
        if type(wire) is list:
            return node.record in ("namedtuple", "struct")
        if type(wire) is not dict:
            return False
        for _, key, child in node.fields:
            hint = _strip(child.hint)
            tags = typing.get_args(hint) if typing.get_origin(hint) is typing.Literal else None
            if tags is not None and key in wire and wire[key] not in [getattr(v, "value", v) for v in tags]:
                return False
        return True
    # Scalars, times, leaves, Any: never a list or dict of sets the walk would need to enter.
    return type(wire) not in (list, dict) or kind == "any"


def _walk(node: Node, value: Any, path: Path, found: list[Violation], seen: set[int]) -> None:
    if not node.walks or type(value) in _PLAIN_SCALARS:
        return
    kind = node.kind
    if kind == "any":
        found.extend(find_violations(value, path))
    elif kind == "float":
        if isinstance(value, float) and not math.isfinite(value):
            found.append(
                Violation(render_path(path), f"is {value!r}, which JSON cannot hold", "a finite number")
            )
    elif kind == "time":
        if isinstance(value, _TIME_TYPES):
            found.extend(time_violations(value, path))
    elif kind == "union":
        member = _member_for(node, value)
        if member is not None:
            _walk(member, value, path, found, seen)
    elif id(value) in seen:
        return
    else:
        seen.add(id(value))
        if kind == "seq":
            if isinstance(value, list | tuple | set | frozenset | collections.deque):
                items = list(value)
                if node.variadic and _all_finite(node.children[0], items):
                    return
                if node.variadic:
                    for index, item in enumerate(items):
                        _walk(node.children[0], item, (*path, index), found, seen)
                else:
                    for index, (child, item) in enumerate(zip(node.children, items, strict=False)):
                        _walk(child, item, (*path, index), found, seen)
        elif kind == "map":
            if isinstance(value, Mapping):
                assert node.key is not None
                key_node, child = node.key, node.children[0]
                for key, item in value.items():
                    if key_node.walks:
                        _check_key(key_node, key, path, found)
                    _walk(child, item, (*path, key if isinstance(key, str) else str(key)), found, seen)
        elif kind == "root":
            _walk(node.children[0], getattr(value, "root", value), path, found, seen)
        elif kind == "record":
            _walk_record(node, value, path, found, seen)


def _walk_record(node: Node, value: Any, path: Path, found: list[Violation], seen: set[int]) -> None:
    if node.record == "typeddict":
        if isinstance(value, Mapping):
            for attribute, key, child in node.fields:
                if attribute in value:
                    _walk(child, value[attribute], (*path, key), found, seen)
        return
    if isinstance(value, Mapping | list):
        return
    floats = node._floats
    if floats is not None:
        try:
            finite = _finite(floats(value))
        except AttributeError:
            finite = False
        if not finite:
            for attribute, key, child in node.fields:
                if child.kind == "float" and hasattr(value, attribute):
                    _walk(child, getattr(value, attribute), (*path, key), found, seen)
    for attribute, key, child in node._deep:
        if hasattr(value, attribute):
            _walk(child, getattr(value, attribute), (*path, key), found, seen)
    if node.extras is not None:
        extras = getattr(value, "__pydantic_extra__", None) or {}
        for key, item in extras.items():
            _walk(node.extras, item, (*path, key), found, seen)


def _all_finite(item: Node, items: list[Any]) -> bool:
    """Items that could only hide non-finite floats, all finite: checked in one C-speed pass."""
    if item.kind == "float":
        return _finite(items)
    floats = item._floats
    if floats is None or item._deep or item.extras is not None or item.kind != "record":
        return False
    try:
        # Field by field over all items: the fastest pure-Python reading measured.
        return all(_finite(map(getter, items)) for getter in item._float_each)
    except AttributeError:  # not the record's instances after all: the item walk decides
        return False


def _finite(numbers: Any) -> bool:
    """All finite, at C speed; False also when unsure (a sum overflowing, a value not a number)."""
    try:
        return bool(0.0 * sum(numbers) == 0.0)
    except TypeError:
        return False


def _check_key(key_node: Node, key: Any, path: Path, found: list[Violation]) -> None:
    if key_node.kind == "any" and type(key) is not str:
        problem = f"has the key {key!r} ({type(key).__name__}), which JSON turns into text"
        found.append(Violation(render_path(path), problem, "str keys"))
    elif key_node.kind == "float" and isinstance(key, float) and not math.isfinite(key):
        found.append(
            Violation(render_path(path), f"has the key {key!r}, which JSON cannot name", "finite keys")
        )
    elif key_node.kind == "time" and isinstance(key, _TIME_TYPES):
        found.extend(time_violations(key, (*path, str(key))))


def _member_for(node: Node, value: Any) -> Node | None:
    """The union member a validated value came from (best effort: records by class, then by shape)."""
    cls = type(value)
    for member in node.children:
        if member.kind in ("record", "root") and (typing.get_origin(member.hint) or member.hint) is cls:
            return member
    for member in node.children:
        if _could_be(member, value):
            return member
    return None


def _could_be(node: Node, value: Any) -> bool:
    kind = node.kind
    if kind == "any":
        return True
    if kind == "float":
        return isinstance(value, float)
    if kind == "time":
        return isinstance(value, _TIME_TYPES)
    if kind == "seq":
        return isinstance(value, list | tuple | set | frozenset | collections.deque)
    if kind == "map" or (kind == "record" and node.record == "typeddict"):
        return isinstance(value, Mapping)
    if kind == "union":
        return any(_could_be(member, value) for member in node.children)
    if kind in ("record", "root"):
        return isinstance(value, typing.get_origin(node.hint) or node.hint)
    return False


def time_violations(node: datetime.datetime | datetime.time, where: Path) -> list[Violation]:
    """A naive time, or an offset with seconds: RFC 3339 text would name another instant."""
    offset = node.utcoffset()
    if offset is not None and not offset.microseconds and not offset.seconds % 60:
        return _NO_VIOLATIONS  # the common case, without timedelta arithmetic
    kind = "datetime" if isinstance(node, datetime.datetime) else "time"
    if offset is None:
        return [Violation(render_path(where), f"is a naive {kind} (no UTC offset)", _AWARE_HINT)]
    if offset % datetime.timedelta(minutes=1):
        problem = f"has the UTC offset {offset}, with seconds: RFC 3339 offsets are whole minutes"
        return [
            Violation(render_path(where), problem, "the same instant in UTC: value.astimezone(datetime.UTC)")
        ]
    return []


def key_collisions(node: Node, value: Any, path: Path) -> list[Violation]:
    """Dict keys that convert to one key (``"1"`` and ``"01"`` for ``int``): pydantic would keep one.

    Run on the value as sent (before pydantic converts it) and on the JSON as
    it arrived on the worker.

    Parameters:
      node: The value's wire tree.
      value: The value before conversion.
      path: Where it is in the message.
    """
    found: list[Violation] = []
    if node.collides:
        _collisions(node, value, path, found, set())
    return found


def _collisions(node: Node, value: Any, path: Path, found: list[Violation], seen: set[int]) -> None:
    if not node.collides or type(value) in _PLAIN_SCALARS or id(value) in seen:
        return
    kind = node.kind
    if kind == "union":
        for member in node.children:
            _collisions(member, value, path, found, seen)
        return
    seen.add(id(value))
    if kind == "map" and isinstance(value, Mapping):
        assert node.key is not None
        if node.key.kind in _CONVERTED:
            _key_collisions(node, value, path, found)
        for key, item in value.items():
            _collisions(
                node.children[0], item, (*path, key if isinstance(key, str) else str(key)), found, seen
            )
    elif kind == "seq" and isinstance(value, list | tuple | set | frozenset):
        children = node.children if not node.variadic else node.children * len(value)
        for index, (child, item) in enumerate(zip(children, value, strict=False)):
            _collisions(child, item, (*path, index), found, seen)
    elif kind == "root":
        _collisions(node.children[0], getattr(value, "root", value), path, found, seen)
    elif kind == "record":
        for attribute, key, child in node.fields:
            if isinstance(value, Mapping):
                item = value.get(key, value.get(attribute, _ABSENT))
            elif isinstance(value, list | tuple) and isinstance(key, int):
                item = value[key] if key < len(value) else _ABSENT
            else:
                item = getattr(value, attribute, _ABSENT)
            if item is not _ABSENT:
                _collisions(child, item, (*path, key), found, seen)


_ABSENT = object()


def _key_collisions(node: Node, value: Mapping[Any, Any], path: Path, found: list[Violation]) -> None:
    adapter = node.key_adapter()
    first: dict[Any, Any] = {}
    for key in value:
        try:
            converted = adapter.validate_python(key)
        except pydantic.ValidationError:
            continue  # pydantic reports the bad key itself
        try:
            earlier = first.setdefault(converted, key)
        except TypeError:  # an unhashable converted key: pydantic refuses it itself
            continue
        if earlier is not key:  # two distinct keys of one mapping, one converted key
            key_type = _hint_name(node.key.hint if node.key is not None else Any)
            problem = f"has the keys {earlier!r} and {key!r}, which are the same {key_type} key {converted!r}"
            found.append(Violation(render_path(path), problem, "one entry per key"))


# -- where pydantic's Python mode reads JSON as its JSON mode does --------


#: pydantic-core schema kinds whose Python-mode validation of a JSON value (``str``, ``int``,
#: ``float``, ``bool``, ``None``, ``list``, ``dict``) gives what JSON mode gives for the same
#: text, and which build new containers (no ``Any``: Python mode would hand the actor the
#: message's own objects, which a retry re-encodes). Each kind maps to the keys holding its
#: child schemas; a leading ``*`` marks a list or dict of them.
_READ_ALIKE: dict[str, tuple[str, ...]] = {
    "definitions": ("schema", "*definitions"),
    "definition-ref": (),
    "model": ("schema",),
    "model-fields": ("*fields",),
    "model-field": ("schema",),
    "typed-dict": ("*fields",),
    "typed-dict-field": ("schema",),
    "list": ("items_schema",),
    "set": ("items_schema",),
    "frozenset": ("items_schema",),
    "tuple": ("*items_schema",),
    "dict": ("keys_schema", "values_schema"),
    "nullable": ("schema",),
    "default": ("schema",),
    "none": (),
    "str": (),
    "int": (),
    "float": (),
    "bool": (),
    "datetime": (),
    "date": (),
    "time": (),
    "uuid": (),
    "literal": (),
    "enum": (),
}


def reads_json_as_python(schema: Mapping[str, Any]) -> bool:
    """True when pydantic's Python mode gives, for any JSON value, what its JSON mode gives.

    For the worker: a decoded JSON value validated in Python mode then needs no
    encoding, and the validation itself is cheaper. Decided on the validator's
    core schema, once: only kinds whose two modes share one reading of JSON's
    types (text parsed by the same parser for times and UUIDs), with no user
    function anywhere (a validator may read ``info.mode``), nothing strict (a
    strict ``datetime`` refuses text in Python mode), no ``bytes`` (base64 in
    JSON only), no ``Any`` or model extras (Python mode would keep the message's
    own objects), and literals and enums of text only (numbers there are left to
    JSON mode: not needed, so not proven). ``tests/unit/consume/test_arguments_lanes.py``
    checks the equality on the hint corpus with hypothesis.

    Parameters:
      schema: A ``TypeAdapter``'s ``core_schema``.
    """
    kind = schema.get("type")
    children = _READ_ALIKE.get(kind) if isinstance(kind, str) else None
    if children is None or schema.get("strict") or schema.get("custom_init") or schema.get("missing"):
        return False
    config = schema.get("config") or {}
    if config.get("strict") or "allow" in (schema.get("extra_behavior"), config.get("extra_fields_behavior")):
        return False
    if kind == "dict" and schema.get("keys_schema", {"type": "str"}).get("type") != "str":
        return False  # keys parsed from text: left to the JSON path and its collision check
    if kind == "literal" and not all(type(value) in (str, bool, type(None)) for value in schema["expected"]):
        return False
    if kind == "enum" and not all(type(member.value) is str for member in schema["members"]):
        return False
    for key in children:
        many = key.startswith("*")
        child = schema.get(key.lstrip("*"))
        if child is None:
            if key != "keys_schema" and kind in ("dict", "list", "set", "frozenset", "tuple"):
                return False  # items of any type: Any
            continue
        members = (child.values() if isinstance(child, dict) else child) if many else (child,)
        if not all(reads_json_as_python(member) for member in members):
            return False
    return True


# -- hints pydantic does not take as they are ----------------------------


def for_pydantic(hint: Any) -> Any:
    """``hint`` as pydantic can validate it: stdlib TypedDicts re-created, msgspec Structs adapted.

    Parameters:
      hint: A resolved hint.
    """
    return _Rewriter().rewrite(hint)


class _Rewriter:
    def __init__(self) -> None:
        self.done: dict[Any, Any] = {}
        self.building: set[Any] = set()

    def rewrite(self, hint: Any) -> Any:
        if isinstance(hint, type):
            if issubclass(hint, msgspec.Struct):
                return typing.Annotated[hint, StructSchema(hint)]
            if typing.is_typeddict(hint) and type(hint).__module__ == "typing":
                return self.typeddict(hint)
            return hint
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if origin is None or not args:
            return hint
        new_args = tuple(self.rewrite(arg) if arg is not Ellipsis else arg for arg in args)
        if new_args == args:
            return hint
        if origin is typing.Annotated:
            return typing.Annotated[(new_args[0], *args[1:])]
        if origin is typing.Literal:
            return hint
        if origin is types.UnionType:
            return functools.reduce(operator.or_, new_args)
        try:
            return hint.copy_with(new_args)
        except AttributeError:
            return origin[new_args]

    def typeddict(self, cls: type) -> Any:
        if cls in self.done:
            return self.done[cls]
        if cls in self.building and sys.version_info >= (3, 12):
            return cls  # pydantic validates a stdlib TypedDict itself from 3.12 on
        if cls in self.building:
            # The copy would need a reference to itself, which pydantic resolves in the class's
            # module, where the name is the stdlib class again (refused before Python 3.12).
            raise Unsupported(
                cls.__qualname__,
                "is a recursive typing.TypedDict, which pydantic cannot validate on Python "
                f"{sys.version_info.major}.{sys.version_info.minor} (only from 3.12 on)",
                f"it as typing_extensions.TypedDict (from typing_extensions import TypedDict; class "
                f"{cls.__name__}(TypedDict): ...), which pydantic validates on every Python version",
            )
        self.building.add(cls)
        hints = typing.get_type_hints(cls, include_extras=True)
        required = getattr(cls, "__required_keys__", frozenset(hints))
        fields: dict[str, Any] = {}
        for key, field_hint in hints.items():
            base = field_hint
            while typing.get_origin(base) in (typing.Required, typing.NotRequired):
                base = typing.get_args(base)[0]
            wrapper = typing_extensions.Required if key in required else typing_extensions.NotRequired
            fields[key] = wrapper[self.rewrite(base)]
        copy: Any = typing_extensions.TypedDict(cls.__name__, fields)  # type: ignore[misc]
        copy.__module__ = cls.__module__
        copy.__qualname__ = cls.__qualname__
        self.done[cls] = copy
        return copy


#: The context key of a msgspec Struct's error that holds the place inside the Struct.
STRUCT_PATH = "struct_path"


def struct_path(where: str) -> Path:
    """msgspec's ``$.inner[0].n`` as path steps (``("inner", 0, "n")``), up to a ``[...]`` it does not name.

    Parameters:
      where: The text after msgspec's ``- at `` (its closing backquote included), or empty.
    """
    steps: list[str | int] = []
    for dotted, index, unnamed in re.findall(r"\.([^.\[`]+)|\[(\d+)\]|(\[\.\.\.\])", where.rstrip("`")):
        if unnamed:
            break
        steps.append(dotted if dotted else int(index))
    return tuple(steps)


class StructSchema:
    """pydantic's view of a msgspec ``Struct``: msgspec validates and writes it, and says its JSON Schema.

    Parameters:
      struct: The Struct class.
    """

    def __init__(self, struct: type[msgspec.Struct]) -> None:
        self.struct = struct

    def __hash__(self) -> int:
        return hash(self.struct)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StructSchema) and other.struct is self.struct

    def __repr__(self) -> str:
        return f"StructSchema({self.struct.__qualname__})"

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.validate,
            serialization=core_schema.plain_serializer_function_ser_schema(self.serialize),
        )

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> Any:
        return struct_json_schema(self.struct)

    def validate(self, value: Any) -> Any:
        if isinstance(value, self.struct):
            value = msgspec.to_builtins(value)  # constructors do not check constraints: convert does
        try:
            return msgspec.convert(value, self.struct)
        except msgspec.ValidationError as error:
            # msgspec puts the place in its text ("... - at `$.inner[0].n`"); the path goes in the
            # context, where pydantic_violations joins it to the parameter's path.
            text, _, where = str(error).partition(" - at `")
            raise PydanticCustomError(
                "struct_invalid",
                "{struct}: {problem}",
                {"struct": self.struct.__qualname__, "problem": text, STRUCT_PATH: struct_path(where)},
            ) from None

    def serialize(self, value: Any) -> Any:
        return msgspec.to_builtins(value)


@functools.cache
def struct_json_schema(struct: type[msgspec.Struct]) -> dict[str, Any]:
    """msgspec's JSON Schema of ``struct``, with its references inlined (so it fits in any ``$defs``)."""
    schema = msgspec.json.schema(struct)
    definitions = schema.pop("$defs", {})

    def inline(node: Any, trail: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [inline(item, trail) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            if name in trail:
                raise Unsupported(
                    name, "is a recursive msgspec Struct", "a pydantic model for recursive data"
                )
            rest = {key: inline(value, trail) for key, value in node.items() if key != "$ref"}
            return {**inline(definitions[name], (*trail, name)), **rest}
        if isinstance(node.get("discriminator"), dict) and ("anyOf" in node or "oneOf" in node):
            # OpenAPI's keyword for a tagged union, unknown to JSON Schema (ajv's strict mode refuses
            # it): each member's schema already requires its tag, which says the same exactly.
            node = {key: value for key, value in node.items() if key != "discriminator"}
        return {key: inline(value, trail) for key, value in node.items()}

    inlined: dict[str, Any] = inline(schema, ())
    _aware_datetimes(msgspec.inspect.type_info(struct), inlined)
    return inlined


def _aware_datetimes(info: msgspec.inspect.Type, node: Any) -> None:
    """Give each ``datetime`` in a Struct's (inlined) schema the ``date-time`` format msgspec leaves out.

    msgspec writes that format only for ``Meta(tz=True)``: a plain ``datetime``
    field is any text in its schema, while the worker (msgspec) reads only a
    datetime and the gateway sends only aware ones. The format (with the pattern
    the schema adds for it) makes the schema no looser than the worker.
    """
    mi = msgspec.inspect
    if not isinstance(node, dict):
        return
    if isinstance(info, mi.Metadata):
        _aware_datetimes(info.type, node)
    elif isinstance(info, mi.DateTimeType):
        if node.get("type") == "string" and "format" not in node:
            node["format"] = "date-time"
    elif isinstance(info, mi.StructType):
        properties = node.get("properties", {})
        for field in info.fields:
            _aware_datetimes(field.type, properties.get(field.encode_name))
    elif isinstance(info, mi.ListType | mi.SetType | mi.FrozenSetType | mi.VarTupleType):
        _aware_datetimes(info.item_type, node.get("items"))
    elif isinstance(info, mi.TupleType):
        for item, item_node in zip(info.item_types, node.get("prefixItems", []), strict=False):
            _aware_datetimes(item, item_node)
    elif isinstance(info, mi.DictType):
        _aware_datetimes(info.value_type, node.get("additionalProperties"))
    elif isinstance(info, mi.UnionType):
        options = node.get("anyOf", [node])
        for member in info.types:
            for option in options:
                # msgspec allows one str-like member per union, and names each Struct by its title.
                if isinstance(member, mi.StructType):
                    if isinstance(option, dict) and option.get("title") == member.cls.__name__:
                        _aware_datetimes(member, option)
                elif isinstance(member, mi.DateTimeType) or (
                    isinstance(option, dict) and "title" not in option
                ):
                    _aware_datetimes(member, option)


def resolve_annotations(fn: Callable[..., Any], names: Collection[str]) -> dict[str, Any]:
    """Resolve the annotations of ``fn`` that ``names`` lists, and only those.

    So a return type imported under ``TYPE_CHECKING`` never blocks the
    parameters, and the other way round.

    Parameters:
      fn: The function (or method) whose annotations to resolve.
      names: The annotation names wanted (parameter names, or ``"return"``).

    Raises:
      Exception: Whatever evaluating one of those annotations raises (``NameError``...).
    """
    target = annotated_target(fn)
    globalns = getattr(target, "__globals__", {})
    wanted = {k: v for k, v in _written_annotations(target).items() if k in names}
    return {name: resolve_annotation(annotation, globalns, None) for name, annotation in wanted.items()}


def annotated_target(fn: Any) -> Any:
    """The function whose ``__globals__`` and annotations ``fn``'s hints were written with."""
    target = inspect.unwrap(fn)
    while isinstance(target, functools.partial):  # its signature is the function's, less what it binds
        target = inspect.unwrap(target.func)
    return getattr(target, "__func__", target)


def resolve_annotation(annotation: Any, globalns: dict[str, Any], localns: Mapping[str, Any] | None) -> Any:
    """One annotation, evaluated as ``typing.get_type_hints`` would (``None`` is ``NoneType``)."""
    holder = types.SimpleNamespace(__annotations__={"hint": annotation})
    hint = typing.get_type_hints(holder, globalns, localns, include_extras=True)["hint"]
    return type(None) if hint is None else hint


def _written_annotations(target: Any) -> dict[str, Any]:
    """``target``'s annotations, without evaluating any of them that Python still defers."""
    try:
        # Python 3.14+ evaluates annotations on access: reading __annotations__ would raise for
        # a return type imported under TYPE_CHECKING even when only the parameters are wanted.
        import annotationlib  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return dict(getattr(target, "__annotations__", None) or {})
    return dict(annotationlib.get_annotations(target, format=annotationlib.Format.FORWARDREF))


def hint_text(hint: Any) -> str:
    """A type hint as people read it: ``int``, ``int (Gt(gt=0))``, ``list[str] | None``."""
    if hint is inspect.Parameter.empty:
        return "any strict JSON"
    if typing.get_origin(hint) is typing.Annotated:
        base, *metadata = typing.get_args(hint)
        constraints = [str(item) for meta in metadata for item in getattr(meta, "metadata", [meta])]
        return f"{hint_text(base)} ({', '.join(constraints)})" if constraints else hint_text(base)
    if isinstance(hint, type) and not typing.get_args(hint):
        return hint.__qualname__
    return repr(hint).replace("typing.", "")
