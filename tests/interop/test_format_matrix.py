"""The string forms (actorschema/formats.py): one verdict under every validator a producer may use.

For each form the schemas constrain (``date-time``, ``date``, ``time``,
``uuid``, a versioned ``uuid``, ``duration``, ``ipv4``, ``ipv6``, and ``uri`` for
``AnyUrl`` and ``HttpUrl``) an actor takes a value of that type, behind a real
:class:`PayloadGateway` on a StubBroker. Every value of an edge corpus, and
values hypothesis builds to sit just beside each form (leap days, month 13,
second 60, offsets without a colon, lower case, ``urn:uuid:``, braces,
whitespace, a trailing newline, fractional seconds, ``Z``/``z``; for URLs each
part, scheme to fragment, from both sides of RFC 3986 and of pydantic's parser),
is judged by the worker's whole consume check and by:

- ``jsonschema`` with its own format checkers asserted, and without a format checker;
- ``jsonschema-rs`` with its own format checks, and in its default (``format`` an annotation);
- ajv 8 with ajv-formats in full and in fast mode, and ajv without formats;
- ``@hyperjump/json-schema`` with format assertion off (its default) and on.

All must agree with the worker on every value, and every value the worker
accepts arrives as the declared type (pydantic's JSON mode reads it), and
reads back to the value it names. Everything the send side writes is accepted
by all of them. The worker's verdict is its whole consume check; a real
Dramatiq Worker, consuming the edge corpus stored raw, runs exactly what that
check accepts. The JavaScript validators judge every value in one Node run
(tests/node/matrix_check.mjs), at the end of the module.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import pathlib
import re
import uuid
from typing import Any

import dramatiq
import jsonschema_rs
import pydantic
import pytest
from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from helpers.format_edges import EDGES, UUID_TEXT
from helpers.node import NODE_DIR, run_ajv, run_oracle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from pydantic import UUID4, UUID7, AnyUrl, FileUrl, HttpUrl, IPvAnyAddress, TypeAdapter, WebsocketUrl

from actorschema import PayloadGateway, PayloadInvalid, PayloadRejected
from actorschema.brokers import StubBroker as GuardedStubBroker
from actorschema.formats import (
    DATE_PATTERN,
    DATE_TIME_PATTERN,
    DURATION_PATTERN,
    FORMAT_CHECKER,
    IPV4_PATTERN,
    PATTERNS,
    TIME_PATTERN,
    URI_PATTERN,
    UUID_PATTERN,
    exact_string_form,
    uuid_pattern,
)
from actorschema.limits import SizeLimit
from actorschema.schema import message_schema

# The whole validator matrix, thousands of values per form: minutes on two cores.
pytestmark = pytest.mark.slow

MATRIX_CHECK = NODE_DIR / "matrix_check.mjs"

#: form -> the hint of the parameter that carries it.
HINTS: dict[str, Any] = {
    "date-time": datetime.datetime,
    "date": datetime.date,
    "time": datetime.time,
    "uuid": uuid.UUID,
    "uuid4": UUID4,
    "duration": datetime.timedelta,
    "ipv4": ipaddress.IPv4Address,
    "ipv6": ipaddress.IPv6Address,
    "uri": AnyUrl,
    "http-url": HttpUrl,
    "file-url": FileUrl,
    "websocket-url": WebsocketUrl,
}

BROKER = StubBroker()
GATEWAY = PayloadGateway()
BROKER.add_middleware(GATEWAY)


def _declare(form: str, hint: Any) -> dramatiq.Actor[Any, Any]:
    def actor(value):  # type: ignore[no-untyped-def]
        return None

    actor.__annotations__ = {"value": hint, "return": None}
    return dramatiq.actor(
        actor, actor_name="takes_" + form.replace("-", "_"), queue_name="forms", broker=BROKER
    )


ACTORS = {form: _declare(form, hint) for form, hint in HINTS.items()}
SCHEMAS = {
    form: message_schema(GATEWAY.contracts[actor.actor_name], SizeLimit(None, "global"))
    for form, actor in ACTORS.items()
}
ADAPTERS = {form: TypeAdapter(hint) for form, hint in HINTS.items()}

# -- near misses: each form's parts, each drawn from just inside and just outside its range -----------

_two = st.integers(0, 99).map(lambda n: f"{n:02d}")
years = st.sampled_from(
    ["0000", "0001", "1900", "2000", "2023", "2024", "2100", "2400", "9999"]
) | st.integers(0, 9999).map(lambda n: f"{n:04d}")
months = st.sampled_from(["00", "01", "02", "04", "12", "13", "1"]) | _two
days = st.sampled_from(["00", "01", "28", "29", "30", "31", "32", "1"]) | _two
hours = st.sampled_from(["00", "23", "24", "1"]) | _two
minutes = st.sampled_from(["00", "59", "60"]) | _two
seconds = st.sampled_from(["00", "59", "60", "61"]) | _two
fractions = st.sampled_from(["", "", ".", ".5", ".123456", ".1234567", ".123456789012", ",5"])
offsets = st.sampled_from(
    [
        "Z",
        "z",
        "+01:00",
        "-01:00",
        "+0100",
        "+01",
        "-00:00",
        "+23:59",
        "+24:00",
        "+12:60",
        "",
        " Z",
        "+01:00:30",
    ]
)
separators = st.sampled_from(["T", "T", "t", " ", "_"])
trailers = st.sampled_from(["", "", "", "\n", " ", "x"])
leaders = st.sampled_from(["", "", "", " ", "+"])

leap_days = st.integers(0, 9999).map(lambda year: f"{year:04d}-02-29")
near_dates = leap_days | st.builds(
    lambda *parts: "".join(parts), leaders, years, st.just("-"), months, st.just("-"), days, trailers
)
near_times = st.builds(
    lambda *parts: "".join(parts),
    hours,
    st.just(":"),
    minutes,
    st.just(":"),
    seconds,
    fractions,
    offsets,
    trailers,
)
near_date_times = st.builds(lambda day, time: f"{day}T{time}", leap_days, near_times) | st.builds(
    lambda *parts: "".join(parts),
    leaders,
    years,
    st.just("-"),
    months,
    st.just("-"),
    days,
    separators,
    hours,
    st.just(":"),
    minutes,
    st.just(":"),
    seconds,
    fractions,
    offsets,
    trailers,
)


def _uuid_text(value: uuid.UUID, case: str, shape: str) -> str:
    text = str(value).upper() if case == "upper" else str(value)
    return {
        "plain": text,
        "hex": text.replace("-", ""),
        "urn": "urn:uuid:" + text,
        "braces": "{" + text + "}",
        "newline": text + "\n",
        "space": " " + text,
        "short": text[:-1],
        "long": text + "a",
        "moved hyphen": text[:8] + text[9] + "-" + text[10:],
    }[shape]


near_uuids = st.builds(
    _uuid_text,
    st.uuids() | st.uuids(version=4) | st.just(uuid.UUID(int=0)),
    st.sampled_from(["lower", "upper"]),
    st.sampled_from(
        ["plain", "plain", "hex", "urn", "braces", "newline", "space", "short", "long", "moved hyphen"]
    ),
)
_duration_numbers = st.sampled_from(
    ["0", "1", "9", "23", "24", "59", "60", "364", "365", "01", "1.5", "2739726"]
)
near_durations = st.builds(
    lambda sign, years_, days_, time_: f"{sign}P{years_}{days_}{time_}",
    st.sampled_from(["", "", "-", "+"]),
    st.sampled_from(["", ""]) | _duration_numbers.map(lambda n: n + "Y"),
    st.sampled_from(["", ""]) | _duration_numbers.map(lambda n: n + "D"),
    st.sampled_from(["", "T"])
    | st.tuples(
        st.sampled_from(["", ""]) | _duration_numbers.map(lambda n: n + "H"),
        st.sampled_from(["", ""]) | _duration_numbers.map(lambda n: n + "M"),
        st.sampled_from(["", "0.000001S", "59.999999S", "1.1234567S"])
        | _duration_numbers.map(lambda n: n + "S"),
    ).map(lambda parts: "T" + "".join(parts)),
) | st.timedeltas().map(lambda value: json.loads(ADAPTERS["duration"].dump_json(value)))
_octets = st.sampled_from(["0", "1", "01", "99", "199", "255", "256", "300"]) | st.integers(0, 255).map(str)
near_ipv4 = st.lists(_octets, min_size=3, max_size=5).map(".".join)


def _ipv6_text(address: ipaddress.IPv6Address, shape: str, suffix: str) -> str:
    text = {"short": str(address), "exploded": address.exploded, "upper": str(address).upper()}[shape]
    return text + suffix


near_ipv6 = st.builds(
    _ipv6_text,
    st.ip_addresses(v=6),
    st.sampled_from(["short", "exploded", "upper"]),
    st.sampled_from(["", "", "", "%eth0", ":", "::", ":1", "1", "\n", ".1", ":1.2.3.4"]),
) | st.lists(
    st.sampled_from(["1", "ffff", "0", "12345", "", "1.2.3.4", "01.2.3.4"]), min_size=2, max_size=9
).map(":".join)


def _url_text(*parts: str) -> str:
    return "".join(parts)


URL_HOSTS = [
    "example.com", "a.1", "a.1.", "a.0x", "a.0xfg", "0x1", "1.2.3.4", "01.2.3.4", "1.2.3",
    "256.1.1.1", "[::1]", "[v1.x]", "[::1%25eth0]", "xn--bcher-kva.de", "xn--a", "XN--a.b", "a_b",
    "a..b", "", "a%41", "a b", "ex!$&'()+*,;=~.com", "A.COM.", "b\u00fccher.de", "a|b", "a:b",
]  # fmt: skip
URL_SCHEMES = st.sampled_from(
    ["http", "HTTPS", "ftp", "ws", "wss", "file", "foo", "mailto", "x-y.z", "1a", ""]
)


def _with_scheme(parts: tuple[str, str]) -> str:
    """A URL text of the pattern with its scheme replaced: the other types' URLs and near misses."""
    scheme, text = parts
    return scheme + ":" + text.split(":", 1)[1]


