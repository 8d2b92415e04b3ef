"""The example app's committed schemas (schemas/, from examples/shop.py) and one valid message per actor."""

from __future__ import annotations

import datetime
import decimal
import json
import uuid
from pathlib import Path
from typing import Any

import examples.shop as shop

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = ROOT / "schemas"

SCHEMAS: dict[str, dict[str, Any]] = {
    path.name.removesuffix(".schema.json"): json.loads(path.read_text())
    for path in sorted(SCHEMA_DIR.glob("*.schema.json"))
}
ACTORS = ("make_thumbnail", "place_order", "refund", "send_email")


def stored(broker: Any) -> list[bytes]:
    """Every message body in the StubBroker's queues (delay queues included), then empty them."""
    bodies = []
    for queue in broker.queues.values():
        while not queue.empty():
            bodies.append(queue.get_nowait())
    broker.flush_all()
    return bodies


def canonical(actor: str) -> dict[str, Any]:
    """One valid message per actor, as the gateway stores it."""
    stored(shop.broker)
    if actor == "place_order":
        order = shop.Order(
            order_id=uuid.UUID(int=7),
            customer_id=42,
            placed_at=datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC),
            items=[shop.LineItem(sku="SKU-1", quantity=2, unit_price=decimal.Decimal("9.99"))],
        )
        shop.place_order.send(order)
    elif actor == "send_email":
        shop.send_email.send(7, "welcome", variables={"name": "Ada"})
    elif actor == "make_thumbnail":
        shop.make_thumbnail.send("photos/cat.png", 640)
    else:
        shop.refund.send(
            uuid.UUID(int=9),
            decimal.Decimal("12.50"),
            "damaged",
            datetime.datetime(2024, 5, 2, 9, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
        )
    [body] = stored(shop.broker)
    message: dict[str, Any] = json.loads(body)
    return message


CANONICAL = {actor: canonical(actor) for actor in ACTORS}
