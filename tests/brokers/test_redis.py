"""Redis: the gateway in front of a real RedisBroker on the send side, and the worker side's dead letters.

One harness (:class:`RedisHarness`) for both sides, on the session's private redis-server,
with a real Dramatiq Worker.

The send side: every test gets its own broker namespace, sends through the gateway,
then looks at what Redis really holds (the ``<namespace>:<queue>.msgs`` hashes, the queue
lists, the delay and dead-letter queues) before and after a worker has processed it.

The worker side (``typed=True``): every test writes bodies into Redis exactly as a
producer in another language would (``MULTI; HSET <ns>:<q>.msgs <rid> <body>; RPUSH
<ns>:<q> <rid>``), then runs a real :class:`dramatiq.Worker` on
:class:`actorschema.brokers.RedisBroker` with the gateway, and looks at what Redis holds
afterwards: the main queue, the consumer's ack set, ``<q>.XQ`` with its stored bodies, and
the reasons hash beside it. The catalogue of malformed messages is shared with the other
brokers' tests (``tests/helpers/malformed.py``).

Last, a restart: messages a stopped worker held come back, and the next worker runs them: none is lost or dead-lettered.

Dramatiq's Redis broker leaves fetched-but-unacked ids in the stopped worker's
``__acks__`` set; another worker's maintenance puts them back in the queue once
the first worker's heartbeat is stale. Their bodies are unchanged, so they
must pass the gateway's checks on the new worker like any other message.
"""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import logging
import math
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import dramatiq
import dramatiq.brokers.redis
import dramatiq.worker
import pytest
from conftest import wait_until
from dramatiq import Message, Worker
from dramatiq.encoder import JSONEncoder
from dramatiq.middleware import CurrentMessage
from helpers.malformed import CASES, REDIS_CASES, Item, Malformed, typed_actor_fn, valid_body
from pydantic import BaseModel
from rfc3339_validator import validate_rfc3339
from servers import RedisServer

from actorschema import NonJSONPayload, PayloadGateway, PayloadInvalid, PayloadRejected, PayloadTooLarge
from actorschema.brokers import RedisBroker
from actorschema.consume.deadletters import dead_letter_reasons, reasons_key

pytestmark = pytest.mark.redis

#: The worker side's namespace: Dramatiq's default, as a producer in another language uses it.
NAMESPACE = "dramatiq"
WAIT_SECONDS = 20
WHEN = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))

#: Every message id and Redis message id is a uuid4 string: always 36 characters.
_UUID = "00000000-0000-0000-0000-000000000000"


def _compact(value: Any) -> bytes:
    """Dramatiq's own wire form (``JSONEncoder``): compact JSON."""
    return json.dumps(value, separators=(",", ":")).encode()


def predicted_size(actor_name: str, kwargs: dict[str, Any], queue_name: str = "default") -> int:
    """The exact stored size of a canonical message sent by ``send()`` to a RedisBroker.

    Ids are uuid4 strings (36 characters) and timestamps have 13 digits, so for
    given arguments the size is fixed. Text is stored as UTF-8, not as ``\\u`` escapes.
    """
    data = {
        "queue_name": queue_name,
        "actor_name": actor_name,
        "args": [],
        "kwargs": kwargs,
        "options": {"redis_message_id": _UUID},
        "message_id": _UUID,
        "message_timestamp": 1_700_000_000_000,
    }
    return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())


def new_rid() -> str:
    return str(uuid.uuid4())


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def compact(body: dict[str, Any]) -> bytes:
    """The body as the gateway stores it: the worker measures the bytes it received."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def compact_size(body: dict[str, Any]) -> int:
    """The size the gateway measures: compact JSON, UTF-8, fields in Dramatiq's order."""
    return len(json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode())


