"""actorschema.metrics: the observer against prometheus_client, and the gateway's events on a real Worker.

The metrics a real ``dramatiq`` worker process exports over HTTP are checked in
``tests/interop/test_metrics_worker.py``; on RabbitMQ in ``tests/brokers/test_rabbitmq.py``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import dramatiq
import prometheus_client
import pytest
from dramatiq import group
from helpers.readme import README
from helpers.workers import drain
from hypothesis import given, settings
from hypothesis import strategies as st

from actorschema import PayloadGateway, PayloadInvalid, PayloadTooLarge, metrics, observe
from actorschema.brokers import StubBroker
from actorschema.metrics import METRIC_NAMES, OTHER, PrometheusMetrics, size_buckets


def sample(registry: Any, name: str, **labels: str) -> float:
    """One sample's value; 0 for a series that was never written."""
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else float(value)


# -- buckets -------------------------------------------------------------------------------

limits_st = st.lists(st.integers(min_value=1, max_value=2**31), max_size=4)


@given(limits_st)
def test_size_buckets_rise_to_the_largest_limit_and_mark_each_limit(limits: list[int]) -> None:
    buckets = size_buckets(*limits)
    assert list(buckets) == sorted(set(buckets)) and buckets[0] >= 1
    effective = limits or [262_144]
    for limit in effective:
        for fraction in (0.5, 0.75, 0.9, 1.0):
            if round(limit * fraction) >= 1:
                assert float(round(limit * fraction)) in buckets
    powers = [float(64 << n) for n in range(40) if 64 << n <= max(effective)]
    assert set(powers) <= set(buckets)
    assert max(buckets) == max(effective)


@pytest.mark.parametrize("bad", [0, -1, 1.5, "4096", True])
def test_size_buckets_refuse_what_is_not_a_limit(bad: Any) -> None:
    with pytest.raises(ValueError, match="positive int"):
        size_buckets(bad)


def test_settings_that_cannot_work_are_refused() -> None:
    with pytest.raises(ValueError, match="increasing"):
        PrometheusMetrics(registry=prometheus_client.CollectorRegistry(), buckets=[10, 5])
    with pytest.raises(ValueError, match="max_label_values"):
        PrometheusMetrics(registry=prometheus_client.CollectorRegistry(), max_label_values=0)


# -- the observer, fed events directly --------------------------------------------------------

NAMES = st.sampled_from(["place_order", "notify", "ünïcode actor", "?"])
QUEUES = st.sampled_from(["default", "images", "images.DQ"])
REASONS = st.sampled_from(["PayloadTooLarge", "PayloadInvalid", "MessageMalformed", "blob missing"])
SIDES = st.sampled_from(["send", "worker"])
EVENTS = st.one_of(
    st.tuples(
        st.just("message_sized"),
        SIDES,
        NAMES,
        QUEUES,
        st.integers(0, 2_000_000),
        st.none() | st.sampled_from([1024, 4096]),
    ),
    st.tuples(st.just("rejected"), SIDES, NAMES, QUEUES, REASONS),
    st.tuples(st.just("warned"), SIDES, NAMES, QUEUES, REASONS),
    st.tuples(st.just("dead_lettered"), NAMES, QUEUES, REASONS),
    st.tuples(st.just("worker_refused"), NAMES, QUEUES, REASONS),
    st.tuples(st.just("claim_offloaded"), NAMES, QUEUES, st.integers(0, 10**9)),
    st.tuples(st.just("claim_fetch_failed"), NAMES, QUEUES, REASONS),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(EVENTS, max_size=40))
