"""What the gateway tells observers: message sizes, rejections, dead letters and claim checks.

The gateway, the worker side and the claim check report what they see here,
and an observer (the Prometheus metrics, a test, a user's own hook) registers
to hear it. Reporting never changes what happens to a message: an observer
that raises is logged once per call and ignored, so a broken dashboard can
neither let a bad message through nor lose a good one.

Sides are ``"send"`` (the gateway, before enqueue) and ``"worker"`` (the
consume guard and the guarded consumers, on arrival). In ``mode="warn"``
what ``enforce`` would refuse is reported as ``warned`` instead of
``rejected``: the message went through. A rejection's reason is
the name of its class (``"PayloadTooLarge"``, ``"PayloadInvalid"``,
``"NonJSONPayload"``, ``"MessageMalformed"``, ``"CheckFailed"``...): a small
fixed set that is safe as a metric label, and the exception a sender catches.
"""

from __future__ import annotations

import logging
import threading
from typing import Literal, Protocol

__all__ = ["NullObserver", "Observer", "Side", "add_observer", "observers", "remove_observer"]

#: Where in a message's life an event happened.
Side = Literal["send", "worker"]

_logger = logging.getLogger("actorschema")


class Observer(Protocol):
    """What an observer hears. Every method must be cheap: it runs on the send and consume paths.

    Implement the methods you care about and leave the rest empty; subclass
    :class:`NullObserver` to inherit empty ones.
    """

    def message_sized(
        self, side: Side, actor_name: str, queue_name: str, size: int, limit: int | None
    ) -> None:
        """A message's encoded size in bytes, once per accepted send and once per arrival.

        ``limit`` is the size limit that applied to it (None: no limit), so an
        observer can tell how close each actor's messages come to theirs.
        """

    def rejected(self, side: Side, actor_name: str, queue_name: str, reason: str) -> None:
        """A message was refused: at send (nothing enqueued) or on the worker (not run)."""

    def warned(self, side: Side, actor_name: str, queue_name: str, reason: str) -> None:
        """In ``mode="warn"``: a message that would have been refused was let through and logged."""

    def dead_lettered(self, actor_name: str, queue_name: str, reason: str) -> None:
        """The worker side dead-lettered a message with ``reason``."""

    def claim_offloaded(self, actor_name: str, queue_name: str, size: int) -> None:
        """The claim check moved ``size`` bytes of one argument value into its store."""

    def claim_fetch_failed(self, actor_name: str, queue_name: str, reason: str) -> None:
        """The worker could not fetch or verify an offloaded value (missing, truncated, tampered...)."""


class NullObserver:
    """An observer that ignores everything: subclass it and override what you need."""

    def message_sized(
        self, side: Side, actor_name: str, queue_name: str, size: int, limit: int | None
    ) -> None:
        pass

    def rejected(self, side: Side, actor_name: str, queue_name: str, reason: str) -> None:
        pass

    def warned(self, side: Side, actor_name: str, queue_name: str, reason: str) -> None:
        pass

    def dead_lettered(self, actor_name: str, queue_name: str, reason: str) -> None:
        pass

    def claim_offloaded(self, actor_name: str, queue_name: str, size: int) -> None:
        pass

    def claim_fetch_failed(self, actor_name: str, queue_name: str, reason: str) -> None:
        pass


_lock = threading.Lock()
#: The registered observers: a tuple, replaced whole under the lock, so the hot path reads it
#: without locking. Empty (false) when nobody listens: a hook point whose event needs work to
#: compute (a lookup, a measurement) tests it first, so an unobserved send pays nothing more.
observers: tuple[Observer, ...] = ()


def add_observer(observer: Observer) -> None:
    """Start telling ``observer`` what happens; adding the same observer twice is a no-op."""
    global observers
    with _lock:
        if observer not in observers:
            observers = (*observers, observer)


def remove_observer(observer: Observer) -> None:
    """Stop telling ``observer``; removing one that was never added is a no-op."""
    global observers
    with _lock:
        observers = tuple(o for o in observers if o is not observer)


def _tell(event: str, *args: object) -> None:
    for observer in observers:
        # An observer written before an event existed (no such method) simply does not hear it.
        hear = getattr(observer, event, None)
        if hear is None:
            continue
        try:
            hear(*args)
        except Exception:
            _logger.exception("actorschema: observer %r failed on %s", observer, event)


def message_sized(side: Side, actor_name: str, queue_name: str, size: int, limit: int | None) -> None:
    """Tell every observer a message's encoded size and the limit that applied to it."""
    _tell("message_sized", side, actor_name, queue_name, size, limit)


def rejected(side: Side, actor_name: str, queue_name: str, reason: str) -> None:
    """Tell every observer a message was refused on ``side``."""
    _tell("rejected", side, actor_name, queue_name, reason)


def warned(side: Side, actor_name: str, queue_name: str, reason: str) -> None:
    """Tell every observer a message was let through in ``mode="warn"`` that ``enforce`` would refuse."""
    _tell("warned", side, actor_name, queue_name, reason)


def dead_lettered(actor_name: str, queue_name: str, reason: str) -> None:
    """Tell every observer the worker side dead-lettered a message."""
    _tell("dead_lettered", actor_name, queue_name, reason)


def worker_refused(actor_name: str, queue_name: str, reason: str) -> None:
    """Tell every observer the worker side refused a message and dead-lettered it (both events)."""
    _tell("rejected", "worker", actor_name, queue_name, reason)
    _tell("dead_lettered", actor_name, queue_name, reason)


def claim_offloaded(actor_name: str, queue_name: str, size: int) -> None:
    """Tell every observer one argument value was offloaded to a claim store."""
    _tell("claim_offloaded", actor_name, queue_name, size)


def claim_fetch_failed(actor_name: str, queue_name: str, reason: str) -> None:
    """Tell every observer an offloaded value could not be fetched or verified."""
    _tell("claim_fetch_failed", actor_name, queue_name, reason)
