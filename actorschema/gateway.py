"""``PayloadGateway``: the Dramatiq middleware that checks every message before it is enqueued.

It is also the worker side's owner: its :class:`~actorschema.consume.guard.ConsumeGuard`
(created and put first in the middleware when a worker boots) checks every
consumed message against the same contracts and limits, and the wrapper it
puts around each actor's function hands the actor its typed arguments (through
:mod:`actorschema.delivery`: neither side imports the other).

Where it hooks in, and why there:

* ``after_declare_actor`` builds the actor's :class:`~actorschema.contract.ActorContract`
  once (or records why it cannot, naming the way out; a hint naming what does
  not exist yet is resolved again on each send until it does), and wraps
  ``actor.message_with_options`` so a message is checked when it is *built*:
  ``group([...]).run()`` enqueues its children one by one, so only a check at
  build time keeps a group with one bad child from being half enqueued. Messages that ``send()`` builds skip it: their enqueue check follows
  at once.
* ``before_enqueue`` sees every message on its way to any broker (sends,
  ``broker.enqueue``, delays, pipelines, groups, retries). It binds and
  validates the arguments, rewrites them in canonical form (by name), checks
  that the final message is strict JSON, encodes it once and checks its exact
  size, and holds its options to the table in :mod:`actorschema.message`. A
  rejection raises :class:`~actorschema.errors.PayloadRejected`, a
  ``MiddlewareError``, the only kind Dramatiq lets stop an enqueue; any other
  exception while checking becomes one (:class:`~actorschema.errors.CheckFailed`):
  Dramatiq would log it and enqueue the message unchecked.
* The messages Dramatiq nests in options (later pipeline steps, group
  completion callbacks) are converted with their own actors' contracts and
  written back, so typed values reach later steps typed.
* The wrapper of the actor's function hands Dramatiq the result's JSON form,
  by the return annotation (see :mod:`actorschema.results`): results
  backends, pipeline continuations and ``on_success`` callbacks can encode it.
* Re-enqueues the worker makes itself (retries, delay-queue moves, pipeline
  continuations, group and success/failure callbacks) are never rejected:
  Dramatiq acks the original message first, so raising would lose it. On
  those paths the gateway trims the traceback Dramatiq writes into
  ``options["traceback"]`` when it alone pushes a message over its limit, and
  only logs what it would have rejected. Only Dramatiq's own code is exempt
  (:func:`~actorschema._dramatiq.sent_by_dramatiq`): a send from a user's middleware hook on a worker
  thread is checked like any other.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from dramatiq import Actor, Message
from dramatiq.broker import Broker
from dramatiq.middleware import Middleware, MiddlewareError

from . import observe
from ._dramatiq import built_by_send, sent_by_dramatiq, unwrap
from .app_encoder import announce, encoder_kind, raw_from, wire_fields
from .contract import CONTRACT_OPTION, ActorContract, ContractError, actor_function, declaring_namespace
from .delivery import current_message, here
from .encoder import PreparedEncoding, encode_json, encode_message, encode_strict, writes_json
from .errors import (
    CheckFailed,
    MessageMalformed,
    PayloadInvalid,
    PayloadRejected,
    Violation,
)
from .limits import (
    ACTOR_OPTION,
    DEFAULT_MAX_MESSAGE_BYTES,
    SizeLimit,
    check_limit,
    resolve_limit,
    too_large,
    trim_traceback,
)
from .log import log_rejected_message, log_rejection, logger
from .message import (
    CALLBACKS,
    DELAY_QUEUE_SUFFIX,
    GROUP_CALLBACKS,
    NESTING_OPTIONS,
    PIPE_TARGET,
    field_violations,
    group_callbacks,
    is_uuid_text,
    message_fields,
    next_step,
    only_redis_message_id,
    options_violations,
    step_ignores_result,
)
from .pipes import result_misfit
from .results import ResultContract, result_travels

if TYPE_CHECKING:
    from .claims import ClaimCheck
    from .consume.guard import ConsumeGuard

__all__ = ["PayloadGateway"]

Mode = Literal["enforce", "warn"]


class _SendingActor:
    """The ``self`` Dramatiq's ``send_with_options`` runs with for a wrapped actor.

    It is the actor in every respect but one: ``message_with_options`` is
    Dramatiq's own, without the gateway's build-time check, because the message
    it builds there is enqueued (and so checked by ``before_enqueue``) right away.

    Parameters:
      actor: The wrapped actor.
      build: The actor's ``message_with_options`` before the gateway wrapped it.
    """

    __slots__ = ("_actor", "message_with_options")

    def __init__(self, actor: Any, build: Any) -> None:
        self._actor = actor
        self.message_with_options = build

    @property
    def broker(self) -> Broker:
        broker: Broker = self._actor.broker  # read on every send: it may be reassigned
        return broker

    def __getattr__(self, name: str) -> Any:
        return getattr(self._actor, name)


class PayloadGateway(Middleware):
    """Reject messages that are not strict JSON, do not fit their actor, or are too large.

    On send, a bad message raises and nothing is enqueued; on the worker, a bad
    consumed message is dead-lettered with its reason instead of being run,
    and a good one reaches its actor with its declared types.

    Add it to the broker before declaring actors that use its option, and
    after other middleware that change messages (it checks the message they
    leave)::

        broker.add_middleware(PayloadGateway(max_message_bytes=64 * 1024))

        @dramatiq.actor(max_message_bytes=4096)
        def notify(user_id: int, text: str) -> None: ...

    Parameters:
      max_message_bytes: The global limit on the encoded message, in bytes;
        None for no limit. Defaults to 256 KiB, the smallest limit among
        common brokers (Azure Service Bus Standard; SQS Extended Client
        offloads above it), so messages stay portable.
      queue_limits: Per-queue limits by queue name; they override the global
        limit and are overridden by an actor's ``max_message_bytes`` option.
      mode: ``"enforce"`` raises on a bad message and enqueues nothing (and
        dead-letters a bad consumed one); ``"warn"`` logs one structured
        warning per bad message and enqueues (or runs) it unchanged, for
        rolling the gateway out on a live system. A consumed message whose
        envelope would break Dramatiq is dead-lettered in both modes.
      claim_check: An :class:`~actorschema.claims.ClaimCheck`: moves the
        largest argument values of a message that would be too large into a
        blob store, and back on the worker (opt in per actor with its
        ``claim_check`` option, per queue, or for all). None: no offloading.
    """

    def __init__(
        self,
        *,
        max_message_bytes: int | None = DEFAULT_MAX_MESSAGE_BYTES,
        queue_limits: Mapping[str, int | None] | None = None,
        mode: Mode = "enforce",
        claim_check: ClaimCheck | None = None,
    ) -> None:
        if mode not in ("enforce", "warn"):
            raise ValueError(f"mode must be 'enforce' or 'warn', not {mode!r}")
        self._limits: dict[tuple[str, str], SizeLimit] = {}
        self.max_message_bytes = max_message_bytes
        self.queue_limits = queue_limits or {}
        self.mode: Mode = mode
        self.contracts: dict[str, ActorContract] = {}
        #: Why an actor has no contract; every message for it is refused with this reason.
        self.contract_errors: dict[str, Exception] = {}
        # Names visible where each actor was declared, to resolve its hints again later.
        self._namespaces: dict[str, dict[str, Any]] = {}
        #: Actors whose own options name a callback actor (checked on each send, as Dramatiq reads them).
        self._callback_owners: set[str] = set()
        #: Whether a pipeline's next step takes the result of the step before it, once per pair and position.
        self._misfits: dict[tuple[str, str, int], str | None] = {}
        #: Each wrapped actor's result contract (its return annotation, resolved when first needed).
        self.results: dict[str, ResultContract] = {}
        self._consume_guard: ConsumeGuard | None = None
        #: The claim check, if large values travel through a blob store.
        self.claim_check = claim_check

    @property
    def consume_guard(self) -> ConsumeGuard:
        """The worker side: checks consumed messages; put first in the middleware at worker boot.

        Built when first asked for (a worker booting), so a process that only
        sends never imports :mod:`actorschema.consume` nor the JSON Schema
        validators it uses.
        """
        guard = self._consume_guard
        if guard is None:
            from .consume.guard import ConsumeGuard  # worker-only: see above

            guard = self._consume_guard = ConsumeGuard(self)
        return guard

    @property
    def actor_options(self) -> set[str]:
        if self.claim_check is not None:
            return {ACTOR_OPTION, CONTRACT_OPTION, *self.claim_check.actor_options}
        return {ACTOR_OPTION, CONTRACT_OPTION}

    @property
    def max_message_bytes(self) -> int | None:
        """The global limit in bytes; None for no limit."""
        return self._max_message_bytes

    @max_message_bytes.setter
    def max_message_bytes(self, value: int | None) -> None:
        check_limit("max_message_bytes", value)
        self._max_message_bytes = value
        self._limits.clear()

    @property
    def queue_limits(self) -> Mapping[str, int | None]:
        """Per-queue limits in bytes (read-only: assign a new mapping to change them)."""
        return MappingProxyType(self._queue_limits)

    @queue_limits.setter
    def queue_limits(self, value: Mapping[str, int | None]) -> None:
        for queue, limit in value.items():
            check_limit(queue, limit)
        self._queue_limits = dict(value)
        self._limits.clear()

    # -- declare time ------------------------------------------------------

    def after_declare_actor(self, broker: Broker, actor: Any) -> None:
        # Dramatiq logs and ignores errors raised here: none may keep the actor unwrapped.
        try:
            # The decorator runs in the frame that defines the actor: its locals are still there.
            self._namespaces[actor.actor_name] = declaring_namespace(actor_function(actor))
        except Exception:  # _declare records (and every send carries) what is wrong with the actor
            self._namespaces.pop(actor.actor_name, None)
        self._declare(actor, log=True)  # never raises: it records the error instead
        if self.claim_check is not None:
            self.claim_check.attach(broker)
        if actor.actor_name in self._callback_owners:
            # Said at declare when it can be (the callback declared first); every send refuses it.
            found: list[Violation] = []
            try:
                self._nested_options(broker, actor.actor_name, {}, "options", found)
            except Exception:  # the send-side check reports it with the message
                found = []
            for violation in found:
                if "no actor declared" not in violation.problem:
                    logger.error("actor %r: %s %s", actor.actor_name, violation.path, violation.problem)
        if actor.__dict__.get("_actorschema_gateway") is not self:
            self._wrap(actor)
        announce(self, "declare")  # once, after the wrap: what the gateway does with the app's encoder

    def _declare(self, actor: Any, *, log: bool) -> None:
        """Build ``actor``'s contract, or record why it has none (every message then carries the reason)."""
        name = actor.actor_name
        self._limits.clear()  # a redeclared actor may bring another limit
        self._misfits.clear()  # ...or another signature
        if any(actor.options.get(option) for option, _ in CALLBACKS):
            self._callback_owners.add(name)
        else:
            self._callback_owners.discard(name)
        try:
            limit = actor.options.get(ACTOR_OPTION)
            if limit is not None and (type(limit) is not int or limit <= 0):
                raise TypeError(f"actor {name!r}: max_message_bytes must be a positive int or None")
            if self.claim_check is not None:
                self.claim_check.setting(actor.broker, name, actor.queue_name)  # a bad option raises
            self.contracts[name] = ActorContract.from_actor(actor, self._namespaces.get(name))
            self.contract_errors.pop(name, None)
        except Exception as error:
            self.contracts.pop(name, None)
            self.contract_errors[name] = error
            if log and isinstance(error, ContractError) and error.retry:
                logger.warning("%s\n  (resolved again on each send until it resolves)", error)
            elif log:
                logger.error("%s", error)

    def _wrap(self, actor: Any) -> None:
        actor._actorschema_gateway = self
        build = actor.message_with_options
        fn = actor.fn

        @functools.wraps(build)
        def message_with_options(**kwargs: Any) -> Message[Any]:
            message: Message[Any] = build(**kwargs)
            # A message built by Dramatiq's own send_with_options is enqueued (and checked)
            # right away: checking it here too would only double the cost of every send.
            # Only enforcement needs this early check (groups enqueue child by child); in
            # warn mode the enqueue check's one warning per message is enough.
            if not built_by_send() and self.mode == "enforce" and not _on_worker_path():
                try:
                    self._check_built(actor, message)
                except PayloadRejected as rejection:
                    observe.rejected(
                        "send", rejection.actor_name, message.queue_name, type(rejection).__name__
                    )
                    raise
                except Exception as error:
                    failed = CheckFailed.from_error(actor.actor_name, error)
                    observe.rejected("send", actor.actor_name, message.queue_name, type(failed).__name__)
                    raise failed from error
            return message

        actor_name = actor.actor_name
        results = self.results[actor_name] = ResultContract(actor)

        def call_actor(*args: Any, **kwargs: Any) -> Any:
            state = here()  # one thread-local lookup; the rest are plain attributes
            if state.actor_depth:  # called from inside an actor: user code, as it stands
                state.actor_depth += 1
                try:
                    return fn(*args, **kwargs)
                finally:
                    state.actor_depth -= 1
            if state.delivery is not None:
                # The worker calls the actor with the message's JSON values: the consume
                # guard has them converted to the declared types already (typed delivery).
                delivery = state.take_delivery(actor_name, args, kwargs)
                if delivery is not None:
                    args, kwargs = delivery.args, delivery.kwargs
            state.actor_depth = 1
            try:
                result = fn(*args, **kwargs)
            finally:
                state.actor_depth = 0
            # Only the worker's own call hands the result to Dramatiq (backend, pipeline, callback):
            # a direct call from user code gets the value itself.
            if state.in_worker and (result is not None or not results.none_is_free):
                return self._result_json(actor, results, result)
            return result

        call_actor.__actorschema_wrapped__ = fn  # type: ignore[attr-defined]
        actor.message_with_options = message_with_options
        actor.fn = call_actor
        if type(actor).send_with_options is Actor.send_with_options:
            # Dramatiq's own send_with_options, run with a self whose message_with_options is
            # the unwrapped one: what it builds is enqueued (and checked) at once, so send()
            # skips the wrapper and its frame check, without reimplementing Dramatiq's method.
            send = functools.partial(Actor.send_with_options, _SendingActor(actor, build))
            actor.send_with_options = functools.update_wrapper(send, Actor.send_with_options)

    def _result_json(self, actor: Any, results: ResultContract, result: Any) -> Any:
        """The JSON form of what the worker's call of ``actor`` returned, handed on to Dramatiq.

        A result that does not fit raises from the actor call (``enforce``), so the
        message fails as if the actor had raised; ``warn`` logs it and hands on the
        result unchanged.
        """
        message = current_message()
        if message is not None and message.actor_name != actor.actor_name:
            message = None
        try:
            try:
                travels = results.parameter is not None or result_travels(actor.broker, actor, message)
                return results.to_json(result, travels=travels)
            except PayloadRejected:
                raise
            except Exception as error:
                # A validator or a result's own method raising: the same verdict as a misfit,
                # so warn mode still hands the result on and enforce fails the message with a reason.
                raise CheckFailed.from_error(actor.actor_name, error) from error
        except PayloadRejected as rejection:
            message_id = message.message_id if message is not None else None
            queue_name = message.queue_name if message is not None else actor.queue_name
            if self.mode == "warn":
                log_rejection(rejection, message_id, queue_name, "result handed on unchanged (mode='warn')")
                return result
            outcome = "the message fails as if the actor had raised (retried, then dead-lettered)"
            log_rejection(rejection, message_id, queue_name, outcome, error=True)
            raise

    # -- worker threads ----------------------------------------------------

    def before_worker_boot(self, broker: Broker, worker: Any) -> None:
        # The consume check must run before every other middleware's before_process_message
        # (they compute with options and run the actor anyway when they fail): put it first.
        # Inserting at the front while Dramatiq iterates the list only repeats this hook.
        try:
            guard = self.consume_guard  # the worker side is loaded here, at the latest
        except Exception as error:
            # Dramatiq logs any other exception from this hook and boots the worker anyway, unchecked.
            raise MiddlewareError(
                f"actorschema: the worker-side check could not be loaded ({error!r}); "
                "the worker does not start without it"
            ) from error
        if guard not in broker.middleware:
            broker.middleware.insert(0, guard)
        # Last: what middleware after the guard changed in the arguments is judged there.
        if guard.late_changes not in broker.middleware:
            broker.middleware.append(guard.late_changes)
        announce(self, "worker boot")

    def after_worker_thread_boot(self, broker: Broker, thread: Any) -> None:
        here().in_worker = True

    def after_consumer_thread_boot(self, broker: Broker, thread: Any) -> None:
        here().in_worker = True

    # -- the claim check's life cycle (see actorschema.claims.check) -----------------

    def after_enqueue(self, broker: Broker, message: Message[Any], delay: int | None) -> None:
        if self.claim_check is not None:
            self.claim_check.enqueued(message)

    def after_process_message(
        self, broker: Broker, message: Any, *, result: Any = None, exception: BaseException | None = None
    ) -> None:
        if self.claim_check is not None:
            self.claim_check.processed(message, exception)

    def after_ack(self, broker: Broker, message: Any) -> None:
        if self.claim_check is not None:
            self.claim_check.acknowledged(message)

    def after_nack(self, broker: Broker, message: Any) -> None:
        if self.claim_check is not None:
            self.claim_check.dead_lettered(broker, message)

    # -- enqueue -------------------------------------------------------------

    def before_enqueue(self, broker: Broker, message: Message[Any], delay: int | None) -> None:
        try:
            contract = self.contracts.get(message.actor_name)  # an unhashable name raises: inside the try
            if (
                contract is not None
                and contract.binds_exactly
                and self._send_exact(broker, message, contract)
            ):
                return
        except Exception:  # never fails open: the full check below decides instead
            pass
        target = unwrap(message)
        worker_path = _on_worker_path()
        try:
            data, body = self._check(broker, target, worker_path=worker_path)
        except PayloadRejected as rejection:
            if worker_path:
                log_rejected_message(
                    rejection, target, "not rejected: the worker is re-enqueueing an accepted message"
                )
                return
            if self.mode == "warn":
                log_rejected_message(rejection, target, "enqueued unchanged (mode='warn')")
                observe.warned("send", rejection.actor_name, target.queue_name, type(rejection).__name__)
                return
            observe.rejected("send", rejection.actor_name, target.queue_name, type(rejection).__name__)
            raise
        object.__setattr__(target, "args", data["args"])
        object.__setattr__(target, "kwargs", data["kwargs"])
        PreparedEncoding(target, body, self._recheck, (broker, worker_path)).attach()
        if observe.observers:  # the limit lookup is for them alone
            observe.message_sized(
                "send", target.actor_name, target.queue_name, len(body), self.size_limit(broker, target).limit
            )

    def _send_exact(self, broker: Broker, message: Message[Any], contract: ActorContract) -> bool:
        """Accept the commonest send, ``notify.send(7, "ann", 0.5)``, at the cost of binding and one encoding.

        Applies to a plain message (no options but the ``redis_message_id``
        RedisBroker adds, not sent by a worker thread outside an actor call, no
        claim check, Dramatiq's JSON encoder) to an actor whose every parameter takes
        exactly ``int``, ``str``, ``float`` or ``bool``
        (:meth:`~actorschema.contract.ActorContract.bind_exact`), with values of
        exactly those types (floats finite): they are their own JSON form, so there
        is nothing to convert or walk. It accepts only what the full check
        accepts, with the very same stored bytes (``tests/unit/test_gateway_exact.py``
        holds it to that); anything else returns False having changed nothing,
        and the full check decides (and words any rejection).

        Parameters:
          broker: The broker enqueueing ``message``.
          message: The message, as ``before_enqueue`` got it.
          contract: Its actor's contract, one that binds exactly.
        """
        options = message.options
        state = here()
        if (
            type(message) is not Message
            or type(options) is not dict
            or (options and not only_redis_message_id(options))
            # A worker thread outside any actor call: maybe Dramatiq's own re-enqueue (see _on_worker_path).
            or (state.in_worker and not state.actor_depth)
            or self.claim_check is not None
            or message.actor_name in self._callback_owners
            or not writes_json()
        ):
            return False
        fields = vars(message)
        # The envelope rules field_violations applies, for what can reach here: a declared actor's
        # name, and no eta (so not a delay queue). A hand-built message may break them.
        message_id, timestamp, queue = fields["message_id"], fields["message_timestamp"], fields["queue_name"]
        if not (
            type(message_id) is str
            and is_uuid_text(message_id)
            and type(timestamp) is int
            and timestamp >= 0
            and type(queue) is str
            and queue
            and not queue.endswith(DELAY_QUEUE_SUFFIX)
        ):
            return False
        # What is stored is what was bound and checked, whatever sequence args is.
        kwargs = message.kwargs
        if type(kwargs) is not dict:
            return False
        named = contract.bind_exact(message.args, kwargs)
        if named is None:
            return False
        # bind_exact let no NaN or infinity through, and a lone surrogate in a text raises here.
        body = encode_json(message_fields(message, (), named))
        sized = self._limits.get((message.actor_name, message.queue_name)) or self.size_limit(broker, message)
        limit = sized.limit
        if limit is not None and len(body) > limit:
            return False
        # What object.__setattr__ writes to on the frozen dataclass, and PreparedEncoding.attach(), in fewer steps.
        fields["args"] = ()
        fields["kwargs"] = named
        fields["encode"] = PreparedEncoding(message, body, self._recheck, (broker, False))
        if observe.observers:
            observe.message_sized("send", message.actor_name, message.queue_name, len(body), limit)
        return True

    def _check(
        self, broker: Broker, message: Message[Any], *, worker_path: bool
    ) -> tuple[dict[str, Any], bytes]:
        """Check ``message`` as it will be stored; return its canonical fields and their bytes.

        Never fails open: any exception but a rejection becomes a :class:`CheckFailed`
        (Dramatiq would log any other exception from ``before_enqueue`` and enqueue anyway).
        """
        try:
            return self._check_message(broker, message, worker_path=worker_path)
        except PayloadRejected:
            raise
        except Exception as error:
            raise CheckFailed.from_error(_actor_name(message), error) from error

    def _check_message(
        self, broker: Broker, message: Message[Any], *, worker_path: bool
    ) -> tuple[dict[str, Any], bytes]:
        own_fields = field_violations(message)
        if own_fields:
            raise MessageMalformed(_actor_name(message), own_fields)
        contract = self.contracts.get(message.actor_name) or self.contract_for(broker, message.actor_name)
        claims = self.claim_check
        if contract is None:
            args, kwargs = tuple(message.args), message.kwargs
        elif claims is not None and claims.carries_references(broker, message):
            # A retry, a delay-queue move, or a producer that offloaded itself: references stay.
            args, kwargs = claims.canonical(contract, message.args, message.kwargs)
        elif worker_path and not writes_json():
            args, kwargs = _canonical_consumed(contract, message)
        else:
            args, kwargs = contract.canonical(message.args, message.kwargs)
        return self._encode_within_limit(broker, message, contract, args, kwargs, worker_path=worker_path)

    def _encode_within_limit(
        self,
        broker: Broker,
        message: Message[Any],
        contract: ActorContract | None,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        worker_path: bool,
        offload: bool = True,
    ) -> tuple[dict[str, Any], bytes]:
        """Check the nested messages, encode once as strict JSON, and hold the bytes to the size limit.

        On the worker's own re-enqueues (``worker_path``), the traceback Dramatiq wrote is
        trimmed first when it alone pushes the message over its limit. With a claim
        check, the largest argument values over its threshold move to its store
        (``offload``; at build time nothing is written: the enqueue check offloads).
        """
        options = message.options
        if options or not isinstance(options, dict):  # a plain send() has none: nothing to check
            # The options Dramatiq computes with (nested messages' too), by the table's send rules.
            violations = options_violations(options, side="send")
            if violations:
                raise MessageMalformed(_actor_name(message), violations)
        if (
            options and not NESTING_OPTIONS.isdisjoint(options)
        ) or message.actor_name in self._callback_owners:
            self._canonical_nested(broker, message)
        data = message_fields(message, args, kwargs)
        if worker_path and not writes_json() and encoder_kind() == "opaque":
            # A consumed message Dramatiq re-enqueues, for an encoder that writes no JSON
            # (PickleEncoder): its untyped values go back as they were decoded.
            body = encode_message(data)
        else:
            body = encode_strict(message.actor_name, data, contract)
        limit = self.size_limit(broker, message)
        claims = self.claim_check
        if claims is not None:
            threshold = claims.threshold(broker, message, limit)
            if threshold is not None and len(body) > threshold:
                if not offload:
                    # Build time: nothing is written yet; the enqueue check offloads.
                    if claims.fits_after_offload(message, data, body, threshold, limit.limit):
                        return data, body
                else:
                    data, body = claims.offload_message(
                        message,
                        data,
                        body,
                        threshold,
                        limit.limit,
                        lambda fields: encode_strict(message.actor_name, fields, contract),
                    )
                    args, kwargs = data["args"], data["kwargs"]
        if limit.limit is not None and len(body) > limit.limit:
            if worker_path and trim_traceback(options, len(body) - limit.limit):
                body = encode_message(data)
            if len(body) > limit.limit:
                raise too_large(message.actor_name, args, kwargs, options, len(body), limit)
        return data, body

    def _recheck(self, message: Message[Any], broker: Broker, worker_path: bool) -> bytes:
        """Check again a message that changed after ``before_enqueue``, when the broker encodes it."""
        try:
            data, body = self._check(broker, message, worker_path=worker_path)
        except PayloadRejected as rejection:
            # On the worker's own re-enqueues, raising here would lose the message (it is acked).
            if not worker_path and self.mode == "enforce":
                observe.rejected("send", rejection.actor_name, message.queue_name, type(rejection).__name__)
                raise
            log_rejected_message(rejection, message, "enqueued unchanged")
            return message.encode()
        object.__setattr__(message, "args", data["args"])
        object.__setattr__(message, "kwargs", data["kwargs"])
        return body

    def _check_built(self, actor: Any, message: Message[Any]) -> None:
        """The build-time check: arguments, strict JSON, and size as built (a lower bound)."""
        contract = self.contract_for(actor.broker, message.actor_name)
        assert contract is not None  # built for this very actor at declare time
        claims = self.claim_check
        try:
            if claims is not None and claims.carries_references(actor.broker, message):
                args, kwargs = claims.canonical(contract, message.args, message.kwargs)
            else:
                args, kwargs = contract.canonical(message.args, message.kwargs)
        except PayloadInvalid as incomplete:
            # It may be a pipeline step, still to receive the previous step's result.
            try:
                args, kwargs = contract.canonical(message.args, message.kwargs, awaiting_result=True)
            except PayloadInvalid:
                raise incomplete from None
        self._encode_within_limit(
            actor.broker, message, contract, args, kwargs, worker_path=False, offload=False
        )

    def _canonical_nested(self, broker: Broker, message: Message[Any]) -> None:
        """Put the messages Dramatiq nests in ``message.options`` in their JSON form, each with its own contract.

        Pipeline steps (``pipe_target``, each step nesting the next) and group
        completion callbacks (also inside a pipeline's last step, for a pipeline in
        a group) are converted exactly as a top-level message, so a typed value
        sent to a later step (``b.message(uuid.uuid4())``) travels as its JSON
        form and reaches ``b`` typed. A step still awaiting the previous step's
        result keeps its positional values where they are: Dramatiq appends the
        result after them. ``on_success``, ``on_failure`` and ``on_retry_exhausted``
        must name actors that take the two arguments Dramatiq calls them with.

        The nested dicts are replaced, never changed: Dramatiq shares them with the
        pipeline and group objects (a re-run pipeline converts the same way again).

        Raises:
          PayloadInvalid: With every violation, its path starting at ``options``.
        """
        violations: list[Violation] = []
        replaced = self._nested_options(broker, message.actor_name, message.options, "options", violations)
        if violations:
            raise PayloadInvalid(message.actor_name, violations)
        message.options.update(replaced)

    def _nested_options(
        self, broker: Broker, owner: str, options: dict[str, Any], where: str, violations: list[Violation]
    ) -> dict[str, Any]:
        """The converted nested messages of one message's ``options`` (owner: its actor's name)."""
        replaced: dict[str, Any] = {}
        step = next_step(options)
        if step is not None:
            owner_actor = broker.actors.get(owner)
            ignores = step_ignores_result(step, owner_actor.options if owner_actor is not None else {})
            converted = self._nested_message(
                broker, step, f"{where}.{PIPE_TARGET}", violations, awaiting_result=not ignores
            )
            if converted is not None:
                replaced[PIPE_TARGET] = converted
                if not ignores:
                    self._check_result_fits(owner, step, f"{where}.{PIPE_TARGET}", violations)
        callbacks = group_callbacks(options)
        if callbacks is not None:
            replaced[GROUP_CALLBACKS] = [
                self._nested_message(broker, callback, f"{where}.{GROUP_CALLBACKS}[{index}]", violations)
                or callback
                for index, callback in enumerate(callbacks)
            ]
        owner_options = getattr(broker.actors.get(owner), "options", {})
        for option, second in CALLBACKS:
            name = options.get(option)
            if isinstance(name, str) and name:
                self._check_callback(broker, name, f"{where}.{option}", second, violations)
            elif not name and isinstance(owner_options.get(option), str):
                # Dramatiq reads ``message.options.get(option) or actor.options.get(option)``
                # (callbacks.py L44, L50; retries.py L126): the actor's own option applies too.
                name = owner_options[option]
                origin = f"(unset here, so actor {owner!r}'s own {option}={name!r} applies) "
                if name not in broker.actors:
                    problem = (
                        f"{origin}names no actor declared in this process: Dramatiq's worker would run "
                        f"{owner!r}, then raise ActorNotFound looking {name!r} up, and {second} would be lost"
                    )
                    fix = f"the name of a declared actor, or declare (import) {name!r} here too"
                    violations.append(Violation(f"{where}.{option}", problem, fix))
                else:
                    self._check_callback(broker, name, f"{where}.{option}", second, violations, origin)
        return replaced

    def _nested_message(
        self,
        broker: Broker,
        data: Any,
        where: str,
        violations: list[Violation],
        *,
        awaiting_result: bool = False,
    ) -> dict[str, Any] | None:
        """A nested message with its arguments in JSON form; None when there is nothing to convert."""
        if not isinstance(data, dict) or type(data.get("actor_name")) is not str:
            return None  # not a message Dramatiq could run: the strict JSON and envelope checks judge it
        name = data["actor_name"]
        converted = dict(data)
        args, kwargs = data.get("args") or (), data.get("kwargs") or {}
        if not isinstance(args, list | tuple) or not isinstance(kwargs, dict):
            problem = "is not a message: args must be an array and kwargs an object"
            violations.append(Violation(where, problem, "a message built with actor.message(...)"))
            return None
        try:
            contract = self.contract_for(broker, name)
            if contract is not None:
                new_args, new_kwargs = contract.canonical(
                    tuple(args), kwargs, awaiting_result=awaiting_result
                )
                if awaiting_result and len(new_args) < len(args):
                    # Dramatiq appends the result at args[len(args)]: what was before it stays there.
                    new_kwargs = dict(new_kwargs)
                    pinned = contract.positional[len(new_args) : len(args)]
                    new_args = (*new_args, *(new_kwargs.pop(p.name) for p in pinned))
                converted["args"], converted["kwargs"] = list(new_args), new_kwargs
        except PayloadRejected as rejection:
            violations.extend(_nested_violations(rejection, where))
        options = data.get("options")
        if isinstance(options, dict):
            replaced = self._nested_options(broker, name, options, f"{where}.options", violations)
            if replaced:
                converted["options"] = {**options, **replaced}
        return converted

    def _check_result_fits(
        self, owner: str, step: dict[str, Any], where: str, violations: list[Violation]
    ) -> None:
        """The next pipeline step takes the result ``owner`` declares, as Dramatiq appends it (:mod:`actorschema.pipes`)."""
        results = self.results.get(owner)
        contract = self.contracts.get(owner)
        step_contract = self.contracts.get(step["actor_name"])
        args = step.get("args") or ()
        if results is None or not results.annotated or contract is None or step_contract is None:
            return  # no declared result, or an actor this process does not declare: the worker judges it
        result = results.parameter
        if result is None or not isinstance(args, list | tuple):
            return
        key = (owner, step_contract.actor_name, len(args))
        if key not in self._misfits:
            self._misfits[key] = result_misfit(contract, result, step_contract, len(args))
        misfit = self._misfits[key]
        if misfit is not None:
            fix = (
                "a next step whose parameter takes that type, a return annotation the step takes, "
                "or pipe_ignore=True on the step if it does not want the result"
            )
            violations.append(Violation(where, misfit, fix))

    def _check_callback(
        self,
        broker: Broker,
        name: str,
        where: str,
        second: str,
        violations: list[Violation],
        origin: str = "",
    ) -> None:
        """A callback option names an actor Dramatiq calls with (the message as a dict, ``second``).

        Parameters:
          origin: Where the name comes from, when not from the message's own option.
        """
        try:
            contract = self.contract_for(broker, name)
            if contract is not None:
                contract.bind(({}, None), {})
        except PayloadRejected as rejection:
            problem = (
                f"{origin}names actor {name!r}, which cannot be called with the two arguments Dramatiq "
                f"passes (the message as a dict, then {second}): {rejection.reason}"
            )
            violations.append(Violation(where, problem, f"an actor taking (message_data: dict, {second})"))

    def contract_for(self, broker: Broker, actor_name: str) -> ActorContract | None:
        """The actor's contract; None for an actor this process does not declare.

        Producers may enqueue for actors declared only in the worker's process:
        their arguments cannot be bound here, but strict JSON and size still apply.

        Raises:
          PayloadInvalid: When the actor is declared but has no usable contract.
        """
        contract = self.contracts.get(actor_name)
        if contract is not None:
            return contract
        actor = broker.actors.get(actor_name)
        error = self.contract_errors.get(actor_name)
        if actor is not None and (error is None or (isinstance(error, ContractError) and error.retry)):
            # Not built yet, or a hint naming what did not exist yet (a model defined later
            # in the module): resolve again, so the first send after it exists succeeds.
            self._declare(actor, log=False)
            contract = self.contracts.get(actor_name)
            if contract is not None:
                return contract
            error = self.contract_errors.get(actor_name)
        if error is None:
            return None
        if isinstance(error, ContractError):
            violation = Violation("$", f"has no usable contract: {error.problem}", error.fix)
        else:
            violation = Violation("$", f"has no usable contract: {error}", "fix the actor's declaration")
        raise PayloadInvalid(actor_name, [violation])

    def size_limit(self, broker: Broker, message: Message[Any]) -> SizeLimit:
        """The size limit that applies to ``message``: the actor's option, then its queue's, then the global one."""
        key = (message.actor_name, message.queue_name)
        limit = self._limits.get(key)
        if limit is None:
            actor = broker.actors.get(message.actor_name)
            actor_options = actor.options if actor is not None else {}
            limit = resolve_limit(
                actor_options, message.queue_name, self._queue_limits, self._max_message_bytes
            )
            self._limits[key] = limit
        return limit


