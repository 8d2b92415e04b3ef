"""RabbitMQ: the gateway in front of a real broker on the send side, and the worker side's dead letters.

One harness (:class:`RabbitmqHarness`) for both sides, on the session's private
rabbitmq-server; every test gets its own broker and its own queue (a uuid suffix).

The send side: the gateway in front of Dramatiq's own RabbitmqBroker, with a real
Dramatiq Worker. Every body the broker publishes is recorded at pika's
``basic_publish``, and queue depths are read with a passive ``queue_declare`` on
a separate connection: the broker publishes with ``confirm_delivery=True``, so a
confirmed message is already counted.

``RabbitmqBroker.join`` does not wait for unacked (prefetched or delayed)
messages, so the tests wait for their actors with events first, then join.

The worker side (``guarded=True``: actorschema's RabbitmqBroker): malformed bodies end
in ``<q>.XQ`` with their reason, good ones run. Bodies are published raw with pika
(exchange ``""``, routing key ``<q>``, persistent), exactly as a producer in another
language would, after the broker declared the queue with Dramatiq's arguments. One worker
run covers the whole catalogue (``tests/helpers/malformed.py``) on one queue, each bad body
followed by a good one: booting a worker per case would cost more than the cases. The
assertions are still per case, and every failing case is reported, not only the first.
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
import pika
import pytest
from conftest import wait_until
from dramatiq import Worker
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.middleware import CurrentMessage
from helpers.malformed import CASES, Item, typed_actor_fn, valid_body
from pika.adapters.blocking_connection import BlockingChannel
from pydantic import BaseModel
from servers import RabbitmqServer

from actorschema import NonJSONPayload, PayloadGateway, PayloadTooLarge
from actorschema.brokers import RabbitmqBroker as GuardedRabbitmqBroker
from actorschema.consume.deadletters import REASON_HEADER, dead_letter_reasons

WAIT_SECONDS = 30
WHEN = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))


class RabbitmqHarness:
    """A RabbitmqBroker with the gateway, one private queue name, a worker, and a look inside RabbitMQ.

    Parameters:
      server: The session's rabbitmq-server.
      published: The list the fixture's ``basic_publish`` spy fills: (routing key, body).
      guarded: The worker side: actorschema's RabbitmqBroker (it dead-letters malformed
        bodies), the ``typed`` actor of ``helpers.malformed`` on the queue, the queue
        declared, and a channel with publisher confirms to publish raw bodies on. Otherwise
        the send side: Dramatiq's RabbitmqBroker with publisher confirms, ``CurrentMessage``,
        and the broker set as Dramatiq's global one.
      actor_options: The ``typed`` actor's options (``guarded`` only).
      gateway_options: For the ``PayloadGateway``.
    """

    def __init__(
        self,
        server: RabbitmqServer,
        published: list[tuple[str, bytes]],
        *,
        guarded: bool = False,
        actor_options: dict[str, Any] | None = None,
        **gateway_options: Any,
    ) -> None:
        self.server = server
        self.queue = f"{'consume' if guarded else 'actorschema'}_{uuid.uuid4().hex[:12]}"
        self._published = published
        self.worker: Worker | None = None
        #: The ``typed`` actor's calls: (n, when, item), on the worker side.
        self.received: list[tuple[Any, Any, Any]] = []
        self.connection: Any = None
        self.channel: Any = None
        if guarded:
            self.broker: Any = GuardedRabbitmqBroker(url=server.url)
        else:
            self.broker = RabbitmqBroker(url=server.url, confirm_delivery=True)
            self.broker.add_middleware(CurrentMessage())
        self.gateway = PayloadGateway(**gateway_options)
        self.broker.add_middleware(self.gateway)
        self.broker.emit_after("process_boot")
        if not guarded:
            dramatiq.set_broker(self.broker)
            return
        self.actor: Any = dramatiq.actor(
            typed_actor_fn(self.received),
            broker=self.broker,
            actor_name="typed",
            queue_name=self.queue,
            **(actor_options or {}),
        )
        self.declare()
        self.connection = server.connection()
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()

    # -- the send side ---------------------------------------------------------------------------

    @property
    def published(self) -> list[tuple[str, bytes]]:
        """Every body published to this harness's queues: (routing key, body)."""
        mine = {self.queue, f"{self.queue}.DQ", f"{self.queue}.XQ"}
        return [(key, body) for key, body in self._published if key in mine]

    def declare(self) -> None:
        """Create the queue, its delay queue and its dead-letter queue, as the broker does."""
        self.broker.declare_queue(self.queue, ensure=True)

    # -- producing raw, as another language does --------------------------------------------------

    def publish(self, body: bytes) -> None:
        self.channel.basic_publish(
            exchange="", routing_key=self.queue, body=body, properties=pika.BasicProperties(delivery_mode=2)
        )

    def publish_good(self, n: int) -> None:
        self.publish(json.dumps(valid_body(self.queue, n=n)).encode())

    # -- running ----------------------------------------------------------------------------------

    def start_worker(self, threads: int = 2, worker_timeout: int = 100) -> Worker:
        self.worker = Worker(self.broker, worker_threads=threads, worker_timeout=worker_timeout)
        self.worker.start()
        return self.worker

    def join(self) -> None:
        self.broker.join(self.queue, min_successes=3, timeout=WAIT_SECONDS * 1000)
        assert self.worker is not None
        self.worker.join()

    def dead_threads(self) -> list[str]:
        assert self.worker is not None
        threads = [*self.worker.workers, *self.worker.consumers.values()]
        assert len(threads) >= 2
        return [thread.name for thread in threads if not thread.is_alive()]

    # -- looking inside RabbitMQ ------------------------------------------------------------------

    def counts(self) -> tuple[int, int, int]:
        """Ready messages in the queue, its ``.DQ`` and its ``.XQ``, asked on a connection of our own."""
        connection = self.server.connection()
        try:
            channel = connection.channel()
            return tuple(  # type: ignore[return-value]
                channel.queue_declare(name, passive=True).method.message_count
                for name in (self.queue, f"{self.queue}.DQ", f"{self.queue}.XQ")
            )
        finally:
            connection.close()

    def dead_letters(self) -> list[tuple[bytes, dict[str, Any]]]:
        """Every body in ``<q>.XQ`` with its headers, read without consuming (closing requeues them)."""
        connection = self.server.connection()
        found = []
        try:
            channel = connection.channel()
            while True:
                method, properties, body = channel.basic_get(f"{self.queue}.XQ", auto_ack=False)
                if method is None:
                    break
                found.append((body, dict(properties.headers or {})))
        finally:
            connection.close()
        return found

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.broker.close()
        connection = self.server.connection()
        try:
            channel = connection.channel()
            for name in (self.queue, f"{self.queue}.DQ", f"{self.queue}.XQ"):
                channel.queue_delete(name)
        finally:
            connection.close()
            if self.connection is not None:
                self.connection.close()


