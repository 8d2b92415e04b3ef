"""Schemas publish only what the source code writes: no secrets, the same bytes on every machine (issue 14).

A default, example or text computed when the app is imported (from the
environment, a settings object, the clock, a random source) never reaches a
schema, index.json, AsyncAPI, inspect, check, diff or validate output; the
parameter stays optional and is still honoured at run time. Literal defaults
are still published exactly.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import inspect
import itertools
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import pytest
from dramatiq import Worker
from helpers.cli import run_cli
from helpers.node import run_ajv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ConfigDict

from actorschema.asyncapi import asyncapi_document
from actorschema.contract import ActorContract
from actorschema.defaults import COMPUTED, class_facts, function_facts
from actorschema.generate import render
from actorschema.limits import SizeLimit
from actorschema.schema import message_schema

ROOT = Path(__file__).resolve().parents[2]
APP = Path(__file__).resolve().parents[1] / "helpers" / "computed_defaults_app.py"
LIMIT = SizeLimit(1024, "global")

SECRET_ENV = {
    "DATABASE_URL": "postgres://admin:s3cret-one@db.internal/prod",
    "APP_REGION": "region-secret-one",
    "APP_TIMEOUT": "987654321987",
    "APP_CACHE_KEY": "cache-secret-one",
    "TZ": "Asia/Kathmandu",
}
OTHER_ENV = {
    "DATABASE_URL": "postgres://root:hunter2-two@10.0.0.9/other",
    "APP_REGION": "region-secret-two",
    "APP_TIMEOUT": "123456789123",
    "APP_CACHE_KEY": "cache-secret-two",
    "TZ": "America/St_Johns",
}

_counter = itertools.count()


def import_source(folder: Path, source: str) -> ModuleType:
    """Write ``source`` to a fresh module file in ``folder`` and import it (a new name each time)."""
    name = f"defaults_case_{os.getpid()}_{next(_counter)}"
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def kwargs_schema(fn: Any) -> dict[str, Any]:
    schema = message_schema(ActorContract.from_function(fn, "a"), LIMIT)
    kwargs: dict[str, Any] = schema["properties"]["kwargs"]
    return kwargs


def run(*args: str, env: dict[str, str], dump: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The command run from the checkout, writing the computed defaults it saw to ``dump`` if given."""
    return run_cli(*args, env={**env, "COMPUTED_DEFAULTS_DUMP": str(dump)} if dump is not None else env)


# -- which defaults are literal ------------------------------------------------------------

LITERALS = """
import datetime, enum, os, random, uuid
from pydantic import Field

class Color(enum.Enum):
    RED = "red"
    CRIMSON = "red"

SETTING = 5

def literal(
    a=1, b=-1, c=-2.5, d=60 * 60, e="text", f=None, g=True, h=[1, [2, "x"]], i=(1, "a"),
    j={"k": {"n": [None]}}, k={1, 2}, l=Color.RED, m=[Color.RED], n=b"raw", o=Field(default=7), p=1_000,
    q=Color.CRIMSON,
): ...

def computed(
    a=os.environ.get("HOME", "x"), b=SETTING, c=f"{SETTING}", d=datetime.datetime.now(), e=uuid.uuid4(),
    f=random.random(), g=str(1), h=[SETTING], i={"k": SETTING}, j=Field(default_factory=list),
    k=Color, l=SETTING + 1, m="a" if SETTING else "b", n=lambda: 1, o=-SETTING, p=[*[1]],
): ...
"""


def test_literal_defaults_are_told_from_computed_ones_by_the_source(tmp_path: Path) -> None:
    module = import_source(tmp_path, LITERALS)
    for name, fn, expected in (("literal", module.literal, True), ("computed", module.computed, False)):
        facts = function_facts(fn)
        defaults = {p: v.default for p, v in inspect.signature(fn).parameters.items()}
        for parameter, value in defaults.items():
            if name == "literal" and parameter == "o":
                value = value.default  # Field(default=7): the contract's default is the field's
            assert facts.literal_default(parameter, value) is expected, (name, parameter, value)