# Each part of a URL drawn from values on both sides of RFC 3986 and of what pydantic reads.
near_urls = (
    st.builds(
        _url_text,
        URL_SCHEMES,
        st.sampled_from(["://", "://", ":", ":/", ":///", "//"]),
        st.sampled_from(["", "", "", "u@", "u:p@", "@", "u%41@", "u|@"]),
        st.sampled_from(URL_HOSTS),
        st.sampled_from(["", "", ":", ":80", ":65535", ":65536", ":000080", ":x", ":99999999"]),
        st.sampled_from(
            ["", "/", "/a/b", "/a|b", "/%7C", "/%zz", "/a b", "/../a", "/\u00e9", "//a", "/a:b@c"]
        ),
        st.sampled_from(["", "", "?", "?a=b&c", "?a|b", "?/?", "?a^b"]),
        st.sampled_from(["", "", "#", "#f", "#a#b", "#^", "#/?"]),
        trailers,
    )
    | st.from_regex(URI_PATTERN)
    | st.tuples(URL_SCHEMES, st.from_regex(URI_PATTERN)).map(_with_scheme)
    | st.text(st.characters(codec="ascii"), max_size=30).map(lambda text: "http://example.com/" + text)
)

NEAR_MISSES: dict[str, st.SearchStrategy[str]] = {
    "date-time": near_date_times,
    "date": near_dates,
    "time": near_times,
    "uuid": near_uuids,
    "uuid4": near_uuids,
    "duration": near_durations,
    "ipv4": near_ipv4,
    "ipv6": near_ipv6,
    "uri": near_urls,
    "http-url": near_urls,
    "file-url": near_urls,
    "websocket-url": near_urls,
}

