"""The example app under Dramatiq's own CLI worker, on a real Redis: what a user runs in production.

``dramatiq examples.shop`` with ``SHOP_REDIS_URL`` set runs the shop on
``actorschema.brokers.RedisBroker`` with the gateway: a valid message sent by
a producer is consumed and acked, a malformed one written by hand lands in
``<queue>.XQ`` with its reason, and the worker process keeps running.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from servers import RedisServer

# Dramatiq's own CLI worker in a subprocess: tens of seconds.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def raw_enqueue(client: Any, queue: str, body: dict[str, Any] | bytes) -> str:
    rid = str(uuid.uuid4())
    if isinstance(body, dict):
        body = json.dumps({**body, "options": {**body["options"], "redis_message_id": rid}}).encode()
    with client.pipeline(transaction=True) as pipe:
        pipe.hset(f"dramatiq:{queue}.msgs", rid, body)
        pipe.rpush(f"dramatiq:{queue}", rid)
        pipe.execute()
    return rid


def shop_env(redis_url: str) -> dict[str, str]:
    """The environment that runs ``examples.shop`` on the Redis at ``redis_url``."""
    return {**os.environ, "SHOP_REDIS_URL": redis_url, "PYTHONPATH": str(ROOT)}


def dead_letters_command(redis_url: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["actorschema", "dead-letters", "examples.shop", *options],
        cwd=ROOT,
        env=shop_env(redis_url),
        capture_output=True,
        text=True,
        check=False,
    )


def message(actor: str, queue: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    return {
        "queue_name": queue,
        "actor_name": actor,
        "args": [],
        "kwargs": kwargs,
        "options": {},
        "message_id": str(uuid.uuid4()),
        "message_timestamp": int(time.time() * 1000),
    }


def test_dramatiq_cli_worker_runs_the_shop_and_dead_letters_what_breaks_it(
    redis_server: RedisServer, redis_client: Any, tmp_path: Path
) -> None:
    good = raw_enqueue(redis_client, "images", message("make_thumbnail", "images", {"source": "s3://a.png"}))
    bad = raw_enqueue(redis_client, "images", message("make_thumbnail", "images", {"source": 7}))
    garbage = raw_enqueue(redis_client, "images", b"\x00 not json")
    after = raw_enqueue(redis_client, "images", message("make_thumbnail", "images", {"source": "s3://b.png"}))
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "dramatiq", "examples.shop", "--processes", "1", "--threads", "2"],
        cwd=ROOT,
        env=shop_env(redis_server.url),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if redis_client.zcard("dramatiq:images.XQ") == 2 and not redis_client.hlen(
                "dramatiq:images.msgs"
            ):
                break
            time.sleep(0.1)
        assert worker.poll() is None, "the worker process is still running"
    finally:
        worker.terminate()
        worker.wait(30)
        log.close()
    output = (tmp_path / "worker.log").read_text()
    dead = {rid.decode() for rid in redis_client.zrange("dramatiq:images.XQ", 0, -1)}
    assert dead == {bad, garbage}, output
    assert redis_client.llen("dramatiq:images") == 0 and redis_client.hlen("dramatiq:images.msgs") == 0
    assert not ({good, after} & dead)
    reasons = {
        key.decode(): json.loads(value)
        for key, value in redis_client.hgetall("dramatiq:images.XQ.reasons").items()
    }
    assert reasons[bad]["violations"][0]["path"] == "kwargs.source"
    assert reasons[garbage]["violations"][0]["path"] == "$"
    assert "Consumer encountered an unexpected error" not in output

    # Whoever inspects the dead-letter queue reads why, with the app's own broker.
    listed = dead_letters_command(redis_server.url, "--queue", "images", "--json")
    assert listed.returncode == 1, listed.stderr  # 1: there are dead letters
    entries = {entry["id"]: entry for entry in json.loads(listed.stdout)["dead_letters"]}
    assert set(entries) == {bad, garbage}
    assert (
        entries[bad]["actor"] == "make_thumbnail" and entries[bad]["violations"][0]["path"] == "kwargs.source"
    )
    table = dead_letters_command(redis_server.url)
    assert table.returncode == 1 and "kwargs.source" in table.stdout and "make_thumbnail" in table.stdout
    redis_client.flushall()
    clean = dead_letters_command(redis_server.url)
    assert clean.returncode == 0 and "no dead letters" in clean.stdout
    down = dead_letters_command("redis://127.0.0.1:1/0")
    assert down.returncode == 2 and "cannot read dead-letter reasons" in down.stderr
