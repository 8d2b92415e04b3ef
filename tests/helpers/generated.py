"""Schema folders generated from actors declared on the spot, as ``actorschema generate`` writes them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dramatiq
from dramatiq.brokers.stub import StubBroker

from actorschema import PayloadGateway
from actorschema.catalogue import write
from actorschema.compat import load_folder
from actorschema.generate import render

#: An actor to declare: its function, or (its function, its options).
Spec = Callable[..., Any] | tuple[Callable[..., Any], dict[str, Any]]


def generate(actors: dict[str, Spec], out: Path) -> dict[str, dict[str, Any]]:
    """Declare ``actors`` (name -> function, or (function, options)) on a fresh broker and generate their schemas.

    Parameters:
      actors: The actors by name.
      out: The folder to write (as ``actorschema generate --out``); it is read back and returned.
    """
    broker = StubBroker()
    broker.add_middleware(PayloadGateway())
    for name, spec in actors.items():
        fn, options = spec if isinstance(spec, tuple) else (spec, {})
        dramatiq.actor(fn, actor_name=name, broker=broker, **options)
    write(out, render(broker))
    return load_folder(str(out))
