"""Prometheus metrics: message sizes, rejections, dead letters and the claim check, per actor.

Turn them on once per process, where the broker is set up (``pip install
'actorschema[prometheus]'``)::

    import actorschema.metrics

    actorschema.metrics.enable()

From then on this process's :mod:`prometheus_client` metrics count what the
gateway, the worker side and the claim check report through
:mod:`actorschema.observe`:

* ``actorschema_message_size_bytes``, a histogram by ``side``, ``actor_name``, ``queue_name``;
* ``actorschema_message_limit_bytes``, a gauge by ``actor_name``, ``queue_name``;
* ``actorschema_rejected_messages_total`` by ``side``, ``actor_name``, ``queue_name``, ``reason``;
* ``actorschema_warned_messages_total`` by ``side``, ``actor_name``, ``queue_name``, ``reason``:
  in ``mode="warn"``, the messages ``enforce`` would have refused, let through and logged;
* ``actorschema_dead_letters_total`` by ``actor_name``, ``queue_name``, ``reason``;
* ``actorschema_claim_offloads_total`` and ``actorschema_claim_offloaded_bytes_total`` by
  ``actor_name``, ``queue_name``;
* ``actorschema_claim_fetch_failures_total`` by ``actor_name``, ``queue_name``, ``reason``.

``side`` is ``"send"`` (checked by the gateway before enqueue: every accepted
message, retries and pipeline continuations included) or ``"worker"`` (on
arrival, before the actor runs). The size is the encoded message in bytes,
as the limit counts it; the limit gauge is the limit that applied to the
actor's last message (absent when none applies). ``reason`` is a rejection's
class name (``"PayloadTooLarge"``, ``"PayloadInvalid"``...), or the claim check's
reason for a failed fetch: a small fixed set.
Dead letters are the messages actorschema refused on the worker (the consume
guard, or a guarded consumer for a body that is not a message); Dramatiq's
own (retries exhausted) are counted by Dramatiq's middleware. In
``mode="warn"`` a message that would be refused is logged and counted as
warned, not rejected: watch that counter fall to zero before switching to
``enforce``.
The labels ``actor_name`` and ``queue_name`` are Dramatiq's own, so the
series join with its ``dramatiq_*`` metrics.

**Where they are exported.** With Dramatiq's Prometheus middleware
(``dramatiq.middleware.prometheus.Prometheus``) on the broker, a worker
process's metrics go where Dramatiq's go: its multiprocess directory
(``dramatiq_prom_db``) and the HTTP endpoint the worker's parent process
serves (``dramatiq_prom_host``:``dramatiq_prom_port``, 9191 by default).
This works because the metrics are created on the first event, never at
import or at :func:`enable`: Dramatiq sets ``PROMETHEUS_MULTIPROC_DIR``
when a worker process boots, and :mod:`prometheus_client` picks its storage
when it is first imported. In any other process (a web app that sends) they
are in ``prometheus_client``'s default registry, or the one given to
:func:`enable`: expose it as for any other metric (``start_http_server``,
``make_wsgi_app``, ``make_asgi_app``; multiprocess mode under gunicorn).

Counting never changes what happens to a message (see :mod:`actorschema.observe`).
"""

from __future__ import annotations

import importlib.util
import os
import threading
import weakref
from collections.abc import Iterable
from typing import Any

from . import observe
from .limits import DEFAULT_MAX_MESSAGE_BYTES
from .observe import NullObserver, Side

__all__ = [
    "DEAD_LETTERS",
    "FETCH_FAILURES",
    "LIMIT",
    "METRIC_NAMES",
    "OFFLOADED_BYTES",
    "OFFLOADS",
    "OTHER",
    "REJECTED",
    "SIZE",
    "WARNED",
    "PrometheusMetrics",
    "disable",
    "enable",
    "size_buckets",
]

# -- Names (as exported; counters carry the ``_total`` suffix) ------------------------------

