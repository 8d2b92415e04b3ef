// Enqueue Dramatiq messages from Node.js, checked against the JSON Schemas that
// `actorschema generate` writes, into Redis or RabbitMQ exactly as Dramatiq's own brokers do.
//
//   const contracts = await loadContracts("schemas/");
//   const producer = await Producer.connect(contracts, { redis: "redis://127.0.0.1:6379/0" });
//   await producer.produce("send_email", { user_id: 7, template: "welcome" });
//   await producer.produce("make_thumbnail", { source: "s3://img/cat.png" }, { delayMs: 60_000 });
//   await producer.close();
//
// Every message is checked before anything is sent: strict JSON (nothing JSON.stringify would
// silently change), the actor's schema (ajv, JSON Schema 2020-12, with ajv-formats) and the
// size limit from index.json, on the exact bytes that are stored. A refused message raises a
// ProduceError and nothing is enqueued.
import { createHash, randomUUID } from "node:crypto";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

/** The key prefix of Dramatiq's RedisBroker (its `namespace` argument). */
export const DEFAULT_NAMESPACE = "dramatiq";
/** Dramatiq's dead-letter TTL: `x-message-ttl` of `<queue>.XQ` on RabbitMQ, 7 days in ms. */
export const DEAD_MESSAGE_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** The nesting the Python gateway allows in one argument value. */
export const MAX_DEPTH = 128;

/**
 * Why a message was refused. Nothing was enqueued.
 *
 * kind: "unknown_actor" | "not_json" | "invalid" | "too_large"
 * problems: [{path, message}]: `path` is a JSON Pointer into the message ("/kwargs/order/items/0/quantity");
 *   for "invalid", each problem also carries ajv's `keyword` and `params`.
 */
export class ProduceError extends Error {
  constructor(kind, actor, summary, problems = [], details = {}) {
    const lines = problems.map((p) => `  - ${p.path || "(message)"}: ${p.message}`);
    super([`actor '${actor}': ${summary}`, ...lines].join("\n"));
    this.name = "ProduceError";
    this.kind = kind;
    this.actor = actor;
    this.problems = problems;
    Object.assign(this, details);
  }

  toJSON() {
    const { kind, actor, problems, message } = this;
    return { kind, actor, message, problems, ...(this.size === undefined ? {} : { size: this.size, limit: this.limit }) };
  }
}

function toDirUrl(dir) {
  const url = dir instanceof URL ? new URL(dir.href) : pathToFileURL(String(dir));
  if (!url.pathname.endsWith("/")) url.pathname += "/";
  return url;
}

/**
 * The actors of an app, as `actorschema generate` describes them in `<dir>/index.json`:
 * queue, size limit and a compiled validator for each actor's message schema.
 */
export class Contracts {
  constructor(dir, actors) {
    this.dir = dir;
    /** @type {Map<string, {name, queue, maxMessageBytes, limitSource, schemaFile, schema, validate}>} */
    this.actors = actors;
  }

  get(actorName) {
    const contract = this.actors.get(actorName);
    if (contract === undefined) {
      const known = [...this.actors.keys()].join(", ");
      throw new ProduceError("unknown_actor", actorName, `no such actor in ${this.dir}index.json (actors: ${known})`);
    }
    return contract;
  }
}

/**
 * Load `index.json` and every schema it lists from `schemasDir` (a path or a file: URL).
 * A schema whose SHA-256 differs from the index's is refused: the folder is half-updated.
 */
