"""A small shop whose actors pass ids and paths, not bodies: the example app of the README.

``actorschema generate examples.shop --out schemas/`` writes its schemas. It
runs on the in-memory StubBroker unless ``SHOP_REDIS_URL`` names a Redis
server or ``SHOP_RABBITMQ_URL`` a RabbitMQ one, so generating its schemas
needs no server. Its brokers are ``actorschema.brokers``' drop-in ones, whose
consumers dead-letter malformed bodies instead of crashing.
"""

from __future__ import annotations

import datetime
import enum
import os
import uuid
from decimal import Decimal
from typing import Annotated, Literal

import dramatiq
from pydantic import BaseModel, Field

from actorschema import PayloadGateway

broker: dramatiq.Broker
if os.environ.get("SHOP_REDIS_URL"):
    from actorschema.brokers import RedisBroker

    broker = RedisBroker(url=os.environ["SHOP_REDIS_URL"])
elif os.environ.get("SHOP_RABBITMQ_URL"):
    from actorschema.brokers import RabbitmqBroker

    broker = RabbitmqBroker(url=os.environ["SHOP_RABBITMQ_URL"])
else:
    from actorschema.brokers import StubBroker

    broker = StubBroker()
broker.add_middleware(PayloadGateway(queue_limits={"images": 16 * 1024}))
dramatiq.set_broker(broker)


class Currency(enum.StrEnum):
    EUR = "EUR"
    USD = "USD"


class LineItem(BaseModel):
    sku: Annotated[str, Field(min_length=1, max_length=64)]
    quantity: Annotated[int, Field(ge=1, le=1000)]
    unit_price: Decimal


class Order(BaseModel):
    order_id: uuid.UUID
    customer_id: int
    placed_at: datetime.datetime
    currency: Currency = Currency.EUR
    items: Annotated[list[LineItem], Field(min_length=1)]
    note: str | None = None


@dramatiq.actor(queue_name="orders")
def place_order(order: Order, notify: bool = True) -> None:
    """Reserve stock for a new order and charge the customer."""


@dramatiq.actor(queue_name="emails", max_message_bytes=4096)
def send_email(
    user_id: int,
    template: Literal["welcome", "receipt", "password-reset"],
    *,
    variables: dict[str, str] | None = None,
) -> None:
    """Render one e-mail template for one user and hand it to the mail relay."""


@dramatiq.actor(queue_name="images")
def make_thumbnail(source: str, width: Annotated[int, Field(gt=0, le=4096)] = 256) -> str:
    """Read an image from object storage (by key, not by body) and store its thumbnail."""
    return f"{source}.thumb-{width}"


@dramatiq.actor(queue_name="orders")
def refund(order_id: uuid.UUID, amount: Decimal, reason: str, requested_at: datetime.datetime) -> None:
    """Refund part or all of an order."""
