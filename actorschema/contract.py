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
``dict``/``list``) pass through untouched and must be strict JSON. Every
other hint is validated by pydantic and travels as pydantic's JSON form:
a model as its JSON object, a ``datetime`` as RFC 3339 text, a ``UUID`` or
``Decimal`` as a string, a tuple or set as an array.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pydantic
from pydantic import ConfigDict, TypeAdapter
from pydantic_core import PydanticSerializationError

from .errors import PayloadInvalid, Violation
from .paths import Path, render_path

__all__ = ["ActorContract", "Parameter", "actor_function"]

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
    """

    name: str
    kind: inspect._ParameterKind
    hint: Any
    default: Any
    adapter: TypeAdapter[Any] | None = dataclasses.field(default=None, compare=False, repr=False)
    checks_awareness: bool = False
    #: ``hint`` when values of exactly that type are already their own JSON form.
    exact: type | None = dataclasses.field(default=None, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.adapter is not None and _is_exact_scalar(self.hint):
            object.__setattr__(self, "exact", self.hint)

    @property
    def required(self) -> bool:
        return self.default is _EMPTY and self.kind not in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        )

    @property
    def is_raw_json(self) -> bool:
        """True when the parameter accepts any strict JSON value."""
        return self.adapter is None

    def to_json(self, value: Any, path: Path, violations: list[Violation]) -> Any:
        """Validate ``value`` and return its JSON form; append violations on failure."""
        if type(value) is self.exact:
            return value
        hint = self.hint
        if self.adapter is None:
            if (hint is dict or hint is list) and not isinstance(value, hint):
                violations.append(Violation(render_path(path), f"is a {_type_name(value)}", _a(hint)))
            return value
        try:
            validated = self.adapter.validate_python(value)
        except pydantic.ValidationError as error:
            violations.extend(_pydantic_violations(error, path, hint))
            return value
        if self.checks_awareness:
            naive = _naive_times(validated, path)
            if naive:
                violations.extend(naive)
                return value
        try:
            return self.adapter.dump_python(validated, mode="json")
        except (PydanticSerializationError, ValueError, TypeError) as error:
            violations.append(Violation(render_path(path), f"cannot be serialised: {error}", _a(hint)))
            return value


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
        open_slots: int = 0,
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Bind ``args``/``kwargs`` to the signature and return their canonical JSON form.

        Parameters:
          args: Positional arguments as sent.
          kwargs: Keyword arguments as sent.
          open_slots: How many trailing positional arguments are still to
            come (a pipeline appends the previous step's result): that many
            missing required parameters are tolerated.

        Returns:
          ``(args, kwargs)``: ``args`` holds only what cannot be named.

        Raises:
          PayloadInvalid: With one violation per problem and its path.
        """
        if self._plain and len(args) <= len(self.positional):
            named = self._bind_plain(args, kwargs)
            if named is not None:
                return (), named
        return self._canonical_full(args, kwargs, open_slots)

    def _bind_plain(
        self, args: tuple[Any, ...] | list[Any], kwargs: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """The fast path for valid arguments to a plain signature; None sends the call down the full path.

        Anything unusual (a duplicate, an unknown or missing argument, a value that
        does not fit) returns None: the full path then reports every problem.
        """
        named: dict[str, Any] = {}
        violations: list[Violation] = []
        for index, (parameter, value) in enumerate(zip(self.positional, args, strict=False)):
            if type(value) is parameter.exact:
                named[parameter.name] = value
            else:
                named[parameter.name] = parameter.to_json(value, ("args", index), violations)
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

    def _canonical_full(
        self, args: tuple[Any, ...] | list[Any], kwargs: Mapping[str, Any], open_slots: int
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
            named[parameter.name] = parameter.to_json(value, ("args", index), violations)
        extra_values = tuple(args[len(positional) :])
        extras: list[Any] = []
        if extra_values and self.var_positional is not None:
            start = len(positional)
            extras = [
                self.var_positional.to_json(v, ("args", start + i), violations)
                for i, v in enumerate(extra_values)
            ]
        extra_kwargs: dict[str, Any] = {}
        for key, value in kwargs.items():
            where: Path = ("kwargs", key)
            if key in self.keyword_names:
                named[key] = self.by_name[key].to_json(value, where, violations)
            elif self.var_keyword is not None and type(key) is str:
                extra_kwargs[key] = self.var_keyword.to_json(value, where, violations)
            else:
                violations.append(self._unknown_keyword(key))
        missing = [name for name in self.required if name not in named]
        if len(missing) > open_slots:
            for name in missing[open_slots:]:
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
    return Parameter(parameter.name, kind, hint, parameter.default, adapter, _may_hold_time(hint))


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


def _may_hold_time(hint: Any, seen: frozenset[type] = frozenset()) -> bool:
    """Can a value of type ``hint`` contain a ``datetime`` or ``time``? Unknown types say yes."""
    origin = typing.get_origin(hint)
    if origin is typing.Literal:
        return False
    if origin is not None:
        return any(_may_hold_time(arg, seen) for arg in typing.get_args(hint) if arg is not Ellipsis)
    if not isinstance(hint, type):
        return hint is not None  # Any, TypeVars, forward references: cannot tell
    if issubclass(hint, datetime.datetime | datetime.time):
        return True
    if issubclass(hint, pydantic.BaseModel):
        return hint not in seen and any(
            _may_hold_time(f.annotation, seen | {hint}) for f in hint.model_fields.values()
        )
    # Untyped contents, or fields this does not inspect: cannot tell.
    return hint in (dict, list, tuple, set, frozenset, object) or dataclasses.is_dataclass(hint)


@functools.cache
def _time_fields(model: type[pydantic.BaseModel]) -> tuple[str, ...]:
    """The fields of ``model`` that may hold a ``datetime``/``time``, worked out once per model."""
    return tuple(name for name, field in model.model_fields.items() if _may_hold_time(field.annotation))


_PLAIN_SCALARS = frozenset((str, int, float, bool, type(None)))
_NOTHING: dict[str, Any] = {}


def _naive_times(value: Any, path: Path) -> list[Violation]:
    """Find naive ``datetime``/``time`` values (RFC 3339 requires an offset)."""
    found: list[Violation] = []
    stack: list[tuple[Any, Path]] = [(value, path)]
    seen: set[int] = set()
    while stack:
        node, where = stack.pop()
        if isinstance(node, datetime.datetime | datetime.time):
            if node.tzinfo is None or node.utcoffset() is None:
                kind = "datetime" if isinstance(node, datetime.datetime) else "time"
                found.append(Violation(render_path(where), f"is a naive {kind} (no UTC offset)", _AWARE_HINT))
            continue
        if id(node) in seen:
            continue
        if isinstance(node, pydantic.BaseModel):
            seen.add(id(node))
            stack.extend((getattr(node, name), (*where, name)) for name in _time_fields(type(node)))
        elif isinstance(node, dict):
            seen.add(id(node))
            stack.extend((v, (*where, str(k))) for k, v in node.items() if type(v) not in _PLAIN_SCALARS)
        elif isinstance(node, list | tuple | set | frozenset):
            seen.add(id(node))
            stack.extend((v, (*where, i)) for i, v in enumerate(node) if type(v) not in _PLAIN_SCALARS)
        elif dataclasses.is_dataclass(node) and not isinstance(node, type):
            seen.add(id(node))
            stack.extend((getattr(node, f.name), (*where, f.name)) for f in dataclasses.fields(node))
    return found


def _pydantic_violations(error: pydantic.ValidationError, path: Path, hint: Any) -> list[Violation]:
    found = []
    for detail in error.errors(include_url=False):
        where = (*path, *(segment for segment in detail["loc"] if isinstance(segment, str | int)))
        given = _type_name(detail.get("input"))
        found.append(Violation(render_path(where), f"{detail['msg']} (got {given})", _a(hint)))
    return found


def _a(hint: Any) -> str:
    return f"a value of type {_hint_name(hint)}"


def _hint_name(hint: Any) -> str:
    if hint is _EMPTY:
        return "any strict JSON value"
    if isinstance(hint, type) and not typing.get_args(hint):
        return hint.__qualname__
    return repr(hint).replace("typing.", "")


def _type_name(value: Any) -> str:
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