export async function loadContracts(schemasDir) {
  const dir = toDirUrl(schemasDir);
  const index = JSON.parse(await readFile(new URL("index.json", dir), "utf8"));
  if (index.generator !== "actorschema" || index.format !== 1) {
    throw new Error(`${fileURLToPath(dir)}index.json: not an actorschema index of format 1`);
  }
  // Strict mode, as the repository's tests compile the schemas; allErrors to report every problem;
  // verbose so that a pattern error can name the format its pattern makes exact.
  const ajv = new Ajv2020({ strict: true, allErrors: true, verbose: true });
  addFormats(ajv);
  const actors = new Map();
  for (const [name, entry] of Object.entries(index.actors)) {
    const text = await readFile(new URL(entry.schema, dir), "utf8");
    const digest = createHash("sha256").update(text, "utf8").digest("hex");
    if (digest !== entry.sha256) {
      throw new Error(`${entry.schema}: its sha256 is not the one in index.json; regenerate the folder`);
    }
    const schema = JSON.parse(text);
    actors.set(name, {
      name,
      queue: entry.queue,
      maxMessageBytes: entry.max_message_bytes ?? null,
      limitSource: entry.limit_source,
      schemaFile: entry.schema,
      claimCheck: entry.claim_check === true,
      schema,
      validate: ajv.compile(schema),
    });
  }
  return new Contracts(fileURLToPath(dir), actors);
}

const typeName = (value) => {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  const proto = Object.getPrototypeOf(value);
  return proto === null || proto === Object.prototype ? "an object" : `a ${proto.constructor?.name ?? "object"}`;
};

/**
 * Values JSON.stringify would send as something else, or not at all: NaN and Infinity (sent as
 * null), undefined (dropped), Map and Set (sent as {}), a Buffer (sent as {type, data}), BigInt
 * (throws), integers past 2**53 (already rounded), strings with a lone surrogate (unreadable by
 * strict parsers), cycles and very deep nesting. A valid Date is allowed: it travels as its
 * toJSON() text, RFC 3339 in UTC, which is what a `datetime` parameter reads.
 */
export function strictJsonProblems(value, path = "", depth = 0, seen = new Set()) {
  const problem = (message) => [{ path, message }];
  switch (typeof value) {
    case "string":
      return value.isWellFormed() ? [] : problem("has a lone surrogate, which strict JSON parsers reject");
    case "boolean":
      return [];
    case "number":
      if (!Number.isFinite(value)) return problem(`is ${value}, which JSON.stringify sends as null`);
      if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
        return problem(`is ${value}, past Number.MAX_SAFE_INTEGER: it is no longer the integer you meant`);
      }
      return [];
    case "bigint":
      return problem("is a BigInt, which JSON.stringify cannot send; send a number or a decimal string");
    case "undefined":
      return problem("is undefined, which JSON.stringify drops; omit the key or send null");
    case "function":
    case "symbol":
      return problem(`is a ${typeof value}, which JSON.stringify drops`);
  }
  if (value === null) return [];
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? problem("is an invalid Date, which JSON.stringify sends as null") : [];
  }
  if (depth >= MAX_DEPTH) return problem(`nests deeper than ${MAX_DEPTH} levels`);
  if (seen.has(value)) return problem("is circular");
  const plain = Array.isArray(value) || [null, Object.prototype].includes(Object.getPrototypeOf(value));
  if (!plain) {
    const hint = Buffer.isBuffer(value) ? "; send bytes as base64url text: buf.toString('base64url')" : "";
    return problem(`is ${typeName(value)}, which is not plain JSON${hint}`);
  }
  seen.add(value);
  const problems = [];
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) problems.push(...strictJsonProblems(value[i], `${path}/${i}`, depth + 1, seen));
  } else {
    for (const [key, item] of Object.entries(value)) {
      const child = `${path}/${key.replaceAll("~", "~0").replaceAll("/", "~1")}`;
      if (!key.isWellFormed()) problems.push({ path: child, message: "its key has a lone surrogate" });
      problems.push(...strictJsonProblems(item, child, depth + 1, seen));
    }
  }
  seen.delete(value);
  return problems;
}

