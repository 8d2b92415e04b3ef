"""A Node.js producer enqueues for the example app; a real Dramatiq worker runs its messages.

``examples/producers/node`` knows nothing but ``schemas/``: it builds each message,
validates it with ajv, checks the size limit from ``index.json`` and enqueues it as
Dramatiq's brokers do. Here it runs as a subprocess (one per batch) against a real
redis-server and a real rabbitmq-server, and a real ``dramatiq.Worker`` runs the
example app's actors (``node_e2e_app``: shop's own functions, recording their calls).
"""

from __future__ import annotations

import datetime
import functools
import json
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import dramatiq
import pika
import pika.exceptions
import pytest
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from helpers.format_edges import EDGES
from helpers.node_e2e_app import (
    QUEUES,
    Recorder,
    build_app,
    rabbitmq_broker,
    redis_broker,
    shop_gateway,
)
from servers import IN_CI, need

from actorschema.generate import render
from examples import shop

# Every test here runs Node.js, and most of them a real Redis or RabbitMQ.
pytestmark = pytest.mark.node

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "examples" / "producers" / "node"
SCHEMAS = ROOT / "schemas"
WAIT_SECONDS = 20


ORDER_ID = "7f1d6a3e-9c2b-4b8e-a7d5-3c1e2f4a5b6c"
ORDER = {
    "order_id": ORDER_ID,
    "customer_id": 42,
    "placed_at": "2024-05-01T09:30:00+02:00",
    "currency": "USD",
    "items": [
        {"sku": "MUG-1", "quantity": 2, "unit_price": "9.90"},
        {"sku": "TEA-7", "quantity": 1, "unit_price": 12.5},
    ],
    "note": "gift wrap, please ✓",
}
#: One valid call per actor of the example app (send_email with and without variables).
VALID = [
    {"actor": "place_order", "kwargs": {"order": ORDER, "notify": False}},
    {"actor": "send_email", "kwargs": {"user_id": 7, "template": "welcome"}},
    {"actor": "send_email", "kwargs": {"user_id": 7, "template": "receipt", "variables": {"name": "Zoë"}}},
    {"actor": "make_thumbnail", "kwargs": {"source": "s3://img/cat.png", "width": 128}},
    {
        "actor": "refund",
        "kwargs": {
            "order_id": ORDER_ID,
            "amount": "9.90",
            "reason": "damaged",
            "requested_at": "2024-05-02T10:00:00Z",
        },
    },
]


@functools.cache
def node_major(binary: str) -> int:
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    return int(version.strip().lstrip("v").split(".")[0])


