"""Why a message is in the dead-letter queue: one reason record per rejected message, kept beside it.

Dramatiq moves a failed message to ``<queue>.XQ`` as it was stored, without
saying why. The gateway keeps the reason where whoever inspects the
dead-letter queue finds it:

* **Redis**: in the hash ``<namespace>:<queue>.XQ.reasons``, under the same id
  as the message in ``<namespace>:<queue>.XQ.msgs`` (its ``redis_message_id``).
  Reasons go entry by entry with their messages: Dramatiq's own maintenance
  (run on a random ``maintenance_chance`` of its commands) removes dead
  letters older than ``dead_message_ttl``, and :func:`prune_redis_reasons` runs
  with it, at the same chance: in the very transaction of the fetch that does
  the maintenance with the drop-in ``RedisBroker``, after acks and nacks with
  Dramatiq's own. It removes the reasons of messages that expired and of those
  gone from ``<queue>.XQ`` otherwise (requeued or deleted by hand). The whole
  hash also expires ``dead_message_ttl`` after its last write.
* **RabbitMQ** (``actorschema.brokers.RabbitmqBroker``): in the AMQP header
  ``x-actorschema-reason`` of the dead-lettered copy, whose body is unchanged.
* **StubBroker**: on the dead-lettered message itself.

A record is a JSON object: ``actor``, ``message_id``, ``queue``, ``reason``
(the rejection's title), ``violations`` (``path``, ``problem``, ``hint`` each),
``error`` (the full text a send would have raised) and ``dead_lettered_at``
(ms since the epoch). Read them with :func:`dead_letter_reasons`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from dramatiq.common import current_millis, xq_name

from .._dramatiq import redis_should_do_maintenance
from ..browse import rabbitmq_deliveries
from ..errors import PayloadRejected
from ..log import logger

__all__ = ["REASON_HEADER", "dead_letter_reasons", "prune_redis_reasons", "reason_record", "reasons_key"]


#: The AMQP header that carries the reason on RabbitMQ.
REASON_HEADER = "x-actorschema-reason"
#: The attribute of a rejected MessageProxy that holds its rejection (Dramatiq clears ``_exception``).
REJECTION_ATTRIBUTE = "_actorschema_rejection"


def reason_record(rejection: PayloadRejected, *, message_id: str | None, queue_name: str) -> dict[str, Any]:
    """The JSON record of why a message was dead-lettered."""
    return {
        "actor": rejection.actor_name,
        "message_id": message_id,
        "queue": queue_name,
        "reason": rejection.title,
        "violations": [v.as_dict() for v in rejection.violations],
        "error": str(rejection),
        "dead_lettered_at": int(time.time() * 1000),
    }


def reason_text(rejection: PayloadRejected, *, message_id: str | None, queue_name: str) -> str:
    return json.dumps(reason_record(rejection, message_id=message_id, queue_name=queue_name))


def reasons_key(namespace: str, queue_name: str) -> str:
    """The Redis hash of reasons for ``queue_name``'s dead-letter queue."""
    return f"{namespace}:{xq_name(queue_name)}.reasons"


def store_redis_reason(broker: Any, queue_name: str, redis_message_id: str, text: str) -> None:
    """Keep ``text`` in the reasons hash beside ``<queue>.XQ`` (RedisBroker).

    Written just before the message is moved to ``<queue>.XQ``, so whoever sees
    it there finds its reason.
    """
    key = reasons_key(broker.namespace, queue_name)
    with broker.client.pipeline(transaction=True) as pipe:
        pipe.hset(key, redis_message_id, text)
        pipe.pexpire(key, broker.dead_message_ttl)
        pipe.execute()


# Removes the reasons whose message is gone from the dead-letter queue, or is about to go.
# KEYS: <q>.XQ, <q>.XQ.reasons. ARGV[1]: the maintenance cutoff (dead letters at or before it
# expire, as dispatch.lua's zrangebyscore 0..timestamp-ttl); ARGV[2]: a reason written at or
# before it whose message is not in the XQ is gone (one written later may be just ahead of
# its nack, which follows the reason).
_PRUNE = """
local cutoff, settled = tonumber(ARGV[1]), tonumber(ARGV[2])
local ids = redis.call("hkeys", KEYS[2])
local gone = {}
for _, id in ipairs(ids) do
  local score = redis.call("zscore", KEYS[1], id)
  if score then
    if tonumber(score) <= cutoff then table.insert(gone, id) end
  else
    local ok, record = pcall(cjson.decode, redis.call("hget", KEYS[2], id) or "")
    local at = ok and type(record) == "table" and tonumber(record["dead_lettered_at"]) or 0
    if at <= settled then table.insert(gone, id) end
  end
end
for i = 1, #gone, 500 do
  redis.call("hdel", KEYS[2], unpack(gone, i, math.min(i + 499, #gone)))
end
return #gone
"""

