"""Adopting actorschema on an app with its own encoder: what its old producers queued still runs, typed.

Each test is one app on a real Redis, with one kind of encoder Dramatiq apps
really use: a JSON encoder whose ``decode`` revives tagged objects
(datetimes, UUIDs, dataclasses, pydantic models), one that revives every
text that looks like a timestamp, and ``PickleEncoder``. Producers without
actorschema (the app as it runs today) queue messages, delayed ones, a
retried one as Dramatiq's Retries writes it, and a pipeline. Then the
upgraded worker (the gateway, on Dramatiq's RedisBroker and on the drop-in
one) runs them, while an upgraded producer sends too: every message runs
once, with its declared types, and nothing is dead-lettered.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
from conftest import RedisServer, wait_until
from dramatiq import Message, Worker
from dramatiq.brokers.redis import RedisBroker as DramatiqRedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.encoder import JSONEncoder, PickleEncoder
from hint_corpus import aware, json_values, keys
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from actorschema import PayloadGateway, dead_letter_reasons
from actorschema.app_encoder import describe, encoder_kind
from actorschema.brokers import RedisBroker as GuardedRedisBroker

WHEN = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
#: Text that an ISO-reviving decode() turns into a datetime, although the parameter is a str.
DATE_LIKE_NOTE = "2024-01-01T00:00:00+00:00"


class Customer(BaseModel):
    id: int
    name: str


@dataclasses.dataclass
class Spec:
    seats: int
    at: datetime.datetime


# -- the apps' encoders ------------------------------------------------------------


def _tag(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"__uuid__": str(value)}
    if isinstance(value, Customer):
        return {"__customer__": value.model_dump(mode="json")}
    if isinstance(value, Spec):
        return {"__spec__": {"seats": value.seats, "at": _tag(value.at)}}
    raise TypeError(f"cannot encode {type(value).__name__}")


def _revive_tagged(data: dict[str, Any]) -> Any:
    if "__datetime__" in data:
        return datetime.datetime.fromisoformat(data["__datetime__"])
    if "__uuid__" in data:
        return uuid.UUID(data["__uuid__"])
    if "__customer__" in data:
        return Customer(**data["__customer__"])
    if "__spec__" in data:
        return Spec(**data["__spec__"])
    return data


class TaggedEncoder(dramatiq.Encoder):
    """Writes objects as tagged JSON objects and revives them in decode(): the common pattern."""

    def encode(self, data: Any) -> bytes:
        return json.dumps(data, separators=(",", ":"), default=_tag).encode()

    def decode(self, data: bytes) -> Any:
        return json.loads(data, object_hook=_revive_tagged)


_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d)$")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Customer):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    raise TypeError(f"cannot encode {type(value).__name__}")


def _revive_iso(data: dict[str, Any]) -> Any:
    return {
        key: datetime.datetime.fromisoformat(value) if isinstance(value, str) and _ISO.match(value) else value
        for key, value in data.items()
    }


class IsoEncoder(dramatiq.Encoder):
    """Writes objects as plain JSON and revives every text that looks like a timestamp."""

    def encode(self, data: Any) -> bytes:
        return json.dumps(data, separators=(",", ":"), default=_plain).encode()

    def decode(self, data: bytes) -> Any:
        return json.loads(data, object_hook=_revive_iso)


ENCODERS = {"tagged-json": TaggedEncoder, "iso-json": IsoEncoder, "pickle": PickleEncoder}


# -- the app -------------------------------------------------------------------------


class App:
    """The app's actors, declared on one broker; what the worker ran, by tag."""

    def __init__(self, broker: Any, ran: dict[str, list[Any]], *, old: bool = False) -> None:
        self.ran = ran

        def book(
            when: datetime.datetime,
            who: Customer,
            spec: Spec,
            ref: uuid.UUID,
            tag: str,
            note: str = "",
            extra: dict[str, Any] | None = None,
        ) -> None:
            ran.setdefault(tag, []).append((when, who, spec, ref, note, extra))

        def first(n: int) -> int:
            return n + 1

        def then(n: int, when: datetime.datetime, tag: str) -> None:
            ran.setdefault(tag, []).append((n, when))

        def flaky(when: datetime.datetime, who: Customer, tag: str) -> None:
            if old:
                raise RuntimeError("the bug the upgrade fixes")
            ran.setdefault(tag, []).append((when, who))

        self.book = dramatiq.actor(book, broker=broker, max_retries=0)
        self.flaky = dramatiq.actor(
            flaky, broker=broker, queue_name="flaky", max_retries=3, min_backoff=500, max_backoff=600
        )
        self.first = dramatiq.actor(first, broker=broker, max_retries=0)
        self.then = dramatiq.actor(then, broker=broker, max_retries=0)


