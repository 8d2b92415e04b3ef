"""``actorschema validate`` and the worker judge the same bytes alike, one by one.

A corpus of bodies goes through ``actorschema validate`` (the command itself,
each body in its own file, against the schemas ``generate`` writes for the app)
and through a real Dramatiq ``Worker`` on ``actorschema.brokers.StubBroker``
(which hands the worker the stored bytes). For every body: valid for
``validate`` exactly when the worker runs it, invalid exactly when the worker
dead-letters it. Both use one strict decoder (no duplicate keys, no ``1e400``,
no lone surrogate), bind the legacy positional form the same way, and measure
the bytes as stored.
"""

from __future__ import annotations

import datetime
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dramatiq
import msgspec
import pytest
from dramatiq import Middleware, Worker
from dramatiq.broker import Broker
from dramatiq.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from actorschema import PayloadGateway
from actorschema.brokers import StubBroker, UndecodableMessage
from actorschema.catalogue import write
from actorschema.cli import app
from actorschema.consume.envelope import decode_strict_json
from actorschema.generate import render

# The validate command and a worker on the same corpus: tens of seconds.
pytestmark = pytest.mark.slow

runner = CliRunner()
LIMIT = 400


class Ran(Middleware):
    """Records the message id of every message an actor ran without raising."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def after_process_message(
        self,
        broker: Broker,
        message: Message[Any],
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        if exception is None:
            self.ids.append(message.message_id)


def shop_app(folder: Path) -> tuple[StubBroker, Ran]:
    """A guarded StubBroker with the corpus's actors, and their schemas written to ``folder``."""
    broker = StubBroker()
    broker.emit_after("process_boot")
    broker.add_middleware(PayloadGateway())
    ran = Ran()
    broker.add_middleware(ran)
    dramatiq.set_broker(broker)

    @dramatiq.actor(queue_name="default")
    def add(a: int, b: int = 0) -> None: ...

    @dramatiq.actor(queue_name="default")
    def greet(name: str, *, loud: bool = False) -> None: ...

    @dramatiq.actor(queue_name="default")
    def pos(x: int, /, y: str) -> None: ...

    @dramatiq.actor(queue_name="default")
    def many(*values: int) -> None: ...

    @dramatiq.actor(queue_name="default")
    def when(at: datetime.datetime) -> None: ...

    @dramatiq.actor(queue_name="default", max_message_bytes=LIMIT)
    def measure(x: float, note: str = "") -> None: ...

    @dramatiq.actor(queue_name="default")
    def anything(value: Any) -> None: ...

    write(folder, render(broker))
    return broker, ran


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[tuple[StubBroker, Ran, Path]]:
    folder = tmp_path / "schemas"
    broker, ran = shop_app(folder)
    yield broker, ran, folder
    broker.flush_all()
    broker.close()


