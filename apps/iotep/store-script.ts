/**
 * One Redis round trip per message: the three commands of DESIGN.md's
 * "iotep workload" (GET key in db 1; SET it to the first 6 payload bytes when
 * absent, else to the value with its first byte + 1; GET key in db 2) run as
 * one Lua script on the server, sent through ioredis' defineCommand.
 *
 * ioredis (5.x) sends a defined command as EVAL the first time on each socket
 * and as EVALSHA after that, and resends a command that got NOSCRIPT (script
 * cache flushed) as EVAL: a restarted Redis, whose cache is empty, is handled
 * by both (a reconnect is a new socket; test/iotep/store-script.test.ts checks
 * SCRIPT FLUSH and a restart). The commands are auto-pipelined like plain ones.
 *
 * Databases: the standalone script SELECTs 1 then 2 inside the script. Since
 * Redis 7.0 a SELECT inside a script does not change the calling
 * connection's database (before 7.0 it did; this client sends nothing but
 * the script, so either way no other command is affected). Redis Cluster has
 * only database 0: there the databases stay key prefixes, and the keys carry
 * a hash tag on the connection id ("1:{<id>}", "2:{<id>}") so both hash to
 * one slot, as a script's keys must.
 *
 * The script returns 0 when it created the key and 1 when it incremented it
 * (the server's newKeys/updatedKeys); db 2's GET result is read and dropped
 * inside the script, like the reply the per-command mode ignores.
 *
 * Heartbeats in batches (standalone only): the server hands heartbeats to
 * messageBatched(), and the heartbeats of one event-loop turn go to Redis as
 * one script call over all their keys (at most `heartbeatBatch`; the same
 * three commands per message inside, returning one 0/1 per key). Redis' cost
 * per script call (~12 us here, against ~3 us for a message's three commands)
 * is then paid once per batch, not per heartbeat: less Redis CPU, less server
 * CPU (one ioredis command per batch), and a request sent after the batch
 * waits behind one short script instead of one script per heartbeat. The
 * batch is sent on process.nextTick, after ioredis queued every request
 * issued in the same turn, so requests still go first. Requests are never
 * batched: each is its own script call, sent at once. A batch's failure fails
 * every heartbeat in it. A batch's keys and payload bytes travel packed in one
 * argument (BATCH_SCRIPT_DB), from a record set reused batch after batch.
 * Redis Cluster keeps one call per message (a script's keys must share a
 * hash slot).
 *
 * Requests on a connection of their own (requestConnection "own", the
 * default): ioredis (5.11) writes an auto-pipeline on setImmediate and runs
 * one auto-pipeline per connection at a time: commands issued while a
 * pipeline is in flight wait until every reply of that pipeline has arrived
 * (autoPipelining.js, executeAutoPipeline). On one shared connection a request
 * issued while a heartbeat batch is out therefore waits a whole Redis round
 * trip before it is even written, then its own. So requests go on a second
 * connection without auto-pipelining: each request's script is written to the
 * socket at once, in the call. Redis still runs the two connections' commands
 * one at a time, so a request waits at most for the script Redis is running,
 * not for replies travelling back. Ordering per key is unchanged: the server
 * never has two messages of one connection in Redis at once (server.ts).
 * "shared" keeps everything on one auto-pipelined connection (the old way).
 */
import Redis, { type Cluster } from "ioredis";
import { closeClient, newCluster, redisWhere, standaloneOptions, waitClientsReady, type IotepStore, type MessageCallback, type StoreOptions } from "./store";
import { VALUE_BYTES } from "./protocol";

/** The shared body: v is db 1's value (false when absent), ARGV[1] the first payload bytes. */
const BODY = `
local r = 0
if v and #v > 0 then
  v = string.char((string.byte(v, 1) + 1) % 256) .. string.sub(v, 2)
  r = 1
else
  v = ARGV[1]
end`;

/** Standalone: KEYS[1] = connection id, databases by SELECT. */
export const MESSAGE_SCRIPT_DB = `redis.call('SELECT', 1)
local v = redis.call('GET', KEYS[1])${BODY}
redis.call('SET', KEYS[1], v)
redis.call('SELECT', 2)
redis.call('GET', KEYS[1])
return r
`;

/** Cluster: KEYS[1] = "1:{id}", KEYS[2] = "2:{id}" (one slot by the hash tag). */
export const MESSAGE_SCRIPT_CLUSTER = `local v = redis.call('GET', KEYS[1])${BODY}
redis.call('SET', KEYS[1], v)
redis.call('GET', KEYS[2])
return r
`;