function renderAjvError(error) {
  let message = error.message ?? error.keyword;
  const format = error.keyword === "pattern" ? error.parentSchema?.format : undefined;
  if (format !== undefined) {
    // The schemas pair each format with a pattern: the form the worker reads, which ajv-formats
    // alone would let slip (a space for T, a leap second, +0100, urn:uuid:...).
    message = `must match format "${format}" exactly as the worker reads it (the schema's pattern)`;
    return { path: error.instancePath, message, keyword: error.keyword, params: error.params };
  }
  if (error.keyword === "additionalProperties") message += `: '${error.params.additionalProperty}'`;
  if (error.keyword === "enum") message += `: ${error.params.allowedValues.map((v) => JSON.stringify(v)).join(", ")}`;
  if (error.keyword === "const") message += `: ${JSON.stringify(error.params.allowedValue)}`;
  return { path: error.instancePath, message, keyword: error.keyword, params: error.params };
}

/** ajv's errors without the pattern error that repeats a format error on the same value. */
function withoutPatternTwins(errors) {
  const formats = new Set(errors.filter((e) => e.keyword === "format").map((e) => e.instancePath));
  return errors.filter((e) => e.keyword !== "pattern" || !formats.has(e.instancePath));
}

/**
 * Build the canonical Dramatiq message for `actorName`: arguments by name in `kwargs`, `args`
 * empty, a fresh uuid4 `message_id`, `message_timestamp` in ms. With `delayMs`, the message goes to
 * `<queue>.DQ` with `options.eta` (ms since the epoch), as Dramatiq's `send_with_options(delay=)`.
 * `transportOptions` are the options the broker itself adds (Redis: `redis_message_id`).
 */
export function buildMessage(contract, kwargs, { delayMs, options = {}, transportOptions = {}, now = Date.now() } = {}) {
  if (delayMs !== undefined && delayMs !== null && !(Number.isSafeInteger(delayMs) && delayMs >= 0)) {
    throw new RangeError(`delayMs must be a non-negative integer number of ms, not ${delayMs}`);
  }
  const delayed = delayMs !== undefined && delayMs !== null;
  return {
    queue_name: delayed ? `${contract.queue}.DQ` : contract.queue,
    actor_name: contract.name,
    args: [],
    kwargs,
    options: { ...options, ...transportOptions, ...(delayed ? { eta: now + delayMs } : {}) },
    message_id: randomUUID(),
    message_timestamp: now,
  };
}

/**
 * Check `message` for `contract` and encode it. Returns `{message, body}`: `body` is the UTF-8
 * JSON to store, and `message` is what it decodes to (what the worker will read).
 * Throws ProduceError("not_json" | "invalid" | "too_large").
 */
export function checkAndEncode(contract, message, { checkSize = true } = {}) {
  const notJson = strictJsonProblems(message);
  if (notJson.length > 0) {
    throw new ProduceError("not_json", contract.name, "a value is not plain JSON", notJson);
  }
  const text = JSON.stringify(message);
  const sent = JSON.parse(text); // validate exactly what is stored (a Date is its text by now)
  if (!contract.validate(sent)) {
    // `if` only says that a `then` failed; the `then` error itself carries the path.
    const problems = withoutPatternTwins(contract.validate.errors.filter((e) => e.keyword !== "if")).map(
      renderAjvError,
    );
    throw new ProduceError("invalid", contract.name, `the message does not match ${contract.schemaFile}`, problems);
  }
  const body = Buffer.from(text, "utf8");
  const limit = contract.maxMessageBytes;
  if (checkSize && limit !== null && body.length > limit) {
    const largest = Object.entries(sent.kwargs)
      .map(([key, value]) => ({ path: `/kwargs/${key}`, size: Buffer.byteLength(JSON.stringify(value), "utf8") }))
      .sort((a, b) => b.size - a.size)
      .slice(0, 3)
      .map(({ path, size }) => ({ path, message: `${size} bytes` }));
    throw new ProduceError(
      "too_large",
      contract.name,
      `the message is ${body.length} bytes, over the limit of ${limit} (${contract.limitSource} limit in index.json); largest values:`,
      largest,
      { size: body.length, limit },
    );
  }
  return { message: sent, body };
}

