#!/usr/bin/env node
// Enqueue one message (or a batch) for a Dramatiq actor, checked against the app's schemas.
//
//   node produce.js --redis redis://127.0.0.1:6379/0 send_email '{"user_id": 7, "template": "welcome"}'
//   node produce.js --amqp amqp://guest:guest@127.0.0.1:5672 --delay-ms 60000 make_thumbnail '{"source": "cat.png"}'
//   node produce.js --redis URL --batch < requests.jsonl
//   node produce.js --dry-run refund '{"order_id": "...", ...}'
//   node produce.js --redis URL --claims-dir /var/lib/app/claims ingest '{"document": "...50 MB..."}'
//
// One message: prints the message as stored, exits 0; a refused message: the reasons on
// stderr, exit 1. --batch reads JSON Lines {"actor", "kwargs", "delayMs"?, "options"?} from
// stdin and writes one JSON line per request: {"ok": true, "message", "bytes"} or
// {"ok": false, "error": {"kind", "actor", "message", "problems"}}; exit 1 if any was refused.
// --dry-run checks and prints without connecting to a broker. Exit 2: usage; 3: broker error.
// --claims-dir DIR or --claims-redis: for an actor with the claim check, a message over its limit has
// its largest values written to that store (the workers' DirectoryStore, or RedisStore on the --redis
// server) and references put in their place.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DirectoryClaimStore, loadContracts, ProduceError, Producer, RedisClaimStore } from "./index.js";

const USAGE = `usage: node produce.js (--redis URL | --amqp URL | --dry-run) [--schemas DIR] [--namespace NS]
                        [--max-priority N] [--delay-ms MS] [--claims-dir DIR | --claims-redis]
                        (ACTOR KWARGS_JSON | --batch)`;

function usage(message) {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

let parsed;
try {
  parsed = parseArgs({
    allowPositionals: true,
    options: {
      redis: { type: "string" },
      amqp: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      schemas: { type: "string", default: fileURLToPath(new URL("../../../schemas/", import.meta.url)) },
      namespace: { type: "string", default: "dramatiq" },
      "max-priority": { type: "string" },
      "delay-ms": { type: "string" },
      batch: { type: "boolean", default: false },
      "claims-dir": { type: "string" },
      "claims-redis": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
} catch (error) {
  usage(error.message);
}
const { values: opts, positionals } = parsed;
if (opts.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const targets = [opts.redis, opts.amqp, opts["dry-run"] || undefined].filter((t) => t !== undefined);
if (targets.length !== 1) usage("give exactly one of --redis URL, --amqp URL, --dry-run");
if (opts["claims-dir"] !== undefined && opts["claims-redis"]) usage("give one of --claims-dir, --claims-redis");
if (opts["claims-redis"] && opts.redis === undefined) usage("--claims-redis stores blobs on the --redis server");
if (opts["dry-run"] && (opts["claims-dir"] !== undefined || opts["claims-redis"])) {
  usage("--dry-run writes nothing, so it cannot offload: drop --claims-dir/--claims-redis");
}
if (opts.batch ? positionals.length !== 0 : positionals.length !== 2) usage("give ACTOR and KWARGS_JSON, or --batch");
const integerOption = (name) => {
  if (opts[name] === undefined) return undefined;
  if (!/^[0-9]+$/.test(opts[name])) usage(`--${name} takes a non-negative integer`);
  return Number(opts[name]);
};

let requests;
try {
  requests = opts.batch
    ? readFileSync(0, "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line))
    : [{ actor: positionals[0], kwargs: JSON.parse(positionals[1]), delayMs: integerOption("delay-ms") }];
} catch (error) {
  usage(`not JSON: ${error.message}`);
}

const contracts = await loadContracts(opts.schemas);
let producer;
try {
  producer = opts["dry-run"]
    ? new Producer(contracts, null)
    : await Producer.connect(contracts, {
        redis: opts.redis,
        amqp: opts.amqp,
        namespace: opts.namespace,
        maxPriority: integerOption("max-priority"),
      });
} catch (error) {
  process.stderr.write(`cannot connect: ${error.message}\n`);
  process.exit(3);
}
if (opts["claims-dir"] !== undefined) producer.claimStore = new DirectoryClaimStore(opts["claims-dir"]);
if (opts["claims-redis"]) producer.claimStore = new RedisClaimStore(producer.transport.client);

let refused = 0;
try {
  for (const { actor, kwargs, delayMs, options } of requests) {
    try {
      const { message, body, written } = await producer.prepareOffloaded(actor, kwargs, { delayMs, options });
      try {
        if (producer.transport) await producer.transport.send(message, body);
      } catch (error) {
        await Promise.allSettled(written.map((key) => producer.claimStore.delete(key))); // never enqueued
        throw error;
      }
      if (opts.batch) process.stdout.write(`${JSON.stringify({ ok: true, message, bytes: body.length })}\n`);
      else process.stdout.write(`${JSON.stringify(message)}\n`);
    } catch (error) {
      if (!(error instanceof ProduceError)) throw error;
      refused += 1;
      if (opts.batch) process.stdout.write(`${JSON.stringify({ ok: false, error })}\n`);
      else process.stderr.write(`${error.message}\n`);
    }
  }
} catch (error) {
  process.stderr.write(`broker error: ${error.message}\n`);
  process.exitCode = 3;
} finally {
  if (producer.transport) await producer.transport.close();
}
if (!process.exitCode && refused > 0) process.exitCode = 1;
