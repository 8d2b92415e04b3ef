"""An app whose defaults, descriptions and examples are computed when it is imported.

Each one reads the environment (a secret-looking DSN), a settings object, the
clock or a random source, as real apps do. tests/unit/test_defaults.py runs
``actorschema`` on it under different environments and at different times:
the output must be the same bytes, and none of these values may appear in it.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import functools
import inspect
import json
import os
import random
import uuid
from collections.abc import Callable
from typing import Annotated, Any, NamedTuple

import dramatiq
from dramatiq.brokers.stub import StubBroker
from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from actorschema import PayloadGateway
from actorschema.contract import actor_function

broker = StubBroker()
broker.add_middleware(PayloadGateway())


class Settings:
    region = os.environ.get("APP_REGION", "eu-west-1")
    timeout = int(os.environ.get("APP_TIMEOUT", "30"))


settings = Settings()
STARTED = datetime.datetime.now(datetime.UTC).isoformat()
TOKEN = uuid.uuid4().hex
#: What the worker ran ``sync`` with (the defaults are honoured at run time).
RECEIVED: list[dict[str, object]] = []


class Color(enum.Enum):
    """A colour."""

    RED = "red"
    GREEN = "green"


class Connection(BaseModel):
    """Where to connect."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"dsn": os.environ.get("DATABASE_URL", "x")}]})

    dsn: str = os.environ.get("DATABASE_URL", "postgres://localhost/db")
    region: str = Field(default=settings.region, description=f"region, started {STARTED}")
    opened: str = Field(default_factory=lambda: datetime.datetime.now(datetime.UTC).isoformat())
    request_id: str = Field(default_factory=lambda: uuid.uuid4().hex, examples=[TOKEN])
    retries: int = Field(default=3, description="How many times to retry.", examples=[1, 2])
    color: Color = Color.RED


Connection.__doc__ = f"Where to connect (built {STARTED})."


@dataclasses.dataclass
class Window:
    start: str = dataclasses.field(default_factory=lambda: datetime.datetime.now(datetime.UTC).isoformat())
    seed: float = random.random()
    size: int = 10


class Point(NamedTuple):
    x: int = 0
    label: str = settings.region


class Labels(TypedDict):
    """Labels, literal docstring."""

    team: str


def sync(
    user_id: int,
    dsn: str = os.environ.get("DATABASE_URL", "postgres://localhost/db"),
    region: str = settings.region,
    timeout: int = settings.timeout,
    since: str = datetime.datetime.now(datetime.UTC).isoformat(),
    run_id: str = str(uuid.uuid4()),
    jitter: float = random.random(),
    note: Annotated[str, Field(description=f"started at {STARTED}")] = "hello",
    tag: str = Field(default=TOKEN, description="A tag.", examples=[TOKEN]),
    connection: Connection | None = None,
    window: Window | None = None,
    labels: Labels | None = None,
    point: Point | None = None,
    limit: int = -1,
    colors: list[Color] = [Color.RED],  # noqa: B006 - a literal default, published
    options: dict[str, list[int]] = {"a": [1, 2]},  # noqa: B006
) -> None:
    """Copy one user's rows into the warehouse."""
    RECEIVED.append({"user_id": user_id, "dsn": dsn, "region": region, "since": since})


# Set at run time: its text is not in the source, so it is not published.
sync.__doc__ = f"Copy rows (imported at {STARTED} with token {TOKEN})."
sync_actor = dramatiq.actor(sync, broker=broker, queue_name="sync")


def traced(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A decorator of the app's own, between Dramatiq's and the function."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    return wrapper


@dramatiq.actor(broker=broker, queue_name="sync")
@traced
async def refresh(key: str = os.environ.get("APP_CACHE_KEY", "k-" + TOKEN), ttl: int = 60 * 60) -> None:
    """Refresh a cache entry (a literal docstring)."""


if os.environ.get("COMPUTED_DEFAULTS_DUMP"):
    # The values this import computed, for the test to look for in every output.
    with open(os.environ["COMPUTED_DEFAULTS_DUMP"], "w") as dump:
        json.dump(
            {
                "started": STARTED,
                "token": TOKEN,
                "since": sync.__defaults__[3],
                "run_id": sync.__defaults__[4],
                "jitter": repr(sync.__defaults__[5]),
                "seed": repr(Window.seed),
                "refresh_key": inspect.signature(actor_function(refresh)).parameters["key"].default,
            },
            dump,
        )