#: Histogram of encoded message sizes in bytes, by side, actor and queue.
SIZE = "actorschema_message_size_bytes"
#: Gauge: the size limit that applied to an actor's messages on a queue.
LIMIT = "actorschema_message_limit_bytes"
#: Counter of refused messages by side, actor, queue and reason.
REJECTED = "actorschema_rejected_messages_total"
#: Counter of messages ``mode="warn"`` let through that ``enforce`` would refuse, by side, actor, queue, reason.
WARNED = "actorschema_warned_messages_total"
#: Counter of messages actorschema dead-lettered on the worker, by actor, queue and reason.
DEAD_LETTERS = "actorschema_dead_letters_total"
#: Counter of argument values the claim check moved into its store.
OFFLOADS = "actorschema_claim_offloads_total"
#: Counter of the bytes the claim check moved into its store.
OFFLOADED_BYTES = "actorschema_claim_offloaded_bytes_total"
#: Counter of offloaded values the worker could not fetch or verify, by reason.
FETCH_FAILURES = "actorschema_claim_fetch_failures_total"
#: Every metric this module exports.
METRIC_NAMES = (SIZE, LIMIT, REJECTED, WARNED, DEAD_LETTERS, OFFLOADS, OFFLOADED_BYTES, FETCH_FAILURES)

#: The label value that stands for every value past ``max_label_values`` distinct ones.
OTHER = "_other"

#: Powers of two from this many bytes up make the lower buckets.
_SMALLEST_BUCKET = 64
#: The fractions of each limit that get a bucket of their own: how close to it messages come.
_LIMIT_FRACTIONS = (0.5, 0.75, 0.9, 1.0)


def size_buckets(*limits: int) -> tuple[float, ...]:
    """Histogram bucket bounds for message sizes, fit for the limits in use.

    Powers of two from 64 B up to the largest limit, and a bound at 50 %, 75 %,
    90 % and 100 % of each limit, so a query can tell how many messages come
    close to their limit. Sizes above the largest limit fall in ``+Inf``.

    Parameters:
      limits: The size limits in use, in bytes (the gateway's global limit,
        queue and actor limits); none means the default 256 KiB.

    Raises:
      ValueError: If a limit is not a positive int.
    """
    for limit in limits:
        if type(limit) is not int or limit <= 0:
            raise ValueError(f"a size limit must be a positive int, not {limit!r}")
    limits = limits or (DEFAULT_MAX_MESSAGE_BYTES,)
    top = max(limits)
    bounds = {
        float(_SMALLEST_BUCKET << shift)
        for shift in range(top.bit_length())
        if _SMALLEST_BUCKET << shift <= top
    }
    bounds.update(float(round(limit * fraction)) for limit in limits for fraction in _LIMIT_FRACTIONS)
    return tuple(sorted(bound for bound in bounds if bound >= 1))


class _Bounded:
    """Label values as they come, up to ``most`` distinct ones; :data:`OTHER` after that.

    Actor and queue names on the worker side come from the messages themselves
    (a malformed body may name anything): this keeps a flood of made-up names
    from creating a series each.
    """

    __slots__ = ("most", "seen")

    def __init__(self, most: int) -> None:
        self.most = most
        self.seen: set[str] = set()

    def __call__(self, value: object) -> str:
        text = value if type(value) is str else repr(value)
        if text in self.seen:
            return text
        if len(self.seen) >= self.most:
            return OTHER
        self.seen.add(text)
        return text


