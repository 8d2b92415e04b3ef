"""See what is queued: read the messages sitting in an app's queues and judge each as the worker would.

Before switching a gateway from ``mode="warn"`` to ``"enforce"``, or before
deploying a schema change, the question is which of the messages already
queued (ready, delayed, dead-lettered) would be refused, and how large they
are. This module answers it in three parts:

* **Readers**, one small public function per broker, that yield every message
  of a queue as stored, without taking, reordering or changing it:
  :func:`redis_messages` and :func:`rabbitmq_messages` (:func:`broker_messages`
  picks the one for a broker).
* **Judges**, that say what the worker would do with one stored body:
  :class:`ContractJudge` runs the worker's own decoder and check
  (:func:`~actorschema.envelope.decode_message`, then the gateway's consume
  guard) against the app's current contracts; :class:`SchemaJudge` runs
  ``actorschema validate``'s check against a schema folder (the next
  release's ``schemas/``, or ``git:REF:schemas``).
* :class:`Audit`, which sums the verdicts up per actor and queue in bounded
  memory: counts, refusals with their paths, and the size distribution
  (:class:`Sizes`) against the limit that applies.

**Redis** keeps every message body in a hash beside its queue
(``<namespace>:<queue>.msgs``, ``.DQ.msgs`` for delayed ones, ``.XQ.msgs`` for
dead letters; Dramatiq's ``dispatch.lua``). The reader walks those hashes with
``HSCAN``, a page at a time, which neither moves nor changes anything. A
message fetched by a worker and not yet acked is still in its hash, and is
read as ready. ``HSCAN`` guarantees every message present for the whole scan
is seen; while producers or workers write to the queue, a message added or
removed meanwhile may or may not be seen, and Redis may return one twice if it
resizes the hash meanwhile.

**RabbitMQ** has no way to read a classic queue without taking its messages.
The reader consumes each queue **without acknowledging anything**, then closes
its connection, which makes RabbitMQ put every message back where it was
(RabbitMQ keeps a requeued message's position, and its expiry). Bodies,
properties and order are unchanged; what changes is that each message is
flagged ``redelivered`` (Dramatiq ignores the flag), that the messages are
invisible to workers while the audit holds them, and, on a quorum queue, that
each one's ``x-delivery-count`` grows by one. It stops after as many messages
as the queue held when it started, so producers cannot keep it reading.
Messages that running workers hold unacknowledged (prefetched, or delayed and
not yet due) are not in the queue, and are not seen.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from dramatiq.broker import Broker
from dramatiq.common import dq_name

from .browse import rabbitmq_deliveries
from .consume.envelope import decode_message, decode_strict_json, received_size
from .errors import PayloadRejected, PayloadTooLarge
from .gateway import PayloadGateway
from .limits import SizeLimit, resolve_limit
from .validate import Catalogue, Unparsable, check_message

__all__ = [
    "STATES",
    "Audit",
    "AuditError",
    "ContractJudge",
    "Group",
    "Judgement",
    "QueuedMessage",
    "SchemaJudge",
    "Sizes",
    "State",
    "broker_messages",
    "rabbitmq_messages",
    "redis_messages",
]

#: Where a message sits: its queue, its delay queue, its dead-letter queue.
State = Literal["ready", "delayed", "dead-lettered"]

#: Every state, in the order the readers read them.
STATES: tuple[State, ...] = ("ready", "delayed", "dead-lettered")

#: The suffix Dramatiq gives the queue of each state.
_SUFFIX: dict[State, str] = {"ready": "", "delayed": ".DQ", "dead-lettered": ".XQ"}

#: About how many bytes of message bodies one Redis page holds: the reader's memory, whatever the queue's length.
REDIS_PAGE_BYTES = 4 * 1024 * 1024

#: The most messages one Redis page asks for (``HSCAN``'s ``COUNT``).
REDIS_PAGE_MESSAGES = 1000

#: How many distinct reasons an actor's report keeps; the others are only counted.
MAX_REASONS = 20

#: How many message ids each reason keeps as examples (the smallest).
MAX_EXAMPLES = 3


class AuditError(Exception):
    """The audit cannot run: a broker it cannot read, an app without a gateway, an unusable schema folder."""


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """One message as it sits in a broker's queue.

    Parameters:
      queue_name: The app's queue it belongs to (``orders``, also for its delayed and dead-lettered messages).
      state: ``"ready"``, ``"delayed"`` or ``"dead-lettered"``.
      key: Where it is: its id in the Redis hash, or its position in the RabbitMQ queue (``#1`` first).
      body: The bytes as stored.
    """

    queue_name: str
    state: State
    key: str
    body: bytes


# -- readers ---------------------------------------------------------------------------------------


def redis_messages(
    client: Any, queue_name: str, *, namespace: str = "dramatiq", states: Iterable[State] = STATES
) -> Iterator[QueuedMessage]:
    """Yield every message stored for ``queue_name`` on Redis, reading with ``HSCAN`` only.

    Pages are sized to hold about :data:`REDIS_PAGE_BYTES` of bodies, so memory
    stays bounded however long the queue is.

    Parameters:
      client: A ``redis.Redis`` client (the broker's ``client``).
      queue_name: The app's queue (``orders``).
      namespace: The broker's key prefix (``RedisBroker(namespace=...)``).
      states: Which of the queue, its delay queue and its dead-letter queue to read.
    """
    for state in states:
        key = f"{namespace}:{queue_name}{_SUFFIX[state]}.msgs"
        cursor, count = 0, 100
        while True:
            cursor, page = client.hscan(key, cursor, count=count)
            size = 0
            for message_id, body in page.items():
                data = body if isinstance(body, bytes) else str(body).encode()
                size += len(data)
                yield QueuedMessage(queue_name, state, _text(message_id), data)
            if page:
                # COUNT is a hint of entries; aim the next page at a number of bytes instead.
                count = max(1, min(REDIS_PAGE_MESSAGES, REDIS_PAGE_BYTES * len(page) // max(size, 1)))
            if int(cursor) == 0:
                break


def rabbitmq_messages(
    parameters: Any, queue_name: str, *, states: Iterable[State] = STATES
) -> Iterator[QueuedMessage]:
    """Yield every message of ``queue_name`` on RabbitMQ, then put them all back where they were.

    RabbitMQ cannot show a classic queue's messages without delivering them
    (see :mod:`actorschema.browse`): they are consumed and never acknowledged,
    and closing the connection requeues them in their places, bodies and
    properties unchanged, flagged ``redelivered``. Reading stops after as many
    messages as the queue held when it began, or when the broker has delivered
    nothing more for :data:`~actorschema.browse.RABBITMQ_IDLE_SECONDS` (workers
    took the rest meanwhile). A queue that does not exist holds nothing.

    Parameters:
      parameters: pika connection parameters (the broker's ``parameters``).
      queue_name: The app's queue (``orders``).
      states: Which of the queue, its delay queue and its dead-letter queue to read.
    """
    for state in states:
        for position, _properties, body in rabbitmq_deliveries(parameters, queue_name + _SUFFIX[state]):
            yield QueuedMessage(queue_name, state, f"#{position}", body)


def broker_messages(
    broker: Broker, queue_name: str, *, states: Iterable[State] = STATES
) -> Iterator[QueuedMessage]:
    """Yield every message stored for ``queue_name`` through the reader for ``broker``'s kind.

    Parameters:
      broker: A Dramatiq ``RedisBroker`` or ``RabbitmqBroker`` (or a subclass, such as actorschema's).
      queue_name: The app's queue.
      states: Which of the queue, its delay queue and its dead-letter queue to read.

    Raises:
      AuditError: For any other broker (a StubBroker's queues live in the process that filled them).
    """
    kinds = _broker_kinds()
    matched: Any = broker  # typed as the kind it matches below
    if "redis" in kinds and isinstance(broker, kinds["redis"]):
        return redis_messages(matched.client, queue_name, namespace=matched.namespace, states=states)
    if "rabbitmq" in kinds and isinstance(broker, kinds["rabbitmq"]):
        return rabbitmq_messages(matched.parameters, queue_name, states=states)
    raise AuditError(
        f"cannot read the queues of a {type(broker).__name__}: audit reads Redis and RabbitMQ brokers "
        "(a StubBroker's queues live only in the process that filled them)"
    )


def _broker_kinds() -> dict[str, type]:
    kinds: dict[str, type] = {}
    try:
        from dramatiq.brokers.redis import RedisBroker

        kinds["redis"] = RedisBroker
    except ImportError:  # redis is an extra
        pass
    try:
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        kinds["rabbitmq"] = RabbitmqBroker
    except ImportError:  # pika is an extra
        pass
    return kinds


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


# -- judges ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Judgement:
    """What a worker would do with one stored message.

    Parameters:
      actor: The actor it names (``"?"`` when it names none).
      message_id: Its ``message_id``, when it has a readable one.
      size: Its size as the worker counts it: the bytes stored, less the options Dramatiq wrote itself.
      limit: The size limit that applies to it.
      problems: Why it would be refused, as ``(path, problem, what to send instead)``; empty when it would run.
      declared: The app (or schema folder) knows its actor.
    """

    actor: str
    message_id: str | None
    size: int
    limit: SizeLimit
    problems: tuple[tuple[str, str, str], ...]
    declared: bool = True


Judge = Callable[[QueuedMessage], Judgement]

_NO_LIMIT = SizeLimit(None, "none")


def _too_large(limit: SizeLimit) -> str:
    # One text per limit, not per size: the size distribution says by how much.
    return f"larger than the {limit.limit:,}-byte {limit.source} limit"


class ContractJudge:
    """Judge stored messages against the app's current contracts, with the worker's own decoder and check.

    The body is decoded as the worker decodes it (strict JSON, the envelope,
    the queue it sits in), then checked by the gateway's consume guard: size,
    then arguments against the actor's type hints. The verdict is the one
    ``mode="enforce"`` reaches, whatever mode the gateway is in.

    Parameters:
      broker: The app's broker; it must carry a :class:`~actorschema.PayloadGateway`.

    Raises:
      AuditError: The broker has no gateway.
    """

    def __init__(self, broker: Broker) -> None:
        gateway = next((m for m in broker.middleware if isinstance(m, PayloadGateway)), None)
        if gateway is None:
            raise AuditError(
                "the app's broker has no PayloadGateway, so it has no contracts to check against: "
                "add PayloadGateway(mode='warn') to it, or give a schema folder with --against"
            )
        self.broker = broker
        self.gateway = gateway

    def limit(self, actor_name: str, queue_name: str) -> SizeLimit:
        """The limit the worker applies to ``actor_name``'s messages in ``queue_name``."""
        actor = self.broker.actors.get(actor_name)
        gateway = self.gateway
        options = actor.options if actor is not None else {}
        return resolve_limit(options, queue_name, gateway.queue_limits, gateway.max_message_bytes)

    def __call__(self, queued: QueuedMessage) -> Judgement:
        body = queued.body
        try:
            message = decode_message(body, _consumed_from(queued))
        except PayloadRejected as rejection:
            fields = _fields(body)
            return Judgement(
                rejection.actor_name,
                _message_id(fields),
                _size(body, fields),
                self.limit(rejection.actor_name, queued.queue_name),
                tuple((v.path, v.problem, v.hint) for v in rejection.violations),
                rejection.actor_name in self.broker.actors,
            )
        actor_name = message.actor_name
        limit = self.limit(actor_name, queued.queue_name)
        size = received_size(len(body), message.options)  # what is stored, less Dramatiq's own options
        problems: tuple[tuple[str, str, str], ...] = ()
        try:
            self.gateway.consume_guard.check(self.broker, message)
        except PayloadTooLarge as rejection:
            largest = rejection.violations[0]
            problems = ((largest.path, _too_large(limit), largest.hint),)
        except PayloadRejected as rejection:
            problems = tuple((v.path, v.problem, v.hint) for v in rejection.violations)
        message_id = message.message_id if type(message.message_id) is str else None
        return Judgement(actor_name, message_id, size, limit, problems, actor_name in self.broker.actors)


class SchemaJudge:
    """Judge stored messages against a schema folder, with ``actorschema validate``'s check.

    The worker's strict decoder, then the actor's schema and size limit as the
    folder states them: what the release that folder belongs to would say.

    Parameters:
      catalogue: The loaded schema folder (:func:`actorschema.validate.load_schemas`).
    """

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue

    def limit(self, actor_name: str, queue_name: str) -> SizeLimit:
        """The limit the folder gives ``actor_name``'s messages (no limit for an actor it does not have)."""
        entry = self.catalogue.actors.get(actor_name)
        if entry is None:
            return _NO_LIMIT
        return SizeLimit(entry.max_message_bytes, entry.limit_source or "none")

    def __call__(self, queued: QueuedMessage) -> Judgement:
        body = queued.body
        try:
            message: object = decode_strict_json(body)
        except ValueError as error:
            message = Unparsable(str(error))
        fields = message if isinstance(message, dict) else {}
        actor = fields.get("actor_name")
        actor_name = actor if type(actor) is str and actor else "?"
        size = _size(body, fields)
        limit = self.limit(actor_name, queued.queue_name)
        verdict = check_message(self.catalogue, message, len(body))
        problems = []
        for finding in verdict.findings:
            reason = finding.reason
            too_large = limit.limit is not None and size > limit.limit
            if too_large and finding.path == "$" and reason.startswith("the message is "):
                reason = _too_large(limit)  # validate's text carries the size: one reason per size otherwise
            problems.append((finding.path, reason, ""))  # validate's reasons say what to send
        return Judgement(
            actor_name, _message_id(fields), size, limit, tuple(problems), actor_name in self.catalogue.actors
        )


def _consumed_from(queued: QueuedMessage) -> str:
    """The queue a worker would consume ``queued`` from.

    A dead letter is judged as if put back on the queue it came from: its own
    queue, or its delay queue when it failed there (Dramatiq dead-letters both
    to ``<queue>.XQ``).
    """
    if queued.state == "delayed":
        return dq_name(queued.queue_name)
    if queued.state == "dead-lettered":
        fields = _fields(queued.body)
        if fields.get("queue_name") == dq_name(queued.queue_name):
            return dq_name(queued.queue_name)
    return queued.queue_name


def _fields(body: bytes) -> dict[str, Any]:
    try:
        value = decode_strict_json(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _message_id(fields: dict[str, Any]) -> str | None:
    value = fields.get("message_id")
    return value if type(value) is str else None


def _size(body: bytes, fields: dict[str, Any]) -> int:
    return received_size(len(body), fields.get("options")) if fields else len(body)


# -- the report ------------------------------------------------------------------------------------


class Sizes:
    """A distribution of message sizes in bounded memory, for medians, percentiles and a histogram.

    Sizes under 1,000 bytes are kept exactly; larger ones rounded up to three
    significant digits (1% at most), so a million messages take a few thousand
    counters. ``minimum``, ``maximum`` and ``count`` are exact.
    """

    def __init__(self) -> None:
        self.count = 0
        self.minimum: int | None = None
        self.maximum = 0
        self._buckets: Counter[int] = Counter()

    def add(self, size: int) -> None:
        """Count one message of ``size`` bytes."""
        self.count += 1
        self.maximum = max(self.maximum, size)
        self.minimum = size if self.minimum is None else min(self.minimum, size)
        self._buckets[_bucket(size)] += 1

    def quantile(self, q: float) -> int:
        """The size at or under which a fraction ``q`` of the messages are (nearest rank; 0 when empty)."""
        if not self.count:
            return 0
        rank = max(1, math.ceil(q * self.count))
        seen = 0
        for size in sorted(self._buckets):
            seen += self._buckets[size]
            if seen >= rank:
                return min(size, self.maximum)
        return self.maximum

    def histogram(self, rows: int = 8) -> list[tuple[int, int, int]]:
        """At most ``rows`` ranges ``(from, to, messages)`` that double (or more) in size, covering every message."""
        if not self.count or self.minimum is None:
            return []
        low = 1 << max(0, self.minimum.bit_length() - 1)
        span = max(1, (max(self.maximum, 1)).bit_length() - low.bit_length() + 1)
        step = math.ceil(span / rows)  # each row covers 2**step times the sizes of the previous
        edges = [low << (step * row) for row in range(math.ceil(span / step) + 1)]
        counts = [0] * (len(edges) - 1)
        for size, number in self._buckets.items():
            size = min(size, self.maximum)
            row = next((r for r in range(len(counts)) if size < edges[r + 1]), len(counts) - 1)
            counts[row] += number
        return [(edges[r], edges[r + 1] - 1, counts[r]) for r in range(len(counts))]


def _bucket(size: int) -> int:
    if size < 1000:
        return size
    scale: int = 10 ** (len(str(size)) - 3)
    return -(-size // scale) * scale


@dataclass
class Reason:
    """One way messages of a group would be refused.

    Parameters:
      path: Where in the message.
      problem: What is wrong there.
      hint: What to send instead (empty when the problem says it).
      messages: How many messages have it.
      examples: The smallest few of their ids (or places), so that the report does not depend on the
        order the broker hands the messages over in.
    """

    path: str
    problem: str
    hint: str = ""
    messages: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class Group:
    """What is queued for one actor in one queue.

    Parameters:
      actor: The actor (``"?"`` for bodies that name none).
      queue: The app's queue.
      limit: The size limit that applies.
      declared: The app (or schema folder) knows the actor.
    """

    actor: str
    queue: str
    limit: SizeLimit
    declared: bool = True
    messages: int = 0
    refused: int = 0
    over_limit: int = 0
    by_state: dict[str, list[int]] = field(default_factory=dict)
    sizes: Sizes = field(default_factory=Sizes)
    reasons: dict[tuple[str, str, str], Reason] = field(default_factory=dict)
    other_reasons: int = 0

    def add(self, queued: QueuedMessage, judgement: Judgement) -> None:
        """Count one message and its verdict."""
        self.messages += 1
        counts = self.by_state.setdefault(queued.state, [0, 0])
        counts[0] += 1
        self.sizes.add(judgement.size)
        if self.limit.limit is not None and judgement.size > self.limit.limit:
            self.over_limit += 1
        if not judgement.problems:
            return
        self.refused += 1
        counts[1] += 1
        example = judgement.message_id or f"{queued.queue_name}{_SUFFIX[queued.state]} {queued.key}"
        for problem in dict.fromkeys(judgement.problems):
            reason = self.reasons.get(problem)
            if reason is None:
                if len(self.reasons) >= MAX_REASONS:
                    self.other_reasons += 1
                    continue
                reason = self.reasons[problem] = Reason(*problem)
            reason.messages += 1
            # The smallest ids, not the first seen: Redis scans a hash in an order that changes with
            # each server start, and a report should read the same for the same messages.
            if len(reason.examples) < MAX_EXAMPLES or example < reason.examples[-1]:
                reason.examples = sorted({*reason.examples, example})[:MAX_EXAMPLES]

    def as_json(self) -> dict[str, Any]:
        """The group as the ``--json`` report writes it."""
        sizes = self.sizes
        return {
            "actor": self.actor,
            "queue": self.queue,
            "declared": self.declared,
            "messages": self.messages,
            "refused": self.refused,
            "by_state": {state: {"messages": m, "refused": r} for state, (m, r) in self.by_state.items()},
            "size": {
                "min": sizes.minimum or 0,
                "median": sizes.quantile(0.5),
                "p95": sizes.quantile(0.95),
                "max": sizes.maximum,
                "limit": self.limit.limit,
                "limit_source": self.limit.source,
                "over_limit": self.over_limit,
                "histogram": [{"from": a, "to": b, "messages": n} for a, b, n in sizes.histogram()],
            },
            "reasons": [
                {
                    "path": r.path,
                    "problem": r.problem,
                    "hint": r.hint,
                    "messages": r.messages,
                    "examples": r.examples,
                }
                for r in sorted(self.reasons.values(), key=lambda r: (-r.messages, r.path, r.problem))
            ],
            "other_reasons": self.other_reasons,
        }


class Audit:
    """The verdicts on every message read, summed up per actor and queue.

    Parameters:
      judge: What says whether a message would be refused (:class:`ContractJudge` or :class:`SchemaJudge`).
    """

    def __init__(self, judge: Judge) -> None:
        self.judge = judge
        self.groups: dict[tuple[str, str], Group] = {}

    def add(self, queued: QueuedMessage) -> Judgement:
        """Judge one stored message and count it."""
        judgement = self.judge(queued)
        key = (judgement.actor, queued.queue_name)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group(
                judgement.actor, queued.queue_name, judgement.limit, judgement.declared
            )
        group.add(queued, judgement)
        return judgement

    def read(
        self, messages: Iterable[QueuedMessage], progress: Callable[[QueuedMessage], None] | None = None
    ) -> None:
        """Judge and count every message of ``messages``, calling ``progress`` after each."""
        for queued in messages:
            self.add(queued)
            if progress is not None:
                progress(queued)

    @property
    def messages(self) -> int:
        """How many messages were read."""
        return sum(group.messages for group in self.groups.values())

    @property
    def refused(self) -> int:
        """How many of them would be refused."""
        return sum(group.refused for group in self.groups.values())

    def sorted_groups(self) -> list[Group]:
        """The groups by queue, then actor."""
        return [self.groups[key] for key in sorted(self.groups, key=lambda key: (key[1], key[0]))]
