/**
 * The iotepserver's Redis access: GET and SET "in database 1 / 2" through
 * ioredis with auto-pipelining, behind a small interface the server logic
 * uses (and the tests can point at a real redis-server).
 *
 * Two ways to run a message's three commands:
 *   - one Lua script per message, one connection per app thread (the
 *     default; store-script.ts: RedisScriptStore, RedisClusterScriptStore);
 *   - plain GET/SET per command (--redis-mode commands; this file), below.
 *
 * Standalone Redis (the QStack setup: one local redis-server on a Unix socket
 * per worker), per command -> RedisDbStore: two ioredis clients per app thread, one
 * opened on database 1 and one on database 2 (ioredis SELECTs once at
 * connect and again after every reconnect).
 *   Why not one connection and SELECT: ioredis never auto-pipelines SELECT
 *   (it is on its notAllowedAutoPipelineCommands list), so a SELECT goes out
 *   at once while the GET/SETs issued before it wait for the next pipeline
 *   flush: the database switch would overtake them and the commands would hit
 *   the wrong database. A Lua wrapper that SELECTs inside a script works on one
 *   connection, but turns each command into a script call (slower, and its
 *   script cache is lost when Redis restarts). Two connections keep the
 *   commands plain GET/SET, auto-pipelined, each database's commands in order;
 *   the price is one more Unix socket per thread.
 *
 * Redis Cluster (--redis-cluster) -> RedisClusterStore: one ioredis Cluster
 * client, auto-pipelined per node. A cluster has only database 0, so the
 * database number becomes a key prefix: "1:<id>" and "2:<id>".
 *
 * Failure policy (the server must survive Redis going away): no offline queue
 * (a command while disconnected fails at once), no resending of commands that
 * were in flight when the connection dropped (they fail), a command timeout
 * (a hung Redis fails commands instead of holding them), and reconnection
 * forever with a short backoff. Every failure reaches the command's callback,
 * never an exception.
 */
import "./tracing-channel-compat";
import Redis, { Cluster } from "ioredis";

export type GetCallback = (err: Error | null | undefined, value?: Buffer | null) => void;
export type SetCallback = (err: Error | null | undefined, ok?: unknown) => void;
/** A whole message's result: 0 = key created, 1 = key incremented. */
export type MessageCallback = (err: Error | null | undefined, result?: unknown) => void;

/** Database numbers the workload uses (DESIGN.md "iotep workload"). */
export type Db = 1 | 2;

export interface IotepStore {
  /** GET key in database `db`; `cb` is called exactly once. */
  get(db: Db, key: number, cb: GetCallback): void;
  /** SET key value in database `db`; `cb` is called exactly once. The value must stay unchanged until then. */
  set(db: Db, key: number, value: Buffer, cb: SetCallback): void;
  /**
   * When present, the server runs each message as this one call instead of
   * get/set: the three commands for `key` with `first` (the first payload
   * bytes, unchanged until `cb`); `cb` is called exactly once.
   */
  message?(key: number, first: Buffer, cb: MessageCallback): void;
  /**
   * Like message(), but the store may send it later in this event-loop turn
   * together with other such calls, as one round trip (the server's
   * heartbeats: store-script.ts); `cb` is called exactly once.
   */
  messageBatched?(key: number, first: Buffer, cb: MessageCallback): void;
  /**
   * When present: run `f` once, just before the next socket write that
   * carries requests (the breakdown's "written" time; without it the
   * breakdown takes the process.nextTick after the call).
   */
  afterNextWrite?(f: () => void): void;
  /** True while every connection is up. */
  readonly connected: boolean;
  /** Connection-level errors seen (not command errors). */
  readonly connectionErrors: number;
  /** Resolve when connected, or false after `timeoutMs`. */
  waitReady(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
  describe(): string;
}

export interface StoreOptions {
  /** Per-command timeout in ms (a hung Redis fails commands). */
  commandTimeoutMs?: number;
  /** Longest pause between reconnection attempts, ms. */
  maxReconnectDelayMs?: number;
}

export function retry(maxMs: number): (times: number) => number {
  return (times) => Math.min(20 * times, maxMs);
}

export function waitClientsReady(clients: { status: string; once(ev: string, f: () => void): unknown; off(ev: string, f: () => void): unknown }[], timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let left = 0;
    const t = setTimeout(() => done(false), timeoutMs);
    const onReady = (): void => {
      if (--left === 0) done(true);
    };
    function done(v: boolean): void {
      clearTimeout(t);
      for (const c of clients) c.off("ready", onReady);
      resolve(v);
    }
    for (const c of clients) {
      if (c.status !== "ready") {
        left++;
        c.once("ready", onReady);
      }
    }
    if (left === 0) done(true);
  });
}

/** "path/to/socket" or "host:port" as ioredis connection options. */
export function redisWhere(target: string): { path: string } | { host: string; port: number } {
  return target.includes("/") ? { path: target } : { host: target.split(":")[0] || "127.0.0.1", port: Number(target.split(":")[1] ?? 6379) };
}

