"""A producer in another language offloads a value itself: the Node.js producer, a Python worker, real Redis."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from dramatiq import Worker
from helpers.claims import BIG, LIMIT

from actorschema import PayloadGateway
from actorschema.claims import (
    ClaimCheck,
    DirectoryStore,
    RedisStore,
    Reference,
)


@pytest.mark.node
@pytest.mark.parametrize("where", ["dir", "redis"])
def test_the_node_producer_offloads_and_a_python_worker_gets_the_value(
    redis_server: Any, redis_client: Any, tmp_path: Path, where: str
) -> None:
    from dramatiq.brokers.redis import RedisBroker
    from test_node_producer import run_node

    from actorschema.catalogue import write
    from actorschema.generate import render

    broker = RedisBroker(url=redis_server.url)
    broker.emit_after("process_boot")
    store: Any = DirectoryStore(tmp_path / "c") if where == "dir" else RedisStore(broker.client)
    broker.add_middleware(PayloadGateway(max_message_bytes=LIMIT, claim_check=ClaimCheck(store)))
    dramatiq.set_broker(broker)
    received: list[Any] = []

    @dramatiq.actor(claim_check=True, queue_name="ingest_q")
    def ingest(document: str, tag: str) -> None:
        received.append((len(document), tag))

    write(tmp_path / "schemas", render(broker))
    target = ["--claims-dir", str(tmp_path / "c")] if where == "dir" else ["--claims-redis"]
    request = {"actor": "ingest", "kwargs": {"document": BIG, "tag": "t"}}
    done = run_node(
        "produce.js",
        "--redis",
        redis_server.url,
        "--schemas",
        str(tmp_path / "schemas"),
        *target,
        "--batch",
        stdin=json.dumps(request) + "\n",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["ok"] and result["bytes"] <= LIMIT
    reference = Reference.parse(result["message"]["kwargs"]["document"])
    assert reference is not None and reference.store == store.name and reference.size == len(BIG) + 2
    assert store.get(reference.key) == json.dumps(BIG).encode()
    worker = Worker(broker, worker_timeout=50, worker_threads=1)
    worker.start()
    try:
        broker.join("ingest_q")
        worker.join()
    finally:
        worker.stop()
        broker.close()
    assert received == [(len(BIG), "t")]
    assert store.get(reference.key) is None  # the message succeeded: its blob is gone
