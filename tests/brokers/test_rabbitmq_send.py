"""The gateway in front of a real RabbitmqBroker, with a real Dramatiq Worker.

Every test gets its own broker and its own queue (a uuid suffix) on the session's
private rabbitmq-server. Every body the broker publishes is recorded at pika's
``basic_publish``, and queue depths are read with a passive ``queue_declare`` on
a separate connection: the broker publishes with ``confirm_delivery=True``, so a
confirmed message is already counted.

``RabbitmqBroker.join`` does not wait for unacked (prefetched or delayed)
messages, so the tests wait for their actors with events first, then join.
"""

from __future__ import annotations

import datetime
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import dramatiq
import pytest
from dramatiq import Worker
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.middleware import CurrentMessage
from pika.adapters.blocking_connection import BlockingChannel
from pydantic import BaseModel
from servers import RabbitmqServer

from actorschema import NonJSONPayload, PayloadGateway, PayloadTooLarge

WAIT_SECONDS = 30


class RabbitmqHarness:
    """A RabbitmqBroker with the gateway, one private queue name, and a look inside RabbitMQ."""

    def __init__(self, server: RabbitmqServer, published: list[tuple[str, bytes]], **gateway_options: Any):
        self.server = server
        self.queue = f"actorschema_{uuid.uuid4().hex[:12]}"
        self.broker = RabbitmqBroker(url=server.url, confirm_delivery=True)
        self.broker.add_middleware(CurrentMessage())
        self.gateway = PayloadGateway(**gateway_options)
        self.broker.add_middleware(self.gateway)
        self.broker.emit_after("process_boot")
        dramatiq.set_broker(self.broker)
        self.worker: Worker | None = None
        self._published = published

    @property
    def published(self) -> list[tuple[str, bytes]]:
        """Every body published to this harness's queues: (routing key, body)."""
        mine = {self.queue, f"{self.queue}.DQ", f"{self.queue}.XQ"}
        return [(key, body) for key, body in self._published if key in mine]

    def declare(self) -> None:
        """Create the queue, its delay queue and its dead-letter queue, as the broker does."""
        self.broker.declare_queue(self.queue, ensure=True)

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

    def start_worker(self) -> Worker:
        self.worker = Worker(self.broker, worker_threads=2, worker_timeout=100)
        self.worker.start()
        return self.worker

    def join(self) -> None:
        self.broker.join(self.queue, min_successes=3, timeout=WAIT_SECONDS * 1000)
        assert self.worker is not None
        self.worker.join()

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

    def make(**gateway_options: Any) -> RabbitmqHarness:
        harness = RabbitmqHarness(rabbitmq_server, published, **gateway_options)
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.close()


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
