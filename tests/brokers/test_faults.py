"""Faults with nothing lost: real Dramatiq worker processes on a real Redis and a real RabbitMQ.

Each test runs ``dramatiq fault_app:setup`` (Dramatiq's own CLI, real worker
processes) on a drop-in broker of :mod:`actorschema.brokers` with the
gateway, feeds its queue from this process (valid messages through
``actor.send``, with a few malformed bodies written raw among them), and
injects one fault while the workers run:

* a worker process killed with SIGKILL while it holds a batch;
* the broker server restarted (Redis killed and restarted on its append-only
  file, fsynced on every write; RabbitMQ stopped and booted again on its data
  directory: durable queues, persistent messages, confirmed publishes);
* every client connection dropped mid-stream (Redis ``CLIENT KILL``,
  ``rabbitmqctl close_all_connections``); and on Redis, through a TCP proxy
  that resets the socket on cue, the drops at the moments that strand a
  fetched batch in a running worker or lose a dead letter's reason.

Then, counted by message id from the side store the actor appends to (see
``fault_app``): every send that returned ran at least once, with typed
arguments; the dead-letter queue holds exactly the malformed bodies, each
with its reason, and no reason is left behind for a message that is not
there; and the workers got there on their own: the ones not killed are still
running, nobody restarted anything by hand. A message may run twice (a fault
between the run and its ack): at-least-once is the contract, so duplicates are
allowed and only reported by the assertion messages.

Bounded: each test waits at most ``SETTLE_SECONDS`` for its messages.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fault_app
import pytest
from conftest import wait_until
from helpers.malformed import Item, valid_body
from servers import RabbitmqServer, RedisServer, need

from actorschema.consume.deadletters import REASON_HEADER, reasons_key

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
#: How long a test waits for every accepted message to run after its fault.
SETTLE_SECONDS = 20
#: How long the worst-moments test delays a message it cuts the connection around.
DELAY_MS = 4_000
WHEN = datetime.datetime(2024, 5, 1, 12, tzinfo=datetime.UTC)

pytestmark = pytest.mark.slow


class Faults:
    """A queue fed from this process and consumed by Dramatiq CLI workers; what ran, what was refused.

    Parameters:
      kind: ``redis`` or ``rabbitmq``.
      url: The server's URL.
      tmp_path: Where the side store and the workers' logs go.
      work_seconds: How long each run takes in the workers.
    """

    def __init__(self, kind: str, url: str, tmp_path: Path, *, work_seconds: float) -> None:
        self.kind = kind
        self.url = url
        self.tmp_path = tmp_path
        self.work_seconds = work_seconds
        self.queue = f"faults_{uuid.uuid4().hex[:8]}"
        self.store = tmp_path / "ran.jsonl"
        self.store.touch()
        # The producer: the same app (broker, gateway, actor) as the workers; it never consumes.
        self.broker = fault_app.build(kind, url)
        self.broker.emit_after("process_boot")
        self.actor = fault_app.declare(self.broker, self.queue, str(self.store), 0)
        if kind == "rabbitmq":
            self.broker.declare_queue(self.queue, ensure=True)
        #: message_id -> n of every send that returned: the broker accepted it.
        self.accepted: dict[str, int] = {}
        #: How many sends raised (the server was down or the connection dropped): not accepted.
        self.failed_sends = 0
        #: The malformed bodies the server accepted, by the id the dead-letter queue lists them under.
        self.malformed: dict[str, bytes] = {}
        #: Malformed bodies whose write raised: the server may have taken one anyway (a publisher
        #: confirm lost as RabbitMQ shuts down), so the dead-letter queue may, not must, hold them.
        self.maybe_malformed: dict[str, bytes] = {}
        self.workers: list[subprocess.Popen[bytes]] = []
        self._raw: Any = None
        self._lock = threading.Lock()

    # -- workers -------------------------------------------------------------

    def start_worker(self) -> subprocess.Popen[bytes]:
        """Start ``dramatiq fault_app:setup`` (one process, two threads) in a session of its own."""
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS), str(TESTS / "brokers")]),
            "FAULT_BROKER": self.kind,
            "FAULT_URL": self.url,
            "FAULT_QUEUE": self.queue,
            "FAULT_STORE": str(self.store),
            "FAULT_WORK_SECONDS": str(self.work_seconds),
        }
        log = (self.tmp_path / f"worker-{len(self.workers)}.log").open("wb")
        with log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "dramatiq", "fault_app:setup", "--processes", "1", "--threads", "2"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.workers.append(worker)
        return worker

    def logs(self) -> str:
        return "\n".join(
            path.read_text(errors="replace")[-6_000:] for path in self.tmp_path.glob("worker-*.log")
        )

    def stop(self) -> None:
        """Kill the workers (every verdict is in by then: a graceful stop would only cost seconds)."""
        for worker in self.workers:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        with contextlib.suppress(Exception):
            self.broker.close()
        if self._raw is not None:
            with contextlib.suppress(Exception):
                self._raw.close()

    # -- producing -----------------------------------------------------------

    def send(self, n: int, *, delay: int | None = None) -> None:
        """Send message ``n`` (``delay`` ms later); it counts as accepted only if the send returned."""
        try:
            kwargs = {"n": n, "when": WHEN, "item": Item(sku=f"sku-{n}", quantity=n)}
            message = self.actor.send_with_options(kwargs=kwargs, delay=delay)
        except Exception:
            with self._lock:
                self.failed_sends += 1
            return
        with self._lock:
            self.accepted[message.message_id] = n

    def send_malformed(self, n: int) -> None:
        """Write a body the worker must dead-letter: alternately undecodable and of the wrong type."""
        rid = str(uuid.uuid4())
        body = valid_body(self.queue, redis_message_id=rid if self.kind == "redis" else None)
        body["actor_name"] = self.actor.actor_name
        if n % 2:
            encoded = b"\x00 not json " + rid.encode()
        else:
            body["kwargs"]["n"] = f"not a number {n}"
            encoded = json.dumps(body).encode()
        key = rid if self.kind == "redis" else encoded.decode(errors="replace")
        try:
            if self.kind == "redis":
                self._redis_raw(rid, encoded)
            else:
                self._rabbitmq_raw(encoded)
        except Exception:
            self._raw = None  # not known to be taken: not required in the dead letters; reconnect
            self.maybe_malformed[key] = encoded
            return
        self.malformed[key] = encoded

    def _redis_raw(self, rid: str, body: bytes) -> None:
        if self._raw is None:
            import redis

            self._raw = redis.Redis.from_url(self.url)
        with self._raw.pipeline(transaction=True) as pipe:
            pipe.hset(f"dramatiq:{self.queue}.msgs", rid, body)
            pipe.rpush(f"dramatiq:{self.queue}", rid)
            pipe.execute()

    def _rabbitmq_raw(self, body: bytes) -> None:
        import pika

        if self._raw is None or not self._raw.is_open:
            self._raw = pika.BlockingConnection(pika.URLParameters(self.url + "/%2F"))
        channel = self._raw.channel()
        channel.confirm_delivery()
        channel.basic_publish("", self.queue, body, pika.BasicProperties(delivery_mode=2))
        channel.close()

    def enqueue_raw_batch(
        self, bodies: list[bytes], *, first_n: int, rids: list[str] | None = None
    ) -> list[str]:
        """Redis: list one batch in one transaction, so that one fetch takes it whole; returns its ids.

        An empty body stands for a valid message (counted as accepted); any other is malformed.
        """
        rids = rids or [str(uuid.uuid4()) for _ in bodies]
        encoded = []
        for n, (rid, body) in enumerate(zip(rids, bodies, strict=True), start=first_n):
            if body:
                self.malformed[rid] = body
                encoded.append(body)
                continue
            message = valid_body(self.queue, n=n, redis_message_id=rid)
            self.accepted[message["message_id"]] = n
            encoded.append(json.dumps(message).encode())
        with self.broker.client.pipeline(transaction=True) as pipe:  # type: ignore[attr-defined]
            for rid, body in zip(rids, encoded, strict=True):
                pipe.hset(f"dramatiq:{self.queue}.msgs", rid, body)
            pipe.rpush(f"dramatiq:{self.queue}", *rids)
            pipe.execute()
        return rids

    def produce(self, *, interval: float, malformed_every: int) -> Callable[[], None]:
        """Send from a thread, one message every ``interval`` seconds, every ``malformed_every``-th
        malformed and every 7th delayed by 300 ms, until the returned function is called (it waits
        for the thread)."""
        stop = threading.Event()

        def run() -> None:
            n = 0
            while not stop.is_set():
                if n % malformed_every == malformed_every - 1:
                    self.send_malformed(n)
                else:
                    self.send(n, delay=300 if n % 7 == 3 else None)
                n += 1
                time.sleep(interval)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()

        def stop_producing() -> None:
            stop.set()
            thread.join(SETTLE_SECONDS)
            assert not thread.is_alive(), "the producer stopped"

        return stop_producing

    def wait_until_running(self) -> None:
        """Send a few messages and wait until the workers have run them: they are up and consuming."""
        first = len(self.accepted)
        for n in range(-5, 0):
            self.send(n)
        assert len(self.accepted) == first + 5, "the server accepts sends"
        wait_until(lambda: len(self.runs()) >= 5, "the workers to run their first messages", SETTLE_SECONDS)

    # -- what happened -------------------------------------------------------

    def runs(self) -> list[dict[str, Any]]:
        """Every run the workers recorded, in order."""
        return [json.loads(line) for line in self.store.read_text().splitlines() if line]

    def wait_for_every_accepted_message(self) -> list[dict[str, Any]]:
        def done() -> bool:
            return set(self.accepted) <= {run["id"] for run in self.runs()}

        try:
            wait_until(done, "every accepted message to run", SETTLE_SECONDS, interval=0.1)
        except AssertionError:
            missing = set(self.accepted) - {run["id"] for run in self.runs()}
            raise AssertionError(
                f"{len(missing)} of {len(self.accepted)} accepted messages never ran "
                f"(n: {sorted(self.accepted[i] for i in missing)[:20]});\nworker logs:\n{self.logs()}"
            ) from None
        return self.runs()

    def dead_letters(self) -> list[tuple[str, bytes, str | None]]:
        """What the dead-letter queue holds: (id, body, reason text or None), read without consuming it."""
        if self.kind == "redis":
            # One transaction: the workers may be dead-lettering meanwhile.
            with self.broker.client.pipeline(transaction=True) as pipe:  # type: ignore[attr-defined]
                pipe.hgetall(f"dramatiq:{self.queue}.XQ.msgs")
                pipe.hgetall(reasons_key("dramatiq", self.queue))
                pipe.zrange(f"dramatiq:{self.queue}.XQ", 0, -1)
                bodies, reasons, listed = pipe.execute()
            assert set(listed) == set(bodies), "every listed dead letter has its body"
            return [(rid.decode(), bodies[rid], _text(reasons.get(rid))) for rid in listed]
        import pika

        found = []
        connection = pika.BlockingConnection(pika.URLParameters(self.url + "/%2F"))
        try:
            channel = connection.channel()
            while True:
                method, properties, body = channel.basic_get(f"{self.queue}.XQ", auto_ack=False)
                if method is None:
                    break
                found.append(
                    (body.decode(errors="replace"), body, (properties.headers or {}).get(REASON_HEADER))
                )
        finally:
            connection.close()  # unacked: every message goes back
        return found

    def orphan_reasons(self) -> set[str]:
        """Redis: reasons kept for ids that are not in the dead-letter queue."""
        with self.broker.client.pipeline(transaction=True) as pipe:  # type: ignore[attr-defined]
            pipe.hkeys(reasons_key("dramatiq", self.queue))
            pipe.zrange(f"dramatiq:{self.queue}.XQ", 0, -1)
            kept, listed = pipe.execute()
        return {key.decode() for key in kept} - {rid.decode() for rid in listed}

    def check(self, runs: list[dict[str, Any]]) -> Counter[str]:
        """The verdicts every fault test shares; returns how often each message ran."""
        times = Counter(run["id"] for run in runs)
        assert set(self.accepted) <= set(times)
        assert all(run["typed"] for run in runs), "every run got its typed arguments"
        assert all(self.accepted.get(run["id"], run["n"]) == run["n"] for run in runs)

        def settled() -> bool:
            return {entry[0] for entry in self.dead_letters()} >= set(self.malformed)

        wait_until(settled, "every malformed body to be dead-lettered", SETTLE_SECONDS, interval=0.1)
        dead = self.dead_letters()
        # Exactly the malformed bodies (and any whose write raised yet reached the server): no
        # accepted message was dead-lettered by mistake.
        known = {**self.maybe_malformed, **self.malformed}
        assert set(self.malformed) <= {entry[0] for entry in dead} <= set(known), self.logs()
        assert all(body == known[key] for key, body, _ in dead), "dead letters keep their body"
        assert all(reason is not None for _, _, reason in dead), "every dead letter says why"
        if self.kind == "redis":
            assert not self.orphan_reasons(), "no reason is left behind for a message that is not dead"
        return times


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode()


def worker_pid_with(runs: Callable[[], list[dict[str, Any]]], at_least: int) -> tuple[int, str | None]:
    """The pid (and broker id) of the first worker process that has run ``at_least`` messages."""
    found: list[tuple[int, str | None]] = []

    def some_worker_is_busy() -> bool:
        counts = Counter((run["pid"], run["broker"]) for run in runs())
        found.extend(key for key, count in counts.items() if count >= at_least)
        return bool(found)

    wait_until(some_worker_is_busy, f"a worker process to run {at_least} messages", SETTLE_SECONDS, 0.05)
    return found[0]


class CuttingProxy:
    """A TCP proxy to a server that drops a connection at a chosen command: a network fault on cue.

    ``cut(*markers)`` arms a one-shot fault on the next request (client to
    server bytes) containing every marker: the connection is closed before the
    request reaches the server, or, with ``after_reply=True``, once the
    server has executed it but before its reply reaches the client (the
    client then cannot know that it ran). With ``down_seconds``, the server
    then stays unreachable that long: every connection is closed, new ones
    are closed as soon as they are accepted.

    Parameters:
      upstream_port: The server's port on 127.0.0.1.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.armed: list[tuple[tuple[bytes, ...], bool, float]] = []
        #: How many armed faults fired.
        self.cuts = 0
        self.down_until = 0.0
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def cut(self, *markers: bytes, after_reply: bool = False, down_seconds: float = 0.0) -> None:
        with self.lock:
            self.armed.append((markers, after_reply, down_seconds))

    def close(self) -> None:
        self.listener.close()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            if time.monotonic() < self.down_until:
                _drop(client)
                continue
            server = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self.lock:
                self.open += [client, server]
            muted = threading.Event()
            threading.Thread(target=self._requests, args=(client, server, muted), daemon=True).start()
            threading.Thread(target=self._replies, args=(server, client, muted), daemon=True).start()

    def _fault(self, data: bytes) -> tuple[tuple[bytes, ...], bool, float] | None:
        with self.lock:
            for rule in self.armed:
                if all(marker in data for marker in rule[0]):
                    self.armed.remove(rule)
                    self.cuts += 1
                    return rule
        return None

    def _requests(self, client: socket.socket, server: socket.socket, muted: threading.Event) -> None:
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                rule = self._fault(data)
                if rule is None:
                    server.sendall(data)
                    continue
                _, after_reply, down_seconds = rule
                if after_reply:  # let the server execute it, drop what it answers
                    muted.set()
                    server.sendall(data)
                    time.sleep(0.2)
                if down_seconds:
                    self.down_until = time.monotonic() + down_seconds
                    with self.lock:
                        everything, self.open = self.open, []
                    for end in everything:
                        _drop(end)
                break
        _drop(client)
        _drop(server)

    def _replies(self, server: socket.socket, client: socket.socket, muted: threading.Event) -> None:
        with contextlib.suppress(OSError):
            while data := server.recv(65536):
                if not muted.is_set():
                    client.sendall(data)