def test_the_metrics_count_exactly_what_the_observer_was_told(events: list[tuple[Any, ...]]) -> None:
    registry = prometheus_client.CollectorRegistry()
    buckets = size_buckets(1024, 4096)
    observer = PrometheusMetrics(registry=registry, buckets=buckets)
    observe.add_observer(observer)
    try:
        for event, *args in events:
            getattr(observe, event)(*args)
    finally:
        observe.remove_observer(observer)

    sizes: dict[tuple[str, str, str], list[int]] = {}
    limits: dict[tuple[str, str], int] = {}
    rejected: Counter[tuple[str, str, str, str]] = Counter()
    warned: Counter[tuple[str, str, str, str]] = Counter()
    dead: Counter[tuple[str, str, str]] = Counter()
    offloads: Counter[tuple[str, str]] = Counter()
    offloaded: Counter[tuple[str, str]] = Counter()
    failures: Counter[tuple[str, str, str]] = Counter()
    for event, *args in events:
        if event == "message_sized":
            side, actor, queue, size, limit = args
            sizes.setdefault((side, actor, queue), []).append(size)
            if limit is not None:
                limits[actor, queue] = limit
        elif event == "rejected":
            rejected[tuple(args)] += 1  # type: ignore[index]
        elif event == "warned":
            warned[tuple(args)] += 1  # type: ignore[index]
        elif event == "dead_lettered":
            dead[tuple(args)] += 1  # type: ignore[index]
        elif event == "worker_refused":
            rejected[("worker", *args)] += 1  # type: ignore[index]
            dead[tuple(args)] += 1  # type: ignore[index]
        elif event == "claim_offloaded":
            actor, queue, size = args
            offloads[actor, queue] += 1
            offloaded[actor, queue] += size
        else:
            failures[tuple(args)] += 1  # type: ignore[index]

    for (side, actor, queue), seen in sizes.items():
        labels = {"side": side, "actor_name": actor, "queue_name": queue}
        assert sample(registry, "actorschema_message_size_bytes_count", **labels) == len(seen)
        assert sample(registry, "actorschema_message_size_bytes_sum", **labels) == sum(seen)
        for bound in buckets:
            expected = sum(1 for size in seen if size <= bound)
            assert (
                sample(registry, "actorschema_message_size_bytes_bucket", le=str(bound), **labels) == expected
            )
        assert sample(registry, "actorschema_message_size_bytes_bucket", le="+Inf", **labels) == len(seen)
    for (actor, queue), limit in limits.items():
        assert (
            sample(registry, "actorschema_message_limit_bytes", actor_name=actor, queue_name=queue) == limit
        )
    for (side, actor, queue, reason), count in rejected.items():
        labels = {"side": side, "actor_name": actor, "queue_name": queue, "reason": reason}
        assert sample(registry, "actorschema_rejected_messages_total", **labels) == count
    for (side, actor, queue, reason), count in warned.items():
        labels = {"side": side, "actor_name": actor, "queue_name": queue, "reason": reason}
        assert sample(registry, "actorschema_warned_messages_total", **labels) == count
    for (actor, queue, reason), count in dead.items():
        labels = {"actor_name": actor, "queue_name": queue, "reason": reason}
        assert sample(registry, "actorschema_dead_letters_total", **labels) == count
    for (actor, queue), count in offloads.items():
        labels = {"actor_name": actor, "queue_name": queue}
        assert sample(registry, "actorschema_claim_offloads_total", **labels) == count
        assert (
            sample(registry, "actorschema_claim_offloaded_bytes_total", **labels) == offloaded[actor, queue]
        )
    for (actor, queue, reason), count in failures.items():
        labels = {"actor_name": actor, "queue_name": queue, "reason": reason}
        assert sample(registry, "actorschema_claim_fetch_failures_total", **labels) == count
    # Nothing was counted that was not told: every counter series written is one of the above.
    written = {
        (s.name, *sorted(s.labels.items()))
        for family in registry.collect()
        for s in family.samples
        if s.name.endswith("_total")
    }
    told = {
        *(("actorschema_rejected_messages_total", *_labels(SIDE_ACTOR_QUEUE_REASON, k)) for k in rejected),
        *(("actorschema_warned_messages_total", *_labels(SIDE_ACTOR_QUEUE_REASON, k)) for k in warned),
        *(("actorschema_dead_letters_total", *_labels(ACTOR_QUEUE_REASON, k)) for k in dead),
        *(("actorschema_claim_offloads_total", *_labels(ACTOR_QUEUE, k)) for k in offloads),
        *(("actorschema_claim_offloaded_bytes_total", *_labels(ACTOR_QUEUE, k)) for k in offloads),
        *(("actorschema_claim_fetch_failures_total", *_labels(ACTOR_QUEUE_REASON, k)) for k in failures),
    }
    assert written == told


