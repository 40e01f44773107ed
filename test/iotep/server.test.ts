/**
 * iotepserver logic: Redis effects against a real redis-server (started per
 * suite on a Unix socket), Redis killed and restarted mid-run, a 3-node Redis
 * Cluster, each in both store modes (one Lua script per message on one
 * connection; plain GET/SET on one connection per database), the script
 * mode's own cases (the caller's database, a flushed script cache), and the
 * request-first scheduling (with a hand-driven store, so the order of
 * commands can be checked exactly).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { IotepServer, type ReplySink } from "../../apps/iotep/server";
import { MessageBuilder, REPLY_LEN } from "../../apps/iotep/protocol";
import { RedisClusterStore, RedisDbStore, parseClusterNodes, type Db, type GetCallback, type IotepStore, type SetCallback, type StoreOptions } from "../../apps/iotep/store";
import { RedisClusterScriptStore, RedisScriptStore } from "../../apps/iotep/store-script";
import { RedisCluster, RedisServer, redisAvailable } from "../helpers/redis";

const haveRedis = redisAvailable();
if (!haveRedis) console.log("skipping Redis tests: redis-server/redis-cli not installed (apt-get install redis-server)");

class Replies implements ReplySink {
  got: { conn: number; bytes: Uint8Array }[] = [];
  closed = new Set<number>();
  reply(conn: number, buf: Uint8Array, len: number): boolean {
    if (this.closed.has(conn)) return false;
    this.got.push({ conn, bytes: buf.slice(0, len) });
    return true;
  }
}

async function until(what: string, ms: number, f: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await Bun.sleep(5);
  }
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

const MODES = [
  {
    mode: "script",
    make: (path: string, o?: StoreOptions): IotepStore => new RedisScriptStore(path, o),
    makeCluster: (nodes: { host: string; port: number }[]): IotepStore => new RedisClusterScriptStore(nodes),
    clusterKey: (db: number, id: number): string => `${db}:{${id}}`,
  },
  {
    mode: "commands",
    make: (path: string, o?: StoreOptions): IotepStore => new RedisDbStore(path, o),
    makeCluster: (nodes: { host: string; port: number }[]): IotepStore => new RedisClusterStore(nodes),
    clusterKey: (db: number, id: number): string => `${db}:${id}`,
  },
];

for (const M of MODES)
describe.skipIf(!haveRedis)(`against a real redis-server (${M.mode})`, () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  test("three commands per message keyed by connection id; only requests are answered", async () => {
    await redis.cli("FLUSHALL");
    await redis.cli("CONFIG", "RESETSTAT");
    const store = M.make(redis.socketPath);
    expect(await store.waitReady(3000)).toBe(true);
    const sink = new Replies();
    const srv = new IotepServer({ msgLen: 200, store, sink });
    const mb = new MessageBuilder(200);
    srv.open(7);
    srv.open(8);
    srv.data(7, mb.request(0x00000001), 0, 200);
    srv.data(8, mb.heartbeat(0x00000002), 0, 200);
    await until("two messages done", 3000, () => srv.counters.doneRequests + srv.counters.doneHeartbeats === 2);
    // Three commands per message: 2 GET + 1 SET each.
    // (Commands a script runs are counted too.)
    const stats = await redis.cli("INFO", "commandstats");
    expect(stats).toMatch(/cmdstat_get:calls=4,/);
    expect(stats).toMatch(/cmdstat_set:calls=2,/);
    // Script mode: one call (one round trip) per message.
    const calls = (name: string): number => Number(new RegExp(`cmdstat_${name}:calls=(\\d+),`).exec(stats)?.[1] ?? 0);
    expect(calls("eval") + calls("evalsha")).toBe(M.mode === "script" ? 2 : 0);

    // Absent key: SET to the first 6 payload bytes, in database 1.
    expect(hex(await redis.cliBytes("-n", "1", "GET", "7"))).toBe(hex(mb.request(1).subarray(0, 6)));
    expect(hex(await redis.cliBytes("-n", "1", "GET", "8"))).toBe(hex(mb.heartbeat(2).subarray(0, 6)));
    // Nothing is written to database 2 (only read) nor to database 0.
    expect(await redis.cli("-n", "2", "DBSIZE")).toBe("0");
    expect(await redis.cli("-n", "0", "DBSIZE")).toBe("0");
    // Only the request got a reply: 146 bytes, byte 6 = 0x03.
    expect(sink.got.length).toBe(1);
    expect(sink.got[0]!.conn).toBe(7);
    expect(sink.got[0]!.bytes.length).toBe(REPLY_LEN);
    expect(sink.got[0]!.bytes[6]).toBe(3);

    // Present key: first byte + 1, SET back.
    srv.data(7, mb.request(0x05000000), 0, 200);
    await until("third message", 3000, () => srv.counters.doneRequests === 2);
    const v = mb.request(1).slice(0, 6);
    v[0] = v[0]! + 1;
    expect(hex(await redis.cliBytes("-n", "1", "GET", "7"))).toBe(hex(v));
    expect(sink.got.length).toBe(2);
    expect(srv.counters.newKeys).toBe(2);
    expect(srv.counters.updatedKeys).toBe(1);

    expect(srv.counters.failedRequests + srv.counters.failedHeartbeats).toBe(0);
    expect(srv.latencyHigh.totalCount).toBe(2);
    expect(srv.latencyLow.totalCount).toBe(1);
    await store.close();
  });

  test("split and coalesced messages on many connections: every message served once", async () => {
    await redis.cli("FLUSHALL");
    const store = M.make(redis.socketPath);
    expect(await store.waitReady(3000)).toBe(true);
    const sink = new Replies();
    const srv = new IotepServer({ msgLen: 50, store, sink, slots: 64 });
    const mb = new MessageBuilder(50);
    const conns = 200;
    const stream = new Uint8Array(150);
    for (let c = 0; c < conns; c++) srv.open(c);
    for (let c = 0; c < conns; c++) {
      stream.set(mb.request(c), 0);
      stream.set(mb.heartbeat(c), 50);
      stream.set(mb.request(c + 1), 100);
      srv.data(c, stream, 0, 30); // split
      srv.data(c, stream, 30, 120); // rest of the first and two whole ones
    }
    await until("all done", 5000, () => srv.counters.doneRequests + srv.counters.doneHeartbeats === conns * 3);
    expect(srv.counters.requests).toBe(conns * 2);
    expect(srv.counters.heartbeats).toBe(conns);
    expect(sink.got.length).toBe(conns * 2);
    expect(await redis.cli("-n", "1", "DBSIZE")).toBe(String(conns));
    // Each key saw 3 messages: created once, first byte incremented twice.
    const v = mb.request(5).slice(0, 6);
    v[0] = v[0]! + 2;
    expect(hex(await redis.cliBytes("-n", "1", "GET", "5"))).toBe(hex(v));
    expect(srv.isIdle()).toBe(true);
    await store.close();
  });

  test("no reply reaches a connection that closed while its request was in Redis", async () => {
    const store = M.make(redis.socketPath);
    expect(await store.waitReady(3000)).toBe(true);
    const sink = new Replies();
    const srv = new IotepServer({ msgLen: 200, store, sink });
    const mb = new MessageBuilder(200);
    srv.open(3);
    srv.data(3, mb.request(1), 0, 200);
    srv.close(3);
    srv.open(3); // the id is reused by a new connection
    await until("done", 3000, () => srv.counters.doneRequests === 1);
    expect(sink.got.length).toBe(0);
    expect(srv.counters.repliesLost).toBe(1);
    await store.close();
  });

  test("Redis killed and restarted mid-run: messages fail and are counted, nothing throws, service resumes", async () => {
    const store = M.make(redis.socketPath, { commandTimeoutMs: 500, maxReconnectDelayMs: 50 });
    expect(await store.waitReady(3000)).toBe(true);
    const sink = new Replies();
    const srv = new IotepServer({ msgLen: 200, store, sink, slots: 32 });
    const mb = new MessageBuilder(200);
    for (let c = 0; c < 50; c++) srv.open(c);
    let n = 0;
    const send = (count: number): void => {
      for (let i = 0; i < count; i++, n++) srv.data(n % 50, n % 4 === 0 ? mb.request(n) : mb.heartbeat(n), 0, 200);
    };
    send(200);
    await until("first batch", 3000, () => srv.isIdle());
    const before = { ...srv.counters };
    expect(before.failedRequests + before.failedHeartbeats).toBe(0);

    // Kill Redis while messages are queued and in flight.
    send(200);
    await redis.kill();
    send(200);
    await until("everything settled while Redis is down", 5000, () => srv.isIdle());
    const down = { ...srv.counters };
    expect(down.failedRequests + down.failedHeartbeats).toBeGreaterThan(0);
    expect(down.redisErrors).toBeGreaterThan(0);
    expect(down.doneRequests + down.doneHeartbeats + down.failedRequests + down.failedHeartbeats).toBe(600);
    expect(store.connected).toBe(false);

    // Back: the store reconnects by itself and new messages succeed.
    await redis.restart();
    await until("reconnected", 5000, () => store.connected);
    const repliesBefore = sink.got.length;
    send(200);
    await until("after restart", 5000, () => srv.isIdle());
    const after = srv.counters;
    expect(after.doneRequests + after.doneHeartbeats - (down.doneRequests + down.doneHeartbeats)).toBe(200);
    expect(after.failedRequests + after.failedHeartbeats).toBe(down.failedRequests + down.failedHeartbeats);
    expect(sink.got.length - repliesBefore).toBe(50);
    expect(await redis.cli("-n", "1", "DBSIZE")).toBe("50");
    await store.close();
  });
});

for (const M of MODES)
describe.skipIf(!haveRedis)(`against a 3-node Redis Cluster (${M.mode})`, () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await RedisCluster.start(3);
  }, 30_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  test("--redis-cluster nodes parse; keys spread over the nodes as 1:<id> (script: 1:{<id>}); requests answered", async () => {
    expect(parseClusterNodes("127.0.0.1:7000,localhost:7001")).toEqual([
      { host: "127.0.0.1", port: 7000 },
      { host: "localhost", port: 7001 },
    ]);
    expect(parseClusterNodes("127.0.0.1")).toBeNull();
    expect(parseClusterNodes("a:70000")).toBeNull();
    const store = M.makeCluster(parseClusterNodes(cluster.nodes)!);
    expect(await store.waitReady(5000)).toBe(true);
    const sink = new Replies();
    const srv = new IotepServer({ msgLen: 100, store, sink });
    const mb = new MessageBuilder(100);
    for (let c = 0; c < 300; c++) {
      srv.open(c);
      srv.data(c, c % 2 === 0 ? mb.request(c) : mb.heartbeat(c), 0, 100);
    }
    await until("all done", 10_000, () => srv.isIdle());
    expect(srv.counters.doneRequests).toBe(150);
    expect(srv.counters.doneHeartbeats).toBe(150);
    expect(sink.got.length).toBe(150);
    let total = 0;
    const perNode: number[] = [];
    for (const p of cluster.ports) {
      const n = Number(await cluster.cli(p, "DBSIZE"));
      perNode.push(n);
      total += n;
    }
    expect(total).toBe(300);
    for (const n of perNode) expect(n).toBeGreaterThan(0);
    expect(hex(await cluster.cliBytes(cluster.ports[0]!, "GET", M.clusterKey(1, 42)))).toBe(hex(mb.request(42).subarray(0, 6)));
    // The script's keys hash to one slot; db 2 is only read.
    if (M.mode === "script") expect(await cluster.cli(cluster.ports[0]!, "CLUSTER", "KEYSLOT", M.clusterKey(1, 42))).toBe(await cluster.cli(cluster.ports[0]!, "CLUSTER", "KEYSLOT", M.clusterKey(2, 42)));
    await store.close();
  }, 30_000);
});

/** A store whose commands complete only when the test says so; it records the order commands were sent. */
class ManualStore implements IotepStore {
  log: string[] = [];
  pending: { what: string; done: () => void }[] = [];
  values = new Map<string, Buffer>();
  connected = true;
  connectionErrors = 0;
  get(db: Db, key: number, cb: GetCallback): void {
    this.log.push(`get${db}:${key}`);
    this.pending.push({ what: `get${db}:${key}`, done: () => cb(null, this.values.get(`${db}:${key}`) ?? null) });
  }
  set(db: Db, key: number, value: Buffer, cb: SetCallback): void {
    this.log.push(`set${db}:${key}`);
    this.pending.push({ what: `set${db}:${key}`, done: () => (this.values.set(`${db}:${key}`, Buffer.from(value)), cb(null, "OK")) });
  }
  /** Complete every pending command, in order (one pipeline's replies). */
  completeAll(): void {
    const p = this.pending;
    this.pending = [];
    for (const x of p) x.done();
  }
  waitReady(): Promise<boolean> {
    return Promise.resolve(true);
  }
  async close(): Promise<void> {}
  describe(): string {
    return "manual";
  }
}

