"""Where offloaded values live: the store interface, a local directory, and Redis.

A store keeps blobs (bytes) under keys. The claim check writes a blob before
its message is enqueued, the worker reads it, the worker deletes it when the
message succeeds, and ``actorschema claims gc`` lists blobs to find orphans.
Stores are named: the name travels in every reference, so a worker can read
from several (a new store while the old one drains).

The S3-compatible store is in :mod:`actorschema.claims.s3` (extra ``actorschema[s3]``).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from .reference import _KEY, _STORE, KEY_PATTERN

__all__ = ["DirectoryStore", "RedisStore", "Store", "StoreError"]


class StoreError(Exception):
    """A store could not do what it was asked (unreachable, refused, misconfigured)."""


@runtime_checkable
class Store(Protocol):
    """What the claim check needs from a blob store.

    Every method may raise; the claim check turns an error into a refused
    send (nothing enqueued) or a dead-lettered message (never a run).
    """

    #: The store's name, carried in every reference to its blobs.
    name: str

    def put(self, key: str, blob: bytes) -> None:
        """Store ``blob`` under ``key``, whole or not at all."""

    def get(self, key: str) -> bytes | None:
        """The blob under ``key``; None when there is none."""

    def delete(self, key: str) -> None:
        """Remove the blob under ``key``; a missing blob is not an error."""

    def expire(self, key: str, ttl_ms: int) -> None:
        """Let the blob under ``key`` go after ``ttl_ms`` (a dead-lettered message's blob).

        A store without expiry does nothing: ``actorschema claims gc`` removes
        the blob once no queue (dead-letter queues included) references it.
        """

    def blobs(self) -> Iterator[tuple[str, float]]:
        """Every blob's key and when it was written (seconds since the epoch)."""
        ...  # pragma: no cover


def check_name(name: str) -> str:
    if not _STORE.match(name):
        raise ValueError(f"store name {name!r} must match {_STORE.pattern}")
    return name


def check_key(key: str) -> str:
    # The pattern has no '/' and cannot be '.' or '..': a key never leaves a directory store.
    if type(key) is not str or not _KEY.match(key):
        raise ValueError(f"blob key {key!r} must match {KEY_PATTERN}")
    return key


class DirectoryStore:
    """Blobs as files in one local directory: the embedded default, for one machine and for tests.

    A blob is written to a temporary file beside its final name and renamed
    into place, so a reader never sees half of one. Files whose name starts
    with ``.`` (temporary files) are not blobs.

    Parameters:
      path: The directory; created if missing.
      name: The store's name in references.
    """

    def __init__(self, path: str | os.PathLike[str], *, name: str = "dir") -> None:
        self.name = check_name(name)
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"DirectoryStore({str(self.path)!r}, name={self.name!r})"

    def put(self, key: str, blob: bytes) -> None:
        target = self.path / check_key(key)
        handle, temporary = tempfile.mkstemp(dir=self.path, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(blob)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes | None:
        try:
            return (self.path / check_key(key)).read_bytes()
        except FileNotFoundError:
            return None

    def delete(self, key: str) -> None:
        (self.path / check_key(key)).unlink(missing_ok=True)

    def expire(self, key: str, ttl_ms: int) -> None:
        pass  # no expiry on a directory: gc removes the blob once nothing references it

    def blobs(self) -> Iterator[tuple[str, float]]:
        with os.scandir(self.path) as entries:
            for entry in entries:
                if not entry.name.startswith(".") and entry.is_file() and _KEY.match(entry.name):
                    yield entry.name, entry.stat().st_mtime


class RedisStore:
    """Blobs in Redis: the broker's own server or another.

    Each blob is a string key ``<prefix>:blob:<key>``; a sorted set
    ``<prefix>:index`` lists every key with the time it was written, for
    ``gc`` (a blob that expired leaves its index entry behind; gc drops it).

    Parameters:
      client: A ``redis.Redis`` client (``RedisBroker(...).client`` reuses the broker's).
      url: A Redis URL, when no client is given.
      name: The store's name in references.
      prefix: The prefix of every key the store writes.
    """

    def __init__(
        self,
        client: Any = None,
        *,
        url: str | None = None,
        name: str = "redis",
        prefix: str = "actorschema:claims",
    ) -> None:
        if (client is None) == (url is None):
            raise ValueError("RedisStore needs a client or a url (one of them)")
        if client is None and url is not None:
            import redis

            client = redis.Redis.from_url(url)
        self.client = client
        self.name = check_name(name)
        self.prefix = prefix
        self._index = f"{prefix}:index"

    def __repr__(self) -> str:
        return f"RedisStore(name={self.name!r}, prefix={self.prefix!r})"

    def _blob(self, key: str) -> str:
        return f"{self.prefix}:blob:{check_key(key)}"

    def put(self, key: str, blob: bytes) -> None:
        with self.client.pipeline(transaction=True) as pipe:
            pipe.set(self._blob(key), blob)
            pipe.zadd(self._index, {key: time.time()})
            pipe.execute()

    def get(self, key: str) -> bytes | None:
        value = self.client.get(self._blob(key))
        if value is None or isinstance(value, bytes):
            return value
        return str(value).encode()  # a client that decodes responses

    def delete(self, key: str) -> None:
        with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(self._blob(key))
            pipe.zrem(self._index, key)
            pipe.execute()

    def expire(self, key: str, ttl_ms: int) -> None:
        self.client.pexpire(self._blob(key), ttl_ms)

    def blobs(self) -> Iterator[tuple[str, float]]:
        for member, score in self.client.zscan_iter(self._index):
            key = member.decode() if isinstance(member, bytes) else str(member)
            yield key, float(score)
