"""The typed-argument slot: how a checked message's arguments reach its actor on a worker thread.

The worker side (:mod:`actorschema.consume.guard`) checks a consumed message
and converts its JSON values to the actor's declared types; the gateway's
wrapper of the actor's function then calls it with those. Both sides meet
here, and neither imports the other: the message itself keeps its JSON
values, so a retry re-enqueues exactly what arrived.

The slot is one part of a thread's :class:`ThreadState`, which also says
whether the thread is a worker's and how deep in actor calls it is: the
wrapper runs around every actor call, so all of it is one thread-local
lookup away.
"""

from __future__ import annotations

import threading
from typing import Any

from dramatiq import Message

__all__ = ["Delivery", "ThreadState", "current_message", "here"]

_ABSENT = object()


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
        if actor_name != self.actor_name or len(args) != len(raw_args) or len(kwargs) != len(raw_kwargs):
            return False
        # Plain loops: on every actor call, and cheaper than all() over a generator for a few values.
        for given, raw in zip(args, raw_args):  # noqa: B905 (lengths compared above)
            if given is not raw:
                return False
        # As many keys: each found with its very value means the same keys.
        for key, value in kwargs.items():  # noqa: SIM110 (all() costs a generator per call)
            if raw_kwargs.get(key, _ABSENT) is not value:
                return False
        return True


class ThreadState:
    """What one thread knows about the message it processes and the actor calls it is in.

    One plain object per thread (:func:`here`): the hooks and the wrapper around
    every actor call reach all of it with one thread-local lookup, then plain
    attribute reads (a ``threading.local`` attribute costs a per-thread dict
    lookup on every read and write).
    """

    __slots__ = ("actor_depth", "delivery", "in_worker", "judged", "message")

    def __init__(self) -> None:
        #: The typed arguments waiting for the actor call (:meth:`take_delivery`).
        self.delivery: Delivery | None = None
        #: The message this worker thread is processing (its result's destinations are in its options).
        self.message: Message[Any] | None = None
        #: Its arguments as the guard judged them, when a later middleware may change them
        #: (:class:`~actorschema.consume.guard.LateChanges`); None otherwise.
        self.judged: bytes | None = None
        #: This thread is one of a Dramatiq worker's consumer or worker threads.
        self.in_worker = False
        #: How many actor calls are running on this thread (user code, not the worker).
        self.actor_depth = 0

    def take_delivery(
        self, actor_name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Delivery | None:
        """The typed arguments waiting for this call, if the call is the message's own; the slot is emptied."""
        delivery = self.delivery
        if delivery is None:
            return None
        self.delivery = None
        return delivery if delivery.fits(actor_name, args, kwargs) else None


class _Local(threading.local):
    def __init__(self) -> None:
        # threading.local runs __init__ again in each thread, on its first access there.
        self.state = ThreadState()


_local = _Local()


def here() -> ThreadState:
    """This thread's state: the typed arguments waiting for the actor call, the message being processed."""
    return _local.state


def current_message() -> Message[Any] | None:
    """The message this worker thread is processing, if the guard saw one."""
    return _local.state.message