def node() -> str:
    """The node binary, once the example's dependencies are installed (skip without; fail in CI)."""
    binary = need("node")
    assert node_major(binary) >= 20, "the producer needs Node.js 20 or later (ioredis 6, String.isWellFormed)"
    if not (NODE_DIR / "node_modules").is_dir():
        message = (
            "examples/producers/node/node_modules is missing: run npm ci --prefix examples/producers/node"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return binary


def run_node(*args: str, stdin: str = "", cwd: Path = NODE_DIR) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [node(), *args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def produce(target: list[str], requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run the producer once for a batch; return one result per request."""
    done = run_node("produce.js", *target, "--batch", stdin="".join(json.dumps(r) + "\n" for r in requests))
    assert done.returncode in (0, 1), done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(results) == len(requests), done.stderr
    assert done.returncode == (0 if all(r["ok"] for r in results) else 1)
    return results


def encode(message: dict[str, Any]) -> bytes:
    """A message encoded as the Node producer and Dramatiq do: compact UTF-8 JSON."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def raw_message(actor: str, kwargs: Any, queue: str, **options: Any) -> dict[str, Any]:
    """A message built with the recipe, but never validated: what a careless producer sends."""
    return {
        "queue_name": queue,
        "actor_name": actor,
        "args": [],
        "kwargs": kwargs,
        "options": options,
        "message_id": str(uuid.uuid4()),
        "message_timestamp": int(time.time() * 1000),
    }


class Harness:
    """The example app on one real broker, a worker for it, and a look inside the broker."""

    kind: str
    target: list[str]
    broker: dramatiq.Broker

    def __init__(self) -> None:
        self.recorder: Recorder = build_app(self.broker)
        self.broker.emit_after("process_boot")
        dramatiq.set_broker(self.broker)
        self.worker: Worker | None = None

    def start_worker(self) -> None:
        self.worker = Worker(self.broker, worker_timeout=100, worker_threads=2)
        self.worker.start()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.broker.close()

    def wait_for_calls(self, count: int) -> list[Any]:
        calls = self.recorder.wait_for(count, WAIT_SECONDS)
        assert len(calls) >= count, f"only {len(calls)} of {count} calls ran: {calls}"
        return calls

    def depths(self) -> dict[str, int]:
        """Messages waiting in each queue of the app, its delay queue and its dead-letter queue."""
        raise NotImplementedError

    def enqueue_raw(self, queue: str, body: bytes, rid: str) -> None:
        """Store ``body`` in ``queue`` with the recipe, unchecked (Redis: under the id ``rid``)."""
        raise NotImplementedError

    def dead_letters(self, queue: str, count: int) -> list[tuple[bytes, dict[str, Any]]]:
        """Wait for ``count`` dead letters in ``<queue>.XQ``: (body, the gateway's reason)."""
        raise NotImplementedError


class RedisHarness(Harness):
    kind = "redis"

    def __init__(self, server: Any) -> None:
        self.client = server.client()
        self.client.flushall()
        self.target = ["--redis", server.url]
        self.broker = redis_broker(server.url)
        super().__init__()

    def stop(self) -> None:
        super().stop()
        self.client.close()

    def depths(self) -> dict[str, int]:
        found = {}
        for queue in QUEUES:
            found[queue] = self.client.llen(f"dramatiq:{queue}")
            found[f"{queue}.DQ"] = self.client.llen(f"dramatiq:{queue}.DQ")
            found[f"{queue}.XQ"] = self.client.zcard(f"dramatiq:{queue}.XQ")
        return found

    def stored(self, queue: str) -> list[tuple[str, dict[str, Any]]]:
        """The (id, message) pairs of one Redis list, in order, read from its hash."""
        ids = [rid.decode() for rid in self.client.lrange(f"dramatiq:{queue}", 0, -1)]
        return [(rid, json.loads(self.client.hget(f"dramatiq:{queue}.msgs", rid))) for rid in ids]

    def enqueue_raw(self, queue: str, body: bytes, rid: str) -> None:
        with self.client.pipeline(transaction=True) as pipe:  # MULTI/EXEC, as the recipe says
            pipe.hset(f"dramatiq:{queue}.msgs", rid, body)
            pipe.rpush(f"dramatiq:{queue}", rid)
            pipe.execute()

    def dead_letters(self, queue: str, count: int) -> list[tuple[bytes, dict[str, Any]]]:
        deadline = time.monotonic() + WAIT_SECONDS
        while self.client.zcard(f"dramatiq:{queue}.XQ") < count and time.monotonic() < deadline:
            time.sleep(0.05)
        found = []
        for rid in self.client.zrange(f"dramatiq:{queue}.XQ", 0, -1):
            body = self.client.hget(f"dramatiq:{queue}.XQ.msgs", rid)
            reason = self.client.hget(f"dramatiq:{queue}.XQ.reasons", rid)
            found.append((body, json.loads(reason) if reason is not None else {}))
        return found


class RabbitmqHarness(Harness):
    kind = "rabbitmq"

    def __init__(self, server: Any) -> None:
        self.server = server
        self.connection = server.connection()
        channel = self.connection.channel()
        for queue in QUEUES:  # fixed names, from the schemas: start each test with none of them
            for name in (queue, f"{queue}.DQ", f"{queue}.XQ"):
                channel.queue_delete(name)
        channel.close()
        self.target = ["--amqp", server.url]
        self.broker = rabbitmq_broker(server.url, confirm_delivery=True)
        super().__init__()

    def stop(self) -> None:
        super().stop()
        self.connection.close()

    def depth(self, name: str) -> int:
        """Ready messages in one queue; -1 when the queue does not exist."""
        channel = self.connection.channel()
        try:
            count = channel.queue_declare(name, passive=True).method.message_count
        except pika.exceptions.ChannelClosedByBroker as closed:
            assert closed.reply_code == 404, closed
            return -1
        channel.close()
        return int(count)

    def depths(self) -> dict[str, int]:
        return {
            name: max(self.depth(name), 0)
            for queue in QUEUES
            for name in (queue, f"{queue}.DQ", f"{queue}.XQ")
        }

    def declare_as_dramatiq(self) -> None:
        for queue in QUEUES:
            self.broker.declare_queue(queue, ensure=True)

    def enqueue_raw(self, queue: str, body: bytes, rid: str) -> None:
        self.declare_as_dramatiq()
        channel = self.connection.channel()
        channel.confirm_delivery()
        channel.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=2))
        channel.close()

    def dead_letters(self, queue: str, count: int) -> list[tuple[bytes, dict[str, Any]]]:
        deadline = time.monotonic() + WAIT_SECONDS
        while self.depth(f"{queue}.XQ") < count and time.monotonic() < deadline:
            time.sleep(0.05)
        channel = self.connection.channel()
        found = []
        while True:
            method, properties, body = channel.basic_get(f"{queue}.XQ", auto_ack=True)
            if method is None:
                break
            reason = (properties.headers or {}).get("x-actorschema-reason")
            if isinstance(reason, bytes):
                reason = reason.decode()
            found.append((body, json.loads(reason) if reason is not None else {}))
        channel.close()
        return found


# The servers are asked for by name: the params carry their markers.
@pytest.fixture(
    params=[
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("rabbitmq", marks=pytest.mark.rabbitmq),
    ]
)
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    node()
    if request.param == "redis":
        made: Harness = RedisHarness(request.getfixturevalue("redis_server"))
    else:
        made = RabbitmqHarness(request.getfixturevalue("rabbitmq_server"))
    yield made
    made.stop()


@pytest.fixture
def redis_harness(redis_server: Any) -> Iterator[RedisHarness]:
    node()
    made = RedisHarness(redis_server)
    yield made
    made.stop()


#: Every queue of the app, its delay queue and its dead-letter queue, empty.
EMPTY = {name: 0 for queue in QUEUES for name in (queue, f"{queue}.DQ", f"{queue}.XQ")}


# --- One contract: the app the worker runs is the one schemas/ describes --------------------------


def test_the_worker_app_generates_the_committed_schemas() -> None:
    broker = StubBroker()
    build_app(broker)
    files = render(broker)
    assert sorted(files) == sorted(p.name for p in SCHEMAS.glob("*.json"))
    for name, text in files.items():
        assert (SCHEMAS / name).read_text() == text, f"schemas/{name} is not what the worker app generates"
    assert sorted(broker.actors) == sorted(shop.broker.actors)


# --- Valid messages, every actor, both brokers ------------------------------------------------


def test_every_actor_runs_on_the_worker(harness: Harness) -> None:
    results = produce(harness.target, VALID)
    assert all(r["ok"] for r in results), results
    sent = [r["message"] for r in results]
    expected = {"orders": 2, "emails": 2, "images": 1}
    assert harness.depths() == {**EMPTY, **expected}

    if isinstance(harness, RedisHarness):
        # The recipe: the list holds ids, the hash holds the bodies under the same ids, and each
        # body says so in options.redis_message_id (a uuid4 of its own, not the message_id).
        by_id = {m["message_id"]: m for m in sent}
        for queue, count in expected.items():
            stored = harness.stored(queue)
            assert len(stored) == count
            for rid, message in stored:
                assert message == by_id[message["message_id"]]
                assert message["options"] == {"redis_message_id": rid}
                assert uuid.UUID(rid).version == 4 and rid != message["message_id"]
                assert list(message) == [
                    "queue_name",
                    "actor_name",
                    "args",
                    "kwargs",
                    "options",
                    "message_id",
                    "message_timestamp",
                ]
    else:
        # Dramatiq declares the same queues without a 406: the arguments are identical.
        harness.declare_as_dramatiq()
        channel = harness.connection.channel()
        method, properties, body = channel.basic_get("orders", auto_ack=False)
        assert properties.delivery_mode == 2 and not properties.headers and json.loads(body) in sent
        channel.basic_nack(method.delivery_tag, requeue=True)
        channel.close()

    harness.start_worker()
    calls = harness.wait_for_calls(len(VALID))
    time.sleep(0.3)  # no duplicate delivery either
    assert len(harness.recorder.calls) == len(VALID)
    by_message = harness.recorder.by_message_id()
    for message in sent:
        call = by_message[message["message_id"]]
        assert (call.actor, call.queue_name, call.args) == (message["actor_name"], message["queue_name"], ())
        assert sorted(call.kwargs) == sorted(message["kwargs"])
    assert len(calls) == len(VALID)

    harness.worker.stop()  # type: ignore[union-attr]
    harness.worker = None
    assert harness.depths() == EMPTY  # every message acked, none dead-lettered
    if isinstance(harness, RedisHarness):
        # acked by the id it was stored under: no body is left behind to re-run after a restart
        assert sorted(k.decode() for k in harness.client.keys("dramatiq:*.msgs")) == []


def test_arguments_arrive_as_the_declared_python_types(harness: Harness) -> None:
    results = produce(harness.target, VALID)
    harness.start_worker()
    harness.wait_for_calls(len(VALID))
    calls = harness.recorder.by_message_id()
    place_order, welcome, receipt, thumbnail, refund = (calls[r["message"]["message_id"]] for r in results)

    order = place_order.kwargs["order"]
    assert isinstance(order, shop.Order)
    assert order.order_id == uuid.UUID(ORDER_ID)
    assert order.placed_at == datetime.datetime(
        2024, 5, 1, 9, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=2))
    )
    assert order.currency is shop.Currency.USD
    assert [type(item) for item in order.items] == [shop.LineItem, shop.LineItem]
    assert [item.unit_price for item in order.items] == [Decimal("9.90"), Decimal("12.5")]
    assert place_order.kwargs["notify"] is False

    assert welcome.kwargs == {"user_id": 7, "template": "welcome"}
    assert receipt.kwargs == {"user_id": 7, "template": "receipt", "variables": {"name": "Zoë"}}
    assert thumbnail.kwargs == {"source": "s3://img/cat.png", "width": 128}

    assert refund.kwargs["order_id"] == uuid.UUID(ORDER_ID)
    assert refund.kwargs["amount"] == Decimal("9.90") and isinstance(refund.kwargs["amount"], Decimal)
    assert refund.kwargs["requested_at"] == datetime.datetime(2024, 5, 2, 10, tzinfo=datetime.UTC)


