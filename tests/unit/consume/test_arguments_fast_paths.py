"""The worker's shortcuts give the full check's verdict: property tests against the reference.

One shortcut keeps the consume path cheap, and it is only sound if it
decides exactly what the slow path would:

* :meth:`actorschema.consume.arguments.InboundContract.as_sent` accepts canonical
  arguments without the schema pass or any conversion. Whenever it says yes,
  ``jsonschema`` (the reference) must accept the message on the actor's
  published schema, and :meth:`~actorschema.consume.arguments.InboundContract.check`
  must hand the actor the very same values.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from actorschema.consume.arguments import InboundContract
from actorschema.contract import ActorContract
from actorschema.encoder import encode_json
from actorschema.formats import FORMAT_CHECKER

# -- strict JSON values, as msgspec decodes them ----------------------------------------------

_FINITE = st.floats(allow_nan=False, allow_infinity=False)
_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
_SCALARS = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | _FINITE | _TEXT
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)

# -- as_sent against jsonschema and check() ---------------------------------------------------

#: Hints as written in a signature, and what a default of that hint may be.
_HINTS: dict[str, Any] = {
    "int": st.integers(-5, 5),
    "str": _TEXT,
    "bool": st.booleans(),
    "float": _FINITE,
    "list": st.just([]),
    "dict": st.just({}),
    "list[Any]": st.just([]),
    "dict[str, Any]": st.just({}),
    "Any": JSON_VALUES,
    "": JSON_VALUES,  # unannotated
    "datetime.datetime": st.nothing(),  # converted: never as sent
    "int | None": st.none(),  # a union: the schema pass decides
}
_NAMES = ("a", "b", "c", "d", "e")


@st.composite
def signatures(draw: st.DrawFn) -> tuple[str, list[str]]:
    """Source of a function with 0-5 parameters, and their names."""
    count = draw(st.integers(0, len(_NAMES)))
    names = list(_NAMES[:count])
    star = draw(st.integers(0, count))  # where keyword-only parameters begin
    pieces: list[str] = []
    seen_default = False
    for index, name in enumerate(names):
        if index == star:
            pieces.append("*")
        hint = draw(st.sampled_from(sorted(_HINTS)))
        piece = f"{name}: {hint}" if hint else name
        has_default = (seen_default and index < star) or draw(st.booleans())
        if has_default:
            default = draw(_HINTS[hint]) if not hint.startswith("datetime") else None
            piece += f" = {default!r}"
            seen_default = seen_default or index < star
        pieces.append(piece)
    return f"def fn({', '.join(pieces)}) -> None: ...", names


def _contract(source: str) -> ActorContract:
    namespace: dict[str, Any] = {"Any": Any, "datetime": datetime}
    exec(source, namespace)
    return ActorContract.from_function(namespace["fn"], "fn")


def _message(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {
        "queue_name": "default",
        "actor_name": "fn",
        "args": [],
        "kwargs": kwargs,
        "options": {},
        "message_id": str(uuid.uuid4()),
        "message_timestamp": 1_700_000_000_000,
    }


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(signature=signatures(), data=st.data())
def test_as_sent_accepts_only_what_jsonschema_accepts_and_check_delivers_unchanged(
    signature: tuple[str, list[str]], data: st.DataObject
) -> None:
    source, names = signature
    inbound = InboundContract(_contract(source))
    keys = st.sampled_from([*names, "zz"]) if names else st.just("zz")
    kwargs = data.draw(st.dictionaries(keys, JSON_VALUES | _SCALARS, max_size=6), label="kwargs")
    # What msgspec hands the worker: the kwargs as decoded from their JSON text.
    kwargs = msgspec.json.decode(encode_json(kwargs))
    if not inbound.as_sent(kwargs):
        return  # decides nothing: check() judges them
    reference = Draft202012Validator(inbound.schema, format_checker=FORMAT_CHECKER)
    errors = [error.message for error in reference.iter_errors(_message(kwargs))]
    assert errors == [], (source, kwargs)
    py_args, py_kwargs = inbound.check((), kwargs, strict_json=True)
    assert py_args == ()
    assert py_kwargs.keys() == kwargs.keys()
    assert all(py_kwargs[key] is kwargs[key] for key in kwargs), "delivered as they arrived"


@pytest.mark.parametrize(
    ("source", "kwargs", "expected"),
    [
        (
            "def fn(user_id: int, name: str, score: float) -> None: ...",
            {"user_id": 1, "name": "n", "score": 0.5},
            True,
        ),
        (
            "def fn(rows: list, meta: dict, x: Any = None, y=None) -> None: ...",
            {"rows": [1], "meta": {}},
            True,
        ),
        (
            "def fn(rows: list, meta: dict, x: Any = None, y=None) -> None: ...",
            {"rows": [1], "meta": {}, "y": [{}]},
            True,
        ),
        # The schema pass decides: an int for a float, a bool for an int, a missing or unknown key.
        ("def fn(score: float) -> None: ...", {"score": 5}, False),
        ("def fn(n: int) -> None: ...", {"n": True}, False),
        ("def fn(n: int) -> None: ...", {}, False),
        ("def fn(n: int = 1) -> None: ...", {"m": 1}, False),
        ("def fn(rows: list) -> None: ...", {"rows": {}}, False),
        # Converted values, positional-only parameters, **kwargs: never as sent.
        ("def fn(when: datetime.datetime) -> None: ...", {"when": "2024-01-01T00:00:00Z"}, False),
        ("def fn(n: int, /) -> None: ...", {"n": 1}, False),
        ("def fn(n: int, **rest: int) -> None: ...", {"n": 1}, False),
    ],
)
def test_as_sent_cases(source: str, kwargs: dict[str, Any], expected: bool) -> None:
    inbound = InboundContract(_contract(source))
    assert inbound.as_sent(kwargs) is expected
    if expected:  # and the slow path agrees
        assert inbound.check((), kwargs, strict_json=True) == ((), kwargs)


# -- send(): checked once, at enqueue ---------------------------------------------------------


def _gated_broker() -> tuple[Any, Any]:
    from dramatiq.brokers.stub import StubBroker

    from actorschema import PayloadGateway

    broker = StubBroker()
    gateway = PayloadGateway()
    broker.add_middleware(gateway)
    return broker, gateway


def test_send_checks_once_at_enqueue_and_a_built_message_at_build(monkeypatch: pytest.MonkeyPatch) -> None:
    import dramatiq

    from actorschema import PayloadInvalid

    broker, gateway = _gated_broker()
    built: list[str] = []
    real = gateway._check_built
    monkeypatch.setattr(
        gateway, "_check_built", lambda actor, message: built.append("built") or real(actor, message)
    )

    def task(n: int) -> None: ...

    actor = dramatiq.actor(task, broker=broker)
    actor.send(1)
    actor.send_with_options(args=(2,), delay=datetime.timedelta(seconds=1))
    assert built == [], "a sent message is checked at enqueue only"
    assert len(broker.queues["default"].queue) == 1 and len(broker.queues["default.DQ"].queue) == 1
    with pytest.raises(PayloadInvalid):
        actor.send("x")
    assert len(broker.queues["default"].queue) == 1, "nothing enqueued"
    with pytest.raises(PayloadInvalid):
        actor.message("x")  # built for a group: checked when built
    assert built == ["built"]


def test_an_actor_class_with_its_own_send_with_options_keeps_it() -> None:
    import dramatiq

    calls: list[dict[str, Any]] = []

    class Audited(dramatiq.Actor):  # type: ignore[type-arg]
        def send_with_options(self, **options: Any) -> Any:
            calls.append(options)
            return super().send_with_options(**options)

    broker, _gateway = _gated_broker()

    def task(n: int) -> None: ...

    actor = dramatiq.actor(task, broker=broker, actor_class=Audited)
    actor.send(1)
    assert calls == [{"args": (1,), "kwargs": {}}]
    assert len(broker.queues["default"].queue) == 1