# -- the verdicts -------------------------------------------------------------------------------------


def message_for(form: str, value: Any) -> dict[str, Any]:
    return {
        "queue_name": "forms",
        "actor_name": ACTORS[form].actor_name,
        "args": [],
        "kwargs": {"value": value},
        "options": {},
        "message_id": str(uuid.uuid4()),
        "message_timestamp": 1_700_000_000_000,
    }


def worker_verdict(form: str, value: Any) -> bool:
    """The worker's whole consume check; what it accepts must arrive as the declared type."""
    try:
        delivery = GATEWAY.consume_guard.check(BROKER, dramatiq.Message(**message_for(form, value)))
    except PayloadRejected:
        return False
    typed = delivery.kwargs["value"]
    assert isinstance(typed, HINTS[form] if form != "uuid4" else uuid.UUID), (form, value, typed)
    # The value reads back to what it names: its own JSON form parses to the same value.
    adapter = ADAPTERS[form]
    assert adapter.validate_json(adapter.dump_json(typed)) == typed
    return True


PYTHON_VALIDATORS = {
    "jsonschema_formats": lambda schema: (
        Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).is_valid
    ),
    "jsonschema_no_formats": lambda schema: Draft202012Validator(schema).is_valid,
    "jsonschema_rs_formats": lambda schema: (
        jsonschema_rs.validator_for(schema, validate_formats=True).is_valid
    ),
    "jsonschema_rs_default": lambda schema: jsonschema_rs.validator_for(schema).is_valid,
    "actorschema_validate": lambda schema: (
        Draft202012Validator(schema, format_checker=FORMAT_CHECKER).is_valid
    ),
}
COMPILED = {form: {name: make(SCHEMAS[form]) for name, make in PYTHON_VALIDATORS.items()} for form in HINTS}