@pytest.fixture
def make_harness(
    rabbitmq_server: RabbitmqServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., RabbitmqHarness]]:
    published: list[tuple[str, bytes]] = []
    lock = threading.Lock()
    publish = BlockingChannel.basic_publish

    def spy_publish(self: BlockingChannel, exchange: str, routing_key: str, body: bytes, *a: Any, **k: Any):  # type: ignore[no-untyped-def]
        result = publish(self, exchange, routing_key, body, *a, **k)
        with lock:
            published.append((routing_key, body))
        return result

    monkeypatch.setattr(BlockingChannel, "basic_publish", spy_publish)
    made: list[RabbitmqHarness] = []

    def make(**options: Any) -> RabbitmqHarness:
        harness = RabbitmqHarness(rabbitmq_server, published, **options)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.close()


# -- the send side ---------------------------------------------------------------------------------


def current_message() -> Any:
    message = CurrentMessage.get_current_message()
    assert message is not None
    return message


class Order(BaseModel):
    id: int
    sku: str
    quantity: int
    placed: datetime.datetime


def test_rabbitmq_server_fixture_serves_amqp(rabbitmq_server: RabbitmqServer) -> None:
    assert rabbitmq_server.url == f"amqp://guest:guest@127.0.0.1:{rabbitmq_server.port}"
    connection = rabbitmq_server.connection()
    try:
        assert connection.is_open
        queue = f"actorschema_probe_{uuid.uuid4().hex[:12]}"
        channel = connection.channel()
        channel.queue_declare(queue, auto_delete=True)
        channel.basic_publish("", queue, b"{}")
        method, _, body = channel.basic_get(queue, auto_ack=True)
        assert method is not None and body == b"{}"
    finally:
        connection.close()