def _drop(end: socket.socket) -> None:
    with contextlib.suppress(OSError):
        end.shutdown(socket.SHUT_RDWR)  # wakes a recv blocked on it in another thread
    end.close()


def parent_of(pid: int) -> int:
    """The parent pid of ``pid`` (Linux): which ``dramatiq`` CLI a worker process belongs to."""
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[1])


@pytest.fixture
def persistent_redis() -> Iterator[RedisServer]:
    """A redis-server of this test's own, on an append-only file fsynced on every write."""
    server = RedisServer(need("redis-server"), persistent=True)
    yield server
    server.stop()


@pytest.fixture
def faults_on(tmp_path: Path) -> Iterator[Callable[..., Faults]]:
    made: list[Faults] = []

    def make(kind: str, url: str, *, work_seconds: float = 0.02) -> Faults:
        made.append(Faults(kind, url, tmp_path, work_seconds=work_seconds))
        return made[-1]

    yield make
    for faults in made:
        faults.stop()


# -- a worker process killed with SIGKILL in the middle of a batch ------------


@pytest.mark.redis
def test_redis_worker_killed_mid_batch(
    redis_server: RedisServer, redis_client: Any, faults_on: Callable[..., Faults]
) -> None:
    faults = faults_on("redis", redis_server.url, work_seconds=0.05)
    for n in range(160):
        if n % 20 == 19:
            faults.send_malformed(n)
        else:
            faults.send(n)
    first, second = faults.start_worker(), faults.start_worker()
    pid, broker_id = worker_pid_with(faults.runs, at_least=8)
    killed_cli = parent_of(pid)
    acks = f"dramatiq:__acks__.{broker_id}.{faults.queue}"
    # Frozen, it cannot ack: kill it at an instant it holds fetched, unacked messages.
    held = 0
    deadline = time.monotonic() + SETTLE_SECONDS
    while not held and time.monotonic() < deadline:
        os.kill(pid, signal.SIGSTOP)
        held = redis_client.scard(acks)
        if not held:
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    assert held > 0, "the killed worker held fetched, unacked messages"
    runs = faults.wait_for_every_accepted_message()
    times = faults.check(runs)
    assert killed_cli in (first.pid, second.pid)
    survivor = second if killed_cli == first.pid else first
    assert survivor.poll() is None, "the other worker is still running"
    assert any(run["pid"] != pid for run in runs), "the other worker ran messages"
    assert faults.failed_sends == 0 and len(faults.accepted) == 152
    assert sum(times.values()) - len(times) <= held, "only what the killed worker held ran twice"


