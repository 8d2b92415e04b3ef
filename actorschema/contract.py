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
pydantic and travels as pydantic's JSON form, by alias and in round-trip form:
a model as its JSON object, a ``datetime`` as RFC 3339 text, a ``UUID`` or
``Decimal`` as a string, a tuple or set as an array, ``bytes`` as base64url.

Each hint is classified once, when the actor is declared
(:mod:`actorschema.hints`): a hint whose JSON form would not read back as the
value sent (a ``SecretStr``, a serializer, an excluded field, ``Literal[1]``
dict keys...) is refused there, with the reason and what to declare instead.
What the JSON form would hide in a value is refused at send: naive times, UTC
offsets with seconds, non-finite floats, non-JSON values in ``Any`` positions
(of models, their extras, dataclasses and TypedDicts), and dict keys that two
texts name once converted (``1`` and ``"01"`` for an ``int`` key). A pipeline
step may lack exactly the argument Dramatiq appends (the previous step's
result), and must have room for it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import re
import sys
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pydantic
import typing_extensions
from pydantic import ConfigDict, TypeAdapter
from pydantic.errors import PydanticInvalidForJsonSchema
from pydantic.fields import FieldInfo
from pydantic_core import PydanticSerializationError

from .encoder import encode_json
from .errors import PayloadInvalid, Violation, type_name
from .hints import (
    STRUCT_PATH,
    Node,
    Unsupported,
    annotated_target,
    classify,
    for_pydantic,
    hidden_by_json_form,
    hint_text,
    in_set_order,
    key_collisions,
    opaque_leaves,
    resolve_annotation,
    resolve_annotations,
)
from .numbers import exactness_validator, exactness_violations
from .paths import Path, render_path

__all__ = [
    "ABSENT",
    "CONTRACT_OPTION",
    "ActorContract",
    "ContractError",
    "Parameter",
    "actor_function",
    "declaring_namespace",
    "hint_text",
    "resolve_annotations",
    "result_parameter",
]

#: The per-actor way out: ``@dramatiq.actor(payload_contract="json")`` checks the actor's
#: arguments against its signature and as strict JSON only, ignoring its type hints.
CONTRACT_OPTION = "payload_contract"
#: The values of :data:`CONTRACT_OPTION`: ``"hints"`` (the default) or ``"json"``.
CONTRACT_KINDS = ("hints", "json")
_WAY_OUT = f'@dramatiq.actor({CONTRACT_OPTION}="json") to accept any strict JSON for its arguments'


class _Absent:
    """The default of an optional keyword that has none (a ``NotRequired`` key of ``**kwargs: Unpack[...]``)."""

    def __repr__(self) -> str:
        return "<absent>"


#: The default of a parameter that may be left out and then is simply absent.
ABSENT: Any = _Absent()


class ContractError(TypeError):
    """An actor whose type hints cannot be made a contract; names what, why, and the way out.

    Parameters:
      actor_name: The actor.
      problem: What went wrong, naming the parameter and its type when there is one.
      fix: What to declare instead (the way out is appended).
      retry: The error may go away by itself (a name not defined yet): try again later.
    """

    def __init__(self, actor_name: str, problem: str, fix: str = "", *, retry: bool = False) -> None:
        self.actor_name = actor_name
        self.problem = problem
        self.fix = f"{fix}, or {_WAY_OUT}" if fix else _WAY_OUT
        self.retry = retry
        super().__init__(f"actor {actor_name!r}: {problem}; declare {self.fix}")


