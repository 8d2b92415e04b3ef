"""The worker side on a real Redis: malformed messages are dead-lettered, good ones run, threads live.

Every test writes bodies into Redis exactly as a producer in another language
would (``MULTI; HSET <ns>:<q>.msgs <rid> <body>; RPUSH <ns>:<q> <rid>``), then
runs a real :class:`dramatiq.Worker` on :class:`actorschema.brokers.RedisBroker`
with the gateway, and looks at what Redis holds afterwards: the main queue,
the consumer's ack set, ``<q>.XQ`` with its stored bodies, and the reasons
hash beside it. The catalogue of malformed messages is shared with the other
brokers' tests (``tests/malformed.py``).
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import dramatiq
import dramatiq.brokers.redis
import dramatiq.worker
import pytest
from conftest import wait_until
from dramatiq import Message, Worker
from malformed import CASES, REDIS_CASES, Item, Malformed, typed_actor_fn, valid_body

from actorschema import PayloadGateway
from actorschema.brokers import RedisBroker
from actorschema.deadletters import dead_letter_reasons, reasons_key

pytestmark = pytest.mark.redis

NAMESPACE = "dramatiq"
WAIT_SECONDS = 20
WHEN = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))


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


class RedisRig:
    """A guarded RedisBroker with the gateway, the ``typed`` actor on a queue of its own, and a worker."""

    def __init__(
        self,
        url: str,
        client: Any,
        *,
        gateway: PayloadGateway | None = None,
        broker_class: type[Any] = RedisBroker,
        actor_fn: Callable[..., None] | None = None,
        **actor_options: Any,
    ) -> None:
        self.client = client
        self.queue = f"q_{uuid.uuid4().hex[:10]}"
        #: Every batch the consumer fetched: the bodies as Redis returned them.
        self.batches: list[list[bytes | None]] = []
        self.broker = self._spying(broker_class)(url=url)
        self.gateway = gateway if gateway is not None else PayloadGateway()
        self.broker.add_middleware(self.gateway)
        self.broker.emit_after("process_boot")
        self.received: list[tuple[Any, Any, Any]] = []
        self.actor: Any = dramatiq.actor(
            actor_fn or typed_actor_fn(self.received),
            broker=self.broker,
            actor_name="typed",
            queue_name=self.queue,
            **actor_options,
        )
        self.worker: Worker | None = None

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
        return f"{NAMESPACE}:{name}"

    @property
    def acks_key(self) -> str:
        return self.key(f"__acks__.{self.broker.broker_id}.{self.queue}")

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

    def start(self, threads: int = 2) -> Worker:
        self.worker = Worker(self.broker, worker_threads=threads, worker_timeout=50)
        self.worker.start()
        return self.worker

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

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.broker.close()


@pytest.fixture
def make_rig(redis_server: Any, redis_client: Any) -> Iterator[Callable[..., RedisRig]]:
    made: list[RedisRig] = []

    def make(**options: Any) -> RedisRig:
        rig = RedisRig(redis_server.url, redis_client, **options)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.close()


def assert_typed(call: tuple[Any, Any, Any]) -> None:
    n, when, item = call
    assert type(n) is int, call
    assert isinstance(when, datetime.datetime) and when == WHEN, call
    assert isinstance(item, Item) and item == Item(sku="a-1", quantity=2), call


def ran_with(rig: RedisRig) -> list[Any]:
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
    rig: RedisRig,
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
    case: Malformed, make_rig: Callable[..., RedisRig], caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_rig()
    rid, raw, _ = rig.produce_bad(case)
    rig.produce_good(2)
    rig.actor.send(n=3, when=WHEN, item=Item(sku="a-1", quantity=2))
    worker = rig.start(threads=3)

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
    make_rig: Callable[..., RedisRig], caplog: pytest.LogCaptureFixture
) -> None:
    """A copy of a body stored under a new id (a hand re-drive) names its original's id.

    Fetched in the same batch, before the original: the copy must not run in the original's
    place (acking, and so deleting, the original), and the original must run.
    """
    rig = make_rig()
    original_rid = new_rid()
    original = valid_body(rig.queue, n=1, redis_message_id=original_rid)
    copy = valid_body(rig.queue, n=2, redis_message_id=original_rid)
    copy_rid = new_rid()
    rig.produce(copy_rid, encode(copy))  # listed first: fetched first in the batch
    rig.produce(original_rid, encode(original))
    rig.start()
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
    make_rig: Callable[..., RedisRig], caplog: pytest.LogCaptureFixture
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

    rig = make_rig(actor_fn=typed)
    rid = new_rid()
    raw = encode(valid_body(rig.queue, n=1, redis_message_id=rid))
    rig.produce(rid, raw)
    rig.start(threads=2)
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
    make_rig: Callable[..., RedisRig], caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_rig()
    rig.produce_good(1)
    orphan = new_rid()
    rig.client.rpush(rig.key(rig.queue), orphan)  # RPUSH without HSET
    rig.produce_good(2)
    rig.produce_good(3)
    rig.start(threads=2)  # prefetch 4: one batch
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
    make_rig: Callable[..., RedisRig], caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_rig()
    by_label = {case.label: case for case in CASES + REDIS_CASES}
    labels = ("invalid JSON", "int as a string", "redis_message_id missing")
    rig.produce_good(1)
    rig.produce_good(2)
    bad = [rig.produce_bad(by_label[label]) for label in labels]
    rig.produce_good(3)
    rig.produce_good(4)
    rig.produce_good(5)
    rig.start(threads=4)  # prefetch 8: everything in one fetch
    rig.settle(ran=5, dead=3)

    assert [len(batch) for batch in rig.batches] == [8], "one fetch held the bad ones and the good ones"
    assert ran_with(rig) == [1, 2, 3, 4, 5]
    for call in rig.received:
        assert_typed(call)
    assert set(rig.xq()) == {rid for rid, _, _ in bad}
    assert rig.drained()
    assert rig.threads_alive() == []


def test_invalid_message_is_not_retried(
    make_rig: Callable[..., RedisRig], caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_rig(max_retries=5, min_backoff=10, max_backoff=20)
    by_label = {case.label: case for case in CASES}
    rid, raw, original = rig.produce_bad(by_label["int as a string"])
    rig.produce_good(2)
    rig.start()
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
    make_rig: Callable[..., RedisRig], caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_rig()
    rid = new_rid()
    body = valid_body(rig.queue, n=7, redis_message_id=rid)
    body["options"]["eta"] = "tomorrow"  # Dramatiq: "Invalid eta value ... Setting eta to current_millis()"
    rig.produce(rid, encode(body))
    rig.start()
    rig.settle(ran=1, dead=0)

    assert ran_with(rig) == [7]
    assert_typed(rig.received[0])
    assert rig.xq() == {}
    assert rig.reasons() == {}
    assert actorschema_records(caplog, rig.queue, logging.ERROR) == []
    assert any("Invalid eta value" in r.getMessage() for r in caplog.records)
    assert rig.threads_alive() == []


def test_legacy_positional_message_runs_typed(make_rig: Callable[..., RedisRig]) -> None:
    rig = make_rig()
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
    rig.start()
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
    make_rig: Callable[..., RedisRig], caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_rig(max_message_bytes=LIMIT)
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
    rig.start()
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


def test_eta_does_not_count_toward_the_size_on_arrival(make_rig: Callable[..., RedisRig]) -> None:
    # Dramatiq's worker never hands a message with an eta to an actor (it goes through the delay
    # queue and is re-enqueued without it): the check itself is what can be shown here.
    rig = make_rig(max_message_bytes=LIMIT)
    body = sized_body(rig.queue, new_rid(), LIMIT, eta=1_700_000_000_000, **BOOKKEEPING)
    rig.gateway.consume_guard.check(rig.broker, Message(**body))
    body = sized_body(rig.queue, new_rid(), LIMIT + 1, eta=1_700_000_000_000)
    with pytest.raises(Exception, match="too large"):
        rig.gateway.consume_guard.check(rig.broker, Message(**body))


# -- warn mode -------------------------------------------------------------------


def test_warn_mode_runs_the_invalid_message_as_it_arrived(
    make_rig: Callable[..., RedisRig], caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_rig(gateway=PayloadGateway(mode="warn"))
    by_label = {case.label: case for case in CASES}
    _, _, original = rig.produce_bad(by_label["int as a string"])
    rig.produce_good(2)
    rig.start()
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
    make_rig: Callable[..., RedisRig], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dramatiq.worker, "CONSUMER_RESTART_DELAY_SECS", 0.1)
    rig = make_rig(broker_class=dramatiq.brokers.redis.RedisBroker)
    bad_rid = new_rid()
    rig.produce(bad_rid, b'{"queue_name": ')
    good_rid = rig.produce_good(1)
    rig.start(threads=1)  # prefetch 2: both in one fetch

    wait_until(lambda: len(rig.batches) >= 1, "the first fetch", WAIT_SECONDS)
    time.sleep(2)

    assert rig.received == [], "the good message was lost with the consumer that crashed"
    assert rig.client.sismember(rig.acks_key, good_rid), "stranded in the ack set until a restart"
    assert rig.client.llen(rig.key(rig.queue)) == 0
    assert rig.xq() == {}


# -- what a consumer fetched is never stranded in a running worker ---------------------------


def test_a_closed_consumer_gives_back_what_it_fetched_and_never_handed_out(
    make_rig: Callable[..., RedisRig],
) -> None:
    rig = make_rig()
    rids = [rig.produce_good(n) for n in range(4)]
    consumer = rig.broker.consume(rig.queue, prefetch=4, timeout=100)
    handed_out = next(consumer)
    assert handed_out.options["redis_message_id"] == rids[0]
    assert rig.client.scard(rig.acks_key) == 4, "one fetch took all four"

    # Dramatiq closes a consumer after a connection error and makes a new one.
    consumer.close()
    assert [rid.decode() for rid in rig.client.lrange(rig.key(rig.queue), 0, -1)] == rids[1:]
    assert rig.client.smembers(rig.acks_key) == {rids[0].encode()}, "the one handed out is still held"
    assert rig.broker.held[rig.queue] == {rids[0]}

    consumer = rig.broker.consume(rig.queue, prefetch=4, timeout=100)
    assert [next(consumer).options["redis_message_id"] for _ in range(3)] == rids[1:]
    consumer.ack(handed_out)
    assert rig.broker.held[rig.queue] == set(rids[1:]), "acked through the new consumer: finished"


def test_a_new_consumer_requeues_a_batch_whose_fetch_reply_was_lost(
    make_rig: Callable[..., RedisRig],
) -> None:
    rig = make_rig()
    rids = [rig.produce_good(n) for n in range(3)]
    # The Lua fetch, run and its reply thrown away: what a connection dropped after the fetch leaves.
    rig.broker.do_fetch(rig.queue, 2)
    assert rig.client.scard(rig.acks_key) == 2 and rig.client.llen(rig.key(rig.queue)) == 1

    consumer = rig.broker.consume(rig.queue, prefetch=4, timeout=100)
    fetched = sorted(next(consumer).options["redis_message_id"] for _ in range(3))
    assert fetched == sorted(rids), "the two stranded ids came back to the queue and were fetched"
    assert rig.broker.held[rig.queue] == set(rids)


def test_a_new_delay_queue_consumer_requeues_what_waited_for_its_eta(
    make_rig: Callable[..., RedisRig],
) -> None:
    rig = make_rig()
    kwargs = {"n": 1, "when": WHEN, "item": Item(sku="a-1", quantity=2)}
    sent = rig.actor.send_with_options(kwargs=kwargs, delay=60_000)
    delay_queue = f"{rig.queue}.DQ"
    consumer = rig.broker.consume(delay_queue, prefetch=2, timeout=100)
    assert next(consumer).message_id == sent.message_id
    # Dramatiq's consumer thread keeps it in memory until its eta, and drops that memory on a
    # connection error before it makes a new consumer.
    consumer = rig.broker.consume(delay_queue, prefetch=2, timeout=100)
    assert next(consumer).message_id == sent.message_id, "the new consumer fetched it again"