class RedisHarness:
    """A RedisBroker with the gateway, a worker, and a look inside Redis.

    Parameters:
      url: The redis-server's URL.
      client: A client of that server.
      typed: The worker side: the broker (``broker_class``, actorschema's RedisBroker by
        default) in Dramatiq's default namespace, the ``typed`` actor of ``helpers.malformed``
        (or ``actor_fn``) on a queue of its own, and every batch its consumer fetches recorded.
        Otherwise the send side: Dramatiq's RedisBroker in a namespace of its own, with
        ``CurrentMessage``, and every body handed to Redis recorded.
      gateway: The gateway to add; by default a new one with ``gateway_options``.
      broker_class: The worker side's broker class.
      actor_fn: The worker side's actor function, instead of the ``typed`` one.
      actor_options: The worker side's actor options.
      gateway_options: For the ``PayloadGateway``.
    """

    def __init__(
        self,
        url: str,
        client: Any,
        *,
        typed: bool = False,
        gateway: PayloadGateway | None = None,
        broker_class: type[Any] = RedisBroker,
        actor_fn: Callable[..., None] | None = None,
        actor_options: dict[str, Any] | None = None,
        **gateway_options: Any,
    ) -> None:
        self.client = client
        self.gateway = gateway if gateway is not None else PayloadGateway(**gateway_options)
        self.worker: Worker | None = None
        #: Every body handed to Redis by ``do_enqueue``: (queue name, bytes); the send side.
        self.enqueued: list[tuple[str, bytes]] = []
        #: Every batch the consumer fetched: the bodies as Redis returned them; the worker side.
        self.batches: list[list[bytes | None]] = []
        #: The ``typed`` actor's calls: (n, when, item); the worker side.
        self.received: list[tuple[Any, Any, Any]] = []
        if typed:
            self.namespace = NAMESPACE
            self.queue = f"q_{uuid.uuid4().hex[:10]}"
            self.broker: Any = self._spying(broker_class)(url=url)
            self.broker.add_middleware(self.gateway)
            self.broker.emit_after("process_boot")
            self.actor: Any = dramatiq.actor(
                actor_fn or typed_actor_fn(self.received),
                broker=self.broker,
                actor_name="typed",
                queue_name=self.queue,
                **(actor_options or {}),
            )
            return
        self.namespace = f"actorschema-{uuid.uuid4().hex[:12]}"
        self.queue = "default"
        self.broker = dramatiq.brokers.redis.RedisBroker(url=url, namespace=self.namespace)
        self.broker.add_middleware(CurrentMessage())
        self.broker.add_middleware(self.gateway)
        self.broker.emit_after("process_boot")
        dispatch_enqueue = self.broker.do_enqueue

        def spy_enqueue(queue_name: str, redis_message_id: str, body: bytes) -> Any:
            self.enqueued.append((queue_name, body))
            return dispatch_enqueue(queue_name, redis_message_id, body)

        # RedisBroker builds ``do_*`` commands in ``__getattr__``: an instance attribute wins.
        self.broker.do_enqueue = spy_enqueue

    def _spying(self, broker_class: type[Any]) -> type[Any]:
        """``broker_class`` whose consumers record every batch they fetch for this rig's queue."""
        rig = self
        consumer_class = broker_class.consumer_class.fget(None)
        if hasattr(consumer_class, "_fetch"):  # actorschema's consumer: fetches ids with bodies

            class SpyingConsumer(consumer_class):  # type: ignore[misc, valid-type]
                def _fetch(self, count: int) -> Any:
                    fetched = super()._fetch(count)
                    if fetched and self.queue_name == rig.queue:
                        rig.batches.append([body for _, body in fetched])
                    return fetched

        else:  # Dramatiq's own: fetches through do_fetch

            class SpyingConsumer(consumer_class):  # type: ignore[misc, valid-type, no-redef]
                def __init__(self, broker: Any, *args: Any) -> None:
                    super().__init__(broker, *args)
                    fetch = broker._dispatch("fetch")

                    def spy_fetch(queue_name: str, *args: Any) -> Any:
                        bodies = fetch(queue_name, *args)
                        if bodies and queue_name == rig.queue:
                            rig.batches.append(list(bodies))
                        return bodies

                    # RedisBroker builds ``do_*`` commands in ``__getattr__``: an instance attribute wins.
                    broker.do_fetch = spy_fetch

        class SpyingBroker(broker_class):  # type: ignore[misc, valid-type]
            @property
            def consumer_class(self) -> Any:
                return SpyingConsumer

        return SpyingBroker

    # -- keys ----------------------------------------------------------------

    def key(self, name: str) -> str:
        return f"{self.namespace}:{name}"

    @property
    def acks_key(self) -> str:
        return self.key(f"__acks__.{self.broker.broker_id}.{self.queue}")

    def stored(self, queue_name: str = "default") -> dict[str, bytes]:
        """The ``<queue>.msgs`` hash: Redis message id -> stored body."""
        raw = self.client.hgetall(self.key(f"{queue_name}.msgs"))
        return {key.decode(): value for key, value in raw.items()}

    def keys(self) -> set[str]:
        """Every key of this namespace, without the namespace, except the worker heartbeats."""
        prefix = f"{self.namespace}:"
        names = {key.decode()[len(prefix) :] for key in self.client.scan_iter(match=f"{prefix}*", count=1000)}
        return names - {"__heartbeats__"}

    # -- producing -----------------------------------------------------------

    def produce(self, rid: str, body: bytes) -> None:
        """Store ``body`` under ``rid`` and list it, as any producer does."""
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(self.key(f"{self.queue}.msgs"), rid, body)
            pipe.rpush(self.key(self.queue), rid)
            pipe.execute()

    def produce_good(self, n: int) -> str:
        rid = new_rid()
        self.produce(rid, encode(valid_body(self.queue, n=n, redis_message_id=rid)))
        return rid

    def produce_bad(self, case: Malformed) -> tuple[str, bytes, dict[str, Any]]:
        rid = new_rid()
        body = valid_body(self.queue, redis_message_id=rid)
        original = json.loads(json.dumps(body))
        raw = case.build(body)
        self.produce(rid, raw)
        return rid, raw, original

    # -- running -------------------------------------------------------------

    def settle(self, *, ran: int, dead: int, timeout: float = WAIT_SECONDS) -> None:
        """Wait until ``ran`` actor calls happened, ``dead`` messages are in XQ, and the queue is drained."""
        wait_until(
            lambda: len(self.received) >= ran, f"{ran} actor calls (have {len(self.received)})", timeout
        )
        wait_until(lambda: self.xq_ids_count() >= dead, f"{dead} dead letters", timeout)
        wait_until(self.drained, "the queue, its bodies and the ack set to be empty", timeout)
        assert self.worker is not None
        self.worker.join()

    def drained(self) -> bool:
        client = self.client
        return (
            client.llen(self.key(self.queue)) == 0
            and client.hlen(self.key(f"{self.queue}.msgs")) == 0
            and client.scard(self.acks_key) == 0
        )

    def threads_alive(self) -> list[str]:
        """The names of the worker's threads that died (empty: all alive)."""
        assert self.worker is not None
        threads = [*self.worker.workers, *self.worker.consumers.values()]
        assert len(threads) >= 2
        return [thread.name for thread in threads if not thread.is_alive()]

    # -- looking at Redis --------------------------------------------------------

    def xq_ids_count(self) -> int:
        return int(self.client.zcard(self.key(f"{self.queue}.XQ")))

    def xq(self) -> dict[str, bytes]:
        """The dead-letter queue: Redis message id -> stored body (ids from the ZSET)."""
        ids = [rid.decode() for rid in self.client.zrange(self.key(f"{self.queue}.XQ"), 0, -1)]
        bodies = self.client.hmget(self.key(f"{self.queue}.XQ.msgs"), ids) if ids else []
        return dict(zip(ids, bodies, strict=True))

    def reasons(self) -> dict[str, dict[str, Any]]:
        return dead_letter_reasons(self.broker, self.queue)

    def start_worker(self, threads: int = 4, worker_timeout: int = 100) -> Worker:
        # A short worker_timeout makes consumers poll Redis (and the delay queue) more often.
        self.worker = Worker(self.broker, worker_threads=threads, worker_timeout=worker_timeout)
        self.worker.start()
        return self.worker

    def join(self, queue_name: str = "default", timeout_ms: int = 60_000) -> None:
        self.broker.join(queue_name, timeout=timeout_ms)
        assert self.worker is not None
        self.worker.join()

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.broker.close()


@pytest.fixture
def make_harness(redis_server: Any, redis_client: Any) -> Iterator[Callable[..., RedisHarness]]:
    made: list[RedisHarness] = []

    def make(**options: Any) -> RedisHarness:
        harness = RedisHarness(redis_server.url, redis_client, **options)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.close()


# -- the send side --------------------------------------------------------------------------------


def current_message() -> Any:
    message = CurrentMessage.get_current_message()
    assert message is not None
    return message


# -- a) 10,000 mixed sends -------------------------------------------------------


class Colour(enum.StrEnum):
    RED = "red"


class Opaque:
    """Some application object that is not JSON."""


GLOBAL_LIMIT = 8_192
SMALL_LIMIT = 1_024
TOKEN_WIDTH = 6  # "t01234"

