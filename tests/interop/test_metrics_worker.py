"""The metrics as a team scrapes them: a real ``dramatiq`` worker, its Prometheus endpoint, over HTTP.

The worker app is the README's own setup block (Redis, Dramatiq's Prometheus
middleware, the gateway, ``actorschema.metrics.enable()``) with two actors
appended, run by Dramatiq's CLI with two worker processes on a private
redis-server; Dramatiq's exposition server listens on a free loopback port.
The README's PromQL queries are checked against what that endpoint exports
(names and labels) and run by Prometheus's own engine (``promtool test rules``)
on the exported series; its producer block is served over HTTP from a process
that only sends.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import wait_until
from helpers.readme import ROOT, blocks
from prometheus_client.parser import text_string_to_metric_families
from servers import RedisServer, free_port, need
from test_shop_worker import message, raw_enqueue

README_URL = "redis://localhost:6379/0"

#: Appended to the README's worker block: what the test sends to.
ACTORS = """

@dramatiq.actor(queue_name="metrics", max_retries=0)
def record(note: str, count: int) -> None:
    pass


@dramatiq.actor(queue_name="metrics", max_retries=0)
def relay(note: str) -> None:
    from actorschema import PayloadTooLarge

    record.send(note, 1)  # a send from inside the worker process
    try:
        record.send("x" * 262_144, 1)  # over the default 256 KiB limit
    except PayloadTooLarge:
        pass
"""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def readme_block(marker: str) -> str:
    [block] = [block for block in blocks("python") if marker in block]
    return block


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return str(response.read().decode())


def samples(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def worker_metrics(redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Samples]:
    """Run the README's worker on Redis, send it what the test counts, and scrape its endpoint."""
    client = redis_server.client()
    client.flushall()
    app = tmp_path_factory.mktemp("metrics_app")
    setup = readme_block("Prometheus()")
    assert README_URL in setup
    (app / "metrics_app.py").write_text(setup.replace(README_URL, redis_server.url) + ACTORS)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k.upper() != "PROMETHEUS_MULTIPROC_DIR"},
        "PYTHONPATH": os.pathsep.join([str(app), str(ROOT)]),
        "dramatiq_prom_db": str(app / "prometheus"),
        "dramatiq_prom_host": "127.0.0.1",
        "dramatiq_prom_port": str(port),
    }
    good = raw_enqueue(client, "metrics", message("record", "metrics", {"note": "hi", "count": 1}))
    bad = raw_enqueue(client, "metrics", message("record", "metrics", {"note": "hi", "count": "seven"}))
    garbage = raw_enqueue(client, "metrics", b"\x00 not json")
    raw_enqueue(client, "metrics", message("relay", "metrics", {"note": "relayed"}))
    log = (app / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "dramatiq", "metrics_app", "--processes", "2", "--threads", "1"],
        cwd=app,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its worker processes and exposition server: one group to end
    )
    try:

        def done() -> bool:
            assert worker.poll() is None, (app / "worker.log").read_text()
            return (
                client.zcard("dramatiq:metrics.XQ") == 2
                and client.llen("dramatiq:metrics") == 0
                and client.hlen("dramatiq:metrics.msgs") == 0
            )

        wait_until(done, "the worker to run or dead-letter every message", timeout=60, interval=0.1)
        found: Samples = {}

        def counted() -> bool:
            nonlocal found
            try:
                found = samples(scrape(port))
            except OSError:
                return False  # the exposition server is not listening yet
            return value(found, "dramatiq_messages_total", actor_name="record", queue_name="metrics") == 3

        wait_until(counted, "the endpoint to show every processed message", timeout=30, interval=0.2)
        dead = {rid.decode() for rid in client.zrange("dramatiq:metrics.XQ", 0, -1)}
        assert dead == {bad, garbage} and good not in dead
        yield found
    finally:
        # What it counted is read: a graceful stop (about 3 s) would add nothing to check.
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(30)
        log.close()
        client.flushall()
        client.close()


def test_a_real_workers_endpoint_exports_sizes_rejections_and_dead_letters_beside_dramatiqs(
    worker_metrics: Samples,
) -> None:
    found = worker_metrics
    record = {"actor_name": "record", "queue_name": "metrics"}
    relay = {"actor_name": "relay", "queue_name": "metrics"}
    # Arrivals, summed over both worker processes: record's good, bad and relayed messages
    # (the bad one is sized before its arguments are checked), relay's one.
    assert value(found, "actorschema_message_size_bytes_count", side="worker", **record) == 3
    assert value(found, "actorschema_message_size_bytes_count", side="worker", **relay) == 1
    assert value(found, "actorschema_message_size_bytes_bucket", side="worker", le="+Inf", **record) == 3
    assert 0 < value(found, "actorschema_message_size_bytes_sum", side="worker", **record) < 3 * 300
    # relay's send from inside the worker: one accepted, one refused before enqueue.
    assert value(found, "actorschema_message_size_bytes_count", side="send", **record) == 1
    assert value(found, "actorschema_message_limit_bytes", **record) == 262_144
    assert value(found, "actorschema_message_limit_bytes", **relay) == 262_144

    def rejected(side: str, reason: str, actor: str = "record") -> float:
        return value(
            found,
            "actorschema_rejected_messages_total",
            side=side,
            actor_name=actor,
            queue_name="metrics",
            reason=reason,
        )

    assert rejected("send", "PayloadTooLarge") == 1
    assert rejected("worker", "PayloadInvalid") == 1
    assert rejected("worker", "MessageMalformed", actor="?") == 1
    dead = "actorschema_dead_letters_total"
    assert value(found, dead, reason="PayloadInvalid", **record) == 1
    assert value(found, dead, actor_name="?", queue_name="metrics", reason="MessageMalformed") == 1
    # Dramatiq's own metrics, from the same endpoint: the same messages.
    assert value(found, "dramatiq_messages_total", **record) == 3
    assert value(found, "dramatiq_messages_total", **relay) == 1


