"""The actor contract: binding with Python's rules, the canonical placement of arguments, and annotations.

What each kind of hint means on the wire (valid values, their JSON form,
invalid ones and their paths) is tested in ``test_hints.py``.

No ``from __future__ import annotations`` here on purpose: the future-annotations
case has its own module, ``contract_future_annotations.py``.
"""

import datetime as dt
import functools
import inspect
from decimal import Decimal
from typing import Annotated, Any

import dramatiq
import helpers.contract_future_annotations as future
import pytest
from dramatiq.brokers.stub import StubBroker
from helpers.contracts import (
    AN_ID,
    NAIVE,
    PLUS2,
    PROPERTY,
    LineItem,
    Opaque,
    assert_json_equal,
    contract_of,
    invalid,
    json_text,
    typed,
)
from helpers.hint_corpus import Color, Priority
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from actorschema import PayloadGateway
from actorschema.contract import ActorContract, actor_function
from actorschema.errors import PayloadInvalid
from actorschema.paths import render_path

# -- binding ------------------------------------------------------------------------------------------------


def pair(a: int, b: int = 2) -> None:
    pass


def test_too_many_positionals() -> None:
    (violation,) = invalid(contract_of(pair), (1, 2, 3)).violations
    assert violation.path == "args[2]"
    assert "at most 2 positional" in violation.problem and "3 were given" in violation.problem


def test_unknown_keyword() -> None:
    (violation,) = invalid(contract_of(pair), (1,), {"c": 3}).violations
    assert violation.path == "kwargs.c"
    assert "not a parameter" in violation.problem
    assert "a, b" in violation.hint


def test_unknown_keyword_with_an_odd_name_is_quoted() -> None:
    assert invalid(contract_of(pair), (1,), {"x-y": 3}).paths == ('kwargs["x-y"]',)


def test_positional_only_passed_by_keyword() -> None:
    def only(a: int, /, b: int = 0) -> None:
        pass

    error = invalid(contract_of(only), (), {"a": 1})
    assert error.paths[0] == "kwargs.a"
    assert "positional-only" in error.violations[0].problem
    assert "kwargs.a" in error.paths[1:]  # and so it is missing


def test_positional_only_name_goes_to_var_keyword_like_python() -> None:
    def only(a: int, /, **extra: Any) -> None:
        pass

    assert contract_of(only).canonical((1,), {"a": 2}) == ((1,), {"a": 2})
    error = invalid(contract_of(only), (), {"a": 2})
    assert error.paths == ("kwargs.a",)
    assert "required" in error.violations[0].problem


def test_duplicate_positional_and_keyword() -> None:
    (violation,) = invalid(contract_of(pair), (1,), {"a": 1}).violations
    assert violation.path == "kwargs.a"
    assert "multiple values" in violation.problem


def test_missing_required() -> None:
    def needs(a: int, *, b: str, c: int = 0) -> None:
        pass

    error = invalid(contract_of(needs), (), {"c": 1})
    assert error.paths == ("kwargs.a", "kwargs.b")
    assert all("required but missing" in v.problem for v in error.violations)
    assert error.violations[0].hint == "a value of type int"


def test_all_binding_problems_are_reported_together() -> None:
    error = invalid(contract_of(pair), ("x", 2, 3), {"zz": 1})
    assert sorted(error.paths) == ["args[0]", "args[2]", "kwargs.zz"]


def test_non_str_keyword_is_rejected() -> None:
    def flexible(**extra: Any) -> None:
        pass

    error = invalid(contract_of(flexible), (), {1: "a"})  # type: ignore[dict-item]
    assert "not a parameter" in error.violations[0].problem


def step(a: int, b: int, c: int) -> None:
    pass


def test_a_pipeline_step_may_lack_exactly_the_parameter_its_result_fills() -> None:
    contract = contract_of(step)
    assert contract.canonical((1, 2), {}, awaiting_result=True) == ((), {"a": 1, "b": 2})
    assert invalid(contract, (1,), {}, awaiting_result=True).paths == ("kwargs.c",)
    assert invalid(contract, (1, 2), {}).paths == ("kwargs.c",)
    assert invalid(contract, (), {}, awaiting_result=True).paths == ("kwargs.b", "kwargs.c")


