"""What ``actorschema generate`` writes for an app, and ``check`` compares.

One ``<actor_name>.schema.json`` per actor, one ``<actor_name>.result-schema.json``
per actor with a return annotation (other than ``-> None``), and an
``index.json`` (actors, queues, size limits, schema paths relative to the
index, a content hash of each schema; ``result_schema`` and ``result_sha256``
for the result schemas): the layout of :mod:`actorschema.catalogue`, which
writes, compares and reads the folder. Output is deterministic (no timestamps
or absolute paths), so the same app always gives byte-identical files and a
diff in review is a real change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dramatiq.broker import Broker

from .catalogue import INDEX, RESULT_SUFFIX, SUFFIX, digest, dump, index_document
from .contract import ActorContract, ContractError, Parameter, actor_function
from .gateway import PayloadGateway
from .limits import DEFAULT_MAX_MESSAGE_BYTES, SizeLimit, resolve_limit
from .results import ResultContract
from .schema import message_schema, result_schema

__all__ = ["ActorEntry", "app_actors", "render"]


@dataclass(frozen=True)
class ActorEntry:
    """One actor of an app, as the generator sees it.

    Parameters:
      contract: The contract the gateway enforces (or would, with its defaults).
      limit: The size limit that applies to its messages.
      way_out_reason: For an actor declared with ``payload_contract="json"``: why
        its type hints do not make a contract (or that they would).
      result: Its result, from its return annotation; None without one, for
        ``-> None``, or when the annotation cannot be resolved here.
    """

    contract: ActorContract
    limit: SizeLimit
    way_out_reason: str | None = None
    result: Parameter | None = None


def app_actors(broker: Broker, failures: list[ContractError] | None = None) -> list[ActorEntry]:
    """Every actor declared on ``broker``, with the contract and limit its gateway uses.

    Without a gateway on the broker, the contracts and limits are those a
    default ``PayloadGateway()`` would use.

    Parameters:
      broker: The app's broker.
      failures: When given, an actor whose contract cannot be built is left out and its
        error appended here, so the other actors are still reported; when None, raised.

    Raises:
      ContractError: For an actor whose type hints cannot be made a contract
        (named with the parameter, the type, why, and the way out).
    """
    gateway = next((m for m in broker.middleware if isinstance(m, PayloadGateway)), None)
    queue_limits = gateway.queue_limits if gateway is not None else {}
    global_limit = gateway.max_message_bytes if gateway is not None else DEFAULT_MAX_MESSAGE_BYTES
    entries = []
    for name in sorted(broker.actors):
        try:
            entries.append(_entry(broker.actors[name], gateway, queue_limits, global_limit))
        except ContractError as error:
            if failures is None:
                raise
            failures.append(error)
    return entries


def _entry(
    actor: Any,
    gateway: PayloadGateway | None,
    queue_limits: Mapping[str, int | None],
    global_limit: int | None,
) -> ActorEntry:
    name = actor.actor_name
    contract = gateway.contracts.get(name) if gateway is not None else None
    namespace = gateway._namespaces.get(name) if gateway is not None else None
    if contract is None:
        contract = ActorContract.from_actor(actor, namespace)
    limit = resolve_limit(actor.options, actor.queue_name, queue_limits, global_limit)
    reason = _way_out_reason(actor, namespace) if contract.way_out else None
    results = gateway.results.get(name) if gateway is not None else None
    result = (results or ResultContract(actor)).parameter
    if result is not None and result.hint is type(None):
        result = None  # ``-> None``: nothing travels
    return ActorEntry(contract, limit, reason, result)


def _way_out_reason(actor: Any, namespace: dict[str, Any] | None) -> str:
    """What the actor's type hints would fail with, were it not for the way out."""
    try:
        ActorContract.from_function(actor_function(actor), actor.actor_name, actor.queue_name, namespace)
    except ContractError as error:
        return error.problem
    return "declared, although its type hints would make a contract"


def render(
    broker: Broker, entries: list[ActorEntry] | None = None, kept: Mapping[str, Any] | None = None
) -> dict[str, str]:
    """The files ``generate`` writes for ``broker``: name -> text.

    Parameters:
      broker: The app's broker.
      entries: Its actors, as :func:`app_actors` returns them (computed when None).
      kept: Index entries carried over as they are, by actor name: those of actors whose
        contract cannot be built now, whose last good schema stays in the folder.
    """
    files: dict[str, str] = {}
    index: dict[str, Any] = dict(kept or {})
    for entry in app_actors(broker) if entries is None else entries:
        contract = entry.contract
        name = contract.actor_name + SUFFIX
        text = dump(message_schema(contract, entry.limit))
        files[name] = text
        index[contract.actor_name] = {
            "queue": contract.queue_name,
            "schema": name,
            "sha256": digest(text),
            "max_message_bytes": entry.limit.limit,
            "limit_source": entry.limit.source,
        }
        if contract.way_out:
            index[contract.actor_name]["payload_contract"] = "json"
        index[contract.actor_name].update(_binding(contract))
        if entry.result is not None:
            result_name = contract.actor_name + RESULT_SUFFIX
            result_text = dump(result_schema(contract, entry.result))
            files[result_name] = result_text
            index[contract.actor_name]["result_schema"] = result_name
            index[contract.actor_name]["result_sha256"] = digest(result_text)
    files[INDEX] = dump(index_document(index))
    return files


def _binding(contract: ActorContract) -> dict[str, Any]:
    """How a message in the legacy positional form binds: what ``actorschema validate`` needs to do as the worker does.

    The schema describes canonical messages only, and its properties are sorted: the
    parameter order is not in it.
    """
    binding: dict[str, Any] = {}
    if contract.positional:
        binding["positional"] = [p.name for p in contract.positional]
    if contract.positional_only:
        binding["positional_only"] = len(contract.positional_only)
    if contract.var_positional is not None:
        binding["var_positional"] = True
    return binding
