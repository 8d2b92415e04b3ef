"""Adopting actorschema on a Redis app with its own encoder: what its old producers queued still runs, typed.

Each test is one app on a real Redis, with one of the encoders of
``tests/helpers/app_encoders.py``. Producers without actorschema (the app as it
runs today) queue messages, delayed ones, a retried one as Dramatiq's Retries
writes it, one the old worker ran and failed, and a pipeline. Then the upgraded
worker (the gateway, on Dramatiq's RedisBroker and on the drop-in one) runs
them, while an upgraded producer sends too: every message runs once, with its
declared types, and nothing is dead-lettered.
"""

from __future__ import annotations

import datetime
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import dramatiq
import pytest
from conftest import wait_until
from dramatiq import Worker
from dramatiq.brokers.redis import RedisBroker as DramatiqRedisBroker
from dramatiq.encoder import JSONEncoder
from helpers.app_encoders import DATE_LIKE_NOTE, ENCODERS, WHEN, Customer, Spec, TaggedEncoder
from servers import RedisServer

from actorschema import PayloadGateway, dead_letter_reasons
from actorschema.brokers import RedisBroker as GuardedRedisBroker

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