/** Bytes per heartbeat in a batch's packed argument: the key (uint32, little-endian), then its first payload bytes. */
export const BATCH_RECORD = 4 + VALUE_BYTES;

/**
 * Standalone, a batch: ARGV[1] = the count n, ARGV[2] = n records of
 * BATCH_RECORD bytes (the key as a uint32 LE, then its first payload bytes);
 * returns one 0/1 per record. One packed argument rather than two per
 * heartbeat: ioredis turns every argument into strings and buffers as it
 * writes the command (~5 heap cells per heartbeat with 2 arguments each,
 * measured by a census of the server's heap), and the garbage is what
 * JavaScriptCore's collector and sweeper then stall the poll loop for. The
 * keys are not declared in KEYS: standalone Redis only (a cluster keeps one
 * call per message).
 */
export const BATCH_SCRIPT_DB = `local n = tonumber(ARGV[1])
local blob = ARGV[2]
local out = {}
local keys = {}
redis.call('SELECT', 1)
for i = 1, n do
  local o = (i - 1) * ${4 + VALUE_BYTES}
  local b1, b2, b3, b4 = string.byte(blob, o + 1, o + 4)
  local key = string.format('%d', b1 + b2 * 256 + b3 * 65536 + b4 * 16777216)
  keys[i] = key
  local v = redis.call('GET', key)
  if v and #v > 0 then
    v = string.char((string.byte(v, 1) + 1) % 256) .. string.sub(v, 2)
    out[i] = 1
  else
    v = string.sub(blob, o + 5, o + ${4 + VALUE_BYTES})
    out[i] = 0
  end
  redis.call('SET', key, v)
end
redis.call('SELECT', 2)
for i = 1, n do
  redis.call('GET', keys[i])
end
return out
`;

/**
 * When a batch goes out: "tick" = process.nextTick, in the same socket write
 * as (after) the turn's requests; "later" = setImmediate, a write of its own
 * after the event loop's next I/O poll. Redis answers a read's commands
 * together (its replies are written before it sleeps), so a request written
 * with a batch behind it waits for the batch to run too.
 */
export type HeartbeatFlush = "tick" | "later";

/** Where requests go: "own" = a second connection, written at once; "shared" = the heartbeats' auto-pipelined connection. */
export type RequestConnection = "own" | "shared";

/** Heartbeats per script call by default: the server's heartbeat window (DEFAULT_HEARTBEAT_SLOTS). */
export const DEFAULT_HEARTBEAT_BATCH = 32;

type ScriptFn = (...args: unknown[]) => unknown;

/** Standalone Redis, one connection, one script call per message (heartbeats: per batch). */
export class RedisScriptStore implements IotepStore {
  private readonly client: Redis;
  /** Requests' connection: its own (no auto-pipelining) or `client`. */
  private readonly reqClient: Redis;
  readonly requestConnection: RequestConnection;
  /** The heartbeats' connection auto-pipelined by ioredis (false: each call written at once). */
  readonly heartbeatPipelining: boolean;
  private readonly run: ScriptFn;
  private readonly runRequest: ScriptFn;
  private readonly runBatch: ScriptFn;
  /** Heartbeats per script call at most (1: one call each). */
  readonly heartbeatBatch: number;
  // The batch being collected in this event-loop turn (null: none yet), and finished ones to reuse.
  private batch: HeartbeatBatch | null = null;
  private readonly freeBatches: HeartbeatBatch[] = [];
  private flushScheduled = false;
  private readonly flushFn = (): void => this.flushBatch();
  private readonly later: (f: () => void) => void;
  /** Script calls that carried a batch of heartbeats, and the heartbeats in them. */
  batchCalls = 0;
  batchedMessages = 0;
  connectionErrors = 0;
  private lastError = "";