def test_a_default_that_is_not_the_literal_written_is_computed(tmp_path: Path) -> None:
    module = import_source(tmp_path, "def f(x=1, y=[1]): ...\n")
    facts = function_facts(module.f)
    assert facts.literal_default("x", 1)
    assert not facts.literal_default("x", True)  # equal in Python, another JSON value
    assert not facts.literal_default("x", 1.0)
    module.f.__defaults__[1].append(2)  # mutated after import
    assert not facts.literal_default("y", module.f.__defaults__[1])
    module.f.__defaults__ = (os.getpid(), [1])  # reassigned at run time
    assert "default" not in kwargs_schema(module.f)["properties"]["x"]
    assert kwargs_schema(module.f)["properties"]["x"]["$comment"] == COMPUTED


def test_functions_are_found_through_decorators_methods_and_callable_instances(tmp_path: Path) -> None:
    module = import_source(
        tmp_path,
        """
        import functools, os

        def deco(fn):
            @functools.wraps(fn)
            def wrapper(*args, **kwargs):
                return fn(*args, **kwargs)
            return wrapper

        @deco
        @deco
        async def decorated(x=1, y=os.sep): ...

        class Job:
            def perform(self, x=1, y=os.sep): ...
            def __call__(self, x=1, y=os.sep): ...

        def outer():
            def inner(x=1, y=os.sep): ...
            return inner
        """,
    )
    for fn in (module.decorated, module.Job().perform, module.Job(), module.outer()):
        facts = function_facts(fn)
        assert facts.literal_default("x", 1), fn
        assert not facts.literal_default("y", os.sep), fn


def test_without_source_nothing_is_literal(tmp_path: Path) -> None:
    namespace: dict[str, Any] = {}
    exec("def generated(x=1): ...", namespace)  # no file behind it
    module = import_source(tmp_path, "def f(x=1, y=2): ...\n")
    for fn, value in (
        (namespace["generated"], 1),
        (lambda x=1: x, 1),
        (functools.partial(module.f, y=2), 1),
    ):
        assert not function_facts(fn).literal_default("x", value)
    assert kwargs_schema(namespace["generated"])["properties"]["x"] == {"$comment": COMPUTED}


def test_a_class_defined_twice_in_the_source_has_no_literal_fields(tmp_path: Path) -> None:
    module = import_source(
        tmp_path,
        """
        import os
        from pydantic import BaseModel

        if os.environ.get("NEVER_SET_IN_TESTS"):
            class Model(BaseModel):
                x: int = 1
        elif os.environ.get("NOR_THIS_ONE"):
            class Model(BaseModel):
                x: int = 2
        else:
            try:
                class Model(BaseModel):
                    x: int = 2
            finally:
                pass

        def make():
            class Local(BaseModel):
                x: int = 3
            return Local
        """,
    )
    assert not class_facts(module.Model).literal_default("x", 2)  # which one ran is not in the source
    assert class_facts(module.make()).literal_default("x", 3)


def test_model_fields_inherit_their_declaration_and_keep_literal_texts(tmp_path: Path) -> None:
    module = import_source(
        tmp_path,
        '''
        import os
        from typing import Annotated
        from pydantic import BaseModel, ConfigDict, Field

        Amount = Annotated[int, Field(description="Cents, never negative.", ge=0)]

        class Base(BaseModel):
            """A base."""

            model_config = ConfigDict(use_attribute_docstrings=True, json_schema_extra={"examples": [{"a": 1}]})

            a: int = 1
            """The attribute's own docstring."""
            b: str = os.sep
            total: Amount = 0

        class Child(Base):
            model_config = ConfigDict(title="Child")  # merged with Base's config, as pydantic does

            b: str = "literal now"

        def f(child: Child, base: Base) -> None: ...
        ''',
    )
    definitions = message_schema(ActorContract.from_function(module.f, "f"), LIMIT)["$defs"]
    child, base = definitions["Child"], definitions["Base"]
    assert base["description"] == "A base."
    assert "description" not in child  # Child has no docstring of its own
    assert base["examples"] == child["examples"] == [{"a": 1}]
    attribute_docstrings = "use_attribute_docstrings" in ConfigDict.__annotations__  # pydantic 2.7+
    for schema in (child, base):
        assert schema["properties"]["a"]["default"] == 1
        if attribute_docstrings:
            assert schema["properties"]["a"]["description"] == "The attribute's own docstring."
        assert schema["properties"]["total"]["description"] == "Cents, never negative."
    assert child["properties"]["b"]["default"] == "literal now"
    assert base["properties"]["b"]["$comment"] == COMPUTED and "default" not in base["properties"]["b"]


