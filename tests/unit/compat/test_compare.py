"""actorschema.compat: schema compatibility between two versions of an app's actors.

Every case of the table is a real signature change: the old and the new
actor are Python functions (and pydantic models), their schemas are made by
the project's own generator (``export.render``), written to a folder and read
back with ``load_folder``. json-schema-diff (Node, draft-07) is an independent
oracle on the cases it can express; ``git:REF:path`` is read from a scratch
repository; Hypothesis checks the symmetries on generated schemas.
"""

from __future__ import annotations

import copy
import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from helpers.generated import Spec, generate
from helpers.node import NODE_DIR, run_oracle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict, Field

from actorschema.compat import RULES, Change, breaking, diff, diff_transitive, load_folder

HERE = Path(__file__).parent
ORACLE = HERE / "compat_cases" / "oracle.cjs"

# --------------------------------------------------------------------------- the actors


class Color2(str, enum.Enum):
    RED = "red"
    BLUE = "blue"


class Color3(str, enum.Enum):
    RED = "red"
    BLUE = "blue"
    GREEN = "green"


class Item(BaseModel):  # open: pydantic's default (extra='ignore'), no additionalProperties
    sku: str


class ItemWithOptional(BaseModel):
    sku: str
    quantity: int = 1


class ItemWithRequired(BaseModel):
    sku: str
    quantity: int


class ClosedItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str


