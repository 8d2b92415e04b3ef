"""Never fail open, never block for nothing (issue 9, items 3 and "Why" 3-4).

Every hook of the gateway turns an unexpected exception into a rejection
(``CheckFailed``) in enforce mode and a warning in warn mode, on send and on a
real worker; hints are resolved per parameter, late, and again until they
resolve; a hint that cannot be made a contract names the way out
(``payload_contract="json"``), which ``inspect`` and ``generate`` report.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, Required, TypedDict, Unpack

import dramatiq
import pydantic
import pydantic.v1
import pytest
import typing_extensions
from dramatiq import Message, group
from helpers.workers import drain
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, field_validator
from pydantic_core import core_schema
from typer.testing import CliRunner

from actorschema import CheckFailed, PayloadGateway, PayloadInvalid, PayloadRejected
from actorschema.brokers import StubBroker
from actorschema.cli import app
from actorschema.consume.envelope import decode_message
from actorschema.contract import ActorContract, ContractError
from actorschema.errors import MessageMalformed
from actorschema.generate import render

if TYPE_CHECKING:
    from decimal import Decimal  # only for type checkers: a return annotation may name it

#: Flip to make the validators below explode: the send side and the worker meet them at different times.
EXPLODE = {"now": False}


class Exploding(BaseModel):
    n: int

    @field_validator("n")
    @classmethod
    def boom(cls, value: int) -> int:
        if EXPLODE["now"]:
            raise RuntimeError("validator bug")
        return value


class Detonator:
    """A custom type whose validation explodes (not a ValueError: pydantic lets it through)."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        def validate(value: Any) -> Any:
            if EXPLODE["now"]:
                raise KeyError("lookup failed inside the type")
            return value

        return core_schema.no_info_plain_validator_function(
            validate, serialization=core_schema.plain_serializer_function_ser_schema(lambda v: v)
        )

    @classmethod
    def __get_pydantic_json_schema__(cls, schema: Any, handler: Any) -> dict[str, Any]:
        # Without one the contract is refused at declare (the worker could check nothing).
        return {"type": "integer"}


class UnprintableError(Exception):
    """An exception whose text cannot be read: the rejection built from it must not raise in turn."""

    def __str__(self) -> str:
        raise RuntimeError("str() of the error fails")


class Unprintable(BaseModel):
    n: int

    @field_validator("n")
    @classmethod
    def boom(cls, value: int) -> int:
        if EXPLODE["now"]:
            raise UnprintableError
        return value


#: The hints whose validation explodes once EXPLODE is set, and the words the rejection gives for it.
EXPLODING = {Exploding: "RuntimeError: validator bug", Detonator: "KeyError", Unprintable: "UnprintableError"}
EXPLODING_IDS = ["field_validator", "core_schema", "unprintable_error"]


@pytest.fixture(autouse=True)
def _calm() -> Iterator[None]:
    EXPLODE["now"] = False
    yield
    EXPLODE["now"] = False


def make_broker(mode: str = "enforce") -> StubBroker:
    broker = StubBroker()
    broker.emit_after("process_boot")
    broker.add_middleware(PayloadGateway(mode=mode))  # type: ignore[arg-type]
    dramatiq.set_broker(broker)
    return broker


@pytest.fixture
def broker() -> Iterator[StubBroker]:
    broker = make_broker()
    yield broker
    broker.flush_all()
    broker.close()


def stored(broker: StubBroker) -> int:
    return sum(queue.qsize() for queue in broker.queues.values())


def gateway_of(broker: StubBroker) -> PayloadGateway:
    return next(m for m in broker.middleware if isinstance(m, PayloadGateway))


# -- never fail open: send -----------------------------------------------------------------------


@pytest.mark.parametrize("hint", list(EXPLODING), ids=EXPLODING_IDS)
def test_an_exploding_validator_rejects_the_send_and_enqueues_nothing(broker: StubBroker, hint: Any) -> None:
    @dramatiq.actor
    def task(value: hint) -> None:  # type: ignore[valid-type]
        pass

    EXPLODE["now"] = True
    with pytest.raises(CheckFailed) as caught:
        task.send(1 if hint is Detonator else {"n": 1})
    assert stored(broker) == 0
    rejection = caught.value
    assert rejection.actor_name == "task"
    (violation,) = rejection.violations
    assert violation.problem.startswith("internal error while checking: ")
    assert EXPLODING[hint] in violation.problem
    assert "report it" in violation.hint and 'payload_contract="json"' in violation.hint
    assert isinstance(rejection.__cause__, RuntimeError | KeyError | UnprintableError)


