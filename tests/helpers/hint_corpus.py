"""The hint corpus: one row per kind of type hint real Dramatiq apps declare, and a few dozen adversarial ones.

Each row is a hint, a hypothesis strategy of valid Python values for it (what
a user passes to ``send()``), and for a hint the contract refuses, the words
the declare-time reason must contain instead. ``tests/interop/test_hint_corpus.py``
drives every row through the real gateway and a real worker.

No ``from __future__ import annotations``: the hints below are evaluated.
"""

# Optional[...] and Union[...] are spelled out on purpose: they are hint kinds of their own.
# ruff: noqa: UP007, UP045

import collections
import dataclasses
import datetime as dt
import enum
import ipaddress
import pathlib
import typing
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, NamedTuple, NewType, Optional, TypeVar, Union

import msgspec
import pydantic
import pydantic_core
import typing_extensions
from hypothesis import strategies as st
from pydantic import (
    AfterValidator,
    AliasChoices,
    AliasPath,
    AnyUrl,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    InstanceOf,
    Json,
    PlainSerializer,
    RootModel,
    SecretBytes,
    SecretStr,
    WrapSerializer,
    computed_field,
    field_serializer,
    model_serializer,
)
from pydantic.alias_generators import to_camel

from actorschema.formats import URI_PATTERN
from actorschema.hints import BASE64_READABLE

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Row:
    """One hint of the corpus.

    Parameters:
      id: A short name for test ids.
      hint: The parameter's type hint.
      values: Valid Python values for it; None for a refused hint.
      refused: For a refused hint: words its declare-time reason must contain.
    """

    id: str
    hint: Any
    values: st.SearchStrategy[Any] | None = None
    refused: str | None = None


# -- strategies ----------------------------------------------------------------------------------

ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
floats = st.floats(allow_nan=False, allow_infinity=False)
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
#: URL texts of every shape the published ``uri`` pattern accepts (pydantic reads each one).
URI_TEXTS = st.from_regex(URI_PATTERN)
keys = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=5)
offsets = st.sampled_from(
    [dt.UTC, dt.timezone(dt.timedelta(hours=2)), dt.timezone(-dt.timedelta(hours=5, minutes=30))]
)
aware = st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=offsets)
aware_times = st.times(timezones=offsets)
timedeltas = st.timedeltas(min_value=dt.timedelta(days=-10_000), max_value=dt.timedelta(days=10_000))
json_leaves = st.none() | st.booleans() | ints | floats | text
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=8,
)


class Color(str, enum.Enum):
    RED = "red"
    GREEN = "green"


