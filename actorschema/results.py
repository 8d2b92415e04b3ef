"""Return values as part of an actor's contract.

Dramatiq hands an actor's return value on: to a results backend
(``store_results``), to the next step of a pipeline (appended to its
positional arguments), to an ``on_success`` callback. Each of them encodes it
as JSON after the message was acked, so a value JSON cannot hold (a
``datetime``, a ``UUID``) makes the encoder raise where nobody sees it: the
result, or the rest of the pipeline, is lost.

The gateway's wrapper of the actor's function therefore hands Dramatiq the
result's JSON form, on the worker's own call of the actor only:

* With a return annotation, the result is converted exactly as an argument
  of that type would be (:func:`~actorschema.contract.result_parameter`): a
  ``datetime`` becomes RFC 3339 text, a model its JSON object. The next
  pipeline step receives it typed (its worker converts its arguments back),
  and :func:`typed_result` turns a stored result back into the declared type.
  A result that does not fit the annotation raises
  :class:`~actorschema.errors.ResultRejected` from the call, so the message
  fails the way a raised exception does: retried, then dead-lettered.
* Without a usable annotation (none, ``Any``, or one that cannot be resolved
  or validated), a result that travels must be strict JSON (tuples excepted:
  they become arrays, as Dramatiq stores them); a result nobody reads is left
  alone, as Dramatiq leaves it.

The return annotation is resolved apart from the parameters, when the actor
first returns: a return type imported under ``TYPE_CHECKING`` never blocks an
actor. If it cannot be resolved then, the result is held to strict JSON where
it travels, and that is logged once. A ``None`` result of an actor annotated
``-> None`` (or not annotated) costs nothing.
"""

from __future__ import annotations

import inspect
import logging
import threading
from typing import Any

from dramatiq import Message
from dramatiq.broker import Broker
from dramatiq.results import Results

from .contract import Parameter, actor_function, hint_text, resolve_annotations, result_parameter
from .errors import ResultRejected, Violation, error_text
from .message import calls_on_success, next_step, step_ignores_result
from .strict_json import find_violations

__all__ = ["ResultContract", "result_travels", "typed_result"]

logger = logging.getLogger("actorschema")

_EMPTY = inspect.Parameter.empty
#: Where a result's violations point: ``result``, ``result.items[0]``...
_ROOT = ("result",)


class ResultContract:
    """How one actor's return value travels: converted by its annotation, or held to strict JSON.

    Parameters:
      actor: The Dramatiq actor whose function's return annotation applies.
    """

    def __init__(self, actor: Any) -> None:
        self.actor_name: str = actor.actor_name
        self._lock = threading.Lock()
        self._resolved = False
        self._parameter: Parameter | None = None
        #: Why the return annotation gives no contract (unresolvable, or pydantic cannot validate it).
        self.problem: str | None = None
        try:
            self._fn: Any = actor_function(actor)
        except Exception:
            # Never raise while the gateway wraps an actor (Dramatiq would swallow it, unwrapped).
            self._fn = None
        annotation = _written_return_annotation(self._fn)
        #: The function carries a return annotation (resolvable or not).
        self.annotated = annotation is not _EMPTY
        #: A ``None`` result needs no work: there is no annotation, or it is ``None``.
        self.none_is_free = (
            not self.annotated
            or annotation is None
            or annotation is type(None)
            or (isinstance(annotation, str) and annotation == "None")
        )

    @property
    def parameter(self) -> Parameter | None:
        """The result as a parameter of the annotated type; None without a usable annotation.

        Resolved on first use, once; a failure is logged once and leaves the result
        to the strict JSON rule.
        """
        if not self._resolved:
            with self._lock:
                if not self._resolved:
                    self._parameter, self.problem = self._resolve()
                    self._resolved = True
                    if self.problem is not None:
                        logger.warning(
                            "actor %r: %s; its results are held to strict JSON where they travel",
                            self.actor_name,
                            self.problem,
                        )
        return self._parameter

    def _resolve(self) -> tuple[Parameter | None, str | None]:
        if not self.annotated:
            return None, None
        if self._fn is None:
            return None, "its function cannot be found to read its return annotation"
        try:
            hint = resolve_annotations(self._fn, ("return",)).get("return", _EMPTY)
        except Exception as error:
            return None, f"its return annotation cannot be resolved ({error_text(error)})"
        if hint is _EMPTY:
            return None, None
        try:
            return result_parameter(self.actor_name, hint), None
        except Exception as error:  # TypeError as a rule; anything else must not fail every result either
            cause = error.__cause__ or error
            return (
                None,
                f"pydantic cannot validate its return annotation {hint_text(hint)} ({error_text(cause)})",
            )

    def to_json(self, result: Any, *, travels: bool) -> Any:
        """Return the JSON form of ``result``, the value Dramatiq hands on.

        Parameters:
          result: What the actor returned.
          travels: Dramatiq hands the result on (results backend, pipeline,
            ``on_success``); without a usable annotation only such a result is checked.

        Raises:
          ResultRejected: The result does not fit the annotation, or travels and is not strict JSON.
        """
        parameter = self.parameter
        if parameter is None:
            if not travels or not find_violations(result, _ROOT):
                return result
            # Tuples become arrays, as plain Dramatiq stores them (its own tests return ``args``).
            result = _tuples_as_lists(result)
            violations = [_for_result(v) for v in find_violations(result, _ROOT)]
            if violations:
                raise ResultRejected(self.actor_name, violations)
            return result
        violations = []
        value = parameter.to_json(result, _ROOT, violations)
        if not violations and parameter.passes_values_through:
            violations = [_for_result(v) for v in find_violations(value, _ROOT)]
        if violations:
            raise ResultRejected(self.actor_name, violations)
        return value

    def from_json(self, value: Any) -> Any:
        """The typed result for its stored JSON form; ``value`` itself without a usable annotation.

        Raises:
          ResultRejected: ``value`` is not a JSON form of the annotated type.
        """
        parameter = self.parameter
        if parameter is None:
            return value
        # The worker's own conversion of an argument; imported here to keep jsonschema out of producers.
        from .consume.arguments import _to_python

        violations: list[Violation] = []
        typed = _to_python(parameter, value, _ROOT, violations)
        if violations:
            raise ResultRejected(self.actor_name, violations)
        return typed