/** The failure policy of the file comment, as ioredis options for a standalone client. */
export function standaloneOptions(opts: StoreOptions) {
  return {
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    commandTimeout: opts.commandTimeoutMs ?? 2000,
    retryStrategy: retry(opts.maxReconnectDelayMs ?? 500),
    enableReadyCheck: true,
    lazyConnect: false,
  };
}

/** One Cluster client with the same failure policy; `onError` counts connection-level errors. */
export function newCluster(nodes: { host: string; port: number }[], opts: StoreOptions, onError: () => void): Cluster {
  const cluster = new Cluster(nodes, {
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    clusterRetryStrategy: retry(opts.maxReconnectDelayMs ?? 500),
    redisOptions: {
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      commandTimeout: opts.commandTimeoutMs ?? 2000,
      connectionName: "iotep",
    },
  });
  cluster.on("error", onError);
  cluster.on("node error", onError);
  return cluster;
}

/** QUIT when connected (pending replies arrive first), else drop the connection. */
export async function closeClient(c: Redis | Cluster): Promise<void> {
  try {
    if (c.status === "ready") await c.quit();
    else c.disconnect();
  } catch {
    c.disconnect();
  }
}

/** Standalone Redis: one client per database, each on its own connection (see the file comment). */
export class RedisDbStore implements IotepStore {
  private readonly db1: Redis;
  private readonly db2: Redis;
  connectionErrors = 0;
  private lastError = "";

  constructor(
    /** Unix socket path, or "host:port". */
    readonly target: string,
    opts: StoreOptions = {},
  ) {
    const common = standaloneOptions(opts);
    const where = redisWhere(target);
    this.db1 = new Redis({ ...common, ...where, db: 1, connectionName: "iotep-db1" });
    this.db2 = new Redis({ ...common, ...where, db: 2, connectionName: "iotep-db2" });
    for (const c of [this.db1, this.db2]) {
      c.on("error", (e: Error) => {
        this.connectionErrors++;
        this.lastError = e.message;
      });
    }
  }

  get connected(): boolean {
    return this.db1.status === "ready" && this.db2.status === "ready";
  }

  get lastConnectionError(): string {
    return this.lastError;
  }

  // ioredis writes a number argument in decimal, which is the key we want,
  // without us building a string per command; its typings only admit strings.
  get(db: Db, key: number, cb: GetCallback): void {
    (db === 1 ? this.db1 : this.db2).getBuffer(key as unknown as string, cb);
  }

  set(db: Db, key: number, value: Buffer, cb: SetCallback): void {
    (db === 1 ? this.db1 : this.db2).set(key as unknown as string, value, cb);
  }

  waitReady(timeoutMs: number): Promise<boolean> {
    return waitClientsReady([this.db1, this.db2], timeoutMs);
  }

  async close(): Promise<void> {
    await closeClient(this.db1);
    await closeClient(this.db2);
  }

  describe(): string {
    return `redis ${this.target} (db 1 and db 2, one connection each, auto-pipelined)`;
  }
}

/** Parse "host:port,host:port" for --redis-cluster. Returns null when malformed. */
export function parseClusterNodes(s: string): { host: string; port: number }[] | null {
  const out: { host: string; port: number }[] = [];
  for (const part of s.split(",")) {
    const m = /^([^:,\s]+):(\d{1,5})$/.exec(part.trim());
    if (m === null) return null;
    const port = Number(m[2]);
    if (port < 1 || port > 65535) return null;
    out.push({ host: m[1]!, port });
  }
  return out.length > 0 ? out : null;
}

/** Redis Cluster: one Cluster client; the database is a key prefix ("1:", "2:"), since a cluster has only database 0. */
export class RedisClusterStore implements IotepStore {
  private readonly cluster: Cluster;
  connectionErrors = 0;

  constructor(
    readonly nodes: { host: string; port: number }[],
    opts: StoreOptions = {},
  ) {
    this.cluster = newCluster(nodes, opts, () => {
      this.connectionErrors++;
    });
  }

  get connected(): boolean {
    return this.cluster.status === "ready";
  }

  get(db: Db, key: number, cb: GetCallback): void {
    this.cluster.getBuffer(db === 1 ? "1:" + key : "2:" + key, cb);
  }

  set(db: Db, key: number, value: Buffer, cb: SetCallback): void {
    this.cluster.set(db === 1 ? "1:" + key : "2:" + key, value, cb);
  }

  waitReady(timeoutMs: number): Promise<boolean> {
    return waitClientsReady([this.cluster], timeoutMs);
  }

  close(): Promise<void> {
    return closeClient(this.cluster);
  }

  describe(): string {
    return `redis cluster ${this.nodes.map((n) => `${n.host}:${n.port}`).join(",")} (db 1/2 as key prefixes "1:"/"2:", auto-pipelined per node)`;
  }
}