def python_disagreements(form: str, value: Any) -> dict[str, bool]:
    """The Python validators whose verdict on ``value`` differs from the worker's, with theirs."""
    expected = worker_verdict(form, value)
    message = message_for(form, value)
    verdicts = {name: bool(check(message)) for name, check in COMPILED[form].items()}
    return {name: verdict for name, verdict in verdicts.items() if verdict is not expected}


#: Every (form, value) judged in Python; the Node validators judge them all in one run at the end.
JUDGED: list[tuple[str, str]] = [(form, value) for form, values in EDGES.items() for value in values]


@pytest.mark.parametrize(("form", "value"), JUDGED, ids=[f"{f}:{v!r}" for f, v in JUDGED])
def test_the_python_validators_agree_with_the_worker_on_the_edges(form: str, value: str) -> None:
    assert python_disagreements(form, value) == {}


@pytest.mark.parametrize("form", sorted(HINTS))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_python_validators_agree_with_the_worker_on_near_misses(form: str, data: st.DataObject) -> None:
    value = data.draw(NEAR_MISSES[form])
    assert python_disagreements(form, value) == {}, value
    JUDGED.append((form, value))


def test_the_edge_corpus_has_both_verdicts_for_every_form() -> None:
    """A corpus the worker accepted (or refused) whole would prove nothing."""
    for form, values in EDGES.items():
        verdicts = {worker_verdict(form, value) for value in values}
        assert verdicts == {True, False}, form


#: The values of issue 13's four refund messages: ajv-formats passed them, the worker refuses them.
ISSUE_VALUES = [
    ("date-time", "2024-05-01 12:00:00Z"),
    ("date-time", "2016-12-31T23:59:60Z"),
    ("date-time", "2024-05-01T12:00:00+0100"),
    ("uuid", "urn:uuid:" + UUID_TEXT),
]


def test_the_issues_four_refund_values_are_refused() -> None:
    """The values the Node producer enqueued and the worker dead-lettered (issue 13)."""
    for form, value in ISSUE_VALUES:
        assert not worker_verdict(form, value), value
        assert not COMPILED[form]["jsonschema_no_formats"](message_for(form, value)), value


@pytest.mark.parametrize("form", ["date-time", "date", "time", "uuid", "ipv4", "ipv6", "uri"])
def test_validate_applies_the_workers_rule_to_schemas_written_before_the_patterns(form: str) -> None:
    """actorschema validate checks format with formats.py's checker: an older schema, format alone, agrees."""
    older = Draft202012Validator(_without_patterns(SCHEMAS[form]), format_checker=FORMAT_CHECKER)
    for value in EDGES[form]:
        assert older.is_valid(message_for(form, value)) is worker_verdict(form, value), value


