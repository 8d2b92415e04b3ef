"""``ConsumeGuard``: the worker side of :class:`~actorschema.gateway.PayloadGateway`.

The gateway creates it when a worker boots (a process that only sends never
imports this package) and reaches it only through :class:`Gateway`, the three
members it needs. The gateway puts it **first** in the broker's middleware:
Dramatiq runs ``before_process_message`` hooks in order, logs (and otherwise
ignores) any plain exception they raise, and then still runs the actor. Only
the first hook can keep every other one (``TimeLimit`` computing with
``options.time_limit``, ``AgeLimit`` with the timestamp) from meeting a
message whose envelope is broken.

For each consumed message it checks, in order: the envelope (fields and
their types, ``queue_name`` against the actor's queue, the options Dramatiq
computes with), the size (not counting the options Dramatiq itself writes),
then the arguments with JSON semantics (see
:mod:`actorschema.consume.arguments`). A message that fails is not run and
not retried: the guard calls ``message.fail()`` and raises
:class:`~actorschema.errors.DeadLettered` (a ``SkipMessage``), so Dramatiq
moves it to the dead-letter queue; the reason goes to the log and beside the
dead-letter queue (see :mod:`actorschema.consume.deadletters`). With
``mode="warn"`` the message is logged and run as it arrived.

A valid message's typed arguments are handed to the gateway's wrapper of the
actor's function through a per-thread slot (:mod:`actorschema.delivery`):
the message itself keeps its JSON values, so a retry re-enqueues exactly
what arrived.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

from dramatiq import Message
from dramatiq.broker import Broker, MessageProxy
from dramatiq.middleware import Middleware

from .._dramatiq import unwrap
from ..contract import ActorContract
from ..delivery import Delivery, slot
from ..encoder import encode_message
from ..errors import CheckFailed, DeadLettered, MessageMalformed, NonJSONPayload, PayloadRejected, Violation
from ..limits import SizeLimit, too_large
from ..log import log_rejected_message, logger
from ..message import BOOKKEEPING_OPTIONS, REDIS_MESSAGE_ID, envelope_violations, message_fields
from ..strict_json import find_violations
from .arguments import InboundContract
from .deadletters import REJECTION_ATTRIBUTE, reason_text, store_redis_reason
from .envelope import RECEIVED_SIZE, STRICTLY_DECODED

__all__ = ["ConsumeGuard", "Gateway"]


class Gateway(Protocol):
    """What the worker side needs from the gateway that owns it (:class:`~actorschema.PayloadGateway`).

    The guard checks consumed messages with the send side's contracts, limits
    and mode, and nothing else of it: any object with these three members can
    own a guard.
    """

    @property
    def mode(self) -> Literal["enforce", "warn"]:
        """``"enforce"`` dead-letters a bad message; ``"warn"`` logs it and runs it as it arrived."""
        ...

    def contract_for(self, broker: Broker, actor_name: str) -> ActorContract | None:
        """The actor's contract; None for an actor this process does not declare.

        Raises:
          PayloadInvalid: When the actor is declared but has no usable contract.
        """
        ...

    def size_limit(self, broker: Broker, message: Message[Any]) -> SizeLimit:
        """The size limit that applies to ``message`` (actor, then queue, then global)."""
        ...


class ConsumeGuard(Middleware):
    """Check every consumed message against its actor's contract before anything runs it.

    Created by :class:`~actorschema.gateway.PayloadGateway`, which owns the
    contracts and limits; you do not add it yourself.

    Parameters:
      gateway: The gateway whose contracts, limits and mode apply.
    """

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self._inbound: dict[str, InboundContract] = {}

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        slot.delivery = None
        target = unwrap(message)
        slot.message = target
        try:
            delivery = self.check(broker, target)
        except PayloadRejected as rejection:
            # A broken envelope breaks Dramatiq itself (a thread, a retry): never run, even in warn mode.
            if self.gateway.mode == "warn" and not isinstance(rejection, MessageMalformed):
                log_rejected_message(rejection, target, "run as it arrived (mode='warn')")
                return
            log_rejected_message(rejection, target, "dead-lettered, not run, not retried", error=True)
            setattr(message, REJECTION_ATTRIBUTE, rejection)
            message.fail()
            raise DeadLettered(rejection) from None
        slot.delivery = delivery

    def after_process_message(
        self, broker: Broker, message: Any, *, result: Any = None, exception: BaseException | None = None
    ) -> None:
        slot.delivery = slot.message = None

    def after_skip_message(self, broker: Broker, message: Any) -> None:
        slot.delivery = slot.message = None

    def before_nack(self, broker: Broker, message: Any) -> None:
        rejection = getattr(message, REJECTION_ATTRIBUTE, None)
        redis_message_id = message.options.get(REDIS_MESSAGE_ID)
        if rejection is None or not hasattr(broker, "client") or not isinstance(redis_message_id, str):
            return  # RabbitMQ: actorschema.brokers.RabbitmqBroker's consumer puts it in a header
        text = reason_text(rejection, message_id=message.message_id, queue_name=message.queue_name)
        try:
            store_redis_reason(broker, message.queue_name, redis_message_id, text)
        except Exception:
            # The message still goes to the dead-letter queue; only its recorded reason is lost.
            logger.exception("could not record why message %s was dead-lettered", message.message_id)

    # -- the check ---------------------------------------------------------------

    def check(self, broker: Broker, message: Message[Any]) -> Delivery | None:
        """Check a consumed message; return its typed arguments, or raise a PayloadRejected.

        None means the actor runs with the values as they arrived (nothing to convert).

        Never fails open: any other exception becomes a :class:`CheckFailed` (Dramatiq
        would log an exception from ``before_process_message`` and run the actor anyway).
        """
        try:
            return self._check_message(broker, message)
        except PayloadRejected:
            raise
        except Exception as error:
            name = message.actor_name if type(message.actor_name) is str else "?"
            raise CheckFailed.from_error(name, error) from error

    def _check_message(self, broker: Broker, message: Message[Any]) -> Delivery | None:
        strict = getattr(message, STRICTLY_DECODED, False)  # decoded from strict JSON by a guarded consumer
        actor_name = message.actor_name
        # A guarded consumer checked the envelope when it decoded the body.
        violations = (
            [] if strict else envelope_violations(message_fields(message, message.args, message.kwargs))
        )
        actor = broker.actors.get(actor_name) if type(actor_name) is str else None
        queue_name = message.queue_name
        if actor is not None and queue_name != actor.queue_name and queue_name != actor.queue_name + ".DQ":
            problem = (
                f"names the queue {queue_name!r}, but actor {actor.actor_name!r} reads {actor.queue_name!r}"
            )
            violations.append(Violation("queue_name", problem, repr(actor.queue_name)))
        if violations:
            name = actor_name if type(actor_name) is str else "?"
            raise MessageMalformed(name, violations)
        self._check_size(broker, message)
        gateway = self.gateway
        contract = gateway.contract_for(broker, actor_name)
        if contract is None:
            # No contract here (an actor of another process): strict JSON and size only.
            args = tuple(message.args)
            violations = find_violations(list(args), ("args",)) + find_violations(message.kwargs, ("kwargs",))
            if violations:
                raise NonJSONPayload(actor_name, violations)
            return None  # run with the values as they arrived
        kwargs = message.kwargs
        inbound = self._inbound.get(actor_name)
        if inbound is None or inbound.contract is not contract:  # built once per (re)declared actor
            inbound = self._inbound_for(contract)
        if strict and not message.args and inbound.as_sent(kwargs):
            return None  # every value is already of its parameter's exact type: nothing to convert
        args = tuple(message.args)
        py_args, py_kwargs = inbound.check(args, kwargs, strict_json=strict)
        return Delivery(actor_name, args, kwargs, py_args, py_kwargs)

    def _inbound_for(self, contract: ActorContract) -> InboundContract:
        inbound = self._inbound.get(contract.actor_name)
        if inbound is None or inbound.contract is not contract:  # built once per (re)declared actor
            inbound = self._inbound[contract.actor_name] = InboundContract(contract)
        return inbound

    def _check_size(self, broker: Broker, message: Message[Any]) -> None:
        limit = self.gateway.size_limit(broker, message)
        if limit.limit is None:
            return
        options = {k: v for k, v in message.options.items() if k not in BOOKKEEPING_OPTIONS}
        size = getattr(message, RECEIVED_SIZE, None)  # set by a guarded consumer: the bytes it received
        if size is None:
            fields = message_fields(message, message.args, message.kwargs)
            try:
                size = len(encode_message({**fields, "args": list(message.args), "options": options}))
            except Exception:
                return  # not encodable as it stands: the arguments check says why
        if size > limit.limit:
            raise too_large(message.actor_name, tuple(message.args), message.kwargs, options, size, limit)
