"""Messages a stopped worker held come back, and the next worker runs them: none is lost or dead-lettered.

Dramatiq's Redis broker leaves fetched-but-unacked ids in the stopped worker's
``__acks__`` set; another worker's maintenance puts them back in the queue once
the first worker's heartbeat is stale. Their bodies are unchanged, so they
must pass the gateway's checks on the new worker like any other message.
"""

from __future__ import annotations

import datetime
import threading
import time
from typing import Any

import dramatiq
from dramatiq import Worker
from helpers.malformed import Item
from servers import RedisServer

from actorschema import PayloadGateway
from actorschema.brokers import RedisBroker


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