_EMPTY = inspect.Parameter.empty
#: What :meth:`Parameter._wire_form` returns for a value that cannot travel (its violations say why).
_REFUSED: Any = object()
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
    ``GenericActor`` (whose ``fn`` is an instance) returns its ``perform``; for
    a callable instance (``dramatiq.actor(Task())``) its ``__call__``, or the
    one method of the instance that an unannotated ``__call__(*args, **kwargs)``
    hands off to, when that method is annotated.
    """
    fn = actor.fn
    fn = getattr(fn, "__actorschema_wrapped__", fn)
    if inspect.isfunction(fn) or inspect.ismethod(fn):
        return typing.cast(Callable[..., Any], inspect.unwrap(fn))
    if hasattr(fn, "perform"):
        return typing.cast(Callable[..., Any], fn.perform)
    if not isinstance(fn, type) and inspect.ismethod(getattr(fn, "__call__", None)):  # noqa: B004
        return _hand_off(fn)
    return typing.cast(Callable[..., Any], inspect.unwrap(fn))


def _hand_off(instance: Any) -> Callable[..., Any]:
    """A callable instance's ``__call__``, or the annotated method it only forwards ``*args, **kwargs`` to."""
    call = instance.__call__
    if not hides_signature(call):
        return typing.cast(Callable[..., Any], call)
    code = getattr(call.__func__, "__code__", None)
    # Looked up statically: reading an attribute could run a property's code.
    names = [
        name
        for name in dict.fromkeys(code.co_names if code is not None else ())
        if inspect.isfunction(found := inspect.getattr_static(type(instance), name, None))
        and getattr(found, "__annotations__", None)
    ]
    return typing.cast(Callable[..., Any], getattr(instance, names[0]) if len(names) == 1 else call)


def hides_signature(fn: Callable[..., Any]) -> bool:
    """True when ``fn`` takes only an unannotated ``(*args, **kwargs)``: its real signature is hidden.

    The usual cause is a decorator whose wrapper lacks ``functools.wraps``:
    the contract then accepts any strict JSON arguments, and nothing is typed.
    """
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return True
    kinds = [p.kind for p in parameters]
    return kinds == [inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD] and all(
        p.annotation in _ANYTHING for p in parameters
    )


#: Annotations that say nothing about a value (strings under ``from __future__ import annotations``).
_ANYTHING: frozenset[Any] = frozenset((_EMPTY, Any, object, "Any", "typing.Any", "object"))