IDENTIFIER = re.compile(r"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b")
GROUPING = re.compile(r"\b(?:by|on|without|ignoring)\s*\(([^)]*)\)")
MATCHER = re.compile(r"\{([^}]*)\}")


def test_the_readme_queries_use_only_metrics_and_labels_the_worker_exports(worker_metrics: Samples) -> None:
    exported: dict[str, set[str]] = {}
    for name, labels in worker_metrics:
        exported.setdefault(name, set()).update(key for key, _ in labels)
    queries = blocks("promql")
    assert len(queries) >= 3
    for query in queries:
        metrics = [
            word for word in IDENTIFIER.findall(query) if word.startswith(("actorschema_", "dramatiq_"))
        ]
        assert metrics, query
        for metric in metrics:
            assert metric in exported, (
                f"{metric} (in the README) is not exported; exported: {sorted(exported)}"
            )
        known = set().union(*(exported[metric] for metric in metrics))
        used = {
            label.strip() for group in GROUPING.findall(query) for label in group.split(",") if label.strip()
        }
        used |= {
            matcher.split("=")[0].strip() for group in MATCHER.findall(query) for matcher in group.split(",")
        }
        assert used and used <= known, (query, used - known)
        assert query.count("(") == query.count(")"), query


#: What each README query (in README order) must find in the worker's metrics: the label sets
#: of its positive results, and a condition every result's value meets.
QUERY_FINDS = [
    # The actors closest to their limit: record's one send, a small fraction of 256 KiB.
    ([{"actor_name": "record", "queue_name": "metrics"}], "> 0 < 0.01"),
    # Rejections per second by side and reason.
    (
        [
            {"side": "send", "reason": "PayloadTooLarge"},
            {"side": "worker", "reason": "PayloadInvalid"},
            {"side": "worker", "reason": "MessageMalformed"},
        ],
        "> 0",
    ),
    # Dead letters by actor and reason: exactly one each.
    (
        [
            {"actor_name": "record", "reason": "PayloadInvalid"},
            {"actor_name": "?", "reason": "MessageMalformed"},
        ],
        "== 1",
    ),
]


def test_the_readme_queries_find_what_the_worker_counted(worker_metrics: Samples, tmp_path: Path) -> None:
    """Prometheus's own engine (promtool) runs the README's queries on the worker's series.

    Each series the endpoint exported goes in as if Prometheus had scraped it twice, a
    minute apart: at 0 before anything happened (gauges: as they are), then as exported.
    """
    promtool = need("promtool")
    series = []
    for (name, labels), found in sorted(worker_metrics.items(), key=str):
        if not name.startswith(("actorschema_", "dramatiq_")):
            continue
        selector = ",".join(f"{key}={json.dumps(label)}" for key, label in sorted(labels))
        before = found if name == "actorschema_message_limit_bytes" else 0.0
        series.append({"series": f"{name}{{{selector}}}", "values": f"{before!r} {found!r}"})
    queries = blocks("promql")
    assert len(queries) == len(QUERY_FINDS), "a README query was added or removed: say here what it finds"
    rules = [
        {"alert": f"query_{index}", "expr": f"({query.strip()}) {condition}"}
        for index, (query, (_, condition)) in enumerate(zip(queries, QUERY_FINDS, strict=True))
    ]
    (tmp_path / "rules.yml").write_text(json.dumps({"groups": [{"name": "readme", "rules": rules}]}))
    tests = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {
                        "eval_time": "1m",
                        "alertname": f"query_{index}",
                        "exp_alerts": [{"exp_labels": labels} for labels in finds],
                    }
                    for index, (finds, _) in enumerate(QUERY_FINDS)
                ],
            }
        ],
    }
    (tmp_path / "tests.yml").write_text(json.dumps(tests))
    result = subprocess.run(
        [promtool, "test", "rules", "tests.yml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


PRODUCER = """
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server

import dramatiq

from actorschema import PayloadGateway, PayloadInvalid
from actorschema.brokers import StubBroker

broker = StubBroker()
broker.add_middleware(PayloadGateway())
dramatiq.set_broker(broker)


@dramatiq.actor
def notify(user_id: int) -> None: ...


notify.send(7)
try:
    notify.send("seven")
except PayloadInvalid:
    pass


class Quiet(WSGIRequestHandler):
    def log_message(self, *args): ...


server = make_server("127.0.0.1", 0, metrics_app, handler_class=Quiet)
print(server.server_port, flush=True)
server.serve_forever()
"""


def test_the_readme_producer_block_serves_the_metrics_over_http(tmp_path: Path) -> None:
    script = tmp_path / "producer.py"
    script.write_text(readme_block("make_wsgi_app") + textwrap.dedent(PRODUCER))
    env = {k: v for k, v in os.environ.items() if k.upper() != "PROMETHEUS_MULTIPROC_DIR"}
    process = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.strip().isdigit(), process.stderr.read() if process.stderr else line
        found = samples(scrape(int(line)))
    finally:
        process.terminate()
        process.wait(10)
    where: dict[str, Any] = {"actor_name": "notify", "queue_name": "default"}
    assert value(found, "actorschema_message_size_bytes_count", side="send", **where) == 1
    labels = {"side": "send", "reason": "PayloadInvalid", **where}
    assert value(found, "actorschema_rejected_messages_total", **labels) == 1
