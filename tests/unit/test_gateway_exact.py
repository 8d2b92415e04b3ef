"""The exact-scalar lane of a send gives the full check's verdict and stores the very same bytes.

``PayloadGateway._send_exact`` accepts a plain send to an actor whose every
parameter takes exactly ``int``, ``str``, ``float`` or ``bool``
(:meth:`~actorschema.contract.ActorContract.bind_exact`) without the full
check. Here each call is enqueued twice through a real ``StubBroker``: once
with the lane, once on a twin broker whose contract has it switched off (the
full check alone), with the same message id and timestamp. Both outcomes must
be equal: the same rejection with the same violations, or the same stored
bytes and the same canonical arguments, of the same Python types.
"""

from __future__ import annotations

import collections
import decimal
import enum
import functools
from typing import Any

import dramatiq
import pytest
from dramatiq import Message
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware
from hypothesis import given, settings
from hypothesis import strategies as st

from actorschema import MessageMalformed, NonJSONPayload, PayloadGateway, PayloadRejected
from actorschema.contract import ActorContract

HINTS = ("int", "str", "float", "bool")
#: Hints the lane does not apply to: a contract with one of them never binds exactly.
OTHER_HINTS = ("int | None", "list[int]", "decimal.Decimal")
#: A default that fits each hint.
DEFAULTS = {"int": "0", "str": "''", "float": "0.5", "bool": "False", "int | None": "None", "list[int]": "[]"}


class Level(enum.IntEnum):
    HIGH = 1


class Colour(str, enum.Enum):
    RED = "red"


class Whole(int):
    pass


class Ratio(float):
    pass


class Text(str):
    pass


#: Values of every kind a caller may pass to a scalar parameter, lane-worthy or not.
values = st.one_of(
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**65),  # around msgspec's int range
    st.integers(min_value=-(2**65), max_value=-(2**63) + 2),
    st.booleans(),
    st.floats(),  # NaN and infinities included
    st.text(max_size=6),
    st.sampled_from(["null", "\ud800", "a\udfffb", "NaN", "", "é"]),
    st.none(),
    st.sampled_from([Level.HIGH, Colour.RED, Whole(3), Ratio(1.5), Text("x"), decimal.Decimal("1.5")]),
    st.sampled_from([[1], {"a": 1}, (1,), b"x"]),
)


@st.composite
def signatures(draw: st.DrawFn, hints: tuple[str, ...] = HINTS + OTHER_HINTS) -> str:
    """The source of an actor ``act``: up to 4 parameters, positional-or-keyword then keyword-only."""
    count = draw(st.integers(0, 4))
    keyword_only_from = draw(st.integers(0, count))
    parts: list[str] = []
    defaulted = False
    for index in range(count):
        hint = draw(st.sampled_from(hints))
        keyword_only = index >= keyword_only_from
        if keyword_only and "*" not in parts:
            parts.append("*")
        # After a default, a positional parameter needs one too.
        defaulted = draw(st.booleans()) or (defaulted and not keyword_only)
        default = f" = {DEFAULTS.get(hint, 'decimal.Decimal(1)')}" if defaulted else ""
        parts.append(f"p{index}: {hint}{default}")
    return f"def act({', '.join(parts)}) -> None: ...\n"


def full_path_only(contract: ActorContract) -> None:
    """Switch the exact lane off: ``canonical`` and ``before_enqueue`` then take the full check."""
    contract.binds_exactly = False
    contract._exact_types = None


@functools.lru_cache(maxsize=64)  # each entry holds two brokers
def brokers(source: str) -> tuple[StubBroker, StubBroker, list[bool]]:
    """A broker whose gateway may take the lane, its full-check twin, and what the lane said each send."""
    namespace: dict[str, Any] = {"decimal": decimal}
    exec(source, namespace)  # a signature drawn by hypothesis: no other way to declare it
    pair = []
    for _ in range(2):
        broker = StubBroker()
        gateway = PayloadGateway()
        broker.add_middleware(gateway)
        dramatiq.actor(namespace["act"], broker=broker, actor_name="act")
        pair.append((broker, gateway))
    (lane_broker, lane_gateway), (full_broker, full_gateway) = pair
    full_path_only(full_gateway.contracts["act"])
    taken: list[bool] = []
    send_exact = lane_gateway._send_exact

    def recording(*args: Any) -> bool:
        accepted = send_exact(*args)
        taken.append(accepted)
        return accepted

    lane_gateway._send_exact = recording  # type: ignore[method-assign]
    return lane_broker, full_broker, taken


#: Options a message may reach the lane with: none, or what RedisBroker adds (valid or not), or more.
OPTIONS = st.sampled_from(
    [
        {},
        {"redis_message_id": "r-1"},
        {"redis_message_id": ""},
        {"redis_message_id": 1},
        {"redis_message_id": "\ud800"},
        {"redis_message_id": "null"},
        {"max_retries": 3},
        {"redis_message_id": "r-1", "max_retries": "3"},
    ]
)