SIDE_ACTOR_QUEUE_REASON = ("side", "actor_name", "queue_name", "reason")
ACTOR_QUEUE_REASON = ("actor_name", "queue_name", "reason")
ACTOR_QUEUE = ("actor_name", "queue_name")


def _labels(names: tuple[str, ...], values: tuple[Any, ...]) -> list[tuple[str, str]]:
    return sorted(zip(names, values, strict=True))


def test_label_values_past_the_bound_are_counted_together() -> None:
    registry = prometheus_client.CollectorRegistry()
    observer = PrometheusMetrics(registry=registry, max_label_values=2)
    for name in ["a", "b", "made-up-1", "made-up-2", "a"]:
        observer.dead_lettered(name, "default", "MessageMalformed")
    observer.dead_lettered(12345, "default", "MessageMalformed")  # type: ignore[arg-type]

    def dead(actor: str) -> float:
        return sample(
            registry,
            "actorschema_dead_letters_total",
            actor_name=actor,
            queue_name="default",
            reason="MessageMalformed",
        )

    assert (dead("a"), dead("b"), dead(OTHER)) == (2, 1, 3)


def test_every_metric_is_exported_under_its_documented_name() -> None:
    registry = prometheus_client.CollectorRegistry()
    observer = PrometheusMetrics(registry=registry)
    observer.message_sized("send", "a", "default", 10, 4096)
    observer.rejected("send", "a", "default", "PayloadInvalid")
    observer.warned("worker", "a", "default", "PayloadInvalid")
    observer.dead_lettered("a", "default", "PayloadInvalid")
    observer.claim_offloaded("a", "default", 5_000_000)
    observer.claim_fetch_failed("a", "default", "missing")
    exported = {sample.name for family in registry.collect() for sample in family.samples}
    for name in METRIC_NAMES:
        assert name in exported or f"{name}_count" in exported, name
        assert f"`{name}`" in README, f"{name} is not in the README's table of metrics"


def test_metric_objects_are_created_on_the_first_event_not_before() -> None:
    # Dramatiq's Prometheus middleware sets PROMETHEUS_MULTIPROC_DIR when a worker process
    # boots: metrics created earlier (at import, at enable()) would never reach its endpoint.
    registry = prometheus_client.CollectorRegistry()
    observer = PrometheusMetrics(registry=registry)
    assert list(registry.collect()) == []
    observer.rejected("send", "a", "default", "PayloadInvalid")
    assert {family.name for family in registry.collect()} >= {"actorschema_rejected_messages"}


