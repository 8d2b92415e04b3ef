"""A user's ``Field(pattern=...)`` as it is published: one meaning in every regex dialect that reads it.

pydantic checks a ``pattern`` with Rust's ``regex`` crate (Python's ``re``
when the pattern has lookarounds), where ``\\d``, ``\\w``, ``\\s`` and ``\\b``
are Unicode-aware: ``"١٢٣"`` (Arabic-Indic digits) matches ``^\\d+$``. A JSON
Schema validator reads the same pattern as ECMA-262 (ajv, without the ``u``
flag: ``\\d`` is ``[0-9]``) or with Python's ``re`` (``jsonschema``: Unicode
again, and ``$`` also matches before a trailing newline), and jsonschema-rs
as ECMA-262. One published pattern would then get three verdicts.

:func:`translate` writes the pattern in the subset every one of them reads
alike, never looser than pydantic: ``\\d`` as ``[0-9]``, ``\\D`` as no
digit of any script, ``\\w`` as ``[A-Za-z0-9_]``, ``\\s`` as the whitespace all
three agree on, ``\\S`` as what none of them calls whitespace, ``.`` as ECMA-262's (no line terminator),
``$`` as ``(?!\\n)$``, ``\\A`` / ``\\z`` / ``\\Z`` as ``^`` / ``$``. The worker runs
pydantic and the published schema, so it accepts the ASCII reading; the send
side checks the translated pattern too (:mod:`actorschema.numbers`), so
``send()`` refuses ``"١٢٣"`` for ``^\\d+$`` with the reason, instead of
enqueueing a message the worker would dead-letter. What cannot be written
alike (``\\b``, ``\\W``, a negated class inside ``[...]``, inline flags, ``\\p{...}``,
Python's ``(?P<name>...)``) is refused when the actor is declared
(:class:`Untranslatable`), with how to spell it instead.
"""

from __future__ import annotations

import functools
import unicodedata

__all__ = ["Untranslatable", "needs_send_check", "translate"]

# The whitespace ECMA-262's \s, Python's str \s and Rust's Unicode \s all match (each adds its own:
# ECMA U+FEFF, Python U+001C-U+001F, Python and Rust U+0085): \s is published as these...
_SPACE = "\\t\\n\\x0b\\x0c\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
# ...and \S as what none of them calls whitespace, so the published class is never looser than pydantic's.
_ANY_SPACE = _SPACE + "\\x1c-\\x1f\\x85\\ufeff"


@functools.cache
def _digit_ranges() -> str:
    """Every decimal digit (Unicode category Nd) of the Basic Multilingual Plane, as class ranges."""
    digits = [code for code in range(0x10000) if unicodedata.category(chr(code)) == "Nd"]
    ranges: list[tuple[int, int]] = []
    for code in digits:
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    return "".join(f"\\u{low:04x}" if low == high else f"\\u{low:04x}-\\u{high:04x}" for low, high in ranges)


_IN_CLASS = {"d": "0-9", "w": "A-Za-z0-9_", "s": _SPACE}
_OUTSIDE = {
    "d": "[0-9]",
    "w": "[A-Za-z0-9_]",
    "s": f"[{_SPACE}]",
    "S": f"[^{_ANY_SPACE}]",
}
# ECMA-262's "." without the s flag: anything but a line terminator. Rust's and Python's match \r too.
_DOT = "[^\\n\\r\\u2028\\u2029]"
_END = "(?!\\n)$"
_ANCHORS = {"A": "^", "z": _END, "Z": _END}
_FLAG_LETTERS = set("aiLmsux-")


class Untranslatable(ValueError):
    """A pattern construct that no published pattern can state as pydantic reads it.

    Parameters:
      why: What the construct is and why validators would disagree.
      instead: How to write it instead.
    """

    def __init__(self, why: str, instead: str) -> None:
        super().__init__(f"{why}; write {instead}")
        self.why = why
        self.instead = instead


@functools.lru_cache(maxsize=1024)
def translate(pattern: str) -> str:
    """``pattern`` written so that ECMA-262, Python's ``re`` and Rust's ``regex`` read it alike.

    Raises :class:`Untranslatable` for what cannot be.

    Parameters:
      pattern: A ``pattern`` as the user declared it.
    """
    return _translated(pattern)[0]


