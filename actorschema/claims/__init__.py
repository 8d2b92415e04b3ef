"""The claim check: large argument values travel through a blob store, the queue holds a reference.

Opt in by handing a :class:`ClaimCheck` to the gateway::

    from actorschema import PayloadGateway
    from actorschema.claims import ClaimCheck, DirectoryStore

    broker.add_middleware(PayloadGateway(claim_check=ClaimCheck(DirectoryStore("/var/lib/app/claims"))))

    @dramatiq.actor(claim_check=True)
    def ingest(document: str) -> None: ...

    ingest.send("x" * 50_000_000)   # the queue holds a few hundred bytes

See :mod:`actorschema.claims.check` for the life cycle of a blob,
:mod:`actorschema.claims.reference` for the reference format, and
:mod:`actorschema.claims.gc` for removing orphans.
"""

from .check import ACTOR_OPTION, ClaimCheck, ClaimFetchFailed, Setting
from .reference import CONTENT_TYPE, MARKER, REFERENCE_SCHEMA, REFERENCE_SCHEMA_FILE, Reference
from .stores import DirectoryStore, RedisStore, Store, StoreError

__all__ = [
    # Settings and the check itself
    "ACTOR_OPTION",
    # The reference format
    "CONTENT_TYPE",
    "MARKER",
    "REFERENCE_SCHEMA",
    "REFERENCE_SCHEMA_FILE",
    "ClaimCheck",
    "ClaimFetchFailed",
    # Stores (S3Store: actorschema.claims.s3, extra actorschema[s3])
    "DirectoryStore",
    "RedisStore",
    "Reference",
    "Setting",
    "Store",
    "StoreError",
]