def test_a_pipeline_step_still_validates_what_was_given() -> None:
    assert invalid(contract_of(step), ("x", 2), {}, awaiting_result=True).paths == ("args[0]",)


@pytest.mark.parametrize(
    ("fn", "args", "kwargs"),
    [
        pytest.param("keyword_only", (), {}, id="keyword-only-missing"),
        pytest.param("full", (1,), {}, id="no-room-for-the-result"),
        pytest.param("named_first", (), {"a": 1}, id="result-would-duplicate-a"),
    ],
)
def test_a_pipeline_step_is_refused_when_the_appended_result_cannot_bind(
    fn: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    def keyword_only(*, user_id: int) -> None:
        pass

    def full(result: int) -> None:
        pass

    def named_first(a: int, b: int) -> None:
        pass

    target = {"keyword_only": keyword_only, "full": full, "named_first": named_first}[fn]
    with pytest.raises(TypeError):  # what Dramatiq's pipeline would do at run time
        inspect.signature(target).bind(*args, "result", **kwargs)
    invalid(contract_of(target), args, kwargs, awaiting_result=True)


def place(a: int, b: int, /, c: int, d: int = 4, *rest: int, e: int, f: str = "f", **extra: Any) -> None:
    pass


@pytest.mark.parametrize(
    ("args", "kwargs", "expected"),
    [
        pytest.param((1, 2, 3), {"e": 5}, ((1, 2), {"c": 3, "e": 5}), id="named-goes-to-kwargs"),
        pytest.param((1, 2), {"c": 3, "e": 5}, ((1, 2), {"c": 3, "e": 5}), id="already-named"),
        pytest.param((1, 2, 3, 4), {"e": 5}, ((1, 2), {"c": 3, "d": 4, "e": 5}), id="default-given"),
        pytest.param(
            (1, 2, 3, 4, 5, 6),
            {"e": 5, "z": 1},
            ((1, 2, 3, 4, 5, 6), {"e": 5, "z": 1}),
            id="var-args-pin-earlier-positionals",
        ),
        pytest.param(
            (1, 2),
            {"zz": 0, "f": "x", "e": 5, "c": 3},
            ((1, 2), {"c": 3, "e": 5, "f": "x", "zz": 0}),
            id="signature-order-then-extras",
        ),
        pytest.param(
            ("1", "2", "3", "4", "5"), {"e": "6"}, ((1, 2, 3, 4, 5), {"e": 6}), id="var-args-validated"
        ),
    ],
)
def test_canonical_placement(args: tuple[Any, ...], kwargs: dict[str, Any], expected: Any) -> None:
    out = contract_of(place).canonical(args, kwargs)
    assert out == expected
    assert list(out[1]) == list(expected[1])


def test_plain_positionals_all_become_keywords() -> None:
    def plain(a: int, b: str) -> None:
        pass

    assert contract_of(plain).canonical([1, "x"], {}) == ((), {"a": 1, "b": "x"})


def test_defaults_are_not_filled_in_nor_validated() -> None:
    def defaults(a: int, b: str = "x", c: Priority = Priority.LOW, d: int = None) -> None:  # type: ignore[assignment]  # noqa: RUF013
        pass

    assert contract_of(defaults).canonical((1,), {}) == ((), {"a": 1})


def test_typed_var_args_and_var_kwargs() -> None:
    def weigh(*values: int, **weights: float) -> None:
        pass

    contract = contract_of(weigh)
    assert_json_equal(contract.canonical(("1", 2), {"w": "0.5"}), ((1, 2), {"w": 0.5}))
    assert invalid(contract, ("1", "x"), {"w": "heavy"}).paths == ("args[1]", "kwargs.w")
    assert contract.canonical((), {}) == ((), {})


def test_only_var_positional() -> None:
    def star(*items: Any) -> None:
        pass

    assert contract_of(star).canonical((1, 2), {}) == ((1, 2), {})
    assert invalid(contract_of(star), (), {"items": 1}).paths == ("kwargs.items",)


def test_no_parameters() -> None:
    def nothing() -> None:
        pass

    assert contract_of(nothing).canonical((), {}) == ((), {})
    assert invalid(contract_of(nothing), (1,), {}).paths == ("args[0]",)
    assert invalid(contract_of(nothing), (), {"a": 1}).violations[0].hint == "only its parameters (none)"


def test_parameter_kinds_and_requirements() -> None:
    contract = contract_of(place)
    kinds = inspect.Parameter
    assert [(p.name, p.kind) for p in contract.parameters] == [
        ("a", kinds.POSITIONAL_ONLY),
        ("b", kinds.POSITIONAL_ONLY),
        ("c", kinds.POSITIONAL_OR_KEYWORD),
        ("d", kinds.POSITIONAL_OR_KEYWORD),
        ("rest", kinds.VAR_POSITIONAL),
        ("e", kinds.KEYWORD_ONLY),
        ("f", kinds.KEYWORD_ONLY),
        ("extra", kinds.VAR_KEYWORD),
    ]
    assert contract.required == ["a", "b", "c", "e"]


# -- annotations as strings and forward references ---------------------------------------------------------


def test_future_annotations_are_resolved() -> None:
    contract = contract_of(future.place_order)
    hints = {p.name: p.hint for p in contract.parameters}
    assert hints["order"] is future.Order
    assert hints["placed_at"] is dt.datetime
    assert contract.description == "Place an order (a forward-referenced model)."


def order_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"id": AN_ID, "lines": [{"sku": "a", "qty": 1, "price": "1.50"}]}
    data.update(overrides)
    return data