def envelope(actor: str, *, args: list[Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    return {
        "queue_name": "default",
        "actor_name": actor,
        "args": args or [],
        "kwargs": kwargs,
        "options": {},
        "message_id": str(uuid.uuid4()),
        "message_timestamp": 1_700_000_000_000,
    }


def dumps(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def raw(message: dict[str, Any], replace: tuple[str, str]) -> bytes:
    """The message's bytes with one piece of text swapped in: what no encoder writes."""
    text = dumps(message).decode()
    assert replace[0] in text
    return text.replace(replace[0], replace[1], 1).encode()


def padded_to(size: int, number: str) -> bytes:
    """A ``measure`` body of exactly ``size`` bytes whose float is written ``number`` (as ``1e15``)."""
    message = envelope("measure", x=0, note="")
    base = raw(message, ('"x":0', f'"x":{number}'))
    missing = size - len(base)
    assert missing >= 0
    return raw(message, ('"x":0,"note":""', f'"x":{number},"note":"{"n" * missing}"'))


def corpus() -> dict[str, bytes]:
    """Named bodies: valid and invalid, each of them a case where two checks could disagree."""

    def add() -> dict[str, Any]:  # a new message id each time: the worker's verdicts are told apart by it
        return envelope("add", a=1, b=2)

    cases: dict[str, bytes] = {
        "canonical": dumps(add()),
        "pretty printed": json.dumps(envelope("add", a=1), indent=2).encode(),
        "an int written 5.0": raw(envelope("add", a=1), ('"a":1', '"a":5.0')),
        "a string for an int": dumps(envelope("add", a="5")),
        "legacy positional": dumps(envelope("add", args=[1, 2])),
        "legacy, partly by name": dumps(envelope("add", args=[1], b=2)),
        "legacy and by name twice": dumps(envelope("add", args=[1], a=1)),
        "legacy, too many": dumps(envelope("add", args=[1, 2, 3])),
        "legacy, wrong type": dumps(envelope("add", args=["x"])),
        "missing required": dumps(envelope("add", b=2)),
        "unknown keyword": dumps(envelope("add", a=1, c=3)),
        "keyword-only sent positionally": dumps(envelope("greet", args=["ann", True])),
        "keyword-only by name": dumps(envelope("greet", name="ann", loud=True)),
        "greet legacy": dumps(envelope("greet", args=["ann"])),
        "positional-only in args": dumps(envelope("pos", args=[1], y="s")),
        "positional-only, all positional": dumps(envelope("pos", args=[1, "s"])),
        "positional-only by name": dumps(envelope("pos", x=1, y="s")),
        "*args values": dumps(envelope("many", args=[1, 2, 3])),
        "*args wrong type": dumps(envelope("many", args=[1, "2"])),
        "aware datetime": dumps(envelope("when", at="2024-05-01T12:00:00+02:00")),
        "naive datetime": dumps(envelope("when", at="2024-05-01T12:00:00")),
        "datetime legacy": dumps(envelope("when", args=["2024-05-01T12:00:00Z"])),
        "duplicate actor_name": raw(add(), ('"actor_name":"add"', '"actor_name":"add","actor_name":"greet"')),
        "duplicate kwarg": raw(add(), ('"a":1', '"a":1,"a":7')),
        "duplicate spelled with an escape": raw(add(), ('"a":1', '"a":1,"\\u0061":1')),
        "a colon escaped in a string, no duplicate": dumps(envelope("greet", name="a:b")).replace(
            b"a:b", b"a\\u003ab"
        ),
        "1e400": raw(add(), ('"a":1', '"a":1e400')),
        "NaN": raw(add(), ('"a":1', '"a":NaN')),
        "lone surrogate": raw(envelope("greet", name="x"), ('"name":"x"', '"name":"\\ud800"')),
        "a surrogate pair": raw(envelope("greet", name="x"), ('"name":"x"', '"name":"\\ud83d\\ude00"')),
        "not UTF-8": raw(envelope("greet", name="x"), ('"name":"x"', '"name":"é"')).replace(
            "é".encode(), b"\xe9"
        ),
        "trailing garbage": dumps(add()) + b" x",
        "an array": b"[1]",
        "unknown actor": dumps(envelope("nobody")),
        "message_id not a UUID": dumps({**add(), "message_id": "42"}),
        "an extra field": dumps({**add(), "extra": 1}),
        "deep Any value": dumps(envelope("anything", value=json.loads("[" * 200 + "]" * 200))),
        "too deep to decode": raw(
            envelope("anything", value=0), ('"value":0', '"value":' + "[" * 5000 + "]" * 5000)
        ),
        "shallow Any value": dumps(envelope("anything", value={"k": [1, 2.5, None, "s"]})),
        "exactly the limit, floats written 1e15": padded_to(LIMIT, "1e15"),
        "one byte over, floats written 1e15": padded_to(LIMIT + 1, "1e15"),
        "exactly the limit": padded_to(LIMIT, "1.5"),
        "big bookkeeping options do not count": dumps(
            {**envelope("measure", x=1.5), "options": {"traceback": "t" * 2000, "retries": 1}}
        ),
    }
    return cases


def judged_by_validate(folder: Path, bodies: dict[str, bytes], where: Path) -> dict[str, tuple[bool, bool]]:
    """``actorschema validate --json`` on one file per body: name -> (valid, legacy)."""
    files = []
    for position, body in enumerate(bodies.values()):
        path = where / f"body{position:03}.json"
        path.write_bytes(body)
        files.append(str(path))
    result = runner.invoke(app, ["validate", *files, "--schemas", str(folder), "--json"])
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    report = json.loads(result.stdout)["messages"]
    by_file: dict[str, list[dict[str, Any]]] = {}
    for entry in report:
        by_file.setdefault(entry["message"].split("[")[0], []).append(entry)
    verdicts = {}
    for name, path in zip(bodies, files, strict=True):
        entries = by_file[path]
        verdicts[name] = (all(e["valid"] for e in entries), any(e["legacy"] for e in entries))
    return verdicts


def judged_by_worker(broker: StubBroker, ran: Ran, bodies: dict[str, bytes]) -> dict[str, bool]:
    """Every body put in the queue as stored bytes, a real worker run: name -> ran (True) or dead-lettered."""
    for body in bodies.values():
        broker.queues["default"].put(body)
    worker = Worker(broker, worker_timeout=20, worker_threads=2)
    worker.start()
    try:
        broker.join("default", fail_fast=False)
    finally:
        worker.stop()
    dead_bodies = {d.body for d in broker.dead_letters if isinstance(d, UndecodableMessage)}
    dead_ids = {d.message_id for d in broker.dead_letters if not isinstance(d, UndecodableMessage)}
    verdicts = {}
    for name, body in bodies.items():
        message_id = _message_id(body)
        runs = message_id is not None and message_id in ran.ids
        dead = body in dead_bodies or (message_id is not None and message_id in dead_ids)
        assert runs != dead, f"{name}: ran {runs}, dead-lettered {dead}"
        verdicts[name] = runs
    return verdicts


def _message_id(body: bytes) -> str | None:
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):
        return None
    value = decoded.get("message_id") if isinstance(decoded, dict) else None
    return value if isinstance(value, str) else None


EXPECTED_VALID = {
    "canonical",
    "pretty printed",
    "an int written 5.0",
    "legacy positional",
    "legacy, partly by name",
    "keyword-only by name",
    "greet legacy",
    "positional-only in args",
    "positional-only, all positional",
    "*args values",
    "aware datetime",
    "datetime legacy",
    "a colon escaped in a string, no duplicate",
    "a surrogate pair",
    "shallow Any value",
    "deep Any value",  # as deep as the decoder goes: the send side's 128 levels are not the worker's rule
    "exactly the limit, floats written 1e15",
    "exactly the limit",
    "big bookkeeping options do not count",
}
EXPECTED_LEGACY = {  # the form, valid or not; "legacy, too many" binds to nothing and is just invalid
    "legacy positional",
    "legacy and by name twice",
    "legacy, wrong type",
    "legacy, partly by name",
    "greet legacy",
    "positional-only, all positional",
    "datetime legacy",
}


def test_validate_and_the_worker_reach_the_same_verdict_on_every_body(
    shop: tuple[StubBroker, Ran, Path], tmp_path: Path
) -> None:
    broker, ran, folder = shop
    bodies = corpus()
    by_validate = judged_by_validate(folder, bodies, tmp_path)
    by_worker = judged_by_worker(broker, ran, bodies)
    disagreements = {
        name: (by_validate[name][0], by_worker[name])
        for name in bodies
        if by_validate[name][0] != by_worker[name]
    }
    assert disagreements == {}, "validate vs worker: " + repr(disagreements)
    # And the verdicts are the right ones, not merely the same.
    assert {name for name, runs in by_worker.items() if runs} == EXPECTED_VALID
    assert {name for name, (_, legacy) in by_validate.items() if legacy} == EXPECTED_LEGACY


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    drawn=st.lists(
        st.tuples(
            st.sampled_from(["add", "greet", "pos", "when", "anything"]),
            st.lists(JSON_VALUES, max_size=3),
            st.dictionaries(
                st.sampled_from(["a", "b", "name", "loud", "x", "y", "at", "value"]), JSON_VALUES, max_size=3
            ),
            st.booleans(),
        ),
        min_size=10,
        max_size=25,
    )
)
def test_random_messages_get_the_same_verdict_from_validate_and_the_worker(
    tmp_path_factory: pytest.TempPathFactory, drawn: list[tuple[str, list[Any], dict[str, Any], bool]]
) -> None:
    where = tmp_path_factory.mktemp("random")
    folder = where / "schemas"
    broker, ran = shop_app(folder)
    bodies = {}
    for number, (actor, args, kwargs, duplicate) in enumerate(drawn):
        body = dumps(envelope(actor, args=args, **kwargs))
        if duplicate and kwargs:
            key = json.dumps(next(iter(kwargs)), ensure_ascii=False)
            body = body.replace(b'"kwargs":{', b'"kwargs":{' + key.encode() + b":0,", 1)
        bodies[f"{number}"] = body
    try:
        by_validate = judged_by_validate(folder, bodies, where)
        by_worker = judged_by_worker(broker, ran, bodies)
    finally:
        broker.flush_all()
        broker.close()
    disagreements = {
        name: (bodies[name], by_validate[name][0], by_worker[name])
        for name in bodies
        if by_validate[name][0] != by_worker[name]
    }
    assert disagreements == {}


@settings(max_examples=300, deadline=None)
@given(value=JSON_VALUES, duplicate=st.booleans(), form=st.sampled_from(["dumps", "pretty", "msgspec"]))
def test_the_strict_decoder_refuses_exactly_the_bodies_with_a_duplicate_key(
    value: Any, duplicate: bool, form: str
) -> None:
    document = {"outer": value, "list": [value, {"k": value}]}
    if form == "msgspec":
        # As the gateway writes bodies: the decoder's shortcut for a body that re-encodes to itself.
        text = msgspec.json.encode(document).decode()
    else:
        text = json.dumps(document, indent=2 if form == "pretty" else None, ensure_ascii=form != "pretty")
    if duplicate:
        text = text.replace('"list"', '"outer": 1, "list"', 1)
    pairs: list[list[str]] = []

    def record(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in items]
        pairs.append(keys)
        return dict(items)

    json.loads(text, object_pairs_hook=record)
    has_duplicate = any(len(set(keys)) != len(keys) for keys in pairs)
    try:
        decoded = decode_strict_json(text.encode())
    except ValueError as error:
        assert has_duplicate, error
        assert "duplicate key" in str(error)
    else:
        assert not has_duplicate
        assert decoded == json.loads(text)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"a":1,"a":2}', "duplicate key 'a' in an object"),
        (b'{"a":1,"\\u0061":2}', "duplicate key 'a' in an object"),
        (b'{"a":1e400}', "Number out of range"),
        (b'{"a":"\\ud800"}', "lone UTF-16 surrogate"),
        (b'{"a":"\\udc00"}', "invalid utf-16 surrogate pair"),
        (b'{"a":NaN}', "malformed"),
        (b'{"a":1} x', "trailing characters"),
        (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
    ],
)
def test_the_strict_decoder_says_why_in_one_line(body: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as refused:
        decode_strict_json(body)
    assert "\n" not in str(refused.value)


@pytest.mark.redis
def test_on_redis_the_worker_measures_the_stored_bytes_as_validate_does(
    redis_server: Any, redis_client: Any, tmp_path: Path
) -> None:
    from actorschema.brokers import RedisBroker
    from actorschema.consume.envelope import received_size

    broker = RedisBroker(url=redis_server.url)
    broker.add_middleware(PayloadGateway())
    ran = Ran()
    broker.add_middleware(ran)
    broker.emit_after("process_boot")
    queue = f"q_{uuid.uuid4().hex[:10]}"

    @dramatiq.actor(broker=broker, queue_name=queue, max_message_bytes=LIMIT)
    def measure(x: float, note: str = "") -> None: ...

    folder = tmp_path / "schemas"
    write(folder, render(broker))

    def stored(counted: int, number: str) -> tuple[str, bytes]:
        """A body that counts ``counted`` bytes (its redis_message_id aside), its float written ``number``."""
        rid = str(uuid.uuid4())
        message = {
            **envelope("measure", x=0, note=""),
            "queue_name": queue,
            "options": {"redis_message_id": rid},
        }
        for size in range(LIMIT):
            body = raw(message, ('"x":0,"note":""', f'"x":{number},"note":"{"n" * size}"'))
            if received_size(len(body), message["options"]) == counted:
                return rid, body
        raise AssertionError("no padding makes that size")

    bodies = {
        "exactly the limit, 1e15": stored(LIMIT, "1e15"),
        "one over, 1e15": stored(LIMIT + 1, "1e15"),
        "exactly the limit, 0.5": stored(LIMIT, "0.5"),
        "one over, 0.5": stored(LIMIT + 1, "0.5"),
    }
    for rid, body in bodies.values():
        with redis_client.pipeline(transaction=True) as pipe:
            pipe.hset(f"dramatiq:{queue}.msgs", rid, body)
            pipe.rpush(f"dramatiq:{queue}", rid)
            pipe.execute()
    by_validate = judged_by_validate(folder, {name: body for name, (_, body) in bodies.items()}, tmp_path)
    worker = Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    try:
        deadline = 30.0
        started = time.monotonic()
        while len(ran.ids) + int(redis_client.zcard(f"dramatiq:{queue}.XQ")) < len(bodies):
            assert time.monotonic() - started < deadline, "the worker did not get through the bodies"
            time.sleep(0.05)
        worker.join()
    finally:
        worker.stop()
        broker.close()
    dead = {member.decode() for member in redis_client.zrange(f"dramatiq:{queue}.XQ", 0, -1)}
    by_worker = {}
    for name, (rid, body) in bodies.items():
        runs = json.loads(body)["message_id"] in ran.ids
        assert runs != (rid in dead), name
        by_worker[name] = runs
    assert by_worker == {name: valid for name, (valid, _) in by_validate.items()}
    assert by_worker == {
        "exactly the limit, 1e15": True,
        "one over, 1e15": False,
        "exactly the limit, 0.5": True,
        "one over, 0.5": False,
    }
