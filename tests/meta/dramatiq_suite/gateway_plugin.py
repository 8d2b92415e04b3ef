"""Pytest plugin: run Dramatiq's own test suite with ``PayloadGateway`` on every broker.

Load it into a pytest run of Dramatiq's test files with ``-p gateway_plugin`` (this
directory on ``PYTHONPATH``). While the run is configured it wraps
``dramatiq.broker.Broker.__init__`` so that every broker any fixture or test builds
(``StubBroker``, ``RedisBroker``, ``RabbitmqBroker``, their subclasses) gets a fresh
``actorschema.PayloadGateway()`` appended after the middleware it was built with:
Dramatiq's defaults, or the test's own list. Middleware a test adds later (``Results``,
``CurrentMessage``, ...) come after the gateway, as in an application that adds the
gateway right after creating its broker.

It also watches for gateway trouble the tests themselves cannot see: Dramatiq logs and
swallows any exception an ``after_*`` hook raises, so a test that logs
``Unexpected failure in ... of <actorschema...>`` is failed here (at teardown). Messages
the gateway logs instead of rejecting (Dramatiq's own re-enqueues) are listed in the
terminal summary, with the counts the driver checks::

    actorschema: gateway on 120 brokers, 600 enqueues checked, 1 rejected

Without ``-p gateway_plugin`` the same files run on plain Dramatiq: the baseline.
``tests/meta/test_dramatiq_suite.py`` drives both runs.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from dramatiq.broker import Broker

from actorschema import PayloadGateway, PayloadRejected

_original_init = Broker.__init__
_lock = threading.Lock()
_counts = {"brokers": 0, "checked": 0, "rejected": 0}


class _GatewayLogWatch(logging.Handler):
    """Collects swallowed gateway exceptions and the gateway's own log records."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.crashes: list[str] = []
        self.gateway_logs: list[tuple[str, str]] = []
        self.current_test = "<no test>"

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.name == "actorschema" or record.name.startswith("actorschema."):
            self.gateway_logs.append((self.current_test, message.splitlines()[0]))
        elif "of <actorschema." in message:
            error = record.exc_info[1] if record.exc_info else None
            self.crashes.append(f"{message} {error!r}")


_watch = _GatewayLogWatch()


def _counted(before_enqueue: Any) -> Any:
    @functools.wraps(before_enqueue)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        with _lock:
            _counts["checked"] += 1
        try:
            before_enqueue(*args, **kwargs)
        except PayloadRejected:
            with _lock:
                _counts["rejected"] += 1
            raise

    return wrapper


@functools.wraps(_original_init)
def _init_with_gateway(self: Broker, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    if not any(isinstance(m, PayloadGateway) for m in self.middleware):
        gateway = PayloadGateway()
        # Counting only: Dramatiq looks hooks up on the instance, the gateway is unchanged.
        gateway.before_enqueue = _counted(gateway.before_enqueue)  # type: ignore[method-assign]
        self.add_middleware(gateway)
        with _lock:
            _counts["brokers"] += 1


def pytest_configure(config: pytest.Config) -> None:
    Broker.__init__ = _init_with_gateway  # type: ignore[method-assign]
    logging.getLogger().addHandler(_watch)
    config.pluginmanager.register(_Watcher(), "actorschema-gateway-watcher")


def pytest_unconfigure(config: pytest.Config) -> None:
    Broker.__init__ = _original_init  # type: ignore[method-assign]
    logging.getLogger().removeHandler(_watch)


def pytest_report_header(config: pytest.Config) -> str:
    return "actorschema: PayloadGateway() appended to every dramatiq Broker"


class _Watcher:
    @pytest.fixture(autouse=True)
    def _actorschema_no_swallowed_gateway_errors(self, request: pytest.FixtureRequest) -> Iterator[None]:
        # Autouse and set up first, so torn down last: after the test's workers stopped.
        _watch.current_test = request.node.nodeid
        start = len(_watch.crashes)
        yield
        crashes = _watch.crashes[start:]
        if crashes:
            pytest.fail("Dramatiq swallowed gateway errors:\n" + "\n".join(crashes), pytrace=False)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        write = terminalreporter.write_line
        for test, line in _watch.gateway_logs:
            write(f"actorschema log in {test}: {line}")
        write(
            f"actorschema: gateway on {_counts['brokers']} brokers, "
            f"{_counts['checked']} enqueues checked, {_counts['rejected']} rejected"
        )
