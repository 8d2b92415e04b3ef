"""Find and remove orphaned blobs: blobs no queued message references.

An orphan is left by a producer that crashed between writing a blob and
enqueueing its message, by a store that could not delete (a worker crash
between the ack and the delete), or by a dead letter that expired in a store
without expiry (directory, S3). :func:`collect` removes them, and never a
blob a message still references:

1. It lists the stores' blobs first, then reads every queue **without
   consuming it**, so a blob listed is either referenced in what it read or
   was already unreferenced when it was listed.
2. A blob younger than ``min_age`` seconds is kept whatever the queues say:
   its message may be on its way (written, not yet enqueued).
3. A message body that cannot be decoded protects every blob whose key it
   contains.

How each broker's queues are read:

* **Redis**: every ``<namespace>:*.msgs`` hash (queues, their ``.DQ`` delay
  queues and ``.XQ`` dead letters; a message being processed stays in its
  hash until it is acknowledged), plus the hashes of every queue the app
  declares, read in one ``MULTI``/``EXEC`` transaction, so no message can be
  missed while it moves from one queue to another.
* **RabbitMQ**: each declared queue, its ``.DQ`` and ``.XQ`` are read with
  ``basic_get`` and put back by closing the channel without acknowledging.
  A message a consumer holds (prefetched, or a delayed message Dramatiq
  keeps until its ``eta``) is invisible to anyone else, so gc refuses to run
  while any of those queues has a consumer: stop the workers first.
* **StubBroker**: its queues and dead letters, in process (tests).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dramatiq.common import dq_name, xq_name

from .reference import MARKER
from .stores import Store

__all__ = ["GcRefused", "GcReport", "collect", "queued_bodies", "referenced_keys"]

#: Blobs younger than this (seconds) are never removed: their message may not be enqueued yet.
DEFAULT_MIN_AGE = 3600.0


class GcRefused(Exception):
    """gc cannot see every message that may reference a blob, so it deletes nothing."""


@dataclass
class GcReport:
    """What a gc run found.

    Parameters:
      messages: How many queued messages were read (dead letters included).
      referenced: The blob keys those messages reference.
      blobs: How many blobs the stores hold.
      orphans: The unreferenced blobs old enough to remove, as ``(store, key, age in seconds)``.
      kept_young: Unreferenced blobs kept because they are younger than ``min_age``.
      deleted: How many orphans were deleted (0 on a dry run).
    """

    messages: int = 0
    referenced: set[str] = field(default_factory=set)
    blobs: int = 0
    orphans: list[tuple[str, str, float]] = field(default_factory=list)
    kept_young: int = 0
    deleted: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "referenced": len(self.referenced),
            "blobs": self.blobs,
            "orphans": [{"store": s, "key": k, "age_seconds": round(a, 1)} for s, k, a in self.orphans],
            "kept_young": self.kept_young,
            "deleted": self.deleted,
        }


def collect(
    broker: Any,
    stores: Iterable[Store],
    *,
    min_age: float = DEFAULT_MIN_AGE,
    dry_run: bool = False,
    queues: Sequence[str] | None = None,
) -> GcReport:
    """Delete the blobs of ``stores`` that no message in ``broker``'s queues references.

    Parameters:
      broker: The app's broker (Redis, RabbitMQ or Stub).
      stores: The stores to clean.
      min_age: Keep blobs younger than this many seconds.
      dry_run: Report the orphans, delete nothing.
      queues: The queues to read besides those the broker declares (and, on
        Redis, every queue it finds).

    Raises:
      GcRefused: Some queue cannot be read completely (RabbitMQ with consumers).
    """
    listed = [(store, key, written) for store in stores for key, written in store.blobs()]
    bodies = queued_bodies(broker, queues or ())
    report = GcReport(messages=len(bodies), blobs=len(listed))
    undecodable: list[bytes] = []
    for body in bodies:
        try:
            document = json.loads(body)
        except ValueError:
            undecodable.append(body)
            continue
        report.referenced |= referenced_keys(document)
    now = time.time()
    for store, key, written in listed:
        if key in report.referenced or any(key.encode() in body for body in undecodable):
            continue
        age = now - written
        if age < min_age:
            report.kept_young += 1
            continue
        report.orphans.append((store.name, key, age))
        if not dry_run:
            store.delete(key)
            report.deleted += 1
    return report


def referenced_keys(document: Any) -> set[str]:
    """The blob keys referenced anywhere in a decoded message (nested messages included)."""
    found: set[str] = set()
    stack = [document]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if MARKER in node and isinstance(node.get("key"), str):
                found.add(node["key"])  # valid or not: protect whatever it names
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def queued_bodies(broker: Any, queues: Iterable[str] = ()) -> list[bytes]:
    """Every message body in ``broker``'s queues, delay queues and dead letters, read without consuming."""
    names = {*broker.get_declared_queues(), *queues}
    if hasattr(broker, "dead_letters_by_queue"):
        return _stub_bodies(broker, names)
    if hasattr(broker, "client") and hasattr(broker, "namespace"):
        return _redis_bodies(broker, names)
    if hasattr(broker, "parameters"):
        return _rabbitmq_bodies(broker, names)
    raise GcRefused(f"cannot read the queues of a {type(broker).__name__} without consuming them")


def _stub_bodies(broker: Any, names: set[str]) -> list[bytes]:
    bodies: list[bytes] = []
    for queue in broker.queues.values():
        bodies.extend(queue.queue)  # the encoded messages, left in place
    for messages in broker.dead_letters_by_queue.values():
        bodies.extend(message.encode() for message in messages)
    return bodies


def _redis_bodies(broker: Any, names: set[str]) -> list[bytes]:
    client, namespace = broker.client, broker.namespace
    keys = {
        key.decode() if isinstance(key, bytes) else key for key in client.scan_iter(f"{namespace}:*.msgs")
    }
    bases = {key[len(namespace) + 1 : -len(".msgs")] for key in keys} | names
    for base in bases:
        queue = base.removesuffix(".DQ").removesuffix(".XQ")
        keys |= {f"{namespace}:{q}.msgs" for q in (queue, dq_name(queue), xq_name(queue))}
    ordered = sorted(keys)
    with client.pipeline(transaction=True) as pipe:
        for key in ordered:
            pipe.hvals(key)
        results = pipe.execute()
    return [
        value if isinstance(value, bytes) else str(value).encode() for values in results for value in values
    ]


def _rabbitmq_bodies(broker: Any, names: set[str]) -> list[bytes]:
    import pika  # type: ignore[import-untyped, unused-ignore]

    bodies: list[bytes] = []
    queues = sorted({q for base in names for q in (base, dq_name(base), xq_name(base))})
    connection = pika.BlockingConnection(parameters=broker.parameters)
    try:
        channel = connection.channel()
        for queue in queues:
            try:
                declared = channel.queue_declare(queue, passive=True)
            except pika.exceptions.ChannelClosedByBroker:
                channel = connection.channel()  # no such queue: nothing in it
                continue
            if declared.method.consumer_count:
                raise GcRefused(
                    f"queue {queue!r} has {declared.method.consumer_count} consumer(s): the messages "
                    "they hold are invisible to gc; stop the workers, then run gc"
                )
            while True:
                method, _properties, body = channel.basic_get(queue, auto_ack=False)
                if method is None:
                    break
                bodies.append(body)
    finally:
        connection.close()  # unacknowledged: every message goes back, in order
    return bodies