class _Metrics:
    """The prometheus_client metric objects, created together on the first event."""

    def __init__(self, registry: Any, buckets: tuple[float, ...]) -> None:
        import prometheus_client as prom

        where = prom.REGISTRY if registry is None else registry
        pair = ["actor_name", "queue_name"]
        self.registry = where
        self.size = prom.Histogram(
            SIZE,
            "Encoded size of the messages actorschema checked, in bytes (side: send or worker).",
            ["side", *pair],
            buckets=buckets,
            registry=where,
        )
        self.limit = prom.Gauge(
            LIMIT,
            "The size limit that applied to the actor's messages on the queue, in bytes.",
            pair,
            registry=where,
            # Across a worker's processes, the live ones' value (they share one configuration).
            multiprocess_mode="livemax",
        )

        def counter(name: str, text: str, labels: list[str]) -> Any:
            return prom.Counter(name.removesuffix("_total"), text, labels, registry=where)

        self.rejected = counter(
            REJECTED,
            "Messages actorschema refused (side: send, nothing enqueued; worker, not run).",
            ["side", *pair, "reason"],
        )
        self.warned = counter(
            WARNED,
            "Messages mode='warn' let through (and logged) that mode='enforce' would refuse.",
            ["side", *pair, "reason"],
        )
        self.dead_letters = counter(
            DEAD_LETTERS,
            "Messages actorschema dead-lettered on the worker, with the reason.",
            [*pair, "reason"],
        )
        self.offloads = counter(OFFLOADS, "Argument values the claim check moved into its store.", pair)
        self.offloaded_bytes = counter(OFFLOADED_BYTES, "Bytes the claim check moved into its store.", pair)
        self.fetch_failures = counter(
            FETCH_FAILURES,
            "Offloaded values the worker could not fetch or verify (the message is dead-lettered).",
            [*pair, "reason"],
        )

    def collectors(self) -> tuple[Any, ...]:
        return (
            self.size,
            self.limit,
            self.rejected,
            self.warned,
            self.dead_letters,
            self.offloads,
            self.offloaded_bytes,
            self.fetch_failures,
        )


class PrometheusMetrics(NullObserver):
    """An observer that counts what actorschema reports in prometheus_client metrics.

    :func:`enable` makes one and registers it; make your own to count into a
    registry of your choice (then ``observe.add_observer(metrics)``).

    Parameters:
      registry: The ``prometheus_client`` registry to register the metrics in;
        None for its default registry. Under Dramatiq's Prometheus middleware
        the registry does not matter: every worker process's metrics are
        exported from Dramatiq's multiprocess directory.
      buckets: The size histogram's bucket bounds in bytes; by default
        :func:`size_buckets` of the default limit. Pass
        ``size_buckets(...)`` of the limits you use.
      max_label_values: How many distinct actor names (and queue names, and
        reasons) get series of their own; later ones are counted under
        :data:`OTHER`.
    """

    def __init__(
        self,
        *,
        registry: Any = None,
        buckets: Iterable[float] | None = None,
        max_label_values: int = 1000,
    ) -> None:
        if importlib.util.find_spec("prometheus_client") is None:
            raise ImportError(
                "actorschema.metrics needs prometheus_client: pip install 'actorschema[prometheus]'"
            )
        if type(max_label_values) is not int or max_label_values < 1:
            raise ValueError(f"max_label_values must be a positive int, not {max_label_values!r}")
        self.registry = registry
        self.buckets = tuple(size_buckets() if buckets is None else buckets)
        if not self.buckets or list(self.buckets) != sorted(set(self.buckets)):
            raise ValueError(f"buckets must be increasing bounds, not {self.buckets!r}")
        self.max_label_values = max_label_values
        self._metrics: _Metrics | None = None
        self._lock = threading.Lock()
        self._actor = _Bounded(max_label_values)
        self._queue = _Bounded(max_label_values)
        self._reason = _Bounded(max_label_values)
        # Children by label values: prometheus_client's labels() locks and builds a key each call.
        self._sizes: dict[tuple[str, str, str], Any] = {}
        # The limit last written per (actor, queue): the gauge is written only when it changes.
        self._limits: dict[tuple[str, str], int] = {}
        _instances.add(self)

    @property
    def metrics(self) -> _Metrics:
        """The metric objects, created on first use (after a worker process has set up Prometheus)."""
        metrics = self._metrics
        if metrics is None:
            with self._lock:
                metrics = self._metrics
                if metrics is None:
                    try:
                        metrics = self._metrics = _Metrics(self.registry, self.buckets)
                    except Exception:
                        # It would fail the same way on every message (names taken in that
                        # registry): stop listening, so observe logs it once, not per message.
                        observe.remove_observer(self)
                        raise
        return metrics

    def close(self) -> None:
        """Unregister the metrics from their registry (after :func:`observe.remove_observer`)."""
        with self._lock:
            metrics, self._metrics = self._metrics, None
            self._sizes.clear()
            self._limits.clear()
        if metrics is not None:
            for collector in metrics.collectors():
                metrics.registry.unregister(collector)

    # -- the events ----------------------------------------------------------

    def message_sized(
        self, side: Side, actor_name: str, queue_name: str, size: int, limit: int | None
    ) -> None:
        actor, queue = self._actor(actor_name), self._queue(queue_name)
        key = (side, actor, queue)
        child = self._sizes.get(key)
        if child is None:
            child = self._sizes[key] = self.metrics.size.labels(side, actor, queue)
        child.observe(size)
        if limit is not None and self._limits.get((actor, queue)) != limit:
            self.metrics.limit.labels(actor, queue).set(limit)
            self._limits[actor, queue] = limit

    def rejected(self, side: Side, actor_name: str, queue_name: str, reason: str) -> None:
        labels = (side, self._actor(actor_name), self._queue(queue_name), self._reason(reason))
        self.metrics.rejected.labels(*labels).inc()

    def warned(self, side: Side, actor_name: str, queue_name: str, reason: str) -> None:
        labels = (side, self._actor(actor_name), self._queue(queue_name), self._reason(reason))
        self.metrics.warned.labels(*labels).inc()

    def dead_lettered(self, actor_name: str, queue_name: str, reason: str) -> None:
        labels = (self._actor(actor_name), self._queue(queue_name), self._reason(reason))
        self.metrics.dead_letters.labels(*labels).inc()

    def claim_offloaded(self, actor_name: str, queue_name: str, size: int) -> None:
        actor, queue = self._actor(actor_name), self._queue(queue_name)
        metrics = self.metrics
        metrics.offloads.labels(actor, queue).inc()
        metrics.offloaded_bytes.labels(actor, queue).inc(size)

    def claim_fetch_failed(self, actor_name: str, queue_name: str, reason: str) -> None:
        labels = (self._actor(actor_name), self._queue(queue_name), self._reason(reason))
        self.metrics.fetch_failures.labels(*labels).inc()


