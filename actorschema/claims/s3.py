"""Blobs in S3-compatible object storage (AWS S3, MinIO, Ceph, R2...), through boto3.

Install with ``pip install 'actorschema[s3]'``.

Why boto3 rather than obstore: boto3 reads the credentials, region and
endpoint the way every AWS tool does (environment, ``~/.aws``, instance and
pod roles), which is what a team running S3 already has configured; it is
the client the S3-protocol servers people test with (moto, MinIO) are
exercised against; and its calls are synchronous, as Dramatiq's worker
threads are. obstore is faster and also speaks GCS and Azure, but adds a
second credential story; a store for it is a few lines against
:class:`~actorschema.claims.stores.Store` if one is wanted.

S3 has no per-object expiry: a dead-lettered message's blob stays until
``actorschema claims gc`` finds no queue referencing it (or a bucket
lifecycle rule on ``prefix`` removes it).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .stores import check_key, check_name

__all__ = ["S3Store"]


class S3Store:
    """Blobs as objects under ``prefix`` in one bucket.

    Parameters:
      bucket: The bucket (it must exist).
      client: A boto3 S3 client; made with ``client_options`` when not given.
      prefix: Prepended to every key (``"claims/"``).
      name: The store's name in references.
      client_options: Passed to ``boto3.client("s3", ...)`` (``endpoint_url``, ``region_name``...).
    """

    def __init__(
        self,
        bucket: str,
        *,
        client: Any = None,
        prefix: str = "",
        name: str = "s3",
        **client_options: Any,
    ) -> None:
        if client is None:
            try:
                import boto3  # type: ignore[import-untyped, unused-ignore]
            except ImportError:  # pragma: no cover - the extra is missing
                raise ImportError("S3Store needs boto3: pip install 'actorschema[s3]'") from None
            client = boto3.client("s3", **client_options)
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.name = check_name(name)

    def __repr__(self) -> str:
        return f"S3Store({self.bucket!r}, prefix={self.prefix!r}, name={self.name!r})"

    def put(self, key: str, blob: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + check_key(key), Body=blob)

    def get(self, key: str) -> bytes | None:
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + check_key(key))
        except self.client.exceptions.NoSuchKey:
            return None
        body: bytes = response["Body"].read()
        return body

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + check_key(key))

    def expire(self, key: str, ttl_ms: int) -> None:
        pass  # S3 has no per-object expiry: gc (or a lifecycle rule) removes it

    def blobs(self) -> Iterator[tuple[str, float]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for item in page.get("Contents", ()):
                key = item["Key"][len(self.prefix) :]
                if "/" not in key:
                    yield key, item["LastModified"].timestamp()