def needs_send_check(pattern: str) -> bool:
    """True when pydantic may accept text that ``translate(pattern)`` refuses (so send must check it).

    Parameters:
      pattern: A ``pattern`` as the user declared it.
    """
    return _translated(pattern)[1]


@functools.lru_cache(maxsize=1024)
def _translated(pattern: str) -> tuple[str, bool]:
    out: list[str] = []
    narrowed = False
    in_class = negated = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            letter = pattern[i + 1]
            i += 2
            if letter in "bB" and not in_class:
                raise Untranslatable(
                    f"\\{letter} (a word boundary) is Unicode-aware in pydantic and ASCII in JSON Schema "
                    "validators, and cannot be spelled out without lookbehind, which not every validator has",
                    "the boundary explicitly, e.g. ^ / $ or a separator class such as [ ,.;]",
                )
            if letter in "pP":
                raise Untranslatable(
                    f"\\{letter}{{...}} (a Unicode property) means a literal letter to ECMA-262 validators "
                    "without the u flag (ajv)",
                    "the characters as an explicit class, e.g. [A-Za-z]",
                )
            if in_class and negated and letter in "ds":
                # In [^...] the class is refused: what it refuses must be all that any dialect calls
                # a digit or whitespace, so the published class is never looser than pydantic's.
                out.append(f"0-9{_digit_ranges()}" if letter == "d" else _ANY_SPACE)
                narrowed = True
            elif in_class and letter in _IN_CLASS and not (negated and letter == "w"):
                out.append(_IN_CLASS[letter])
                narrowed = True
            elif letter == "W" or (in_class and negated and letter == "w"):
                construct = "[^\\w]" if in_class else "\\W"
                raise Untranslatable(
                    f"{construct} (not a word character) is every character but "
                    "Unicode letters and digits to pydantic, and also accepts them to ECMA-262 validators (ajv)",
                    "the class spelled out, e.g. [^A-Za-z0-9_] (which pydantic reads alike)",
                )
            elif in_class and letter in "DS":
                raise Untranslatable(
                    f"\\{letter} inside [...] has no form that ECMA-262 and pydantic's regex read alike",
                    "[^...] with the class spelled out (\\D is [^0-9], \\W is [^A-Za-z0-9_]) or an "
                    "alternation, e.g. (?:[^0-9]|x)",
                )
            elif not in_class and letter == "D":
                # pydantic's \D refuses every script's digits: so does the published one.
                out.append(f"[^{_digit_ranges()}]")
                narrowed = True
            elif not in_class and letter in _OUTSIDE:
                out.append(_OUTSIDE[letter])
                narrowed = True
            elif not in_class and letter in _ANCHORS:
                out.append(_ANCHORS[letter])
            else:
                out.append(char + letter)
            continue
        if in_class:
            if char == "[" or pattern.startswith(("&&", "--", "~~"), i):
                raise Untranslatable(
                    f"{pattern[i : i + 2]!r} inside [...] is a nested class, POSIX class or set operation to "
                    "pydantic's regex and literal text to ECMA-262",
                    "the class spelled out, with a literal [ escaped as \\[",
                )
            in_class = char != "]"
            out.append(char)
        elif char == "[":
            if pattern.startswith(("[]", "[^]"), i):
                raise Untranslatable(
                    "a class opening with ] is a literal ] to Python and Rust, an empty class to ECMA-262",
                    "the ] escaped, e.g. [\\]a]",
                )
            in_class = True
            negated = pattern.startswith("[^", i)
            out.append(char)
        elif char == ".":
            out.append(_DOT)
            narrowed = True
        elif char == "$":
            out.append(_END)
        elif char == "(" and pattern.startswith("(?", i):
            nxt = pattern[i + 2 : i + 3]
            if nxt == "P" or (nxt in _FLAG_LETTERS and nxt):
                raise Untranslatable(
                    f"{pattern[i : i + 4]!r}... is Python or Rust syntax (a named group or inline flag) "
                    "that ECMA-262 validators (ajv) cannot compile",
                    "a plain group (?:...) and the flag's effect spelled out, e.g. [Aa] for (?i)a",
                )
            # Lookarounds send pydantic to Python's re, whose $ also matches before a final newline.
            narrowed = narrowed or nxt in "=!<"
            out.append(char)
        else:
            out.append(char)
        i += 1
    return "".join(out), narrowed