describe("request-first scheduling", () => {
  function setup(slots: number, heartbeatSlots?: number) {
    const store = new ManualStore();
    const sink = new Replies();
    const later: (() => void)[] = [];
    let t = 0;
    const srv = new IotepServer({ msgLen: 20, store, sink, slots, heartbeatSlots, schedule: (f) => void later.push(f), clockUs: () => t, wallMs: () => 0 });
    const runLater = (): void => {
      while (later.length > 0) later.shift()!();
    };
    const setTime = (us: number): void => {
      t = us;
    };
    return { store, sink, srv, runLater, mb: new MessageBuilder(20), setTime };
  }

  test("a request that arrives behind queued heartbeats takes the next free slot", () => {
    const { store, srv, runLater, mb } = setup(2, 2);
    for (let c = 0; c < 6; c++) srv.open(c);
    for (let c = 0; c < 5; c++) srv.data(c, mb.heartbeat(c), 0, 20);
    expect(store.log).toEqual(["get1:0", "get1:1"]);
    srv.data(5, mb.request(5), 0, 20);
    expect(srv.queuedRequests).toBe(1);
    // Finish both heartbeats' three commands: the first freed slot goes to the request.
    store.completeAll();
    runLater();
    store.completeAll();
    runLater();
    store.completeAll();
    runLater();
    const firstAdmitAfter = store.log.slice(6);
    expect(firstAdmitAfter[0]).toBe("get1:5");
  });

  test("within one pipeline, the ready request commands are sent before the heartbeat commands", () => {
    const { store, srv, runLater, mb } = setup(8, 8);
    for (let c = 0; c < 4; c++) srv.open(c);
    srv.data(0, mb.heartbeat(0), 0, 20);
    srv.data(1, mb.heartbeat(1), 0, 20);
    srv.data(2, mb.request(2), 0, 20);
    srv.data(3, mb.heartbeat(3), 0, 20);
    expect(store.log).toEqual(["get1:0", "get1:1", "get1:2", "get1:3"]);
    store.log = [];
    store.completeAll(); // replies arrive in the order sent: hb, hb, req, hb
    runLater();
    expect(store.log).toEqual(["set1:2", "set1:0", "set1:1", "set1:3"]);
  });

  test("heartbeats never hold the slots reserved for requests", () => {
    const { store, srv, mb } = setup(4, 3);
    for (let c = 0; c < 10; c++) srv.open(c);
    for (let c = 0; c < 9; c++) srv.data(c, mb.heartbeat(c), 0, 20);
    expect(srv.inFlight).toBe(3);
    srv.data(9, mb.request(9), 0, 20);
    expect(srv.inFlight).toBe(4);
    expect(store.log[store.log.length - 1]).toBe("get1:9");
  });

  test("messages of one connection go through Redis one after another (no lost increments)", () => {
    const { store, srv, runLater, mb } = setup(8, 8);
    srv.open(0);
    srv.open(1);
    srv.data(0, mb.heartbeat(1), 0, 20);
    srv.data(0, mb.request(2), 0, 20);
    srv.data(1, mb.heartbeat(3), 0, 20);
    // The second message of connection 0 waits; connection 1 is not held up.
    expect(store.log).toEqual(["get1:0", "get1:1"]);
    for (let i = 0; i < 3; i++) {
      store.completeAll();
      runLater();
    }
    expect(store.log.slice(2)).toEqual(["set1:0", "set1:1", "get2:0", "get2:1", "get1:0"]);
    for (let i = 0; i < 3; i++) {
      store.completeAll();
      runLater();
    }
    // Created by the first message, incremented by the second.
    expect(store.values.get("1:0")![0]).toBe(mb.heartbeat(1)[0]! + 1);
    expect(srv.isIdle()).toBe(true);
  });

  test("a full queue drops the message and counts it as failed", () => {
    const store = new ManualStore();
    const srv = new IotepServer({ msgLen: 20, store, sink: new Replies(), slots: 1, queueCapacity: 2, schedule: () => {} });
    const mb = new MessageBuilder(20);
    srv.open(0);
    for (let i = 0; i < 5; i++) srv.data(0, mb.heartbeat(i), 0, 20);
    expect(srv.counters.dropped).toBe(2);
    expect(srv.counters.failedHeartbeats).toBe(2);
    expect(srv.queuedHeartbeats).toBe(2);
  });

  test("latency per class is measured from arrival to completion", () => {
    const { store, srv, runLater, mb, setTime, sink } = setup(4, 4);
    srv.open(0);
    srv.open(1);
    setTime(1000);
    srv.data(0, mb.request(0), 0, 20);
    srv.data(1, mb.heartbeat(1), 0, 20);
    for (let i = 0; i < 3; i++) {
      setTime(1000 + (i + 1) * 100);
      store.completeAll();
      runLater();
    }
    expect(sink.got.length).toBe(1);
    expect(srv.latencyHigh.totalCount).toBe(1);
    expect(srv.latencyHigh.maxValue).toBe(300);
    expect(srv.latencyLow.maxValue).toBe(300);
  });
});