def test_future_annotations_forward_referenced_model() -> None:
    contract = contract_of(future.place_order)
    when = dt.datetime(2024, 1, 1, tzinfo=PLUS2)
    args, kwargs = contract.canonical((order_data(parent=order_data()),), {"placed_at": when})
    line = {"sku": "a", "qty": 1, "price": "1.50"}
    assert args == ()
    assert kwargs == {
        "order": {
            "id": str(AN_ID),
            "lines": [line],
            "parent": {"id": str(AN_ID), "lines": [line], "parent": None},
        },
        "placed_at": "2024-01-01T00:00:00+02:00",
    }
    bad = order_data(
        parent=order_data(lines=[{"sku": "a", "qty": 1, "price": "1"}, {"sku": "b", "qty": 0, "price": "x"}])
    )
    error = invalid(contract, (bad,), {"placed_at": NAIVE, "note": 5})
    assert error.paths == (
        "args[0].parent.lines[1].qty",
        "args[0].parent.lines[1].price",
        "kwargs.placed_at",
        "kwargs.note",
    )


def test_future_annotations_var_args_of_forward_models() -> None:
    contract = contract_of(future.tag_lines)
    line = {"sku": "a", "qty": "2", "price": 1}
    out = contract.canonical((str(AN_ID), line, line), {"mode": "remove"})
    assert out == (
        (str(AN_ID), {"sku": "a", "qty": 2, "price": "1"}, {"sku": "a", "qty": 2, "price": "1"}),
        {"mode": "remove"},
    )
    assert contract.canonical((AN_ID,), {}) == ((str(AN_ID),), {})
    assert invalid(contract, (AN_ID, line, {"sku": "a"}), {"mode": "x"}).paths == (
        "args[2].qty",
        "args[2].price",
        "kwargs.mode",
    )


def test_quoted_annotation_in_a_future_module() -> None:
    contract = contract_of(future.quoted)
    assert contract.canonical(("1.50",), {}) == ((), {"price": "1.50"})
    assert invalid(contract, ("1.50", 0), {}).paths == ("args[1]",)


def test_string_annotation_and_forward_reference_in_a_plain_module() -> None:
    def by_name(item: "LineItem", later: "Later") -> None:
        pass

    contract = contract_of(by_name)
    out = contract.canonical(({"sku": "a", "qty": 1, "unit_price": 2},), {"later": {"n": "3"}})
    assert out == (
        (),
        {"item": {"sku": "a", "qty": 1, "unit_price": "2", "shipped_at": None}, "later": {"n": 3}},
    )


class Later(BaseModel):
    n: int


def test_unresolvable_annotation_names_the_actor() -> None:
    def broken(x: "NoSuchModel") -> None:  # type: ignore[name-defined]  # noqa: F821
        pass

    with pytest.raises(TypeError, match=r"broken.*NoSuchModel"):
        ActorContract.from_function(broken, "broken")