def test_a_delayed_message_runs_after_its_eta(harness: Harness) -> None:
    delay_ms = 3000
    results = produce(
        harness.target,
        [
            {"actor": "make_thumbnail", "kwargs": {"source": "late.png"}, "delayMs": delay_ms},
            {"actor": "send_email", "kwargs": {"user_id": 1, "template": "welcome"}},
        ],
    )
    delayed, now = results[0]["message"], results[1]["message"]
    assert delayed["queue_name"] == "images.DQ"
    eta = delayed["options"]["eta"]
    assert eta - delayed["message_timestamp"] == delay_ms
    assert harness.depths() == {**EMPTY, "images.DQ": 1, "emails": 1}

    harness.start_worker()
    calls = harness.wait_for_calls(2)
    assert [c.message_id for c in calls] == [now["message_id"], delayed["message_id"]]
    ran = calls[1]
    assert ran.queue_name == "images"  # moved from the delay queue by the worker, at its eta
    assert eta <= ran.at_ms < eta + WAIT_SECONDS * 1000
    assert calls[0].at_ms < eta


# --- Refusals: nothing reaches the broker -----------------------------------------------------


def oversize_email() -> dict[str, Any]:
    return {
        "actor": "send_email",
        "kwargs": {"user_id": 1, "template": "welcome", "variables": {"body": "é" * 2100}},
    }


