"""The string forms the schemas constrain: one anchored pattern per form, applied everywhere.

A schema that says only ``"format": "date-time"`` means different things to
different validators: draft 2020-12 makes ``format`` an annotation by default
(ajv without ajv-formats, Python's ``jsonschema`` without a format checker,
most Go and Java validators), so ``"not a date"`` passes; validators that do
assert it disagree on a space for ``T``, leap seconds, ``+0100`` offsets or
``urn:uuid:`` prefixes. Every validator asserts ``pattern``. So each form the
contract emits gets a pattern here that accepts exactly what the worker
accepts, which is what the send side writes and what pydantic's JSON mode
reads back to the same value:

- ``date-time``: RFC 3339 with ``T`` (or ``t``) and seconds, fractional seconds
  of any length, ``Z``/``z`` or an offset with its colon; no leap second (Python
  has none), years 0001-9999, real calendar dates (February 29th in leap
  years only).
- ``date``: the same calendar, ``YYYY-MM-DD``.
- ``time``: RFC 3339 ``full-time``, with the offset the send side requires.
- ``uuid``: the 36-character hyphenated form, either case (pydantic also reads
  braces, ``urn:uuid:`` and bare hex, which standard ``uuid`` checkers refuse);
  pydantic's ``UUID1`` ... ``UUID8`` add the RFC 4122 variant and their version.
- ``duration`` (``timedelta``): the ISO 8601 form pydantic writes (``P1Y35DT1H``,
  ``-PT0.5S``), in timedelta's range. Its ``format`` is dropped: RFC 3339's
  duration grammar, which ajv-formats and the ``jsonschema`` checkers follow,
  has no sign and no fractional seconds, so they would refuse values the send
  side writes for ``timedelta(seconds=-1)`` or ``timedelta(milliseconds=500)``.
- ``ipv4``: dotted quads without leading zeros (Python's ``ipaddress`` refuses them).
- ``ipv6``: RFC 3986's forms (an IPv4 address in the last 32 bits allowed), without a
  ``%zone``, which ``format`` checkers refuse.
- ``uri`` (pydantic's ``AnyUrl``, ``HttpUrl``, ``FileUrl``...): RFC 3986's ``URI``, ASCII only,
  narrowed to what pydantic's URL parser (the WHATWG URL standard) reads whatever the
  scheme: a host that is an IPv4 address, a bracketed IPv6 address or labels of RFC 3986's
  characters, no ``xn--`` label (a pattern cannot tell valid punycode, which pydantic
  checks), no last label that is a number but not an IPv4 address (``a.1``); a port up to
  65535; a non-empty host after ``http``, ``https``, ``ws``, ``wss`` and ``ftp``, a bare host
  on ``file`` URLs; a non-empty path after a bare ``scheme:`` (ajv-formats requires one).
  pydantic writes some URLs outside it (``|``, ``^`` and ``{`` unescaped in paths, queries
  and fragments, internationalised hosts as punycode): the send side refuses those, with
  the path and what to send instead, so nothing is enqueued that a validator would refuse.
  Scheme restrictions (``HttpUrl``) stay beside it, in an ``allOf``.

``IPvAnyAddress`` (pydantic's ``ipvanyaddress``) is either of the two forms. A scoped
address (``fe80::1%eth0``), which pydantic reads and writes, is refused on send.

pydantic also names formats no standard defines (``path``,
``ipv4network``, ``password``...). They are dropped: ajv in strict mode, which
the Node.js producer uses, refuses to compile a schema with a format it does
not know, and other validators ignore them anyway. Standard formats this module
has no pattern for (``email``, ``hostname``...) are kept as they are: the
worker checks them with ``jsonschema``'s checkers, and pydantic has the last word.

Every pattern is written in the common subset of ECMA-262 and Python's ``re``
(``[0-9]``, never ``\\d``, which in Python also matches other scripts'
digits; ``(?!\\n)$``, because Python's ``$`` also matches before a trailing
newline; lookaheads, never lookbehinds) and is a subset of what every
mainstream ``format`` checker accepts, so a validator that asserts ``format``
reaches the same verdict as one that does not.

The worker (:mod:`actorschema.consume.arguments`) and ``actorschema validate`` check
``format`` with :data:`FORMAT_CHECKER`, built from the same patterns.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # Without types-jsonschema installed this is Any; with it, fully typed.
    from jsonschema import FormatChecker  # type: ignore[import-untyped, unused-ignore]

__all__ = [
    "DATE_PATTERN",
    "DATE_TIME_PATTERN",
    "DURATION_PATTERN",
    "FORMAT_CHECKER",
    "IPV4_PATTERN",
    "IPV6_PATTERN",
    "PATTERNS",
    "STANDARD_FORMATS",
    "TIME_PATTERN",
    "URI_PATTERN",
    "UUID_PATTERN",
    "UUID_TEXT",
    "WHAT_TO_SEND",
    "exact_string_form",
    "form_of",
    "pattern_decides",
    "uuid_pattern",
    "without_pattern_twins",
]


def _anchored(body: str) -> str:
    return f"^(?:{body})(?!\\n)$"


def _up_to(limit: int) -> str:
    """A regular expression for the decimal integers 1 to ``limit``, without leading zeros."""
    digits = str(limit)
    branches = [f"[1-9][0-9]{{{length - 1}}}" if length > 1 else "[1-9]" for length in range(1, len(digits))]
    for index, digit in enumerate(digits):
        low = 1 if index == 0 else 0
        if int(digit) > low:
            rest = len(digits) - index - 1
            tail = f"[0-9]{{{rest}}}" if rest else ""
            branches.append(f"{digits[:index]}[{low}-{int(digit) - 1}]{tail}")
    branches.append(digits)
    return "(?:" + "|".join(branches) + ")"


# Leap years: a multiple of 4 that does not end in 00, or a multiple of 400.
_LEAP_YEAR = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)"
_MONTH_DAY = (
    "(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    "|02-(?:0[1-9]|1[0-9]|2[0-8])"
)
# Years 0001 to 9999, as Python's: the lookahead keeps year 0 out of both branches (0000 is a
# multiple of 400, so the leap-year branch alone would take 0000-02-29).
_FULL_DATE = f"(?!0000)(?:[0-9]{{4}}-(?:{_MONTH_DAY})|{_LEAP_YEAR}-02-29)"
_OFFSET = "[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9]"
_FULL_TIME = f"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]+)?(?:{_OFFSET})"

#: RFC 3339 ``date-time`` as the worker reads it (see the module docstring).
DATE_TIME_PATTERN = _anchored(f"(?:{_FULL_DATE})[Tt]{_FULL_TIME}")
#: RFC 3339 ``full-date``, real calendar dates only.
DATE_PATTERN = _anchored(_FULL_DATE)
#: RFC 3339 ``full-time``: with seconds and an offset.
TIME_PATTERN = _anchored(_FULL_TIME)

_HEX = "[0-9a-fA-F]"
#: A hyphenated UUID in either case, unanchored: :data:`UUID_PATTERN` without its anchors.
UUID_TEXT = f"{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}"


def uuid_pattern(version: int | None = None) -> str:
    """The pattern of hyphenated UUIDs; of one RFC 4122 version (pydantic's ``UUID4``...) if given.

    Parameters:
      version: The version digit pydantic requires, or None for any UUID.
    """
    if version is None:
        return _anchored(UUID_TEXT)
    return _anchored(f"{_HEX}{{8}}-{_HEX}{{4}}-{version}{_HEX}{{3}}-[89abAB]{_HEX}{{3}}-{_HEX}{{12}}")


#: The UUID forms every ``uuid`` checker and pydantic accept.
UUID_PATTERN = uuid_pattern()

# pydantic writes a timedelta as [-]P[nY][nD][T[nH][nM][n[.f]S]] with years of 365 days, days
# below 365, hours below 24, minutes and seconds below 60, at most 6 fractional digits, and a
# negative one as "-" and its magnitude. timedelta's range ends at 999,999,999 days (2739726
# years and 9 days), plus a day less a microsecond when positive.
_MAX_YEARS = 2_739_726
_TIME_PART = (
    "T(?=[0-9])(?:(?:[1-9]|1[0-9]|2[0-3])H)?(?:(?:[1-9]|[1-5][0-9])M)?"
    "(?:(?:[0-9]|[1-5][0-9])(?:\\.[0-9]{1,6})?S)?"
)
_DAYS = "(?:[1-9]|[1-9][0-9]|[12][0-9]{2}|3[0-5][0-9]|36[0-4])D"
_WITHIN = f"(?:{_up_to(_MAX_YEARS - 1)}Y)?(?:{_DAYS})?(?:{_TIME_PART})?"
#: The ISO 8601 durations pydantic writes for a ``timedelta`` and reads back to the same value.
DURATION_PATTERN = _anchored(
    f"-?P(?=[0-9]|T[0-9]){_WITHIN}"
    f"|P{_MAX_YEARS}Y(?:[1-9]D)?(?:{_TIME_PART})?"
    f"|-P{_MAX_YEARS}Y(?:(?:[1-8]D)?(?:{_TIME_PART})?|9D)"
)

_OCTET = "25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9]"
#: Dotted-quad IPv4 addresses, as Python's ``ipaddress`` reads them.
_IPV4 = f"(?:(?:{_OCTET})\\.){{3}}(?:{_OCTET})"
IPV4_PATTERN = _anchored(_IPV4)

_H16 = "[0-9a-fA-F]{1,4}"
_LS32 = f"(?:{_H16}:{_H16}|{_IPV4})"
# RFC 3986's IPv6address, branch by branch: where the "::" falls, and how many groups precede it.
_IPV6_BRANCHES = [
    f"(?:{_H16}:){{6}}{_LS32}",
    f"::(?:{_H16}:){{5}}{_LS32}",
    f"(?:{_H16})?::(?:{_H16}:){{4}}{_LS32}",
    *(
        f"(?:(?:{_H16}:){{0,{before}}}{_H16})?::"
        + (f"(?:{_H16}:){{{after}}}" if after > 1 else f"{_H16}:" * after)
        + tail
        for before, after, tail in (
            (1, 3, _LS32),
            (2, 2, _LS32),
            (3, 1, _LS32),
            (4, 0, _LS32),
            (5, 0, _H16),
            (6, 0, ""),
        )
    ),
]
#: IPv6 addresses as RFC 3986 writes them (and Python's ``ipaddress`` reads them), without a zone.
IPV6_PATTERN = _anchored("|".join(_IPV6_BRANCHES))

# RFC 3986 section 3, narrowed to what pydantic's URL parser (the WHATWG URL standard) reads
# whatever the scheme: it refuses a host whose last label is a number but not an IPv4 address
# ("a.1", "a.0x"), a label "xn--" that is not valid punycode, a port above 65535, an IPvFuture
# literal, an empty host after http, https, ws, wss or ftp (special schemes), a user or a port
# on a file URL, a percent-encoded host that decodes to a forbidden character.
_PCT = "%[0-9A-Fa-f]{2}"
_PCHAR = f"(?:[A-Za-z0-9._~!$&'()+*,;=:@-]|{_PCT})"
_LABEL_CHAR = "[A-Za-z0-9_~!$&'()+*,;=-]"
_LABEL = f"(?![Xx][Nn]--){_LABEL_CHAR}+"
_HOST_END = f"\\.?(?!{_LABEL_CHAR}|\\.)"
_LAST_LABEL = f"(?![0-9]+{_HOST_END})(?!0[Xx][0-9A-Fa-f]*{_HOST_END}){_LABEL}"
_HOST = f"(?:\\[(?:{'|'.join(_IPV6_BRANCHES)})\\]|{_IPV4}(?![A-Za-z0-9_~!$&'()+*,;=.-])|(?:{_LABEL}\\.)*{_LAST_LABEL}\\.?)"
_PORT = f"(?::0*{_up_to(65535)}?)?"
_USERINFO = f"(?:(?:[A-Za-z0-9._~!$&'()+*,;=:-]|{_PCT})*@)?"
_PATH_ABEMPTY = f"(?:/{_PCHAR}*)*"
# RFC 3986 allows an empty path after "scheme:"; ajv-formats' uri check does not.
_PATH_NOT_EMPTY = f"/(?:{_PCHAR}+(?:/{_PCHAR}*)*)?|{_PCHAR}+(?:/{_PCHAR}*)*"
_SPECIAL = "[Hh][Tt][Tt][Pp][Ss]?|[Ww][Ss][Ss]?|[Ff][Tt][Pp]"
_FILE = "[Ff][Ii][Ll][Ee]"
_HIER_PART = (
    f"(?:{_SPECIAL})://{_USERINFO}{_HOST}{_PORT}{_PATH_ABEMPTY}"
    f"|{_FILE}:(?://{_HOST}?{_PATH_ABEMPTY}|{_PATH_NOT_EMPTY})"
    f"|(?!(?:{_SPECIAL}|{_FILE}):)[A-Za-z][A-Za-z0-9+.-]*:"
    f"(?://(?:{_USERINFO}{_HOST}{_PORT})?{_PATH_ABEMPTY}|{_PATH_NOT_EMPTY})"
)
#: RFC 3986 ``URI``, every part of which pydantic's URL types read (see the module docstring).
URI_PATTERN = _anchored(f"(?:{_HIER_PART})(?:\\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?")

#: Each ``format`` the schemas keep, with its pattern.
PATTERNS: dict[str, str] = {
    "date-time": DATE_TIME_PATTERN,
    "date": DATE_PATTERN,
    "time": TIME_PATTERN,
    "uuid": UUID_PATTERN,
    "ipv4": IPV4_PATTERN,
    "ipv6": IPV6_PATTERN,
    "uri": URI_PATTERN,
}

#: For each form, what to send: the hint in an error about a value that is not of the form.
WHAT_TO_SEND: dict[str, str] = {
    "date-time": "RFC 3339 date-time with T, seconds and a UTC offset, e.g. 2024-05-01T12:00:00Z "
    "or 2024-05-01T14:00:00.5+02:00 (no leap second)",
    "date": "a calendar date YYYY-MM-DD, e.g. 2024-02-29",
    "time": "RFC 3339 full-time with seconds and a UTC offset, e.g. 12:00:00Z or 14:00:00+02:00",
    "uuid": "a hyphenated UUID, e.g. 0b9e6a52-7d3c-4b8e-9f21-3c1e2f4a5b6c",
    "duration": "an ISO 8601 duration as pydantic writes it, e.g. P1DT2H or -PT0.5S",
    "ipv4": "a dotted-quad IPv4 address without leading zeros, e.g. 192.0.2.1",
    "ipv6": "an IPv6 address without a zone, e.g. 2001:db8::1 or ::ffff:192.0.2.1",
    "uri": "an RFC 3986 URI in ASCII, other characters percent-encoded (| as %7C, ^ as %5E), with an "
    "ASCII host without xn-- (punycode) labels, which no schema can check, and whose last label is "
    "not a number unless it is an IPv4 address, and a port up to 65535, e.g. https://example.com/a%7Cb?q=1",
}

_UUID_VERSION = re.compile(r"uuid([1-8])")

#: The formats JSON Schema draft 2020-12 defines (section 7.3 of its validation vocabulary).
STANDARD_FORMATS = frozenset(
    {
        "date-time", "date", "time", "duration", "email", "idn-email", "hostname", "idn-hostname",
        "ipv4", "ipv6", "uri", "uri-reference", "iri", "iri-reference", "uuid", "uri-template",
        "json-pointer", "relative-json-pointer", "regex",
    }
)  # fmt: skip


def exact_string_form(node: dict[str, Any]) -> dict[str, Any]:
    """A string schema with a ``format`` this module knows, made exact: its pattern added beside it.

    Returns ``node`` unchanged when its format is a standard one this module
    has no pattern for. pydantic's ``uuid1`` ... ``uuid8`` become ``uuid`` (the
    name validators know) with the version in the pattern; ``duration`` and
    formats no standard defines lose their ``format`` (see the module docstring).

    Parameters:
      node: A schema node with ``"type": "string"``.
    """
    form = node.get("format")
    if not isinstance(form, str):
        return node
    if form == "duration":
        exact = {key: value for key, value in node.items() if key != "format"}
        return {**exact, "pattern": DURATION_PATTERN}
    if form == "ipvanyaddress":
        # pydantic's own name for IPv4Address | IPv6Address: both standard forms, each exact.
        exact = {key: value for key, value in node.items() if key != "format"}
        return {
            **exact,
            "anyOf": [
                {"format": "ipv4", "pattern": IPV4_PATTERN},
                {"format": "ipv6", "pattern": IPV6_PATTERN},
            ],
        }
    version = _UUID_VERSION.fullmatch(form)
    if version:
        return {**node, "format": "uuid", "pattern": uuid_pattern(int(version.group(1)))}
    if form not in STANDARD_FORMATS:
        return {key: value for key, value in node.items() if key != "format"}
    if form in PATTERNS and "pattern" not in node:
        return {**node, "pattern": PATTERNS[form]}
    return node


_FORM_BY_PATTERN = {
    **{pattern: name for name, pattern in PATTERNS.items()},
    **{uuid_pattern(version): "uuid" for version in range(1, 9)},
    DURATION_PATTERN: "duration",
}


def form_of(node: Any) -> str | None:
    """The string form (a key of :data:`WHAT_TO_SEND`) a schema node constrains to, if any.

    Parameters:
      node: A schema node.
    """
    if not isinstance(node, dict):
        return None
    form = node.get("format")
    if form in WHAT_TO_SEND:
        return str(form)
    return _FORM_BY_PATTERN.get(node.get("pattern"))  # type: ignore[arg-type]


def pattern_decides(node: Any) -> bool:
    """True when a node's ``format`` adds nothing to its ``pattern``: :data:`FORMAT_CHECKER` runs that pattern.

    For each format with a pattern here, :data:`FORMAT_CHECKER`'s check is a
    match of that very pattern; a node carrying it (or, for ``uuid``, a
    versioned pattern, which matches fewer texts) is decided by its
    ``pattern`` alone. A validator may then leave ``format`` unasserted.

    Parameters:
      node: A schema node with a ``format``.
    """
    form = node.get("format")
    return form in PATTERNS and _FORM_BY_PATTERN.get(node.get("pattern")) == form


def without_pattern_twins(errors: list[Any]) -> list[Any]:
    """jsonschema errors without the ``pattern`` errors that repeat a ``format`` error on the same value.

    A value that is not of its form breaks both keywords of its schema; the
    ``format`` error says so in words, the ``pattern`` error in a regular expression.

    Parameters:
      errors: ``ValidationError`` objects from one ``iter_errors`` run.
    """
    formats = {(tuple(e.absolute_path), id(e.schema)) for e in errors if e.validator == "format"}
    return [
        e for e in errors if e.validator != "pattern" or (tuple(e.absolute_path), id(e.schema)) not in formats
    ]


def _matcher(pattern: str) -> Any:
    compiled = re.compile(pattern)

    def conforms(instance: object) -> bool:
        # Like every format checker: a format says nothing about values of other types.
        return not isinstance(instance, str) or compiled.search(instance) is not None

    return conforms


def _format_checker() -> FormatChecker:
    # Imported here: producers read this module's patterns, only validators need jsonschema.
    from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped, unused-ignore]

    checker = FormatChecker()
    # Formats without a pattern here (email, hostname...) keep jsonschema's checks.
    checker.checkers = dict(Draft202012Validator.FORMAT_CHECKER.checkers)
    for name, pattern in PATTERNS.items():
        checker.checkers[name] = (_matcher(pattern), ())
    checker.checkers["duration"] = (_matcher(DURATION_PATTERN), ())
    return checker


if TYPE_CHECKING:
    #: jsonschema's format checker with this module's rule for each format it has a pattern for.
    #: Built on first use (the worker, ``actorschema validate``), so a producer never imports jsonschema.
    FORMAT_CHECKER: FormatChecker


def __getattr__(name: str) -> Any:
    if name == "FORMAT_CHECKER":
        checker = globals()["FORMAT_CHECKER"] = _format_checker()  # built once: later reads find it
        return checker
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