# The reasons whose message is in the dead-letter queue, as field, value pairs. KEYS: <q>.XQ, reasons.
_PRESENT = """
local found = {}
local pairs_ = redis.call("hgetall", KEYS[2])
for i = 1, #pairs_, 2 do
  if redis.call("zscore", KEYS[1], pairs_[i]) then
    table.insert(found, pairs_[i])
    table.insert(found, pairs_[i + 1])
  end
end
return found
"""


def prune_redis_reasons(broker: Any, queue_name: str, *, client: Any = None, now: int | None = None) -> Any:
    """Remove the reasons of the dead letters Dramatiq's maintenance removes, or that are gone otherwise.

    Returns the number removed, or the pending reply when ``client`` is a pipeline.

    Parameters:
      broker: The RedisBroker (its namespace, ``dead_message_ttl`` and ``heartbeat_timeout``).
      queue_name: The queue whose dead-letter reasons to prune.
      client: Where to run it: a pipeline, to run it in the same transaction as
        Dramatiq's maintenance; by default the broker's client.
      now: The time Dramatiq's maintenance runs with, in ms (default: now).
    """
    now = current_millis() if now is None else now
    namespace = broker.namespace
    keys = [f"{namespace}:{xq_name(queue_name)}", reasons_key(namespace, queue_name)]
    arguments = [now - broker.dead_message_ttl, now - broker.heartbeat_timeout]
    return _script(broker.client, "prune", _PRUNE)(keys=keys, args=arguments, client=client or broker.client)


def maybe_prune_redis_reasons(broker: Any, queue_name: str) -> None:
    """Prune ``queue_name``'s reasons at the chance Dramatiq runs its own maintenance with.

    For Dramatiq's own RedisBroker, whose maintenance runs inside its consumer:
    the gateway calls this after each ack and nack. Never raises (a prune that
    fails is tried again at a later chance).
    """
    try:
        if redis_should_do_maintenance(broker):
            prune_redis_reasons(broker, queue_name)
    except Exception:
        logger.warning("could not prune the dead-letter reasons of queue %r", queue_name, exc_info=True)


def _script(client: Any, name: str, source: str) -> Any:
    """A Lua script registered once per client."""
    scripts = client.__dict__.setdefault("_actorschema_scripts", {})
    script = scripts.get(name)
    if script is None:
        script = scripts[name] = client.register_script(source)
    return script


def dead_letter_reasons(broker: Any, queue_name: str) -> dict[str, dict[str, Any]]:
    """The reasons of the messages the gateway dead-lettered from ``queue_name``, by message id.

    The id is the one the dead-letter queue lists the message under: its
    ``redis_message_id`` on Redis (a member of ``<queue>.XQ``; a reason whose
    message is no longer there is not reported), its
    ``message_id`` on StubBroker, and on RabbitMQ its ``message_id`` (or, for
    an undecodable body, ``"delivery:<n>"``). On RabbitMQ the dead-letter
    queue is read without consuming it.
    """
    if hasattr(broker, "dead_letters_by_queue"):
        return _stub_reasons(broker, queue_name)
    if hasattr(broker, "client") and hasattr(broker, "namespace"):
        # Only the reasons of messages still in the dead-letter queue: never one that is gone.
        keys = [f"{broker.namespace}:{xq_name(queue_name)}", reasons_key(broker.namespace, queue_name)]
        pairs = _script(broker.client, "present", _PRESENT)(keys=keys, args=[])
        return {text_of(pairs[i]): json.loads(pairs[i + 1]) for i in range(0, len(pairs), 2)}
    if hasattr(broker, "parameters"):
        return _rabbitmq_reasons(broker, queue_name)
    raise TypeError(f"cannot read dead-letter reasons from a {type(broker).__name__}")


def _stub_reasons(broker: Any, queue_name: str) -> dict[str, dict[str, Any]]:
    found = {}
    for index, message in enumerate(broker.dead_letters_by_queue.get(queue_name, ())):
        rejection = getattr(message, REJECTION_ATTRIBUTE, None)
        if rejection is not None:
            message_id = getattr(message, "message_id", None)
            key = message_id if isinstance(message_id, str) else f"undecodable:{index}"
            found[key] = reason_record(rejection, message_id=message_id, queue_name=queue_name)
    return found


def _rabbitmq_reasons(broker: Any, queue_name: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for position, properties, _body in rabbitmq_deliveries(broker.parameters, xq_name(queue_name)):
        text = (properties.headers or {}).get(REASON_HEADER)
        if text is not None:
            record = json.loads(text)
            found[record.get("message_id") or f"delivery:{position}"] = record
    return found


def text_of(value: Any) -> str:
    """A Redis reply as text, whether the client decodes responses or not."""
    return value.decode() if isinstance(value, bytes) else str(value)