REFUSED = [
    # (request, kind, [(instancePath, message fragment)])
    (
        {
            "actor": "place_order",
            "kwargs": {"order": {**ORDER, "items": [{**ORDER["items"][0], "quantity": 0}]}},
        },
        "invalid",
        [("/kwargs/order/items/0/quantity", "must be >= 1")],
    ),
    (
        {"actor": "make_thumbnail", "kwargs": {"source": "a.png", "height": 10}},
        "invalid",
        [("/kwargs", "must NOT have additional properties: 'height'")],
    ),
    (
        {"actor": "send_email", "kwargs": {"user_id": "7", "template": "goodbye"}},
        "invalid",
        [
            ("/kwargs/template", 'allowed values: "welcome", "receipt", "password-reset"'),
            ("/kwargs/user_id", "must be integer"),
        ],
    ),
    (
        {
            "actor": "refund",
            "kwargs": {"order_id": "12", "amount": "lots", "reason": "x", "requested_at": "2024-05-02 10:00"},
        },
        "invalid",
        [
            ("/kwargs/order_id", 'must match format "uuid"'),
            ("/kwargs/amount", "must match a schema in anyOf"),
            ("/kwargs/requested_at", 'must match format "date-time"'),
        ],
    ),
    (
        {"actor": "place_order", "kwargs": {"notify": True}},
        "invalid",
        [("/kwargs", "must have required property 'order'")],
    ),
    (
        {"actor": "make_thumbnail", "kwargs": {"source": "a.png"}, "options": {"eta": "soon"}},
        "invalid",
        [("/options/eta", "must be number")],
    ),
    (oversize_email(), "too_large", [("/kwargs/variables", "bytes")]),
    ({"actor": "delete_everything", "kwargs": {}}, "unknown_actor", []),
]


