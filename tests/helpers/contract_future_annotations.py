"""Actors written with ``from __future__ import annotations``: every hint is a string.

Used by ``test_contract.py``. The functions refer to models defined *after*
them (forward references), and ``Order`` refers to ``Line`` before ``Line``
exists, the way real modules are often laid out.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field


def place_order(order: Order, *, placed_at: datetime.datetime, note: str | None = None) -> None:
    """Place an order (a forward-referenced model)."""


def tag_lines(order_id: uuid.UUID, /, *lines: Line, mode: Literal["add", "remove"] = "add") -> None:
    """Variadic forward-referenced models."""


def quoted(price: "Decimal", qty: Annotated[int, Field(ge=1)] = 1) -> None:  # noqa: UP037
    """A quoted annotation inside a future-annotations module."""


class Order(BaseModel):
    id: uuid.UUID
    lines: list[Line]
    parent: Order | None = None


class Line(BaseModel):
    sku: str
    qty: Annotated[int, Field(ge=1)]
    price: Decimal