/** The key that marks a claim reference (actorschema.claims.reference, claim-reference.json). */
export const CLAIM_MARKER = "$actorschema_claim";

/** The reference that stands in a message for `blob`, stored under `key` in the store named `store`. */
export function claimReference(store, key, blob) {
  return {
    [CLAIM_MARKER]: 1,
    store,
    key,
    sha256: createHash("sha256").update(blob).digest("hex"),
    size: blob.length,
    content_type: "application/json",
  };
}

/** The claim check's directory store, as actorschema.claims.DirectoryStore lays it out: one file per blob. */
export class DirectoryClaimStore {
  constructor(dir, { name = "dir" } = {}) {
    this.dir = dir;
    this.name = name;
  }

  async put(key, blob) {
    // Written aside and renamed into place: a worker never reads half a blob.
    const temporary = join(this.dir, `.tmp-${randomUUID()}`);
    await writeFile(temporary, blob);
    await rename(temporary, join(this.dir, key));
  }

  async delete(key) {
    await rm(join(this.dir, key), { force: true });
  }
}

/** The claim check's Redis store, as actorschema.claims.RedisStore keeps it: a string per blob, an index. */
export class RedisClaimStore {
  constructor(client, { name = "redis", prefix = "actorschema:claims" } = {}) {
    this.client = client;
    this.name = name;
    this.prefix = prefix;
  }

  async put(key, blob) {
    const replies = await this.client
      .multi()
      .set(`${this.prefix}:blob:${key}`, blob)
      .zadd(`${this.prefix}:index`, Date.now() / 1000, key)
      .exec();
    const failed = replies.find(([error]) => error);
    if (failed) throw failed[0];
  }

  async delete(key) {
    await this.client.multi().del(`${this.prefix}:blob:${key}`).zrem(`${this.prefix}:index`, key).exec();
  }
}

/**
 * Check `message` and, when it is over its limit and the actor has the claim check on (`claim_check`
 * in index.json), move its largest `kwargs` values into `store` until it fits, as the Python gateway
 * does: each blob is the value's JSON text, and a reference takes its place. The values are checked
 * inline first; the final message (with references) is checked again, size included. Resolves to
 * `{message, body, written}` (the keys written: delete them if the enqueue fails).
 */
export async function offloadAndEncode(contract, message, store) {
  const inline = checkAndEncode(contract, message, { checkSize: false });
  const limit = contract.maxMessageBytes;
  if (!store || !contract.claimCheck || limit === null || inline.body.length <= limit) {
    return { ...checkAndEncode(contract, message), written: [] };
  }
  const sent = inline.message;
  const kwargs = { ...sent.kwargs };
  const isReference = (value) => value !== null && typeof value === "object" && CLAIM_MARKER in value;
  const largestFirst = Object.entries(sent.kwargs)
    .filter(([, value]) => !isReference(value)) // offloaded already, by the caller
    .map(([name, value]) => [name, Buffer.from(JSON.stringify(value), "utf8")])
    .sort((a, b) => b[1].length - a[1].length);
  const written = [];
  try {
    let size = inline.body.length;
    for (const [name, blob] of largestFirst) {
      if (size <= limit) break;
      const slot = /^[A-Za-z0-9_]{1,60}$/.test(name) ? name : "kw";
      const key = `${sent.message_id}.${slot}.${randomUUID().replaceAll("-", "").slice(0, 12)}`;
      await store.put(key, blob);
      written.push(key);
      kwargs[name] = claimReference(store.name, key, blob);
      size = Buffer.byteLength(JSON.stringify({ ...sent, kwargs }), "utf8");
    }
    return { ...checkAndEncode(contract, { ...sent, kwargs }), written };
  } catch (error) {
    await Promise.allSettled(written.map((key) => store.delete(key)));
    throw error;
  }
}