# -- a) valid messages are processed ------------------------------------------------------


def test_valid_messages_to_a_typed_and_a_plain_actor_are_processed(
    make_harness: Callable[..., RabbitmqHarness],
) -> None:
    harness = make_harness(max_message_bytes=8_192)
    results: list[tuple[str, Any]] = []
    lock = threading.Lock()
    done = threading.Event()

    def record(name: str, value: Any) -> None:
        with lock:
            results.append((name, value))
            if len(results) == 4:
                done.set()

    @dramatiq.actor(broker=harness.broker, queue_name=harness.queue)
    def place(order: Order, note: str = "") -> None:
        record("place", {"order": order, "note": note, "message": current_message().asdict()})

    @dramatiq.actor(broker=harness.broker, queue_name=harness.queue)
    def audit(event):  # type: ignore[no-untyped-def]
        record("audit", event)

    placed = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC)
    order = Order(id=7, sku="CAT-1", quantity=2, placed=placed)
    sent = [
        place.send(order),
        place.send({"id": 8, "sku": "DOG-2", "quantity": "3", "placed": "2024-05-06T07:08:09Z"}, note="lax"),
        audit.send({"user": 7, "tags": ["a", "b"], "café": "naïve"}),
        audit.send_with_options(args=([1, 2.5, None, True],)),
    ]

    # Canonical JSON went out: arguments by name, the model as an object, times as text.
    bodies = [json.loads(body) for _, body in harness.published]
    assert [key for key, _ in harness.published] == [harness.queue] * 4
    assert [data["message_id"] for data in bodies] == [message.message_id for message in sent]
    assert bodies[0]["args"] == [] and bodies[0]["kwargs"] == {"order": order.model_dump(mode="json")}
    assert bodies[1]["kwargs"]["order"]["quantity"] == 3  # "3" converted to the declared int
    assert harness.counts() == (4, 0, 0)

    harness.start_worker()
    assert done.wait(WAIT_SECONDS), results
    harness.join()

    places = [value for name, value in results if name == "place"]
    audits = [value for name, value in results if name == "audit"]
    assert len(places) == 2 and len(audits) == 2
    by_id = {value["message"]["message_id"]: value for value in places}
    first = by_id[sent[0].message_id]
    # The actor receives the JSON form today (no worker-side conversion yet); it parses back.
    assert Order.model_validate(first["order"]) == order
    assert first["note"] == ""
    assert by_id[sent[1].message_id]["note"] == "lax"
    assert sorted(audits, key=str) == sorted(
        [{"user": 7, "tags": ["a", "b"], "café": "naïve"}, [1, 2.5, None, True]], key=str
    )
    assert harness.counts() == (0, 0, 0)


# -- b) rejected sends enqueue nothing ------------------------------------------------------