@pytest.mark.rabbitmq
def test_rabbitmq_worker_killed_mid_batch(
    rabbitmq_server: RabbitmqServer, faults_on: Callable[..., Faults]
) -> None:
    faults = faults_on("rabbitmq", rabbitmq_server.url, work_seconds=0.05)
    for n in range(160):
        if n % 20 == 19:
            faults.send_malformed(n)
        else:
            faults.send(n)
    first, second = faults.start_worker(), faults.start_worker()
    pid, _ = worker_pid_with(faults.runs, at_least=8)
    killed_cli = parent_of(pid)
    os.kill(pid, signal.SIGKILL)
    runs = faults.wait_for_every_accepted_message()
    faults.check(runs)
    assert killed_cli in (first.pid, second.pid)
    survivor = second if killed_cli == first.pid else first
    assert survivor.poll() is None, "the other worker is still running"
    assert any(run["redelivered"] for run in runs), "the killed worker's unacked messages were redelivered"
    assert faults.failed_sends == 0 and len(faults.accepted) == 152


# -- the broker server restarted while workers run ----------------------------


@pytest.mark.redis
def test_redis_server_restarted_while_workers_run(
    persistent_redis: RedisServer, faults_on: Callable[..., Faults]
) -> None:
    faults = faults_on("redis", persistent_redis.url)
    survives_a_restart(faults, lambda: persistent_redis.restart(kill=True, down_seconds=1.0), interval=0.01)