# pydantic warns that these Field defaults have no effect: that is the point.
@pytest.mark.filterwarnings("ignore:The 'default' attribute")
def test_defaults_nested_in_a_generic_or_only_in_an_annotation_are_not_published(tmp_path: Path) -> None:
    module = import_source(
        tmp_path,
        """
        import os
        from typing import Annotated
        from pydantic import BaseModel, Field

        class Model(BaseModel):
            xs: list[Annotated[int, Field(default=len(os.sep), examples=[len(os.sep)])]] = [1]
            y: Annotated[int, Field(default=5)]
            z: Annotated[int, Field(default=5)] = 6

        def f(
            model: Model,
            a: Annotated[int, Field(default=len(os.sep))],
            b: list[Annotated[str, Field(default=os.sep)]] = ["x"],
        ) -> None: ...
        """,
    )
    schema = message_schema(ActorContract.from_function(module.f, "f"), LIMIT)
    kwargs = schema["properties"]["kwargs"]
    assert kwargs["properties"]["a"] == {"type": "integer"}  # Python has no default for it
    assert kwargs["required"] == ["model", "a"]
    assert kwargs["properties"]["b"] == {"type": "array", "items": {"type": "string"}, "default": ["x"]}
    model = schema["$defs"]["Model"]["properties"]
    assert model["xs"] == {"default": [1], "items": {"type": "integer"}, "title": "Xs", "type": "array"}
    assert model["y"]["default"] == 5 and model["z"]["default"] == 6


def test_a_generic_actors_perform_is_read_from_its_class(tmp_path: Path) -> None:
    module = import_source(
        tmp_path,
        """
        import os
        import dramatiq
        from actorschema import PayloadGateway
        from actorschema.brokers import StubBroker

        broker = StubBroker()
        broker.add_middleware(PayloadGateway())
        dramatiq.set_broker(broker)

        class Resize(dramatiq.GenericActor):
            class Meta:
                queue_name = "images"

            def perform(self, key: str, width: int = 256, bucket: str = os.environ.get("BUCKET", "b")) -> None:
                ...
        """,
    )
    kwargs = json.loads(render(module.broker)["Resize.schema.json"])["properties"]["kwargs"]["properties"]
    assert kwargs["width"]["default"] == 256
    assert kwargs["bucket"] == {"type": "string", "$comment": COMPUTED}


def test_an_unusable_hint_is_named_without_its_field_default(tmp_path: Path) -> None:
    module = import_source(
        tmp_path,
        """
        import os
        from pydantic import Field

        class Opaque:
            pass

        def f(x: Opaque = Field(default=os.environ.get("DEFAULTS_TEST_SECRET", "not-set"))) -> None: ...
        """,
    )
    with pytest.raises(TypeError) as raised:
        ActorContract.from_function(module.f, "f")
    assert "'x'" in str(raised.value) and "Opaque" in str(raised.value)
    assert "not-set" not in str(raised.value)


# -- the schema ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The computed-defaults app, imported here with secret-looking values in the environment."""
    saved = {key: os.environ.get(key) for key in SECRET_ENV}
    os.environ.update(SECRET_ENV)
    try:
        spec = importlib.util.spec_from_file_location("computed_defaults_app_in_process", APP)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return module


def computed_values(app: ModuleType) -> list[str]:
    """Every value the app computed at import, as text that would show in an output."""
    values = [value for key, value in SECRET_ENV.items() if key != "TZ"]
    values += [app.STARTED, app.TOKEN, repr(app.Window.seed)]
    defaults = app.sync.__defaults__
    values += [str(defaults[3]), str(defaults[4]), repr(defaults[5])]
    return values


