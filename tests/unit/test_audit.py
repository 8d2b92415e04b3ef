"""``actorschema audit``: what is queued, judged as the worker would judge it, read without changing anything.

On a real Redis and a real RabbitMQ, the queues are dumped before and after
the audit and must be identical: on Redis every key's type, serialized value
(``DUMP``) and expiry; on RabbitMQ every message's body, properties and order
in the queue, its delay queue and its dead-letter queue. The audit's verdicts
are compared, message by message, with what a real worker in ``enforce`` mode
then does with the same messages: the rollout recipe (``warn``, ``audit``,
``enforce``) in one test.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import pty
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import dramatiq
import pytest
from conftest import wait_until
from dramatiq import Worker
from hypothesis import given, settings
from hypothesis import strategies as st
from servers import RedisServer

from actorschema import PayloadGateway
from actorschema.audit import (
    MAX_REASONS,
    Audit,
    ContractJudge,
    Group,
    Judgement,
    QueuedMessage,
    Sizes,
    broker_messages,
    rabbitmq_messages,
    redis_messages,
)
from actorschema.limits import SizeLimit

ROOT = Path(__file__).resolve().parents[2]

#: The app the command audits: one actor on a queue named by the environment, in warn mode.
APP = textwrap.dedent(
    """
    import os

    import dramatiq

    from actorschema import PayloadGateway

    QUEUE = os.environ["AUDIT_QUEUE"]
    if os.environ.get("AUDIT_REDIS_URL"):
        from actorschema.brokers import RedisBroker

        broker = RedisBroker(url=os.environ["AUDIT_REDIS_URL"])
    else:
        from actorschema.brokers import RabbitmqBroker

        broker = RabbitmqBroker(url=os.environ["AUDIT_RABBITMQ_URL"])
    broker.add_middleware(PayloadGateway(mode="warn", queue_limits={QUEUE: 2048}))
    dramatiq.set_broker(broker)


    @dramatiq.actor(queue_name=QUEUE)
    def notify(user_id: int, text: str) -> None:
        pass
    """
)


def declare(broker: Any, queue: str, ran: list[str] | None = None) -> Any:
    """The APP's actor on ``broker``, in this process; ``ran`` collects the ids of the messages it runs."""

    def notify(user_id: int, text: str) -> None:
        if ran is not None:
            message = dramatiq.middleware.CurrentMessage.get_current_message()
            ran.append(message.message_id if message is not None else "?")

    return dramatiq.actor(notify, broker=broker, queue_name=queue)


def guarded(broker: Any, queue: str) -> PayloadGateway:
    gateway = PayloadGateway(mode="warn", queue_limits={queue: 2048})
    broker.add_middleware(gateway)
    return gateway


def fill(actor: Any, queue: str) -> dict[str, str]:
    """Send what a live app in warn mode lets through; return each message id's expected verdict."""
    expected = {}
    for n in range(40):
        expected[actor.send(n, "hello " * (n % 7)).message_id] = "ok"
    expected[actor.send("seven", "hi").message_id] = "args[0]"  # warn mode enqueues it as sent
    expected[actor.send(8).message_id] = "text"
    expected[actor.send(9, "x" * 3000).message_id] = "size"  # over the queue's 2,048 bytes
    expected[actor.send_with_options(args=(10, "later"), delay=3_600_000).message_id] = "ok"
    return expected


