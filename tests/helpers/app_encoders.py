"""Apps that adopt actorschema with their own Dramatiq encoder: the encoders, and the types they revive.

Three kinds Dramatiq apps really use: a JSON encoder whose ``decode()`` revives
tagged objects (datetimes, UUIDs, dataclasses, pydantic models), one that
revives every text that looks like a timestamp, and ``PickleEncoder``.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
import uuid
from typing import Any

import dramatiq
from dramatiq.encoder import PickleEncoder
from pydantic import BaseModel

WHEN = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
#: Text that an ISO-reviving decode() turns into a datetime, although the parameter is a str.
DATE_LIKE_NOTE = "2024-01-01T00:00:00+00:00"


class Customer(BaseModel):
    id: int
    name: str


@dataclasses.dataclass
class Spec:
    seats: int
    at: datetime.datetime


# -- the apps' encoders ------------------------------------------------------------


def _tag(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"__uuid__": str(value)}
    if isinstance(value, Customer):
        return {"__customer__": value.model_dump(mode="json")}
    if isinstance(value, Spec):
        return {"__spec__": {"seats": value.seats, "at": _tag(value.at)}}
    raise TypeError(f"cannot encode {type(value).__name__}")


def _revive_tagged(data: dict[str, Any]) -> Any:
    if "__datetime__" in data:
        return datetime.datetime.fromisoformat(data["__datetime__"])
    if "__uuid__" in data:
        return uuid.UUID(data["__uuid__"])
    if "__customer__" in data:
        return Customer(**data["__customer__"])
    if "__spec__" in data:
        return Spec(**data["__spec__"])
    return data


class TaggedEncoder(dramatiq.Encoder):
    """Writes objects as tagged JSON objects and revives them in decode(): the common pattern."""

    def encode(self, data: Any) -> bytes:
        return json.dumps(data, separators=(",", ":"), default=_tag).encode()

    def decode(self, data: bytes) -> Any:
        return json.loads(data, object_hook=_revive_tagged)


_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d)$")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Customer):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    raise TypeError(f"cannot encode {type(value).__name__}")


def _revive_iso(data: dict[str, Any]) -> Any:
    return {
        key: datetime.datetime.fromisoformat(value) if isinstance(value, str) and _ISO.match(value) else value
        for key, value in data.items()
    }


class IsoEncoder(dramatiq.Encoder):
    """Writes objects as plain JSON and revives every text that looks like a timestamp."""

    def encode(self, data: Any) -> bytes:
        return json.dumps(data, separators=(",", ":"), default=_plain).encode()

    def decode(self, data: bytes) -> Any:
        return json.loads(data, object_hook=_revive_iso)


ENCODERS = {"tagged-json": TaggedEncoder, "iso-json": IsoEncoder, "pickle": PickleEncoder}
