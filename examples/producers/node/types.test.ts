// Compiled, never run: `npx tsc --noEmit` (tsconfig.json) proves that the generated types
// accept every actor's valid kwargs and that wrong kwargs do not compile (an "expect error"
// directive fails the build when the line below it compiles).
import { loadContracts, ProduceError, Producer } from "./index.js";
import type { ActorKwargs, Order, PlaceOrderKwargs } from "./types/index.js";

const contracts = await loadContracts(new URL("../../../schemas/", import.meta.url));
const producer = await Producer.connect<ActorKwargs>(contracts, { redis: "redis://127.0.0.1:6379/0" });

const order: Order = {
  order_id: "7f1d6a3e-9c2b-4b8e-a7d5-3c1e2f4a5b6c",
  customer_id: 42,
  placed_at: new Date().toISOString(),
  currency: "USD",
  items: [{ sku: "MUG-1", quantity: 2, unit_price: "9.90" }],
};
const placeOrder: PlaceOrderKwargs = { order, notify: false };
const sent = await producer.produce("place_order", placeOrder);
const actor: "place_order" = sent.actor_name;
await producer.produce("send_email", { user_id: 7, template: "welcome" });
await producer.produce("send_email", { user_id: 7, template: "receipt", variables: { order: "A-1" } });
await producer.produce("make_thumbnail", { source: "s3://img/cat.png", width: 128 }, { delayMs: 1000 });
await producer.produce("refund", { order_id: order.order_id, amount: 9.9, reason: "damaged", requested_at: order.placed_at });

// @ts-expect-error: template is a Literal of three names
await producer.produce("send_email", { user_id: 7, template: "goodbye" });
// @ts-expect-error: user_id is an int
await producer.produce("send_email", { user_id: "7", template: "welcome" });
// @ts-expect-error: kwargs is closed: no unknown keyword
await producer.produce("make_thumbnail", { source: "cat.png", height: 10 });
// @ts-expect-error: order is required
await producer.produce("place_order", { notify: true });
// @ts-expect-error: items needs at least one LineItem
const empty: Order = { ...order, items: [] };
// @ts-expect-error: no such actor
await producer.produce("delete_everything", {});

try {
  producer.prepare("refund", { order_id: "x", amount: "1", reason: "", requested_at: "" });
} catch (error) {
  if (error instanceof ProduceError) console.log(error.kind, error.problems[0]?.path);
}
await producer.close();
export { actor, empty };