  constructor(
    /** Unix socket path, or "host:port". */
    readonly target: string,
    opts: StoreOptions & { heartbeatBatch?: number; heartbeatFlush?: HeartbeatFlush; requestConnection?: RequestConnection; heartbeatPipelining?: boolean } = {},
  ) {
    this.heartbeatBatch = Math.max(1, opts.heartbeatBatch ?? DEFAULT_HEARTBEAT_BATCH);
    this.later = (opts.heartbeatFlush ?? "tick") === "later" ? (f) => void setImmediate(f) : process.nextTick;
    // heartbeatPipelining false: each batch call written at once, as requests are (fewer heap cells per call).
    this.client = new Redis({ ...standaloneOptions(opts), ...(opts.heartbeatPipelining === false ? { enableAutoPipelining: false } : {}), ...redisWhere(target), connectionName: "iotep" });
    this.client.defineCommand("iotepMessage", { numberOfKeys: 1, lua: MESSAGE_SCRIPT_DB });
    // No numberOfKeys: the call's first argument is the key count.
    this.client.defineCommand("iotepBatch", { lua: BATCH_SCRIPT_DB });
    this.run = (this.client as unknown as Record<string, ScriptFn>)["iotepMessage"]!.bind(this.client);
    this.runBatch = (this.client as unknown as Record<string, ScriptFn>)["iotepBatch"]!.bind(this.client);
    this.requestConnection = opts.requestConnection ?? "own";
    this.heartbeatPipelining = opts.heartbeatPipelining !== false;
    if (this.requestConnection === "own") {
      this.reqClient = new Redis({ ...standaloneOptions(opts), enableAutoPipelining: false, ...redisWhere(target), connectionName: "iotep-requests" });
      this.reqClient.defineCommand("iotepMessage", { numberOfKeys: 1, lua: MESSAGE_SCRIPT_DB });
    } else this.reqClient = this.client;
    this.runRequest = (this.reqClient as unknown as Record<string, ScriptFn>)["iotepMessage"]!.bind(this.reqClient);
    for (const c of this.clients()) {
      c.on("error", (e: Error) => {
        this.connectionErrors++;
        this.lastError = e.message;
      });
    }
    // A new socket on every (re)connect: watch its writes (afterNextWrite).
    this.reqClient.on("connect", () => this.watchWrites());
  }

  private clients(): Redis[] {
    return this.reqClient === this.client ? [this.client] : [this.client, this.reqClient];
  }

  private writeWaiters: (() => void)[] = [];

  /** Run `f` once, just before the next write to the requests' socket (the breakdown's "written" time). */
  afterNextWrite(f: () => void): void {
    this.writeWaiters.push(f);
  }

  private watchWrites(): void {
    const s = (this.reqClient as unknown as { stream: { write: (...a: unknown[]) => boolean } }).stream;
    const w = s.write;
    s.write = (...a: unknown[]): boolean => {
      if (this.writeWaiters.length > 0) {
        const ws = this.writeWaiters;
        this.writeWaiters = [];
        for (const f of ws) f();
      }
      return w.apply(s, a);
    };
  }

  get connected(): boolean {
    return this.client.status === "ready" && this.reqClient.status === "ready";
  }

  get lastConnectionError(): string {
    return this.lastError;
  }

  // A number key is written in decimal by ioredis (no string per message).
  message(key: number, first: Buffer, cb: MessageCallback): void {
    this.runRequest(key, first, cb);
  }

  /** A heartbeat: joins this turn's batch (sent on process.nextTick, or now when full). */
  messageBatched(key: number, first: Buffer, cb: MessageCallback): void {
    if (this.heartbeatBatch === 1) {
      this.run(key, first, cb);
      return;
    }
    if (first.length !== VALUE_BYTES) {
      // Not a record's shape: on its own, as the one-message script takes it.
      this.run(key, first, cb);
      return;
    }
    const b = (this.batch ??= this.freeBatches.pop() ?? new HeartbeatBatch(this.heartbeatBatch, (x) => this.freeBatches.push(x)));
    b.add(key, first, cb);
    if (b.n >= this.heartbeatBatch) this.flushBatch();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.later(this.flushFn);
    }
  }

  private flushBatch(): void {
    this.flushScheduled = false;
    const b = this.batch;
    if (b === null || b.n === 0) return;
    this.batch = null;
    if (b.n === 1) {
      // One heartbeat: the one-message script (Redis runs it in ~3 us against ~12 us for a batch call).
      const key = b.key0;
      const first = b.first0!;
      const cb = b.takeOnly();
      this.freeBatches.push(b);
      this.run(key, first, cb);
      return;
    }
    this.batchCalls++;
    this.batchedMessages += b.n;
    // No KEYS (numkeys 0); ARGV: the count and the packed records (the whole buffer: Lua reads n of them).
    this.runBatch(0, b.n, b.packed, b.done);
  }

  get(): void {
    throw new Error("RedisScriptStore runs whole messages (message()), not single commands");
  }

  set(): void {
    throw new Error("RedisScriptStore runs whole messages (message()), not single commands");
  }

  waitReady(timeoutMs: number): Promise<boolean> {
    return waitClientsReady(this.clients(), timeoutMs);
  }

  async close(): Promise<void> {
    for (const c of this.clients()) await closeClient(c);
  }

  describe(): string {
    const hb = this.heartbeatBatch > 1 ? `, heartbeats in batches of up to ${this.heartbeatBatch} per script call` : "";
    const piped = this.heartbeatPipelining ? "auto-pipelined" : "each call written at once";
    if (this.requestConnection === "shared") return `redis ${this.target} (one connection, one Lua script per message via EVALSHA${hb}, ${piped})`;
    return `redis ${this.target} (one Lua script per message via EVALSHA; requests on a connection of their own, each written at once; heartbeats on another, ${piped}${hb})`;
  }
}