def test_invalid_messages_are_refused_with_paths_and_nothing_is_enqueued(harness: Harness) -> None:
    if isinstance(harness, RabbitmqHarness):
        harness.declare_as_dramatiq()  # so that "empty" means empty, not absent
    results = produce(harness.target, [request for request, _, _ in REFUSED])
    for result, (request, kind, problems) in zip(results, REFUSED, strict=True):
        assert not result["ok"], request
        error = result["error"]
        assert (error["kind"], error["actor"]) == (kind, request["actor"])
        assert error["message"].startswith(f"actor '{request['actor']}': ")
        for path, fragment in problems:
            assert any(p["path"] == path and fragment in p["message"] for p in error["problems"]), (
                path,
                error,
            )
            assert f"\n  - {path}: " in error["message"]
    too_large = results[REFUSED.index(next(r for r in REFUSED if r[1] == "too_large"))]["error"]
    assert too_large["limit"] == 4096 and too_large["size"] > 4096
    assert harness.depths() == EMPTY
    if isinstance(harness, RedisHarness):
        assert harness.client.keys("*") == []


def test_the_size_limit_is_exact_and_the_worker_agrees(redis_harness: RedisHarness) -> None:
    """4096 bytes (UTF-8, as stored, redis_message_id included) pass and run; 4097 are refused."""

    def email(pad: str) -> dict[str, Any]:
        return {
            "actor": "send_email",
            "kwargs": {"user_id": 1, "template": "welcome", "variables": {"p": pad}},
        }

    (probe,) = produce(["--dry-run"], [email("")])
    base = probe["bytes"] + len('"redis_message_id":""') + 36  # the id Redis adds: a uuid4
    fill = 4096 - base
    at_limit, over = produce(
        redis_harness.target, [email("é" * 100 + "x" * (fill - 200)), email("é" * 100 + "x" * (fill - 199))]
    )
    assert at_limit["ok"] and at_limit["bytes"] == 4096
    assert (
        redis_harness.client.hstrlen(
            "dramatiq:emails.msgs", at_limit["message"]["options"]["redis_message_id"]
        )
        == 4096
    )
    assert not over["ok"] and (over["error"]["size"], over["error"]["limit"]) == (4097, 4096)
    assert redis_harness.client.llen("dramatiq:emails") == 1

    redis_harness.start_worker()
    (call,) = redis_harness.wait_for_calls(1)
    assert call.message_id == at_limit["message"]["message_id"]
    assert redis_harness.depths()["emails.XQ"] == 0


def test_the_cli_prints_the_stored_message_or_the_reasons(redis_harness: RedisHarness) -> None:
    target = redis_harness.target
    ok = run_node("produce.js", *target, "send_email", json.dumps({"user_id": 3, "template": "welcome"}))
    assert ok.returncode == 0, ok.stderr
    message = json.loads(ok.stdout)
    [(rid, stored)] = redis_harness.stored("emails")
    assert stored == message and message["options"]["redis_message_id"] == rid

    bad = {"order": {**ORDER, "items": [{**ORDER["items"][0], "quantity": 0}]}}
    refused = run_node("produce.js", *target, "place_order", json.dumps(bad))
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.splitlines() == [
        "actor 'place_order': the message does not match place_order.schema.json",
        "  - /kwargs/order/items/0/quantity: must be >= 1",
    ]
    assert redis_harness.client.llen("dramatiq:orders") == 0

    usage = run_node("produce.js", "send_email", "{}")
    assert usage.returncode == 2 and "usage:" in usage.stderr


def test_queues_with_other_arguments_are_refused_not_redeclared(rabbitmq_server: Any) -> None:
    """RabbitMQ checks declared arguments: the producer's equal Dramatiq's because a mismatch fails."""
    made = RabbitmqHarness(rabbitmq_server)
    try:
        made.declare_as_dramatiq()
        ok = produce(made.target, [VALID[1]])
        assert ok[0]["ok"]
        mismatch = run_node(
            "produce.js", *made.target, "--max-priority", "10", "send_email", json.dumps(VALID[1]["kwargs"])
        )
        assert mismatch.returncode == 3
        assert "PRECONDITION_FAILED" in mismatch.stderr and "x-max-priority" in mismatch.stderr
        assert made.depth("emails") == 1
    finally:
        made.stop()


# --- What bypasses the producer's checks: the worker-side gateway dead-letters it ----------------