class Touchy(BaseModel):
    """Compared by the send side (a union whose members share a JSON form): its ``__eq__`` explodes."""

    n: int

    def __eq__(self, other: object) -> bool:
        if EXPLODE["now"]:
            raise RuntimeError("eq bug")
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]


class TouchyTwin(BaseModel):
    n: int


@pytest.mark.parametrize("mode", ["enforce", "warn"])
def test_a_value_whose_eq_raises_is_refused_or_warned_never_let_through(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    broker = make_broker(mode)

    @dramatiq.actor
    def task(value: Touchy | TouchyTwin) -> None:
        pass

    task.send(Touchy(n=1))  # calm: it travels
    EXPLODE["now"] = True
    with caplog.at_level(logging.WARNING, "actorschema"):
        if mode == "enforce":
            with pytest.raises(CheckFailed, match="RuntimeError: eq bug"):
                task.send(Touchy(n=2))
        else:
            with pytest.raises(TypeError):  # enqueued unchanged: Dramatiq's encoder meets the model
                task.send(Touchy(n=2))
    assert stored(broker) == 1
    reasons = [r.actorschema["reason"] for r in caplog.records if hasattr(r, "actorschema")]
    assert reasons == ([] if mode == "enforce" else [CheckFailed.title])


def test_every_enqueue_path_fails_closed(broker: StubBroker) -> None:
    @dramatiq.actor
    def task(value: Exploding) -> None:
        pass

    EXPLODE["now"] = True
    with pytest.raises(CheckFailed):
        task.send_with_options(args=({"n": 1},), delay=10)  # the delay queue
    with pytest.raises(CheckFailed):
        broker.enqueue(Message("default", "task", (), {"value": {"n": 1}}, {}))  # a hand-built message
    with pytest.raises(CheckFailed):
        task.message({"n": 1})  # the build-time check (groups enqueue child by child)
    EXPLODE["now"] = False
    messages = [task.message({"n": 1}), task.message({"n": 2})]
    EXPLODE["now"] = True
    with pytest.raises(CheckFailed):
        group(messages).run()
    assert stored(broker) == 0


def test_warn_mode_logs_the_internal_error_with_its_traceback_and_enqueues(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = make_broker("warn")

    @dramatiq.actor
    def task(value: Exploding) -> None:
        pass

    EXPLODE["now"] = True
    with caplog.at_level(logging.WARNING, "actorschema"):
        task.send({"n": 1})
    assert stored(broker) == 1
    (record,) = [r for r in caplog.records if getattr(r, "actorschema", None)]
    assert record.levelno == logging.WARNING
    assert record.actorschema["reason"] == CheckFailed.title
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError


def test_an_error_when_the_broker_encodes_a_changed_message_rejects_it(broker: StubBroker) -> None:
    """The encoding callback re-checks a message changed after the hook; its errors are rejections too."""

    class Meddler(dramatiq.Middleware):
        def before_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
            message.options["note"] = "added after the gateway"
            EXPLODE["now"] = True

    broker.add_middleware(Meddler())

    @dramatiq.actor
    def task(value: Exploding) -> None:
        pass

    with pytest.raises(CheckFailed):
        task.send({"n": 1})
    assert stored(broker) == 0


# -- never fail open: worker -----------------------------------------------------------------------


@pytest.mark.parametrize("hint", list(EXPLODING), ids=EXPLODING_IDS)
def test_an_exploding_validator_on_the_worker_dead_letters_and_nothing_runs(
    broker: StubBroker, hint: Any
) -> None:
    ran: list[Any] = []

    @dramatiq.actor(max_retries=3)
    def task(value: hint) -> None:  # type: ignore[valid-type]
        ran.append(value)

    task.send(1 if hint is Detonator else {"n": 1})
    EXPLODE["now"] = True
    drain(broker, threads=1)
    assert ran == []
    (dead,) = broker.dead_letters
    rejection = dead._actorschema_rejection
    assert isinstance(rejection, CheckFailed)
    assert rejection.violations[0].problem.startswith("internal error while checking: ")
    assert EXPLODING[hint] in rejection.violations[0].problem
    assert "retries" not in dead.options  # not retried: the verdict would be the same


def test_warn_mode_on_the_worker_logs_and_runs(caplog: pytest.LogCaptureFixture) -> None:
    broker = make_broker("warn")
    ran: list[Any] = []

    @dramatiq.actor
    def task(value: Exploding) -> None:
        ran.append(value)

    task.send({"n": 5})
    EXPLODE["now"] = True
    with caplog.at_level(logging.WARNING, "actorschema"):
        drain(broker, threads=1)
    assert ran == [{"n": 5}]  # as it arrived: the check could not type it
    assert any(getattr(r, "actorschema", {}).get("reason") == CheckFailed.title for r in caplog.records)


def test_an_internal_error_while_decoding_dead_letters_the_body(monkeypatch: pytest.MonkeyPatch) -> None:
    import actorschema.consume.envelope as envelope

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ZeroDivisionError("bug in the envelope check")

    monkeypatch.setattr(envelope, "envelope_violations", broken)
    body = json.dumps(
        {
            "queue_name": "default",
            "actor_name": "a",
            "args": [],
            "kwargs": {},
            "options": {},
            "message_id": "m",
            "message_timestamp": 1,
        }
    ).encode()
    with pytest.raises(MessageMalformed, match="internal error while checking: ZeroDivisionError"):
        decode_message(body, "default")


# -- never fail open: results ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["enforce", "warn"])
def test_an_exploding_result_check_fails_the_message_or_warns(
    mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A validator of the return type raising: a reason on the dead letter (enforce), a warning (warn)."""
    broker = make_broker(mode)
    received: list[Any] = []

    @dramatiq.actor(max_retries=0)
    def produce(n: int) -> Exploding:
        return {"n": n}  # type: ignore[return-value]  # converted (and validated) by the gateway

    @dramatiq.actor(max_retries=0)
    def consume(result):  # type: ignore[no-untyped-def]  # unannotated: takes whatever the result is
        received.append(result)

    dramatiq.pipeline([produce.message(4), consume.message()]).run()
    EXPLODE["now"] = True
    with caplog.at_level(logging.WARNING, "actorschema"):
        drain(broker, threads=1)
    records = [r for r in caplog.records if getattr(r, "actorschema", {}).get("reason") == CheckFailed.title]
    assert records and records[0].actorschema["actor"] == "produce"
    if mode == "enforce":
        assert received == []
        (dead,) = broker.dead_letters
        assert dead.actor_name == "produce" and isinstance(dead._exception, CheckFailed)
        assert "RuntimeError: validator bug" in dead._exception.violations[0].problem
    else:
        assert received == [{"n": 4}] and broker.dead_letters == []  # handed on unchanged
        assert records[0].levelno == logging.WARNING


class Unbuildable:
    """A return type whose pydantic schema cannot even be built, with an error that cannot be printed."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        raise UnprintableError


def test_a_return_type_that_cannot_be_built_never_blocks_the_actor(
    broker: StubBroker, caplog: pytest.LogCaptureFixture
) -> None:
    received: list[Any] = []

    @dramatiq.actor(max_retries=0)
    def produce(n: int) -> Unbuildable:
        return n  # type: ignore[return-value]

    @dramatiq.actor(max_retries=0)
    def consume(result: int) -> None:
        received.append(result)

    with caplog.at_level(logging.WARNING, "actorschema"):
        dramatiq.pipeline([produce.message(4), consume.message()]).run()
        drain(broker, threads=1)
    assert received == [4] and broker.dead_letters == []
    assert any("held to strict JSON" in r.getMessage() for r in caplog.records)


class Opaque:
    """A validator and no JSON Schema: before, send() accepted it and the worker dead-lettered every message."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(lambda value: value)


def test_a_type_without_a_json_schema_is_named_at_declare_not_dead_lettered(broker: StubBroker) -> None:
    @dramatiq.actor
    def opaque(handle: Opaque) -> None:
        pass

    with pytest.raises(PayloadInvalid) as caught:
        opaque.send(1)
    assert "'handle' (Opaque) has no JSON Schema" in str(caught.value)
    assert "__get_pydantic_json_schema__" in str(caught.value) and 'payload_contract="json"' in str(
        caught.value
    )
    assert stored(broker) == 0
    with pytest.raises(ContractError, match="has no JSON Schema"):  # before: generate crashed
        render(broker)


# -- pydantic.v1 -------------------------------------------------------------------------------------


class OldModel(pydantic.v1.BaseModel):
    n: int


def test_a_pydantic_v1_model_is_refused_at_declare_time_and_never_fails_open(
    broker: StubBroker, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, "actorschema"):

        @dramatiq.actor
        def legacy(item: OldModel | None = None) -> None:
            pass

    (record,) = [r for r in caplog.records if "pydantic.v1" in r.getMessage()]
    assert "'legacy'" in record.getMessage() and "'item'" in record.getMessage()
    with pytest.raises(PayloadInvalid) as caught:
        legacy.send(OldModel(n=1))
    text = str(caught.value)
    assert "OldModel is a pydantic.v1 model" in text and 'payload_contract="json"' in text
    assert stored(broker) == 0


def test_a_pydantic_v1_actor_dead_letters_what_another_producer_sent(broker: StubBroker) -> None:
    """Before: the worker's check raised on every message and the actor ran unchecked."""
    ran: list[Any] = []

    @dramatiq.actor(max_retries=3)
    def legacy(item: OldModel) -> None:
        ran.append(item)

    body = {
        "queue_name": "default",
        "actor_name": "legacy",
        "args": [{"n": 1}],
        "kwargs": {},
        "options": {},
        "message_id": "00000000-0000-4000-8000-000000000001",
        "message_timestamp": 1,
    }
    broker.queues["default"].put(json.dumps(body).encode())  # a producer without the gateway
    drain(broker, threads=1)
    assert ran == []
    (dead,) = broker.dead_letters
    rejection = dead._actorschema_rejection
    assert isinstance(rejection, PayloadInvalid) and "OldModel is a pydantic.v1 model" in str(rejection)
    assert "retries" not in dead.options


def test_generate_and_inspect_report_a_pydantic_v1_actor(broker: StubBroker) -> None:
    @dramatiq.actor
    def legacy(item: OldModel) -> None:
        pass

    with pytest.raises(ContractError, match=r"OldModel is a pydantic\.v1 model"):
        render(broker)


def test_the_cli_names_a_pydantic_v1_actor_instead_of_crashing(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = """
import dramatiq
import pydantic.v1
from actorschema import PayloadGateway
from actorschema.brokers import StubBroker

broker = StubBroker()
broker.add_middleware(PayloadGateway())
dramatiq.set_broker(broker)


class Old(pydantic.v1.BaseModel):
    n: int


@dramatiq.actor
def legacy(item: Old) -> None:
    pass
"""
    (tmp_path / "failclosed_v1_app.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    runner = CliRunner()
    for command in (
        ["inspect"],
        ["generate", "--out", str(tmp_path / "s")],
        ["check", "--out", str(tmp_path)],
    ):
        result = runner.invoke(app, [command[0], "failclosed_v1_app", *command[1:]])
        assert result.exit_code == 2, (command, result.output)
        assert "'legacy'" in result.stderr and "'item'" in result.stderr and "pydantic.v1" in result.stderr
        assert "payload_contract" in result.stderr
        assert result.exception is None or isinstance(result.exception, SystemExit)


# -- resolution ----------------------------------------------------------------------------------------


def test_a_return_annotation_is_never_resolved(broker: StubBroker) -> None:
    @dramatiq.actor
    def total(n: int) -> Decimal:  # Decimal exists only under TYPE_CHECKING
        return n  # type: ignore[return-value]

    total.send(3)
    assert stored(broker) == 1


def test_a_model_defined_later_in_the_module_resolves_by_the_first_send(broker: StubBroker) -> None:
    @dramatiq.actor
    def early(item: DefinedLater) -> None:  # noqa: F821
        pass

    gateway = gateway_of(broker)
    assert "early" in gateway.contract_errors  # at declare time the name did not exist
    globals()["DefinedLater"] = _DefinedLater
    try:
        early.send({"x": "5"})
        assert gateway.contracts["early"].by_name["item"].hint is _DefinedLater
        assert "early" not in gateway.contract_errors
    finally:
        del globals()["DefinedLater"]


class _DefinedLater(BaseModel):
    x: int


def test_an_unresolved_name_is_retried_on_the_worker_too(broker: StubBroker) -> None:
    ran: list[Any] = []

    @dramatiq.actor
    def late(item: LaterStill) -> None:  # noqa: F821
        ran.append(item)

    broker.queues["default"].put(
        json.dumps(
            {
                "queue_name": "default",
                "actor_name": "late",
                "args": [],
                "kwargs": {"item": {"x": 2}},
                "options": {},
                "message_id": "00000000-0000-4000-8000-000000000000",
                "message_timestamp": 1,
            }
        ).encode()
    )
    globals()["LaterStill"] = _DefinedLater
    try:
        drain(broker, threads=1)
    finally:
        del globals()["LaterStill"]
    assert ran == [_DefinedLater(x=2)] and broker.dead_letters == []


def test_a_class_local_to_a_function_resolves(broker: StubBroker) -> None:
    class Local(BaseModel):
        y: int

    ran: list[Any] = []

    @dramatiq.actor
    def uses_local(item: Local) -> None:
        ran.append(item)

    uses_local.send({"y": "3"})
    assert gateway_of(broker).contracts["uses_local"].by_name["item"].hint is Local
    drain(broker, threads=1)
    assert ran == [Local(y=3)] and broker.dead_letters == []


class OrmUser:
    """An ORM entity: an arbitrary class pydantic cannot validate."""

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id


def test_an_orm_class_in_a_union_names_the_way_out_at_declare_time_and_on_each_send(
    broker: StubBroker, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, "actorschema"):

        @dramatiq.actor
        def notify(user: OrmUser | int, text: str) -> None:
            pass

    (record,) = [r for r in caplog.records if "'notify'" in r.getMessage()]
    for text in (record.getMessage(), ""):
        if not text:
            with pytest.raises(PayloadInvalid) as caught:
                notify.send(1, "hi")
            text = str(caught.value)
        assert "'user'" in text and "OrmUser | int" in text and "pydantic cannot validate" in text
        assert 'payload_contract="json"' in text
    assert stored(broker) == 0


def test_the_way_out_unblocks_the_actor_with_any_strict_json(broker: StubBroker) -> None:
    ran: list[Any] = []

    @dramatiq.actor(payload_contract="json")
    def notify(user: OrmUser | int, text: str) -> None:
        ran.append((user, text))

    notify.send({"id": 1}, "hi")
    with pytest.raises(PayloadInvalid, match="is not a parameter"):
        notify.send(1, "hi", extra=2)  # the signature still binds
    with pytest.raises(Exception, match="not plain JSON"):
        notify.send(float("nan"), "hi")
    drain(broker, threads=1)
    assert ran == [({"id": 1}, "hi")]
    contract = gateway_of(broker).contracts["notify"]
    assert contract.way_out == 'payload_contract="json"'


def test_a_bad_way_out_value_is_named(broker: StubBroker) -> None:
    @dramatiq.actor(payload_contract="loose")
    def odd(x: int) -> None:
        pass

    with pytest.raises(PayloadInvalid, match="payload_contract='loose' is not one of"):
        odd.send(1)


# -- callable instances and hidden signatures ------------------------------------------------------------


class Task:
    def __call__(self, user_id: int, *, loud: bool = False) -> None:
        pass


class HandsOff:
    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.run(*args, **kwargs)

    def run(self, order_id: int) -> None:
        pass


def untyped_decorator(fn: Any) -> Any:
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]  # no functools.wraps: the signature is lost
        return fn(*args, **kwargs)

    return wrapper


def test_a_callable_instance_gets_its_contract_from_call(broker: StubBroker) -> None:
    task = dramatiq.actor(Task(), actor_name="task")
    with pytest.raises(PayloadInvalid) as caught:
        task.send("x")
    assert caught.value.paths == ("args[0]",)
    task.send(3, loud=True)
    contract = gateway_of(broker).contracts["task"]
    assert [p.name for p in contract.parameters] == ["user_id", "loud"]
    assert not contract.hidden_signature


def test_a_callable_instance_that_hands_off_to_an_annotated_method_gets_its_contract(
    broker: StubBroker,
) -> None:
    dramatiq.actor(HandsOff(), actor_name="hands_off")
    contract = gateway_of(broker).contracts["hands_off"]
    assert [(p.name, p.hint) for p in contract.parameters] == [("order_id", int)]


def test_a_hidden_signature_is_flagged_by_inspect_and_generate(broker: StubBroker) -> None:
    @dramatiq.actor(actor_name="hidden")
    @untyped_decorator
    def hidden(user_id: int) -> None:
        pass

    @dramatiq.actor
    def kept(user_id: int) -> None:
        pass

    contracts = gateway_of(broker).contracts
    assert contracts["hidden"].hidden_signature and not contracts["kept"].hidden_signature


# -- Unpack[TypedDict] ----------------------------------------------------------------------------------------


class Options(TypedDict, total=False):
    colour: Required[str]
    size: int
    tags: list[str]


class ExtOptions(typing_extensions.TypedDict):
    colour: str
    size: typing_extensions.NotRequired[Annotated[int, pydantic.Field(gt=0)]]


@pytest.mark.parametrize("typed_dict", [Options, ExtOptions], ids=["typing", "typing_extensions"])
def test_unpacked_typed_dict_kwargs_become_named_keywords(broker: StubBroker, typed_dict: Any) -> None:
    ran: list[Any] = []

    @dramatiq.actor
    def paint(canvas: str, **options: Unpack[typed_dict]) -> None:  # type: ignore[valid-type]
        ran.append((canvas, options))

    contract = gateway_of(broker).contracts["paint"]
    assert [(p.name, p.required) for p in contract.parameters] == [
        ("canvas", True),
        ("colour", True),
        ("size", False),
        *([("tags", False)] if typed_dict is Options else []),
    ]
    with pytest.raises(PayloadInvalid) as caught:
        paint.send("c", size="big", shade=1)
    assert set(caught.value.paths) == {"kwargs.size", "kwargs.shade", "kwargs.colour"}
    paint.send("c", colour="red", size="3")
    drain(broker, threads=1)
    assert ran == [("c", {"colour": "red", "size": 3})]


def test_unpacked_kwargs_in_the_schema(broker: StubBroker) -> None:
    import jsonschema

    @dramatiq.actor
    def paint(canvas: str, **options: Unpack[Options]) -> None:
        pass

    schema = json.loads(render(broker)["paint.schema.json"])
    kwargs = schema["properties"]["kwargs"]
    assert sorted(kwargs["properties"]) == ["canvas", "colour", "size", "tags"]
    assert sorted(kwargs["required"]) == ["canvas", "colour"]
    assert kwargs["additionalProperties"] is False
    base = {
        "queue_name": "default",
        "actor_name": "paint",
        "args": [],
        "options": {},
        "message_id": "00000000-0000-4000-8000-000000000000",
        "message_timestamp": 1,
    }
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({**base, "kwargs": {"canvas": "c", "colour": "red", "tags": ["a"]}})
    assert not validator.is_valid({**base, "kwargs": {"canvas": "c", "size": 1}})


# -- the CLI reports ----------------------------------------------------------------------------------------


def test_contract_from_function_ignores_an_unresolvable_return() -> None:
    def fn(x: int) -> NoSuchThing:  # type: ignore[name-defined]  # noqa: F821
        pass

    assert ActorContract.from_function(fn, "fn").by_name["x"].hint is int


CLI_APP = "failclosed_cli_app"


@pytest.fixture
def cli_app(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    source = """
import dramatiq
from actorschema import PayloadGateway
from actorschema.brokers import StubBroker

broker = StubBroker()
broker.add_middleware(PayloadGateway())
dramatiq.set_broker(broker)


class Orm:
    pass


def untyped(fn):
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


@dramatiq.actor(payload_contract="json")
def escape(user: Orm | int) -> None:
    pass


@dramatiq.actor(actor_name="hidden")
@untyped
def hidden(user_id: int) -> None:
    pass


@dramatiq.actor
def plain(user_id: int) -> None:
    pass
"""
    (tmp_path / f"{CLI_APP}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return CLI_APP


def test_inspect_and_generate_show_the_way_out_and_hidden_signatures(cli_app: str, tmp_path: Any) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["inspect", cli_app, "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["actor"]: row for row in json.loads(result.stdout)["actors"]}
    assert rows["escape"]["way_out"]["option"] == 'payload_contract="json"'
    assert "'user'" in rows["escape"]["way_out"]["why"] and "Orm | int" in rows["escape"]["way_out"]["why"]
    assert rows["hidden"]["hidden_signature"] is True
    assert rows["plain"]["way_out"] is None and rows["plain"]["hidden_signature"] is False

    text = runner.invoke(app, ["inspect", cli_app])
    assert text.exit_code == 0
    assert "payload_contract" in text.stdout and "(*args, **kwargs)" in text.stdout

    generated = runner.invoke(app, ["generate", cli_app, "--out", str(tmp_path / "schemas")])
    assert generated.exit_code == 0, generated.output
    assert "escape" in generated.stderr and "payload_contract" in generated.stderr
    assert "hidden" in generated.stderr and "functools.wraps" in generated.stderr
    generated_json = runner.invoke(app, ["generate", cli_app, "--out", str(tmp_path / "s2"), "--json"])
    report = json.loads(generated_json.stdout)
    assert report["way_out"] == {"escape": rows["escape"]["way_out"]["why"]}
    assert report["hidden_signature"] == ["hidden"]
    index = json.loads((tmp_path / "schemas" / "index.json").read_text())
    assert index["actors"]["escape"]["payload_contract"] == "json"
    schema = json.loads((tmp_path / "schemas" / "escape.schema.json").read_text())
    assert schema["properties"]["kwargs"]["properties"]["user"] == {}


def test_a_callable_instance_receives_typed_arguments_on_the_worker(broker: StubBroker) -> None:
    import datetime

    got: list[Any] = []

    class Stamp:
        def __call__(self, when: datetime.datetime) -> None:
            got.append(when)

    stamp = dramatiq.actor(Stamp(), actor_name="stamp")
    when = datetime.datetime(2026, 1, 2, 3, 4, tzinfo=datetime.UTC)
    stamp.send(when)
    drain(broker, threads=1)
    assert got == [when]


def test_a_consumer_whose_decode_check_explodes_dead_letters_and_keeps_running(
    broker: StubBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    import actorschema.consume.envelope as envelope

    ran: list[int] = []

    @dramatiq.actor
    def task(n: int) -> None:
        ran.append(n)

    task.send(1)
    real = envelope.envelope_violations

    def flaky(fields: Any, **kwargs: Any) -> Any:
        if fields.get("kwargs") == {"n": 1}:
            raise ZeroDivisionError("bug in the envelope check")
        return real(fields, **kwargs)

    monkeypatch.setattr(envelope, "envelope_violations", flaky)
    task.send(2)
    drain(broker, threads=1)
    assert ran == [2]
    (dead,) = broker.dead_letters
    assert "internal error while checking: ZeroDivisionError" in str(dead._exception)


_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(-5, 5, allow_nan=False),
    st.text(max_size=3),
)
_json = st.one_of(
    _json_leaf, st.lists(_json_leaf, max_size=3), st.dictionaries(st.text(max_size=2), _json_leaf)
)


def test_unpacked_kwargs_send_schema_and_worker_agree() -> None:
    """For arbitrary keyword arguments: what send stores fits the schema and the worker; on raw
    messages the worker's verdict is the schema's."""
    import jsonschema

    broker = make_broker()
    gateway = gateway_of(broker)

    @dramatiq.actor
    def paint(canvas: str, **options: Unpack[Options]) -> None:
        pass

    schema = json.loads(render(broker)["paint.schema.json"])
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    guard = gateway.consume_guard

    def worker_accepts(fields: dict[str, Any]) -> bool:
        try:
            guard.check(broker, Message(**json.loads(json.dumps(fields))))
        except PayloadRejected:
            return False
        return True

    @settings(max_examples=200, deadline=None)
    @given(
        kwargs=st.dictionaries(
            st.sampled_from(["canvas", "colour", "size", "tags", "shade"]), _json, max_size=5
        )
    )
    def check(kwargs: dict[str, Any]) -> None:
        try:
            message = paint.send(**kwargs)
            sent = True
        except PayloadRejected as rejection:
            assert rejection.paths and all(p.startswith("kwargs.") for p in rejection.paths)
            sent = False
        broker.flush_all()
        raw = {
            "queue_name": "default",
            "actor_name": "paint",
            "args": [],
            "kwargs": kwargs,
            "options": {},
            "message_id": "00000000-0000-4000-8000-000000000000",
            "message_timestamp": 1,
        }
        schema_ok = validator.is_valid(raw)
        assert worker_accepts(raw) == schema_ok, kwargs
        if schema_ok:
            assert sent, kwargs  # what the schema accepts, send accepts
        if sent:
            stored = {**message.asdict(), "args": list(message.args)}
            assert validator.is_valid(stored) and worker_accepts(stored), stored

    try:
        check()
    finally:
        broker.close()


def test_an_unpacked_key_that_is_also_a_parameter_is_named() -> None:
    def clash(colour: str, **options: Unpack[Options]) -> None:
        pass

    with pytest.raises(ContractError, match=r"its keys \['colour'\] are also parameters"):
        ActorContract.from_function(clash, "clash")


def test_finding_the_method_a_call_hands_off_to_runs_no_property(broker: StubBroker) -> None:
    touched: list[str] = []

    class Lazy:
        @property
        def client(self) -> Any:
            touched.append("client")
            return None

        def __call__(self, *args: Any, **kwargs: Any) -> None:
            assert self.client is None
            self.run(*args, **kwargs)

        def run(self, order_id: int) -> None:
            pass

    dramatiq.actor(Lazy(), actor_name="lazy")
    assert [p.name for p in gateway_of(broker).contracts["lazy"].parameters] == ["order_id"]
    assert touched == []


def test_a_module_that_declares_its_actor_above_its_models_sends_and_runs(
    broker: StubBroker, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The layout real modules have: the actor first, the models it names further down."""
    source = """
from __future__ import annotations

import dramatiq
from pydantic import BaseModel

received = []


@dramatiq.actor
def place(order: Order) -> None:
    received.append(order)


class Order(BaseModel):
    lines: list[Line]


class Line(BaseModel):
    sku: str
    qty: int
"""
    (tmp_path / "failclosed_layout.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    module = importlib.import_module("failclosed_layout")
    try:
        module.place.send({"lines": [{"sku": "a", "qty": "2"}]})
        with pytest.raises(PayloadInvalid) as caught:
            module.place.send({"lines": [{"sku": "a", "qty": "many"}]})
        assert caught.value.paths == ("args[0].lines[0].qty",)
        drain(broker, threads=1)
        assert module.received == [module.Order(lines=[module.Line(sku="a", qty=2)])]
    finally:
        import sys

        sys.modules.pop("failclosed_layout", None)


def test_inspect_shows_unpacked_keywords(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    source = """
from typing import NotRequired, TypedDict, Unpack

import dramatiq
from actorschema import PayloadGateway
from actorschema.brokers import StubBroker

broker = StubBroker()
broker.add_middleware(PayloadGateway())
dramatiq.set_broker(broker)


class Style(TypedDict):
    colour: str
    size: NotRequired[int]


@dramatiq.actor
def paint(canvas: str, **style: Unpack[Style]) -> None:
    pass
"""
    (tmp_path / "failclosed_unpack_app.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    runner = CliRunner()
    rows = json.loads(runner.invoke(app, ["inspect", "failclosed_unpack_app", "--json"]).stdout)["actors"]
    assert [(p["name"], p["kind"], p["required"], p["default"]) for p in rows[0]["parameters"]] == [
        ("canvas", "positional_or_keyword", True, None),
        ("colour", "keyword_only", True, None),
        ("size", "keyword_only", False, None),
    ]
    text = runner.invoke(app, ["inspect", "failclosed_unpack_app"]).stdout
    assert "size: int (may be left out)" in text