def test_hint_pydantic_cannot_validate_names_the_actor_and_parameter() -> None:
    def weird(ok: int, thing: Opaque) -> None:
        pass

    with pytest.raises(TypeError, match=r"'weird'.*'thing'"):
        ActorContract.from_function(weird, "weird")


# -- contracts of declared actors --------------------------------------------------------------------------


def test_from_actor_plain_function(stub_broker: StubBroker, gateway: PayloadGateway) -> None:
    @dramatiq.actor(queue_name="emails", max_retries=0)
    def send_email(to: str, subject: str, *, urgent: bool = False) -> None:
        """Send one email."""

    contract = ActorContract.from_actor(send_email)
    assert (contract.actor_name, contract.queue_name) == ("send_email", "emails")
    assert [(p.name, p.hint) for p in contract.parameters] == [
        ("to", str),
        ("subject", str),
        ("urgent", bool),
    ]
    assert contract.description == "Send one email."
    assert contract.canonical(("a@b.c", "hi"), {"urgent": "yes"}) == (
        (),
        {"to": "a@b.c", "subject": "hi", "urgent": True},
    )
    assert gateway.contracts["send_email"].parameters == contract.parameters


def test_from_actor_with_a_custom_name(stub_broker: StubBroker) -> None:
    @dramatiq.actor(actor_name="billing.charge")
    def charge(amount: Decimal) -> None:
        pass

    contract = ActorContract.from_actor(charge)
    assert contract.actor_name == "billing.charge"
    assert invalid(contract, ("lots",)).actor_name == "billing.charge"


def test_from_actor_async(stub_broker: StubBroker) -> None:
    @dramatiq.actor
    async def fetch(url: str, /, retries: Annotated[int, Field(ge=0)] = 3) -> None:
        pass

    fn = actor_function(fetch)
    assert inspect.iscoroutinefunction(fn)
    contract = ActorContract.from_actor(fetch)
    kinds = inspect.Parameter
    assert [(p.name, p.kind) for p in contract.parameters] == [
        ("url", kinds.POSITIONAL_ONLY),
        ("retries", kinds.POSITIONAL_OR_KEYWORD),
    ]
    assert contract.canonical(("http://x", "2"), {}) == (("http://x",), {"retries": 2})
    assert invalid(contract, ("http://x",), {"retries": -1}).paths == ("kwargs.retries",)


def test_from_actor_generic_actor(stub_broker: StubBroker) -> None:
    class Resize(dramatiq.GenericActor):
        """Resize an image."""

        class Meta:
            queue_name = "images"

        def perform(self, path: str, *sizes: int, quality: Annotated[int, Field(le=100)] = 90) -> None:
            pass

    contract = ActorContract.from_actor(Resize)
    assert (contract.actor_name, contract.queue_name) == ("Resize", "images")
    assert [p.name for p in contract.parameters] == ["path", "sizes", "quality"]
    assert contract.canonical(("a.png", "64", 128), {"quality": "80"}) == (
        ("a.png", 64, 128),
        {"quality": 80},
    )
    assert contract.canonical(("a.png",), {}) == ((), {"path": "a.png"})
    assert invalid(contract, ("a.png", "big"), {"quality": 101}).paths == ("args[1]", "kwargs.quality")