def test_a_raw_message_that_breaks_the_schema_is_dead_lettered_and_the_worker_goes_on(
    harness: Harness,
) -> None:
    bad_order = {**ORDER, "items": [{**ORDER["items"][0], "quantity": 0}]}
    rid = str(uuid.uuid4())
    options = {"redis_message_id": rid} if harness.kind == "redis" else {}
    bad = raw_message("place_order", {"order": bad_order}, "orders", **options)
    harness.enqueue_raw("orders", encode(bad), rid)
    (good,) = produce(harness.target, [VALID[0]])

    harness.start_worker()
    (call,) = harness.wait_for_calls(1)
    assert call.message_id == good["message"]["message_id"]
    [(body, reason)] = harness.dead_letters("orders", 1)
    assert json.loads(body)["message_id"] == bad["message_id"]
    assert (reason["actor"], reason["message_id"], reason["queue"]) == (
        "place_order",
        bad["message_id"],
        "orders",
    )
    assert reason["reason"]
    assert any("items" in v["path"] and "quantity" in v["path"] for v in reason["violations"]), reason
    time.sleep(0.3)
    assert len(harness.recorder.calls) == 1  # the bad message never reached the actor


def edge_requests() -> list[dict[str, Any]]:
    """The edge corpus of the date-time and uuid forms, at every place the shop's schemas hold them."""
    refund = VALID[-1]["kwargs"]
    requests = [
        {"actor": "refund", "kwargs": {**refund, "requested_at": value}} for value in EDGES["date-time"]
    ]
    requests += [{"actor": "refund", "kwargs": {**refund, "order_id": value}} for value in EDGES["uuid"]]
    requests += [
        {"actor": "place_order", "kwargs": {"order": {**ORDER, "placed_at": value}}}
        for value in EDGES["date-time"]
    ]
    requests += [
        {"actor": "place_order", "kwargs": {"order": {**ORDER, "order_id": value}}} for value in EDGES["uuid"]
    ]
    return requests


def test_the_edge_corpus_through_the_node_producer(redis_harness: RedisHarness) -> None:
    """What the producer (ajv + ajv-formats) accepts runs on the worker; what it refuses, the worker would
    dead-letter: stored raw, unchecked, every refused message lands in the dead-letter queue."""
    requests = edge_requests()
    results = produce(redis_harness.target, requests)
    accepted = [result["message"] for result in results if result["ok"]]
    refused = [request for request, result in zip(requests, results, strict=True) if not result["ok"]]
    assert accepted and refused
    for result in results:
        if not result["ok"]:
            assert result["error"]["kind"] == "invalid", result
            assert all(p["path"].startswith("/kwargs/") for p in result["error"]["problems"]), result
    for request in refused:
        rid = str(uuid.uuid4())
        body = encode(_raw(request["actor"], request["kwargs"], "orders", rid))
        redis_harness.enqueue_raw("orders", body, rid)

    redis_harness.start_worker()
    redis_harness.wait_for_calls(len(accepted))
    dead = redis_harness.dead_letters("orders", len(refused))
    time.sleep(0.3)
    ran = redis_harness.recorder.by_message_id()
    assert sorted(ran) == sorted(message["message_id"] for message in accepted)
    assert len(dead) == len(refused)
    assert all(reason["violations"] for _, reason in dead)
    redis_harness.worker.stop()  # type: ignore[union-attr]
    redis_harness.worker = None
    assert redis_harness.depths() == {**EMPTY, "orders.XQ": len(refused)}


def _raw(actor: str, kwargs: dict[str, Any], queue: str, rid: str | None, **extra: Any) -> dict[str, Any]:
    message = raw_message(actor, kwargs, queue, **({} if rid is None else {"redis_message_id": rid}))
    return {**message, **extra}


#: mistake -> (queue, the message as sent, or None when the body is not JSON), given the stored id.
RAW_MISTAKES: dict[str, Callable[[str], tuple[str, dict[str, Any] | None]]] = {
    "wrong type": lambda rid: (
        "emails",
        _raw("send_email", {"user_id": "one", "template": "welcome"}, "emails", rid),
    ),
    "unknown kwarg": lambda rid: (
        "images",
        _raw("make_thumbnail", {"source": "a.png", "height": 1}, "images", rid),
    ),
    "extra top-level field": lambda rid: (
        "images",
        _raw("make_thumbnail", {"source": "a.png"}, "images", rid, priority=1),
    ),
    "queue_name not the queue": lambda rid: (
        "emails",
        _raw("send_email", {"user_id": 1, "template": "welcome"}, "orders", rid),
    ),
    "missing redis_message_id": lambda rid: (
        "emails",
        _raw("send_email", {"user_id": 1, "template": "welcome"}, "emails", None),
    ),
    "redis_message_id not the stored id": lambda rid: (
        "emails",
        _raw("send_email", {"user_id": 1, "template": "welcome"}, "emails", str(uuid.uuid4())),
    ),
    "over the size limit": lambda rid: (
        "emails",
        _raw(
            "send_email", {"user_id": 1, "template": "welcome", "variables": {"p": "x" * 5000}}, "emails", rid
        ),
    ),
    "undecodable body": lambda rid: ("emails", None),
}


