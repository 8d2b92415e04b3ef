"""Compatibility of two schema folders: which changes strand queued messages or break rolling deploys.

``actorschema generate`` writes one JSON Schema per actor (the whole
Dramatiq message) and an ``index.json``. This module compares two such
folders, actor by actor and keyword by keyword, and reports every change
with a stable rule id (in the spirit of ``buf breaking``) and the
directions it breaks:

* **backward**: new workers must accept every message valid under the OLD
  schemas. Messages already queued, delayed or being retried are old data
  read by new code, so this is the mode that matters most for queues.
* **forward**: old workers must accept every message valid under the NEW
  schemas, as during a rolling deploy where new producers run beside old
  workers.
* **full**: both.

The rules follow Confluent Schema Registry's JSON Schema rules. Content
models matter: ``kwargs`` is *closed* (``additionalProperties: false``)
unless the actor takes ``**kwargs``, so adding an optional parameter is
backward-safe but breaks forward; pydantic models are *open* by default
(no ``additionalProperties``), so adding a field to one breaks backward
(an old message may carry that key with any value) and removing one breaks
forward. Widening a type breaks forward only, narrowing backward only, and
anything this module cannot classify precisely is reported as
``TYPE_CHANGED`` breaking both directions: never a silent "compatible".

``oneOf`` is read as ``anyOf`` (pydantic's discriminated unions have
disjoint branches), and a union branch counts as kept only when a single
branch of the other side accepts all of it, which may report a break that
a union of several branches would in fact absorb (conservative, never the
other way round).
"""

from ..catalogue import CatalogueError, history, load_folder
from .compare import breaking, diff, diff_transitive
from .rules import CATEGORIES, RULES, Change, Mode

#: A schema folder cannot be read, or its index does not match its files (the catalogue's error).
CompatError = CatalogueError

__all__ = [
    "CATEGORIES",
    "RULES",
    "Change",
    "CompatError",
    "Mode",
    "breaking",
    "diff",
    "diff_transitive",
    "history",
    "load_folder",
]