#: Values that are not strict JSON, for an untyped parameter: (label, factory).
NON_JSON: list[tuple[str, Callable[[random.Random], Any]]] = [
    (
        "datetime",
        lambda r: datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(r.random()),
    ),
    ("naive datetime", lambda r: datetime.datetime(2024, 1, 1, r.randrange(24))),
    ("date", lambda r: datetime.date(2024, 1, 1 + r.randrange(28))),
    ("set", lambda r: {r.randrange(100), r.randrange(100, 200)}),
    ("frozenset", lambda r: frozenset({"a", "b"})),
    ("tuple", lambda r: (r.randrange(10), "x")),
    ("tuple in list", lambda r: [1, 2, (3, 4)]),
    ("nan", lambda r: math.nan),
    ("inf", lambda r: -math.inf if r.random() < 0.5 else math.inf),
    ("nan nested", lambda r: {"stats": {"mean": float("nan")}}),
    ("int key", lambda r: {r.randrange(1000): "a"}),
    ("bool key", lambda r: {"ok": {True: 1}}),
    ("none key", lambda r: {None: 1}),
    ("tuple key", lambda r: {(1, 2): "pair"}),
    ("str enum", lambda r: Colour.RED),
    ("str enum nested", lambda r: {"colours": [Colour.RED]}),
    ("bytes", lambda r: r.randbytes(8)),
    ("decimal", lambda r: decimal.Decimal("1.10")),
    ("uuid", lambda r: uuid.UUID(int=r.getrandbits(128))),
    ("object", lambda r: Opaque()),
    ("lone surrogate", lambda r: "caf\udce9"),
]


@dataclass
class Case:
    token: str
    kind: str  # "valid", or what is wrong
    expected: type[PayloadRejected] | None
    send: Callable[[], Any]
    actor_name: str = ""
    limit_source: str = ""


def random_json(rng: random.Random, depth: int = 0) -> Any:
    """A small random strict JSON value (ASCII and non-ASCII text, numbers, nesting)."""
    roll = rng.random()
    if depth >= 3 or roll < 0.5:
        return rng.choice(
            [
                rng.randrange(-(10**12), 10**12),
                rng.random() * 1e6,
                rng.choice(["", "plain", "café", "日本語", "emoji \U0001f600", 'quote " and \\ slash']),
                rng.choice([True, False, None]),
            ]
        )
    if roll < 0.75:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {f"k{i}": random_json(rng, depth + 1) for i in range(rng.randrange(4))}


