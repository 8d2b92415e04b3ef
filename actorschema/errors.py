"""The errors the gateway raises, and the violations they carry.

Every rejection is a :class:`PayloadRejected`, which subclasses Dramatiq's
``MiddlewareError``: Dramatiq re-raises only that family from a
``before_enqueue`` hook, so a plain exception would be logged and the message
sent anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dramatiq.middleware import MiddlewareError, SkipMessage

__all__ = [
    "CheckFailed",
    "DeadLettered",
    "MessageMalformed",
    "NonJSONPayload",
    "PayloadInvalid",
    "PayloadRejected",
    "PayloadTooLarge",
    "ResultRejected",
    "Violation",
    "error_text",
    "type_name",
]


@dataclass(frozen=True)
class Violation:
    """One thing wrong with one value of a message.

    Parameters:
      path: Where the value sits in the message, e.g. ``kwargs.customer.tags[3]``.
      problem: What is wrong with it, in a short sentence.
      hint: What to send instead.
    """

    path: str
    problem: str
    hint: str = ""

    def as_dict(self) -> dict[str, str]:
        """The violation as JSON, for log records and dead-letter reasons."""
        return {"path": self.path, "problem": self.problem, "hint": self.hint}

    def __str__(self) -> str:
        text = f"{self.path}: {self.problem}"
        return f"{text}\n      send instead: {self.hint}" if self.hint else text


class PayloadRejected(MiddlewareError):
    """Base class of every gateway rejection: nothing was enqueued.

    Parameters:
      actor_name: The actor the message was for.
      violations: What was wrong, each with its path.
    """

    #: A short title used as the first line of ``str(error)``.
    title = "message rejected"

    def __init__(self, actor_name: str, violations: Sequence[Violation]) -> None:
        self.actor_name = actor_name
        self.violations = tuple(violations)
        super().__init__(str(self))

    @property
    def paths(self) -> tuple[str, ...]:
        """The paths of every offending value, in message order."""
        return tuple(v.path for v in self.violations)

    @property
    def reason(self) -> str:
        """A one-line reason, for logs and dead-letter records."""
        return "; ".join(f"{v.path}: {v.problem}" for v in self.violations)

    def __str__(self) -> str:
        lines = [f"actor {self.actor_name!r}: {self.title}"]
        lines += [f"  - {v}" for v in self.violations]
        return "\n".join(lines)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.actor_name, self.violations))


class NonJSONPayload(PayloadRejected):
    """A value is not plain JSON, or JSON would silently change it."""

    title = "a value is not plain JSON (bool, int, float, str, list, dict with str keys, None)"


class PayloadInvalid(PayloadRejected):
    """The arguments do not fit the actor's signature or its type hints."""

    title = "the arguments do not fit the actor's signature"


class CheckFailed(PayloadRejected):
    """The gateway itself failed while checking a message: the message is refused, never let through.

    An unexpected exception inside a hook (a validator raising ``RuntimeError``,
    a custom type whose validation explodes, a bug in actorschema) would reach
    Dramatiq's "log and carry on": the message would be enqueued, or its actor
    run, unchecked. Every hook turns it into this rejection instead; the
    original exception is its ``__cause__``.
    """

    title = "internal error while checking the message"

    @classmethod
    def from_error(cls, actor_name: str, error: BaseException) -> CheckFailed:
        """The rejection for ``error``, raised while checking a message for ``actor_name``."""
        problem = f"internal error while checking: {error_text(error)}"
        hint = (
            "report it (the traceback is logged on the 'actorschema' logger); meanwhile "
            '@dramatiq.actor(payload_contract="json") checks this actor\'s arguments as strict JSON only'
        )
        rejection = cls(actor_name, [Violation("$", problem, hint)])
        rejection.__cause__ = error
        return rejection


class ResultRejected(PayloadRejected):
    """An actor's return value does not fit its return annotation, or cannot travel as JSON.

    Raised on the worker from the actor call itself, so the message fails as if
    the actor had raised: Dramatiq retries it, then dead-letters it. Paths start
    at ``result``.
    """

    title = "the result does not fit the actor's contract (it fails like a raised exception)"


class MessageMalformed(PayloadRejected):
    """Not a well-formed Dramatiq message: undecodable, a broken envelope, or options Dramatiq breaks on.

    Raised on send for options the worker would dead-letter (``max_retries="3"``),
    and on the worker for any of these.

    ``actor_name`` is the name the message gives, or ``"?"`` when it gives none.
    """

    title = "the message is not a well-formed Dramatiq message"


class PayloadTooLarge(PayloadRejected):
    """The encoded message is larger than the limit that applies to it.

    Parameters:
      actor_name: The actor the message was for.
      size: The exact size of the encoded message, in bytes.
      limit: The limit that applied, in bytes.
      limit_source: Which limit applied: ``"actor"``, ``"queue"`` or ``"global"``.
      largest: The largest argument paths with their encoded sizes in bytes.
    """

    title = "the message is too large"

    def __init__(
        self,
        actor_name: str,
        size: int,
        limit: int,
        limit_source: str,
        largest: Sequence[tuple[str, int]] = (),
    ) -> None:
        self.size = size
        self.limit = limit
        self.limit_source = limit_source
        self.largest = tuple(largest)
        problem = f"the encoded message is {size:,} bytes, over the {limit:,}-byte {limit_source} limit"
        hint = "an id or a path (a database key, an object-store URL), not the object or the file body"
        path = largest[0][0] if largest else "$"
        super().__init__(actor_name, [Violation(path, problem, hint)])

    def __str__(self) -> str:
        violation = self.violations[0]
        lines = [f"actor {self.actor_name!r}: {self.title}: {violation.problem}"]
        if self.largest:
            sizes = ", ".join(f"{path} ({size:,} B)" for path, size in self.largest)
            lines.append(f"  largest: {sizes}")
        lines.append(f"  send instead: {violation.hint}")
        return "\n".join(lines)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.actor_name, self.size, self.limit, self.limit_source, self.largest))


class DeadLettered(SkipMessage):
    """Raised on the worker for a consumed message that breaks its actor's contract.

    Dramatiq skips the actor, does not retry, and moves the message to the
    dead-letter queue (the gateway has called ``message.fail()``).

    Parameters:
      rejection: Why: the same rejection a send would have raised.
    """

    def __init__(self, rejection: PayloadRejected) -> None:
        self.rejection = rejection
        super().__init__(str(rejection))

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.rejection,))


def error_text(error: BaseException) -> str:
    """``"KeyError: 'x'"``: the exception's type and text, even when its ``__str__`` itself raises.

    The rejection for an unexpected exception is built from this text: were
    formatting it to raise, the hook would fail open after all.
    """
    try:
        text = str(error)
    except Exception:
        text = "(its text cannot be read: str() raised)"
    return f"{type(error).__name__}: {text}"


def type_name(value: Any) -> str:
    """The type of ``value`` as error messages name it: ``int``, ``datetime.datetime``."""
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
