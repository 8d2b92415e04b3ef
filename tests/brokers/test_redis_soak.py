"""Soak: 20,000 messages on a real Redis, 10% malformed, 4 worker threads, under a minute.

Every good message must run exactly once (checked by its ``n``, unique per
message), every malformed one must end in ``<q>.XQ`` with its body unchanged
and a reason naming the bad path, and no worker or consumer thread may die.
The malformed ones are a deterministic mix of the shared catalogue
(``tests/helpers/malformed.py``: undecodable bodies, broken envelopes, arguments that
break the contract, Redis id mistakes), shuffled among the good ones with a
fixed seed. On top of the 20,000, ids listed without a body (``RPUSH`` without
``HSET``) are mixed in: they must be dropped without stranding their batch.

Run it alone with ``python -m pytest tests/brokers/test_redis_soak.py -q -s`` to see the throughput.
"""

from __future__ import annotations

import datetime
import json
import logging
import random
import time
import uuid
from typing import Any

import dramatiq
import pytest
from dramatiq import Worker
from helpers.malformed import CASES, REDIS_CASES, Item, valid_body

from actorschema import PayloadGateway
from actorschema.brokers import RedisBroker
from actorschema.consume.deadletters import dead_letter_reasons

pytestmark = [pytest.mark.redis, pytest.mark.slow]

TOTAL = 20_000
BAD = TOTAL // 10
ORPHANS = 100  # ids without a body, on top of TOTAL
THREADS = 4
BUDGET_SECONDS = 60
SEED = 20_000
CHUNK = 1_000
FIRST_GOOD_N = 100  # good messages are told apart by n; the bad ones carry n=1


def test_soak_20k_messages_10_percent_malformed(
    redis_server: Any, redis_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Keep the records that matter (one ERROR per dead letter); Dramatiq's per-message warnings go.
    caplog.set_level(logging.ERROR)
    started = time.monotonic()
    queue = f"soak_{uuid.uuid4().hex[:8]}"
    broker = RedisBroker(url=redis_server.url)
    broker.add_middleware(PayloadGateway())
    broker.emit_after("process_boot")
    received: list[tuple[Any, Any, Any]] = []

    def typed(n: int, when: datetime.datetime, item: Item) -> None:
        received.append((n, when, item))  # list.append is atomic: no lock needed

    dramatiq.actor(typed, broker=broker, queue_name=queue)

    # -- the messages: (rid or None for an orphan, body or None, expected path for a bad one) --
    rng = random.Random(SEED)
    kinds = CASES + REDIS_CASES
    plan: list[tuple[str, bytes | None, str | None]] = []
    good_ns = set()
    for n in range(FIRST_GOOD_N, FIRST_GOOD_N + TOTAL - BAD):
        rid = str(uuid.uuid4())
        plan.append((rid, json.dumps(valid_body(queue, n=n, redis_message_id=rid)).encode(), None))
        good_ns.add(n)
    bad_paths: dict[str, str] = {}
    bad_bodies: dict[str, bytes] = {}
    for index in range(BAD):
        case = kinds[index % len(kinds)]
        rid = str(uuid.uuid4())
        # The catalogue's cases start from valid_body's own n=1 (the NaN case rewrites '"n": 1').
        body = case.build(valid_body(queue, redis_message_id=rid))
        plan.append((rid, body, case.path))
        bad_paths[rid] = case.path
        bad_bodies[rid] = body
    orphans = [str(uuid.uuid4()) for _ in range(ORPHANS)]
    plan.extend((rid, None, None) for rid in orphans)
    rng.shuffle(plan)

    # -- enqueue in bulk: per chunk, the bodies first, then their ids (as MULTI/HSET/RPUSH would) --
    msgs_key, queue_key = f"dramatiq:{queue}.msgs", f"dramatiq:{queue}"
    with redis_client.pipeline(transaction=False) as pipe:
        for start in range(0, len(plan), CHUNK):
            chunk = plan[start : start + CHUNK]
            stored = {rid: body for rid, body, _ in chunk if body is not None}
            pipe.hset(msgs_key, mapping=stored)  # type: ignore[arg-type]
            pipe.rpush(queue_key, *(rid for rid, _, _ in chunk))
        pipe.execute()
    assert redis_client.llen(queue_key) == TOTAL + ORPHANS
    enqueued = time.monotonic()

    # -- work --
    worker = Worker(broker, worker_threads=THREADS, worker_timeout=100)
    acks_key = f"dramatiq:__acks__.{broker.broker_id}.{queue}"
    xq_key = f"dramatiq:{queue}.XQ"
    worker.start()
    try:
        deadline = started + BUDGET_SECONDS
        while len(received) < len(good_ns) or redis_client.zcard(xq_key) < BAD:
            assert time.monotonic() < deadline, (
                f"not done in {BUDGET_SECONDS} s: {len(received)}/{len(good_ns)} good ran, "
                f"{redis_client.zcard(xq_key)}/{BAD} dead-lettered, {redis_client.llen(queue_key)} still queued"
            )
            time.sleep(0.05)
        while redis_client.llen(queue_key) or redis_client.hlen(msgs_key) or redis_client.scard(acks_key):
            assert time.monotonic() < deadline, "the queue, its bodies and the ack set did not drain"
            time.sleep(0.05)
        worker.join()
        finished = time.monotonic()
        dead = [t.name for t in [*worker.workers, *worker.consumers.values()] if not t.is_alive()]
    finally:
        worker.stop()
        broker.close()

    # -- every good message exactly once, typed --
    ran = [call[0] for call in received]
    assert len(ran) == len(good_ns), f"{len(ran)} calls for {len(good_ns)} good messages"
    assert set(ran) == good_ns, "every good message ran (and no bad one)"
    when = datetime.datetime(2024, 5, 1, 10, 0, tzinfo=datetime.UTC)
    assert all(
        type(n) is int and type(w) is datetime.datetime and w == when and type(item) is Item
        for n, w, item in received
    )

    # -- every bad one dead-lettered, unchanged, with its reason; orphans dropped --
    xq = {rid.decode(): body for rid, body in redis_client.hgetall(f"{xq_key}.msgs").items()}
    assert redis_client.zcard(xq_key) == BAD
    assert xq == bad_bodies, "exactly the bad bodies, unchanged, under the ids they were stored under"
    reasons = dead_letter_reasons(broker, queue)
    assert len(reasons) == BAD
    wrong = {
        rid: path
        for rid, path in bad_paths.items()
        if path not in [v["path"] for v in reasons.get(rid, {"violations": []})["violations"]]
    }
    assert not wrong, f"{len(wrong)} reasons miss their path, e.g. {next(iter(wrong.items()))}"
    assert not any(redis_client.sismember(acks_key, rid) for rid in orphans[:10])
    assert dead == [], f"dead threads: {dead}"
    logged = [
        r
        for r in caplog.records
        if r.name == "actorschema" and getattr(r, "actorschema", {}).get("queue") == queue
    ]
    assert len(logged) == BAD, "one ERROR log record per dead letter"

    total = finished - started
    rate = (TOTAL + ORPHANS) / (finished - enqueued)
    print(
        f"\nsoak: {TOTAL:,} messages ({BAD:,} malformed, {len(kinds)} kinds) + {ORPHANS} bodiless ids, "
        f"{THREADS} worker threads: enqueued in {enqueued - started:.1f} s, processed in "
        f"{finished - enqueued:.1f} s ({rate:,.0f} messages/s), {total:.1f} s in all"
    )
    assert total < BUDGET_SECONDS
