"""Dramatiq's message as actorschema relies on it: its fields, the options it nests or writes, the option rules.

Everything actorschema knows about the format of a Dramatiq message is here,
once: the fields (:data:`MESSAGE_FIELD_ORDER`), the options in which Dramatiq
nests whole messages or names actors it calls (:data:`NESTING_OPTIONS`), the
options it writes itself (:data:`BOOKKEEPING_OPTIONS`), the rules of the
envelope (:func:`envelope_violations`) and of every option it reads (the table
:data:`OPTIONS`). The send side, the published schema and the worker all read
them from here: no other module names an option; they use its constants
(:data:`PIPE_TARGET`, :data:`TRACEBACK`...) and readers (:func:`next_step`,
:func:`step_ignores_result`, :func:`calls_on_success`...), and the schema takes
the envelope's rules as :func:`field_schemas` and :func:`delay_queue_rule`.

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

import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from dramatiq import Message

from .errors import Violation, type_name
from .formats import UUID_PATTERN, UUID_TEXT
from .paths import render_path

__all__ = [
    "BOOKKEEPING_OPTIONS",
    "CALLBACKS",
    "CONSUMED_OPTIONS",
    "DELAY_QUEUE_SUFFIX",
    "GROUP_CALLBACKS",
    "MESSAGE_FIELDS",
    "MESSAGE_FIELD_ORDER",
    "NESTED_MESSAGES",
    "NESTING_OPTIONS",
    "ON_SUCCESS",
    "OPTIONS",
    "PIPE_TARGET",
    "REDIS_MESSAGE_ID",
    "TRACEBACK",
    "WORKER_RULES",
    "OptionRule",
    "Side",
    "calls_on_success",
    "delay_queue_rule",
    "describe",
    "envelope_violations",
    "field_schemas",
    "field_violations",
    "group_callbacks",
    "is_json_integer",
    "is_uuid_text",
    "message_fields",
    "next_step",
    "only_redis_message_id",
    "option_violations",
    "options_schema",
    "options_violations",
    "step_ignores_result",
]

#: The fields of a Dramatiq message, as ``Message.asdict()`` returns them, in Dramatiq's order.
MESSAGE_FIELD_ORDER: tuple[str, ...] = tuple(field.name for field in dataclasses.fields(Message))
MESSAGE_FIELDS = frozenset(MESSAGE_FIELD_ORDER)


def message_fields(message: Message[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The message's fields with the given arguments, in Dramatiq's order (``asdict`` is slow)."""
    return {
        "queue_name": message.queue_name,
        "actor_name": message.actor_name,
        "args": args,
        "kwargs": kwargs,
        "options": message.options,
        "message_id": message.message_id,
        "message_timestamp": message.message_timestamp,
    }


#: The option in which Retries stores the last traceback: nothing reads it, so it may be trimmed.
TRACEBACK = "traceback"

#: The option under which RedisBroker stores a message, and acks and nacks it (redis.py L184, L311-327).
REDIS_MESSAGE_ID = "redis_message_id"

#: Options Dramatiq writes into a message itself: they do not count toward its size on arrival.
BOOKKEEPING_OPTIONS = frozenset(("retries", TRACEBACK, "requeue_timestamp", "eta", REDIS_MESSAGE_ID))

#: The option holding a pipeline's next step, a whole message (Pipelines builds ``Message(**pipe_target)``).
PIPE_TARGET = "pipe_target"
#: The option holding a group's completion callbacks, whole messages.
GROUP_CALLBACKS = "group_completion_callbacks"
#: The option naming the actor Callbacks sends a successful result to.
ON_SUCCESS = "on_success"

#: The options in which Dramatiq nests whole messages: a pipeline's next step, a group's callbacks.
NESTED_MESSAGES = frozenset((PIPE_TARGET, GROUP_CALLBACKS))

#: The options naming an actor Dramatiq calls with (the message as a dict, then what it says here).
CALLBACKS = (
    (ON_SUCCESS, "the result"),
    ("on_failure", "the exception as a dict"),
    ("on_retry_exhausted", "the retry counts as a dict"),
)

#: Every option in which Dramatiq nests a message or names an actor it calls on the worker.
NESTING_OPTIONS = NESTED_MESSAGES | {name for name, _ in CALLBACKS}


def next_step(options: Mapping[str, Any]) -> dict[str, Any] | None:
    """The pipeline's next step nested in ``options``, when it is a message object Pipelines can build."""
    step = options.get(PIPE_TARGET)
    return step if isinstance(step, dict) else None


