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
what arrived. A middleware after the guard may still change the arguments:
:class:`LateChanges`, last in the middleware, judges them again as they stand
when they changed.

When the app has its own encoder (``dramatiq.set_encoder``), a message is
judged by the JSON on the wire, not by the objects its ``decode()`` revives,
and one in the encoder's own form by its decoded values as an upgraded
producer would send them (see :mod:`actorschema.app_encoder`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol

import dramatiq
from dramatiq import Message
from dramatiq.broker import Broker, MessageProxy
from dramatiq.middleware import Middleware

from .. import observe
from .._dramatiq import unwrap
from ..app_encoder import json_form, raw_from, wire_fields
from ..contract import ActorContract
from ..delivery import Delivery, ThreadState, here
from ..encoder import encode_json, encode_message, writes_json
from ..errors import CheckFailed, DeadLettered, MessageMalformed, NonJSONPayload, PayloadRejected, Violation
from ..limits import SizeLimit, too_large
from ..log import log_rejected_message, logger
from ..message import BOOKKEEPING_OPTIONS, REDIS_MESSAGE_ID, envelope_violations, message_fields
from ..strict_json import find_violations
from .arguments import InboundContract
from .deadletters import REJECTION_ATTRIBUTE, maybe_prune_redis_reasons, reason_text, store_redis_reason
from .envelope import ARGUMENTS_READ_BY, STRICTLY_DECODED, read_arguments_with, received_size

if TYPE_CHECKING:
    from ..claims import ClaimCheck

__all__ = ["ConsumeGuard", "Gateway", "LateChanges"]


class Gateway(Protocol):
    """What the worker side needs from the gateway that owns it (:class:`~actorschema.PayloadGateway`).

    The guard checks consumed messages with the send side's contracts, limits,
    mode and claim check, and nothing else of it: any object with these four
    members can own a guard.
    """

    @property
    def claim_check(self) -> ClaimCheck | None:
        """The claim check whose references the guard fetches first; None: no offloading."""
        ...

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
        #: Runs last among ``before_process_message`` hooks: what later middleware changed is judged there.
        self.late_changes = LateChanges(self)
        # (the middleware list's length when last looked at, whether a later one may change arguments)
        self._watching: tuple[int, bool] = (-1, False)

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        state = here()
        state.delivery = None
        target = unwrap(message)
        state.message = target
        state.judged = _arguments_print(target) if self._may_change_arguments(broker) else None
        self._admit(broker, message, target, self.check, state)

    def _admit(
        self,
        broker: Broker,
        message: Any,
        target: Message[Any],
        check: Callable[..., Delivery | None],
        state: ThreadState,
    ) -> None:
        """Judge ``target`` with ``check``: put its typed arguments in the slot, or dead-letter it."""
        try:
            delivery = check(broker, target)
        except PayloadRejected as rejection:
            # A broken envelope breaks Dramatiq itself (a thread, a retry): never run, even in warn
            # mode; nor a message with claim references: the actor would get them, not its values.
            claims = self.gateway.claim_check
            if (
                self.gateway.mode == "warn"
                and not isinstance(rejection, MessageMalformed)
                and not (claims is not None and claims.references_in(target))
            ):
                log_rejected_message(rejection, target, "run as it arrived (mode='warn')")
                observe.warned("worker", rejection.actor_name, target.queue_name, type(rejection).__name__)
                return
            log_rejected_message(rejection, target, "dead-lettered, not run, not retried", error=True)
            observe.worker_refused(rejection.actor_name, target.queue_name, type(rejection).__name__)
            setattr(message, REJECTION_ATTRIBUTE, rejection)
            message.fail()
            raise DeadLettered(rejection) from None
        state.delivery = delivery

    def after_process_message(
        self, broker: Broker, message: Any, *, result: Any = None, exception: BaseException | None = None
    ) -> None:
        state = here()
        state.delivery = state.message = state.judged = None

    def after_skip_message(self, broker: Broker, message: Any) -> None:
        state = here()
        state.delivery = state.message = state.judged = None

    def after_ack(self, broker: Broker, message: Any) -> None:
        if hasattr(broker, "dead_message_ttl") and not getattr(broker, "prunes_reasons", False):
            # Dramatiq's own RedisBroker maintains its dead letters inside its consumer: prune
            # their reasons at the same chance (actorschema's RedisBroker does it in that transaction).
            maybe_prune_redis_reasons(broker, message.queue_name)

    after_nack = after_ack

    def before_nack(self, broker: Broker, message: Any) -> None:
        rejection = getattr(message, REJECTION_ATTRIBUTE, None)
        redis_message_id = message.options.get(REDIS_MESSAGE_ID)
        if rejection is None or not hasattr(broker, "client") or not isinstance(redis_message_id, str):
            return  # RabbitMQ: actorschema.brokers.RabbitmqBroker's consumer puts it in a header
        text = reason_text(rejection, message_id=message.message_id, queue_name=message.queue_name)
        # Twice: a dropped connection fails the first write, and the nack that follows succeeds
        # on a new one. (While the server is down the nack fails too, and Dramatiq runs this hook
        # again with each retry of the nack.)
        for attempt in (1, 2):
            try:
                store_redis_reason(broker, message.queue_name, redis_message_id, text)
                return
            except Exception:
                if attempt == 2:
                    # The message still goes to the dead-letter queue; only its recorded reason is lost.
                    logger.exception("could not record why message %s was dead-lettered", message.message_id)

    def _may_change_arguments(self, broker: Broker) -> bool:
        """Does a middleware after the guard define ``before_process_message`` (and is not Dramatiq's own)?"""
        middleware = broker.middleware
        seen, watching = self._watching
        if seen != len(middleware):  # looked at again only when the list changes
            after = middleware[middleware.index(self) + 1 :] if self in middleware else middleware
            watching = any(
                type(m).before_process_message is not Middleware.before_process_message
                and not type(m).__module__.startswith(("dramatiq.", "actorschema."))
                for m in after
            )
            self._watching = (len(middleware), watching)
        return watching

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
        # Decoded from strict JSON by a guarded consumer, which says how long the body was.
        body_size: int | None = getattr(message, STRICTLY_DECODED, None)
        strict = body_size is not None
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
        gateway = self.gateway
        limit = gateway.size_limit(broker, message)
        # The body's length bounds the size that counts (less the options Dramatiq writes): a
        # body within the limit needs no more, nor does anything when nobody asks for the size.
        if observe.observers or (limit.limit is not None and (body_size is None or body_size > limit.limit)):
            self._check_size(message, limit, body_size)
        contract = gateway.contract_for(broker, actor_name)
        # Decoded by the app's own encoder: judge the JSON on the wire, not the objects it revives.
        wire = None if strict or writes_json() else wire_fields(message)
        if contract is None:
            # No contract here (an actor of another process): strict JSON and size only.
            args, kwargs = (
                (wire["args"], wire["kwargs"]) if wire is not None else (message.args, message.kwargs)
            )
            violations = find_violations(list(args), ("args",)) + find_violations(kwargs, ("kwargs",))
            if violations:
                raise NonJSONPayload(actor_name, violations)
            return None  # run with the values as they arrived
        kwargs = message.kwargs
        inbound = self._inbound.get(actor_name)
        if inbound is None or inbound.contract is not contract:  # built once per (re)declared actor
            inbound = self._inbound_for(contract)
        claims = gateway.claim_check
        if claims is not None:
            # Offloaded values are fetched and verified first: the contract judges what the actor gets.
            fetched = claims.fetch(broker, message, tuple(message.args), kwargs)
            if fetched is not None:
                py_args, py_kwargs = inbound.check(*fetched, strict_json=strict)
                return Delivery(actor_name, tuple(message.args), kwargs, py_args, py_kwargs)
        if strict and not message.args and inbound.as_sent(kwargs):
            return None  # every value is already of its parameter's exact type: nothing to convert
        args = tuple(message.args)
        if not strict and not writes_json():
            py_args, py_kwargs = self._check_app_encoded(contract, inbound, args, kwargs, wire)
        else:
            # Decoded with this very contract's argument types: its mirrors judged them as read.
            mirrored = not args and getattr(message, ARGUMENTS_READ_BY, None) is inbound
            py_args, py_kwargs = inbound.check(args, kwargs, strict_json=strict, mirrored=mirrored)
        return Delivery(actor_name, args, kwargs, py_args, py_kwargs)

    def _check_app_encoded(
        self,
        contract: ActorContract,
        inbound: InboundContract,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        wire: dict[str, Any] | None,
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Judge a message the app's own encoder decoded (see :mod:`actorschema.app_encoder`).

        First the JSON on the wire; if that does not fit (or the encoder writes no
        JSON), the decoded values put in their contract's JSON form, as an upgraded
        producer would send them. A refusal names the violations of the reading that
        came closer (fewer violations; the wire's on a tie): for a message in the
        encoder's tagged form, that is what is wrong with its values, not its tags.

        Parameters without a type (``Any``, ``dict``, unannotated: raw JSON) are
        judged by their JSON on the wire in both readings (what ``decode()``
        revives in them is not JSON), and receive what ``decode()`` gave, as they
        did before actorschema.
        """
        refused: PayloadRejected | None = None
        bound_wire: tuple[tuple[Any, ...], dict[str, Any]] | None = None
        if wire is not None and type(wire.get("args")) is list and type(wire.get("kwargs")) is dict:
            try:
                typed = inbound.check(wire["args"], wire["kwargs"], strict_json=True)
                return raw_from(contract, typed, contract.bind(args, kwargs)[:2])
            except PayloadRejected as rejection:
                refused = rejection
            try:
                bound_wire = contract.bind(wire["args"], wire["kwargs"])[:2]
            except PayloadRejected:
                bound_wire = None  # shaped unlike what decode() gave: judged as decoded
        else:
            # No JSON on the wire (PickleEncoder): raw parameters are judged by their JSON form.
            bound_args, bound_kwargs = contract.bind(args, kwargs)[:2]
            bound_wire = (
                tuple(map(json_form, bound_args)),
                {name: json_form(value) for name, value in bound_kwargs.items()},
            )
        try:
            sent = contract.canonical(args, kwargs)
            typed = inbound.check(*(sent if bound_wire is None else raw_from(contract, sent, bound_wire)))
            return raw_from(contract, typed, contract.bind(args, kwargs)[:2])
        except PayloadRejected as rejection:
            if refused is not None and len(refused.violations) <= len(rejection.violations):
                raise refused from None
            raise

    def check_changed(self, broker: Broker, message: Message[Any]) -> Delivery | None:
        """Judge the arguments of a message a later middleware changed, as they now stand.

        A middleware may write JSON values or Python ones (a ``datetime``): the
        arguments are judged as an upgraded producer would send them, put in their
        contract's JSON form first (with the app's own encoder, as :meth:`check`
        reads its messages, the JSON it would now write first). Never fails open,
        as :meth:`check`.
        """
        actor_name = message.actor_name
        try:
            contract = self.gateway.contract_for(broker, actor_name)
            args, kwargs = tuple(message.args), message.kwargs
            if contract is None:
                violations = find_violations(list(args), ("args",)) + find_violations(kwargs, ("kwargs",))
                if violations:
                    raise NonJSONPayload(actor_name, violations)
                return None
            inbound = self._inbound_for(contract)
            if not writes_json():
                wire = wire_fields(message, fresh=True)
                py_args, py_kwargs = self._check_app_encoded(contract, inbound, args, kwargs, wire)
            else:
                py_args, py_kwargs = inbound.check(*contract.canonical(args, kwargs))
            return Delivery(actor_name, args, kwargs, py_args, py_kwargs)
        except PayloadRejected:
            raise
        except Exception as error:
            raise CheckFailed.from_error(actor_name if type(actor_name) is str else "?", error) from error

    def _inbound_for(self, contract: ActorContract) -> InboundContract:
        inbound = self._inbound.get(contract.actor_name)
        if inbound is None or inbound.contract is not contract:  # built once per (re)declared actor
            inbound = self._inbound[contract.actor_name] = InboundContract(contract)
            # The actor's next bodies are decoded with its wire lanes' types (judged as read).
            read_arguments_with(contract.actor_name, inbound, inbound.wire_types)
        return inbound

    def _check_size(self, message: Message[Any], limit: SizeLimit, body_size: int | None) -> None:
        """Refuse a message over its size limit, and tell the observers its size.

        Parameters:
          message: The consumed message.
          limit: The limit that applies to it.
          body_size: The length of the body a guarded consumer received; None: not known.
        """
        size = None if body_size is None else received_size(body_size, message.options)
        if not observe.observers and size is not None and limit.limit is not None and size <= limit.limit:
            return
        options = {k: v for k, v in message.options.items() if k not in BOOKKEEPING_OPTIONS}
        if size is None:
            fields = message_fields(message, message.args, message.kwargs)
            try:
                size = len(encode_message({**fields, "args": list(message.args), "options": options}))
            except Exception:
                return  # not encodable as it stands: the arguments check says why
        if observe.observers:
            observe.message_sized("worker", message.actor_name, message.queue_name, size, limit.limit)
        if limit.limit is not None and size > limit.limit:
            raise too_large(message.actor_name, tuple(message.args), message.kwargs, options, size, limit)


class LateChanges(Middleware):
    """The guard's second look, last among ``before_process_message`` hooks: what later middleware changed.

    The guard judges a message first, before any other middleware meets it. A
    middleware after it may still change ``message.args`` or ``message.kwargs``
    (add a tenant id, fill in a default): the actor is called with what they
    hold then. When something changed since the guard's verdict, they are judged
    again as they stand and delivered typed from there; a change the contract
    refuses dead-letters the message like any other. Created by the guard,
    appended to the middleware at worker boot; it looks only when a middleware
    that may change arguments (one of the app's, with a ``before_process_message``)
    runs after the guard.

    Parameters:
      guard: The guard whose verdict it revisits.
    """

    def __init__(self, guard: ConsumeGuard) -> None:
        self.guard = guard

    def before_process_message(self, broker: Broker, message: MessageProxy) -> None:
        state = here()
        judged = state.judged
        if judged is None:  # no middleware after the guard may change arguments: nothing to look at
            return
        target = unwrap(message)
        if state.message is not target:
            return
        state.judged = None
        if judged and _arguments_print(target) == judged:
            return  # nothing changed: the guard's delivery stands
        self.guard._admit(broker, message, target, self.guard.check_changed, state)


def _arguments_print(message: Message[Any]) -> bytes:
    """The message's arguments as bytes, to see whether anything changed them; empty when not encodable."""
    try:
        return encode_json((message.args, message.kwargs))
    except Exception:
        try:  # objects a custom encoder revived: that encoder writes them
            return bytes(dramatiq.get_encoder().encode({"args": message.args, "kwargs": message.kwargs}))
        except Exception:
            return b""  # cannot tell: judged again