def declaring_namespace(fn: Callable[..., Any]) -> dict[str, Any]:
    """The names visible where ``fn`` was defined, beyond its module's: closures and the defining frame.

    Called at declare time (the decorator runs in the frame that defines the
    function), so a hint naming a class local to a function resolves, even
    under ``from __future__ import annotations``. Only the names its string
    annotations mention are kept (nothing else of the frame stays alive);
    empty when there are none, or the frame is not found.
    """
    target = inspect.unwrap(getattr(fn, "__func__", fn))
    code = getattr(target, "__code__", None)
    annotations = getattr(target, "__annotations__", None) or {}
    wanted = {name for text in annotations.values() if isinstance(text, str) for name in _NAME.findall(text)}
    namespace: dict[str, Any] = {}
    if code is None or not wanted:
        return namespace
    frame = sys._getframe(1)
    while frame is not None:
        if _defines(frame.f_code, code):
            if frame.f_code.co_name != "<module>":  # module globals are resolved as globals, live
                namespace.update((k, v) for k, v in frame.f_locals.items() if k in wanted)
            break
        frame = frame.f_back  # type: ignore[assignment]
    cells = getattr(target, "__closure__", None) or ()
    for name, cell in zip(code.co_freevars, cells, strict=False):
        if name in wanted:
            with contextlib.suppress(ValueError):  # an empty cell: the name is not bound yet
                namespace[name] = cell.cell_contents
    return namespace


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _defines(outer: types.CodeType, code: types.CodeType) -> bool:
    """Does ``outer`` define ``code``, directly or in a class body it defines (a method)?"""
    stack = [outer]
    while stack:
        current = stack.pop()
        for const in current.co_consts:
            if const is code:
                return True
            if isinstance(const, types.CodeType) and current is outer:
                stack.append(const)  # one level down: the bodies of classes defined here
    return False


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
      node: The hint's wire tree (:mod:`actorschema.hints`): where values must
        be walked for what pydantic's JSON form would hide, and where dict keys
        may collide once converted.
    """

    name: str
    kind: inspect._ParameterKind
    hint: Any
    default: Any
    adapter: TypeAdapter[Any] | None = dataclasses.field(default=None, compare=False, repr=False)
    keeps_value: bool = False
    node: Node | None = dataclasses.field(default=None, compare=False, repr=False)
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
        if self.collides(value, path, violations):
            return value
        try:
            validated = self.adapter.validate_python(value)
        except pydantic.ValidationError as error:
            violations.extend(pydantic_violations(error, path, self.hint, value))
            return value
        except ArithmeticError as error:
            # pydantic before 2.14 lets decimal's own errors out of multiple_of (1E+30, sNaN):
            # a refusal of this value, not an internal failure of the check.
            problem = f"cannot be checked against {hint_text(self.hint)}: {type(error).__name__}"
            violations.append(Violation(render_path(path), problem, _a(self.hint)))
            return value
        if self.keeps_value:
            wire = list(validated) if isinstance(validated, tuple | set | frozenset) else validated
        else:
            wire = self._wire_form(validated, path, violations)
            if wire is _REFUSED:
                return value
        node = self.node
        if node is not None and node.sorts:
            # One order for a set's items, so equal sets are stored as equal bytes (see in_set_order).
            in_set_order(node, wire, encode_json)
        if self.exactness is not None:
            # pydantic's float multiple_of has a tolerance, and before 2.14 it rounds a Decimal
            # before counting its digits; the schema's validators do neither.
            refused = exactness_violations(self.exactness, wire, path, lambda: _a(self.hint))
            if refused:
                violations.extend(refused)
                return value
        return wire

    def collides(self, value: Any, path: Path, violations: list[Violation]) -> bool:
        """Does ``value`` hold dict keys that convert to one key (``"1"`` and ``"01"`` for ``int``)?

        pydantic would keep one entry of them, so both sides refuse the value
        before converting it; each collision is appended to ``violations``.

        Parameters:
          value: The value as sent, or its JSON form as it arrived on the worker.
          path: Where it is in the message.
          violations: Where the collisions go.
        """
        node = self.node
        if node is None or not node.collides:
            return False
        found = key_collisions(node, value, path)
        violations.extend(found)
        return bool(found)

    def _wire_form(self, validated: Any, path: Path, violations: list[Violation]) -> Any:
        """The JSON form of a validated value that is not its own; :data:`_REFUSED` when it cannot travel."""
        assert self.adapter is not None
        node = self.node
        if node is not None and node.walks:
            hidden = hidden_by_json_form(node, validated, path)
            if hidden:
                violations.extend(hidden)
                return _REFUSED
        try:
            wire = self.json_form(validated)
        except (PydanticSerializationError, ValueError, TypeError) as error:
            violations.append(Violation(render_path(path), f"cannot be serialised: {error}", _a(self.hint)))
            return _REFUSED
        if node is not None and node.overlaps:
            # A union whose members share a JSON form: read it back as the worker will.
            try:
                arrived = self.adapter.validate_json(encode_json(wire))
            except pydantic.ValidationError as error:
                arrived = error
            if arrived != validated:
                problem = (
                    f"would arrive on the worker as {arrived!r}, not as the {type_name(validated)} sent: "
                    f"members of {hint_text(self.hint)} share this JSON form"
                )
                instead = "a discriminated union (Field(discriminator=...)) or a value of one member type"
                violations.append(Violation(render_path(path), problem, instead))
                return _REFUSED
        return wire

    def json_form(self, validated: Any) -> Any:
        """The JSON form of a validated value: what the schema publishes and the worker reads back.

        By alias (the schema and the validator name fields by their alias) and
        in round-trip form (``Json[...]`` as its text; computed fields, which no
        validator reads, left out).
        """
        assert self.adapter is not None
        return self.adapter.dump_python(validated, mode="json", by_alias=True, round_trip=True)


class ActorContract:
    """The signature of one actor, ready to bind and validate messages.

    Parameters:
      actor_name: The actor's name.
      queue_name: The actor's queue.
      parameters: The actor's parameters, in signature order.
      description: The actor's docstring, if any.
      function: The function whose signature this is: its source says which
        defaults and texts a schema may publish (see :mod:`actorschema.defaults`).
    """

    def __init__(
        self,
        actor_name: str,
        queue_name: str,
        parameters: list[Parameter],
        description: str | None = None,
        function: Callable[..., Any] | None = None,
    ) -> None:
        self.actor_name = actor_name
        self.queue_name = queue_name
        self.parameters = parameters
        self.description = description
        self.function = function
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
        # Every parameter takes exactly int, str, float or bool (by position or by name): a value
        # of exactly its parameter's type is its own JSON form, so binding is the whole conversion.
        self._exact_types: tuple[type, ...] | None = None
        if self._plain and all(p.exact is not None for p in parameters):
            self._exact_types = tuple(p.exact for p in self.positional)  # type: ignore[misc]
            self._exact_names = tuple(p.name for p in self.positional)
            self._exact_by_name = {p.name: p.exact for p in parameters}
            required_at = [i for i, p in enumerate(self.positional) if p.required]
            # The fewest positional values that leave no required parameter missing (a required
            # keyword-only parameter is never filled by position).
            self._exact_fewest = (
                len(self.positional) + 1
                if len(required_at) < len(self.required)
                else (required_at[-1] + 1 if required_at else 0)
            )
        #: Every parameter takes exactly ``int``, ``str``, ``float`` or ``bool``: :meth:`bind_exact` applies.
        self.binds_exactly = self._exact_types is not None
        #: The way-out option in force (``'payload_contract="json"'``), or None.
        self.way_out: str | None = None
        #: Only an unannotated ``(*args, **kwargs)``: a wrapper without functools.wraps, most likely.
        self.hidden_signature = False

    @classmethod
    def from_actor(cls, actor: Any, localns: Mapping[str, Any] | None = None) -> ActorContract:
        """Build the contract of a declared Dramatiq actor (function, async, generic or callable instance).

        Parameters:
          actor: The actor.
          localns: Names visible where the actor was declared (see :func:`declaring_namespace`).

        Raises:
          ContractError: As :meth:`from_function`, or for a bad ``payload_contract`` option.
        """
        fn = actor_function(actor)
        kind = actor.options.get(CONTRACT_OPTION, "hints")
        if kind not in CONTRACT_KINDS:
            problem = f"{CONTRACT_OPTION}={kind!r} is not one of {', '.join(map(repr, CONTRACT_KINDS))}"
            raise ContractError(actor.actor_name, problem, f'{CONTRACT_OPTION}="hints" (the default)')
        if kind == "json":
            return cls.any_json(fn, actor.actor_name, actor.queue_name)
        return cls.from_function(fn, actor.actor_name, actor.queue_name, localns)

    @classmethod
    def any_json(cls, fn: Callable[..., Any], actor_name: str, queue_name: str = "default") -> ActorContract:
        """The way-out contract: ``fn``'s signature binds the arguments, each any strict JSON value."""
        signature = _signature(fn, actor_name)
        parameters = [Parameter(p.name, p.kind, _EMPTY, p.default) for p in signature.parameters.values()]
        contract = cls(actor_name, queue_name, parameters, inspect.getdoc(fn), fn)
        contract.way_out = CONTRACT_OPTION + '="json"'
        contract.hidden_signature = hides_signature(fn)
        return contract

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        actor_name: str,
        queue_name: str = "default",
        localns: Mapping[str, Any] | None = None,
    ) -> ActorContract:
        """Build a contract from a function's signature and the type hints of its parameters.

        Only parameter hints are resolved: the return annotation never travels
        in a message (and may name a ``TYPE_CHECKING``-only import).

        Parameters:
          fn: The function (or bound method) whose signature is the contract.
          actor_name: The actor's name, for errors and schemas.
          queue_name: The actor's queue.
          localns: Extra names to resolve string hints with (a function's locals).

        Raises:
          ContractError: When a hint cannot be resolved (``retry`` is set: the
            name may be defined later) or cannot be made a contract; the message
            names the actor, the parameter, the type, why, and the way out.
        """
        signature = _signature(fn, actor_name)
        hints = _parameter_hints(fn, actor_name, signature, localns)
        parameters: list[Parameter] = []
        for p in signature.parameters.values():
            hint = hints.get(p.name, _EMPTY)
            if p.kind is inspect.Parameter.VAR_KEYWORD and _is_unpack(hint):
                keywords = _unpacked(actor_name, p, hint)
                clash = sorted({k.name for k in keywords} & signature.parameters.keys())
                if clash:  # PEP 692: a key may not also be a named parameter
                    problem = (
                        f"parameter {p.name!r} ({hint_text(hint)}): its keys {clash} are also parameters"
                    )
                    raise ContractError(actor_name, problem, "a TypedDict without those keys")
                parameters.extend(keywords)
                continue
            parameters.append(_contract_parameter(actor_name, p, hint, f"parameter {p.name!r}"))
        contract = cls(actor_name, queue_name, parameters, inspect.getdoc(fn), fn)
        contract.hidden_signature = hides_signature(fn)
        return contract

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
        if self._exact_types is not None and not awaiting_result:
            named = self.bind_exact(args, kwargs)
            if named is not None:
                return (), named
        if self._plain and not awaiting_result and len(args) <= len(self.positional):
            named = self._bind_plain(args, kwargs)
            if named is not None:
                return (), named
        return self._canonical_full(args, kwargs, awaiting_result)

    def bind_exact(
        self, args: tuple[Any, ...] | list[Any], kwargs: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """The canonical ``kwargs`` of a call whose every value is of exactly its parameter's type; else None.

        For a contract that :attr:`binds_exactly`: such values (floats finite) are
        their own JSON form, so this is :meth:`canonical` for them, at the cost of
        binding alone. Anything else (a value of another type, a ``NaN`` or an
        infinity, an unknown, duplicated or missing argument, a contract it does
        not apply to) returns None: :meth:`canonical` then converts the values or
        reports every problem.

        Parameters:
          args: Positional arguments as sent.
          kwargs: Keyword arguments as sent.
        """
        types = self._exact_types
        if types is None or len(args) > len(types):
            return None
        # A plain loop: on CPython 3.11 it beats all(map(...)) and dict(zip(...)) for a few values.
        named: dict[str, Any] = {}
        for name, exact, value in zip(self._exact_names, types, args):  # noqa: B905 (length checked above)
            # x - x is 0.0 for every finite float, NaN for NaN and the infinities.
            if type(value) is not exact or (exact is float and value - value != 0.0):  # type: ignore[operator]
                return None
            named[name] = value
        if not kwargs:
            return named if len(args) >= self._exact_fewest else None
        by_name = self._exact_by_name
        for key, value in kwargs.items():
            # A key that is not a str, or names no parameter, wants None: never a value's type.
            wanted = by_name.get(key) if type(key) is str else None
            if wanted is not type(value) or (wanted is float and value - value != 0.0) or key in named:  # type: ignore[operator]
                return None
            named[key] = value
        if not self.required_names <= named.keys():
            return None
        return {name: named[name] for name in self.names if name in named}

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


def _signature(fn: Callable[..., Any], actor_name: str) -> inspect.Signature:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError) as error:
        raise ContractError(
            actor_name, f"its signature cannot be read: {error}", "a plain function"
        ) from error