def test_a_real_worker_runs_exactly_what_the_verdicts_accept() -> None:
    """The edge corpus stored raw on a StubBroker and consumed by a real Dramatiq Worker with the gateway:
    what the consume check accepted ran, as its declared type; the rest was dead-lettered, not run."""
    broker = GuardedStubBroker()
    gateway = PayloadGateway()
    broker.add_middleware(gateway)
    ran: dict[str, Any] = {}

    def declare(form: str, hint: Any) -> None:
        def actor(value):  # type: ignore[no-untyped-def]
            ran[dramatiq.middleware.CurrentMessage.get_current_message().message_id] = value

        actor.__annotations__ = {"value": hint, "return": None}
        dramatiq.actor(actor, actor_name=ACTORS[form].actor_name, queue_name="forms", broker=broker)

    broker.add_middleware(dramatiq.middleware.CurrentMessage())
    for form, hint in HINTS.items():
        declare(form, hint)
    expected: dict[str, bool] = {}
    types: dict[str, type] = {}
    for form, values in EDGES.items():
        for value in values:
            message = message_for(form, value)
            expected[message["message_id"]] = worker_verdict(form, value)
            types[message["message_id"]] = uuid.UUID if form == "uuid4" else HINTS[form]
            broker.queues["forms"].put(json.dumps(message).encode())
    worker = Worker(broker, worker_timeout=50, worker_threads=2)
    worker.start()
    try:
        broker.join("forms", timeout=60_000, fail_fast=False)
        worker.join()
    finally:
        worker.stop()
    dead = {proxy.message_id for proxy in broker.dead_letters}
    assert sorted(ran) == sorted(message_id for message_id, ok in expected.items() if ok)
    assert dead == {message_id for message_id, ok in expected.items() if not ok}
    assert all(isinstance(value, types[message_id]) for message_id, value in ran.items())


# -- what the send side writes --------------------------------------------------------------------------

whole_minute_offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
    lambda minutes: datetime.timezone(datetime.timedelta(minutes=minutes))
)
SENT: dict[str, st.SearchStrategy[Any]] = {
    "date-time": st.datetimes(timezones=st.just(datetime.UTC) | whole_minute_offsets),
    "date": st.dates(),
    "time": st.times(timezones=st.just(datetime.UTC) | whole_minute_offsets),
    "uuid": st.uuids(),
    "uuid4": st.uuids(version=4),
    "duration": st.timedeltas(),
    "ipv4": st.ip_addresses(v=4),
    "ipv6": st.ip_addresses(v=6),
    # What pydantic writes and the send side lets through: its text is an RFC 3986 URI of the pattern.
    "uri": st.from_regex(URI_PATTERN).map(AnyUrl),
    "http-url": st.from_regex(URI_PATTERN)
    .filter(lambda text: text.lower().startswith(("http://", "https://")) and len(text) <= 2083)
    .map(HttpUrl),
    "file-url": st.tuples(st.sampled_from(["file", "FILE"]), st.from_regex(URI_PATTERN))
    .map(_with_scheme)
    .filter(lambda text: re.search(URI_PATTERN, text) is not None)
    .map(FileUrl),
    "websocket-url": st.tuples(st.sampled_from(["ws", "wss", "WS"]), st.from_regex(URI_PATTERN))
    .map(_with_scheme)
    .filter(lambda text: len(text) <= 2083 and re.search(URI_PATTERN, text) is not None)
    .map(WebsocketUrl),
}


@pytest.mark.parametrize("form", sorted(HINTS))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_what_the_send_side_writes_every_validator_accepts(form: str, data: st.DataObject) -> None:
    value = data.draw(SENT[form])
    ACTORS[form].send(value)
    [body] = [BROKER.queues["forms"].get_nowait()]
    sent = json.loads(body)["kwargs"]["value"]
    assert worker_verdict(form, sent), sent
    assert python_disagreements(form, sent) == {}, sent
    JUDGED.append((form, sent))


# -- the patterns themselves ----------------------------------------------------------------------------

ALL_PATTERNS = {
    **PATTERNS,
    "duration": DURATION_PATTERN,
    **{f"uuid{v}": uuid_pattern(v) for v in range(1, 9)},
}


@pytest.mark.parametrize("name", sorted(ALL_PATTERNS))
def test_patterns_stay_in_the_common_subset_of_ecma_262_and_python(name: str) -> None:
    pattern = ALL_PATTERNS[name]
    assert pattern.startswith("^") and pattern.endswith("(?!\\n)$")
    for construct in ("\\d", "\\w", "\\s", "(?<", "\\p", "++", "*+", "?+", "(?P", "(?i"):
        assert construct not in pattern, construct
    re.compile(pattern)