/** Redis, as Dramatiq's RedisBroker stores messages: a hash of bodies and a list of ids. */
export class RedisTransport {
  /**
   * client: an ioredis client (yours, or made by `RedisTransport.connect(url)`).
   * namespace: the RedisBroker's `namespace` ("dramatiq" unless the workers changed it).
   */
  constructor(client, { namespace = DEFAULT_NAMESPACE, owned = false } = {}) {
    this.client = client;
    this.namespace = namespace;
    this.owned = owned;
  }

  static async connect(url, { namespace } = {}) {
    const { Redis } = await import("ioredis");
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 });
    let lastError;
    client.on("error", (error) => {
      lastError = error; // ioredis reconnects by itself; a command that cannot run rejects
    });
    try {
      await client.connect();
    } catch (error) {
      client.disconnect();
      throw lastError ?? error;
    }
    return new RedisTransport(client, { namespace, owned: true });
  }

  /** Each stored copy has its own id: the hash field, the list entry and `options.redis_message_id`. */
  transportOptions() {
    return { redis_message_id: randomUUID() };
  }

  async send(message, body) {
    const rid = message.options.redis_message_id;
    const key = `${this.namespace}:${message.queue_name}`;
    // MULTI/EXEC: a worker never sees the id without its body, as with Dramatiq's Lua `enqueue`.
    const replies = await this.client.multi().hset(`${key}.msgs`, rid, body).rpush(key, rid).exec();
    const failed = replies.find(([error]) => error);
    if (failed) throw failed[0];
  }

  async close() {
    if (this.owned) await this.client.quit();
  }
}

/** RabbitMQ, as Dramatiq's RabbitmqBroker publishes: its queues, persistent, on a confirm channel. */
export class AmqpTransport {
  /**
   * maxPriority: the RabbitmqBroker's `max_priority`, if the workers set one (the queue
   *   arguments must match theirs, or RabbitMQ refuses the declaration with 406).
   * deadMessageTtlMs: `x-message-ttl` of `<queue>.XQ` (Dramatiq: env `dramatiq_dead_message_ttl`).
   */
  constructor(connection, channel, { maxPriority, deadMessageTtlMs = DEAD_MESSAGE_TTL_MS, owned = false } = {}) {
    this.connection = connection;
    this.channel = channel;
    this.maxPriority = maxPriority;
    this.deadMessageTtlMs = deadMessageTtlMs;
    this.owned = owned;
    this.declared = new Set();
    this.returned = new Set();
    this.closed = null;
    channel.on("return", (returned) => {
      this.returned.add(JSON.parse(returned.content.toString("utf8")).message_id);
    });
    // A channel the server closes (406 on a queue declared with other arguments) rejects the
    // pending operation with the reason; without a listener the 'error' event would crash Node.
    const onClose = (error) => {
      this.closed ??= error ?? new Error("AMQP channel closed");
    };
    channel.on("error", onClose);
    channel.on("close", () => onClose());
    connection.on("error", onClose);
  }

  static async connect(url, options = {}) {
    const amqp = await import("amqplib");
    const connection = await amqp.connect(url);
    const channel = await connection.createConfirmChannel();
    return new AmqpTransport(connection, channel, { ...options, owned: true });
  }

  transportOptions() {
    return {};
  }