def test_computed_defaults_leave_the_parameter_optional_without_its_value(app: ModuleType) -> None:
    files = render(app.broker)
    schema = json.loads(files["sync.schema.json"])
    kwargs = schema["properties"]["kwargs"]
    assert kwargs["required"] == ["user_id"]
    for name in ("dsn", "region", "timeout", "since", "run_id", "jitter", "tag"):
        assert "default" not in kwargs["properties"][name], name
        assert kwargs["properties"][name]["$comment"] == COMPUTED, name
    # Literal defaults are published as before, the Enum member as its value.
    published = {name: kwargs["properties"][name].get("default") for name in kwargs["properties"]}
    assert published | {"user_id": None} == {
        "user_id": None,
        "dsn": None,
        "region": None,
        "timeout": None,
        "since": None,
        "run_id": None,
        "jitter": None,
        "tag": None,
        "note": "hello",
        "connection": None,
        "window": None,
        "labels": None,
        "point": None,
        "limit": -1,
        "colors": ["red"],
        "options": {"a": [1, 2]},
    }
    assert kwargs["properties"]["tag"]["description"] == "A tag."  # a literal text stays
    assert "examples" not in kwargs["properties"]["tag"]  # examples=[TOKEN] does not
    assert "description" not in kwargs["properties"]["note"]  # an f-string description does not
    # The docstring assigned at run time is not the actor's description.
    assert schema["description"].startswith("Messages for the Dramatiq actor 'sync'.")

    definitions = schema["$defs"]
    connection = definitions["Connection"]
    assert "description" not in connection  # Connection.__doc__ assigned at run time
    assert "examples" not in connection  # json_schema_extra read from the environment
    for name in ("dsn", "region", "opened", "request_id"):
        assert connection["properties"][name]["$comment"] == COMPUTED
        assert "default" not in connection["properties"][name]
    assert "description" not in connection["properties"]["region"]
    assert connection["properties"]["retries"] == {
        "default": 3,
        "description": "How many times to retry.",
        "examples": [1, 2],
        "title": "Retries",
        "type": "integer",
    }
    assert connection["properties"]["color"]["default"] == "red"
    window = definitions["Window"]["properties"]
    assert window["size"]["default"] == 10
    assert window["start"]["$comment"] == window["seed"]["$comment"] == COMPUTED
    point = definitions["Point"]["prefixItems"]
    assert point[0]["default"] == 0 and point[1]["$comment"] == COMPUTED and "default" not in point[1]
    assert definitions["Labels"]["description"] == "Labels, literal docstring."
    assert definitions["Color"]["description"] == "A colour."

    text = "".join(files.values())
    for value in computed_values(app):
        assert value not in text, value


def test_the_schemas_still_validate_and_a_message_may_omit_a_computed_default(app: ModuleType) -> None:
    files = render(app.broker)
    for name, text in files.items():
        if name.endswith(".schema.json"):
            jsonschema.Draft202012Validator.check_schema(json.loads(text))
    validator = jsonschema.Draft202012Validator(json.loads(files["sync.schema.json"]))
    app.sync_actor.send(user_id=1)  # through the gateway, as a producer sends it
    queue = app.broker.queues["sync"]
    message = json.loads(queue.get_nowait())
    queue.task_done()  # taken off the queue by hand: nothing left for a join to wait for
    assert message["kwargs"] == {"user_id": 1}
    assert list(validator.iter_errors(message)) == []


@pytest.mark.node
def test_ajv_compiles_the_schemas_strictly_and_accepts_the_asyncapi_document(app: ModuleType) -> None:
    files = render(app.broker)
    schemas = {name: json.loads(text) for name, text in files.items() if name.endswith(".schema.json")}
    message = {
        "queue_name": "sync",
        "actor_name": "sync",
        "args": [],
        # The NamedTuple as the gateway writes it: the full array.
        "kwargs": {"user_id": 1, "connection": {"retries": 2}, "point": [1, "eu"]},
        "options": {},
        "message_id": "7c4f3c0e-1a52-4c9c-8d0b-2f1f0b0c1e2a",
        "message_timestamp": 1,
    }
    document = asyncapi_document(app.broker)
    result = run_ajv(
        {
            "schemas": schemas,
            "messages": [{"schema": "sync.schema.json", "data": message}],
            "asyncapi": document,
        }
    )
    assert result["schemas"]["refresh.schema.json"]["ok"] is True  # its $comment passes strict mode
    sync = result["schemas"]["sync.schema.json"]
    # A NamedTuple travels as the full array the gateway writes, so strict mode (strictTuples) holds too.
    assert sync["ok"], sync
    assert result["messages"][0]["valid"] is True, result["messages"][0]["errors"]
    assert result["asyncapi"]["valid"] is True, result["asyncapi"]["errors"][:5]