def build_plan(rng: random.Random, count: int, actors: dict[str, Any]) -> list[Case]:
    typed, raw, small = actors["typed"], actors["raw"], actors["small"]
    small_base = predicted_size("small", {"token": "t" * TOKEN_WIDTH, "blob": ""})
    raw_base = predicted_size("raw", {"token": "t" * TOKEN_WIDTH, "payload": ""})
    cases: list[Case] = []
    for index in range(count):
        token = f"t{index:05d}"
        roll = rng.random()
        if roll < 0.55:
            choice = rng.randrange(6)
            tags = [rng.choice(["a", "b", "ü"]) for _ in range(rng.randrange(5))]
            count_value, ratio = rng.randrange(-1000, 1000), rng.random()
            if choice == 0:
                send = partial(typed.send, token, count_value, ratio, tags)
            elif choice == 1:
                send = partial(typed.send, token=token, count=count_value, ratio=ratio, tags=tags)
            elif choice == 2:
                # Lax pydantic conversion: "12" -> 12, 3 -> 3.0, a tuple -> a list.
                send = partial(typed.send, token, str(count_value), 3, tuple(tags))
            elif choice == 3:
                send = partial(raw.send, token, random_json(rng))
            elif choice == 4:
                # Up to exactly the actor's limit: the boundary itself is valid.
                room = SMALL_LIMIT - small_base
                length = room if rng.random() < 0.2 else rng.randrange(room + 1)
                send = partial(small.send, token, "s" * length)
            else:
                room = GLOBAL_LIMIT - raw_base
                length = room if rng.random() < 0.2 else rng.randrange(room // 2, room + 1)
                send = partial(raw.send, token=token, payload="g" * length)
            cases.append(Case(token, "valid", None, send))
        elif roll < 0.80:
            label, factory = rng.choice(NON_JSON)
            send = partial(raw.send, token, factory(rng))
            cases.append(Case(token, f"non-JSON {label}", NonJSONPayload, send, "raw"))
        elif roll < 0.92:
            if rng.random() < 0.5:
                room = SMALL_LIMIT - small_base
                length = room + 1 if rng.random() < 0.2 else rng.randrange(room + 1, 4 * SMALL_LIMIT)
                send = partial(small.send, token, "S" * length)
                cases.append(Case(token, "over actor limit", PayloadTooLarge, send, "small", "actor"))
            else:
                room = GLOBAL_LIMIT - raw_base
                length = room + 1 if rng.random() < 0.2 else rng.randrange(room + 1, 8 * GLOBAL_LIMIT)
                send = partial(raw.send, token, "G" * length)
                cases.append(Case(token, "over global limit", PayloadTooLarge, send, "raw", "global"))
        else:
            choice = rng.randrange(4)
            if choice == 0:
                send = partial(typed.send, token, "not a number", 1.0, [])
            elif choice == 1:
                send = partial(typed.send, token, 1, 1.0)  # tags missing
            elif choice == 2:
                send = partial(typed.send, token, 1, 1.0, [], colour="red")
            else:
                send = partial(typed.send, token, 1, 1.0, ["a", 2])  # 2 is no str
            cases.append(Case(token, "invalid arguments", PayloadInvalid, send, "typed"))
    return cases


# 10-35 s on two cores: the quick loop leaves it out.
@pytest.mark.slow
def test_ten_thousand_mixed_sends_only_valid_ones_reach_redis_and_run_once(
    make_harness: Callable[..., RedisHarness],
) -> None:
    harness = make_harness(max_message_bytes=GLOBAL_LIMIT)
    broker = harness.broker
    processed: list[tuple[str, str]] = []
    received: dict[str, dict[str, Any]] = {}

    @dramatiq.actor(broker=broker, actor_name="typed")
    def typed(token: str, count: int, ratio: float, tags: list[str]) -> None:
        processed.append((token, current_message().message_id))
        received[token] = {"count": count, "ratio": ratio, "tags": tags}

    @dramatiq.actor(broker=broker, actor_name="raw")
    def raw(token, payload):  # type: ignore[no-untyped-def]
        processed.append((token, current_message().message_id))

    @dramatiq.actor(broker=broker, actor_name="small", max_message_bytes=SMALL_LIMIT)
    def small(token: str, blob: str) -> None:
        processed.append((token, current_message().message_id))

    cases = build_plan(random.Random(20240601), 10_000, {"typed": typed, "raw": raw, "small": small})
    kinds = Counter(case.kind if case.expected is None else case.expected.__name__ for case in cases)
    assert min(kinds.values()) >= 500, kinds

    sent: dict[str, str] = {}  # token -> message id
    sizes: dict[str, int] = {}
    wrong: list[str] = []
    started = time.monotonic()
    for case in cases:
        try:
            message = case.send()
        except PayloadRejected as rejection:
            if case.expected is None or type(rejection) is not case.expected:
                wrong.append(f"{case.token} ({case.kind}): raised {rejection!r}")
            elif rejection.actor_name != case.actor_name:
                wrong.append(f"{case.token}: rejection names actor {rejection.actor_name!r}")
            elif isinstance(rejection, PayloadTooLarge) and rejection.limit_source != case.limit_source:
                wrong.append(f"{case.token}: limit source {rejection.limit_source!r}")
            continue
        if case.expected is not None:
            wrong.append(f"{case.token} ({case.kind}): was accepted, expected {case.expected.__name__}")
            continue
        sent[case.token] = message.message_id
        sizes[case.token] = len(harness.enqueued[-1][1])
    send_seconds = time.monotonic() - started
    assert not wrong, "\n".join(wrong[:20])
    valid = [case.token for case in cases if case.expected is None]
    assert sorted(sent) == valid

    # Before any worker runs: Redis holds exactly the valid messages, as checked.
    stored = harness.stored()
    assert harness.client.hlen(harness.key("default.msgs")) == len(valid)
    assert harness.client.llen(harness.key("default")) == len(valid)
    assert len(harness.enqueued) == len(valid)
    stored_tokens: dict[str, str] = {}
    at_limit: Counter[str] = Counter()  # messages of exactly the limit's size, accepted
    for redis_id, body in stored.items():
        data = json.loads(body)  # plain JSON, as any consumer reads it
        assert data["options"]["redis_message_id"] == redis_id
        assert data["args"] == []
        token = data["kwargs"]["token"]
        stored_tokens[token] = data["message_id"]
        limit = SMALL_LIMIT if data["actor_name"] == "small" else GLOBAL_LIMIT
        assert len(body) <= limit
        assert len(body) == sizes[token]
        if data["actor_name"] == "small" or isinstance(data["kwargs"].get("payload"), str):
            assert len(body) == predicted_size(data["actor_name"], data["kwargs"])
            at_limit[data["actor_name"]] += len(body) == limit
        if data["actor_name"] == "typed":
            kwargs = data["kwargs"]
            assert list(kwargs) == ["token", "count", "ratio", "tags"]
            assert type(kwargs["count"]) is int and type(kwargs["ratio"]) is float
            assert type(kwargs["tags"]) is list
    assert stored_tokens == sent
    assert at_limit["small"] > 10 and at_limit["raw"] > 10, at_limit
    assert harness.keys() == {"default", "default.msgs"}

    harness.start_worker()
    harness.join()

    assert len(processed) == len(valid), "a message ran more than once or not at all"
    assert dict(processed) == sent
    assert all(type(value["count"]) is int for value in received.values())
    # Nothing left behind: no message, no unacked id, no dead letter, no delayed message.
    assert harness.keys() == set()
    assert send_seconds < 45, f"10,000 sends took {send_seconds:.1f} s"


# -- b) typed arguments round trip ---------------------------------------------------


class Address(BaseModel):
    street: str
    city: str
    postcode: str


class Customer(BaseModel):
    id: int
    name: str
    email: str
    address: Address
    tags: list[str]
    joined: datetime.datetime
    balance: float


def test_typed_arguments_round_trip_through_redis_in_canonical_json(
    make_harness: Callable[..., RedisHarness],
) -> None:
    harness = make_harness(max_message_bytes=4_096)
    seen: list[dict[str, Any]] = []

    @dramatiq.actor(broker=harness.broker, actor_name="onboard")
    def onboard(customer: Customer, at: datetime.datetime, note: str = "") -> None:
        message = current_message()
        seen.append({"customer": customer, "at": at, "note": note, "message": message.asdict()})

    tz = datetime.timezone(datetime.timedelta(hours=2))
    customer = Customer(
        id=42,
        name="Zoë Λ",
        email="zoe@example.com",
        address=Address(street="1 Rue de l'Été", city="Paris", postcode="75001"),
        tags=["vip", "beta"],
        joined=datetime.datetime(2023, 5, 6, 7, 8, 9, 123456, tzinfo=tz),
        balance=12.5,
    )
    at = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)

    message = onboard.send(customer, at)  # positionally, as users write it

    stored = harness.stored()
    assert list(stored) == [message.options["redis_message_id"]]
    body = stored[message.options["redis_message_id"]]
    assert harness.enqueued == [("default", body)]
    decoded = json.loads(body)
    assert JSONEncoder().decode(body) == decoded  # Dramatiq's default decoder reads it

    # Canonical: no positional args, arguments by name, the model as a JSON object, times as RFC 3339.
    assert decoded["args"] == []
    assert list(decoded["kwargs"]) == ["customer", "at"]
    assert decoded["kwargs"]["customer"] == customer.model_dump(mode="json")
    assert decoded["kwargs"]["customer"]["address"] == {
        "street": "1 Rue de l'Été",
        "city": "Paris",
        "postcode": "75001",
    }
    joined, sent_at = decoded["kwargs"]["customer"]["joined"], decoded["kwargs"]["at"]
    assert validate_rfc3339(joined) and validate_rfc3339(sent_at)
    assert datetime.datetime.fromisoformat(joined) == customer.joined
    assert datetime.datetime.fromisoformat(sent_at) == at
    assert sent_at in ("2024-01-02T03:04:05Z", "2024-01-02T03:04:05+00:00")
    # UTF-8 text, stored as such.
    assert "Zoë Λ".encode() in body

    # What send() returned is what Redis holds.
    assert json.loads(_compact(message.asdict())) == decoded
    assert message.args == () and message.kwargs == decoded["kwargs"]

    harness.start_worker()
    harness.join()

    assert len(seen) == 1
    run = seen[0]
    assert json.loads(_compact(run["message"])) == decoded
    # Today the actor receives the JSON form (a dict and a str), not a Customer and a datetime:
    # nothing converts arguments back on the worker side yet. Both parse back to the values sent.
    received_customer = run["customer"]
    if not isinstance(received_customer, Customer):
        received_customer = Customer.model_validate(received_customer)
    assert received_customer == customer
    received_at = run["at"]
    if not isinstance(received_at, datetime.datetime):
        received_at = datetime.datetime.fromisoformat(received_at)
    assert received_at == at
    assert run["note"] == ""
    assert harness.keys() == set()


# -- c) a retried near-limit message with a huge exception text ----------------------------


