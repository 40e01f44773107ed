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
 */
import Redis, { type Cluster } from "ioredis";
import { closeClient, newCluster, redisWhere, standaloneOptions, waitClientsReady, type IotepStore, type MessageCallback, type StoreOptions } from "./store";

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

type ScriptFn = (...args: unknown[]) => unknown;

/** Standalone Redis, one connection, one script call per message. */
export class RedisScriptStore implements IotepStore {
  private readonly client: Redis;
  private readonly run: ScriptFn;
  connectionErrors = 0;
  private lastError = "";

  constructor(
    /** Unix socket path, or "host:port". */
    readonly target: string,
    opts: StoreOptions = {},
  ) {
    this.client = new Redis({ ...standaloneOptions(opts), ...redisWhere(target), connectionName: "iotep" });
    this.client.defineCommand("iotepMessage", { numberOfKeys: 1, lua: MESSAGE_SCRIPT_DB });
    this.run = (this.client as unknown as Record<string, ScriptFn>)["iotepMessage"]!.bind(this.client);
    this.client.on("error", (e: Error) => {
      this.connectionErrors++;
      this.lastError = e.message;
    });
  }

  get connected(): boolean {
    return this.client.status === "ready";
  }

  get lastConnectionError(): string {
    return this.lastError;
  }

  // A number key is written in decimal by ioredis (no string per message).
  message(key: number, first: Buffer, cb: MessageCallback): void {
    this.run(key, first, cb);
  }

  get(): void {
    throw new Error("RedisScriptStore runs whole messages (message()), not single commands");
  }

  set(): void {
    throw new Error("RedisScriptStore runs whole messages (message()), not single commands");
  }

  waitReady(timeoutMs: number): Promise<boolean> {
    return waitClientsReady([this.client], timeoutMs);
  }

  close(): Promise<void> {
    return closeClient(this.client);
  }

  describe(): string {
    return `redis ${this.target} (one connection, one Lua script per message via EVALSHA, auto-pipelined)`;
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