def test_non_json_and_oversized_sends_raise_and_enqueue_nothing(
    make_harness: Callable[..., RabbitmqHarness],
) -> None:
    harness = make_harness(max_message_bytes=4_096)
    processed: list[Any] = []

    @dramatiq.actor(broker=harness.broker, queue_name=harness.queue)
    def audit(event):  # type: ignore[no-untyped-def]
        processed.append(event)

    @dramatiq.actor(broker=harness.broker, queue_name=harness.queue, max_message_bytes=1_024)
    def small(blob: str) -> None:
        processed.append(blob)

    harness.declare()
    with pytest.raises(NonJSONPayload) as tuple_rejection:
        audit.send({"user": 7, "tags": ("a", "b")})
    assert tuple_rejection.value.paths == ("kwargs.event.tags",)
    with pytest.raises(NonJSONPayload) as datetime_rejection:
        audit.send(datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC))
    assert datetime_rejection.value.paths == ("kwargs.event",)
    with pytest.raises(PayloadTooLarge) as global_rejection:
        audit.send({"blob": "x" * 10_000})
    assert global_rejection.value.limit_source == "global"
    with pytest.raises(PayloadTooLarge) as actor_rejection:
        small.send("y" * 2_000)
    assert actor_rejection.value.limit_source == "actor"

    assert harness.published == []
    assert harness.counts() == (0, 0, 0)

    # The counts are live: one valid send is seen, and only it runs.
    message = small.send("ok")
    assert harness.counts() == (1, 0, 0)
    assert [key for key, _ in harness.published] == [harness.queue]
    harness.start_worker()
    deadline = time.monotonic() + WAIT_SECONDS
    while not processed and time.monotonic() < deadline:
        time.sleep(0.02)
    harness.join()
    assert processed == ["ok"]
    assert json.loads(harness.published[0][1])["message_id"] == message.message_id
    assert harness.counts() == (0, 0, 0)


# -- c) delayed sends ---------------------------------------------------------------------


def test_delayed_valid_message_is_delivered_after_its_eta(
    make_harness: Callable[..., RabbitmqHarness],
) -> None:
    harness = make_harness(max_message_bytes=4_096)
    done = threading.Event()
    runs: list[tuple[str, str, int]] = []

    @dramatiq.actor(broker=harness.broker, queue_name=harness.queue, max_message_bytes=512)
    def later(token: str, payload: Any = None) -> None:
        runs.append((token, current_message().message_id, int(time.time() * 1000)))
        done.set()

    harness.declare()
    with pytest.raises(NonJSONPayload):
        later.send_with_options(args=("bad", {1, 2}), delay=200)
    with pytest.raises(PayloadTooLarge):
        later.send_with_options(args=("big", "x" * 600), delay=200)
    assert harness.published == []

    sent_at = int(time.time() * 1000)
    message = later.send_with_options(args=("ok",), delay=300)
    assert message.queue_name == f"{harness.queue}.DQ"
    assert harness.counts() == (0, 1, 0)
    ((key, body),) = harness.published
    assert key == f"{harness.queue}.DQ"
    data = json.loads(body)
    assert data["args"] == [] and data["kwargs"] == {"token": "ok"}
    eta = data["options"]["eta"]
    assert eta >= sent_at + 300

    harness.start_worker()
    assert done.wait(WAIT_SECONDS)
    harness.join()

    assert [(token, message_id) for token, message_id, _ in runs] == [("ok", message.message_id)]
    assert runs[0][2] >= eta  # not before its time
    # The worker moved it from the delay queue to its queue once (through the gateway), then ran it.
    assert [key for key, _ in harness.published] == [f"{harness.queue}.DQ", harness.queue]
    moved = json.loads(harness.published[1][1])
    assert moved["message_id"] == message.message_id and "eta" not in moved["options"]
    assert harness.counts() == (0, 0, 0)


# -- d) a retry with a huge exception text ------------------------------------------------