#: What Dramatiq's Retries middleware adds to a retried message besides the traceback
#: ("retries", "requeue_timestamp", "eta"), plus the trim mark: about 130 bytes.
@pytest.mark.parametrize(
    ("headroom", "fits"),
    [
        pytest.param(400, True, id="trimmed-traceback-fits"),
        pytest.param(30, False, id="over-even-without-traceback"),
    ],
)
def test_retry_of_near_limit_message_with_huge_exception_text_runs_again_and_succeeds(
    make_harness: Callable[..., RedisHarness], caplog: pytest.LogCaptureFixture, headroom: int, fits: bool
) -> None:
    harness = make_harness(max_message_bytes=GLOBAL_LIMIT)
    limit = 2_048
    attempts: list[dict[str, Any]] = []
    succeeded: list[str] = []
    lock = threading.Lock()

    @dramatiq.actor(
        broker=harness.broker,
        actor_name="flaky",
        max_retries=3,
        min_backoff=10,
        max_backoff=20,
        max_message_bytes=limit,
    )
    def flaky(token: str, blob: str) -> None:
        message = current_message()
        with lock:
            attempts.append({"token": token, "options": dict(message.options)})
            first = len(attempts) == 1
        if first:
            raise ValueError("m" * 1_000_000)
        succeeded.append(token)

    blob = "b" * (limit - predicted_size("flaky", {"token": "r1", "blob": ""}) - headroom)
    message = flaky.send("r1", blob)
    (body,) = harness.stored().values()
    assert len(body) == limit - headroom

    with caplog.at_level("WARNING", logger="actorschema"):
        harness.start_worker()
        harness.join()

    # Ran twice, the second time successfully, with the retry's options.
    assert [attempt["token"] for attempt in attempts] == ["r1", "r1"]
    assert succeeded == ["r1"]
    retried = attempts[1]["options"]
    assert retried["retries"] == 1
    traceback = retried["traceback"]
    assert traceback.startswith("[actorschema: traceback trimmed")

    # Redis received the first send, the retry (on the delay queue) and its move back.
    assert [queue for queue, _ in harness.enqueued] == ["default", "default.DQ", "default"]
    bodies = [json.loads(data) for _, data in harness.enqueued]
    assert {data["message_id"] for data in bodies} == {message.message_id}
    assert bodies[1]["options"]["traceback"] == traceback
    sizes = [len(data) for _, data in harness.enqueued]
    not_rejected = [r for r in caplog.records if r.name == "actorschema" and "not rejected" in r.getMessage()]
    if fits:
        # Trimmed just enough: the end of the traceback (the exception text) is kept, and it fits.
        assert traceback.rstrip().endswith("m" * 20)
        assert all(size <= limit for size in sizes), sizes
        # Trimmed to about the limit: at least the excess, give or take the escaped characters cut.
        assert limit - 64 <= sizes[1] <= limit, sizes
        assert not not_rejected
    else:
        # Too large even without its traceback: logged, never rejected (the original was acked).
        assert traceback == "[actorschema: traceback trimmed to fit the message size limit]\n..."
        assert sizes[1] > limit and sizes[2] > limit
        assert len(not_rejected) == 2
    assert max(sizes) < limit + 200  # the megabyte of exception text never reached Redis

    # Nothing lost, nothing dead-lettered, nothing left.
    assert harness.keys() == set()


# -- d) delayed sends -------------------------------------------------------------------


def test_delayed_valid_send_is_processed_and_invalid_one_stores_nothing(
    make_harness: Callable[..., RedisHarness],
) -> None:
    harness = make_harness(max_message_bytes=GLOBAL_LIMIT)
    done: list[tuple[str, str, int]] = []

    @dramatiq.actor(broker=harness.broker, actor_name="later", max_message_bytes=512)
    def later(token: str, payload: Any = None) -> None:
        done.append((token, current_message().message_id, int(time.time() * 1000)))

    with pytest.raises(NonJSONPayload):
        later.send_with_options(args=("bad", {1, 2}), delay=50)
    with pytest.raises(NonJSONPayload):
        later.send_with_options(kwargs={"token": "bad", "payload": datetime.date(2024, 1, 1)}, delay=50)
    with pytest.raises(PayloadInvalid):
        later.send_with_options(args=(7,), delay=50)
    with pytest.raises(PayloadTooLarge):
        later.send_with_options(args=("big", "x" * 600), delay=50)
    assert harness.keys() == set()
    assert harness.enqueued == []

    sent_at = int(time.time() * 1000)  # as Dramatiq computes it
    message = later.send_with_options(args=("ok",), delay=50)
    assert message.queue_name == "default.DQ"
    assert harness.client.hlen(harness.key("default.msgs")) == 0
    assert harness.client.hlen(harness.key("default.DQ.msgs")) == 1
    (body,) = harness.stored("default.DQ").values()
    data = json.loads(body)
    assert data["kwargs"] == {"token": "ok"} and data["args"] == []
    assert data["options"]["eta"] >= sent_at + 50

    with pytest.raises(PayloadTooLarge):
        later.send_with_options(args=("big", "x" * 600), delay=50)
    assert harness.client.hlen(harness.key("default.DQ.msgs")) == 1
    assert harness.keys() == {"default.DQ", "default.DQ.msgs"}

    harness.start_worker()
    harness.join()

    assert [(token, message_id) for token, message_id, _ in done] == [("ok", message.message_id)]
    assert done[0][2] >= data["options"]["eta"]  # not before its time
    # The worker moved it from the delay queue to its queue once, then ran and acked it.
    assert [queue for queue, _ in harness.enqueued] == ["default.DQ", "default"]
    assert harness.keys() == set()


# -- the worker side --------------------------------------------------------------------------------


def assert_typed(call: tuple[Any, Any, Any]) -> None:
    n, when, item = call
    assert type(n) is int, call
    assert isinstance(when, datetime.datetime) and when == WHEN, call
    assert isinstance(item, Item) and item == Item(sku="a-1", quantity=2), call


def ran_with(rig: RedisHarness) -> list[Any]:
    return sorted(call[0] for call in rig.received)


def actorschema_records(caplog: pytest.LogCaptureFixture, queue: str, level: int) -> list[dict[str, Any]]:
    found = []
    for record in caplog.records:
        fields = getattr(record, "actorschema", None)
        if record.name == "actorschema" and record.levelno == level and fields and fields["queue"] == queue:
            found.append(fields)
    return found


def violation_paths(fields: dict[str, Any]) -> list[str]:
    return [violation["path"] for violation in fields["violations"]]


