"""A small app with the claim check on, for the README's ``actorschema claims gc`` command.

Its blobs go to a directory under the system's temporary folder; a real app
points ``DirectoryStore`` at a shared volume, or uses ``RedisStore`` or
``actorschema.claims.s3.S3Store``, and a Redis or RabbitMQ broker.
"""

import os
import tempfile

import dramatiq
from dramatiq.brokers.stub import StubBroker

from actorschema import PayloadGateway
from actorschema.claims import ClaimCheck, DirectoryStore

store = DirectoryStore(os.path.join(tempfile.gettempdir(), "actorschema-example-claims"))
broker = StubBroker()
broker.add_middleware(PayloadGateway(claim_check=ClaimCheck(store, offload=False)))
dramatiq.set_broker(broker)


@dramatiq.actor(claim_check=True)
def ingest(document: str, source: str) -> None:
    """Store an uploaded document: large ones travel through the claim store."""