def test_leap_days_follow_the_gregorian_calendar() -> None:
    date = re.compile(DATE_PATTERN)
    for year in range(1, 10000):
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        assert bool(date.search(f"{year:04d}-02-29")) is leap, year
    assert date.search("0001-01-01") and not date.search("0000-01-01")
    assert not date.search("0000-02-29")  # year 0 is a multiple of 400, and Python has no year 0


def test_every_month_and_day_of_the_calendars_edge_years() -> None:
    """Each YYYY-MM-DD with month 00-13 and day 00-32 of years around every leap rule, against Python."""
    date = re.compile(DATE_PATTERN)
    for year in (0, 1, 4, 99, 100, 400, 1900, 1996, 2000, 2023, 2024, 2100, 2400, 9996, 9999):
        for month in range(14):
            for day in range(33):
                text = f"{year:04d}-{month:02d}-{day:02d}"
                try:
                    datetime.date(year, month, day)
                except ValueError:
                    real = False
                else:
                    real = True
                assert bool(date.search(text)) is real, text


def test_every_clock_time() -> None:
    """Each HH:MM:SS with hours 00-25 and minutes and seconds 00-61: Python's clock, no leap second."""
    time = re.compile(TIME_PATTERN)
    for hour in range(26):
        for minute in range(62):
            for second in range(62):
                text = f"{hour:02d}:{minute:02d}:{second:02d}Z"
                assert bool(time.search(text)) is (hour < 24 and minute < 60 and second < 60), text


@settings(max_examples=500, deadline=None)
@given(value=st.dates())
def test_every_calendar_date_matches(value: datetime.date) -> None:
    assert re.search(DATE_PATTERN, value.isoformat())
    assert re.search(DATE_TIME_PATTERN, value.isoformat() + "T00:00:00Z")


def test_the_other_patterns_match_their_canonical_forms() -> None:
    assert re.search(TIME_PATTERN, "23:59:59.999999+23:59")
    assert re.search(UUID_PATTERN, UUID_TEXT.upper())
    assert re.search(IPV4_PATTERN, "255.255.255.255")
    assert re.search(DURATION_PATTERN, "-P2739726Y9D") and not re.search(
        DURATION_PATTERN, "-P2739726Y9DT0.000001S"
    )


def test_exact_string_form() -> None:
    assert exact_string_form({"type": "string", "format": "date"}) == {
        "type": "string",
        "format": "date",
        "pattern": DATE_PATTERN,
    }
    assert exact_string_form({"type": "string", "format": "uuid4"}) == {
        "type": "string",
        "format": "uuid",
        "pattern": uuid_pattern(4),
    }
    # Durations keep no format: RFC 3339's duration has no sign and no fractions, pydantic writes both.
    assert exact_string_form({"type": "string", "format": "duration"}) == {
        "type": "string",
        "pattern": DURATION_PATTERN,
    }
    assert exact_string_form({"type": "string", "format": "email"}) == {"type": "string", "format": "email"}
    # Formats no standard defines: ajv's strict mode refuses to compile them.
    assert exact_string_form({"type": "string", "format": "path"}) == {"type": "string"}


def test_the_worker_names_the_form_and_what_to_send() -> None:
    with pytest.raises(PayloadRejected) as caught:
        GATEWAY.consume_guard.check(
            BROKER, dramatiq.Message(**message_for("date-time", "2024-05-01 12:00:00Z"))
        )
    [violation] = caught.value.violations
    assert violation.path == "kwargs.value"
    assert "is not a 'date-time'" in violation.problem
    assert "2024-05-01T12:00:00Z" in violation.hint


def test_the_worker_names_the_url_form_and_what_to_send() -> None:
    with pytest.raises(PayloadRejected) as caught:
        GATEWAY.consume_guard.check(BROKER, dramatiq.Message(**message_for("uri", "http://example.com/a|b")))
    [violation] = caught.value.violations
    assert violation.path == "kwargs.value"
    assert "is not a 'uri'" in violation.problem
    assert "%7C" in violation.hint