class ClosedItemWithOptional(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: str
    quantity: int = 1


class LineV1(BaseModel):
    sku: str
    quantity: int = Field(ge=1, le=1000)


class LineV2(BaseModel):
    sku: str
    quantity: int = Field(ge=2, le=1000)


class OrderV1(BaseModel):
    customer_id: int
    items: list[LineV1] = Field(min_length=1)


class OrderV2(BaseModel):
    customer_id: int
    items: list[LineV2] = Field(min_length=1)


def one(order_id: int) -> None: ...
def one_optional(order_id: int, note: str = "") -> None: ...
def one_required(order_id: int, note: str) -> None: ...
def renamed(order: int) -> None: ...
def one_defaulted(order_id: int = 0) -> None: ...
def one_kwargs(order_id: int, **extra: Any) -> None: ...
def x_int(x: int) -> None: ...
def x_float(x: float) -> None: ...
def x_str(x: str) -> None: ...
def x_literal_ab(x: Literal["a", "b"]) -> None: ...
def x_literal_abc(x: Literal["a", "b", "c"]) -> None: ...
def x_color2(x: Color2) -> None: ...
def x_color3(x: Color3) -> None: ...
def x_optional(x: int | None) -> None: ...
def x_optional_none(x: int | None = None) -> None: ...
def x_int_or_str(x: int | str) -> None: ...
def x_list_int(x: list[int]) -> None: ...
def x_list_int_str(x: list[int | str]) -> None: ...
def x_ge0(x: Annotated[int, Field(ge=0)]) -> None: ...
def x_ge1(x: Annotated[int, Field(ge=1)]) -> None: ...
def x_max10(x: Annotated[str, Field(max_length=10)]) -> None: ...
def x_max20(x: Annotated[str, Field(max_length=20)]) -> None: ...
def q80(quality: int = 80) -> None: ...
def q90(quality: int = 90) -> None: ...
def item(item: Item) -> None: ...
def item_optional(item: ItemWithOptional) -> None: ...
def item_required(item: ItemWithRequired) -> None: ...
def closed(item: ClosedItem) -> None: ...
def closed_optional(item: ClosedItemWithOptional) -> None: ...
def order_v1(order: OrderV1) -> None: ...
def order_v2(order: OrderV2) -> None: ...
def positional_int(a: int, /) -> None: ...
def positional_float(a: float, /) -> None: ...


@dataclass(frozen=True)
class Case:
    """One signature change and what the compatibility check must say about it.

    ``oracle``: json-schema-diff can express it (kwargs sub-schema only, keywords it supports).
    """

    id: str
    old: dict[str, Spec]
    new: dict[str, Spec]
    rules: frozenset[str]
    backward: bool  # does it break backward?
    forward: bool
    path: str | None = None
    oracle: bool = False


def case(
    id: str, old: Spec | dict[str, Spec], new: Spec | dict[str, Spec], rules: str, verdict: str, **kw: Any
) -> Case:
    """``verdict``: which modes break, "backward", "forward", "both" or "none"."""
    as_dict = [spec if isinstance(spec, dict) else {"task": spec} for spec in (old, new)]
    back, fwd = verdict in ("backward", "both"), verdict in ("forward", "both")
    return Case(id, as_dict[0], as_dict[1], frozenset(rules.split()), back, fwd, **kw)


CASES = [
    case("unchanged", one, one, "", "none", oracle=True),
    case(
        "parameter added with default", one, one_optional, "PARAMETER_ADDED_OPTIONAL", "forward", oracle=True
    ),
    case("parameter added, required", one, one_required, "PARAMETER_ADDED_REQUIRED", "both", oracle=True),
    case("parameter with default removed", one_optional, one, "PARAMETER_REMOVED", "backward", oracle=True),
    case("required parameter removed", one_required, one, "PARAMETER_REMOVED", "both", oracle=True),
    case(
        "parameter renamed", one, renamed, "PARAMETER_REMOVED PARAMETER_ADDED_REQUIRED", "both", oracle=True
    ),
    case("parameter gains a default", one, one_defaulted, "REQUIRED_REMOVED", "forward", oracle=True),
    case("parameter loses its default", one_defaulted, one, "REQUIRED_ADDED", "backward", oracle=True),
    case("int -> float", x_int, x_float, "TYPE_WIDENED", "forward", path="kwargs.x", oracle=True),
    case("float -> int", x_float, x_int, "TYPE_NARROWED", "backward", path="kwargs.x", oracle=True),
    case("str -> int", x_str, x_int, "TYPE_CHANGED", "both", oracle=True),
    case("str -> Literal", x_str, x_literal_ab, "TYPE_NARROWED", "backward"),
    case("Literal -> str", x_literal_ab, x_str, "TYPE_WIDENED", "forward"),
    case("Literal value added", x_literal_ab, x_literal_abc, "ENUM_VALUE_ADDED", "forward"),
    case("Literal value removed", x_literal_abc, x_literal_ab, "ENUM_VALUE_REMOVED", "backward"),
    case("Enum member added", x_color2, x_color3, "ENUM_VALUE_ADDED", "forward", path="kwargs.x"),
    case("Enum member removed", x_color3, x_color2, "ENUM_VALUE_REMOVED", "backward", path="kwargs.x"),
    case("Optional added", x_int, x_optional, "TYPE_WIDENED", "forward", oracle=True),
    case("Optional removed", x_optional, x_int, "TYPE_NARROWED", "backward", oracle=True),
    case(
        "Optional = None added",
        x_int,
        x_optional_none,
        "TYPE_WIDENED REQUIRED_REMOVED",
        "forward",
        oracle=True,
    ),
    case("union member removed", x_int_or_str, x_int, "TYPE_NARROWED", "backward", oracle=True),
    case("union member added", x_int, x_int_or_str, "TYPE_WIDENED", "forward", oracle=True),
    case(
        "list[int] -> list[int | str]",
        x_list_int,
        x_list_int_str,
        "TYPE_WIDENED",
        "forward",
        path="kwargs.x[]",
        oracle=True,
    ),
    case(
        "open model: optional field added",
        item,
        item_optional,
        "FIELD_ADDED_OPTIONAL",
        "backward",
        path="kwargs.item.quantity",
        oracle=True,
    ),
    case(
        "open model: required field added",
        item,
        item_required,
        "FIELD_ADDED_REQUIRED",
        "backward",
        oracle=True,
    ),
    case("open model: optional field removed", item_optional, item, "FIELD_REMOVED", "forward", oracle=True),
    case("open model: required field removed", item_required, item, "FIELD_REMOVED", "forward", oracle=True),
    case(
        "closed model: optional field added",
        closed,
        closed_optional,
        "FIELD_ADDED_OPTIONAL",
        "forward",
        oracle=True,
    ),
    case(
        "closed model: optional field removed",
        closed_optional,
        closed,
        "FIELD_REMOVED",
        "backward",
        oracle=True,
    ),
    case(
        "model opened (extra='forbid' dropped)",
        closed,
        item,
        "CONTENT_OPENED",
        "forward",
        path="kwargs.item",
        oracle=True,
    ),
    case("model closed (extra='forbid' added)", item, closed, "CONTENT_CLOSED", "backward", oracle=True),
    case("Field(ge=0) -> Field(ge=1)", x_ge0, x_ge1, "CONSTRAINT_TIGHTENED", "backward", oracle=True),
    case("Field(ge=1) -> Field(ge=0)", x_ge1, x_ge0, "CONSTRAINT_LOOSENED", "forward", oracle=True),
    case("max_length 10 -> 20", x_max10, x_max20, "CONSTRAINT_LOOSENED", "forward", oracle=True),
    case("max_length 20 -> 10", x_max20, x_max10, "CONSTRAINT_TIGHTENED", "backward", oracle=True),
    case(
        "nested: items[].quantity ge 1 -> 2",
        order_v1,
        order_v2,
        "CONSTRAINT_TIGHTENED",
        "backward",
        path="kwargs.order.items[].quantity",
        oracle=True,
    ),
    case("**kwargs added", one, one_kwargs, "CONTENT_OPENED", "forward", path="kwargs", oracle=True),
    case("**kwargs removed", one_kwargs, one, "CONTENT_CLOSED", "backward", path="kwargs", oracle=True),
    case("default changed", q80, q90, "DEFAULT_CHANGED", "none", path="kwargs.quality", oracle=True),
    case(
        "positional-only int -> float",
        positional_int,
        positional_float,
        "TYPE_WIDENED",
        "forward",
        path="args[0]",
    ),
    case("queue changed", (one, {"queue_name": "a"}), (one, {"queue_name": "b"}), "QUEUE_CHANGED", "both"),
    case("actor removed", {"task": one, "other": x_int}, {"task": one}, "ACTOR_REMOVED", "backward"),
    case("actor added", {"task": one}, {"task": one, "other": x_int}, "ACTOR_ADDED", "none"),
    case(
        "max_message_bytes lowered",
        (one, {"max_message_bytes": 4096}),
        (one, {"max_message_bytes": 1024}),
        "SIZE_LIMIT_LOWERED",
        "backward",
    ),
    case(
        "max_message_bytes raised",
        (one, {"max_message_bytes": 1024}),
        (one, {"max_message_bytes": 4096}),
        "SIZE_LIMIT_RAISED",
        "forward",
    ),
    case(
        "per-actor limit set under the global one",
        one,
        (one, {"max_message_bytes": 1024}),
        "SIZE_LIMIT_LOWERED",
        "backward",
    ),
]


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Each case's old and new folder, generated once for the module."""
    root = tmp_path_factory.mktemp("compat")
    built = {}
    for number, c in enumerate(CASES):
        built[c.id] = (generate(c.old, root / f"{number}-old"), generate(c.new, root / f"{number}-new"))
    return built


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 25
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("c", CASES, ids=[c.id for c in CASES])
def test_signature_change(c: Case, folders: dict[str, tuple[dict[str, Any], dict[str, Any]]]) -> None:
    old, new = folders[c.id]
    changes = diff(old, new)
    assert {change.rule for change in changes} == c.rules, [str(x) for x in changes]
    assert bool(breaking(changes, "backward")) is c.backward, [str(x) for x in changes]
    assert bool(breaking(changes, "forward")) is c.forward, [str(x) for x in changes]
    assert bool(breaking(changes, "full")) is (c.backward or c.forward)
    if c.path is not None:
        assert {change.path for change in changes} == {c.path}
    for change in changes:
        assert change.rule in RULES
        assert change.actor in old.keys() | new.keys()
        assert change.breaks <= {"backward", "forward"}
        assert change.detail


#: A removed actor breaks backward and an added one nothing (by decision): not mirror images.
ASYMMETRIC = ("actor added", "actor removed")
SYMMETRIC_CASES = [c for c in CASES if c.id not in ASYMMETRIC]


@pytest.mark.parametrize("c", SYMMETRIC_CASES, ids=[c.id for c in SYMMETRIC_CASES])
def test_the_reverse_change_swaps_backward_and_forward(
    c: Case, folders: dict[str, tuple[dict[str, Any], dict[str, Any]]]
) -> None:
    old, new = folders[c.id]
    reverse = diff(new, old)
    assert bool(breaking(reverse, "backward")) is c.forward
    assert bool(breaking(reverse, "forward")) is c.backward


# --------------------------------------------------------------------------- json-schema-diff


#: What json-schema-diff 1.0 cannot express (KEYWORDS.md): enum, const, format, pattern, the array
#: form of items (prefixItems), if/then; and it sees a schema, not the index (queue, size limit, actors).
NOT_EXPRESSIBLE = {
    "str -> Literal": "enum",
    "Literal -> str": "enum",
    "Literal value added": "enum",
    "Literal value removed": "enum",
    "Enum member added": "enum",
    "Enum member removed": "enum",
    "positional-only int -> float": "prefixItems (args) has no draft-07 form json-schema-diff reads",
    "queue changed": "the queue is in the index, and the queue_name enum",
    "actor removed": "a whole actor",
    "actor added": "a whole actor",
    "max_message_bytes lowered": "size limits are not JSON Schema",
    "max_message_bytes raised": "size limits are not JSON Schema",
    "per-actor limit set under the global one": "size limits are not JSON Schema",
}
_UNSUPPORTED = {"title", "description", "default", "$comment", "format", "pattern", "examples"}


def draft07_kwargs(schema: dict[str, Any]) -> Any:
    """The kwargs sub-schema, refs inlined, without what json-schema-diff does not read (all annotations)."""
    definitions = schema.get("$defs", {})

    def convert(node: Any) -> Any:
        if isinstance(node, list):
            return [convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            target = definitions[node["$ref"].removeprefix("#/$defs/")]
            rest = {k: v for k, v in node.items() if k != "$ref"}
            return convert({**target, **rest})
        assert "prefixItems" not in node and "enum" not in node and "const" not in node
        return {
            key: (
                {name: convert(value) for name, value in sub.items()} if key == "properties" else convert(sub)
            )
            for key, sub in node.items()
            if key not in _UNSUPPORTED
        }

    return convert(schema["properties"]["kwargs"])


@pytest.mark.node
def test_json_schema_diff_agrees(folders: dict[str, tuple[dict[str, Any], dict[str, Any]]]) -> None:
    assert {c.id for c in CASES if not c.oracle} == NOT_EXPRESSIBLE.keys()
    pairs = []
    for c in CASES:
        if c.oracle:
            old, new = folders[c.id]
            pairs.append(
                {
                    "id": c.id,
                    "old": draft07_kwargs(old["task"]["schema"]),
                    "new": draft07_kwargs(new["task"]["schema"]),
                }
            )
    verdicts = run_oracle(ORACLE, pairs, package="json-schema-diff", args=[str(NODE_DIR)], timeout=60)
    disagreements = []
    for c in CASES:
        if not c.oracle:
            continue
        old, new = folders[c.id]
        changes = [change for change in diff(old, new) if change.path.startswith("kwargs")]
        ours = {
            "removals": bool(breaking(changes, "backward")),
            "additions": bool(breaking(changes, "forward")),
        }
        if verdicts[c.id] != ours:
            disagreements.append((c.id, verdicts[c.id], ours))
    assert not disagreements
    assert len(pairs) >= 25


# --------------------------------------------------------------------------- whole folders


def test_the_example_app_against_itself_and_a_later_version() -> None:
    shop = load_folder(str(HERE.parents[2] / "schemas"))
    assert diff(shop, shop) == []
    later = copy.deepcopy(shop)
    line = later["place_order"]["schema"]["$defs"]["LineItem"]["properties"]
    line["quantity"]["maximum"] = 100
    later["place_order"]["schema"]["$defs"]["Currency"]["enum"].append("GBP")
    changes = diff(shop, later)
    assert [(c.rule, c.path, c.breaks) for c in changes] == [
        ("ENUM_VALUE_ADDED", "kwargs.order.currency", frozenset({"forward"})),
        ("CONSTRAINT_TIGHTENED", "kwargs.order.items[].quantity", frozenset({"backward"})),
    ]
    assert str(changes[1]) == (
        "place_order: kwargs.order.items[].quantity: CONSTRAINT_TIGHTENED: upper bound <= 1000 -> <= 100 "
        "(breaks backward)"
    )


def test_transitive_checks_every_earlier_version(tmp_path: Path) -> None:
    v1 = generate({"task": x_ge0}, tmp_path / "v1")
    v2 = generate({"task": x_ge1}, tmp_path / "v2")
    v3 = generate({"task": x_ge1}, tmp_path / "v3")
    assert diff(v2, v3) == []
    changes = diff_transitive([v1, v2], v3)
    assert [(c.rule, c.breaks) for c in changes] == [("CONSTRAINT_TIGHTENED", frozenset({"backward"}))]


def test_unclassifiable_constructs_break_both_ways() -> None:
    def folder(kwargs: dict[str, Any]) -> dict[str, Any]:
        return {
            "task": {"queue": "q", "max_message_bytes": None, "schema": {"properties": {"kwargs": kwargs}}}
        }

    cases = [
        ({"type": "object", "not": {"required": ["a"]}}, {"type": "object", "not": {"required": ["b"]}}),
        ({"$ref": "https://example.com/a.json"}, {"type": "object"}),
        ({"type": "string", "pattern": "^a"}, {"type": "string", "pattern": "^b"}),
    ]
    for old, new in cases:
        changes = diff(folder(old), folder(new))
        assert changes and all(c.breaks == {"backward", "forward"} for c in changes), changes


def test_recursive_models_terminate() -> None:
    def folder(leaf: str) -> dict[str, Any]:
        node = {
            "type": "object",
            "properties": {
                "value": {"type": leaf},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
            },
        }
        schema = {"$defs": {"Node": node}, "properties": {"kwargs": {"$ref": "#/$defs/Node"}}}
        return {"task": {"queue": "q", "max_message_bytes": None, "schema": schema}}

    assert diff(folder("integer"), folder("integer")) == []
    changes = diff(folder("integer"), folder("number"))
    assert [(c.rule, c.path) for c in changes] == [("TYPE_WIDENED", "kwargs.value")]


def test_breaking_modes() -> None:
    changes = [
        Change("a", "X", "", "", frozenset({"backward"})),
        Change("a", "Y", "", "", frozenset({"forward"})),
        Change("a", "Z", "", "", frozenset()),
    ]
    assert [c.rule for c in breaking(changes, "backward")] == ["X"]
    assert [c.rule for c in breaking(changes, "forward")] == ["Y"]
    assert [c.rule for c in breaking(changes, "full")] == ["X", "Y"]
    with pytest.raises(ValueError, match="mode must be"):
        breaking(changes, "sideways")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- properties

NAMES = st.sampled_from(["a", "b", "c"])


def _leaf() -> st.SearchStrategy[dict[str, Any]]:
    bound = st.none() | st.integers(-3, 3)
    numeric_keywords = st.dictionaries(
        st.sampled_from(["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"]),
        st.integers(-3, 3) | st.sampled_from([0.5, -1.5]),
        max_size=2,
    )

    def number(kind: str | list[str], keywords: dict[str, Any], multiple: int | None) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": kind, **keywords}
        if multiple is not None:
            schema["multipleOf"] = multiple
        return schema

    def string(low: int | None, high: int | None) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if low is not None and low > 0:
            schema["minLength"] = low
        if high is not None and high >= 0:
            schema["maxLength"] = high
        return schema

    kinds = st.sampled_from(["integer", "number", ["integer", "null"], ["number", "string"]])
    return st.one_of(
        st.sampled_from([{"type": "null"}, {"type": "boolean"}, {}, {"type": ["boolean", "null"]}]),
        st.builds(number, kinds, numeric_keywords, st.none() | st.sampled_from([2, 3])),
        st.builds(string, bound, bound),
        st.lists(st.sampled_from(["x", "y", "z", 1, 2, None]), min_size=1, max_size=3, unique=True).map(
            lambda values: {"enum": values}
        ),
        st.sampled_from(["x", 2, None]).map(lambda value: {"const": value}),
    )


def _compound(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    def obj(properties: dict[str, Any], required: list[str], extra: Any) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        schema["required"] = [name for name in required if name in properties]
        if extra is not None:
            schema["additionalProperties"] = extra
        return schema

    def array(items: Any, prefix: list[Any], max_items: int | None) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "array", "items": items}
        if prefix:
            schema["prefixItems"] = prefix
        if max_items is not None:
            schema["maxItems"] = max_items
        return schema

    return st.one_of(
        st.builds(
            array, children | st.just(False), st.lists(children, max_size=2), st.none() | st.integers(0, 3)
        ),
        st.builds(
            obj,
            st.dictionaries(NAMES, children, max_size=3),
            st.lists(NAMES, max_size=3),
            st.none() | st.just(False) | children,
        ),
        st.lists(children, min_size=2, max_size=3).map(lambda branches: {"anyOf": branches}),
    )


SCHEMAS = st.recursive(_leaf(), _compound, max_leaves=6)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-4, 4)
    | st.sampled_from([0.5, -2.5])
    | st.sampled_from(["", "x", "yy", "zzzz"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(NAMES, children, max_size=3),
    max_leaves=8,
)


def _folder(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {"task": {"queue": "q", "max_message_bytes": None, "schema": {"properties": {"kwargs": kwargs}}}}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SCHEMAS)
def test_a_schema_is_compatible_with_itself(schema: dict[str, Any]) -> None:
    assert diff(_folder(schema), _folder(copy.deepcopy(schema))) == []


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SCHEMAS, SCHEMAS)
def test_a_change_and_its_reverse_swap_backward_and_forward(old: dict[str, Any], new: dict[str, Any]) -> None:
    there, back = diff(_folder(old), _folder(new)), diff(_folder(new), _folder(old))
    assert bool(breaking(there, "backward")) == bool(breaking(back, "forward"))
    assert bool(breaking(there, "forward")) == bool(breaking(back, "backward"))


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SCHEMAS, SCHEMAS, st.lists(JSON, min_size=1, max_size=10))
def test_a_value_one_version_rejects_is_always_reported(
    old: dict[str, Any], new: dict[str, Any], values: list[Any]
) -> None:
    """Soundness against jsonschema: "compatible" is never said of a pair that a value tells apart."""
    changes = diff(_folder(old), _folder(new))
    old_ok, new_ok = Draft202012Validator(old).is_valid, Draft202012Validator(new).is_valid
    for value in values:
        if old_ok(value) and not new_ok(value):
            assert breaking(changes, "backward"), (value, changes)
        if new_ok(value) and not old_ok(value):
            assert breaking(changes, "forward"), (value, changes)