def book_arguments(tag: str) -> dict[str, Any]:
    return {
        "when": WHEN,
        "who": Customer(id=7, name="Ada"),
        "spec": Spec(seats=2, at=WHEN),
        "ref": uuid.UUID(int=7),
        "tag": tag,
        "note": DATE_LIKE_NOTE,
        # A parameter without a type: it receives what the app's decode() gives, as before.
        "extra": {"at": WHEN},
    }


def old_producers_write(app: App, broker: Any) -> set[str]:
    """What the app's producers queue today, without actorschema: queued, delayed, retried, a pipeline."""
    app.book.send(**book_arguments("queued-by-name"))
    values = book_arguments("queued-by-position")
    app.book.send(*values.values())
    app.book.send_with_options(kwargs=book_arguments("delayed"), delay=200)
    # As Dramatiq's Retries re-enqueues a message whose first run raised: its options, a delay.
    retried = app.book.message_with_options(kwargs=book_arguments("retried"))
    options = {"retries": 1, "traceback": "Traceback (most recent call last):\n  ...\nKeyError: 'x'\n"}
    broker.enqueue(retried.copy(options=options), delay=300)
    steps = [app.first.message(1), app.then.message_with_options(kwargs={"when": WHEN, "tag": "pipeline"})]
    dramatiq.pipeline(steps, broker=broker).run()
    # And one the old worker ran, which failed: Dramatiq's Retries put it in the delay queue.
    app.flaky.send(WHEN, Customer(id=7, name="Ada"), "retried-by-the-old-worker")
    worker = Worker(broker, queues={"flaky"}, worker_timeout=50, worker_threads=1)
    worker.start()
    try:
        delayed = f"{broker.namespace}:flaky.DQ.msgs"
        wait_until(lambda: broker.client.hlen(delayed) == 1, "the old worker's retry", 10)
    finally:
        worker.stop()  # before the retry is due: the upgraded worker runs it
    return {
        "queued-by-name",
        "queued-by-position",
        "delayed",
        "retried",
        "pipeline",
        "retried-by-the-old-worker",
    }


@pytest.fixture(params=sorted(ENCODERS))
def app_encoder(request: pytest.FixtureRequest) -> Iterator[str]:
    dramatiq.set_encoder(ENCODERS[request.param]())
    yield request.param
    dramatiq.set_encoder(JSONEncoder())