def test_computed_defaults_are_still_honoured_at_run_time(app: ModuleType) -> None:
    worker = Worker(app.broker, worker_timeout=100)
    worker.start()
    try:
        app.sync_actor.send(7)
        app.broker.join("sync", fail_fast=True, timeout=10_000)
        worker.join()
    finally:
        worker.stop()
    assert app.RECEIVED[-1] == {
        "user_id": 7,
        "dsn": SECRET_ENV["DATABASE_URL"],
        "region": SECRET_ENV["APP_REGION"],
        "since": app.sync.__defaults__[3],
    }


# -- every command, under two environments -------------------------------------------------


@pytest.mark.slow
def test_every_command_gives_the_same_bytes_and_shows_no_computed_value(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    dumps = [tmp_path / "dump-first.json", tmp_path / "dump-second.json"]
    target = str(APP.relative_to(ROOT))
    outputs: list[str] = []

    def command(*args: str, env: dict[str, str], dump: Path | None = None, code: int = 0) -> str:
        result = run(*args, env=env, dump=dump)
        assert result.returncode == code, (args, result.stdout, result.stderr)
        outputs.extend((result.stdout, result.stderr))
        return result.stdout

    command("generate", target, "--out", str(first), env=SECRET_ENV, dump=dumps[0])
    time.sleep(0.05)  # the clock moves on: datetime.now() defaults differ between the runs
    command("generate", target, "--out", str(second), env=OTHER_ENV, dump=dumps[1])
    assert sorted(p.name for p in first.iterdir()) == sorted(p.name for p in second.iterdir())
    for path in first.iterdir():
        assert path.read_bytes() == (second / path.name).read_bytes(), path.name
    outputs.extend(path.read_text() for path in first.iterdir())

    command("check", target, "--out", str(first), env=OTHER_ENV)
    assert (
        json.loads(command("check", target, "--out", str(first), "--json", env=OTHER_ENV))["current"] is True
    )
    again = json.loads(command("generate", target, "--out", str(first), "--json", env=OTHER_ENV))
    assert again["changed"] == []  # another machine rewrites nothing
    command("check", target, "--out", str(second), env=SECRET_ENV, dump=dumps[0])
    for env in (SECRET_ENV, OTHER_ENV):
        table = command("inspect", target, env=env)
        assert "dsn: str = <computed at run time>" in table and "ttl: int = 3600" in table
        report = json.loads(command("inspect", target, "--json", env=env))
        sync = next(actor for actor in report["actors"] if actor["actor"] == "sync")
        dsn = next(p for p in sync["parameters"] if p["name"] == "dsn")
        assert dsn["default"] is None and dsn["default_computed"] is True and dsn["required"] is False
        messages = json.loads(command("asyncapi", target, env=env))["components"]["messages"]
        assert messages["sync"]["summary"] == "A message for the Dramatiq actor 'sync'."
        assert messages["refresh"]["summary"] == "Refresh a cache entry (a literal docstring)."
    assert command("asyncapi", target, env=SECRET_ENV) == command("asyncapi", target, env=OTHER_ENV)

    # A stale folder: check prints its diff (what CI logs), still without a computed value.
    stale = tmp_path / "stale"
    shutil.copytree(first, stale)
    schema = stale / "sync.schema.json"
    schema.write_text(schema.read_text().replace('"default": -1', '"default": -2'))
    command("check", target, "--out", str(stale), env=SECRET_ENV, code=1)
    assert '"default": -1' in outputs[-1]

    # diff: a default that was a literal and is now computed is a DEFAULT_CHANGED, shown without its value.
    before = tmp_path / "before"
    shutil.copytree(first, before)
    document = json.loads((before / "sync.schema.json").read_text())
    dsn = document["properties"]["kwargs"]["properties"]["dsn"]
    del dsn["$comment"]
    dsn["default"] = "postgres://localhost/db"
    text = json.dumps(document, indent=2)
    (before / "sync.schema.json").write_text(text)
    index = json.loads((before / "index.json").read_text())
    index["actors"]["sync"]["sha256"] = hashlib.sha256(text.encode()).hexdigest()
    (before / "index.json").write_text(json.dumps(index))
    report = json.loads(command("diff", str(before), str(first), "--json", env=SECRET_ENV))
    changed = [c for c in report["changes"] if c["rule"] == "DEFAULT_CHANGED"]
    assert [c["detail"] for c in changed] == ['default "postgres://localhost/db" -> (computed at run time)']
    assert report["compatible"] is True
    command("diff", str(before), str(first), env=SECRET_ENV)
    back = json.loads(command("diff", str(first), str(before), "--json", env=SECRET_ENV))
    assert [c["detail"] for c in back["changes"] if c["rule"] == "DEFAULT_CHANGED"] == [
        'default (computed at run time) -> "postgres://localhost/db"'
    ]
    same = json.loads(command("diff", str(first), str(second), "--json", env=SECRET_ENV))
    assert same["changes"] == []  # computed on both sides: no change, whatever the values were

    # validate: a producer's messages, one valid, one not.
    messages = tmp_path / "messages.jsonl"
    good = {
        "queue_name": "sync",
        "actor_name": "sync",
        "args": [],
        "kwargs": {"user_id": 1},
        "options": {},
        "message_id": "7c4f3c0e-1a52-4c9c-8d0b-2f1f0b0c1e2a",
        "message_timestamp": 1,
    }
    bad = {**good, "kwargs": {"user_id": 1, "dsn": 5}}
    messages.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    command("validate", str(messages), "--schemas", str(first), env=SECRET_ENV, code=1)
    command("validate", str(messages), "--schemas", str(first), "--json", env=SECRET_ENV, code=1)

    computed = [*SECRET_ENV.values(), *OTHER_ENV.values()]
    computed = [value for value in computed if not value.startswith(("Asia/", "America/"))]
    for dump in dumps:
        computed += [str(value) for value in json.loads(dump.read_text()).values()]
    everything = "\n".join(outputs)
    for value in computed:
        assert value not in everything, value


# -- literal defaults are published exactly ------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=("Cs",)))
)
literals = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=literals, typed=st.booleans())
def test_literal_defaults_are_published_exactly(tmp_path: Path, value: Any, typed: bool) -> None:
    hint = ": Any" if typed else ""
    module = import_source(tmp_path, f"from typing import Any\n\ndef f(value{hint} = {value!r}): ...\n")
    published = kwargs_schema(module.f)["properties"]["value"]
    assert "$comment" not in published
    assert json.dumps(published["default"], sort_keys=True) == json.dumps(value, sort_keys=True)


