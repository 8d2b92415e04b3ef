"""An actor's contract: its signature, turned into a validator once, at declare time.

The contract is the one definition of "valid arguments for actor X". The
send side uses it to bind, validate and convert arguments to their JSON
form; the worker side and the schema generator build on the same object.

Binding follows Python's own rules (too many positionals, unknown or
duplicated keywords, missing required parameters are errors). The canonical
form carries arguments **by name**: everything that can be named goes into
``kwargs``, and ``args`` keeps only positional-only parameters and ``*args``
values (and the positionals before ``*args`` values, which could not bind
otherwise).

Values of parameters without a hint (or hinted ``Any``, ``object``, bare
``dict``/``list``) pass through untouched and must be strict JSON. So do the
validated values of hints made of JSON types only (``dict | None``,
``list[dict[str, Any]]``): pydantic checks their shape, and the strict JSON
check judges their ``Any`` positions. Every other hint is validated by
pydantic and travels as pydantic's JSON form: a model as its JSON object, a
``datetime`` as RFC 3339 text, a ``UUID`` or ``Decimal`` as a string, a tuple
or set as an array, ``bytes`` as base64url. What that form would hide is
refused instead: naive times, UTC offsets with seconds, and non-JSON values in
a model's ``Any``-like fields. A pipeline step may lack exactly the argument
Dramatiq appends (the previous step's result), and must have room for it.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import functools
import inspect
import pathlib
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pydantic
from pydantic import ConfigDict, TypeAdapter
from pydantic.fields import FieldInfo
from pydantic_core import PydanticSerializationError

from .errors import PayloadInvalid, Violation
from .numbers import exactness_validator, exactness_violations
from .paths import Path, render_path
from .strict_json import find_violations, type_name

__all__ = ["ActorContract", "Parameter", "actor_function", "hint_text"]

_EMPTY = inspect.Parameter.empty
_RAW_HINTS: frozenset[Any] = frozenset(
    (_EMPTY, Any, object, dict, list, dict[str, Any], list[Any], typing.Dict, typing.List)  # noqa: UP006
)
# Plain scalars whose exact Python type is already their JSON form: checking
# ``type(value) is hint`` skips pydantic for the most common parameters.
_EXACT_SCALARS: frozenset[Any] = frozenset((int, str, bool, float))
_ADAPTER_CONFIG = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")
_AWARE_HINT = "an aware value with a UTC offset, e.g. value.replace(tzinfo=datetime.timezone.utc)"


def actor_function(actor: Any) -> Callable[..., Any]:
    """Return the function whose signature describes ``actor``'s arguments.

    Unwraps the gateway's own wrapper and Dramatiq's ``async_to_sync``; for a
    ``GenericActor`` (whose ``fn`` is an instance) returns its ``perform``.
    """
    fn = actor.fn
    fn = getattr(fn, "__actorschema_wrapped__", fn)
    if not inspect.isfunction(fn) and not inspect.ismethod(fn) and hasattr(fn, "perform"):
        return typing.cast(Callable[..., Any], fn.perform)
    return typing.cast(Callable[..., Any], inspect.unwrap(fn))


@dataclass(frozen=True)
class Parameter:
    """One parameter of an actor and how its values are checked.

    Parameters:
      name: The parameter's name.
      kind: Its ``inspect.Parameter`` kind.
      hint: The resolved type hint, or ``inspect.Parameter.empty``.
      default: Its default, or ``inspect.Parameter.empty``.
      adapter: pydantic's validator for ``hint``; None for raw JSON parameters.
      keeps_value: The hint is made of JSON types only (``dict | None``,
        ``list[dict[str, Any]]``...): the validated value is its own JSON form
        (a top-level tuple or set of them becomes a list), and the strict JSON
        check applies to it as to an unhinted value.
      walks: Validated values must be walked for what pydantic's JSON form would
        hide: naive or second-offset times, and non-JSON values in ``Any`` fields.
    """

    name: str
    kind: inspect._ParameterKind
    hint: Any
    default: Any
    adapter: TypeAdapter[Any] | None = dataclasses.field(default=None, compare=False, repr=False)
    keeps_value: bool = False
    walks: bool = False
    #: ``hint`` when values of exactly that type are already their own JSON form.
    exact: type | None = dataclasses.field(default=None, init=False, compare=False, repr=False)
    #: ``dict`` or ``list`` for raw hints that still name their container.
    container: type | None = dataclasses.field(default=None, init=False, compare=False, repr=False)
    #: A validator of the hint's JSON Schema where send must check more than pydantic (numbers.py).
    exactness: Any = dataclasses.field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.adapter is not None and _is_exact_scalar(self.hint):
            object.__setattr__(self, "exact", self.hint)
        if self.adapter is None:
            origin = typing.get_origin(self.hint) or self.hint
            if origin in (dict, list):
                object.__setattr__(self, "container", origin)
        else:
            object.__setattr__(self, "exactness", exactness_validator(self.adapter))

    @property
    def required(self) -> bool:
        return self.default is _EMPTY and self.kind not in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        )

    @property
    def is_raw_json(self) -> bool:
        """True when the parameter accepts any strict JSON value, unvalidated."""
        return self.adapter is None

    @property
    def passes_values_through(self) -> bool:
        """True when values travel as sent (or as validated), so the strict JSON check applies to them."""
        return self.adapter is None or self.keeps_value

    def to_json(self, value: Any, path: Path, violations: list[Violation]) -> Any:
        """Validate ``value`` and return its JSON form; append violations on failure."""
        if type(value) is self.exact:
            return value
        if self.adapter is None:
            container = self.container
            if container is not None and type(value) is not container:
                problem = f"is a {type_name(value)}, not a {container.__name__}"
                violations.append(Violation(render_path(path), problem, _a(self.hint)))
            return value
        try:
            validated = self.adapter.validate_python(value)
        except pydantic.ValidationError as error:
            violations.extend(_pydantic_violations(error, path, self.hint, value))
            return value
        if self.keeps_value:
            wire = list(validated) if isinstance(validated, tuple | set | frozenset) else validated
        else:
            if self.walks:
                hidden = _hidden_by_json_form(validated, path)
                if hidden:
                    violations.extend(hidden)
                    return value
            try:
                wire = self.adapter.dump_python(validated, mode="json")
            except (PydanticSerializationError, ValueError, TypeError) as error:
                violations.append(
                    Violation(render_path(path), f"cannot be serialised: {error}", _a(self.hint))
                )
                return value
        if self.exactness is not None:
            # pydantic's float multiple_of has a tolerance, and before 2.14 it rounds a Decimal
            # before counting its digits; the schema's validators do neither.
            refused = exactness_violations(self.exactness, wire, path, _a(self.hint))
            if refused:
                violations.extend(refused)
                return value
        return wire


class ActorContract:
    """The signature of one actor, ready to bind and validate messages.

    Parameters:
      actor_name: The actor's name.
      queue_name: The actor's queue.
      parameters: The actor's parameters, in signature order.
      description: The actor's docstring, if any.
    """

    def __init__(
        self,
        actor_name: str,
        queue_name: str,
        parameters: list[Parameter],
        description: str | None = None,
    ) -> None:
        self.actor_name = actor_name
        self.queue_name = queue_name
        self.parameters = parameters
        self.description = description
        self.by_name = {p.name: p for p in parameters}
        kinds = inspect.Parameter
        self.positional = [
            p for p in parameters if p.kind in (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)
        ]
        self.positional_only = frozenset(p.name for p in parameters if p.kind is kinds.POSITIONAL_ONLY)
        self.keyword_names = frozenset(
            p.name for p in parameters if p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY)
        )
        self.var_positional = next((p for p in parameters if p.kind is kinds.VAR_POSITIONAL), None)
        self.var_keyword = next((p for p in parameters if p.kind is kinds.VAR_KEYWORD), None)
        self.required = [p.name for p in parameters if p.required]
        self.required_names = frozenset(self.required)
        self._positional_fast = [(p.name, p.exact, p) for p in self.positional]
        self.names = [p.name for p in parameters]
        self._typed_names = frozenset(
            p.name
            for p in parameters
            if not p.is_raw_json and p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY)
        )
        self._extra_kwargs_typed = self.var_keyword is not None and not self.var_keyword.is_raw_json
        #: Every keyword argument this actor can receive passes through a type hint.
        self.fully_typed = all(
            not p.is_raw_json for p in parameters if p.kind is not kinds.VAR_POSITIONAL
        ) and (self.var_keyword is None or self._extra_kwargs_typed)
        # No positional-only parameters, no *args or **kwargs: the fast path applies.
        self._plain = not (self.positional_only or self.var_positional or self.var_keyword)

    @classmethod
    def from_actor(cls, actor: Any) -> ActorContract:
        """Build the contract of a declared Dramatiq actor (function, async or generic)."""
        fn = actor_function(actor)
        return cls.from_function(fn, actor.actor_name, actor.queue_name)

    @classmethod
    def from_function(
        cls, fn: Callable[..., Any], actor_name: str, queue_name: str = "default"
    ) -> ActorContract:
        """Build a contract from a plain function's signature and type hints.

        Raises:
          TypeError: When a hint cannot be resolved or pydantic cannot build a
            validator for it; the message names the actor and the parameter.
        """
        signature = inspect.signature(fn)
        try:
            hints = typing.get_type_hints(fn, include_extras=True)
        except Exception as error:
            raise TypeError(f"actor {actor_name!r}: cannot resolve its type hints: {error}") from error
        parameters = [
            _parameter(actor_name, p, hints.get(p.name, _EMPTY)) for p in signature.parameters.values()
        ]
        return cls(actor_name, queue_name, parameters, inspect.getdoc(fn))

    def canonical(
        self,
        args: tuple[Any, ...] | list[Any],
        kwargs: Mapping[str, Any],
        *,
        awaiting_result: bool = False,
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Bind ``args``/``kwargs`` to the signature and return their canonical JSON form.

        Parameters:
          args: Positional arguments as sent.
          kwargs: Keyword arguments as sent.
          awaiting_result: The message is a pipeline step: Dramatiq will append
            the previous step's result to ``args``, so the parameter at that
            position may be missing (and must have room and no keyword value).

        Returns:
          ``(args, kwargs)``: ``args`` holds only what cannot be named.

        Raises:
          PayloadInvalid: With one violation per problem and its path.
        """
        if self._plain and not awaiting_result and len(args) <= len(self.positional):
            named = self._bind_plain(args, kwargs)
            if named is not None:
                return (), named
        return self._canonical_full(args, kwargs, awaiting_result)

    def _bind_plain(
        self, args: tuple[Any, ...] | list[Any], kwargs: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """The fast path for valid arguments to a plain signature; None sends the call down the full path.

        Anything unusual (a duplicate, an unknown or missing argument, a value that
        does not fit) returns None: the full path then reports every problem.
        """
        named: dict[str, Any] = {}
        violations: list[Violation] = []
        for (name, exact, parameter), value in zip(self._positional_fast, args, strict=False):
            if type(value) is exact:
                named[name] = value
            else:
                named[name] = parameter.to_json(value, ("args", len(named)), violations)
        if kwargs:
            by_name = self.by_name
            for key, value in kwargs.items():
                keyword = by_name.get(key) if type(key) is str else None
                if keyword is None or key in named:
                    return None
                if type(value) is keyword.exact:
                    named[key] = value
                else:
                    named[key] = keyword.to_json(value, ("kwargs", key), violations)
            named = {name: named[name] for name in self.names if name in named}
        if violations or not self.required_names <= named.keys():
            return None
        return named

    def bind(
        self, args: tuple[Any, ...] | list[Any], kwargs: Mapping[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any], dict[str, Path]]:
        """Bind JSON ``args``/``kwargs`` to the signature without converting any value.

        The worker's first step: a message in the legacy positional form (older
        producers, pipeline continuations) is put in canonical form, so it is
        validated exactly as the schema describes canonical messages.

        Returns:
          ``(args, kwargs, origins)``: the canonical form, and for each named
          value that arrived positionally, where it was (``("args", 0)``).

        Raises:
          PayloadInvalid: For arity errors, unknown, duplicated or missing arguments.
        """
        origins: dict[str, Path] = {}
        if (
            not args
            and self._plain
            and kwargs.keys() <= self.keyword_names
            and self.required_names <= kwargs.keys()
        ):
            return (), dict(kwargs), origins  # already canonical: the common case
        out_args, out_kwargs = self._canonical_full(args, kwargs, False, convert=False, origins=origins)
        return out_args, out_kwargs, origins

    def _canonical_full(
        self,
        args: tuple[Any, ...] | list[Any],
        kwargs: Mapping[str, Any],
        awaiting_result: bool,
        *,
        convert: bool = True,
        origins: dict[str, Path] | None = None,
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        violations: list[Violation] = []
        positional = self.positional
        count = len(args)
        if count > len(positional) and self.var_positional is None:
            problem = f"takes at most {len(positional)} positional argument(s) but {count} were given"
            violations.append(Violation(f"args[{len(positional)}]", problem, "fewer positional arguments"))
        named: dict[str, Any] = {}
        for index, (parameter, value) in enumerate(zip(positional, args, strict=False)):
            if parameter.name in kwargs and parameter.name not in self.positional_only:
                problem = f"got multiple values for {parameter.name!r} (positional and keyword)"
                violations.append(Violation(f"kwargs.{parameter.name}", problem, "the argument once"))
            named[parameter.name] = (
                parameter.to_json(value, ("args", index), violations) if convert else value
            )
            if origins is not None:
                origins[parameter.name] = ("args", index)
        extra_values = tuple(args[len(positional) :])
        extras: list[Any] = []
        if extra_values and self.var_positional is not None:
            start = len(positional)
            extras = [
                self.var_positional.to_json(v, ("args", start + i), violations) if convert else v
                for i, v in enumerate(extra_values)
            ]
        extra_kwargs: dict[str, Any] = {}
        for key, value in kwargs.items():
            where: Path = ("kwargs", key)
            if key in self.keyword_names:
                named[key] = self.by_name[key].to_json(value, where, violations) if convert else value
            elif self.var_keyword is not None and type(key) is str:
                extra_kwargs[key] = self.var_keyword.to_json(value, where, violations) if convert else value
            else:
                violations.append(self._unknown_keyword(key))
        missing = [name for name in self.required if name not in named]
        if awaiting_result:
            violations.extend(self._pipeline_slot(count, kwargs, missing))
        for name in missing:
            violations.append(
                Violation(f"kwargs.{name}", "is required but missing", _a(self.by_name[name].hint))
            )
        if violations:
            raise PayloadInvalid(self.actor_name, violations)
        if extras:
            # Values for *args pin every positional parameter before them.
            out_args = tuple(named.pop(p.name) for p in positional[:count]) + tuple(extras)
        else:
            out_args = tuple(named.pop(p.name) for p in positional[:count] if p.name in self.positional_only)
        out_kwargs = {p.name: named[p.name] for p in self.parameters if p.name in named}
        out_kwargs.update(extra_kwargs)
        return out_args, out_kwargs

    def _pipeline_slot(self, count: int, kwargs: Mapping[str, Any], missing: list[str]) -> list[Violation]:
        """Check room for the result a pipeline appends at ``args[count]``; it may fill one missing parameter."""
        if count < len(self.positional):
            slot = self.positional[count]
            # A keyword named like a positional-only slot goes to **kwargs, not into the slot.
            if slot.name in kwargs and slot.name not in self.positional_only:
                problem = f"is also where a pipeline puts the previous step's result (args[{count}])"
                return [Violation(f"kwargs.{slot.name}", problem, "it positionally, or pipe_ignore=True")]
            if slot.name in missing:
                missing.remove(slot.name)
            return []
        if self.var_positional is None:
            problem = f"has no room for the previous step's result: it takes {len(self.positional)} positional argument(s)"
            return [Violation(f"args[{count}]", problem, "one argument fewer, or pipe_ignore=True")]
        return []

    def untyped(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The canonical ``kwargs`` entries that no type hint converted: they went through as sent."""
        if self.fully_typed:
            return _NOTHING
        typed = self._typed_names
        if self._extra_kwargs_typed:
            return {k: v for k, v in kwargs.items() if k not in typed and k in self.by_name}
        return {k: v for k, v in kwargs.items() if k not in typed}

    def _unknown_keyword(self, key: Any) -> Violation:
        if key in self.positional_only:
            return Violation(
                f"kwargs.{key}", "is positional-only and cannot be passed by keyword", "it positionally"
            )
        known = ", ".join(sorted(self.keyword_names)) or "none"
        return Violation(
            render_path(("kwargs", key if isinstance(key, str) else repr(key))),
            "is not a parameter of this actor",
            f"only its parameters ({known})",
        )


def _parameter(actor_name: str, parameter: inspect.Parameter, hint: Any) -> Parameter:
    kind = parameter.kind
    default = parameter.default
    if isinstance(default, FieldInfo):
        # ``p: Cat | Dog = Field(discriminator="kind")``, as pydantic's validate_call reads it:
        # the Field constrains the hint, and its own default (if any) is the default.
        hint = typing.Annotated[hint if hint is not _EMPTY else Any, default]
        default = _EMPTY if default.is_required() else default.get_default(call_default_factory=True)
        parameter = parameter.replace(default=default)
    if _is_raw(hint):
        return Parameter(parameter.name, kind, hint, parameter.default)
    try:
        try:
            adapter: TypeAdapter[Any] = TypeAdapter(hint, config=_ADAPTER_CONFIG)
        except pydantic.PydanticUserError:
            # Models (and other types with their own config) refuse an outer one.
            adapter = TypeAdapter(hint)
    except Exception as error:
        raise TypeError(
            f"actor {actor_name!r}: parameter {parameter.name!r} has a type hint pydantic cannot validate "
            f"({hint!r}): {error}"
        ) from error
    native = _is_json_native(hint) or _is_json_native_sequence(hint)
    return Parameter(
        parameter.name, kind, hint, parameter.default, adapter, native, not native and _needs_walk(hint)
    )


def _is_exact_scalar(hint: Any) -> bool:
    try:
        return hint in _EXACT_SCALARS
    except TypeError:
        return False


def _is_raw(hint: Any) -> bool:
    try:
        return hint in _RAW_HINTS
    except TypeError:  # an unhashable hint (Annotated with unhashable metadata) is never raw
        return False


def _is_json_native(hint: Any) -> bool:
    """Is ``hint`` made of JSON types only, so a validated value is its own JSON form?"""
    if hint in _NATIVE_LEAVES:
        return True
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Annotated:
        return _is_json_native(args[0])
    if origin is typing.Literal:
        return all(type(arg) in (str, int, bool, type(None)) for arg in args)
    if origin in (typing.Union, types.UnionType):
        return all(map(_is_json_native, args))
    if origin is list:
        return not args or _is_json_native(args[0])
    if origin is dict:
        return not args or (args[0] is str and _is_json_native(args[1]))
    return False


def _is_json_native_sequence(hint: Any) -> bool:
    """A tuple or set (bare, or of JSON types): travels as a list of its validated items."""
    if hint in (tuple, set, frozenset):
        return True
    if typing.get_origin(hint) not in (tuple, set, frozenset):
        return False
    return all(_is_json_native(arg) for arg in typing.get_args(hint) if arg is not Ellipsis)


def _is_raw_json_native(hint: Any) -> bool:
    """A JSON-native hint with an unconstrained position (``Any``, a bare ``dict``...) inside."""
    if not _is_json_native(hint):
        return False
    origin = typing.get_origin(hint)
    if origin is None:
        return hint in (Any, object, dict, list)
    if origin is typing.Literal:
        return False
    args = typing.get_args(hint)[:1] if origin is typing.Annotated else typing.get_args(hint)
    return not args or any(map(_is_raw_json_native, args))


def _needs_walk(hint: Any, seen: frozenset[Any] = frozenset()) -> bool:
    """Can a value of type ``hint`` hold a ``datetime``/``time`` or an ``Any`` position? Unknown says yes."""
    if hint is Any or hint is object or hint is _EMPTY:
        return True
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        return _needs_walk(typing.get_args(hint)[0], seen)
    if origin is typing.Literal:
        return False
    if origin is not None:
        return any(_needs_walk(arg, seen) for arg in typing.get_args(hint) if arg is not Ellipsis)
    if hint is None or hint is type(None):
        return False
    if not isinstance(hint, type):
        supertype = getattr(hint, "__supertype__", None)  # typing.NewType
        return supertype is None or _needs_walk(supertype, seen)
    if issubclass(hint, datetime.datetime | datetime.time):
        return True
    if issubclass(hint, _TIME_FREE) or hint in seen:
        return False
    fields = _field_hints(hint)
    if fields is None:
        return True  # bare containers (untyped contents) and classes this cannot see into
    return any(_needs_walk(field, seen | {hint}) for field in fields.values())


def _field_hints(cls: type) -> dict[str, Any] | None:
    """The field types of a model, TypedDict, NamedTuple or dataclass; None for anything else."""
    if issubclass(cls, pydantic.BaseModel):
        return {name: field.annotation for name, field in cls.model_fields.items()}
    if (
        typing.is_typeddict(cls)
        or (issubclass(cls, tuple) and hasattr(cls, "_fields"))
        or dataclasses.is_dataclass(cls)
    ):
        try:
            return typing.get_type_hints(cls)
        except Exception:
            return {name: Any for name in getattr(cls, "_fields", ())} or None
    return None


@functools.cache
def _walk_plan(model: type[pydantic.BaseModel]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """For one model class, worked out once: (fields holding raw JSON, fields to walk into)."""
    raw, deep = [], []
    for name, field in model.model_fields.items():
        if _is_raw_json_native(field.annotation):
            raw.append(name)
        elif _needs_walk(field.annotation):
            deep.append(name)
    return tuple(raw), tuple(deep)


def _hidden_by_json_form(value: Any, path: Path) -> list[Violation]:
    """What pydantic's JSON form would hide in a validated value.

    Naive ``datetime``/``time`` values (RFC 3339 requires an offset), offsets
    with seconds (RFC 3339 has minutes only: the text would name another
    instant), and values in a model's ``Any``-like fields that are not strict
    JSON (pydantic would turn ``NaN`` into ``null``, a set into a list...).
    """
    found: list[Violation] = []
    stack: list[tuple[Any, Path]] = [(value, path)]
    seen: set[int] = set()
    while stack:
        node, where = stack.pop()
        if isinstance(node, datetime.datetime | datetime.time):
            found.extend(_time_violations(node, where))
            continue
        if id(node) in seen:
            continue
        if isinstance(node, pydantic.BaseModel):
            seen.add(id(node))
            raw, deep = _walk_plan(type(node))
            for name in raw:
                found.extend(find_violations(getattr(node, name), (*where, name)))
            stack.extend((getattr(node, name), (*where, name)) for name in deep)
        elif isinstance(node, dict):
            seen.add(id(node))
            stack.extend((v, (*where, k)) for k, v in node.items() if type(v) not in _PLAIN_SCALARS)
        elif isinstance(node, list | tuple | set | frozenset):
            seen.add(id(node))
            stack.extend((v, (*where, i)) for i, v in enumerate(node) if type(v) not in _PLAIN_SCALARS)
        elif dataclasses.is_dataclass(node) and not isinstance(node, type):
            seen.add(id(node))
            stack.extend((getattr(node, f.name), (*where, f.name)) for f in dataclasses.fields(node))
    return found


def _time_violations(node: datetime.datetime | datetime.time, where: Path) -> list[Violation]:
    kind = "datetime" if isinstance(node, datetime.datetime) else "time"
    offset = node.utcoffset()
    if offset is None:
        return [Violation(render_path(where), f"is a naive {kind} (no UTC offset)", _AWARE_HINT)]
    if offset % datetime.timedelta(minutes=1):
        problem = f"has the UTC offset {offset}, with seconds: RFC 3339 offsets are whole minutes"
        return [
            Violation(render_path(where), problem, "the same instant in UTC: value.astimezone(datetime.UTC)")
        ]
    return []


_TIME_FREE = (
    str,
    bytes,
    bytearray,
    int,
    float,
    complex,
    decimal.Decimal,
    uuid.UUID,
    datetime.date,
    datetime.timedelta,
    enum.Enum,
    pathlib.PurePath,
)
_NATIVE_LEAVES: frozenset[Any] = frozenset((Any, object, type(None), None, bool, int, float, str, dict, list))
_PLAIN_SCALARS = frozenset((str, int, float, bool, type(None)))
_NOTHING: dict[str, Any] = {}


def _pydantic_violations(
    error: pydantic.ValidationError, path: Path, hint: Any, value: Any
) -> list[Violation]:
    found = []
    for detail in error.errors(include_url=False):
        where, bad_key = _locate(value, detail["loc"])
        problem = f"{detail['msg']} (got {type_name(detail.get('input'))})"
        if bad_key is not _MISSING:
            problem = f"has a key {bad_key!r}: {problem}"
        found.append(Violation(render_path((*path, *where)), problem, _a(hint)))
    return found


_MISSING = object()


def _locate(value: Any, loc: tuple[int | str, ...]) -> tuple[Path, Any]:
    """Turn pydantic's error location into a path in ``value``; also return a bad key, if that is the error.

    pydantic's locations name union members (``int``, ``Cat``, a discriminator
    tag) and mark key errors with ``[key]``: those are not places in the value,
    so the path keeps only the steps that exist in it, plus a final missing
    field name (for "Field required").
    """
    where: list[int | str] = []
    node = value
    for index, segment in enumerate(loc):
        last = index == len(loc) - 1
        if not last and loc[index + 1] == "[key]":
            return tuple(where), segment
        if segment == "[key]":
            continue
        child = _child(node, segment)
        if child is not _MISSING:
            where.append(segment)
            node = child
        elif last and _could_hold(node, segment):
            where.append(segment)  # a required field or item that is absent
    return tuple(where), _MISSING


def _child(node: Any, segment: int | str) -> Any:
    if isinstance(node, Mapping):
        return node.get(segment, _MISSING)
    if isinstance(node, list | tuple | set | frozenset) and isinstance(segment, int):
        items = node if isinstance(node, list | tuple) else list(node)  # pydantic counts set items in order
        return items[segment] if -len(items) <= segment < len(items) else _MISSING
    if isinstance(segment, str) and (isinstance(node, pydantic.BaseModel) or dataclasses.is_dataclass(node)):
        return getattr(node, segment, _MISSING)
    return _MISSING


def _could_hold(node: Any, segment: int | str) -> bool:
    if isinstance(segment, int):
        return isinstance(node, list | tuple)
    return isinstance(node, Mapping | pydantic.BaseModel) or dataclasses.is_dataclass(node)


def _a(hint: Any) -> str:
    return "any strict JSON value" if hint is _EMPTY else f"a value of type {hint_text(hint)}"


def hint_text(hint: Any) -> str:
    """A type hint as people read it: ``int``, ``int (Gt(gt=0))``, ``list[str] | None``."""
    if hint is _EMPTY:
        return "any strict JSON"
    if typing.get_origin(hint) is typing.Annotated:
        base, *metadata = typing.get_args(hint)
        constraints = [str(item) for meta in metadata for item in getattr(meta, "metadata", [meta])]
        return f"{hint_text(base)} ({', '.join(constraints)})" if constraints else hint_text(base)
    if isinstance(hint, type) and not typing.get_args(hint):
        return hint.__qualname__
    return repr(hint).replace("typing.", "")