/**
 * One heartbeat batch: its packed records and callbacks, and the callback
 * ioredis calls with the script's reply. Allocated once and reused after
 * the reply (a batch's buffer is read by ioredis when the command is
 * written, so it is not touched until then).
 */
class HeartbeatBatch {
  n = 0;
  /** The first record's key and payload Buffer as given (a batch of one goes as one message). */
  key0 = 0;
  first0: Buffer | null = null;
  readonly packed: Buffer;
  private readonly cbs: (MessageCallback | null)[];
  /** ioredis' callback for this batch's script call. */
  readonly done: (err: Error | null | undefined, r?: unknown) => void;

  constructor(
    capacity: number,
    release: (b: HeartbeatBatch) => void,
  ) {
    this.packed = Buffer.alloc(capacity * BATCH_RECORD);
    this.cbs = new Array<MessageCallback | null>(capacity).fill(null);
    this.done = (err, r) => {
      const n = this.n;
      const ok = err == null && Array.isArray(r) && r.length === n;
      const e = ok ? null : (err ?? new Error(`batch script: expected ${n} results, got ${String(r)}`));
      for (let i = 0; i < n; i++) {
        const cb = this.cbs[i]!;
        this.cbs[i] = null;
        cb(e, ok ? (r as unknown[])[i] : undefined);
      }
      // Released after the callbacks: a batch they start takes another record set.
      this.n = 0;
      this.first0 = null;
      release(this);
    };
  }

  /** The only callback of a batch of one, the batch emptied. */
  takeOnly(): MessageCallback {
    const cb = this.cbs[0]!;
    this.cbs[0] = null;
    this.n = 0;
    this.first0 = null;
    return cb;
  }

  add(key: number, first: Buffer, cb: MessageCallback): void {
    if (this.n === 0) {
      this.key0 = key;
      this.first0 = first;
    }
    const o = this.n * BATCH_RECORD;
    this.packed.writeUInt32LE(key >>> 0, o);
    first.copy(this.packed, o + 4, 0, VALUE_BYTES);
    this.cbs[this.n++] = cb;
  }
}

/** Redis Cluster, one Cluster client, one script call per message on keys "1:{id}" and "2:{id}". */
export class RedisClusterScriptStore implements IotepStore {
  private readonly cluster: Cluster;
  private readonly run: ScriptFn;
  connectionErrors = 0;

  constructor(
    readonly nodes: { host: string; port: number }[],
    opts: StoreOptions = {},
  ) {
    this.cluster = newCluster(nodes, opts, () => {
      this.connectionErrors++;
    });
    this.cluster.defineCommand("iotepMessage", { numberOfKeys: 2, lua: MESSAGE_SCRIPT_CLUSTER });
    this.run = (this.cluster as unknown as Record<string, ScriptFn>)["iotepMessage"]!.bind(this.cluster);
  }

  get connected(): boolean {
    return this.cluster.status === "ready";
  }

  message(key: number, first: Buffer, cb: MessageCallback): void {
    this.run("1:{" + key + "}", "2:{" + key + "}", first, cb);
  }

  get(): void {
    throw new Error("RedisClusterScriptStore runs whole messages (message()), not single commands");
  }

  set(): void {
    throw new Error("RedisClusterScriptStore runs whole messages (message()), not single commands");
  }

  waitReady(timeoutMs: number): Promise<boolean> {
    return waitClientsReady([this.cluster], timeoutMs);
  }

  close(): Promise<void> {
    return closeClient(this.cluster);
  }

  describe(): string {
    return `redis cluster ${this.nodes.map((n) => `${n.host}:${n.port}`).join(",")} (one Lua script per message on keys "1:{id}"/"2:{id}", auto-pipelined per node)`;
  }
}