#: Ways to compute a value at run time; each still evaluates to the literal it wraps.
COMPUTATIONS = (
    "copy.deepcopy({})",
    "(lambda: {})()",
    "VALUE",
    "{} if SWITCH else None",
    "[{}][0]",
    "{{'k': {}}}['k']",
    "os.environ.get('DEFAULTS_TEST_UNSET_VARIABLE', {})",
    "settings.value",
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=literals, computation=st.sampled_from(COMPUTATIONS))
def test_a_computed_default_is_never_published_even_when_it_equals_a_literal(
    tmp_path: Path, value: Any, computation: str
) -> None:
    source = f"""
        import copy, os, types

        VALUE = {value!r}
        SWITCH = True
        settings = types.SimpleNamespace(value=VALUE)

        def f(value={computation.format(repr(value))}): ...
    """
    module = import_source(tmp_path, source)
    assert module.f.__defaults__[0] == value  # the same value a literal would have given
    assert kwargs_schema(module.f)["properties"]["value"] == {"$comment": COMPUTED}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(members=st.lists(st.sampled_from(["SMALL", "LARGE"]), max_size=4), nested=st.booleans())
def test_enum_member_defaults_are_published_as_their_values(
    tmp_path: Path, members: list[str], nested: bool
) -> None:
    written = "[" + ", ".join(f"Size.{name}" for name in members) + "]"
    hint, default = ("dict[str, list[Size]]", f'{{"k": {written}}}') if nested else ("list[Size]", written)
    module = import_source(
        tmp_path,
        f"""
        import enum

        class Size(enum.Enum):
            SMALL = "s"
            LARGE = 2

        def f(value: {hint} = {default}, one: Size = Size.LARGE): ...
        """,
    )
    properties = kwargs_schema(module.f)["properties"]
    values = [module.Size[name].value for name in members]
    assert properties["value"]["default"] == ({"k": values} if nested else values)
    assert properties["one"]["default"] == 2