@pytest.mark.parametrize(
    ("form", "value", "written"),
    [
        ("uri", "http://example.com/a|b", "http://example.com/a|b"),
        ("uri", "HTTP://Example.com/a^b", "http://example.com/a^b"),
        ("uri", "foo:", "foo:"),
        ("http-url", "https://b\u00fccher.de/", "https://xn--bcher-kva.de/"),
    ],
)
def test_the_send_side_refuses_a_url_pydantic_writes_outside_rfc_3986(
    form: str, value: str, written: str
) -> None:
    """pydantic reads these and writes text RFC 3986 (or the pattern, for punycode) refuses: never enqueued."""
    assert str(ADAPTERS[form].validate_python(value)) == written
    assert not re.search(URI_PATTERN, written)
    with pytest.raises(PayloadInvalid) as caught:
        ACTORS[form].send(value)
    [violation] = caught.value.violations
    assert violation.path == "args[0]"
    assert repr(written) in violation.problem and "RFC 3986" in violation.problem
    assert "%7C" in violation.hint
    assert BROKER.queues["forms"].empty()


DSNS = [
    "RedisDsn",
    "AmqpDsn",
    "KafkaDsn",
    "MySQLDsn",
    "MariaDBDsn",
    "ClickHouseDsn",
    "SnowflakeDsn",
    "CockroachDsn",
]


@pytest.mark.parametrize("name", ["PostgresDsn", "MongoDsn", "NatsDsn"])
def test_multi_host_urls_are_refused_when_declared(name: str) -> None:
    """No pattern states a multi-host URL exactly: the actor is refused at declare time, with the way out."""
    from actorschema.contract import ActorContract, ContractError

    def receive(value: Any) -> None: ...

    receive.__annotations__ = {"value": getattr(pydantic, name), "return": None}
    with pytest.raises(ContractError) as caught:
        ActorContract.from_function(receive, "multi_host_" + name.lower())
    text = str(caught.value)
    assert "parameter 'value'" in text and "several hosts" in text
    assert "as str" in text and 'payload_contract="json"' in text


@pytest.mark.parametrize("name", DSNS)
def test_pydantics_dsn_types_are_exact_too(name: str) -> None:
    """A DSN's schemes (cockroachdb+psycopg2: "+" literal) and its host rules (host_required, a default
    host or port, which pydantic cannot set on an opaque path) are in its schema: the verdicts agree."""
    hint = getattr(pydantic, name)
    schemes = hint._constraints.allowed_schemes

    def actor(value):  # type: ignore[no-untyped-def]
        return None

    actor.__annotations__ = {"value": hint, "return": None}
    declared = dramatiq.actor(actor, actor_name="dsn_" + name.lower(), queue_name="forms", broker=BROKER)
    schema = message_schema(GATEWAY.contracts[declared.actor_name], SizeLimit(None, "global"))
    validators = [make(schema) for make in PYTHON_VALIDATORS.values()]
    verdicts: set[bool] = set()

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(st.tuples(st.sampled_from(schemes), near_urls | st.from_regex(URI_PATTERN)))
    def agree(parts: tuple[str, str]) -> None:
        scheme, text = parts
        value = scheme + ":" + text.split(":", 1)[-1]
        message = {**message_for("uri", value), "actor_name": declared.actor_name}
        try:
            GATEWAY.consume_guard.check(BROKER, dramatiq.Message(**message))
        except PayloadRejected:
            expected = False
        else:
            expected = True
        verdicts.add(expected)
        assert [validate(message) for validate in validators] == [expected] * len(validators), value

    agree()
    assert verdicts == {True, False}


@pytest.mark.node
def test_without_the_url_pattern_the_validators_disagree() -> None:
    """The matrix can fail for URLs: format alone, Python's jsonschema (no rfc3987) and ajv-formats
    accept what pydantic refuses or writes back differently."""
    bare = {"bare uri": _without_patterns(SCHEMAS["uri"])}
    values = ["http://a.1/", "http://xn--a/", "http://a:65536/"]
    result = run_matrix([("bare uri", value) for value in values], bare)
    for value, verdicts in zip(values, result["verdicts"], strict=True):
        assert not worker_verdict("uri", value), value
        assert verdicts["ajv_formats_full"] is True, value
        formats = Draft202012Validator(bare["bare uri"], format_checker=Draft202012Validator.FORMAT_CHECKER)
        assert formats.is_valid(message_for("uri", value)), value


# -- the JavaScript validators: last, so that they judge every value the tests above drew ----------------


