// Declarations for index.js. Generated, app-specific kwargs types live in types/:
//   import type { ActorKwargs } from "./types/index.js";
//   const producer = await Producer.connect<ActorKwargs>(contracts, { redis: url });
import type { ValidateFunction } from "ajv";
import type { Redis } from "ioredis";
import type { Channel, ChannelModel, ConfirmChannel } from "amqplib";

export declare const DEFAULT_NAMESPACE: "dramatiq";
export declare const DEAD_MESSAGE_TTL_MS: number;
export declare const MAX_DEPTH: number;

/** Keyword arguments by name, as the schema's `kwargs` object. */
export type Kwargs = Record<string, unknown>;

export interface Problem {
  /** A JSON Pointer into the message: "/kwargs/order/items/0/quantity". */
  path: string;
  message: string;
  /** For kind "invalid": ajv's keyword and params. */
  keyword?: string;
  params?: Record<string, unknown>;
}

export type RefusalKind = "unknown_actor" | "not_json" | "invalid" | "too_large";

export declare class ProduceError extends Error {
  kind: RefusalKind;
  actor: string;
  problems: Problem[];
  /** For kind "too_large": the encoded size and the limit, in bytes. */
  size?: number;
  limit?: number;
  toJSON(): { kind: RefusalKind; actor: string; message: string; problems: Problem[]; size?: number; limit?: number };
}

export interface ActorContract {
  name: string;
  queue: string;
  /** null: no limit. */
  maxMessageBytes: number | null;
  limitSource: "actor" | "queue" | "global" | string;
  schemaFile: string;
  /** The actor has the claim check on: a top-level argument may travel as a ClaimReference. */
  claimCheck: boolean;
  schema: Record<string, unknown>;
  validate: ValidateFunction;
}

export declare class Contracts {
  dir: string;
  actors: Map<string, ActorContract>;
  get(actorName: string): ActorContract;
}

export declare function loadContracts(schemasDir: string | URL): Promise<Contracts>;

/** Dramatiq message options (`send_with_options`): max_retries, on_success, broker_priority... */
export type MessageOptions = Record<string, unknown>;

export interface ProduceOptions {
  /** Deliver no earlier than this many ms from now (the `<queue>.DQ` queue, `options.eta`). */
  delayMs?: number;
  options?: MessageOptions;
}

export interface DramatiqMessage<A extends string = string, K = Kwargs> {
  queue_name: string;
  actor_name: A;
  args: [];
  kwargs: K;
  options: MessageOptions;
  message_id: string;
  message_timestamp: number;
}

export interface Prepared<A extends string = string, K = Kwargs> {
  message: DramatiqMessage<A, K>;
  body: Buffer;
}

export declare function strictJsonProblems(value: unknown, path?: string): Problem[];
export declare function buildMessage(
  contract: ActorContract,
  kwargs: object,
  options?: ProduceOptions & { transportOptions?: MessageOptions; now?: number },
): DramatiqMessage;
export declare function checkAndEncode(
  contract: ActorContract,
  message: DramatiqMessage,
  options?: { checkSize?: boolean },
): Prepared;

export declare const CLAIM_MARKER: "$actorschema_claim";

export interface ClaimReference {
  $actorschema_claim: 1;
  store: string;
  key: string;
  sha256: string;
  size: number;
  content_type: "application/json";
}

export interface ClaimStore {
  name: string;
  put(key: string, blob: Buffer): Promise<void>;
  delete(key: string): Promise<void>;
}

export declare function claimReference(store: string, key: string, blob: Buffer): ClaimReference;

export declare class DirectoryClaimStore implements ClaimStore {
  constructor(dir: string, options?: { name?: string });
  dir: string;
  name: string;
  put(key: string, blob: Buffer): Promise<void>;
  delete(key: string): Promise<void>;
}

export declare class RedisClaimStore implements ClaimStore {
  constructor(client: Redis, options?: { name?: string; prefix?: string });
  client: Redis;
  name: string;
  prefix: string;
  put(key: string, blob: Buffer): Promise<void>;
  delete(key: string): Promise<void>;
}

export declare function offloadAndEncode(
  contract: ActorContract,
  message: DramatiqMessage,
  store: ClaimStore | null,
): Promise<Prepared & { written: string[] }>;

export interface Transport {
  transportOptions(): MessageOptions;
  send(message: DramatiqMessage, body: Buffer): Promise<void>;
  close(): Promise<void>;
}

export declare class RedisTransport implements Transport {
  constructor(client: Redis, options?: { namespace?: string });
  static connect(url: string, options?: { namespace?: string }): Promise<RedisTransport>;
  client: Redis;
  namespace: string;
  transportOptions(): { redis_message_id: string };
  send(message: DramatiqMessage, body: Buffer): Promise<void>;
  close(): Promise<void>;
}

export interface AmqpOptions {
  maxPriority?: number;
  deadMessageTtlMs?: number;
}

export declare class AmqpTransport implements Transport {
  constructor(connection: ChannelModel, channel: ConfirmChannel | Channel, options?: AmqpOptions);
  static connect(url: string, options?: AmqpOptions): Promise<AmqpTransport>;
  declare(queue: string): Promise<void>;
  transportOptions(): MessageOptions;
  send(message: DramatiqMessage, body: Buffer): Promise<void>;
  close(): Promise<void>;
}

export type Target = (
  | ({ redis: string; namespace?: string })
  | ({ amqp: string } & AmqpOptions)
  | { transport: Transport }
) & { claimStore?: ClaimStore | null };

export declare class Producer<M = { [actor: string]: Kwargs }> {
  constructor(contracts: Contracts, transport: Transport | null, options?: { claimStore?: ClaimStore | null });
  static connect<M = { [actor: string]: Kwargs }>(
    contracts: Contracts,
    target: Target,
  ): Promise<Producer<M>>;
  contracts: Contracts;
  transport: Transport | null;
  claimStore: ClaimStore | null;
  prepareOffloaded<A extends keyof M & string>(
    actor: A,
    kwargs: M[A],
    options?: ProduceOptions,
  ): Promise<Prepared<A, M[A]> & { written: string[] }>;
  prepare<A extends keyof M & string>(actor: A, kwargs: M[A], options?: ProduceOptions): Prepared<A, M[A]>;
  produce<A extends keyof M & string>(actor: A, kwargs: M[A], options?: ProduceOptions): Promise<DramatiqMessage<A, M[A]>>;
  close(): Promise<void>;
}