def assert_dead_lettered(
    rig: RedisHarness,
    caplog: pytest.LogCaptureFixture,
    rid: str,
    raw: bytes,
    path: str,
    message_id: str | None,
    *,
    label: str,
) -> dict[str, Any]:
    """The body is in XQ unchanged, with its reason record, and one ERROR log record says why."""
    xq = rig.xq()
    assert rid in xq, f"{label}: {rid} not in {rig.queue}.XQ (XQ holds {sorted(xq)})"
    assert xq[rid] == raw, f"{label}: the dead-lettered body changed"
    reasons = rig.reasons()
    assert rid in reasons, f"{label}: no reason recorded for {rid} (have {sorted(reasons)})"
    record = reasons[rid]
    assert path in [v["path"] for v in record["violations"]], f"{label}: reason {record} does not name {path}"
    assert record["queue"] == rig.queue, record
    assert record["message_id"] == message_id, record
    assert record["reason"] and record["error"], record
    # Where whoever inspects the dead-letter queue finds it: a hash beside <q>.XQ, under the same id.
    assert reasons_key(NAMESPACE, rig.queue) == f"{NAMESPACE}:{rig.queue}.XQ.reasons"
    assert json.loads(rig.client.hget(f"{NAMESPACE}:{rig.queue}.XQ.reasons", rid)) == record
    logged = [
        f for f in actorschema_records(caplog, rig.queue, logging.ERROR) if f["message_id"] == message_id
    ]
    logged = [f for f in logged if path in violation_paths(f)]
    assert len(logged) == 1, f"{label}: expected one ERROR log record naming {path}, got {logged}"
    assert {"actor", "message_id", "queue", "violations"} <= logged[0].keys()
    return record


# -- the catalogue ------------------------------------------------------------


