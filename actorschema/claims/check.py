"""``ClaimCheck``: move the largest argument values of a message into a blob store, and back.

Handed to the gateway (``PayloadGateway(claim_check=ClaimCheck(store))``),
it acts at four points of a message's life:

1. **Send** (the gateway's enqueue check, after the arguments are in canonical
   JSON form): when the encoded message is over the threshold, the largest
   top-level argument values are written to the store, largest first, and
   each is replaced by a :mod:`reference <actorschema.claims.reference>`
   until the message fits. Options and the envelope never move. The blobs
   are written *before* the message is enqueued; if the enqueue fails (a
   later middleware refuses it, the broker is unreachable) they are deleted
   again. A message that would still exceed its size limit with every value
   moved is refused as before, and nothing is written.
2. **Arrival** (the consume guard, before the contract check): each reference
   is fetched, its size and SHA-256 verified, and the value decoded as strict
   JSON; the contract check and typed delivery then see exactly what an
   inline message would have carried. A reference whose blob is missing,
   truncated or tampered with (or whose store cannot be read) dead-letters the
   message with that reason: the actor never runs with part of its data.
3. **Success**: the message's blobs are deleted once it is acknowledged. A
   retried or delayed message carries the same references, so it reuses
   its blobs.
4. **Dead letter**: the blobs stay, so the message can be replayed; a store
   with expiry (Redis) lets them go after the broker's ``dead_message_ttl``,
   the others are removed by ``actorschema claims gc`` once the dead letter
   is gone.

Settings, most specific first (as the size limit): the actor option
``claim_check``, the queue's entry in ``queues``, the ``offload`` default.
Each is ``True`` (offload above the size limit that applies), ``False`` (never
offload), or a number of bytes (offload above it).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dramatiq import Message
from dramatiq.broker import Broker
from dramatiq.common import q_name

from .. import observe
from ..contract import ActorContract
from ..encoder import encode_json
from ..errors import PayloadInvalid, PayloadRejected, Violation
from ..limits import SizeLimit
from ..paths import Path, render_path
from .reference import Reference, is_marked, reference_violation
from .stores import Store

__all__ = ["ACTOR_OPTION", "ClaimCheck", "ClaimFetchFailed", "Setting"]

#: The actor option: ``@dramatiq.actor(claim_check=True)`` (or False, or a threshold in bytes).
ACTOR_OPTION = "claim_check"

#: ``True`` (offload above the limit that applies), ``False`` (never), or a threshold in bytes.
Setting = bool | int

#: Dramatiq keeps dead letters this long by default (RedisBroker's ``dead_message_ttl``; RabbitMQ's XQ).
DEFAULT_DEAD_MESSAGE_TTL = 86_400_000 * 7

_SAFE_SLOT = re.compile(r"[A-Za-z0-9_]{1,60}\Z")
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
_DONE = "_actorschema_claims_done"

logger = logging.getLogger("actorschema")


class ClaimFetchFailed(PayloadRejected):
    """An offloaded value could not be fetched or verified: the message is dead-lettered, not run."""

    title = "an offloaded (claim-checked) value could not be fetched"


class _Pending(threading.local):
    #: Blobs written for messages this thread is enqueueing, by message id.
    written: dict[str, list[tuple[Store, str]]]

    def __init__(self) -> None:
        self.written = {}


class ClaimCheck:
    """Offload large argument values to a blob store at send; fetch and verify them on the worker.

    Parameters:
      store: Where new blobs are written.
      offload: The default setting for every actor: ``True`` offloads when a
        message exceeds the size limit that applies to it, a positive int
        when it exceeds that many bytes, ``False`` never.
      queues: Settings by queue name; they override ``offload`` and are
        overridden by an actor's ``claim_check`` option.
      stores: More stores the worker may read from (references name their
        store); ``store`` is always one of them.
    """

    def __init__(
        self,
        store: Store,
        *,
        offload: Setting = True,
        queues: Mapping[str, Setting] | None = None,
        stores: Sequence[Store] = (),
    ) -> None:
        _check_setting("offload", offload)
        for queue, setting in (queues or {}).items():
            _check_setting(f"queues[{queue!r}]", setting)
        self.store = store
        self.stores: dict[str, Store] = {}
        for each in (store, *stores):
            if self.stores.get(each.name, each) is not each:
                raise ValueError(f"two stores are named {each.name!r}: references could not tell them apart")
            self.stores[each.name] = each
        self.offload = offload
        self.queues = dict(queues or {})
        self._pending = _Pending()
        self._lock = threading.Lock()

    @property
    def actor_options(self) -> set[str]:
        return {ACTOR_OPTION}

    # -- settings ------------------------------------------------------------------

    def setting(self, broker: Broker, actor_name: str, queue_name: str) -> Setting:
        """The setting that applies to a message: the actor's option, its queue's, or the default."""
        actor = broker.actors.get(actor_name)
        options = actor.options if actor is not None else {}
        if ACTOR_OPTION in options:
            setting = options[ACTOR_OPTION]
            if type(setting) is not bool and (type(setting) is not int or setting <= 0):
                raise TypeError(f"actor {actor_name!r}: {ACTOR_OPTION} must be True, False or a positive int")
            return setting
        return self.queues.get(q_name(queue_name), self.offload)

    def threshold(self, broker: Broker, message: Message[Any], limit: SizeLimit) -> int | None:
        """Above how many bytes ``message`` offloads; None when it never does."""
        setting = self.setting(broker, message.actor_name, message.queue_name)
        if setting is False:
            return None
        if setting is True:
            return limit.limit
        return setting

    # -- send ------------------------------------------------------------------------

    @staticmethod
    def references_in(message: Message[Any]) -> bool:
        """True when a top-level argument value of ``message`` is marked as a reference."""
        args, kwargs = message.args, message.kwargs
        return (isinstance(args, list | tuple) and any(map(is_marked, args))) or (
            type(kwargs) is dict and any(map(is_marked, kwargs.values()))
        )

    def carries_references(self, broker: Broker, message: Message[Any]) -> bool:
        """True when ``message`` (for an actor with the claim check on) has a top-level marked value."""
        args, kwargs = message.args, message.kwargs
        marked = any(map(is_marked, args)) or (type(kwargs) is dict and any(map(is_marked, kwargs.values())))
        return marked and self.setting(broker, message.actor_name, message.queue_name) is not False

    def canonical(
        self, contract: ActorContract, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """``contract.canonical`` for a message that carries references: they stay as they are.

        A retried or delayed message, or one a producer offloaded itself, is
        bound to the signature and its inline values converted; each reference
        must be a valid one (its value is checked on the worker, after the fetch).

        Raises:
          PayloadInvalid: A marked value that is not a valid reference, or what the contract refuses.
        """
        bound_args, bound_kwargs, _ = contract.bind(tuple(args), kwargs)
        violations: list[Violation] = []
        kinds = inspect.Parameter
        out_args = []
        for index, value in enumerate(bound_args):
            parameter = contract.positional[index] if index < len(contract.positional) else None
            parameter = parameter or contract.var_positional
            out_args.append(self._converted(parameter, value, ("args", index), violations))
        out_kwargs = {}
        for key, value in bound_kwargs.items():
            parameter = contract.by_name.get(key)
            if parameter is None or parameter.kind in (kinds.VAR_POSITIONAL, kinds.VAR_KEYWORD):
                parameter = contract.var_keyword
            out_kwargs[key] = self._converted(parameter, value, ("kwargs", key), violations)
        if violations:
            raise PayloadInvalid(contract.actor_name, violations)
        return tuple(out_args), out_kwargs

    @staticmethod
    def _converted(parameter: Any, value: Any, path: Path, violations: list[Violation]) -> Any:
        if is_marked(value):
            violation = reference_violation(value, render_path(path))
            if violation is not None:
                violations.append(violation)
            return value
        return value if parameter is None else parameter.to_json(value, path, violations)

    def offload_message(
        self,
        message: Message[Any],
        data: dict[str, Any],
        body: bytes,
        threshold: int,
        limit: int | None,
        encode: Callable[[dict[str, Any]], bytes],
    ) -> tuple[dict[str, Any], bytes]:
        """Move the largest top-level argument values of ``data`` to the store until it fits ``threshold``.

        Writes nothing when even moving every value would leave the message over
        ``limit`` (the gateway then refuses it as too large). The blobs written
        are remembered until the enqueue is done: deleted if it fails.

        Parameters:
          message: The message being enqueued (its id names the blobs).
          data: Its canonical fields (``args``, ``kwargs`` in JSON form).
          body: ``data`` encoded.
          threshold: Offload until the encoded message is at most this many bytes.
          limit: The size limit that applies (None for none).
          encode: Encodes fields as the broker will store them.

        Returns:
          The fields with references in place of the moved values, and their encoding.
        """
        size, plan = self._plan(message, data, body, threshold)
        if not plan or (limit is not None and size > limit):
            return data, body
        args, kwargs = list(data["args"]), dict(data["kwargs"])
        written = self._pending.written.setdefault(message.message_id, [])
        store = self.store
        for path, blob, key in plan:
            reference = Reference.for_blob(store.name, key, blob)
            try:
                store.put(reference.key, blob)
            except BaseException:
                self._discard(message.message_id)
                raise
            written.append((store, reference.key))
            name = path[1]
            if isinstance(name, int):
                args[name] = reference.as_json()
            else:
                kwargs[name] = reference.as_json()
            observe.claim_offloaded(message.actor_name, message.queue_name, len(blob))
        data = {**data, "args": tuple(args), "kwargs": kwargs}
        return data, encode(data)

    def fits_after_offload(
        self, message: Message[Any], data: dict[str, Any], body: bytes, threshold: int, limit: int | None
    ) -> bool:
        """Would :meth:`offload_message` move values and leave the message within ``limit``? Writes nothing.

        The build-time check asks it (a group's child is checked before any child is
        enqueued), so a message that cannot fit even offloaded is refused there.
        """
        size, plan = self._plan(message, data, body, threshold)
        return bool(plan) and (limit is None or size <= limit)

    def _plan(
        self, message: Message[Any], data: dict[str, Any], body: bytes, threshold: int
    ) -> tuple[int, list[tuple[Path, bytes, str]]]:
        """The values to move, largest first, as ``(path, blob, key)``, and the size the message will have."""
        candidates: list[tuple[int, Path, bytes]] = []
        for index, value in enumerate(data["args"]):
            if not is_marked(value):
                blob = encode_json(value)
                candidates.append((len(blob), ("args", index), blob))
        for name, value in data["kwargs"].items():
            if not is_marked(value):
                blob = encode_json(value)
                candidates.append((len(blob), ("kwargs", name), blob))
        candidates.sort(key=lambda item: item[0], reverse=True)
        # A compact JSON encoding changes by exactly what a value's own text changes, and a
        # digest is always 64 characters: the reference's length is known before hashing.
        size, plan = len(body), []
        for blob_size, path, blob in candidates:
            if size <= threshold:
                break
            key = self._key(message.message_id, path)
            stand_in = Reference(self.store.name, key, "0" * 64, blob_size)
            size += len(encode_json(stand_in.as_json())) - blob_size
            plan.append((path, blob, key))
        return size, plan

    def _key(self, message_id: Any, path: Path) -> str:
        ident = message_id if type(message_id) is str and _SAFE_ID.match(message_id) else uuid.uuid4().hex
        where, name = path
        if where == "args":
            slot = f"args-{name}"
        elif _SAFE_SLOT.match(str(name)):
            slot = str(name)
        else:
            slot = "kw-" + hashlib.sha256(str(name).encode()).hexdigest()[:12]
        # The random part: the same message enqueued twice must not share (and delete) one blob.
        return f"{ident}.{slot}.{uuid.uuid4().hex[:12]}"

    def enqueued(self, message: Message[Any]) -> None:
        """The message is on its queue: its blobs belong to it now."""
        if self._pending.written:
            self._pending.written.pop(message.message_id, None)

    def _discard(self, message_id: Any) -> None:
        """Delete the blobs written for a message whose enqueue failed."""
        for store, key in self._pending.written.pop(message_id, ()):
            try:
                store.delete(key)
            except Exception:
                # The enqueue's own error is what the caller must see; gc finds this orphan.
                logger.exception("actorschema: could not delete blob %r of a failed enqueue", key)

    def attach(self, broker: Broker) -> None:
        """Wrap ``broker.enqueue`` once, so the blobs of a failed enqueue are deleted.

        Dramatiq has no hook for an enqueue that fails after ``before_enqueue``
        (a later middleware raising, the broker's own write failing).
        """
        with self._lock:
            if broker.__dict__.get("_actorschema_claims") is self:
                return
            enqueue = broker.enqueue

            @functools.wraps(enqueue)
            def enqueue_or_discard(message: Message[Any], *, delay: int | None = None) -> Message[Any]:
                try:
                    return enqueue(message, delay=delay)
                except BaseException:
                    self._discard(message.message_id)
                    raise

            broker.enqueue = enqueue_or_discard  # type: ignore[method-assign]
            broker._actorschema_claims = self  # type: ignore[attr-defined]

    # -- arrival ------------------------------------------------------------------------

    def fetch(
        self, broker: Broker, message: Message[Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
        """The arguments with every reference replaced by its verified value; None when there is none.

        Raises:
          PayloadInvalid: A marked value that is not a valid reference.
          ClaimFetchFailed: A blob missing, truncated, tampered with, not JSON, or
            in a store that is unknown or cannot be read (every one is named).
        """
        marked: list[tuple[Path, Any]] = [(("args", i), v) for i, v in enumerate(args) if is_marked(v)]
        if type(kwargs) is dict:
            marked += [(("kwargs", k), v) for k, v in kwargs.items() if is_marked(v)]
        if not marked or self.setting(broker, message.actor_name, message.queue_name) is False:
            return None
        invalid = [reference_violation(value, render_path(path)) for path, value in marked]
        violations = [v for v in invalid if v is not None]
        if violations:
            raise PayloadInvalid(message.actor_name, violations)
        new_args, new_kwargs = list(args), dict(kwargs)
        failures: list[Violation] = []
        for path, value in marked:
            reference = Reference.parse(value)
            assert reference is not None  # validated above
            fetched = self._fetch_one(message, reference, render_path(path), failures)
            name = path[1]
            if isinstance(name, int):
                new_args[name] = fetched
            else:
                new_kwargs[str(name)] = fetched
        if failures:
            raise ClaimFetchFailed(message.actor_name, failures)
        return tuple(new_args), new_kwargs

    def _fetch_one(
        self, message: Message[Any], reference: Reference, where: str, failures: list[Violation]
    ) -> Any:
        hint = (
            "the dead letter keeps its reference: restore the blob and replay it, or send the message again"
        )
        reason, problem, blob = self._verify(reference)
        if reason is None:
            from ..consume.envelope import decode_strict_json  # worker-only: producers never load it

            try:
                return decode_strict_json(blob)
            except ValueError as error:
                reason, problem = "not JSON", f"is not strict JSON: {error}"
        observe.claim_fetch_failed(message.actor_name, message.queue_name, reason)
        failures.append(
            Violation(
                where,
                f"references blob {reference.key!r} in store {reference.store!r}, which {problem}",
                hint,
            )
        )
        return None

    def _verify(self, reference: Reference) -> tuple[str | None, str, bytes]:
        """``(None, "", blob)`` for a blob that matches ``reference``; else ``(reason, problem, b"")``."""
        store = self.stores.get(reference.store)
        if store is None:
            known = ", ".join(map(repr, self.stores)) or "none"
            return "unknown store", f"this worker does not have (its stores: {known})", b""
        try:
            blob = store.get(reference.key)
        except Exception as error:
            return "unreadable", f"could not be read: {type(error).__name__}: {error}", b""
        if blob is None:
            return "missing", "is missing", b""
        if len(blob) < reference.size:
            return "truncated", f"is truncated: {len(blob)} bytes of {reference.size}", b""
        if len(blob) > reference.size or hashlib.sha256(blob).hexdigest() != reference.sha256:
            return "tampered", "does not match its reference's size and SHA-256 (tampered with)", b""
        return None, "", blob

    # -- after the run --------------------------------------------------------------------

    def processed(self, message: Any, exception: BaseException | None) -> None:
        """Remember a message that succeeded: its blobs go once it is acknowledged."""
        if exception is None and not getattr(message, "failed", False):
            setattr(message, _DONE, True)

    def acknowledged(self, message: Any) -> None:
        """Delete the blobs of a message that succeeded (only after its ack: a crash before keeps them)."""
        if getattr(message, _DONE, False):
            for store, key in self._references(message):
                store.delete(key)

    def dead_lettered(self, broker: Broker, message: Any) -> None:
        """Keep a dead-lettered message's blobs for as long as the broker keeps the dead letter."""
        ttl = getattr(broker, "dead_message_ttl", None) or DEFAULT_DEAD_MESSAGE_TTL
        for store, key in self._references(message):
            store.expire(key, ttl)

    def _references(self, message: Any) -> list[tuple[Store, str]]:
        args, kwargs = message.args, message.kwargs
        values = [*args, *(kwargs.values() if type(kwargs) is dict else ())]
        found = []
        for value in values:
            reference = Reference.parse(value) if is_marked(value) else None
            store = self.stores.get(reference.store) if reference is not None else None
            if store is not None and reference is not None:
                found.append((store, reference.key))
        return found


def _check_setting(where: str, value: object) -> None:
    if type(value) is not bool and (type(value) is not int or value <= 0):
        raise ValueError(f"{where}: a claim-check setting is True, False or a positive int, not {value!r}")