@pytest.mark.rabbitmq
def test_rabbitmq_server_restarted_while_workers_run(
    rabbitmq_server: RabbitmqServer, faults_on: Callable[..., Faults]
) -> None:
    faults = faults_on("rabbitmq", rabbitmq_server.url)
    survives_a_restart(faults, rabbitmq_server.restart, interval=0.02)


def survives_a_restart(faults: Faults, restart: Callable[[], object], *, interval: float) -> None:
    """Restart the server while a worker runs and the producer keeps sending: nothing accepted is lost."""
    worker = faults.start_worker()
    faults.wait_until_running()
    stop_producing = faults.produce(interval=interval, malformed_every=15)
    time.sleep(0.5)
    restart()
    restarted = len(faults.accepted)
    time.sleep(1.0)
    stop_producing()
    runs = faults.wait_for_every_accepted_message()
    faults.check(runs)
    assert faults.failed_sends > 0, "sends failed while the server was down"
    assert len(faults.accepted) > restarted, "sends were accepted again after the restart"
    assert worker.poll() is None, "the worker recovered on its own"


# -- every connection dropped mid-stream ---------------------------------------


@pytest.mark.redis
def test_redis_connections_dropped_mid_stream(
    redis_server: RedisServer, redis_client: Any, faults_on: Callable[..., Faults]
) -> None:
    faults = faults_on("redis", redis_server.url)
    worker = faults.start_worker()
    faults.wait_until_running()
    stop_producing = faults.produce(interval=0.005, malformed_every=10)
    killed = 0
    for _ in range(20):
        killed += redis_client.client_kill_filter(_type="normal", skipme=True)
        time.sleep(0.05)
    stop_producing()
    runs = faults.wait_for_every_accepted_message()
    faults.check(runs)
    assert killed > 0, "connections were dropped"
    assert worker.poll() is None, "the worker recovered on its own"