def run_matrix(pairs: list[tuple[str, Any]], schemas: dict[str, Any] | None = None) -> dict[str, Any]:
    """Judge ``(schema name, value)`` pairs with every JavaScript validator in one Node run.

    Parameters:
      pairs: The form whose schema applies (a key of ``schemas``), and the value of ``kwargs.value``.
      schemas: The schemas by name; the generated ones by default.
    """
    payload = {
        "schemas": SCHEMAS if schemas is None else schemas,
        "pairs": [
            {"schema": name, "data": message_for(name.removeprefix("bare "), value)} for name, value in pairs
        ],
    }
    result: dict[str, Any] = run_oracle(MATRIX_CHECK, payload, package="@hyperjump/json-schema", timeout=300)
    assert result["compile_errors"] == {}
    return result


@pytest.mark.node
def test_the_javascript_validators_agree_with_the_worker() -> None:
    """The edge corpus and every near miss the hypothesis tests drew, in one Node run."""
    pairs = list(dict.fromkeys(JUDGED))
    result = run_matrix(pairs)
    assert len(result["validators"]) == 5
    disagreements = [
        (form, value, expected, verdicts)
        for (form, value), verdicts in zip(pairs, result["verdicts"], strict=True)
        if set(verdicts.values()) != {expected := worker_verdict(form, value)}
    ]
    assert disagreements == [], disagreements[:5]
    # A validator that throws on a value enqueues nothing; it may only do so on values the worker refuses.
    thrown = [(pairs[t["index"]], t["validator"], t["error"]) for t in result["thrown"]]
    assert all(not worker_verdict(*pair) for pair, _, _ in thrown), thrown


@pytest.mark.node
def test_pydantics_own_format_names_do_not_break_ajvs_strict_mode() -> None:
    """The Node producer compiles the schemas with ajv in strict mode: an unknown format is an error."""

    def actor(path, address, network, uuid7):  # type: ignore[no-untyped-def]
        return None

    actor.__annotations__ = {
        "path": pathlib.Path,
        "address": IPvAnyAddress,
        "network": ipaddress.IPv4Network,
        "uuid7": UUID7,
        "return": None,
    }
    declared = dramatiq.actor(actor, actor_name="odd_formats", queue_name="forms", broker=BROKER)
    schema = message_schema(GATEWAY.contracts[declared.actor_name], SizeLimit(None, "global"))
    result = run_ajv({"schemas": {"odd_formats": schema}})["schemas"]["odd_formats"]
    assert result["ok"], result["error"]
    assert schema["properties"]["kwargs"]["properties"]["uuid7"]["format"] == "uuid"


@pytest.mark.node
def test_without_the_patterns_ajv_formats_accepts_what_the_worker_refuses() -> None:
    """The issue, reproduced: the schemas with format alone let ajv-formats pass all four values."""
    bare = {"bare " + form: _without_patterns(SCHEMAS[form]) for form in ("date-time", "uuid")}
    result = run_matrix([("bare " + form, value) for form, value in ISSUE_VALUES], bare)
    for (form, value), verdicts in zip(ISSUE_VALUES, result["verdicts"], strict=True):
        assert not worker_verdict(form, value)
        assert verdicts["ajv_formats_full"] is True, value
        assert verdicts["ajv_no_formats"] is True, value


def test_without_the_patterns_the_validators_disagree() -> None:
    """The matrix can fail: the same schemas without their patterns split on the issue's values."""
    bare = {form: _without_patterns(schema) for form, schema in SCHEMAS.items()}
    values = [
        ("date-time", "2024-05-01 12:00:00Z"),
        ("date-time", "2023-02-29T00:00:00Z"),
        ("uuid", "urn:uuid:" + UUID_TEXT),
    ]
    message = message_for("date-time", "2023-02-29T00:00:00Z")
    assert Draft202012Validator(bare["date-time"]).is_valid(message)  # format as an annotation
    assert not worker_verdict("date-time", "2023-02-29T00:00:00Z")
    for form, value in values:
        assert not worker_verdict(form, value)
        assert Draft202012Validator(bare[form]).is_valid(message_for(form, value))


def _without_patterns(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _without_patterns(value) for key, value in node.items() if key != "pattern"}
    if isinstance(node, list):
        return [_without_patterns(item) for item in node]
    return node