def enqueue(
    broker: StubBroker, args: list[Any], kwargs: dict[Any, Any], options: dict[str, Any] | None = None
) -> tuple[Any, ...]:
    """Enqueue one message for ``act``; what came of it: the rejection, or what was stored and kept."""
    message: Message[Any] = Message(
        queue_name="default",
        actor_name="act",
        args=tuple(args),
        kwargs=dict(kwargs),
        options=dict(options or {}),
        message_id="00000000-0000-4000-8000-000000000001",
        message_timestamp=1_700_000_000_000,
    )
    try:
        sent = broker.enqueue(message)
    except PayloadRejected as rejection:
        return (
            "rejected",
            type(rejection).__name__,
            [(v.path, v.problem, v.hint) for v in rejection.violations],
        )
    body = broker.queues["default"].queue[-1]
    broker.flush_all()
    kept = [(key, type(value), value) for key, value in sent.kwargs.items()]
    return ("stored", body, sent.args, kept)


@settings(max_examples=200, deadline=None)
@given(
    source=signatures(),
    args=st.lists(values, max_size=5),
    keyword_values=st.dictionaries(st.sampled_from(["p0", "p1", "p2", "p3", "p9", 1]), values, max_size=4),
    options=OPTIONS,
)
def test_the_lane_gives_the_full_checks_verdict_and_bytes(
    source: str, args: list[Any], keyword_values: dict[Any, Any], options: dict[str, Any]
) -> None:
    lane_broker, full_broker, taken = brokers(source)
    taken.clear()
    by_lane = enqueue(lane_broker, args, keyword_values, options)
    by_full_check = enqueue(full_broker, args, keyword_values, options)
    # NaN != NaN: compare the kept values by type and representation.
    assert repr(by_lane) == repr(by_full_check)
    if taken == [True]:
        assert by_lane[0] == "stored"


def test_a_contract_with_another_hint_never_binds_exactly() -> None:
    for hint in OTHER_HINTS:
        lane_broker, _, taken = brokers(f"def act(p0: int, p1: {hint}) -> None: ...\n")
        taken.clear()
        enqueue(lane_broker, [1], {})
        assert taken == []


@st.composite
def exact_calls(draw: st.DrawFn) -> tuple[str, list[Any], dict[str, Any]]:
    """A valid call of an exact-scalar signature, values of exactly their types, nothing the lane leaves."""
    source = draw(signatures(HINTS))
    namespace: dict[str, Any] = {"decimal": decimal}
    exec(source, namespace)
    contract = ActorContract.from_function(namespace["act"], "act")
    kinds = {
        "int": st.integers(-(2**63), 2**63 - 1),
        "str": st.text(max_size=6).filter(lambda text: "null" not in text),
        "float": st.floats(allow_nan=False, allow_infinity=False),
        "bool": st.booleans(),
    }
    drawn = {p.name: draw(kinds[p.exact.__name__]) for p in contract.parameters if p.exact is not None}
    positional = list(contract.positional)
    required_at = [i for i, p in enumerate(positional) if p.required]
    fewest = required_at[-1] + 1 if required_at else 0
    count = draw(st.integers(fewest, len(positional)))
    args = [drawn[p.name] for p in positional[:count]]
    named = [p for p in contract.parameters[count:] if p.required or draw(st.booleans())]
    return source, args, {p.name: drawn[p.name] for p in draw(st.permutations(named))}


@settings(max_examples=100, deadline=None)
@given(call=exact_calls(), options=st.sampled_from([{}, {"redis_message_id": "r-1"}]))
def test_every_valid_exact_call_takes_the_lane(
    call: tuple[str, list[Any], dict[str, Any]], options: dict[str, Any]
) -> None:
    source, args, kwargs = call
    lane_broker, full_broker, taken = brokers(source)
    taken.clear()
    by_lane = enqueue(lane_broker, args, kwargs, options)
    assert taken == [True]
    assert repr(by_lane) == repr(enqueue(full_broker, args, kwargs, options))


def test_a_send_with_options_leaves_the_lane_and_has_them_checked() -> None:
    lane_broker, _, taken = brokers("def act(p0: int, p1: str) -> None: ...\n")
    actor = lane_broker.get_actor("act")
    taken.clear()
    actor.send_with_options(args=(1, "a"), max_retries=2)
    assert taken == [False]
    with pytest.raises(MessageMalformed, match="max_retries"):
        actor.send_with_options(args=(1, "a"), max_retries="3")
    lane_broker.flush_all()


@pytest.mark.parametrize(
    ("value", "path"),
    [(float("nan"), "kwargs.p1"), (float("-inf"), "kwargs.p1")],
    ids=["nan", "-inf"],
)
def test_a_non_finite_float_is_refused_by_the_full_check(value: float, path: str) -> None:
    lane_broker, _, taken = brokers("def act(p0: int, p1: float) -> None: ...\n")
    taken.clear()
    with pytest.raises(NonJSONPayload) as caught:
        lane_broker.get_actor("act").send(1, value)
    assert taken == [False]
    assert [v.path for v in caught.value.violations] == [path]
    assert lane_broker.queues["default"].qsize() == 0