@pytest.mark.rabbitmq
def test_rabbitmq_connections_dropped_mid_stream(
    rabbitmq_server: RabbitmqServer, faults_on: Callable[..., Faults]
) -> None:
    faults = faults_on("rabbitmq", rabbitmq_server.url)
    worker = faults.start_worker()
    faults.wait_until_running()
    stop_producing = faults.produce(interval=0.01, malformed_every=10)
    time.sleep(0.3)
    output = rabbitmq_server.ctl("close_all_connections", "actorschema fault test").stdout
    closed = int(output.rsplit("Closed", 1)[-1].split()[0])
    time.sleep(1.0)
    stop_producing()
    runs = faults.wait_for_every_accepted_message()
    faults.check(runs)
    assert closed > 0, "connections were dropped"
    assert worker.poll() is None, "the worker recovered on its own"


@pytest.mark.redis
def test_redis_connection_dropped_at_the_worst_moments(
    redis_server: RedisServer, redis_client: Any, faults_on: Callable[..., Faults]
) -> None:
    """Drops timed where Dramatiq's own Redis consumer strands a fetched batch in a running worker.

    1. While the consumer dead-letters the first body of a batch (its reason is
       being stored): the rest of the batch was fetched but never handed out.
    2. After a fetch ran on the server, before its reply arrives: the batch is
       in the worker's acks set, and the worker never learnt its ids.

    Maintenance gives such ids back only when the worker's heartbeat is stale,
    which never happens while it runs: the worker must requeue them itself.

    3. While the worker-side check stores why it dead-letters a message: the
       nack that follows succeeds on a new connection, so the reason must too.
    4. While a delayed message waits in the worker for its eta: Dramatiq drops
       its in-memory delay queue on a connection error, and the message stays
       in the acks set of ``<queue>.DQ``.
    """
    proxy = CuttingProxy(redis_server.port)
    try:
        faults = faults_on("redis", f"redis://127.0.0.1:{proxy.port}/0")
        worker = faults.start_worker()
        faults.wait_until_running()

        proxy.cut(b"XQ.reasons")
        batch = [b"\x00 not json"] + [b""] * 3
        first = faults.enqueue_raw_batch(batch, first_n=100)
        wait_until(lambda: proxy.cuts == 1, "the drop while the consumer stores a reason", SETTLE_SECONDS)
        runs = faults.wait_for_every_accepted_message()

        # The Lua dispatch's arguments as sent: "fetch", a timestamp, then the queue (not its .DQ).
        queue = f"${len(faults.queue)}\r\n{faults.queue}\r\n".encode()
        proxy.cut(b"$5\r\nfetch\r\n", queue, after_reply=True)
        faults.enqueue_raw_batch([b""] * 4, first_n=200)
        wait_until(lambda: proxy.cuts == 2, "the drop after a fetch ran", SETTLE_SECONDS)
        runs = faults.wait_for_every_accepted_message()

        proxy.cut(b"XQ.reasons")
        wrong = str(uuid.uuid4())
        body = valid_body(faults.queue, redis_message_id=wrong)
        body["kwargs"]["n"] = "not a number"
        faults.enqueue_raw_batch([json.dumps(body).encode()], first_n=300, rids=[wrong])
        wait_until(lambda: proxy.cuts == 3, "the drop while the check stores a reason", SETTLE_SECONDS)

        # Long enough that a loaded machine still sees the message wait in the worker (and the
        # worker fetch the delay queue again) before its eta moves it on.
        faults.send(400, delay=DELAY_MS)
        delayed = f"dramatiq:__acks__.*.{faults.queue}.DQ"
        wait_until(
            lambda: any(map(redis_client.scard, redis_client.keys(delayed))), "the delay", DELAY_MS / 1000
        )
        proxy.cut(b"$5\r\nfetch\r\n", f"{faults.queue}.DQ\r\n".encode())
        wait_until(lambda: proxy.cuts == 4, "the drop while the message waits for its eta", SETTLE_SECONDS)
        runs = faults.wait_for_every_accepted_message()

        faults.send(500, delay=DELAY_MS)
        faults.send(501, delay=DELAY_MS)
        wait_until(
            lambda: sum(map(redis_client.scard, redis_client.keys(delayed))) == 2,
            "the delays",
            DELAY_MS / 1000,
        )
        # Moving the first to the queue fails, and the server stays out of reach while Dramatiq's
        # consumer thread gives the second back.
        moved = b"$7\r\nenqueue\r\n"
        proxy.cut(moved, f"${len(faults.queue)}\r\n{faults.queue}\r\n".encode(), down_seconds=1.0)
        wait_until(lambda: proxy.cuts == 5, "the drop while the delayed messages move", SETTLE_SECONDS)
        runs = faults.wait_for_every_accepted_message()
        faults.check(runs)
        assert set(faults.malformed) == {first[0], wrong}
        assert worker.poll() is None, "the worker recovered on its own"
    finally:
        proxy.close()