def test_retry_with_huge_exception_text_is_trimmed_retried_and_succeeds(
    make_harness: Callable[..., RabbitmqHarness], caplog: pytest.LogCaptureFixture
) -> None:
    harness = make_harness()
    limit = 64 * 1024
    attempts: list[dict[str, Any]] = []
    succeeded = threading.Event()
    lock = threading.Lock()

    @dramatiq.actor(
        broker=harness.broker,
        queue_name=harness.queue,
        actor_name="flaky",
        max_retries=3,
        min_backoff=10,
        max_backoff=20,
        max_message_bytes=limit,
    )
    def flaky(token: str) -> None:
        with lock:
            attempts.append({"token": token, "options": dict(current_message().options)})
            first = len(attempts) == 1
        if first:
            raise ValueError("m" * 1_000_000)
        succeeded.set()

    message = flaky.send("r1")
    assert harness.counts() == (1, 0, 0)

    with caplog.at_level("WARNING", logger="actorschema"):
        harness.start_worker()
        assert succeeded.wait(WAIT_SECONDS)
        harness.join()

    assert [attempt["token"] for attempt in attempts] == ["r1", "r1"]
    retried = attempts[1]["options"]
    assert retried["retries"] == 1
    traceback = retried["traceback"]
    assert traceback.startswith("[actorschema: traceback trimmed")
    assert traceback.rstrip().endswith("m" * 20)  # the end (the exception text) is kept

    # RabbitMQ received the send, the retry (on the delay queue) and its move back: all within the limit.
    published = harness.published
    assert [key for key, _ in published] == [harness.queue, f"{harness.queue}.DQ", harness.queue]
    bodies = [json.loads(body) for _, body in published]
    assert {data["message_id"] for data in bodies} == {message.message_id}
    assert bodies[1]["options"]["traceback"] == traceback
    sizes = [len(body) for _, body in published]
    assert all(size <= limit for size in sizes), sizes
    assert limit - 64 <= sizes[1] <= limit, sizes  # trimmed to about the limit, no more
    assert not [r for r in caplog.records if r.name == "actorschema" and "not rejected" in r.getMessage()]

    # Nothing lost, nothing dead-lettered.
    assert harness.counts() == (0, 0, 0)


# -- the worker side -------------------------------------------------------------------------------


def error_records(caplog: pytest.LogCaptureFixture, queue: str) -> list[dict[str, Any]]:
    found = []
    for record in caplog.records:
        fields = getattr(record, "actorschema", None)
        if (
            record.name == "actorschema"
            and record.levelno == logging.ERROR
            and fields
            and fields["queue"] == queue
        ):
            found.append(fields)
    return found


