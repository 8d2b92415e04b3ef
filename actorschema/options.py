"""The message options Dramatiq and its middleware read: one rule each, for send, schema and worker.

Dramatiq never validates message options: ``send_with_options(max_retries="3")``
is enqueued, then every retry decision compares text with a number and the
message is lost. Each option here has **one rule**, read off what Dramatiq
2.2 does with the value (the source line is in the rule's ``dramatiq``
text), and the rule is used three ways:

* **send** (``before_enqueue``): :func:`option_violations` with ``side="send"``
  refuses the message, with the path ``options.<name>`` and what to send;
* **schema**: :func:`options_schema` is the ``options`` object of every
  published message schema (same verdict as the send side on JSON values);
* **worker** (the envelope check): :data:`WORKER_RULES`, the worker's
  predicates.

The worker stays as tolerant as Dramatiq itself: where Dramatiq runs a value
correctly (it replaces a non-numeric ``eta`` with "now"; ``broker_priority``
is ignored outside RabbitMQ; ``pipe_ignore`` and ``traceback`` are only
tested for truth or stored), the worker accepts it and only the send side
and the schema hold producers to the value Dramatiq itself writes. Those rules
say so in ``send_only``. Options not in the table pass untouched (middleware
of your own may read them); values must still be strict JSON.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from .errors import Violation
from .paths import render_path
from .strict_json import type_name

__all__ = [
    "OPTIONS",
    "WORKER_RULES",
    "OptionRule",
    "describe",
    "is_json_integer",
    "option_violations",
    "options_schema",
]

Side = Literal["send", "worker"]


@dataclass(frozen=True)
class OptionRule:
    """What one message option must be, and why.

    Parameters:
      name: The option's name in ``message.options``.
      accepts: The send side's predicate on the value (JSON semantics: ``5.0``
        is an integer, ``true`` is not a number).
      schema: The JSON Schema fragment with exactly the verdict of ``accepts``.
      expected: What to send, as the hint of a violation.
      dramatiq: What Dramatiq does with the value (and what breaks otherwise).
      worker: The worker's predicate when it is more tolerant than the send
        side; the same as ``accepts`` when None.
      send_only: Why the send side is stricter than the worker (empty when it is not).
      worker_expected: What the worker asks for, when it differs from ``expected``.
    """

    name: str
    accepts: Callable[[Any], bool]
    schema: dict[str, Any]
    expected: str
    dramatiq: str
    worker: Callable[[Any], bool] | None = None
    send_only: str = ""
    worker_expected: str = ""

    def judges(self, side: Side) -> Callable[[Any], bool]:
        """The predicate the given side applies."""
        return self.accepts if side == "send" or self.worker is None else self.worker


def _number(value: Any) -> bool:
    return type(value) is int or (type(value) is float and math.isfinite(value))


def is_json_integer(value: Any) -> bool:
    # JSON semantics, as JSON Schema's "integer": 5 and 5.0, never true.
    return type(value) is int or (type(value) is float and value.is_integer())


def _anything(value: Any) -> bool:
    return True


def _optional(test: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or test(value)


_MS_NONNEGATIVE = {"minimum": 0}


def _rules() -> list[OptionRule]:
    non_negative_number = _optional(lambda v: _number(v) and v >= 0)
    return [
        OptionRule(
            "retries",
            lambda v: is_json_integer(v) and v >= 0,
            {"type": "integer", **_MS_NONNEGATIVE},
            "an integer >= 0 (how many times the message was retried)",
            "Retries adds 1 to it and compares it with max_retries (retries.py L108-121); text loses the retry",
        ),
        OptionRule(
            "max_retries",
            non_negative_number,
            {"type": ["number", "null"], **_MS_NONNEGATIVE},
            "a number >= 0, or null for no limit",
            "Retries compares retries >= max_retries (retries.py L114-121); null retries forever",
        ),
        OptionRule(
            "min_backoff",
            lambda v: _number(v) and v >= 0,
            {"type": "number", **_MS_NONNEGATIVE},
            "a number of milliseconds >= 0",
            "Retries multiplies it into the backoff (retries.py L142, common.py compute_backoff)",
        ),
        OptionRule(
            "max_backoff",
            lambda v: _number(v) and v >= 0,
            {"type": "number", **_MS_NONNEGATIVE},
            "a number of milliseconds >= 0",
            "Retries takes min(max_backoff, 7 days) (retries.py L143-144)",
        ),
        OptionRule(
            "time_limit",
            non_negative_number,
            {"type": ["number", "null"], **_MS_NONNEGATIVE},
            "a number of milliseconds >= 0 (0 or null: the actor's or the default limit)",
            "TimeLimit reads `time_limit or the actor's` (time_limit.py L91): 0 and null mean the default; "
            "text raises in the hook and the actor runs with no limit",
        ),
        OptionRule(
            "max_age",
            non_negative_number,
            {"type": ["number", "null"], **_MS_NONNEGATIVE},
            "a number of milliseconds >= 0 (0 or null: the actor's or the default)",
            "AgeLimit reads `max_age or the actor's` and compares it with the age (age_limit.py L47-51)",
        ),
        OptionRule(
            "throws",
            lambda v: v is None or v is False,
            {"enum": [None, False]},
            "nothing: exception classes cannot travel in JSON (declare throws on the actor)",
            "the worker tests isinstance(error, throws) (worker.py L584-587): anything truthy kills its thread",
        ),
        OptionRule(
            "broker_priority",
            _optional(lambda v: is_json_integer(v) and 0 <= v <= 255),
            {"type": ["integer", "null"], "minimum": 0, "maximum": 255},
            "an integer from 0 to 255, or null",
            "RabbitMQ publishes it as the AMQP priority, one octet (rabbitmq.py L393); other brokers ignore it",
            worker=_optional(lambda v: is_json_integer(v) and v >= 0),
            send_only="above 255 only RabbitMQ fails (when it re-enqueues a retry); the worker runs it",
            worker_expected="an integer >= 0, or null",
        ),
        OptionRule(
            "eta",
            lambda v: _number(v) and v >= 0,
            {"type": "number", **_MS_NONNEGATIVE},
            "when the message is due, in milliseconds since the epoch (as `delay=` sets it)",
            "the worker delays the message until eta; a non-number is logged and replaced with now "
            "(worker.py L369-378)",
            worker=_anything,
            send_only="the worker replaces a bad eta with now and runs the message, as Dramatiq does",
        ),
        OptionRule(
            "redis_message_id",
            lambda v: type(v) is str and v != "",
            {"type": "string", "minLength": 1},
            "the id the message is stored under (RedisBroker sets it)",
            "RedisBroker acks and nacks by it (redis.py L184, L311-327)",
        ),
        OptionRule(
            "delay",
            non_negative_number,
            {"type": ["number", "null"], **_MS_NONNEGATIVE},
            "a number of milliseconds >= 0, or null",
            "Pipelines enqueue the next step with delay=options.delay (pipelines.py L58)",
        ),
        OptionRule(
            "pipe_ignore",
            lambda v: v is None or type(v) is bool,
            {"type": ["boolean", "null"]},
            "true or false",
            "Pipelines test it for truth (pipelines.py L54)",
            worker=_anything,
            send_only="Dramatiq only tests it for truth, so the worker runs any value",
        ),
        OptionRule(
            "pipe_target",
            lambda v: v is None or type(v) is dict,
            {"type": ["object", "null"]},
            "the next step's message (pipeline() sets it)",
            "Pipelines build Message(**pipe_target) (pipelines.py L51-53); nested messages are checked whole",
        ),
        OptionRule(
            "group_completion_uuid",
            lambda v: v is None or type(v) is str,
            {"type": ["string", "null"]},
            "the group's id (group.run() sets it)",
            "GroupCallbacks keys its barrier by it (group_callbacks.py L50-55)",
        ),
        OptionRule(
            "group_completion_callbacks",
            lambda v: v is None or type(v) is list,
            {"type": ["array", "null"], "items": {"type": "object"}},
            "the callbacks' messages (group.run() sets them)",
            "GroupCallbacks enqueues Message(**callback) for each (group_callbacks.py L56-58)",
        ),
        *(
            OptionRule(
                name,
                lambda v: v is None or type(v) is str,
                {"type": ["string", "null"]},
                "an actor name",
                f"Callbacks/Retries send the message to broker.get_actor({name}) ({where})",
            )
            for name, where in (
                ("on_success", "callbacks.py L44"),
                ("on_failure", "callbacks.py L50"),
                ("on_retry_exhausted", "retries.py L126"),
            )
        ),
        OptionRule(
            "traceback",
            lambda v: v is None or type(v) is str,
            {"type": ["string", "null"]},
            "text (Retries writes the last traceback)",
            "Retries writes it (retries.py L111); nothing reads it",
            worker=_anything,
            send_only="nothing in Dramatiq reads it",
        ),
        OptionRule(
            "requeue_timestamp",
            lambda v: is_json_integer(v) and v >= 0,
            {"type": "integer", **_MS_NONNEGATIVE},
            "milliseconds since the epoch (Retries writes it)",
            "Retries writes it (retries.py L112); nothing reads it",
            worker=_anything,
            send_only="nothing in Dramatiq reads it",
        ),
    ]


#: Every option with a rule, by name.
OPTIONS: Mapping[str, OptionRule] = {rule.name: rule for rule in _rules()}

#: The worker's rules: only the options whose wrong value breaks Dramatiq; (predicate, what to send).
WORKER_RULES: Mapping[str, tuple[Callable[[Any], bool], str]] = {
    rule.name: (rule.judges("worker"), rule.worker_expected or rule.expected)
    for rule in OPTIONS.values()
    if rule.worker is not _anything
}
_SEND_RULES = {rule.name: (rule.accepts, rule.expected) for rule in OPTIONS.values()}


def option_violations(
    options: Mapping[str, Any], prefix: tuple[Any, ...] = ("options",), *, side: Side = "send"
) -> list[Violation]:
    """What is wrong with ``options`` by the table's rules, each with its path and what to send.

    Parameters:
      options: A message's options.
      prefix: Where they sit in the message.
      side: ``"send"`` (the producer's rules, as the schema) or ``"worker"``.
    """
    rules = _SEND_RULES if side == "send" else WORKER_RULES
    found = []
    for name, value in options.items():
        rule = rules.get(name)
        if rule is not None and not rule[0](value):
            found.append(Violation(render_path((*prefix, name)), f"is {describe(value)}", rule[1]))
    return found


def options_schema() -> dict[str, Any]:
    """The JSON Schema of a message's ``options``: the table's send-side rules; other options are free."""
    properties = {name: {**rule.schema, "description": rule.expected} for name, rule in OPTIONS.items()}
    return {"type": "object", "properties": properties}


_JSON_TYPES = {
    type(None): "null",
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    list: "array",
    tuple: "array",
    dict: "object",
}


def describe(value: Any) -> str:
    """``a string ('3')``: the JSON type of ``value`` and a glimpse of it."""
    name = _JSON_TYPES.get(type(value)) or type_name(value)
    text = repr(value)
    shown = text if len(text) <= 40 else text[:37] + "..."
    article = "an" if name[:1] in "aeiou" else "a"
    return f"{article} {name} ({shown})"