@pytest.mark.parametrize("mistake", sorted(RAW_MISTAKES))
def test_raw_mistakes_are_dead_lettered_with_a_reason_on_redis(
    redis_harness: RedisHarness, mistake: str
) -> None:
    rid = str(uuid.uuid4())
    queue, message = RAW_MISTAKES[mistake](rid)
    redis_harness.enqueue_raw(queue, b"\xff{not json" if message is None else encode(message), rid)
    good = produce(redis_harness.target, [VALID[1], VALID[3], VALID[0]])

    redis_harness.start_worker()
    calls = redis_harness.wait_for_calls(3)
    assert {c.message_id for c in calls} == {g["message"]["message_id"] for g in good}
    [(_, reason)] = redis_harness.dead_letters(queue, 1)
    assert reason["reason"] and reason["queue"] == queue, reason
    if message is not None:
        assert (reason["actor"], reason["message_id"]) == (message["actor_name"], message["message_id"])
    time.sleep(0.3)
    assert len(redis_harness.recorder.calls) == 3  # the bad one never ran, the good ones once each
    assert redis_harness.depths() == {**EMPTY, f"{queue}.XQ": 1}


# --- The Node.js package itself -----------------------------------------------------------------


def test_node_unit_tests_pass() -> None:
    done = run_node("--test", "test/")
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^# fail 0$", done.stdout, re.M) and re.search(r"^# pass [1-9]", done.stdout, re.M)


def test_committed_typescript_types_are_current(tmp_path: Path) -> None:
    done = run_node("scripts/generate-types.js", "--schemas", str(SCHEMAS), "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    committed = {p.name: p.read_text() for p in (NODE_DIR / "types").glob("*.d.ts")}
    generated = {p.name: p.read_text() for p in tmp_path.glob("*.d.ts")}
    assert generated == committed, "run: node scripts/generate-types.js (in examples/producers/node)"


def test_typescript_accepts_valid_kwargs_and_rejects_wrong_ones(tmp_path: Path) -> None:
    tsc = str(NODE_DIR / "node_modules" / "typescript" / "bin" / "tsc")
    node()
    done = run_node(tsc, "--noEmit", "-p", ".")
    assert done.returncode == 0, done.stdout + done.stderr

    # The same file without its expect-error directives: each wrong call is a compile error.
    source = (NODE_DIR / "types.test.ts").read_text()
    expected = [i + 2 for i, line in enumerate(source.splitlines()) if line.startswith("// @ts-expect-error")]
    assert len(expected) == 6
    stripped = re.sub(r"^// @ts-expect-error.*$", "", source, flags=re.M)
    stripped = stripped.replace('"./', f'"{NODE_DIR.as_posix()}/').replace(
        '"../../../schemas/"', f'"{SCHEMAS.as_uri()}/"'
    )
    (tmp_path / "wrong.mts").write_text(stripped)
    types_root = str(NODE_DIR / "node_modules" / "@types")
    options = [
        "--strict",
        "--target",
        "es2022",
        "--module",
        "nodenext",
        "--types",
        "node",
        "--typeRoots",
        types_root,
    ]
    failed = run_node(tsc, "--noEmit", *options, "wrong.mts", cwd=tmp_path)
    assert failed.returncode != 0
    errors = re.findall(r"^wrong\.mts\((\d+),\d+\): error (TS\d+)", failed.stdout, re.M)
    assert sorted({int(line) for line, _ in errors}) == expected, failed.stdout


def test_the_package_lock_pins_what_the_package_needs() -> None:
    package = json.loads((NODE_DIR / "package.json").read_text())
    lock = json.loads((NODE_DIR / "package-lock.json").read_text())
    assert set(package["dependencies"]) == {"ajv", "ajv-formats", "ioredis", "amqplib"}
    for name in [*package["dependencies"], *package["devDependencies"]]:
        assert f"node_modules/{name}" in lock["packages"], name
    assert "node_modules/" in (NODE_DIR / ".gitignore").read_text().splitlines()


# --- The README section "Producing from other languages": every block runs ---------------------

DOCS = ROOT / "README.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.S | re.M)


def docs_text() -> str:
    """The README's section for producers in other languages, up to the next section."""
    readme = DOCS.read_text()
    start = readme.index("\n## Producing from other languages\n")
    end = readme.index("\n## ", start + 1)
    return readme[start:end]


def doc_blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(docs_text()) if lang == language]


