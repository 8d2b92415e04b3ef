"""The typed-argument slot: how a checked message's arguments reach its actor on a worker thread.

The worker side (:mod:`actorschema.consume.guard`) checks a consumed message
and converts its JSON values to the actor's declared types; the gateway's
wrapper of the actor's function then calls it with those. Both sides meet
here, and neither imports the other: the message itself keeps its JSON
values, so a retry re-enqueues exactly what arrived.
"""

from __future__ import annotations

import threading
from typing import Any

from dramatiq import Message

__all__ = ["Delivery", "current_message", "slot", "take_delivery"]


class Delivery:
    """The typed arguments for the message a worker thread is about to run.

    Parameters:
      actor_name: The actor the message is for.
      raw_args: The message's positional values as they arrived (what the worker calls with).
      raw_kwargs: The message's keyword values as they arrived.
      args: The positional values converted to their declared types.
      kwargs: The keyword values converted to their declared types.
    """

    __slots__ = ("actor_name", "args", "kwargs", "raw_args", "raw_kwargs")

    def __init__(
        self,
        actor_name: str,
        raw_args: tuple[Any, ...],
        raw_kwargs: dict[str, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        self.actor_name = actor_name
        self.raw_args = raw_args
        self.raw_kwargs = raw_kwargs
        self.args = args
        self.kwargs = kwargs

    def fits(self, actor_name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        """Is the call ``actor_name(*args, **kwargs)`` the one the message would make, value for value?"""
        raw_args, raw_kwargs = self.raw_args, self.raw_kwargs
        return (
            actor_name == self.actor_name
            and len(args) == len(raw_args)
            and all(a is b for a, b in zip(args, raw_args, strict=True))
            and kwargs.keys() == raw_kwargs.keys()
            and all(kwargs[key] is raw_kwargs[key] for key in kwargs)
        )


class _Slot(threading.local):
    delivery: Delivery | None = None
    #: The message this worker thread is processing (its result's destinations are in its options).
    message: Message[Any] | None = None


#: This thread's slot: the typed arguments waiting for the actor call, the message being processed.
slot = _Slot()


def take_delivery(actor_name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Delivery | None:
    """The typed arguments waiting for this call on this thread, if the call is the message's own."""
    delivery = slot.delivery
    if delivery is None:
        return None
    slot.delivery = None
    return delivery if delivery.fits(actor_name, args, kwargs) else None


def current_message() -> Message[Any] | None:
    """The message this worker thread is processing, if the guard saw one."""
    return slot.message