def run_cli(*arguments: str, env: dict[str, str], terminal: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``python -m actorschema``; with ``terminal``, its stderr is a pseudo-terminal (read back as text)."""
    command = [sys.executable, "-m", "actorschema", *arguments]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    if not terminal:
        return subprocess.run(
            command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120, check=False
        )
    controller, stderr = pty.openpty()
    try:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=stderr)
        os.close(stderr)
        written = bytearray()
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the command exited and closed its end
                break
            if not chunk:
                break
            written += chunk
        stdout, _ = process.communicate(timeout=120)
    finally:
        os.close(controller)
    return subprocess.CompletedProcess(command, process.returncode, stdout.decode(), written.decode())


# -- the size distribution and the report, without servers ------------------------------------------


@given(st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=300))
def test_sizes_are_exact_where_they_must_be_and_within_one_percent_elsewhere(sizes: list[int]) -> None:
    distribution = Sizes()
    for size in sizes:
        distribution.add(size)
    ordered = sorted(sizes)
    assert (distribution.count, distribution.minimum, distribution.maximum) == (
        len(sizes),
        ordered[0],
        ordered[-1],
    )
    for q in (0.5, 0.95, 1.0):
        exact = ordered[max(1, math.ceil(len(sizes) * q)) - 1]
        approximate = distribution.quantile(q)
        assert exact <= approximate <= max(exact, min(ordered[-1], exact * 1.01)), (q, exact, approximate)
        if exact < 1000:
            assert approximate == exact
    rows = distribution.histogram()
    assert 1 <= len(rows) <= 8
    assert sum(count for _, _, count in rows) == len(sizes)
    assert rows[0][0] <= ordered[0] and rows[-1][1] >= ordered[-1]
    assert all(rows[i][1] + 1 == rows[i + 1][0] for i in range(len(rows) - 1))


def test_a_group_keeps_a_bounded_number_of_reasons_and_counts_the_rest() -> None:
    group = Group("a", "q", SizeLimit(100, "global"))
    for n in range(MAX_REASONS + 5):
        queued = QueuedMessage("q", "ready", str(n), b"{}")
        group.add(
            queued, Judgement("a", f"id-{n}", 10 * n, SizeLimit(100, "global"), ((f"args[{n}]", "bad", ""),))
        )
    report = group.as_json()
    assert (report["messages"], report["refused"], report["size"]["over_limit"]) == (
        MAX_REASONS + 5,
        MAX_REASONS + 5,
        14,
    )
    assert len(report["reasons"]) == MAX_REASONS and report["other_reasons"] == 5
    assert report["reasons"][0]["examples"] == ["id-0"]
    # Examples are the smallest ids, whatever order the broker hands the messages over in.
    same = Group("a", "q", SizeLimit(None, "global"))
    for n in (4, 2, 3, 0, 1):
        same.add(
            QueuedMessage("q", "ready", str(n), b"{}"),
            Judgement("a", f"id-{n}", 1, same.limit, (("$", "bad", ""),)),
        )
    assert same.as_json()["reasons"][0]["examples"] == ["id-0", "id-1", "id-2"]


def test_an_app_without_a_gateway_or_a_queue_outside_redis_and_rabbitmq_is_refused_with_the_way_out() -> None:
    from dramatiq.brokers.stub import StubBroker

    from actorschema.audit import AuditError

    broker = StubBroker()
    with pytest.raises(AuditError, match="add PayloadGateway"):
        ContractJudge(broker)
    with pytest.raises(AuditError, match="audit reads Redis and RabbitMQ"):
        broker_messages(broker, "default")


def test_an_interrupted_audit_says_it_is_incomplete_and_exits_130_not_1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dramatiq.brokers.redis import RedisBroker
    from typer.testing import CliRunner

    # The module, not the Typer app that ``actorschema.cli`` exports under the same name.
    cli = importlib.import_module("actorschema.cli.app")

    broker = RedisBroker(url="redis://127.0.0.1:1/0")  # never reached: the reader is interrupted first
    guarded(broker, "q")
    declare(broker, "q")

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        yield QueuedMessage("q", "ready", "r1", b"{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_broker", lambda target: broker)
    monkeypatch.setattr("actorschema.audit.broker_messages", interrupted)
    result = CliRunner().invoke(cli.app, ["audit", "app"])
    assert result.exit_code == 130
    assert "interrupted: the audit is incomplete; nothing was changed" in result.output


# -- Redis ---------------------------------------------------------------------------------------------


def redis_snapshot(client: Any) -> dict[bytes, tuple[Any, ...]]:
    """Every key: its type, its serialized value and its absolute expiry (ms; -1 for none)."""
    return {
        key: (client.type(key), client.dump(key), client.execute_command("PEXPIRETIME", key))
        for key in client.scan_iter(count=1000)
    }


def test_redis_audit_changes_nothing_and_each_verdict_is_what_the_enforcing_worker_then_does(
    redis_server: RedisServer, redis_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from actorschema.brokers import RedisBroker

    queue = f"audit_{uuid.uuid4().hex[:8]}"
    broker = RedisBroker(url=redis_server.url)
    broker.emit_after("process_boot")
    gateway = guarded(broker, queue)
    ran: list[str] = []
    actor = declare(broker, queue, ran)
    broker.add_middleware(dramatiq.middleware.CurrentMessage())
    expected = fill(actor, queue)
    # A dead letter and an in-flight message, written as Dramatiq's Lua script leaves them.
    dead = json.dumps(
        {**actor.message(1, "old").asdict(), "args": [1, "old"], "kwargs": {}}, separators=(",", ":")
    )
    redis_client.hset(f"dramatiq:{queue}.XQ.msgs", "dead-1", dead)
    # Scored as Dramatiq's script scores a dead letter: when it died. A score of 1 (1970) is one
    # that Dramatiq's maintenance (0.1% of its commands) purges as expired, mid-test.
    redis_client.zadd(f"dramatiq:{queue}.XQ", {"dead-1": int(time.time() * 1000)})
    redis_client.hset(f"dramatiq:{queue}.msgs", "broken", b'{"actor_name": "notify", "args": [1e400]}')
    redis_client.rpush(f"dramatiq:{queue}", "broken")
    redis_client.pexpire(f"dramatiq:{queue}.XQ.msgs", 600_000)
    # Small pages: the scan needs several round trips, as on a large queue.
    monkeypatch.setattr("actorschema.audit.REDIS_PAGE_MESSAGES", 7)
    before = redis_snapshot(redis_client)

    audit = Audit(ContractJudge(broker))
    verdicts: dict[str, tuple[str, Judgement]] = {}
    for queued in broker_messages(broker, queue):
        judgement = audit.add(queued)
        verdicts[judgement.message_id or queued.key] = (queued.state, judgement)
    assert redis_snapshot(redis_client) == before

    assert audit.messages == len(expected) + 2 == len(verdicts)
    assert verdicts["broken"][1].problems[0][0] == "$"
    for message_id, kind in expected.items():
        _, judgement = verdicts[message_id]
        paths = [path for path, _, _ in judgement.problems]
        if kind == "ok":
            assert not paths, (message_id, judgement)
        elif kind == "size":
            assert judgement.problems[0][1] == "larger than the 2,048-byte queue limit"
            assert judgement.size > 2048
        else:
            assert any(kind in path for path in paths), (kind, judgement)
    assert verdicts[json.loads(dead)["message_id"]][0] == "dead-lettered"
    (group,) = [g for g in audit.groups.values() if g.actor == "notify"]
    assert group.by_state == {"ready": [43, 3], "delayed": [1, 0], "dead-lettered": [1, 0]}
    assert group.over_limit == 1 and group.sizes.maximum > 3000

    # The rollout's last step: enforce. The worker runs exactly what the audit accepted, and
    # dead-letters exactly what it refused (the drop-in broker's consumer takes the broken body).
    gateway.mode = "enforce"
    ready = {key: judgement for key, (state, judgement) in verdicts.items() if state == "ready"}
    refused = {key for key, judgement in ready.items() if judgement.problems}
    worker = Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    try:
        wait_until(
            lambda: (
                redis_client.zcard(f"dramatiq:{queue}.XQ") == 1 + len(refused)
                and len(ran) == len(ready) - len(refused)
            ),
            "the worker to run or dead-letter every ready message",
            timeout=30,
        )
    finally:
        worker.stop()
    assert set(ran) == set(ready) - refused
    dead_ids = {
        json.loads(body).get("message_id", key.decode())
        for key, body in redis_client.hgetall(f"dramatiq:{queue}.XQ.msgs").items()
    }
    assert dead_ids == refused | {json.loads(dead)["message_id"]}
    broker.close()


@pytest.mark.slow
def test_the_command_reports_per_actor_and_queue_and_judges_by_the_next_releases_schemas(
    redis_server: RedisServer, redis_client: Any, tmp_path: Path
) -> None:
    from actorschema.brokers import RedisBroker

    queue = f"audit_{uuid.uuid4().hex[:8]}"
    broker = RedisBroker(url=redis_server.url)
    guarded(broker, queue)
    fill(declare(broker, queue), queue)
    (tmp_path / "app.py").write_text(APP)
    # The next release makes ``lang`` a required parameter: every message queued now lacks it.
    (tmp_path / "next_app.py").write_text(APP.replace("text: str)", "text: str, lang: str)"))
    env = {"AUDIT_QUEUE": queue, "AUDIT_REDIS_URL": redis_server.url}
    before = redis_snapshot(redis_client)

    result = run_cli("audit", str(tmp_path / "app.py"), env=env, terminal=True)
    assert result.returncode == 1, result.stderr
    # On a terminal, stderr shows the progress, then clears its line.
    assert f"\rreading {queue} (ready): 1 message(s)" in result.stderr.replace("\x1b[K", "")
    assert result.stderr.endswith("\r\x1b[K")
    lines = result.stdout.splitlines()
    assert lines[0] == f"✗ {queue} / notify: 44 message(s) (ready 43, delayed 1), 3 would be refused"
    assert lines[1].startswith("    size: median ") and lines[1].endswith("limit 2,048 B (queue), 1 over it")
    assert any("█" in line for line in lines)
    assert "    args[0]: 'seven' is not of type 'integer' (1 message(s), e.g. " in result.stdout
    assert "        send instead: a value of type int" in result.stdout
    assert "larger than the 2,048-byte queue limit" in result.stdout
    assert lines[-1] == "44 message(s) in 1 queue(s), checked against the app's contracts: 3 would be refused"

    generated = run_cli("generate", str(tmp_path / "next_app.py"), "--out", str(tmp_path / "next"), env=env)
    assert generated.returncode == 0, generated.stderr
    result = run_cli(
        "audit",
        str(tmp_path / "app.py"),
        "--against",
        str(tmp_path / "next"),
        "--state",
        "ready",
        "--json",
        env=env,
    )
    assert (result.returncode, result.stderr) == (1, "")  # no progress line off a terminal
    report = json.loads(result.stdout)
    assert (report["messages"], report["refused"], report["states"]) == (43, 43, ["ready"])
    (group,) = report["groups"]
    assert group["by_state"] == {"ready": {"messages": 43, "refused": 43}}
    # The fields the README lists.
    assert set(group) == {"actor", "queue", "declared", "messages", "refused", "by_state", "size"} | {
        "reasons",
        "other_reasons",
    }
    assert set(group["size"]) == {"min", "median", "p95", "max", "limit", "limit_source", "over_limit"} | {
        "histogram"
    }
    assert set(group["reasons"][0]) == {"path", "problem", "hint", "messages", "examples"}
    lang = [r for r in group["reasons"] if "'lang' is a required property" in r["problem"]]
    assert lang and lang[0]["messages"] == 43
    assert group["size"]["limit"] == 2048 and group["size"]["max"] > 3000

    unusable = run_cli("audit", str(tmp_path / "app.py"), "--against", str(tmp_path / "nothing"), env=env)
    assert unusable.returncode == 2 and unusable.stdout == ""
    assert unusable.stderr.startswith("error: ") and "Traceback" not in unusable.stderr
    assert redis_snapshot(redis_client) == before

    redis_client.flushall()  # nothing queued: nothing would be refused
    clean = run_cli("audit", str(tmp_path / "app.py"), "--json", "-q", queue, "-q", "typo", env=env)
    assert clean.returncode == 0, clean.stderr
    assert clean.stderr == f"warning: no actor of {tmp_path / 'app.py'} reads the queue 'typo'\n"
    assert json.loads(clean.stdout)["messages"] == 0
    broker.close()


def test_the_redis_reader_follows_the_brokers_namespace_and_a_client_that_decodes_responses(
    redis_server: RedisServer, redis_client: Any
) -> None:
    from actorschema.brokers import RedisBroker

    broker = RedisBroker(url=redis_server.url, namespace="shop-a")
    guarded(broker, "q")
    declare(broker, "q").send(1, "hi")
    redis_client.hset("dramatiq:q.msgs", "other-app", b"{}")  # another namespace: not this app's
    (queued,) = broker_messages(broker, "q")
    assert json.loads(queued.body)["kwargs"] == {"user_id": 1, "text": "hi"}
    decoding = redis_server.client(decode_responses=True)
    assert [m.body for m in redis_messages(decoding, "q", namespace="shop-a")] == [queued.body]
    decoding.close()
    broker.close()


@settings(max_examples=25, deadline=None)
@given(bodies=st.lists(st.binary(max_size=200), max_size=60), page=st.integers(min_value=1, max_value=50))
def test_the_redis_reader_yields_each_stored_body_once_as_stored_in_every_state(
    redis_server: RedisServer, bodies: list[bytes], page: int
) -> None:
    client = redis_server.client()
    try:
        client.flushall()
        for n, data in enumerate(bodies):
            client.hset(f"dramatiq:q{('', '.DQ', '.XQ')[n % 3]}.msgs", f"m{n}", data)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("actorschema.audit.REDIS_PAGE_MESSAGES", page)
            read = sorted((m.key, m.state, m.body) for m in redis_messages(client, "q"))
        states = ("ready", "delayed", "dead-lettered")
        assert read == sorted((f"m{n}", states[n % 3], data) for n, data in enumerate(bodies))
    finally:
        client.close()


# -- RabbitMQ ------------------------------------------------------------------------------------------


def body(queue: str, *args: Any, **options: Any) -> bytes:
    message = {
        "queue_name": queue,
        "actor_name": "notify",
        "args": list(args),
        "kwargs": {},
        "options": options,
        "message_id": str(uuid.uuid4()),
        "message_timestamp": int(time.time() * 1000),
    }
    return json.dumps(message, separators=(",", ":")).encode()


def drain(channel: Any, name: str) -> list[tuple[bytes, dict[str, Any], bool]]:
    """Take every message of ``name`` for good: body, properties, redelivered flag, in queue order."""
    found = []
    while True:
        method, properties, data = channel.basic_get(name, auto_ack=True)
        if method is None:
            return found
        found.append((data, {k: v for k, v in vars(properties).items() if v is not None}, method.redelivered))


def test_rabbitmq_audit_puts_every_message_back_in_its_place_unchanged_but_flagged_redelivered(
    rabbitmq_server: Any, tmp_path: Path
) -> None:
    import pika

    from actorschema.brokers import RabbitmqBroker

    queue = f"audit_{uuid.uuid4().hex[:8]}"
    broker = RabbitmqBroker(url=rabbitmq_server.url)
    guarded(broker, queue)
    declare(broker, queue)
    broker.declare_queue(queue, ensure=True)
    connection = rabbitmq_server.connection()
    channel = connection.channel()
    channel.confirm_delivery()
    published: dict[str, list[tuple[bytes, dict[str, Any]]]] = {
        queue: [],
        f"{queue}.DQ": [],
        f"{queue}.XQ": [],
    }
    eta = int(time.time() * 1000) + 3_600_000
    plan = [
        *[(queue, body(queue, n, "hello " * (n % 5))) for n in range(30)],
        (queue, body(queue, "seven", "hi")),
        (queue, body(queue, 9, "x" * 3000)),
        (queue, b"\xff not json"),
        (f"{queue}.DQ", body(f"{queue}.DQ", 10, "later", eta=eta)),
        (f"{queue}.XQ", body(queue, 11, "dead")),
    ]
    for n, (name, data) in enumerate(plan):
        properties = pika.BasicProperties(
            delivery_mode=2,
            content_type="application/json",
            correlation_id=f"c-{n}",
            headers={"n": n, "x-note": "é"},
        )
        channel.basic_publish(exchange="", routing_key=name, body=data, properties=properties)
        published[name].append((data, {k: v for k, v in vars(properties).items() if v is not None}))
    (tmp_path / "app.py").write_text(APP)
    env = {"AUDIT_QUEUE": queue, "AUDIT_RABBITMQ_URL": rabbitmq_server.url}

    result = run_cli("audit", str(tmp_path / "app.py"), "--json", env=env)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert (report["messages"], report["refused"]) == (len(plan), 3)
    by_actor = {group["actor"]: group for group in report["groups"]}
    assert by_actor["notify"]["by_state"] == {
        "ready": {"messages": 32, "refused": 2},
        "delayed": {"messages": 1, "refused": 0},
        "dead-lettered": {"messages": 1, "refused": 0},
    }
    assert by_actor["?"]["reasons"][0]["examples"] == [f"{queue} #33"]
    # Read twice more in this process: the same messages each time, in the same order.
    first = [(m.state, m.body) for m in rabbitmq_messages(broker.parameters, queue)]
    assert first == [(m.state, m.body) for m in rabbitmq_messages(broker.parameters, queue)]
    assert [b for _, b in first] == [data for name in published for data, _ in published[name]]
    assert list(rabbitmq_messages(broker.parameters, f"absent_{queue}")) == []

    for name, expected in published.items():
        taken = drain(channel, name)
        assert [(data, properties) for data, properties, _ in taken] == expected, name
        assert all(redelivered for _, _, redelivered in taken)  # the one trace an audit leaves
    connection.close()
    broker.close()


# -- the README's commands and output, on the example shop ---------------------------------------------


def doc_commands() -> list[str]:
    """The README's ``actorschema audit`` commands."""
    readme = (ROOT / "README.md").read_text()
    return [
        line.removeprefix("$ ").strip()
        for line in readme.splitlines()
        if line.startswith("$ actorschema audit ")
    ]


def doc_output() -> str:
    """The README's example of the command's output."""
    readme = (ROOT / "README.md").read_text()
    blocks = [block for block in readme.split("```text\n")[1:] if block.startswith("✗ emails / send_email")]
    assert len(blocks) == 1
    return blocks[0].split("```")[0]


def shop_email(n: int, template: str, text: str) -> bytes:
    message = {
        "queue_name": "emails",
        "actor_name": "send_email",
        "args": [],
        "kwargs": {"user_id": n, "template": template, "variables": {"text": text}},
        "options": {"redis_message_id": f"r{n}"},
        "message_id": f"00000000-0000-4000-8000-{n:012d}",
        "message_timestamp": 1714550400000 + n,
    }
    return json.dumps(message, separators=(",", ":")).encode()


def test_docs_audit_commands_print_what_the_readme_shows(
    redis_server: RedisServer, redis_client: Any
) -> None:
    commands = doc_commands()
    assert commands == [
        "actorschema audit examples.shop",
        "actorschema audit examples.shop --against schemas/",
    ]
    env = {"SHOP_REDIS_URL": redis_server.url}
    # What old producers left in the example shop's queue: twenty e-mails, two for a template
    # the app no longer has, one far over the actor's 4,096 bytes.
    for n in range(20):
        redis_client.hset("dramatiq:emails.msgs", f"r{n}", shop_email(n, "welcome", "Ada " * (n * n)))
    for n in (20, 21):
        redis_client.hset("dramatiq:emails.msgs", f"r{n}", shop_email(n, "goodbye", ""))
    redis_client.hset("dramatiq:emails.msgs", "r22", shop_email(22, "receipt", "x" * 6000))
    before = redis_snapshot(redis_client)
    results = [run_cli(*command.split()[1:], env=env) for command in commands]
    assert redis_snapshot(redis_client) == before
    assert [r.returncode for r in results] == [1, 1], [r.stderr for r in results]
    assert results[0].stdout == doc_output()
    assert "23 message(s) in 3 queue(s), checked against schemas/: 3 would be refused" in results[1].stdout