@pytest.mark.parametrize(
    "worker_broker", [DramatiqRedisBroker, GuardedRedisBroker], ids=["dramatiq", "drop-in"]
)
def test_messages_queued_by_producers_without_actorschema_run_typed_on_the_upgraded_worker(
    app_encoder: str,
    worker_broker: type[Any],
    redis_server: RedisServer,
    redis_client: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    namespace = f"app-{uuid.uuid4().hex[:8]}"
    old_broker = DramatiqRedisBroker(url=redis_server.url, namespace=namespace)
    old_app = App(old_broker, {}, old=True)
    expected = old_producers_write(old_app, old_broker)

    caplog.set_level(logging.INFO, logger="actorschema")
    broker = worker_broker(url=redis_server.url, namespace=namespace)
    gateway = PayloadGateway()
    broker.add_middleware(gateway)
    broker.emit_after("process_boot")
    app = App(broker, {})
    # During the rolling deploy an upgraded producer sends too.
    app.book.send(**{**book_arguments("upgraded-producer"), "extra": None})  # JSON only, in a raw dict
    steps = [
        app.first.message(1),
        app.then.message_with_options(kwargs={"when": WHEN, "tag": "pipeline-upgraded"}),
    ]
    dramatiq.pipeline(steps, broker=broker).run()
    expected |= {"upgraded-producer", "pipeline-upgraded"}

    worker = Worker(broker, worker_timeout=50, worker_threads=2)
    worker.start()
    try:
        wait_until(lambda: expected <= app.ran.keys(), f"{sorted(expected)} to run", timeout=20)
        broker.join("default", timeout=10_000)
        broker.join("flaky", timeout=10_000)
    finally:
        worker.stop()

    assert sorted(app.ran) == sorted(expected)
    for tag, runs in app.ran.items():
        assert len(runs) == 1, tag
        if tag.startswith("pipeline"):
            assert runs == [(2, WHEN)]
            continue
        if tag == "retried-by-the-old-worker":
            assert runs == [(WHEN, Customer(id=7, name="Ada"))] and type(runs[0][0]) is datetime.datetime
            continue
        [(when, who, spec, ref, note, extra)] = runs
        if tag != "upgraded-producer":
            assert extra == {"at": WHEN} and type(extra["at"]) is datetime.datetime, tag
        assert when == WHEN and type(when) is datetime.datetime, tag
        assert who == Customer(id=7, name="Ada"), tag
        assert spec == Spec(seats=2, at=WHEN) and type(spec.at) is datetime.datetime, tag
        assert ref == uuid.UUID(int=7), tag
        # The parameter is a str: it receives the text on the wire, not what decode() revived.
        assert note == DATE_LIKE_NOTE, tag
    assert redis_client.zcard(f"{namespace}:default.XQ") == 0
    assert dead_letter_reasons(broker, "default") == {}
    said = [r for r in caplog.records if r.name == "actorschema" and "global encoder is" in r.getMessage()]
    assert said, "the gateway says at start-up what it does with the app's encoder"
    assert {r.levelno for r in said} == {logging.WARNING if app_encoder == "pickle" else logging.INFO}
    # Nothing was refused, not even where the worker re-enqueues (the delay-queue moves).
    assert not [
        r
        for r in caplog.records
        if r.name == "actorschema" and r.levelno >= logging.WARNING and r not in said
    ]


@pytest.mark.redis
def test_a_message_that_fits_neither_reading_is_refused_with_the_closer_reading(
    redis_server: RedisServer, redis_client: Any
) -> None:
    dramatiq.set_encoder(TaggedEncoder())
    try:
        namespace = f"app-{uuid.uuid4().hex[:8]}"
        old_broker = DramatiqRedisBroker(url=redis_server.url, namespace=namespace)
        old_app = App(old_broker, {})
        naive = {**book_arguments("naive"), "when": WHEN.replace(tzinfo=None)}
        old_app.book.send(**naive)
        old_app.book.send(**book_arguments("fine"))

        broker = GuardedRedisBroker(url=redis_server.url, namespace=namespace)
        broker.add_middleware(PayloadGateway())
        app = App(broker, {})
        worker = Worker(broker, worker_timeout=50, worker_threads=1)
        worker.start()
        try:
            wait_until(lambda: redis_client.zcard(f"{namespace}:default.XQ") == 1, "one dead letter", 20)
            broker.join("default", timeout=10_000)
        finally:
            worker.stop()
    finally:
        dramatiq.set_encoder(JSONEncoder())
    assert list(app.ran) == ["fine"]
    [reason] = dead_letter_reasons(broker, "default").values()
    # The wire holds tagged objects everywhere; read as an upgraded producer would send it, only
    # the naive datetime is wrong: that reading came closer, and is the reason given.
    assert [v["path"] for v in reason["violations"]] == ["kwargs.when"]


@pytest.mark.redis
def test_warn_mode_runs_what_the_old_worker_ran_as_it_arrived(redis_server: RedisServer) -> None:
    dramatiq.set_encoder(TaggedEncoder())
    try:
        namespace = f"app-{uuid.uuid4().hex[:8]}"
        old_app = App(DramatiqRedisBroker(url=redis_server.url, namespace=namespace), {})
        old_app.book.send(**{**book_arguments("naive"), "when": WHEN.replace(tzinfo=None)})
        broker = DramatiqRedisBroker(url=redis_server.url, namespace=namespace)
        broker.add_middleware(PayloadGateway(mode="warn"))
        app = App(broker, {})
        worker = Worker(broker, worker_timeout=50, worker_threads=1)
        worker.start()
        try:
            wait_until(lambda: "naive" in app.ran, "the naive message to run", 20)
        finally:
            worker.stop()
    finally:
        dramatiq.set_encoder(JSONEncoder())
    [(when, *_)] = app.ran["naive"]
    assert when == WHEN.replace(tzinfo=None)  # what the app's decode() revived, as before the upgrade


@pytest.mark.parametrize(
    ("encoder", "kind"),
    [
        (JSONEncoder(), "json"),
        (TaggedEncoder(), "custom-json"),
        (IsoEncoder(), "custom-json"),
        (PickleEncoder(), "opaque"),
    ],
)
def test_the_start_up_line_says_what_is_and_is_not_supported(encoder: Any, kind: str) -> None:
    assert encoder_kind(encoder) == kind
    text = describe(encoder)
    if kind == "json":
        assert text is None
    elif kind == "custom-json":
        assert text is not None and "JSON on the wire" in text and type(encoder).__qualname__ in text
    else:
        assert text is not None and "Not supported" in text and "Existing encoders" in text


# -- any value, through each encoder, on the worker's check ----------------------------

_PROPERTY_BROKER = StubBroker()
_PROPERTY_GATEWAY = PayloadGateway()
_PROPERTY_BROKER.add_middleware(_PROPERTY_GATEWAY)


def _property_book(
    when: datetime.datetime, who: Customer, ref: uuid.UUID, extra: dict[str, Any] | None = None
) -> None:
    pass


_PROPERTY_ACTOR = dramatiq.actor(_property_book, broker=_PROPERTY_BROKER)
_BARE = StubBroker()  # an old producer: no gateway
_BARE_ACTOR = dramatiq.actor(_property_book, broker=_BARE)


@given(
    encoder=st.sampled_from(sorted(ENCODERS)),
    when=aware,
    who=st.builds(Customer, id=st.integers(-(2**53), 2**53), name=st.text(max_size=5)),
    ref=st.uuids(),
    # Keys like "__datetime__" would be the app encoder's own tags: not what a user sends.
    extra=st.none()
    | st.dictionaries(keys.filter(lambda key: not key.startswith("__")), json_values, max_size=3),
    positional=st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_what_an_old_producer_sent_reaches_the_actor_as_it_was_sent(
    encoder: str, when: datetime.datetime, who: Customer, ref: uuid.UUID, extra: Any, positional: bool
) -> None:
    dramatiq.set_encoder(ENCODERS[encoder]())
    try:
        values = {"when": when, "who": who, "ref": ref, "extra": extra}
        sent = _BARE_ACTOR.message(*values.values()) if positional else _BARE_ACTOR.message(**values)
        # As Dramatiq's consumer reads it: the app's decode() of the bytes the old producer stored.
        consumed = Message(**dramatiq.get_encoder().decode(sent.encode()))
        delivery = _PROPERTY_GATEWAY.consume_guard.check(_PROPERTY_BROKER, consumed)
    finally:
        dramatiq.set_encoder(JSONEncoder())
    assert delivery is not None
    names = list(values)
    got = {**dict(zip(names, delivery.args, strict=False)), **delivery.kwargs}
    assert got["when"] == when and type(got["when"]) is datetime.datetime
    assert got["who"] == who and got["ref"] == ref
    # The untyped parameter gets what the app's decode() gave, as before the upgrade.
    decoded_extra = consumed.args[3] if positional else consumed.kwargs["extra"]
    assert got["extra"] == decoded_extra


def test_the_line_is_said_once_at_declare_and_again_at_worker_boot_if_the_encoder_changed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = StubBroker()
    gateway = PayloadGateway()
    broker.add_middleware(gateway)
    caplog.set_level(logging.INFO, logger="actorschema")
    try:
        dramatiq.set_encoder(TaggedEncoder())
        for name in ("one", "two"):
            dramatiq.actor(_property_book, broker=broker, actor_name=name)
        dramatiq.set_encoder(PickleEncoder())  # set after the actors were imported
        worker = Worker(broker, worker_timeout=50, worker_threads=1)
        worker.start()
        worker.stop()
    finally:
        dramatiq.set_encoder(JSONEncoder())
    said = [
        (r.levelno, r.getMessage().split(":")[0])
        for r in caplog.records
        if "global encoder is" in r.getMessage()
    ]
    assert said == [(logging.INFO, "actorschema (declare)"), (logging.WARNING, "actorschema (worker boot)")]