def doc_commands() -> list[str]:
    return [line.removeprefix("$ ") for block in doc_blocks("console") for line in block.splitlines()]


def doc_command(prefix: str) -> str:
    (command,) = [c for c in doc_commands() if c.startswith(prefix)]
    return command


def test_docs_have_the_blocks_these_tests_run() -> None:
    assert [lang for lang, _ in BLOCK.findall(docs_text())] == [
        "python",
        "console",
        "console",
        "text",
        "python",
        "python",
        "text",
    ]
    assert all(line.startswith("$ ") for block in doc_blocks("console") for line in block.splitlines())
    assert len(doc_commands()) == 4


def test_docs_envelope_validates_and_a_worker_runs_it_as_stored(redis_harness: RedisHarness) -> None:
    """The first python block: the seven fields, validated and measured; enqueued by the recipe, it runs."""
    source = doc_blocks("python")[0]
    done = subprocess.run(
        [sys.executable, "-c", source], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    scope: dict[str, Any] = {}
    exec(compile(source, str(DOCS), "exec"), scope)  # the docs' own block
    message, body = scope["message"], scope["body"]
    assert done.stdout == f"emails {len(body)}\n"

    (produced,) = produce(["--dry-run"], [VALID[1]])
    assert list(message) == list(produced["message"])  # the fields the Node producer writes, in order
    redis_harness.enqueue_raw("emails", body, message["options"]["redis_message_id"])
    redis_harness.start_worker()
    (call,) = redis_harness.wait_for_calls(1)
    assert (call.actor, call.message_id, call.kwargs) == (
        "send_email",
        message["message_id"],
        message["kwargs"],
    )
    redis_harness.worker.stop()  # type: ignore[union-attr]
    redis_harness.worker = None
    assert redis_harness.depths() == EMPTY and redis_harness.client.keys("dramatiq:*.msgs") == []


def test_docs_npm_ci_installs_the_lockfile(tmp_path: Path) -> None:
    command = doc_command("npm ci ")
    assert command == "npm ci --prefix examples/producers/node"
    npm = need("npm")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(NODE_DIR / name, tmp_path / name)
    done = subprocess.run(
        [npm, "ci", "--prefix", str(tmp_path), "--prefer-offline", "--no-audit", "--no-fund"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "node_modules" / "ajv" / "package.json").is_file()


def run_doc_command(command: str, **urls: str) -> subprocess.CompletedProcess[str]:
    for shown, real in urls.items():
        assert shown in command
        command = command.replace(shown, real)
    node()
    return subprocess.run(
        ["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_docs_redis_command_enqueues(redis_harness: RedisHarness, redis_server: Any) -> None:
    command = doc_command("node examples/producers/node/produce.js --redis ")
    done = run_doc_command(command, **{"redis://127.0.0.1:6379/0": redis_server.url})
    assert done.returncode == 0, done.stderr
    [(rid, stored)] = redis_harness.stored("emails")
    assert stored == json.loads(done.stdout) and stored["options"] == {"redis_message_id": rid}
    assert stored["kwargs"] == {"user_id": 7, "template": "welcome"}


def test_docs_amqp_command_enqueues_a_delayed_message(rabbitmq_server: Any) -> None:
    made = RabbitmqHarness(rabbitmq_server)
    try:
        command = doc_command("node examples/producers/node/produce.js --amqp ")
        done = run_doc_command(command, **{"amqp://guest:guest@127.0.0.1:5672": rabbitmq_server.url})
        assert done.returncode == 0, done.stderr
        message = json.loads(done.stdout)
        assert message["queue_name"] == "images.DQ"
        assert message["options"]["eta"] == message["message_timestamp"] + 60000
        assert made.depths() == {**EMPTY, "images.DQ": 1}
    finally:
        made.stop()


def test_docs_refusal_prints_what_the_docs_show() -> None:
    done = run_doc_command(doc_command("node examples/producers/node/produce.js --dry-run "))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == doc_blocks("text")[0]


def test_docs_worker_block_builds_the_broker(redis_server: Any) -> None:
    """The second python block: actorschema.brokers with the gateway (the shop's limits)."""
    source = doc_blocks("python")[1]
    assert 'url="redis://127.0.0.1:6379/0"' in source
    source = source.replace("redis://127.0.0.1:6379/0", redis_server.url)
    done = subprocess.run(
        [sys.executable, "-c", source + "\nprint(type(broker).__module__, broker.client.ping())"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["actorschema.brokers.redis", "True"]
    assert 'PayloadGateway(queue_limits={"images": 16 * 1024})' in source
    assert dict(shop_gateway().queue_limits) == {"images": 16 * 1024}
