"""The worker side: what a worker does with a consumed message before its actor runs.

* :mod:`~actorschema.consume.guard`: ``ConsumeGuard``, the middleware that
  checks each consumed message; it needs only the small
  :class:`~actorschema.consume.guard.Gateway` interface of the gateway that
  owns it, which builds it when a worker boots;
* :mod:`~actorschema.consume.envelope`: decoding a body strictly, and the
  envelope Dramatiq relies on;
* :mod:`~actorschema.consume.arguments`: the arguments against the actor's
  contract, with JSON semantics, converted to the declared types;
* :mod:`~actorschema.consume.deadletters`: why a message was dead-lettered,
  stored beside the dead-letter queue.

This module imports nothing: a producer that imports :mod:`actorschema`
never loads the worker side.
"""

__all__: list[str] = []