def step_ignores_result(step: Mapping[str, Any], actor_options: Mapping[str, Any]) -> bool:
    """Does the next pipeline ``step`` run without the result of the actor (with ``actor_options``) before it?

    As Dramatiq's Pipelines reads it (pipelines.py L54): the step's own
    ``pipe_ignore``, or that of the actor whose result it would receive.
    """
    step_options = step.get("options")
    own = isinstance(step_options, dict) and step_options.get("pipe_ignore")
    return bool(own or actor_options.get("pipe_ignore"))


def group_callbacks(options: Mapping[str, Any]) -> list[Any] | tuple[Any, ...] | None:
    """The group completion callbacks nested in ``options``, when they are a sequence."""
    callbacks = options.get(GROUP_CALLBACKS)
    return callbacks if isinstance(callbacks, list | tuple) else None


def calls_on_success(options: Mapping[str, Any], actor_options: Mapping[str, Any]) -> bool:
    """Will Callbacks send the result on to an ``on_success`` actor (the message's, or its actor's)?"""
    return bool(options.get(ON_SUCCESS) or actor_options.get(ON_SUCCESS))


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


def _non_negative_number(value: Any) -> bool:
    return _number(value) and value >= 0


def _non_negative_integer(value: Any) -> bool:
    return is_json_integer(value) and value >= 0


_PYTHON_TYPES: dict[str, type] = {"string": str, "boolean": bool, "object": dict, "array": list}


def _at_least_zero(
    name: str,
    expected: str,
    dramatiq: str,
    *,
    integer: bool = False,
    nullable: bool = False,
    **tolerance: Any,
) -> OptionRule:
    """An option Dramatiq reads as a number (or an integer) >= 0; ``nullable`` when null means its default."""
    test = _non_negative_integer if integer else _non_negative_number
    kind = "integer" if integer else "number"
    return OptionRule(
        name,
        _optional(test) if nullable else test,
        {"type": [kind, "null"] if nullable else kind, "minimum": 0},
        expected,
        dramatiq,
        **tolerance,
    )


def _typed_or_null(
    name: str, kind: str, expected: str, dramatiq: str, *, items: Any = None, **tolerance: Any
) -> OptionRule:
    """An option Dramatiq reads as a value of one JSON type (``kind``), or null."""
    python_type = _PYTHON_TYPES[kind]
    schema: dict[str, Any] = {"type": [kind, "null"]}
    if items is not None:
        schema["items"] = items
    return OptionRule(
        name, lambda v: v is None or type(v) is python_type, schema, expected, dramatiq, **tolerance
    )


def _worker_runs_any(why: str) -> dict[str, Any]:
    """The tolerance of an option whose value the worker runs whatever it is, and why."""
    return {"worker": _anything, "send_only": why}


_UNREAD = _worker_runs_any("nothing in Dramatiq reads it")


