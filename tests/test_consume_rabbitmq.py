"""The worker side on a real RabbitMQ: malformed bodies end in ``<q>.XQ`` with their reason, good ones run.

Bodies are published raw with pika (exchange ``""``, routing key ``<q>``,
persistent), exactly as a producer in another language would, after the
broker declared the queue with Dramatiq's arguments. One worker run covers the
whole catalogue (``tests/malformed.py``) on one queue, each bad body followed
by a good one: booting a worker per case would cost more than the cases. The
assertions are still per case, and every failing case is reported, not only
the first.
"""

from __future__ import annotations

import datetime
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import dramatiq
import pika
import pytest
from conftest import wait_until
from dramatiq import Worker
from malformed import CASES, Item, typed_actor_fn, valid_body
from rabbitmq_server import RabbitmqServer

from actorschema import PayloadGateway
from actorschema.brokers import RabbitmqBroker
from actorschema.consume.deadletters import REASON_HEADER, dead_letter_reasons

WAIT_SECONDS = 30
WHEN = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))


class RabbitRig:
    """A guarded RabbitmqBroker with the gateway, the ``typed`` actor on a queue of its own, and a worker."""

    def __init__(self, server: RabbitmqServer, **actor_options: Any) -> None:
        self.server = server
        self.queue = f"consume_{uuid.uuid4().hex[:12]}"
        self.broker = RabbitmqBroker(url=server.url)
        self.broker.add_middleware(PayloadGateway())
        self.broker.emit_after("process_boot")
        self.received: list[tuple[Any, Any, Any]] = []
        self.actor: Any = dramatiq.actor(
            typed_actor_fn(self.received),
            broker=self.broker,
            actor_name="typed",
            queue_name=self.queue,
            **actor_options,
        )
        self.broker.declare_queue(self.queue, ensure=True)
        self.connection = server.connection()
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()
        self.worker: Worker | None = None

    def publish(self, body: bytes) -> None:
        self.channel.basic_publish(
            exchange="", routing_key=self.queue, body=body, properties=pika.BasicProperties(delivery_mode=2)
        )

    def publish_good(self, n: int) -> None:
        self.publish(json.dumps(valid_body(self.queue, n=n)).encode())

    def start(self, threads: int = 4) -> Worker:
        self.worker = Worker(self.broker, worker_threads=threads, worker_timeout=50)
        self.worker.start()
        return self.worker

    def counts(self) -> tuple[int, int, int]:
        """Ready messages in the queue, its ``.DQ`` and its ``.XQ``."""
        return tuple(  # type: ignore[return-value]
            self.channel.queue_declare(name, passive=True).method.message_count
            for name in (self.queue, f"{self.queue}.DQ", f"{self.queue}.XQ")
        )

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

    def dead_threads(self) -> list[str]:
        assert self.worker is not None
        threads = [*self.worker.workers, *self.worker.consumers.values()]
        assert len(threads) >= 2
        return [thread.name for thread in threads if not thread.is_alive()]

    def close(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.broker.close()
        try:
            for name in (self.queue, f"{self.queue}.DQ", f"{self.queue}.XQ"):
                self.channel.queue_delete(name)
        finally:
            self.connection.close()


@pytest.fixture
def make_rig(rabbitmq_server: RabbitmqServer) -> Iterator[Callable[..., RabbitRig]]:
    made: list[RabbitRig] = []

    def make(**actor_options: Any) -> RabbitRig:
        rig = RabbitRig(rabbitmq_server, **actor_options)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        rig.close()


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
    make_rig: Callable[..., RabbitRig], caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_rig()
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
    rig.start(threads=4)

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
    make_rig: Callable[..., RabbitRig], caplog: pytest.LogCaptureFixture
) -> None:
    rig = make_rig(max_retries=5, min_backoff=10, max_backoff=20)
    body = valid_body(rig.queue)
    body["kwargs"]["n"] = "5"
    raw = json.dumps(body).encode()
    rig.publish(raw)
    rig.publish_good(2)
    rig.start(threads=2)

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
