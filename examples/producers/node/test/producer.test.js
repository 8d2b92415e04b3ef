// Unit tests of the message recipe and the checks, without a broker: `node --test`.
// The end-to-end tests (real Redis, real RabbitMQ, a real Dramatiq worker) are the
// repository's tests/interop/test_node_producer.py.
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildMessage, checkAndEncode, loadContracts, ProduceError, Producer, strictJsonProblems } from "../index.js";

const contracts = await loadContracts(new URL("../../../../schemas/", import.meta.url));
const dryRun = new Producer(contracts, null);
const order = {
  order_id: "7f1d6a3e-9c2b-4b8e-a7d5-3c1e2f4a5b6c",
  customer_id: 42,
  placed_at: "2024-05-01T09:30:00+02:00",
  items: [{ sku: "MUG-1", quantity: 2, unit_price: "9.90" }],
};

const refusal = (fn) => {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ProduceError, String(error));
    return error;
  }
  assert.fail("was not refused");
};

test("the canonical message: seven fields, in Dramatiq's order, kwargs by name", () => {
  const { message, body } = dryRun.prepare("place_order", { order, notify: false });
  assert.deepEqual(Object.keys(message), [
    "queue_name", "actor_name", "args", "kwargs", "options", "message_id", "message_timestamp",
  ]);
  assert.equal(message.queue_name, "orders");
  assert.deepEqual(message.args, []);
  assert.deepEqual(message.kwargs, { order, notify: false });
  assert.match(message.message_id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(Math.abs(message.message_timestamp - Date.now()) < 5000);
  assert.equal(body.toString("utf8"), JSON.stringify(message));
});

test("a Redis message carries its own redis_message_id, distinct from message_id", () => {
  const redis = new Producer(contracts, { transportOptions: () => ({ redis_message_id: crypto.randomUUID() }) });
  const { message } = redis.prepare("send_email", { user_id: 1, template: "welcome" });
  assert.match(message.options.redis_message_id, /^[0-9a-f-]{36}$/);
  assert.notEqual(message.options.redis_message_id, message.message_id);
});

test("a delay goes to <queue>.DQ with options.eta", () => {
  const contract = contracts.get("make_thumbnail");
  const message = buildMessage(contract, { source: "a.png" }, { delayMs: 1500, now: 1_000_000 });
  assert.equal(message.queue_name, "images.DQ");
  assert.equal(message.options.eta, 1_001_500);
  assert.throws(() => buildMessage(contract, { source: "a.png" }, { delayMs: -1 }), RangeError);
  assert.throws(() => buildMessage(contract, { source: "a.png" }, { delayMs: 1.5 }), RangeError);
});

test("a Date travels as its RFC 3339 text, and is validated as such", () => {
  const placed = new Date(Date.UTC(2024, 4, 1, 7, 30));
  const { message } = dryRun.prepare("place_order", { order: { ...order, placed_at: placed } });
  assert.equal(message.kwargs.order.placed_at, "2024-05-01T07:30:00.000Z");
});

test("values JSON.stringify would change are refused with their path", () => {
  const cases = [
    [{ source: "a", width: Number.NaN }, "/kwargs/width", /NaN/],
    [{ source: "a", width: Number.POSITIVE_INFINITY }, "/kwargs/width", /Infinity/],
    [{ source: "a", width: undefined }, "/kwargs/width", /undefined/],
    [{ source: "a", width: 10n }, "/kwargs/width", /BigInt/],
    [{ source: "a", width: 2 ** 53 + 2 }, "/kwargs/width", /MAX_SAFE_INTEGER/],
    [{ source: "a\ud800" }, "/kwargs/source", /lone surrogate/],
    [{ source: new Map() }, "/kwargs/source", /a Map/],
    [{ source: Buffer.from("x") }, "/kwargs/source", /base64url/],
    [{ source: new Date(Number.NaN) }, "/kwargs/source", /invalid Date/],
  ];
  for (const [kwargs, path, message] of cases) {
    const error = refusal(() => dryRun.prepare("make_thumbnail", kwargs));
    assert.equal(error.kind, "not_json");
    assert.equal(error.problems[0].path, path);
    assert.match(error.problems[0].message, message);
  }
  const circular = { a: 1 };
  circular.self = circular;
  assert.match(strictJsonProblems({ circular })[0].message, /circular/);
  let deep = 1;
  for (let i = 0; i < 200; i++) deep = [deep];
  assert.match(strictJsonProblems(deep)[0].message, /deeper than 128/);
});

test("schema violations are refused with ajv's instancePath for each", () => {
  const bad = { ...order, items: [{ sku: "", quantity: 0, unit_price: "9.90" }] };
  const error = refusal(() => dryRun.prepare("place_order", { order: bad, coupon: "X" }));
  assert.equal(error.kind, "invalid");
  const paths = error.problems.map((p) => `${p.path} ${p.keyword}`);
  assert.deepEqual(paths.sort(), ["/kwargs additionalProperties", "/kwargs/order/items/0/quantity minimum", "/kwargs/order/items/0/sku minLength"]);
  assert.match(error.message, /^actor 'place_order': the message does not match place_order\.schema\.json\n/);
  assert.match(error.message, /\n {2}- \/kwargs\/order\/items\/0\/quantity: must be >= 1/);
  assert.match(error.message, /\n {2}- \/kwargs: must NOT have additional properties: 'coupon'/);
});

test("a message on <queue>.DQ without an integer eta breaks the schema's if/then, at /options", () => {
  const contract = contracts.get("send_email");
  const message = { ...buildMessage(contract, { user_id: 1, template: "welcome" }), queue_name: "emails.DQ" };
  const missing = refusal(() => checkAndEncode(contract, message));
  assert.deepEqual(missing.problems.map((p) => [p.path, p.message]), [["/options", "must have required property 'eta'"]]);
  const wrong = refusal(() => dryRun.prepare("send_email", { user_id: 1, template: "welcome" }, { options: { eta: "soon" } }));
  assert.equal(wrong.problems[0].path, "/options/eta");
});

test("the size limit counts UTF-8 bytes of the stored body: the limit passes, one byte more does not", () => {
  const base = dryRun.prepare("send_email", { user_id: 1, template: "welcome", variables: { p: "" } }).body.length;
  const fill = (n) => ({ user_id: 1, template: "welcome", variables: { p: `${"é".repeat(100)}${"x".repeat(n - 200)}` } });
  assert.equal(dryRun.prepare("send_email", fill(4096 - base)).body.length, 4096);
  const error = refusal(() => dryRun.prepare("send_email", fill(4097 - base)));
  assert.equal(error.kind, "too_large");
  assert.equal(error.size, 4097);
  assert.equal(error.limit, 4096);
  assert.equal(error.problems[0].path, "/kwargs/variables");
});

test("an unknown actor is refused, naming the known ones", () => {
  const error = refusal(() => dryRun.prepare("delete_everything", {}));
  assert.equal(error.kind, "unknown_actor");
  assert.match(error.message, /make_thumbnail, place_order, refund, send_email/);
});

test("values ajv-formats alone would pass but the worker refuses are refused, each with its path", () => {
  // The four refund messages of issue 13: a space for T, a leap second, an offset without its colon,
  // a urn:uuid: prefix. The schemas' patterns make them invalid whatever ajv does with format.
  const refund = { order_id: "0b9e6a52-7d3c-4b8e-9f21-3c1e2f4a5b6c", amount: "1.00", reason: "x", requested_at: "2024-05-01T12:00:00Z" };
  assert.ok(dryRun.prepare("refund", refund).message);
  const cases = [
    ["requested_at", "2024-05-01 12:00:00Z", "date-time"],
    ["requested_at", "2016-12-31T23:59:60Z", "date-time"],
    ["requested_at", "2024-05-01T12:00:00+0100", "date-time"],
    ["order_id", "urn:uuid:0b9e6a52-7d3c-4b8e-9f21-3c1e2f4a5b6c", "uuid"],
  ];
  for (const [field, value, format] of cases) {
    const error = refusal(() => dryRun.prepare("refund", { ...refund, [field]: value }));
    assert.equal(error.kind, "invalid");
    assert.deepEqual(
      error.problems.map((p) => [p.path, p.keyword]),
      [[`/kwargs/${field}`, "pattern"]],
      value,
    );
    assert.match(error.problems[0].message, new RegExp(`must match format "${format}" exactly as the worker reads it`));
  }
});
