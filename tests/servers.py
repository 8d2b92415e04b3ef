"""The test servers: one launcher for redis-server and one for rabbitmq-server, on free loopback ports.

The test fixtures (``tests/conftest.py``) and the benchmarks (``benchmarks/``) start their
servers here and nowhere else. Each server lives in a temp dir of its own and is stopped
with it.

RabbitMQ follows the measured recipe of the team's service notes: everything (HOME,
Mnesia, logs, config) lives in one temp dir, the node is ``as-<hex8>@localhost``
with its own epmd on a free port, and the server is run through
``/usr/lib/rabbitmq/bin/rabbitmq-server`` (the ``/usr/sbin`` wrappers ``su`` to
the ``rabbitmq`` user, which cannot write our temp dir). Boot is CPU-bound and
takes 8-22 s, so readiness is polled with pika for up to ``timeout`` seconds.

A test that needs a server binary (or Node.js) asks for it with :func:`need`, which
skips without it, except with ``CI=true``, where it fails: CI must never pass by skipping.
:func:`need` also fails a test that uses a binary without the marker that lets the quick
loop (``pytest -m "not slow and not rabbitmq and not node"``) leave it out, so the markers
cannot drift from what the tests really start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Any

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

RABBITMQ_BIN = "/usr/lib/rabbitmq/bin"
RABBITMQ_SERVER = f"{RABBITMQ_BIN}/rabbitmq-server"
RABBITMQCTL = f"{RABBITMQ_BIN}/rabbitmqctl"


#: The marker a test must carry to use each binary (see :func:`need`).
MARKER_OF = {"redis-server": "redis", RABBITMQ_SERVER: "rabbitmq", "node": "node"}

#: The markers of the test being set up or run (``tests/conftest.py`` keeps it current); None
#: outside a test, e.g. in a benchmark.
current_markers: set[str] | None = None


def need(binary: str) -> str:
    """Return the path of ``binary`` (a name on PATH, or an absolute path: ``shutil.which``
    checks that one directly); skip the test without it, or fail in CI.

    Parameters:
      binary: ``redis-server``, :data:`RABBITMQ_SERVER` or ``node``; the running test must
        carry the marker :data:`MARKER_OF` names for it.
    """
    import pytest

    marker = MARKER_OF.get(binary)
    if marker is not None and current_markers is not None and marker not in current_markers:
        pytest.fail(
            f"this test uses {binary} but is not marked {marker!r}: mark it "
            f"(@pytest.mark.{marker}, or pytestmark) so the quick loop can leave it out"
        )
    path = shutil.which(binary)
    if path is None:
        message = f"{binary} is not installed (the README's test command installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (a launcher retries if it is taken)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A private redis-server on a free loopback port, in a temp dir of its own.

    Parameters:
      binary: The redis-server to run; by default the one on PATH.

    Attributes:
      url: ``redis://127.0.0.1:<port>/0``, for ``RedisBroker(url=...)``.
      port: The port it listens on.
    """

    def __init__(self, binary: str | None = None) -> None:
        binary = binary or shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not on PATH")
        self.dir = tempfile.mkdtemp(prefix="actorschema-redis-")
        self.log = open(os.path.join(self.dir, "redis.log"), "wb")  # noqa: SIM115
        for _attempt in range(5):
            self.port = free_port()
            self.process = subprocess.Popen(
                [
                    binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    self.dir,
                ],
                stdout=self.log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            if self._wait_ready():
                return
            self.process.kill()
            self.process.wait()
        self.log.close()
        raise RuntimeError(f"redis-server did not start; see {self.log.name}")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _wait_ready(self) -> bool:
        import redis

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False  # e.g. the port was taken meanwhile
            try:
                if redis.Redis(port=self.port, socket_timeout=0.5).ping():
                    return True
            except redis.RedisError:
                time.sleep(0.02)
        return False

    def client(self, **kwargs: Any) -> Any:
        """A new ``redis.Redis`` client of this server."""
        import redis

        return redis.Redis(port=self.port, **kwargs)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class RabbitmqServer:
    """A private rabbitmq-server (and its epmd) on free loopback ports.

    Attributes:
      url: ``amqp://guest:guest@127.0.0.1:<port>``, for ``RabbitmqBroker(url=...)``.
      port: The AMQP port.
      startup_seconds: How long the successful start took, until the first AMQP connection.
      failed_attempts: Why earlier attempts failed, if any did.
    """

    def __init__(self, timeout: float = 120, attempts: int = 3) -> None:
        self.dir = tempfile.mkdtemp(prefix="actorschema-rabbitmq-")
        self.epmd: subprocess.Popen[bytes] | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.log: Any = None
        #: Why earlier attempts failed, if any did (each with the server's output).
        self.failed_attempts: list[str] = []
        try:
            for attempt in range(1, attempts + 1):
                started = time.monotonic()
                self._start(attempt)
                failure = self._wait_ready(timeout)
                if failure is None:
                    self.startup_seconds = time.monotonic() - started
                    return
                self.failed_attempts.append(f"attempt {attempt} (port {self.port}): {failure}")
                self._stop_processes()
        except BaseException:
            self.stop()
            raise
        self.stop()
        raise RuntimeError("rabbitmq-server did not start:\n" + "\n\n".join(self.failed_attempts))

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}"

    def connection(self) -> Any:
        """A new ``pika.BlockingConnection`` to the broker; close it when done."""
        import pika

        return pika.BlockingConnection(pika.URLParameters(self.url + "/%2F"))

    def _start(self, attempt: int) -> None:
        base = os.path.join(self.dir, f"attempt-{attempt}")
        home = os.path.join(base, "home")
        os.makedirs(home)
        for name, text in [
            ("rabbitmq.conf", "loopback_users = none\n"),
            ("env.conf", ""),
            ("enabled_plugins", "[].\n"),
        ]:
            with open(os.path.join(base, name), "w") as file:
                file.write(text)
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.nodename = f"as-{secrets.token_hex(4)}@localhost"
        self.env = {
            **os.environ,
            "HOME": home,
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            # Required: the default (AMQP port + 20000) can exceed 65535.
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": os.path.join(base, "mnesia"),
            "RABBITMQ_LOG_BASE": os.path.join(base, "log"),
            "RABBITMQ_CONFIG_FILE": os.path.join(base, "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": os.path.join(base, "env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(base, "enabled_plugins"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        }
        # Our own epmd: otherwise the node spawns ``epmd -daemon``, which outlives it.
        self.epmd = subprocess.Popen(
            ["epmd", "-port", str(self.epmd_port), "-address", "127.0.0.1"],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.log = open(os.path.join(base, "rabbitmq-server.log"), "wb")  # noqa: SIM115
        # A session of its own: ``process`` is a shell, beam.smp its child; killpg reaches both.
        self.process = subprocess.Popen(
            [RABBITMQ_SERVER],
            env=self.env,
            cwd=base,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def _wait_ready(self, timeout: float) -> str | None:
        """None once an AMQP connection succeeds, else why not (with the server's output)."""
        import pika

        assert self.process is not None
        parameters = pika.URLParameters(self.url + "/%2F?connection_attempts=1&socket_timeout=1")
        deadline = time.monotonic() + timeout
        # Every refused attempt logs several ERROR records; they would bury a real failure.
        pika_logger = logging.getLogger("pika")
        level = pika_logger.level
        pika_logger.setLevel(logging.CRITICAL)
        try:
            while True:
                # The wrapper exits 0 even when boot fails: any exit before ready is a failure.
                code = self.process.poll()
                if code is not None:
                    return f"rabbitmq-server exited with {code} before it was ready:\n{self._output()}"
                try:
                    pika.BlockingConnection(parameters).close()
                    return None
                # Not only AMQPError: a port that accepts but never speaks AMQP raises
                # AMQPConnectorStackTimeout, a plain Exception. The deadline bounds the loop.
                except Exception:
                    pass
                if time.monotonic() >= deadline:
                    return f"no AMQP connection after {timeout:.0f} s:\n{self._output()}"
                time.sleep(0.25)
        finally:
            pika_logger.setLevel(level)

    def _output(self) -> str:
        if self.log is None:
            return ""
        self.log.flush()
        with open(self.log.name, "rb") as file:
            return file.read()[-8_000:].decode(errors="replace")

    def _stop_processes(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                # rabbitmqctl needs the same HOME (cookie), node name and epmd port.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    subprocess.run(
                        [RABBITMQCTL, "stop"],
                        env=self.env,
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        timeout=60,
                        check=False,
                    )
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                # The shell and its beam.smp child share the session's process group.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            self.process = None
        if self.epmd is not None:
            self.epmd.terminate()
            try:
                self.epmd.wait(10)
            except subprocess.TimeoutExpired:
                self.epmd.kill()
                self.epmd.wait()
            self.epmd = None
        if self.log is not None:
            self.log.close()
            self.log = None

    def stop(self) -> None:
        self._stop_processes()
        shutil.rmtree(self.dir, ignore_errors=True)