#: Every live observer, to clear what each remembers writing when the process forks.
_instances: weakref.WeakSet[PrometheusMetrics] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # A forked child writes its own multiprocess files, which start empty: write the gauges again.
    for instance in _instances:
        instance._limits.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)

_enabled: PrometheusMetrics | None = None
_enable_lock = threading.Lock()


def enable(
    *, registry: Any = None, buckets: Iterable[float] | None = None, max_label_values: int = 1000
) -> PrometheusMetrics:
    """Count message sizes, rejections, dead letters and claim checks in this process's Prometheus metrics.

    Call it once per process, where the broker is set up (a worker process
    imports that module too). Calling it again with the same settings returns
    the same observer. Parameters are :class:`PrometheusMetrics`'s.

    Raises:
      ImportError: Without prometheus_client (``pip install 'actorschema[prometheus]'``).
      ValueError: If it is already enabled with other settings (:func:`disable` first).
    """
    global _enabled
    with _enable_lock:
        wanted = PrometheusMetrics(registry=registry, buckets=buckets, max_label_values=max_label_values)
        current = _enabled
        if current is not None:
            if (current.registry, current.buckets, current.max_label_values) != (
                wanted.registry,
                wanted.buckets,
                wanted.max_label_values,
            ):
                raise ValueError(
                    "actorschema.metrics is already enabled with other settings: disable() first"
                )
            return current
        _enabled = wanted
        observe.add_observer(wanted)
        return wanted


def disable() -> None:
    """Stop counting, and unregister the metrics :func:`enable` registered; a no-op when not enabled."""
    global _enabled
    with _enable_lock:
        current, _enabled = _enabled, None
    if current is not None:
        observe.remove_observer(current)
        current.close()