def test_every_malformed_class_is_dead_lettered_with_its_reason_and_the_good_ones_run(
    make_harness: Callable[..., RabbitmqHarness], caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_harness(guarded=True)
    bad: list[tuple[Any, bytes, str | None]] = []  # (case, bytes, the message id the reason must carry)
    goods = []
    for index, case in enumerate(CASES):
        body = valid_body(rig.queue)
        raw = case.build(body)
        # A body that cannot be read as an object has no message id to name; else the one it carries.
        message_id = None if case.path == "$" else json.loads(raw)["message_id"]
        rig.publish(raw)
        bad.append((case, raw, message_id))
        rig.publish_good(100 + index)
        goods.append(100 + index)
    rig.actor.send(n=999, when=WHEN, item=Item(sku="a-1", quantity=2))
    goods.append(999)
    assert len({raw for _, raw, _ in bad}) == len(bad), "each bad body is told apart by its bytes"
    rig.start_worker(threads=4, worker_timeout=50)

    wait_until(lambda: len(rig.received) >= len(goods), f"{len(goods)} actor calls", WAIT_SECONDS, 0.05)
    wait_until(
        lambda: rig.counts() == (0, 0, len(CASES)),
        f"{len(CASES)} dead letters, nothing else queued",
        WAIT_SECONDS,
        0.05,
    )
    time.sleep(0.2)  # room for a duplicate call to show

    assert sorted(call[0] for call in rig.received) == goods, "every good message ran exactly once"
    for n, when, item in rig.received:
        assert type(n) is int and isinstance(when, datetime.datetime) and when == WHEN, (n, when)
        assert isinstance(item, Item) and item == Item(sku="a-1", quantity=2), item
    assert rig.dead_threads() == [], "every worker and consumer thread is alive"

    reasons = dead_letter_reasons(rig.broker, rig.queue)
    in_xq = {body: headers for body, headers in rig.dead_letters()}
    logged = error_records(caplog, rig.queue)
    assert len(in_xq) == len(CASES), f"{len(in_xq)} bodies in XQ for {len(CASES)} cases"
    assert len(reasons) == len(CASES), sorted(reasons)
    problems = []
    for case, raw, message_id in bad:
        if raw not in in_xq:
            problems.append(f"{case.label}: not in {rig.queue}.XQ with its body unchanged")
            continue
        text = in_xq[raw].get(REASON_HEADER)
        if text is None:
            problems.append(f"{case.label}: no {REASON_HEADER} header")
            continue
        record = json.loads(text)
        paths = [violation["path"] for violation in record["violations"]]
        if case.path not in paths:
            problems.append(f"{case.label}: the reason names {paths}, not {case.path!r}")
        if record["message_id"] != message_id or record["queue"] != rig.queue:
            problems.append(
                f"{case.label}: the reason is for {record['message_id']!r} on {record['queue']!r}"
            )
        if message_id is not None and reasons.get(message_id) != record:
            problems.append(f"{case.label}: dead_letter_reasons() has no record for {message_id}")
        # Undecodable bodies have no message id: their records are counted together below.
        if message_id is not None:
            logs = [f for f in logged if f["message_id"] == message_id]
            if len(logs) != 1 or case.path not in [v["path"] for v in logs[0]["violations"]]:
                problems.append(f"{case.label}: {len(logs)} ERROR log records, not 1 naming {case.path!r}")
    undecodable = [case.label for case, _, message_id in bad if message_id is None]
    anonymous = [f for f in logged if f["message_id"] is None and "$" in [v["path"] for v in f["violations"]]]
    if len(anonymous) != len(undecodable):
        problems.append(f"{len(anonymous)} ERROR log records for the {len(undecodable)} undecodable bodies")
    assert not problems, "\n".join(problems)


def test_invalid_message_is_dead_lettered_once_and_not_retried(
    make_harness: Callable[..., RabbitmqHarness], caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_harness(guarded=True, actor_options={"max_retries": 5, "min_backoff": 10, "max_backoff": 20})
    body = valid_body(rig.queue)
    body["kwargs"]["n"] = "5"
    raw = json.dumps(body).encode()
    rig.publish(raw)
    rig.publish_good(2)
    rig.start_worker(threads=2, worker_timeout=50)

    wait_until(lambda: len(rig.received) >= 1, "the good message", WAIT_SECONDS, 0.05)
    wait_until(lambda: rig.counts() == (0, 0, 1), "one dead letter", WAIT_SECONDS, 0.05)
    time.sleep(0.3)  # a retry would be back by now (backoff <= 20 ms)

    assert [call[0] for call in rig.received] == [2]
    assert rig.counts() == (0, 0, 1)
    [(stored, headers)] = rig.dead_letters()
    assert stored == raw
    record = json.loads(headers[REASON_HEADER])
    assert record["actor"] == "typed" and record["message_id"] == body["message_id"]
    assert [v["path"] for v in record["violations"]] == ["kwargs.n"]
    assert dead_letter_reasons(rig.broker, rig.queue) == {body["message_id"]: record}
    assert [f["message_id"] for f in error_records(caplog, rig.queue)] == [body["message_id"]]
    assert rig.dead_threads() == []
