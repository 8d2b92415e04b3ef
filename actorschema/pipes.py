"""Pipelines on send: does the next step take the result the previous step declares?

Dramatiq appends a step's return value to the next step's positional
arguments (``pipelines.py``: ``next_message.copy(args=args + (result,))``),
after the first step has run. A next step whose parameter cannot take that
result then fails on the worker, once the work before it is done and its
message acked. With a return annotation (:mod:`actorschema.results`), what
the result is going to be is known when the pipeline is sent, so
:func:`result_misfit` checks it then: the parameter that receives the result
must accept every value the result's written form may be (the backward direction of
:mod:`actorschema.compat`, which judges schema changes the same way).

What is not checkable on send, and stays the worker's: a step without a
return annotation (its result is only known once it returns), a result that
fits the type but not a constraint the schemas cannot compare, and a
parameter that accepts a result only for some values of a union.
"""

from __future__ import annotations

from .contract import ActorContract, Parameter, hint_text
from .limits import SizeLimit
from .schema import message_schema, written_schema

__all__ = ["result_misfit"]


def result_misfit(owner: ActorContract, result: Parameter, step: ActorContract, index: int) -> str | None:
    """Why ``step`` cannot take ``owner``'s declared result as positional argument ``index``; None when it can.

    Parameters:
      owner: The contract of the actor whose result is handed on.
      result: Its result, from its return annotation (``ResultContract.parameter``).
      step: The contract of the next step's actor.
      index: Where Dramatiq appends the result: the number of positional values the step was given.
    """
    positional = step.positional
    declared = f"{owner.actor_name!r} declares its result as {hint_text(result.hint)}"
    if index < len(positional):
        target = positional[index]
    elif step.var_positional is not None:
        target = step.var_positional
    else:
        return None  # no room for the result at all: the step's own check (awaiting_result) says so
    if target.adapter is None or target.hint == result.hint:
        return None  # any strict JSON (the result is held to it), or the very type
    # Imported here: only a producer that sends a pipeline of annotated steps needs compat (and jsonschema).
    from .compat.compare import narrowed

    given = written_schema(result)
    taking = message_schema(step, SizeLimit(None, "global"))
    if target is step.var_positional:
        receiving = taking["properties"]["args"].get("items", {})
    else:
        receiving = taking["properties"]["kwargs"]["properties"][target.name]
    refused = narrowed(given, receiving, given, taking)
    if not refused:
        return None
    return (
        f"{declared}, and Dramatiq appends it as positional argument {index} of {step.actor_name!r}, "
        f"parameter {target.name!r} ({hint_text(target.hint)}), which does not take every such result: "
        + "; ".join(refused)
    )