@pytest.mark.parametrize("case", CASES + REDIS_CASES, ids=[case.label for case in CASES + REDIS_CASES])
def test_malformed_message_is_dead_lettered_and_the_good_ones_run(
    case: Malformed, make_harness: Callable[..., RedisHarness], caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_harness(typed=True)
    rid, raw, _ = rig.produce_bad(case)
    rig.produce_good(2)
    rig.actor.send(n=3, when=WHEN, item=Item(sku="a-1", quantity=2))
    worker = rig.start_worker(threads=3, worker_timeout=50)

    rig.settle(ran=2, dead=1)

    assert ran_with(rig) == [2, 3], f"{case.label}: the good ones ran once each, the bad one not at all"
    for call in rig.received:
        assert_typed(call)
    # A body that cannot be read as an object has no message id to name; else the one it carries.
    message_id = None if case.path == "$" else json.loads(raw)["message_id"]
    record = assert_dead_lettered(rig, caplog, rid, raw, case.path, message_id, label=case.label)
    if not case.at_consumer:
        assert record["actor"] == "typed"
    assert rig.xq_ids_count() == 1
    assert rig.drained()
    assert rig.threads_alive() == [], f"{case.label}: threads died"
    assert worker.consumers[rig.queue].consumer is not None


# -- Redis-specific mistakes ------------------------------------------------------


def test_redis_message_id_of_another_live_message_does_not_lose_that_message(
    make_harness: Callable[..., RedisHarness], caplog: pytest.LogCaptureFixture
) -> None:
    """A copy of a body stored under a new id (a hand re-drive) names its original's id.

    Fetched in the same batch, before the original: the copy must not run in the original's
    place (acking, and so deleting, the original), and the original must run.
    """
    rig = make_harness(typed=True)
    original_rid = new_rid()
    original = valid_body(rig.queue, n=1, redis_message_id=original_rid)
    copy = valid_body(rig.queue, n=2, redis_message_id=original_rid)
    copy_rid = new_rid()
    rig.produce(copy_rid, encode(copy))  # listed first: fetched first in the batch
    rig.produce(original_rid, encode(original))
    rig.start_worker(threads=2, worker_timeout=50)
    wait_until(lambda: len(rig.received) >= 1, "one actor call", WAIT_SECONDS)
    time.sleep(0.5)  # room for a second call, or a dead-lettering

    state = {
        "ran": ran_with(rig),
        "xq": sorted(rig.xq()),
        "acks": sorted(rid.decode() for rid in rig.client.smembers(rig.acks_key)),
        "stored": sorted(rid.decode() for rid in rig.client.hkeys(rig.key(f"{rig.queue}.msgs"))),
    }
    expected = {"ran": [1], "xq": [copy_rid], "acks": [], "stored": []}
    assert state == expected, (
        f"the copy (n=2, stored under {copy_rid}) ran in place of the original (n=1, {original_rid})"
        if state["ran"] == [2]
        else "the original runs once, the copy is dead-lettered under its own id"
    )
    assert rig.threads_alive() == []


def test_exact_copy_under_a_second_id_while_the_first_runs_is_not_stranded(
    make_harness: Callable[..., RedisHarness], caplog: pytest.LogCaptureFixture
) -> None:
    """The very same bytes stored under a second id, fetched while the first is still running.

    The copy names an id this consumer holds (the first's, not yet acked), but is not stored
    under it: it must not run and then stay in the ack set (acking the first's id instead of
    its own), to run again after every restart.
    """
    running, release = threading.Event(), threading.Event()
    received: list[Any] = []

    def typed(n: int, when: datetime.datetime, item: Item) -> None:
        received.append((n, when, item))
        running.set()
        release.wait(WAIT_SECONDS)

    rig = make_harness(typed=True, actor_fn=typed)
    rid = new_rid()
    raw = encode(valid_body(rig.queue, n=1, redis_message_id=rid))
    rig.produce(rid, raw)
    rig.start_worker(threads=2, worker_timeout=50)
    try:
        assert running.wait(WAIT_SECONDS)
        copy_rid = new_rid()
        rig.produce(copy_rid, raw)
        wait_until(lambda: len(rig.batches) >= 2, "the copy to be fetched while the first runs", WAIT_SECONDS)
        time.sleep(0.2)
    finally:
        release.set()
    time.sleep(0.5)

    state = {
        "ran": len(received),
        "xq": sorted(rig.xq()),
        "acks": sorted(r.decode() for r in rig.client.smembers(rig.acks_key)),
        "stored": sorted(r.decode() for r in rig.client.hkeys(rig.key(f"{rig.queue}.msgs"))),
    }
    assert state == {"ran": 1, "xq": [copy_rid], "acks": [], "stored": []}, (
        f"the copy under {copy_rid} ran and was acked under the first's id {rid}, "
        "so it stays in the ack set and runs again after a restart"
    )
    assert rig.threads_alive() == []


def test_id_listed_without_a_body_is_dropped_without_stranding_its_batch(
    make_harness: Callable[..., RedisHarness], caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_harness(typed=True)
    rig.produce_good(1)
    orphan = new_rid()
    rig.client.rpush(rig.key(rig.queue), orphan)  # RPUSH without HSET
    rig.produce_good(2)
    rig.produce_good(3)
    rig.start_worker(threads=2, worker_timeout=50)  # prefetch 4: one batch
    rig.settle(ran=3, dead=0)

    assert ran_with(rig) == [1, 2, 3]
    assert [len(batch) for batch in rig.batches] == [4], "the orphan was fetched with the good ones"
    assert None in rig.batches[0]
    assert rig.xq() == {}, "nothing to dead-letter: there is no body"
    assert not rig.client.sismember(rig.acks_key, orphan)
    assert rig.drained()
    dropped = [r for r in caplog.records if r.name == "actorschema" and orphan in r.getMessage()]
    assert len(dropped) == 1 and dropped[0].levelno == logging.WARNING
    assert rig.threads_alive() == []


def test_bad_message_in_the_same_batch_as_good_ones(
    make_harness: Callable[..., RedisHarness], caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_harness(typed=True)
    by_label = {case.label: case for case in CASES + REDIS_CASES}
    labels = ("invalid JSON", "int as a string", "redis_message_id missing")
    rig.produce_good(1)
    rig.produce_good(2)
    bad = [rig.produce_bad(by_label[label]) for label in labels]
    rig.produce_good(3)
    rig.produce_good(4)
    rig.produce_good(5)
    rig.start_worker(threads=4, worker_timeout=50)  # prefetch 8: everything in one fetch
    rig.settle(ran=5, dead=3)

    assert [len(batch) for batch in rig.batches] == [8], "one fetch held the bad ones and the good ones"
    assert ran_with(rig) == [1, 2, 3, 4, 5]
    for call in rig.received:
        assert_typed(call)
    assert set(rig.xq()) == {rid for rid, _, _ in bad}
    assert rig.drained()
    assert rig.threads_alive() == []


def test_invalid_message_is_not_retried(
    make_harness: Callable[..., RedisHarness], caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_harness(typed=True, actor_options={"max_retries": 5, "min_backoff": 10, "max_backoff": 20})
    by_label = {case.label: case for case in CASES}
    rid, raw, original = rig.produce_bad(by_label["int as a string"])
    rig.produce_good(2)
    rig.start_worker(threads=2, worker_timeout=50)
    rig.settle(ran=1, dead=1)
    time.sleep(0.3)  # a retry would be back by now (backoff <= 20 ms)

    assert ran_with(rig) == [2], "the invalid message was never called"
    assert list(rig.xq()) == [rid], "in XQ once"
    assert rig.client.zcard(rig.key(f"{rig.queue}.DQ")) == 0
    assert rig.client.llen(rig.key(f"{rig.queue}.DQ")) == 0
    assert rig.client.hlen(rig.key(f"{rig.queue}.DQ.msgs")) == 0
    record = assert_dead_lettered(rig, caplog, rid, raw, "kwargs.n", original["message_id"], label="retries")
    assert record["actor"] == "typed"
    assert rig.threads_alive() == []


def test_message_dramatiq_runs_with_a_warning_is_not_dead_lettered(
    make_harness: Callable[..., RedisHarness], caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_harness(typed=True)
    rid = new_rid()
    body = valid_body(rig.queue, n=7, redis_message_id=rid)
    body["options"]["eta"] = "tomorrow"  # Dramatiq: "Invalid eta value ... Setting eta to current_millis()"
    rig.produce(rid, encode(body))
    rig.start_worker(threads=2, worker_timeout=50)
    rig.settle(ran=1, dead=0)

    assert ran_with(rig) == [7]
    assert_typed(rig.received[0])
    assert rig.xq() == {}
    assert rig.reasons() == {}
    assert actorschema_records(caplog, rig.queue, logging.ERROR) == []
    assert any("Invalid eta value" in r.getMessage() for r in caplog.records)
    assert rig.threads_alive() == []


def test_legacy_positional_message_runs_typed(make_harness: Callable[..., RedisHarness]) -> None:
    rig = make_harness(typed=True)
    rid = new_rid()
    body = valid_body(rig.queue, n=4, redis_message_id=rid)
    kwargs = body["kwargs"]
    body["args"], body["kwargs"] = [kwargs["n"], kwargs["when"], kwargs["item"]], {}
    rig.produce(rid, encode(body))
    rid2 = new_rid()
    body2 = valid_body(rig.queue, n=5, redis_message_id=rid2)
    kwargs2 = body2["kwargs"]
    body2["args"], body2["kwargs"] = [kwargs2["n"]], {"when": kwargs2["when"], "item": kwargs2["item"]}
    rig.produce(rid2, encode(body2))
    rig.start_worker(threads=2, worker_timeout=50)
    rig.settle(ran=2, dead=0)

    assert ran_with(rig) == [4, 5]
    for call in rig.received:
        assert_typed(call)
    assert rig.xq() == {}
    assert rig.threads_alive() == []


# -- size on arrival -----------------------------------------------------------

LIMIT = 600
BOOKKEEPING = {
    "retries": 3,
    "traceback": "Traceback (most recent call last):\n" + "  File 'x.py', line 1, in f\n" * 80,
    "requeue_timestamp": 1_700_000_000_123,
}


def sized_body(queue: str, rid: str, target: int, **options: Any) -> dict[str, Any]:
    """A valid body whose size without bookkeeping options is exactly ``target`` bytes."""
    body = valid_body(queue, n=1, redis_message_id=rid)
    body["options"].update(options)
    counted = {
        **body,
        "options": {
            k: v for k, v in body["options"].items() if k not in (*BOOKKEEPING, "eta", "redis_message_id")
        },
    }
    body["kwargs"]["item"]["sku"] += "x" * (target - compact_size(counted))
    counted["kwargs"] = body["kwargs"]
    assert compact_size(counted) == target
    return body


def test_bookkeeping_options_do_not_count_toward_the_size_on_arrival(
    make_harness: Callable[..., RedisHarness], caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_harness(typed=True, actor_options={"max_message_bytes": LIMIT})
    at_limit = sized_body(rig.queue, rid := new_rid(), LIMIT, **BOOKKEEPING)
    raw = compact(at_limit)
    assert len(raw) > 4 * LIMIT, "the stored body is far over the limit, only through bookkeeping"
    rig.produce(rid, raw)
    over = sized_body(rig.queue, over_rid := new_rid(), LIMIT + 1, **BOOKKEEPING)
    over_raw = compact(over)
    rig.produce(over_rid, over_raw)
    # A user option is no bookkeeping: it counts.
    custom = sized_body(rig.queue, custom_rid := new_rid(), LIMIT - 10)
    custom["options"]["note"] = "x" * 20
    custom_raw = compact(custom)
    rig.produce(custom_rid, custom_raw)
    rig.start_worker(threads=2, worker_timeout=50)
    rig.settle(ran=1, dead=2)

    assert [call[2].sku for call in rig.received] == [at_limit["kwargs"]["item"]["sku"]]
    for rid_, raw_, body in ((over_rid, over_raw, over), (custom_rid, custom_raw, custom)):
        xq = rig.xq()
        assert xq.get(rid_) == raw_
        record = rig.reasons()[rid_]
        assert record["reason"] == "the message is too large", record
        assert record["actor"] == "typed" and record["message_id"] == body["message_id"]
        logged = [
            f
            for f in actorschema_records(caplog, rig.queue, logging.ERROR)
            if f["message_id"] == body["message_id"]
        ]
        assert len(logged) == 1 and logged[0]["limit"] == LIMIT and logged[0]["limit_source"] == "actor"
    over_log = next(
        f
        for f in actorschema_records(caplog, rig.queue, logging.ERROR)
        if f["message_id"] == over["message_id"]
    )
    assert over_log["size"] == LIMIT + 1, "the exact size, without bookkeeping"
    assert over_log["violations"][0]["path"].startswith("kwargs.item"), over_log
    custom_log = next(
        f
        for f in actorschema_records(caplog, rig.queue, logging.ERROR)
        if f["message_id"] == custom["message_id"]
    )
    assert custom_log["size"] == LIMIT - 10 + len('"note":""') + 20
    assert rig.threads_alive() == []


def test_eta_does_not_count_toward_the_size_on_arrival(make_harness: Callable[..., RedisHarness]) -> None:
    # Dramatiq's worker never hands a message with an eta to an actor (it goes through the delay
    # queue and is re-enqueued without it): the check itself is what can be shown here.
    rig = make_harness(typed=True, actor_options={"max_message_bytes": LIMIT})
    body = sized_body(rig.queue, new_rid(), LIMIT, eta=1_700_000_000_000, **BOOKKEEPING)
    rig.gateway.consume_guard.check(rig.broker, Message(**body))
    body = sized_body(rig.queue, new_rid(), LIMIT + 1, eta=1_700_000_000_000)
    with pytest.raises(Exception, match="too large"):
        rig.gateway.consume_guard.check(rig.broker, Message(**body))


# -- warn mode -------------------------------------------------------------------


def test_warn_mode_runs_the_invalid_message_as_it_arrived(
    make_harness: Callable[..., RedisHarness], caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_harness(typed=True, gateway=PayloadGateway(mode="warn"))
    by_label = {case.label: case for case in CASES}
    _, _, original = rig.produce_bad(by_label["int as a string"])
    rig.produce_good(2)
    rig.start_worker(threads=2, worker_timeout=50)
    rig.settle(ran=2, dead=0)

    raw_call = next(call for call in rig.received if call[0] == "5")
    assert raw_call == ("5", original["kwargs"]["when"], original["kwargs"]["item"]), "raw JSON values"
    good = next(call for call in rig.received if call[0] == 2)
    assert_typed(good)
    assert rig.xq() == {}
    warned = actorschema_records(caplog, rig.queue, logging.WARNING)
    assert [f["message_id"] for f in warned] == [original["message_id"]]
    assert "kwargs.n" in violation_paths(warned[0])
    assert actorschema_records(caplog, rig.queue, logging.ERROR) == []
    assert rig.threads_alive() == []


# -- why the subclass: Dramatiq's own RedisBroker ---------------------------------------


def test_dramatiq_redis_broker_strands_the_good_message_fetched_with_an_undecodable_one(
    make_harness: Callable[..., RedisHarness], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dramatiq.worker, "CONSUMER_RESTART_DELAY_SECS", 0.1)
    rig = make_harness(typed=True, broker_class=dramatiq.brokers.redis.RedisBroker)
    bad_rid = new_rid()
    rig.produce(bad_rid, b'{"queue_name": ')
    good_rid = rig.produce_good(1)
    rig.start_worker(threads=1, worker_timeout=50)  # prefetch 2: both in one fetch

    wait_until(lambda: len(rig.batches) >= 1, "the first fetch", WAIT_SECONDS)
    time.sleep(2)

    assert rig.received == [], "the good message was lost with the consumer that crashed"
    assert rig.client.sismember(rig.acks_key, good_rid), "stranded in the ack set until a restart"
    assert rig.client.llen(rig.key(rig.queue)) == 0
    assert rig.xq() == {}


# -- a restart --------------------------------------------------------------------------------


def make_broker(url: str) -> RedisBroker:
    # Maintenance on every call and a short heartbeat: the first worker counts as dead quickly.
    broker = RedisBroker(url=url, maintenance_chance=1000, heartbeat_timeout=500)
    broker.add_middleware(PayloadGateway())
    return broker


def declare(broker: RedisBroker, seen: list[Any], gate: threading.Event | None) -> Any:
    def slow(n: int, when: datetime.datetime, item: Item) -> None:
        if gate is not None:
            gate.wait(5)
        seen.append((n, type(when), type(item)))

    return dramatiq.actor(slow, broker=broker, queue_name="restart", max_retries=0)


def test_messages_held_by_a_stopped_worker_run_on_the_next_one(
    redis_server: RedisServer, redis_client: Any
) -> None:
    first_seen: list[Any] = []
    gate = threading.Event()
    first = make_broker(redis_server.url)
    actor = declare(first, first_seen, gate)
    for n in range(40):
        actor.send(n, datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC), Item(sku="s", quantity=1))
    worker = Worker(first, worker_threads=2, worker_timeout=50)
    worker.start()
    deadline = time.monotonic() + 10
    while not redis_client.keys("dramatiq:__acks__.*") and time.monotonic() < deadline:
        time.sleep(0.02)
    held = sum(redis_client.scard(key) for key in redis_client.keys("dramatiq:__acks__.*"))
    assert held > 0, "the first worker fetched messages"
    gate.set()
    worker.stop(timeout=100)  # stops with messages still fetched and unacked
    first.close()

    second_seen: list[Any] = []
    second = make_broker(redis_server.url)
    declare(second, second_seen, None)
    time.sleep(0.6)  # the first worker's heartbeat is now stale
    worker = Worker(second, worker_threads=2, worker_timeout=50)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while len({n for n, _, _ in first_seen + second_seen}) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
        second.close()
    assert {n for n, _, _ in first_seen + second_seen} == set(range(40)), "every message ran"
    assert second_seen, "the second worker ran messages the first had fetched"
    assert all((when, item) == (datetime.datetime, Item) for _, when, item in second_seen)
    assert redis_client.zcard("dramatiq:restart.XQ") == 0, "nothing requeued was dead-lettered"
    assert redis_client.llen("dramatiq:restart") == 0