def _rules() -> list[OptionRule]:
    # min_backoff and max_backoff are not nullable: Retries reads them with .get(name, default)
    # and takes min(max_backoff, 7 days) (retries.py L142-144), so null raises in the hook.
    return [
        _at_least_zero(
            "retries",
            "an integer >= 0 (how many times the message was retried)",
            "Retries adds 1 to it and compares it with max_retries (retries.py L108-121); text loses the retry",
            integer=True,
        ),
        _at_least_zero(
            "max_retries",
            "a number >= 0, or null for no limit",
            "Retries compares retries >= max_retries (retries.py L114-121); null retries forever",
            nullable=True,
        ),
        _at_least_zero(
            "min_backoff",
            "a number of milliseconds >= 0",
            "Retries multiplies it into the backoff (retries.py L142, common.py compute_backoff)",
        ),
        _at_least_zero(
            "max_backoff",
            "a number of milliseconds >= 0",
            "Retries takes min(max_backoff, 7 days) (retries.py L143-144)",
        ),
        _at_least_zero(
            "time_limit",
            "a number of milliseconds >= 0 (0 or null: the actor's or the default limit)",
            "TimeLimit reads `time_limit or the actor's` (time_limit.py L91): 0 and null mean the default; "
            "text raises in the hook and the actor runs with no limit",
            nullable=True,
        ),
        _at_least_zero(
            "max_age",
            "a number of milliseconds >= 0 (0 or null: the actor's or the default)",
            "AgeLimit reads `max_age or the actor's` and compares it with the age (age_limit.py L47-51)",
            nullable=True,
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
            worker=_optional(_non_negative_integer),
            send_only="above 255 only RabbitMQ fails (when it re-enqueues a retry); the worker runs it",
            worker_expected="an integer >= 0, or null",
        ),
        _at_least_zero(
            "eta",
            "when the message is due, in milliseconds since the epoch (as `delay=` sets it)",
            "the worker delays the message until eta; a non-number is logged and replaced with now "
            "(worker.py L369-378)",
            **_worker_runs_any(
                "the worker replaces a bad eta with now and runs the message, as Dramatiq does"
            ),
        ),
        OptionRule(
            REDIS_MESSAGE_ID,
            lambda v: type(v) is str and v != "",
            {"type": "string", "minLength": 1},
            "the id the message is stored under (RedisBroker sets it)",
            "RedisBroker acks and nacks by it (redis.py L184, L311-327)",
        ),
        _at_least_zero(
            "delay",
            "a number of milliseconds >= 0, or null",
            "Pipelines enqueue the next step with delay=options.delay (pipelines.py L58)",
            nullable=True,
        ),
        _typed_or_null(
            "pipe_ignore",
            "boolean",
            "true or false",
            "Pipelines test it for truth (pipelines.py L54)",
            **_worker_runs_any("Dramatiq only tests it for truth, so the worker runs any value"),
        ),
        _typed_or_null(
            PIPE_TARGET,
            "object",
            "the next step's message (pipeline() sets it)",
            "Pipelines build Message(**pipe_target) (pipelines.py L51-53); nested messages are checked whole",
        ),
        _typed_or_null(
            "group_completion_uuid",
            "string",
            "the group's id (group.run() sets it)",
            "GroupCallbacks keys its barrier by it (group_callbacks.py L50-55)",
        ),
        _typed_or_null(
            GROUP_CALLBACKS,
            "array",
            "the callbacks' messages (group.run() sets them)",
            "GroupCallbacks enqueues Message(**callback) for each (group_callbacks.py L56-58)",
            items={"type": "object"},
        ),
        *(
            _typed_or_null(
                name,
                "string",
                "an actor name",
                f"Callbacks/Retries send the message to broker.get_actor({name}) ({where})",
            )
            for name, where in (
                (ON_SUCCESS, "callbacks.py L44"),
                ("on_failure", "callbacks.py L50"),
                ("on_retry_exhausted", "retries.py L126"),
            )
        ),
        _typed_or_null(
            TRACEBACK,
            "string",
            "text (Retries writes the last traceback)",
            "Retries writes it (retries.py L111); nothing reads it",
            **_UNREAD,
        ),
        _at_least_zero(
            "requeue_timestamp",
            "milliseconds since the epoch (Retries writes it)",
            "Retries writes it (retries.py L112); nothing reads it",
            integer=True,
            **_UNREAD,
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
_REDIS_ID_ACCEPTS = OPTIONS[REDIS_MESSAGE_ID].accepts


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


#: How deep pipeline steps and group callbacks nested in options are checked.
_MAX_NESTED = 64


def _rule(test: Callable[[Any], bool], expected: str) -> tuple[Callable[[Any], bool], str]:
    return test, expected


#: The options whose wrong value breaks Dramatiq, with what they must be: the worker's side of
#: the one table above.
CONSUMED_OPTIONS = WORKER_RULES

#: Whether a text is a UUID as :data:`~actorschema.formats.UUID_PATTERN` reads it (fullmatch:
#: 4x faster than searching the anchored pattern, on every send and every arrival).
is_uuid_text = re.compile(UUID_TEXT).fullmatch

#: The suffix of a queue's delay queue, where Dramatiq holds messages until their ``eta``.
DELAY_QUEUE_SUFFIX = ".DQ"


def field_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of the fields whose rule is the same for every actor (new dicts each call).

    They are the field rules below as the published schema states them.
    """
    return {
        "message_id": {"type": "string", "format": "uuid", "pattern": UUID_PATTERN},
        "message_timestamp": {"type": "integer", "minimum": 0},
    }


def delay_queue_rule(queue_name: str | None = None) -> dict[str, Any]:
    """The schema's form (``if``/``then``) of the rule that a message in the delay queue says when it is due.

    Parameters:
      queue_name: The actor's queue, whose delay queue the rule is about; None for
        any queue's (a nested message, bound for the next actor's queue).
    """
    if queue_name is None:
        in_delay_queue: dict[str, Any] = {
            "type": "string",
            "pattern": re.escape(DELAY_QUEUE_SUFFIX) + "(?!\\n)$",
        }
    else:
        in_delay_queue = {"const": queue_name + DELAY_QUEUE_SUFFIX}
    return {
        "if": {"properties": {"queue_name": in_delay_queue}, "required": ["queue_name"]},
        "then": {
            "properties": {
                "options": {
                    "type": "object",
                    "properties": {"eta": OPTIONS["eta"].schema},
                    "required": ["eta"],
                }
            }
        },
    }


_ETA_HINT = "options.eta: when it is due, an integer of milliseconds since the epoch"

# One rule per field, the one the published schema states (schema.py, message_schema) and
# ``actorschema validate`` applies: a producer whose validator accepts a message's envelope has
# it accepted here. The schema is per actor and says more about the fields the worker checks
# elsewhere: actor_name is the actor's (the worker looks the actor up), queue_name is its queue
# or delay queue (the worker requires the very queue it consumed from), args and kwargs have the
# actor's parameters (consume/arguments.py).
_FIELD_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "queue_name": _rule(lambda v: type(v) is str and v != "", "a queue name"),
    "actor_name": _rule(lambda v: type(v) is str and v != "", "an actor name"),
    "args": _rule(lambda v: type(v) in (list, tuple), "an array"),
    "kwargs": _rule(lambda v: type(v) is dict, "an object"),
    "options": _rule(lambda v: type(v) is dict, "an object"),
    # Dramatiq writes str(uuid4()); the schema asks producers for a UUID, so the worker does too.
    "message_id": _rule(
        lambda v: type(v) is str and is_uuid_text(v) is not None, "a new UUID, e.g. str(uuid.uuid4())"
    ),
    "message_timestamp": _rule(
        lambda v: is_json_integer(v) and v >= 0, "an integer: milliseconds since the epoch"
    ),
}


#: The fields a message carries besides its arguments and options: what the worker's envelope rules say of each.
_OWN_FIELDS = ("queue_name", "actor_name", "message_id", "message_timestamp")


def field_violations(message: Message[Any]) -> list[Violation]:
    """What the worker would refuse in ``message``'s own fields (not its arguments or options).

    ``send()`` always builds valid ones; a message built by hand and handed to
    ``broker.enqueue`` may not (``message_id="abc"``, a negative
    ``message_timestamp``). The send side asks this so such a message is
    refused there, rather than accepted and then dead-lettered by every worker.

    Parameters:
      message: The message being enqueued.
    """
    fields = vars(message)  # one dict lookup each instead of the frozen dataclass's attribute reads
    queue, message_id, timestamp = fields["queue_name"], fields["message_id"], fields["message_timestamp"]
    actor, options = fields["actor_name"], fields["options"]
    if (
        type(message_id) is str
        and is_uuid_text(message_id) is not None
        and type(timestamp) is int
        and timestamp >= 0
        and type(queue) is str
        and queue
        and type(actor) is str
        and actor
        and (not queue.endswith(DELAY_QUEUE_SUFFIX) or (type(options) is dict and "eta" in options))
    ):
        return []
    found = []
    for name in _OWN_FIELDS:
        test, expected = _FIELD_RULES[name]
        value = getattr(message, name)
        if not test(value):
            found.append(Violation(name, f"is {describe(value)}", expected))
    found.extend(_missing_eta(queue, options, ()))
    return found


def envelope_violations(
    fields: Any,
    *,
    queue_name: str | None = None,
    prefix: tuple[Any, ...] = (),
    depth: int = 0,
    side: Side = "worker",
) -> list[Violation]:
    """What is wrong with a message's envelope, each with its path; empty when nothing is.

    Parameters:
      fields: The decoded message (a mapping of its fields).
      queue_name: The queue it was consumed from, which its ``queue_name`` must name.
      prefix: Where the message sits (for messages nested in options).
      side: Whose option rules apply: the worker's, or the send side's (stricter
        in places, see :data:`OPTIONS`).
    """
    if side == "worker" and _plainly_valid(fields, queue_name):
        return []
    if not isinstance(fields, Mapping):
        where = render_path(prefix)
        return [
            Violation(
                where, f"is {describe(fields)}, not a message object", "a JSON object with the message fields"
            )
        ]
    found: list[Violation] = []
    for name in MESSAGE_FIELD_ORDER:
        if name not in fields:
            found.append(Violation(render_path((*prefix, name)), "is missing", _FIELD_RULES[name][1]))
    for name in fields:
        if name not in MESSAGE_FIELDS:
            problem = "is not a field of a Dramatiq message"
            found.append(
                Violation(render_path((*prefix, name)), problem, "only " + ", ".join(MESSAGE_FIELD_ORDER))
            )
    for name, (test, expected) in _FIELD_RULES.items():
        if name in fields and not test(fields[name]):
            found.append(Violation(render_path((*prefix, name)), f"is {describe(fields[name])}", expected))
    actual = fields.get("queue_name")
    if queue_name is not None and type(actual) is str and actual != queue_name:
        problem = f"names the queue {actual!r}, but the message was consumed from {queue_name!r}"
        found.append(Violation(render_path((*prefix, "queue_name")), problem, repr(queue_name)))
    options = fields.get("options")
    found.extend(_missing_eta(actual, options, prefix))
    if type(options) is dict:
        found.extend(_option_violations(options, (*prefix, "options"), depth, side))
    return found


def _missing_eta(queue: Any, options: Any, prefix: tuple[Any, ...]) -> list[Violation]:
    """The schema's rule: a message in a delay queue says when it is due (Dramatiq's own always do)."""
    if (
        type(queue) is str
        and queue.endswith(DELAY_QUEUE_SUFFIX)
        and type(options) is dict
        and "eta" not in options
    ):
        problem = "is missing: a message in a delay queue says when it is due"
        return [Violation(render_path((*prefix, "options", "eta")), problem, _ETA_HINT)]
    return []


def only_redis_message_id(options: Mapping[str, Any]) -> bool:
    """True when ``options`` hold nothing but a valid ``redis_message_id``: all RedisBroker adds to a plain send.

    Such options need no other check on send (nothing nested, no other rule of
    the table applies), which lets the gateway's exact-scalar lane take the
    commonest message on Redis too.

    Parameters:
      options: A message's options (a dict).
    """
    return len(options) == 1 and _REDIS_ID_ACCEPTS(options.get(REDIS_MESSAGE_ID))


def options_violations(options: Any, *, side: Side) -> list[Violation]:
    """What is wrong with a message's ``options``, nested messages (pipeline steps, group callbacks) included.

    Parameters:
      options: The message's options (anything but a dict, or a subclass, is itself the violation).
      side: ``"send"`` or ``"worker"``: whose rules of the table apply.
    """
    if not isinstance(options, dict):
        expected = _FIELD_RULES["options"][1]
        return [Violation("options", f"is {describe(options)}", expected)]
    return _option_violations(options, ("options",), 0, side)


def _plainly_valid(fields: Any, queue_name: str | None) -> bool:
    """The common case proved in a few type checks; False sends the message down the full check."""
    if type(fields) is not dict or fields.keys() != MESSAGE_FIELDS:
        return False
    queue, actor, options = fields["queue_name"], fields["actor_name"], fields["options"]
    timestamp, message_id = fields["message_timestamp"], fields["message_id"]
    if not (
        type(queue) is str
        and queue
        and (queue_name is None or queue == queue_name)
        and type(actor) is str
        and actor
        and type(fields["args"]) in (list, tuple)
        and type(fields["kwargs"]) is dict
        and type(options) is dict
        and type(message_id) is str
        and is_uuid_text(message_id) is not None
        and type(timestamp) is int
        and timestamp >= 0
        and ("eta" in options or not queue.endswith(DELAY_QUEUE_SUFFIX))
    ):
        return False
    for name, value in options.items():
        if name in NESTED_MESSAGES:
            return False
        rule = CONSUMED_OPTIONS.get(name)
        if rule is not None and not rule[0](value):
            return False
    return True


def _option_violations(
    options: dict[str, Any], where: tuple[Any, ...], depth: int, side: Side
) -> list[Violation]:
    found = option_violations(options, where, side=side)
    if depth >= _MAX_NESTED:
        return found
    # Pipelines and group callbacks build Messages from these: a broken one is lost silently.
    step = options.get(PIPE_TARGET)
    if step is not None:
        found += envelope_violations(step, prefix=(*where, PIPE_TARGET), depth=depth + 1, side=side)
    callbacks = options.get(GROUP_CALLBACKS)
    if callbacks is not None:
        if type(callbacks) is not list:
            path = render_path((*where, GROUP_CALLBACKS))
            found.append(Violation(path, f"is {describe(callbacks)}", "an array of messages"))
        else:
            for index, callback in enumerate(callbacks):
                nested = (*where, GROUP_CALLBACKS, index)
                found += envelope_violations(callback, prefix=nested, depth=depth + 1, side=side)
    return found