def result_travels(broker: Broker, actor: Any, message: Message[Any] | None) -> bool:
    """Will Dramatiq hand the result of ``message`` on (next pipeline step, ``on_success``, results backend)?

    Read exactly as Dramatiq's middleware read their options. True when the
    message is unknown: then the result is checked.
    """
    if message is None:
        return True
    options = message.options
    step = next_step(options)
    if step is not None and not step_ignores_result(step, actor.options):
        return True
    if calls_on_success(options, actor.options):
        return True
    for middleware in broker.middleware:
        if isinstance(middleware, Results):
            default = actor.options.get("store_results", middleware.store_results)
            if options.get("store_results", default):
                return True
    return False


def typed_result(actor: Any, value: Any) -> Any:
    """Turn a result as Dramatiq stored it (its JSON form) back into the actor's declared return type.

    ``message.get_result(...)`` returns what the results backend decoded: the
    JSON form the gateway handed on. ``typed_result(actor, that)`` is the
    value of the annotated type (a ``datetime``, a model...), converted as the
    worker converts an argument of that type.

    Parameters:
      actor: The actor that returned the result.
      value: The stored result.

    Raises:
      ResultRejected: ``value`` is not a JSON form of the annotated type.
    """
    gateway = getattr(actor, "_actorschema_gateway", None)
    contract = gateway.results.get(actor.actor_name) if gateway is not None else None
    if contract is None:
        contract = ResultContract(actor)
    return contract.from_json(value)


def _written_return_annotation(fn: Any) -> Any:
    """The return annotation as written (a string under ``from __future__ import annotations``)."""
    try:
        return inspect.signature(fn).return_annotation
    except Exception:
        # A signature that cannot even be read (an annotation evaluated eagerly fails): annotated.
        return "?"


def _for_result(violation: Violation) -> Violation:
    """A strict JSON violation found in a result: its advice is about the return type, not a parameter."""
    return Violation(
        violation.path, violation.problem, violation.hint.replace("the parameter", "the return type")
    )


def _tuples_as_lists(value: Any) -> Any:
    """``value`` with every tuple (in lists and dict values too) as a list: JSON's reading of it."""
    if isinstance(value, list | tuple):
        return [_tuples_as_lists(item) for item in value]
    if isinstance(value, dict):
        return {key: _tuples_as_lists(item) for key, item in value.items()}
    return value