def _nested_violations(rejection: PayloadRejected, where: str) -> list[Violation]:
    """A nested message's violations, with paths from the outer message and the nested actor named."""
    return [
        Violation(
            where if v.path == "$" else f"{where}.{v.path}",
            f"(actor {rejection.actor_name!r}) {v.problem}",
            v.hint,
        )
        for v in rejection.violations
    ]


def _actor_name(message: Message[Any]) -> str:
    name = message.actor_name
    return name if type(name) is str else repr(name)


def _canonical_consumed(
    contract: ActorContract, message: Message[Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The canonical arguments of a consumed message the worker re-enqueues, decoded by the app's encoder.

    As the consume guard reads such a message (see :mod:`actorschema.app_encoder`):
    the values the app's decode() gave, or else the JSON on the wire (a ``str``
    parameter whose text that decode() revived as a datetime).
    """
    wire = wire_fields(message)
    if wire is not None and (type(wire.get("args")) is not list or type(wire.get("kwargs")) is not dict):
        wire = None
    try:
        canonical = contract.canonical(message.args, message.kwargs)
    except PayloadInvalid:
        if wire is None:
            raise
        try:
            return contract.canonical(wire["args"], wire["kwargs"])
        except PayloadInvalid:
            pass
        raise
    if wire is not None:
        # Raw parameters keep their JSON on the wire, which the encoder writes back as it was
        # (what decode() revived in them is not JSON).
        with contextlib.suppress(PayloadInvalid):
            canonical = raw_from(contract, canonical, contract.bind(wire["args"], wire["kwargs"])[:2])
    return canonical


def _on_worker_path() -> bool:
    """True when Dramatiq itself re-enqueues a message it consumed (a retry, a delay-queue move...).

    Only on a worker's own thread, outside any actor call, and only when the send
    comes from Dramatiq's own code (:func:`~actorschema._dramatiq.sent_by_dramatiq`):
    its middleware (Retries, Pipelines, Callbacks, GroupCallbacks) or the worker's
    delay-queue move. A send from a user's middleware hook on the same thread is
    checked like any other.
    """
    state = here()
    return state.in_worker and not state.actor_depth and sent_by_dramatiq()
