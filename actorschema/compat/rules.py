"""The compatibility rules: every rule id with its one-line meaning, the directions, and what a change is.

A rule is an id (``PARAMETER_ADDED_REQUIRED``), a line saying what it means
and which directions it breaks, and the checks in :mod:`.compare` that
report it. Adding a rule is adding it here and reporting it there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "BACKWARD",
    "BOTH",
    "CATEGORIES",
    "FORWARD",
    "NONE",
    "RULES",
    "Change",
    "Found",
    "Mode",
    "directions_of",
]


#: What must keep working: new workers on old messages, old workers on new ones, or both.
Mode = Literal["backward", "forward", "full"]

#: The directions a change breaks.
NONE: frozenset[str] = frozenset()
BACKWARD: frozenset[str] = frozenset({"backward"})
FORWARD: frozenset[str] = frozenset({"forward"})
BOTH: frozenset[str] = frozenset({"backward", "forward"})


#: Every rule id the comparison reports, with what it means. The directions a
#: change breaks are on each :class:`Change`: for some rules they depend on
#: the context (an open or a closed object, a required or optional field).
RULES: dict[str, str] = {
    "ACTOR_ADDED": "A new actor. Breaks nothing.",
    "ACTOR_REMOVED": "An actor is gone: messages already queued for it have no worker. Breaks backward.",
    "QUEUE_CHANGED": "The actor's queue changed: queued messages sit where no new worker reads, "
    "new messages go where no old worker reads. Breaks both.",
    "SIZE_LIMIT_LOWERED": "The size limit is lower (or now set): queued messages may exceed it. "
    "Breaks backward.",
    "SIZE_LIMIT_RAISED": "The size limit is higher (or now unset): new messages may exceed the old "
    "limit. Breaks forward.",
    "PARAMETER_ADDED_REQUIRED": "A new parameter without a default. Breaks backward (queued messages "
    "lack it) and forward on a closed kwargs (old workers do not take it).",
    "PARAMETER_ADDED_OPTIONAL": "A new parameter with a default. Breaks forward on a closed kwargs.",
    "PARAMETER_REMOVED": "A parameter is gone. Breaks backward on a closed kwargs (queued messages may "
    "carry it), forward when it was required.",
    "FIELD_ADDED_REQUIRED": "A new required property of a nested object (model). Breaks backward; "
    "forward too when the object was closed.",
    "FIELD_ADDED_OPTIONAL": "A new optional property of a nested object. Breaks backward when the "
    "object is open (old data may carry that key with any value), forward when it was closed.",
    "FIELD_REMOVED": "A property of a nested object is gone. Breaks backward when the object is closed, "
    "forward when it is open or the property was required.",
    "REQUIRED_ADDED": "A property that was optional is required. Breaks backward.",
    "REQUIRED_REMOVED": "A property that was required is optional. Breaks forward.",
    "TYPE_CHANGED": "The type changed (or the change cannot be classified precisely). Breaks both.",
    "TYPE_NARROWED": "Fewer values are accepted (a type or union branch dropped, a type restricted to "
    "listed values). Breaks backward.",
    "TYPE_WIDENED": "More values are accepted (a type or union branch added). Breaks forward.",
    "ENUM_VALUE_ADDED": "A listed value (Literal, Enum, const) was added. Breaks forward.",
    "ENUM_VALUE_REMOVED": "A listed value was removed. Breaks backward.",
    "CONSTRAINT_TIGHTENED": "A bound, length, pattern, format or item count is stricter. Breaks backward.",
    "CONSTRAINT_LOOSENED": "A bound, length, pattern, format or item count is looser. Breaks forward.",
    "CONSTRAINT_CHANGED": "A constraint changed in a way that is neither stricter nor looser. Breaks both.",
    "CONTENT_CLOSED": "An object no longer accepts undeclared properties (**kwargs removed, "
    "extra='forbid'). Breaks backward.",
    "CONTENT_OPENED": "An object now accepts undeclared properties (**kwargs added, extra='forbid' "
    "dropped). Breaks forward.",
    "DEFAULT_CHANGED": "A default value changed: messages that omit the value behave differently. "
    "Breaks no schema.",
    "RESULT_TYPED": "The actor's results now have a schema (a return annotation was added): results "
    "stored or piped before may not fit it. Breaks backward.",
    "RESULT_UNTYPED": "The actor's results no longer have a schema: readers written for the old "
    "result type may get any JSON. Breaks forward.",
}


#: The rules by what they are about, as ``buf breaking`` groups its own: every rule id of
#: :data:`RULES` is in exactly one category.
CATEGORIES: dict[str, tuple[str, ...]] = {
    "actor": (
        "ACTOR_ADDED",
        "ACTOR_REMOVED",
        "QUEUE_CHANGED",
        "SIZE_LIMIT_LOWERED",
        "SIZE_LIMIT_RAISED",
        "RESULT_TYPED",
        "RESULT_UNTYPED",
    ),
    "fields": (
        "PARAMETER_ADDED_REQUIRED",
        "PARAMETER_ADDED_OPTIONAL",
        "PARAMETER_REMOVED",
        "FIELD_ADDED_REQUIRED",
        "FIELD_ADDED_OPTIONAL",
        "FIELD_REMOVED",
        "REQUIRED_ADDED",
        "REQUIRED_REMOVED",
        "CONTENT_CLOSED",
        "CONTENT_OPENED",
    ),
    "types": ("TYPE_CHANGED", "TYPE_NARROWED", "TYPE_WIDENED", "ENUM_VALUE_ADDED", "ENUM_VALUE_REMOVED"),
    "constraints": ("CONSTRAINT_TIGHTENED", "CONSTRAINT_LOOSENED", "CONSTRAINT_CHANGED"),
    "defaults": ("DEFAULT_CHANGED",),
}


@dataclass(frozen=True)
class Change:
    """One difference between two versions of an actor's message schema.

    Parameters:
      actor: The actor's name.
      rule: A stable rule id, a key of :data:`RULES`.
      path: Where in the message the change is, e.g. ``kwargs.order.items[].quantity``
        (``[]`` is any item of an array, ``[0]`` a position, ``*`` any undeclared property);
        empty for changes to the actor itself.
      detail: A sentence for humans saying what changed.
      breaks: The directions it breaks: a subset of ``{"backward", "forward"}``.
    """

    actor: str
    rule: str
    path: str
    detail: str
    breaks: frozenset[str]

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        verdict = "breaks " + " and ".join(sorted(self.breaks)) if self.breaks else "compatible"
        return f"{self.actor}: {where}{self.rule}: {self.detail} ({verdict})"


@dataclass(frozen=True)
class Found:
    """A change found inside one actor, before :func:`~actorschema.compat.diff` names the actor.

    Parameters:
      rule: A key of :data:`RULES`.
      path: Where in the message (as :attr:`Change.path`).
      detail: A sentence for humans.
      breaks: The directions it breaks.
    """

    rule: str
    path: str
    detail: str
    breaks: frozenset[str]


def directions_of(backward: bool, forward: bool) -> frozenset[str]:
    """The directions a change breaks, from whether it breaks each."""
    return (BACKWARD if backward else NONE) | (FORWARD if forward else NONE)