def test_metrics_that_cannot_be_created_are_reported_once_and_stop_listening(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = prometheus_client.CollectorRegistry()
    first, second = PrometheusMetrics(registry=registry), PrometheusMetrics(registry=registry)
    observe.add_observer(first)
    observe.add_observer(second)  # the same names in the same registry: it cannot create them
    try:
        for _ in range(3):
            observe.rejected("send", "a", "default", "PayloadInvalid")
    finally:
        observe.remove_observer(first)
        observe.remove_observer(second)
    failures = [r for r in caplog.records if "observer" in r.getMessage() and r.exc_info]
    assert len(failures) == 1 and "Duplicated timeseries" in str(failures[0].exc_info[1])  # type: ignore[index]
    labels = {"side": "send", "actor_name": "a", "queue_name": "default", "reason": "PayloadInvalid"}
    assert sample(registry, "actorschema_rejected_messages_total", **labels) == 3


def test_enable_is_idempotent_refuses_other_settings_and_disable_unregisters() -> None:
    registry = prometheus_client.CollectorRegistry()
    first = metrics.enable(registry=registry)
    try:
        assert metrics.enable(registry=registry) is first
        assert first in observe.observers
        with pytest.raises(ValueError, match="already enabled"):
            metrics.enable(registry=registry, buckets=size_buckets(4096))
        observe.rejected("send", "a", "default", "PayloadInvalid")
        assert (
            sample(
                registry,
                "actorschema_rejected_messages_total",
                side="send",
                actor_name="a",
                queue_name="default",
                reason="PayloadInvalid",
            )
            == 1
        )
    finally:
        metrics.disable()
    assert first not in observe.observers
    assert list(registry.collect()) == []
    metrics.disable()  # a no-op now
    again = metrics.enable(registry=registry)  # the names are free again in that registry
    try:
        observe.rejected("send", "a", "default", "PayloadInvalid")
        assert (
            sample(
                registry,
                "actorschema_rejected_messages_total",
                side="send",
                actor_name="a",
                queue_name="default",
                reason="PayloadInvalid",
            )
            == 1
        )
    finally:
        metrics.disable()
    assert again is not first


def test_a_forked_child_writes_the_limit_gauge_again() -> None:
    # In multiprocess mode a forked child writes files of its own, which start empty.
    observer = PrometheusMetrics(registry=prometheus_client.CollectorRegistry())
    observer.message_sized("send", "a", "default", 10, 4096)
    assert observer._limits
    pid = os.fork()
    if pid == 0:  # the child: report by exit code only
        os._exit(0 if not observer._limits else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert observer._limits  # the parent's files still hold its value


# -- the gateway's events, on a real Worker ----------------------------------------------------


@pytest.fixture
def counted() -> Iterator[tuple[StubBroker, PayloadGateway, Any]]:
    """A guarded StubBroker (2 KiB limit) whose events a private registry counts."""
    registry = prometheus_client.CollectorRegistry()
    observer = PrometheusMetrics(registry=registry, buckets=size_buckets(2048))
    broker = StubBroker()
    broker.emit_after("process_boot")
    gateway = PayloadGateway(max_message_bytes=2048)
    broker.add_middleware(gateway)
    dramatiq.set_broker(broker)
    observe.add_observer(observer)
    yield broker, gateway, registry
    observe.remove_observer(observer)
    broker.flush_all()
    broker.close()


@pytest.mark.timeout(60)
def test_sends_rejections_arrivals_and_dead_letters_are_counted_per_actor(
    counted: tuple[StubBroker, PayloadGateway, Any],
) -> None:
    broker, gateway, registry = counted
    ran: list[tuple[str, int]] = []

    @dramatiq.actor(max_retries=0)
    def record(note: str, count: int) -> None:
        ran.append((note, count))

    where = {"actor_name": "record", "queue_name": "default"}
    record.send("hi", 1)
    [body] = list(broker.queues["default"].queue)
    with pytest.raises(PayloadTooLarge):
        record.send("x" * 3000, 1)
    with pytest.raises(PayloadInvalid):
        record.send("hi", "seven")
    with pytest.raises(PayloadInvalid):  # refused when built: no child of the group is enqueued
        group([record.message("ok", 1), record.message("ok", "eight")]).run()
    gateway.mode = "warn"
    record.send("warned", "nine")  # logged and enqueued as it is: counted as warned, not refused
    gateway.mode = "enforce"
    warned = {"side": "send", **where, "reason": "PayloadInvalid"}
    assert sample(registry, "actorschema_warned_messages_total", **warned) == 1

    assert sample(registry, "actorschema_message_size_bytes_count", side="send", **where) == 1
    assert sample(registry, "actorschema_message_size_bytes_sum", side="send", **where) == len(body)
    assert sample(registry, "actorschema_message_limit_bytes", **where) == 2048

    def rejected(side: str, reason: str, actor: str = "record") -> float:
        labels = {"side": side, "actor_name": actor, "queue_name": "default", "reason": reason}
        return sample(registry, "actorschema_rejected_messages_total", **labels)

    assert rejected("send", "PayloadTooLarge") == 1
    assert rejected("send", "PayloadInvalid") == 2

    # On the worker: one bad value (the guard), one body that is no message (the consumer).
    broker.flush("default")  # the warned message: not part of this count
    broker.queues["default"].put(body)
    bad = json.loads(body)
    bad["kwargs"]["count"] = "seven"
    bad_body = json.dumps(bad).encode()
    broker.queues["default"].put(bad_body)
    broker.queues["default"].put(b"\x00 not json")
    drain(broker)
    assert ran == [("hi", 1)]

    # Every arrival that got as far as the size check is sized: the good one and the bad value.
    assert sample(registry, "actorschema_message_size_bytes_count", side="worker", **where) == 2
    assert sample(registry, "actorschema_message_size_bytes_sum", side="worker", **where) == len(body) + len(
        bad_body
    )
    assert rejected("worker", "PayloadInvalid") == 1
    assert rejected("worker", "MessageMalformed", actor="?") == 1

    def dead(reason: str, actor: str = "record") -> float:
        labels = {"actor_name": actor, "queue_name": "default", "reason": reason}
        return sample(registry, "actorschema_dead_letters_total", **labels)

    assert dead("PayloadInvalid") == 1 and dead("MessageMalformed", actor="?") == 1
    assert len(broker.dead_letters_by_queue["default"]) == 2


@pytest.mark.timeout(60)
def test_in_warn_mode_what_enforce_would_refuse_is_counted_as_warned_on_both_sides(
    counted: tuple[StubBroker, PayloadGateway, Any],
) -> None:
    broker, gateway, registry = counted
    gateway.mode = "warn"
    ran: list[Any] = []

    @dramatiq.actor(max_retries=0)
    def tally(count: int) -> None:
        ran.append(count)

    tally.send("seven")  # refused under enforce: here logged, enqueued and counted as warned
    drain(broker)
    assert ran == ["seven"]  # run as it arrived, as warn mode promises

    def count(name: str, side: str) -> float:
        labels = {"side": side, "actor_name": "tally", "queue_name": "default", "reason": "PayloadInvalid"}
        return sample(registry, name, **labels)

    assert count("actorschema_warned_messages_total", "send") == 1
    assert count("actorschema_warned_messages_total", "worker") == 1
    assert count("actorschema_rejected_messages_total", "send") == 0
    assert count("actorschema_rejected_messages_total", "worker") == 0
    assert not broker.dead_letters_by_queue["default"]


def test_a_message_refused_when_checked_again_at_encoding_is_counted(
    counted: tuple[StubBroker, PayloadGateway, Any],
) -> None:
    broker, _, registry = counted

    class Padding(dramatiq.Middleware):
        """After the gateway: makes the message it accepted too large."""

        def before_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
            message.options["padding"] = "x" * 3000

    broker.add_middleware(Padding())

    @dramatiq.actor
    def sink(n: int) -> None:
        pass

    with pytest.raises(PayloadTooLarge):
        sink.send(1)
    labels = {"side": "send", "actor_name": "sink", "queue_name": "default", "reason": "PayloadTooLarge"}
    assert sample(registry, "actorschema_rejected_messages_total", **labels) == 1
    assert broker.queues["default"].qsize() == 0


def test_an_observer_written_before_an_event_existed_does_not_hear_it_and_nothing_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    heard: list[tuple[Any, ...]] = []

    class Older:
        """Implements only ``rejected``, as observers written before ``warned`` existed do."""

        def rejected(self, *args: Any) -> None:
            heard.append(args)

    observer: Any = Older()
    observe.add_observer(observer)
    try:
        with caplog.at_level("ERROR", logger="actorschema"):
            observe.warned("send", "a", "default", "PayloadInvalid")
            observe.rejected("send", "a", "default", "PayloadInvalid")
    finally:
        observe.remove_observer(observer)
    assert heard == [("send", "a", "default", "PayloadInvalid")]
    assert not caplog.records