  /** `<q>`, `<q>.DQ` and `<q>.XQ` with the arguments of dramatiq/brokers/rabbitmq.py. */
  async declare(queue) {
    if (this.declared.has(queue)) return;
    const deadLettered = { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": `${queue}.XQ` };
    if (this.maxPriority) deadLettered["x-max-priority"] = this.maxPriority;
    try {
      await this.channel.assertQueue(queue, { durable: true, arguments: deadLettered });
      await this.channel.assertQueue(`${queue}.DQ`, { durable: true, arguments: deadLettered });
      await this.channel.assertQueue(`${queue}.XQ`, {
        durable: true,
        arguments: { "x-message-ttl": this.deadMessageTtlMs },
      });
    } catch (error) {
      if (error.code !== 406) throw error;
      throw new Error(
        `queue '${queue}' exists with other arguments than these (declare them as the workers' ` +
          `RabbitmqBroker does: same max_priority, same dead-message TTL): ${error.message}`,
        { cause: error },
      );
    }
    this.declared.add(queue);
  }

  async send(message, body) {
    if (this.closed) throw this.closed;
    const routingKey = message.queue_name;
    await this.declare(routingKey.endsWith(".DQ") ? routingKey.slice(0, -3) : routingKey);
    const properties = { persistent: true, mandatory: true };
    if (message.options.broker_priority !== undefined) properties.priority = message.options.broker_priority;
    await new Promise((resolve, reject) => {
      this.channel.sendToQueue(routingKey, body, properties, (error) => (error ? reject(error) : resolve()));
    });
    if (this.returned.delete(message.message_id)) {
      throw new Error(`RabbitMQ returned message ${message.message_id}: no queue '${routingKey}'`);
    }
  }

  async close() {
    if (!this.owned) return;
    if (!this.closed) await this.channel.close();
    await this.connection.close().catch(() => {}); // already closed by the server
  }
}

/**
 * Checks and enqueues messages for the actors in `contracts` through one transport.
 *
 *   const producer = await Producer.connect(contracts, { redis: url });  // or { amqp: url }
 */
export class Producer {
  /** claimStore: where to offload large values of actors with the claim check (see offloadAndEncode). */
  constructor(contracts, transport, { claimStore = null } = {}) {
    this.contracts = contracts;
    this.transport = transport;
    this.claimStore = claimStore;
  }

  /**
   * target: `{ redis: url, namespace? }`, `{ amqp: url, maxPriority? }` or `{ transport }`; plus
   * `claimStore` (a DirectoryClaimStore or RedisClaimStore) to offload large values.
   */
  static async connect(contracts, target) {
    const options = { claimStore: target.claimStore ?? null };
    if (target.transport) return new Producer(contracts, target.transport, options);
    if (target.redis) return new Producer(contracts, await RedisTransport.connect(target.redis, target), options);
    if (target.amqp) return new Producer(contracts, await AmqpTransport.connect(target.amqp, target), options);
    throw new TypeError("Producer.connect needs { redis: url }, { amqp: url } or { transport }");
  }

  /** Build and check a message without sending it: `{message, body}`, or a ProduceError. */
  prepare(actorName, kwargs, { delayMs, options } = {}) {
    const contract = this.contracts.get(actorName);
    const transportOptions = this.transport ? this.transport.transportOptions() : {};
    return checkAndEncode(contract, buildMessage(contract, kwargs, { delayMs, options, transportOptions }));
  }

  /** As `prepare`, offloading large values to the claim store: `{message, body, written}`. */
  async prepareOffloaded(actorName, kwargs, { delayMs, options } = {}) {
    const contract = this.contracts.get(actorName);
    const transportOptions = this.transport ? this.transport.transportOptions() : {};
    const message = buildMessage(contract, kwargs, { delayMs, options, transportOptions });
    return offloadAndEncode(contract, message, this.claimStore);
  }

  /** Check and enqueue; resolves to the message as stored. Refusals reject with ProduceError. */
  async produce(actorName, kwargs, { delayMs, options } = {}) {
    const { message, body, written } = await this.prepareOffloaded(actorName, kwargs, { delayMs, options });
    try {
      await this.transport.send(message, body);
    } catch (error) {
      // Nothing was enqueued: the blobs written for it would be orphans.
      await Promise.allSettled(written.map((key) => this.claimStore.delete(key)));
      throw error;
    }
    return message;
  }

  async close() {
    await this.transport.close();
  }
}
