"""On Redis, the dead-letter reasons go with their messages, entry by entry, and are never reported once gone.

Dramatiq's own maintenance (on a random ``maintenance_chance`` of its commands)
removes dead letters older than ``dead_message_ttl``: their reasons in
``<ns>:<queue>.XQ.reasons`` go with them (in the very fetch transaction with the
drop-in broker, at the same chance after acks and nacks with Dramatiq's), and
``dead_letter_reasons`` reports only messages still in ``<queue>.XQ``.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import dramatiq
import pytest
from conftest import wait_until
from dramatiq import Worker
from dramatiq.brokers.redis import MAINTENANCE_SCALE
from dramatiq.brokers.redis import RedisBroker as DramatiqRedisBroker
from dramatiq.common import current_millis
from servers import RedisServer

from actorschema import PayloadGateway, dead_letter_reasons
from actorschema.brokers import RedisBroker as GuardedRedisBroker
from actorschema.consume.deadletters import prune_redis_reasons, reasons_key, store_redis_reason


class RedisApp:
    """A producer without the gateway and a worker with it, on one namespace of the test Redis."""

    def __init__(self, url: str, broker_class: type[Any], **options: Any) -> None:
        self.namespace = f"edges-{uuid.uuid4().hex[:8]}"
        self.producer = DramatiqRedisBroker(url=url, namespace=self.namespace)
        self.broker = broker_class(url=url, namespace=self.namespace, **options)
        self.broker.add_middleware(PayloadGateway())
        self.ran: list[int] = []

        def count(n: int) -> None:
            self.ran.append(n)

        for broker in (self.producer, self.broker):
            dramatiq.actor(count, broker=broker, max_retries=0)
        self.client = self.broker.client

    def dead_letter(self, count: int) -> set[str]:
        """Have the worker dead-letter ``count`` bad messages; return their ids in ``<q>.XQ``."""
        before = set(self.xq())
        for _ in range(count):
            self.producer.get_actor("count").send("many")  # the producer runs no gateway
        worker = Worker(self.broker, worker_timeout=50, worker_threads=1)
        worker.start()
        try:
            wait_until(lambda: len(set(self.xq()) - before) == count, f"{count} more dead letters", 20)
            self.broker.join("default", timeout=10_000)
        finally:
            worker.stop()
        return set(self.xq()) - before

    def xq(self) -> list[str]:
        return [key.decode() for key in self.client.zrange(f"{self.namespace}:default.XQ", 0, -1)]

    def stored_reasons(self) -> set[str]:
        return {key.decode() for key in self.client.hkeys(reasons_key(self.namespace, "default"))}


@pytest.mark.parametrize(
    "broker_class", [DramatiqRedisBroker, GuardedRedisBroker], ids=["dramatiq", "drop-in"]
)
def test_reasons_go_entry_by_entry_with_dramatiqs_dead_letter_maintenance(
    broker_class: type[Any], redis_server: RedisServer, redis_client: Any
) -> None:
    # Maintenance on every command, and a dead-letter TTL short enough to see it expire.
    app = RedisApp(
        redis_server.url,
        broker_class,
        maintenance_chance=MAINTENANCE_SCALE,
        dead_message_ttl=1000,
        heartbeat_timeout=1000,
    )
    first = app.dead_letter(3)
    assert app.stored_reasons() == first and dead_letter_reasons(app.broker, "default").keys() == first
    time.sleep(1.1)  # the first three expire
    second = app.dead_letter(2)
    # Dramatiq's maintenance removed the first three from the XQ: their reasons went with them,
    # and only theirs (the hash as a whole did not expire).
    assert set(app.xq()) == second
    assert app.stored_reasons() == second
    assert dead_letter_reasons(app.broker, "default").keys() == second
    assert app.ran == []


def test_dead_letter_reasons_never_reports_a_message_that_is_gone(
    redis_server: RedisServer, redis_client: Any
) -> None:
    app = RedisApp(redis_server.url, GuardedRedisBroker, maintenance_chance=0)
    kept, removed = sorted(app.dead_letter(2))
    # Gone by hand (requeued or deleted by an operator): no maintenance ran since.
    redis_client.zrem(f"{app.namespace}:default.XQ", removed)
    redis_client.hdel(f"{app.namespace}:default.XQ.msgs", removed)
    assert app.stored_reasons() == {kept, removed}
    assert dead_letter_reasons(app.broker, "default").keys() == {kept}
    # The next prune removes it from the hash too.
    assert (
        prune_redis_reasons(app.broker, "default", now=current_millis() + app.broker.heartbeat_timeout) == 1
    )
    assert app.stored_reasons() == {kept}


def test_a_reason_written_just_ahead_of_its_nack_is_not_pruned(
    redis_server: RedisServer, redis_client: Any
) -> None:
    app = RedisApp(redis_server.url, GuardedRedisBroker)
    now = current_millis()
    store_redis_reason(app.broker, "default", "in-flight", json.dumps({"dead_lettered_at": now}))
    assert prune_redis_reasons(app.broker, "default", now=now + 10) == 0
    assert app.stored_reasons() == {"in-flight"}
    # A heartbeat timeout later its worker is dead, and the message never reached the XQ.
    assert prune_redis_reasons(app.broker, "default", now=now + app.broker.heartbeat_timeout) == 1
    assert app.stored_reasons() == set()