class Priority(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Shape(enum.Enum):
    SQUARE = "square"
    CIRCLE = 2


class Perm(enum.Flag):
    R = 1
    W = 2
    X = 4


class Bits(enum.IntFlag):
    A = 1
    B = 2


Wide = enum.Flag("Wide", [f"F{index}" for index in range(12)])  # 4096 combinations
UserId = NewType("UserId", int)


class Item(BaseModel):
    sku: str
    qty: Annotated[int, Field(ge=1)]


class Order(BaseModel):
    id: uuid.UUID
    placed_at: dt.datetime
    items: list[Item]
    note: str | None = None


class Tree(BaseModel):
    value: int
    children: list["Tree"] = []


class Box(BaseModel, Generic[T]):
    content: T


class Numbers(RootModel[list[int]]):
    pass


class Cat(BaseModel):
    kind: Literal["cat"] = "cat"
    lives: int = 9


class Dog(BaseModel):
    kind: Literal["dog"] = "dog"
    good: bool = True


Pet = Annotated[Cat | Dog, Field(discriminator="kind")]


class WithComputed(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: int
    height: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def area(self) -> int:
        return self.width * self.height


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str


class Ignoring(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


class Aliased(BaseModel):
    user_id: int = Field(alias="userId")


class CamelCase(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)
    first_name: str
    last_login: dt.datetime | None = None


class AliasByChoices(BaseModel):
    user_id: int = Field(validation_alias=AliasChoices("userId", "uid"), serialization_alias="userId")


class WithBytes(BaseModel):
    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")
    blob: bytes
    name: str = ""


class WithAny(BaseModel):
    data: Any
    extra: dict[str, Any] = {}


class WithJson(BaseModel):
    payload: Json[list[int]]


class Lowered(BaseModel):
    email: Annotated[str, AfterValidator(str.lower)]


class WithSecret(BaseModel):
    password: SecretStr


class WithSerializer(BaseModel):
    when: dt.datetime

    @field_serializer("when")
    def as_timestamp(self, value: dt.datetime) -> float:
        return value.timestamp()


class WithModelSerializer(BaseModel):
    x: int

    @model_serializer
    def dump(self) -> dict[str, Any]:
        return {"y": self.x}


class WithExcluded(BaseModel):
    token: str = Field(exclude=True)
    name: str


class ValidationAliasOnly(BaseModel):
    user_id: int = Field(validation_alias="userId")


class ThroughPath(BaseModel):
    user_id: int = Field(validation_alias=AliasPath("user", "id"))


class TextBytes(BaseModel):
    blob: bytes


@dataclasses.dataclass
class Point:
    x: int
    y: float


@dataclasses.dataclass
class Tagged:
    label: str
    meta: Any = None


@pydantic.dataclasses.dataclass
class PydanticPoint:
    x: int
    at: dt.datetime


@dataclasses.dataclass
class Segment:
    start: Point
    end: Point


class Movie(typing_extensions.TypedDict):
    title: str
    year: int


class Partial(typing_extensions.TypedDict, total=False):
    title: str
    year: int


class Mixed(typing_extensions.TypedDict):
    title: typing_extensions.Required[str]
    year: typing_extensions.NotRequired[int]


class StdMovie(typing.TypedDict):
    title: str
    year: int


class StdNested(typing.TypedDict):
    movie: StdMovie
    rating: float


class LooseDict(typing_extensions.TypedDict):
    name: str
    value: Any


class Pair(NamedTuple):
    left: int
    right: str


class Stamp(NamedTuple):
    at: dt.datetime
    label: str = ""


class Struct(msgspec.Struct):
    name: str
    count: int = 0


class StructWhen(msgspec.Struct):
    at: dt.datetime
    day: dt.date
    id: uuid.UUID


class Stamped(msgspec.Struct, tag=True):
    at: dt.datetime


class Unstamped(msgspec.Struct, tag=True):
    note: str


class StructDatetimes(msgspec.Struct):
    """A datetime in every place of a Struct: msgspec's own schema calls each one any text."""

    maybe: Optional[dt.datetime]
    many: list[dt.datetime]
    by_name: dict[str, dt.datetime]
    inner: StructWhen
    either: Union[Stamped, Unstamped]


class StructOuter(msgspec.Struct):
    inner: Struct
    tags: list[str] = []
    maybe: int | None = None


class StructFloat(msgspec.Struct):
    ratio: float
    meta: Any = None


class Circle(msgspec.Struct, tag=True):
    radius: float


class Square(msgspec.Struct, tag=True):
    side: float


class Left(msgspec.Struct):
    value: int


class Right(msgspec.Struct):
    value: int
    note: str = ""


class StructBytes(msgspec.Struct):
    blob: bytes


class StructDecimal(msgspec.Struct):
    price: Decimal


class StructLoop(msgspec.Struct):
    next: Optional["StructLoop"] = None


class StructArray(msgspec.Struct, array_like=True):
    x: int


class Opaque:
    """A custom type with a validator and no JSON Schema: no worker could check a message for it."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> pydantic_core.CoreSchema:
        return pydantic_core.core_schema.no_info_plain_validator_function(lambda value: value)


class Handle:
    pass


# -- near misses of a stored value ------------------------------------------------------------


def places(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], bool]]:
    """Every place in a JSON value: (path, is a key), the value itself first."""
    found: list[tuple[tuple[Any, ...], bool]] = [(path, False)]
    if isinstance(value, dict):
        for key, item in value.items():
            found.append(((*path, key), True))
            found.extend(places(item, (*path, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(places(item, (*path, index)))
    return found


def changed(value: Any, path: tuple[Any, ...], is_key: bool, new: Any) -> Any:
    """``value`` with the value (or the key) at ``path`` replaced by ``new``."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, list):
        return [changed(item, rest, is_key, new) if i == head else item for i, item in enumerate(value)]
    if not rest and is_key:
        return {(str(new) if k == head else k): item for k, item in value.items()}
    return {k: changed(item, rest, is_key, new) if k == head else item for k, item in value.items()}


NEAR_MISSES = st.sampled_from(
    ["01", "+1", "1.0", "1e3", "", "TRUE", "ftp://x.org/", "http://", "P1Y", "-PT1S", "8", "a@B", "NaN", " 1"]
)


def mutated(
    wire: st.SearchStrategy[Any], replacements: st.SearchStrategy[Any] | None = None
) -> st.SearchStrategy[Any]:
    """A stored value with one value or key replaced: the near misses a producer in another language sends.

    Parameters:
      wire: Stored values.
      replacements: What may take one place's value; by default any JSON, near misses and integers.
    """
    new = json_values | NEAR_MISSES | st.integers() if replacements is None else replacements

    def one_change(value: Any) -> st.SearchStrategy[Any]:
        return st.tuples(st.sampled_from(places(value)), new).map(
            lambda choice: changed(value, choice[0][0], choice[0][1], choice[1])
        )

    return wire.flatmap(one_change)


def models(cls: type, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.builds(cls, **fields)


items = st.builds(Item, sku=text, qty=st.integers(min_value=1, max_value=10**6))
orders = st.builds(
    Order, id=st.uuids(), placed_at=aware, items=st.lists(items, max_size=3), note=st.none() | text
)
trees = st.recursive(
    st.builds(Tree, value=ints),
    lambda inner: st.builds(Tree, value=ints, children=st.lists(inner, max_size=3)),
    max_leaves=6,
)
points = st.builds(Point, x=ints, y=floats)
structs = st.builds(Struct, name=text, count=ints)


def bytes_row(row_id: str, hint: Any, values: st.SearchStrategy[Any]) -> Row:
    """bytes travel as base64url where pydantic can read them back (val_json_bytes); else they are refused."""
    if BASE64_READABLE:
        return Row(row_id, hint, values)
    return Row(row_id, hint, refused="reads bytes from JSON as UTF-8 text only")


ROWS: list[Row] = [
    # -- scalars
    Row("int", int, ints),
    Row("float", float, floats),
    Row("str", str, text),
    Row("bool", bool, st.booleans()),
    Row("none", type(None), st.none()),
    Row("optional-int", Optional[int], st.none() | ints),
    Row("int-or-str", Union[int, str], ints | text),
    Row("literal-str", Literal["a", "b"], st.sampled_from(["a", "b"])),
    Row("literal-int", Literal[1, 2], st.sampled_from([1, 2])),
    Row("constrained-int", Annotated[int, Field(ge=1, le=100)], st.integers(1, 100)),
    Row(
        "constrained-str",
        Annotated[str, Field(min_length=1, max_length=5)],
        st.text("abc", min_size=1, max_size=5),
    ),
    Row("newtype", UserId, ints.map(UserId)),
    Row("decimal", Decimal, st.decimals(allow_nan=False, allow_infinity=False, places=3)),
    Row(
        "decimal-range",
        Annotated[Decimal, Field(ge=Decimal("0.01"), le=10000)],
        st.decimals(min_value=Decimal("0.01"), max_value=10000, allow_nan=False),
    ),
    Row(
        "decimal-negative-range",
        Annotated[Decimal, Field(gt=Decimal("-1E+5"), lt=Decimal("-0.5"))],
        st.decimals(min_value=Decimal("-99999.99"), max_value=Decimal("-0.51"), places=2),
    ),
    Row(
        "decimal-multiple",
        Annotated[Decimal, Field(multiple_of=Decimal("0.01"), ge=0)],
        st.decimals(min_value=0, max_value=10**9, places=2),
    ),
    Row(
        "decimal-inf-nan",
        Annotated[Decimal, Field(allow_inf_nan=True)],
        # NaN travels too, but is not equal to itself: the round-trip law compares with ==.
        st.decimals(allow_nan=False, allow_infinity=True),
    ),
    Row(
        "decimal-inf-above",
        Annotated[Decimal, Field(allow_inf_nan=True, gt=-1)],
        st.decimals(min_value=Decimal("-0.999"), allow_nan=False, allow_infinity=False)
        | st.just(Decimal("Infinity")),
    ),
    Row(
        "decimal-step",
        Annotated[Decimal, Field(multiple_of=Decimal("0.05"))],
        st.integers(-(10**9), 10**9).map(lambda count: count * Decimal("0.05")),
    ),
    Row("decimal-odd-step", Annotated[Decimal, Field(multiple_of=Decimal("0.03"))], refused="multiple_of"),
    Row("decimal-float-bound", Annotated[Decimal, Field(le=9.99)], refused="le=9.99"),
    Row("datetime", dt.datetime, aware),
    Row("date", dt.date, st.dates()),
    Row("time", dt.time, aware_times),
    Row("timedelta", dt.timedelta, timedeltas),
    Row("uuid", uuid.UUID, st.uuids()),
    bytes_row("bytes", bytes, st.binary(max_size=10)),
    Row("str-enum", Color, st.sampled_from(Color)),
    Row("int-enum", Priority, st.sampled_from(Priority)),
    Row("mixed-enum", Shape, st.sampled_from(Shape)),
    Row("flag", Perm, st.sets(st.sampled_from(list(Perm))).map(lambda s: Perm(sum(m.value for m in s)))),
    Row("int-flag", Bits, st.sets(st.sampled_from(list(Bits))).map(lambda s: Bits(sum(m.value for m in s)))),
    Row(
        "path", pathlib.PurePosixPath, st.sampled_from(["a", "a/b", "/tmp/x.png"]).map(pathlib.PurePosixPath)
    ),
    Row(
        "http-url",
        HttpUrl,
        st.sampled_from(["http://example.com/", "https://example.com/a?b=1"]).map(HttpUrl)
        | URI_TEXTS.filter(lambda text: text.lower().startswith(("http://", "https://"))).map(HttpUrl),
    ),
    Row(
        "any-url",
        AnyUrl,
        st.sampled_from(["ftp://example.com/x", "https://example.com/"]).map(AnyUrl) | URI_TEXTS.map(AnyUrl),
    ),
    Row("ipv4", ipaddress.IPv4Address, st.ip_addresses(v=4)),
    # -- containers
    Row("list-int", list[int], st.lists(ints, max_size=4)),
    Row("list-str", list[str], st.lists(text, max_size=4)),
    Row("list-datetime", list[dt.datetime], st.lists(aware, max_size=3)),
    Row("list-float", list[float], st.lists(floats, max_size=4)),
    Row("set-int", set[int], st.sets(ints, max_size=4)),
    Row("frozenset-str", frozenset[str], st.frozensets(text, max_size=4)),
    Row("tuple-pair", tuple[int, str], st.tuples(ints, text)),
    Row("tuple-var", tuple[int, ...], st.lists(ints, max_size=4).map(tuple)),
    Row("deque", collections.deque[int], st.lists(ints, max_size=3).map(collections.deque)),
    Row("sequence", Sequence[int], st.lists(ints, max_size=3)),
    Row("mapping", Mapping[str, int], st.dictionaries(keys, ints, max_size=3)),
    Row("dict-str-int", dict[str, int], st.dictionaries(keys, ints, max_size=3)),
    Row("dict-int-str", dict[int, str], st.dictionaries(ints, text, max_size=3)),
    Row("dict-float-int", dict[float, int], st.dictionaries(floats, ints, max_size=3)),
    Row("dict-bool-int", dict[bool, int], st.dictionaries(st.booleans(), ints, max_size=2)),
    Row(
        "dict-intenum-str", dict[Priority, str], st.dictionaries(st.sampled_from(Priority), text, max_size=2)
    ),
    Row("dict-strenum-int", dict[Color, int], st.dictionaries(st.sampled_from(Color), ints, max_size=2)),
    Row("dict-datetime-int", dict[dt.datetime, int], st.dictionaries(aware, ints, max_size=2)),
    Row(
        "dict-decimal-int",
        dict[Decimal, int],
        st.dictionaries(st.decimals(allow_nan=False, allow_infinity=False, places=2), ints, max_size=2),
    ),
    Row("dict-date-int", dict[dt.date, int], st.dictionaries(st.dates(), ints, max_size=2)),
    Row("dict-uuid-int", dict[uuid.UUID, int], st.dictionaries(st.uuids(), ints, max_size=2)),
    Row("dict-str-list", dict[str, list[int]], st.dictionaries(keys, st.lists(ints, max_size=2), max_size=2)),
    Row(
        "list-dict-any",
        list[dict[str, Any]],
        st.lists(st.dictionaries(keys, json_values, max_size=2), max_size=2),
    ),
    Row("dict-or-none", Optional[dict], st.none() | st.dictionaries(keys, json_values, max_size=2)),
    Row("any", Any, json_values),
    # -- pydantic models
    Row("model", Item, items),
    Row("model-nested", Order, orders),
    Row("model-recursive", Tree, trees),
    Row("model-generic", Box[int], st.builds(Box[int], content=ints)),
    Row("model-generic-model", Box[Item], st.builds(Box[Item], content=items)),
    Row("root-model", Numbers, st.lists(ints, max_size=3).map(Numbers)),
    Row("discriminated", Pet, st.builds(Cat, lives=ints) | st.builds(Dog, good=st.booleans())),
    Row("list-discriminated", list[Pet], st.lists(st.builds(Cat) | st.builds(Dog), max_size=3)),
    Row("computed-field", WithComputed, st.builds(WithComputed, width=ints, height=ints)),
    Row(
        "extra-allow",
        Open,
        st.builds(
            lambda n, e: Open(name=n, **e),
            text,
            st.dictionaries(st.sampled_from(["a", "b"]), json_values, max_size=2),
        ),
    ),
    Row("extra-ignore", Ignoring, st.builds(Ignoring, name=text)),
    Row("extra-forbid", Closed, st.builds(Closed, name=text)),
    Row("alias", Aliased, ints.map(lambda i: Aliased(userId=i))),
    Row("alias-generator", CamelCase, st.builds(CamelCase, first_name=text, last_login=st.none() | aware)),
    Row("alias-choices", AliasByChoices, ints.map(lambda i: AliasByChoices(userId=i))),
    bytes_row("model-bytes", WithBytes, st.builds(WithBytes, blob=st.binary(max_size=10), name=text)),
    Row(
        "model-any",
        WithAny,
        st.builds(WithAny, data=json_values, extra=st.dictionaries(keys, json_values, max_size=2)),
    ),
    Row("model-transforming-validator", Lowered, st.builds(Lowered, email=text)),
    Row("optional-model", Optional[Item], st.none() | items),
    Row("model-or-int", Union[Item, int], items | ints),
    Row("models-union", Union[Item, Tree], items | trees),
    Row("str-or-uuid", Union[str, uuid.UUID], text | st.uuids()),
    Row("datetime-or-int", Union[dt.datetime, int], aware | ints),
    # -- dataclasses, TypedDict, NamedTuple
    Row("dataclass", Point, points),
    Row("dataclass-any", Tagged, st.builds(Tagged, label=text, meta=json_values)),
    Row("dataclass-nested", Segment, st.builds(Segment, start=points, end=points)),
    Row("pydantic-dataclass", PydanticPoint, st.builds(PydanticPoint, x=ints, at=aware)),
    Row("typeddict", Movie, st.fixed_dictionaries({"title": text, "year": ints})),
    Row("typeddict-partial", Partial, st.fixed_dictionaries({}, optional={"title": text, "year": ints})),
    Row("typeddict-required", Mixed, st.fixed_dictionaries({"title": text}, optional={"year": ints})),
    Row("typeddict-stdlib", StdMovie, st.fixed_dictionaries({"title": text, "year": ints})),
    Row(
        "typeddict-stdlib-nested",
        StdNested,
        st.fixed_dictionaries(
            {"movie": st.fixed_dictionaries({"title": text, "year": ints}), "rating": floats}
        ),
    ),
    Row("typeddict-any", LooseDict, st.fixed_dictionaries({"name": text, "value": json_values})),
    Row("namedtuple", Pair, st.builds(Pair, ints, text)),
    Row("namedtuple-datetime", Stamp, st.builds(Stamp, aware, text)),
    # -- msgspec Structs
    Row("struct", Struct, structs),
    Row("struct-times", StructWhen, st.builds(StructWhen, at=aware, day=st.dates(), id=st.uuids())),
    Row(
        "struct-nested",
        StructOuter,
        st.builds(StructOuter, inner=structs, tags=st.lists(text, max_size=2), maybe=st.none() | ints),
    ),
    Row(
        "struct-datetimes",
        StructDatetimes,
        st.builds(
            StructDatetimes,
            maybe=st.none() | aware,
            many=st.lists(aware, max_size=2),
            by_name=st.dictionaries(keys, aware, max_size=2),
            inner=st.builds(StructWhen, at=aware, day=st.dates(), id=st.uuids()),
            either=st.builds(Stamped, at=aware) | st.builds(Unstamped, note=text),
        ),
    ),
    Row("struct-float-any", StructFloat, st.builds(StructFloat, ratio=floats, meta=json_values)),
    Row("list-struct", list[Struct], st.lists(structs, max_size=3)),
    Row(
        "struct-tagged-union",
        Union[Circle, Square],
        st.builds(Circle, radius=floats) | st.builds(Square, side=floats),
    ),
    Row("optional-struct", Optional[Struct], st.none() | structs),
    # -- refused at declare time, with the reason
    Row("secret-str", SecretStr, refused="mask"),
    Row("secret-bytes", SecretBytes, refused="mask"),
    Row("model-secret", WithSecret, refused="WithSecret.password is a secret type"),
    Row("field-serializer", WithSerializer, refused="WithSerializer.when has a field_serializer"),
    Row("model-serializer", WithModelSerializer, refused="model_serializer"),
    Row("plain-serializer", Annotated[int, PlainSerializer(str)], refused="PlainSerializer"),
    Row("wrap-serializer", Annotated[int, WrapSerializer(lambda v, h: h(v))], refused="WrapSerializer"),
    Row("excluded-field", WithExcluded, refused="WithExcluded.token is excluded"),
    Row(
        "validation-alias-only",
        ValidationAliasOnly,
        refused="written as 'user_id' but read (and published) as 'userId'",
    ),
    Row("alias-path", ThroughPath, refused="AliasPath"),
    Row(
        "model-text-bytes",
        TextBytes,
        refused="TextBytes.blob travels as UTF-8 text" if BASE64_READABLE else "TextBytes.blob cannot travel",
    ),
    Row("iterable", Iterable[int], refused="one-shot iterator"),
    Row("dict-tuple-keys", dict[tuple[int, int], str], refused="keys do not survive as JSON object keys"),
    Row("dict-literal-int-keys", dict[Literal[1, 2], str], refused="keys travel as text"),
    Row("dict-flag-keys", dict[Perm, str], refused="Perm keys travel as text"),
    Row("dict-intflag-keys", dict[Bits, int], refused="Bits keys travel as text"),
    Row("dict-mixed-enum-keys", dict[Shape, str], refused="Shape keys travel as text"),
    Row("flag-too-wide", Wide, refused="combinations"),
    Row("model-json", WithJson, refused="WithJson.payload is JSON text inside JSON"),
    Row("json-text", Json[list[int]], refused="the parsed type itself"),
    Row("struct-bytes", StructBytes, refused="StructBytes.blob is a Bytes inside a msgspec Struct"),
    Row("struct-decimal", StructDecimal, refused="StructDecimal.price is a Decimal"),
    Row("struct-recursive", StructLoop, refused="recursive msgspec Struct"),
    Row("struct-untagged-union", Union[Left, Right], refused="untagged msgspec Structs Left, Right"),
    Row("struct-array-like", StructArray, refused="array_like"),
    Row("no-json-schema", Opaque, refused="has no JSON Schema"),
    Row("list-no-json-schema", list[Opaque], refused="has no JSON Schema"),
    Row("callable", Callable[[int], int], refused="has no JSON Schema"),
    Row("instance-of", InstanceOf[Handle], refused="has no JSON Schema"),
]