def test_from_actor_sees_through_functools_wraps(stub_broker: StubBroker) -> None:
    def logged(fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return fn(*args, **kwargs)

        return wrapper

    @dramatiq.actor
    @logged
    def resize(path: str, width: int) -> None:
        pass

    contract = ActorContract.from_actor(resize)
    assert [p.name for p in contract.parameters] == ["path", "width"]
    assert invalid(contract, ("a.png", "wide")).paths == ("args[1]",)


def test_from_actor_without_the_gateway() -> None:
    broker = StubBroker()
    try:

        @dramatiq.actor(broker=broker, queue_name="plain")
        def untouched(n: int, /, *, label: str = "") -> None:
            pass

        contract = ActorContract.from_actor(untouched)
        assert contract.queue_name == "plain"
        assert contract.canonical(("5",), {"label": "x"}) == ((5,), {"label": "x"})
    finally:
        broker.close()


PAIR = contract_of(pair)


@PROPERTY
@given(
    st.dictionaries(json_text.filter(lambda k: k not in ("a", "b")), st.integers(), min_size=1, max_size=4)
)
def test_property_unknown_keywords_always_raise(unknown: dict[str, int]) -> None:
    error = invalid(PAIR, (1,), unknown)
    assert set(error.paths) == {render_path(("kwargs", key)) for key in unknown}
    assert all("not a parameter" in v.problem for v in error.violations)


def mixed(a, b, /, c, d=4, *rest, e, f="f", **extra):  # type: ignore[no-untyped-def]
    pass


def no_var(a, /, b, c=3, *, d, e=5):  # type: ignore[no-untyped-def]
    pass


def simple(x, y=2):  # type: ignore[no-untyped-def]
    pass


def anything(*args, **kwargs):  # type: ignore[no-untyped-def]
    pass


def plain_kw(a, b=2, *, c, d=4):  # type: ignore[no-untyped-def]
    pass


SIGNATURES = [mixed, no_var, simple, plain_kw, anything]
names = st.sampled_from(["a", "b", "c", "d", "e", "f", "x", "y", "rest", "extra", "args", "kwargs", "zz"])


@PROPERTY
@given(
    st.sampled_from(SIGNATURES),
    st.lists(st.integers(), max_size=7),
    st.dictionaries(names, st.integers(), max_size=5),
)
def test_property_binding_follows_python(fn: Any, args: list[int], kwargs: dict[str, int]) -> None:
    signature = inspect.signature(fn)
    contract = contract_of(fn)
    try:
        expected = signature.bind(*args, **kwargs)
    except TypeError:
        invalid(contract, tuple(args), kwargs)
        return
    out_args, out_kwargs = contract.canonical(args, kwargs)
    assert signature.bind(*out_args, **out_kwargs).arguments == expected.arguments
    # args keeps only what cannot be named
    positional = [
        p for p in signature.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    has_var_values = len(args) > len(positional)
    if not has_var_values:
        named = [p.name for p in positional[: len(out_args)]]
        assert all(signature.parameters[name].kind is inspect.Parameter.POSITIONAL_ONLY for name in named)
    # kwargs in signature order, then the extras
    order = list(signature.parameters)
    nameable = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    keys = list(out_kwargs)
    named = [k for k in keys if k in signature.parameters and signature.parameters[k].kind in nameable]
    assert keys[: len(named)] == sorted(named, key=order.index)


def plain_typed(a: int, b: str = "b", *, c: float, d: Priority = Priority.LOW) -> None:
    pass


def general_typed(a: int, b: str = "b", *, c: float, d: Priority = Priority.LOW, **_unused: Any) -> None:
    pass


PLAIN_TYPED = contract_of(plain_typed)
GENERAL_TYPED = contract_of(general_typed)
loose_values = st.one_of(
    st.integers(-5, 5),
    st.sampled_from(["1", "2.5", "x", "", "b", True, None, 1.5, Priority.HIGH, Color.RED]),
    st.floats(allow_nan=False, allow_infinity=False),
)


def outcome(contract: ActorContract, args: list[Any], kwargs: dict[str, Any]) -> Any:
    try:
        return typed(contract.canonical(args, kwargs))
    except PayloadInvalid as error:
        return error.paths


@PROPERTY
@given(
    st.lists(loose_values, max_size=3),
    st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), loose_values, max_size=4),
)
def test_property_plain_signatures_bind_like_general_ones(args: list[Any], kwargs: dict[str, Any]) -> None:
    """A signature without /, *args or **kwargs (which has a faster binder) gives the same outcome."""
    assert outcome(PLAIN_TYPED, args, kwargs) == outcome(GENERAL_TYPED, args, kwargs)


@PROPERTY
@given(
    st.sampled_from(SIGNATURES),
    st.lists(st.integers(), max_size=6),
    st.dictionaries(names, st.integers(), max_size=5),
)
def test_property_a_pipeline_step_is_accepted_exactly_when_the_appended_result_binds(
    fn: Any, args: list[int], kwargs: dict[str, int]
) -> None:
    try:
        inspect.signature(fn).bind(*args, "result", **kwargs)
    except TypeError:
        binds = False
    else:
        binds = True
    try:
        contract_of(fn).canonical(args, kwargs, awaiting_result=True)
    except PayloadInvalid:
        accepted = False
    else:
        accepted = True
    assert accepted == binds