def _parameter_hints(
    fn: Callable[..., Any],
    actor_name: str,
    signature: inspect.Signature,
    localns: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Resolve the hint of each parameter on its own (never the return annotation)."""
    target = annotated_target(fn)
    globalns = getattr(target, "__globals__", {})
    local = dict(localns) if localns is not None else declaring_namespace(target)
    hints: dict[str, Any] = {}
    for name, parameter in signature.parameters.items():
        annotation = parameter.annotation
        if annotation is _EMPTY:
            continue
        try:
            hints[name] = resolve_annotation(annotation, globalns, local or None)
        except Exception as error:
            where = (
                f"parameter {name!r} ({annotation if isinstance(annotation, str) else hint_text(annotation)})"
            )
            problem = f"{where}: its type hint cannot be resolved: {type(error).__name__}: {error}"
            fix = "a name importable at run time (not only under TYPE_CHECKING)"
            raise ContractError(actor_name, problem, fix, retry=isinstance(error, NameError)) from error
    return hints


def _refuse_pydantic_v1(actor_name: str, where: str, hint: Any) -> None:
    """pydantic 2 cannot validate a ``pydantic.v1`` model (it raises a plain TypeError on every value)."""
    for cls in _classes_in(hint):
        if any(base.__module__.startswith("pydantic.v1") for base in getattr(cls, "__mro__", ())[1:]):
            problem = (
                f"{where} ({hint_text(hint)}): {cls.__qualname__} is a pydantic.v1 model, "
                "which pydantic 2 validators cannot check"
            )
            raise ContractError(actor_name, problem, f"{cls.__qualname__} as a pydantic 2 model")


def _classes_in(hint: Any) -> list[type]:
    """The classes a hint names, through unions, generics and ``Annotated``."""
    found: list[type] = []
    stack = [hint]
    while stack:
        node = stack.pop()
        if isinstance(node, type) and not typing.get_args(node):
            found.append(node)
        stack.extend(arg for arg in typing.get_args(node) if not isinstance(arg, str | int | float))
        origin = typing.get_origin(node)
        if isinstance(origin, type):
            found.append(origin)
    return found


_UNPACKS = frozenset((typing.Unpack, typing_extensions.Unpack))
_REQUIRED = frozenset((typing.Required, typing_extensions.Required))
_NOT_REQUIRED = frozenset((typing.NotRequired, typing_extensions.NotRequired))
#: What may wrap a TypedDict key's type (ReadOnly only in typing_extensions >= 4.9).
_KEY_WRAPPERS = (
    _REQUIRED | _NOT_REQUIRED | frozenset(filter(None, [getattr(typing_extensions, "ReadOnly", None)]))
)


def _is_unpack(hint: Any) -> bool:
    return typing.get_origin(hint) in _UNPACKS


def _unpacked(actor_name: str, parameter: inspect.Parameter, hint: Any) -> list[Parameter]:
    """``**kwargs: Unpack[SomeTypedDict]`` (PEP 692): one keyword-only parameter per key of the TypedDict."""
    (typed_dict,) = typing.get_args(hint)
    if not typing_extensions.is_typeddict(typed_dict):
        problem = f"parameter {parameter.name!r} ({hint_text(hint)}): Unpack needs a TypedDict"
        raise ContractError(actor_name, problem, "**kwargs: Unpack[SomeTypedDict]")
    try:
        keys = typing.get_type_hints(typed_dict, include_extras=True)
    except Exception as error:
        problem = (
            f"parameter {parameter.name!r} ({hint_text(hint)}): its keys' types cannot be resolved: {error}"
        )
        fix = "a TypedDict whose key types resolve"
        raise ContractError(actor_name, problem, fix, retry=isinstance(error, NameError)) from error
    parameters = []
    for key, key_hint in keys.items():
        # Read Required/NotRequired from the resolved hint: under ``from __future__ import
        # annotations`` Python 3.11's TypedDict cannot see them, and its required keys are wrong.
        required = key in typed_dict.__required_keys__
        while typing.get_origin(key_hint) in _KEY_WRAPPERS:
            wrapper = typing.get_origin(key_hint)
            if wrapper in _REQUIRED or wrapper in _NOT_REQUIRED:
                required = wrapper in _REQUIRED
            key_hint = typing.get_args(key_hint)[0]
        default = _EMPTY if required else ABSENT
        keyword = inspect.Parameter(key, inspect.Parameter.KEYWORD_ONLY, default=default)
        where = f"keyword {key!r} of **{parameter.name}"
        parameters.append(_contract_parameter(actor_name, keyword, key_hint, where))
    return parameters


def _contract_parameter(actor_name: str, parameter: inspect.Parameter, hint: Any, where: str) -> Parameter:
    """:func:`_parameter`, with every failure a :class:`ContractError` naming ``where`` and the type."""
    _refuse_pydantic_v1(actor_name, where, hint)
    try:
        return _parameter(actor_name, parameter, hint)
    except ContractError:
        raise  # already says what, why and what to declare instead
    except Exception as error:
        cause = error.__cause__ or error
        # pydantic's texts run to paragraphs of advice about its own config: its first sentence says why.
        why = str(cause).split("\n", 1)[0].split(". ", 1)[0]
        problem = f"{where} ({hint_text(hint)}): pydantic cannot validate it: {type(cause).__name__}: {why}"
        raise ContractError(actor_name, problem, "a type pydantic can validate") from error


def result_parameter(actor_name: str, hint: Any) -> Parameter:
    """The return annotation ``hint`` as a parameter: a result converts as an argument of that type would.

    Raises:
      TypeError: When pydantic cannot build a validator for ``hint``.
    """
    slot = inspect.Parameter("result", inspect.Parameter.POSITIONAL_ONLY)
    return _parameter(actor_name, slot, hint)


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
        adapter, configured = _adapter(for_pydantic(hint))
    except Unsupported as error:
        raise _refusal(actor_name, parameter.name, hint, error) from error
    except Exception as error:
        try:
            classify(hint)  # a known reason (a serializer some pydantic versions cannot even build) says more
        except Unsupported as unsupported:
            raise _refusal(actor_name, parameter.name, hint, unsupported) from error
        except Exception:
            pass  # pydantic's own error, below, is the one to report
        raise TypeError(
            f"actor {actor_name!r}: parameter {parameter.name!r} has a type hint pydantic cannot validate "
            f"({hint_text(hint)}): {error}"
        ) from error
    try:
        node = classify(hint, base64_bytes=configured)
    except Unsupported as error:
        raise _refusal(actor_name, parameter.name, hint, error) from error
    except Exception as error:  # a hint inside the type that cannot be read (a field's forward reference)
        problem = (
            f"parameter {parameter.name!r} ({hint_text(hint)}): cannot read the "
            f"types inside it: {type(error).__name__}: {error}"
        )
        fix = "types whose fields' hints resolve at run time"
        # A field's forward reference may name a class defined later: try again on the next send.
        raise ContractError(actor_name, problem, fix, retry=isinstance(error, NameError)) from error
    if opaque_leaves(node):
        _check_publishable(actor_name, parameter.name, hint, adapter)
    native = _is_json_native(hint) or _is_json_native_sequence(hint)
    return Parameter(parameter.name, kind, hint, parameter.default, adapter, native, node)


def _check_publishable(actor_name: str, name: str, hint: Any, adapter: TypeAdapter[Any]) -> None:
    """Refuse a type pydantic writes no JSON Schema for: the worker, which checks by it, would refuse every message."""
    from .schema import WorkerSchema  # schema.py reads contracts: imported when first needed

    try:
        adapter.json_schema(schema_generator=WorkerSchema)
    except PydanticInvalidForJsonSchema as error:
        problem = (
            f"parameter {name!r} ({hint_text(hint)}) has no JSON Schema ({error.message.splitlines()[0]}): "
            "nothing could be published for producers, and the worker, which checks each message "
            "against it, would dead-letter every message send() accepted"
        )
        fix = "a type pydantic writes a JSON Schema for (a custom type may add __get_pydantic_json_schema__)"
        raise ContractError(actor_name, problem, fix) from error


def _refusal(actor_name: str, name: str, hint: Any, error: Unsupported) -> ContractError:
    problem = (
        f"parameter {name!r} ({hint_text(hint)}) cannot make the round trip to JSON "
        f"and back: {error.where} {error.why}"
    )
    return ContractError(actor_name, problem, error.instead)


def _adapter(hint: Any) -> tuple[TypeAdapter[Any], bool]:
    """pydantic's validator for ``hint``, and whether the gateway's config (base64url bytes) applies to it."""
    try:
        return TypeAdapter(hint, config=_ADAPTER_CONFIG), True
    except pydantic.PydanticUserError:
        # Models, dataclasses and TypedDicts refuse an outer config: their own applies.
        return TypeAdapter(hint), False


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


_NATIVE_LEAVES: frozenset[Any] = frozenset((Any, object, type(None), None, bool, int, float, str, dict, list))
_NOTHING: dict[str, Any] = {}


def pydantic_violations(
    error: pydantic.ValidationError, path: Path, hint: Any, value: Any
) -> list[Violation]:
    """pydantic's errors as violations at their place in ``value`` (send side and worker alike).

    Parameters:
      error: What pydantic refused.
      path: Where ``value`` is in the message.
      hint: The parameter's hint, for what to send instead.
      value: The value pydantic was given (Python on send, JSON on the worker).
    """
    found = []
    for detail in error.errors(include_url=False):
        where, bad_key = _locate(value, detail["loc"])
        inside = detail.get("ctx", {}).get(STRUCT_PATH)
        if inside is not None:
            # msgspec's text says what it got, at the place inside the Struct.
            where, problem = (*where, *inside), detail["msg"]
        else:
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