def test_a_send_from_an_actor_on_a_worker_takes_the_lane_one_from_a_middleware_hook_does_not() -> None:
    broker = StubBroker()
    gateway = PayloadGateway()
    broker.add_middleware(gateway)
    taken: list[tuple[Any, bool]] = []
    send_exact = gateway._send_exact

    def recording(broker: Any, message: Any, contract: Any) -> bool:
        args = tuple(message.args)  # before the lane puts them by name
        accepted = send_exact(broker, message, contract)
        taken.append((args, accepted))
        return accepted

    gateway._send_exact = recording  # type: ignore[method-assign]
    received: list[tuple[int, str]] = []

    @dramatiq.actor(broker=broker, queue_name="leaf")
    def leaf(count: int, text: str) -> None:
        received.append((count, text))

    @dramatiq.actor(broker=broker, queue_name="fan")
    def fan(count: int) -> None:
        leaf.send(count, "from an actor")

    class Echo(Middleware):
        """Sends on the worker thread, outside any actor call: the full check (and its frame walk) decides."""

        def after_process_message(
            self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
        ) -> None:
            if message.actor_name == "fan":
                leaf.send(-1, "from a hook")

    broker.add_middleware(Echo())
    fan.send(2)
    assert taken == [((2,), True)]  # from this thread, the lane
    taken.clear()
    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    try:
        broker.join("fan")
        broker.join("leaf")
    finally:
        worker.stop()
    assert sorted(received) == [(-1, "from a hook"), (2, "from an actor")]
    assert sorted(taken) == [((-1, "from a hook"), False), ((2, "from an actor"), True)]


@pytest.mark.parametrize("options", [None, [], "x", 0], ids=["none", "list", "str", "zero"])
def test_options_that_are_not_an_object_are_refused_not_enqueued(options: Any) -> None:
    # Before: the hook raised a TypeError (Dramatiq logs it and enqueues) or let [] through.
    lane_broker, _, _ = brokers("def act(p0: int) -> None: ...\n")
    message: Message[Any] = Message(
        queue_name="default", actor_name="act", args=(1,), kwargs={}, options=options
    )
    with pytest.raises(MessageMalformed) as caught:
        lane_broker.enqueue(message)
    assert [(v.path, v.hint) for v in caught.value.violations] == [("options", "an object")]
    assert lane_broker.queues["default"].qsize() == 0


def test_on_redis_the_lane_takes_a_plain_send_and_the_worker_runs_it(redis_client: Any) -> None:
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(client=redis_client, namespace="psend-exact")
    gateway = PayloadGateway()
    broker.add_middleware(gateway)
    taken: list[bool] = []
    send_exact = gateway._send_exact

    def recording(*args: Any) -> bool:
        accepted = send_exact(*args)
        taken.append(accepted)
        return accepted

    gateway._send_exact = recording  # type: ignore[method-assign]
    received: list[tuple[Any, ...]] = []

    @dramatiq.actor(broker=broker)
    def notify(user_id: int, name: str, score: float, urgent: bool = False) -> None:
        received.append((user_id, name, score, urgent))

    notify.send(7, "ann", 0.5)
    notify.send(user_id=8, urgent=True, score=-1.0, name="bob")
    assert taken == [True, True]  # RedisBroker's redis_message_id is the only option
    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    try:
        broker.join("default")
    finally:
        worker.stop()
        broker.close()
    assert sorted(received) == [(7, "ann", 0.5, False), (8, "bob", -1.0, True)]
    assert [tuple(map(type, values)) for values in received] == [(int, str, float, bool)] * 2


def test_an_unhashable_actor_name_is_refused_not_enqueued() -> None:
    lane_broker, _, _ = brokers("def act(p0: int) -> None: ...\n")
    message: Message[Any] = Message(
        queue_name="default", actor_name=["act"], args=(1,), kwargs={}, options={}
    )  # type: ignore[arg-type]
    with pytest.raises(PayloadRejected):
        lane_broker.enqueue(message)
    assert lane_broker.queues["default"].qsize() == 0


def test_options_of_a_dict_subclass_are_refused_as_not_plain_json_as_before() -> None:
    lane_broker, _, _ = brokers("def act(p0: int) -> None: ...\n")
    options = collections.OrderedDict(max_retries=2)
    message: Message[Any] = Message(
        queue_name="default", actor_name="act", args=(1,), kwargs={}, options=options
    )
    with pytest.raises(NonJSONPayload) as caught:
        lane_broker.enqueue(message)
    assert [v.path for v in caught.value.violations] == ["options"]
    assert "dict(value)" in caught.value.violations[0].hint
    assert lane_broker.queues["default"].qsize() == 0
