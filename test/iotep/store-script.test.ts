/**
 * The one-script-per-message store against a real redis-server: the script's
 * SELECTs leave the connection's own database alone (Redis >= 7.0), a
 * flushed script cache (NOSCRIPT) is recovered by ioredis' EVAL fallback with
 * no message failing (the per-message script and the heartbeat batch), and a restarted Redis (empty cache, new socket) serves
 * the script again. The effects per message and the kill/restart run in both
 * modes are in server.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { IotepServer, type ReplySink } from "../../apps/iotep/server";
import { MessageBuilder } from "../../apps/iotep/protocol";
import { RedisScriptStore } from "../../apps/iotep/store-script";
import { RedisServer, redisAvailable } from "../helpers/redis";

const haveRedis = redisAvailable();
if (!haveRedis) console.log("skipping Redis script tests: redis-server/redis-cli not installed (apt-get install redis-server)");

const sink: ReplySink = { reply: () => true };

async function until(what: string, ms: number, f: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await Bun.sleep(5);
  }
}

describe.skipIf(!haveRedis)("one Lua script per message", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  test("Redis 7: the script's SELECT 1 / SELECT 2 leave the connection in its own database", async () => {
    const version = /redis_version:(\d+)\./.exec(await redis.cli("INFO", "server"))?.[1];
    expect(Number(version)).toBeGreaterThanOrEqual(7);
    await redis.cli("FLUSHALL");
    const store = new RedisScriptStore(redis.socketPath);
    expect(await store.waitReady(3000)).toBe(true);
    const srv = new IotepServer({ msgLen: 100, store, sink });
    const mb = new MessageBuilder(100);
    srv.open(1);
    srv.data(1, mb.request(1), 0, 100);
    await until("done", 3000, () => srv.counters.doneRequests === 1);
    // The store's connections (heartbeats "iotep", requests "iotep-requests") are still on database 0 after the script ran.
    const list = await redis.cli("CLIENT", "LIST");
    for (const name of ["iotep", "iotep-requests"]) {
      const line = list.split("\n").find((l) => l.includes(` name=${name} `));
      expect(line).toBeDefined();
      expect(line!).toMatch(/ db=0 /);
    }
    expect(await redis.cli("-n", "0", "DBSIZE")).toBe("0");
    expect(await redis.cli("-n", "1", "DBSIZE")).toBe("1");
    await store.close();
  });

  test("SCRIPT FLUSH mid-run: NOSCRIPT answers are resent as EVAL, no message fails", async () => {
    await redis.cli("FLUSHALL");
    const store = new RedisScriptStore(redis.socketPath);
    expect(await store.waitReady(3000)).toBe(true);
    const srv = new IotepServer({ msgLen: 100, store, sink, slots: 16 });
    const mb = new MessageBuilder(100);
    for (let c = 0; c < 20; c++) srv.open(c);
    // Both scripts (one message, a batch of heartbeats) are loaded before the flush.
    for (let c = 0; c < 20; c++) srv.data(c, c < 10 ? mb.request(c) : mb.heartbeat(c), 0, 100);
    await until("first round", 3000, () => srv.isIdle());
    await redis.cli("CONFIG", "RESETSTAT");
    await redis.cli("SCRIPT", "FLUSH");
    for (let c = 0; c < 20; c++) srv.data(c, c < 10 ? mb.heartbeat(c) : mb.request(c), 0, 100);
    await until("second round", 3000, () => srv.isIdle());
    const c = srv.counters;
    expect(c.failedRequests + c.failedHeartbeats).toBe(0);
    expect(c.doneRequests).toBe(20);
    expect(c.updatedKeys).toBe(20);
    const stats = await redis.cli("INFO", "errorstats");
    // The server did answer NOSCRIPT at least once: the fallback was exercised.
    expect(stats).toMatch(/errorstat_NOSCRIPT:count=\d+/);
    await store.close();
  });

  test("Redis restarted: the first command on the new connection loads the script again", async () => {
    await redis.cli("FLUSHALL");
    const store = new RedisScriptStore(redis.socketPath, { commandTimeoutMs: 500, maxReconnectDelayMs: 50 });
    expect(await store.waitReady(3000)).toBe(true);
    const srv = new IotepServer({ msgLen: 100, store, sink });
    const mb = new MessageBuilder(100);
    srv.open(0);
    srv.data(0, mb.request(0), 0, 100);
    await until("before", 3000, () => srv.isIdle());
    await redis.kill();
    await redis.restart();
    await until("reconnected", 5000, () => store.connected);
    for (let i = 1; i <= 5; i++) srv.data(0, mb.request(i), 0, 100);
    await until("after", 5000, () => srv.isIdle());
    expect(srv.counters.failedRequests).toBe(0);
    expect(srv.counters.doneRequests).toBe(6);
    // Nothing persisted: the key was created again after the restart, then incremented 4 times.
    expect(srv.counters.newKeys).toBe(2);
    expect(srv.counters.updatedKeys).toBe(4);
    await store.close();
  });

  test("heartbeats of one turn go as one script call; effects equal one call per heartbeat; requests are not batched", async () => {
    const N = 40;
    const effects: string[][] = [];
    for (const batch of [32, 1]) {
      await redis.cli("FLUSHALL");
      await redis.cli("CONFIG", "RESETSTAT");
      const store = new RedisScriptStore(redis.socketPath, { heartbeatBatch: batch });
      expect(await store.waitReady(3000)).toBe(true);
      const srv = new IotepServer({ msgLen: 100, store, sink, slots: 64, heartbeatSlots: 48 });
      const mb = new MessageBuilder(100);
      for (let c = 0; c < N; c++) srv.open(c);
      // Two rounds: keys created, then incremented; requests mixed in.
      for (let round = 0; round < 2; round++) {
        for (let c = 0; c < N; c++) srv.data(c, c % 10 === 0 ? mb.request(c) : mb.heartbeat(c), 0, 100);
        await until(`round ${round}`, 3000, () => srv.isIdle());
      }
      const c = srv.counters;
      expect(c.failedRequests + c.failedHeartbeats).toBe(0);
      expect(c.doneHeartbeats).toBe(2 * (N - N / 10));
      expect(c.doneRequests).toBe(2 * (N / 10));
      expect(c.newKeys).toBe(N);
      expect(c.updatedKeys).toBe(N);
      const stats = await redis.cli("INFO", "commandstats");
      const calls = (name: string): number => Number(new RegExp(`cmdstat_${name}:calls=(\\d+),`).exec(stats)?.[1] ?? 0);
      // Three commands per message either way.
      expect(calls("get")).toBe(2 * 2 * N);
      expect(calls("set")).toBe(2 * N);
      const scripts = calls("eval") + calls("evalsha");
      // Batched: each round's 36 heartbeats in two calls (32 + 4), each request alone.
      if (batch === 32) {
        expect(scripts).toBe(2 * (2 + N / 10));
        expect(store.batchCalls).toBe(4);
        expect(store.batchedMessages).toBe(2 * (N - N / 10));
      } else expect(scripts).toBe(2 * N);
      const vals: string[] = [];
      for (let k = 0; k < N; k++) vals.push(hexOf(await redis.cliBytes("-n", "1", "GET", String(k))));
      effects.push(vals);
      await store.close();
    }
    expect(effects[0]).toEqual(effects[1]!);
  });

  test.each([true, false])("a packed batch carries any uint32 key and the payload bytes as given, turn after turn (auto-pipelined: %p)", async (heartbeatPipelining) => {
    await redis.cli("FLUSHALL");
    const store = new RedisScriptStore(redis.socketPath, { heartbeatBatch: 4, heartbeatPipelining });
    expect(store.describe()).toContain(heartbeatPipelining ? "auto-pipelined" : "each call written at once");
    expect(await store.waitReady(3000)).toBe(true);
    const keys = [0, 7, 2 ** 31 + 5, 2 ** 32 - 1];
    const payload = (k: number): Buffer => Buffer.from([k & 0xff, 0x00, 0xff, 0x0d, 0x0a, 0x24]);
    // Three turns of the same four keys: created, then incremented twice (byte 0 + 2), one batch call each.
    for (let turn = 0; turn < 3; turn++) {
      const results = await Promise.all(keys.map((k) => new Promise<unknown>((r) => store.messageBatched(k, payload(k), (e, v) => r(e ?? v)))));
      expect(results).toEqual(turn === 0 ? [0, 0, 0, 0] : [1, 1, 1, 1]);
    }
    expect(store.batchCalls).toBe(3);
    for (const k of keys) {
      const want = payload(k);
      want[0] = (want[0]! + 2) & 0xff;
      expect(hexOf(await redis.cliBytes("-n", "1", "GET", String(k)))).toBe(want.toString("hex"));
    }
    await store.close();
  });

  test("a failed batch fails every heartbeat in it, and nothing throws", async () => {
    await redis.cli("FLUSHALL");
    const store = new RedisScriptStore(redis.socketPath, { heartbeatBatch: 32 });
    expect(await store.waitReady(3000)).toBe(true);
    const srv = new IotepServer({ msgLen: 100, store, sink, slots: 64, heartbeatSlots: 48 });
    const mb = new MessageBuilder(100);
    for (let c = 0; c < 8; c++) srv.open(c);
    // A key of the wrong type makes the script fail (GET on a list): the whole batch fails.
    await redis.cli("-n", "1", "RPUSH", "3", "x");
    for (let c = 0; c < 8; c++) srv.data(c, mb.heartbeat(c), 0, 100);
    await until("failed", 3000, () => srv.isIdle());
    expect(srv.counters.failedHeartbeats).toBe(8);
    expect(srv.counters.redisErrors).toBe(8);
    await store.close();
  });

  test("a request is written at once while a heartbeat pipeline waits for its replies (own connection); shared: only after them", async () => {
    for (const requestConnection of ["own", "shared"] as const) {
      await redis.cli("FLUSHALL");
      const store = new RedisScriptStore(redis.socketPath, { heartbeatBatch: 32, requestConnection });
      expect(await store.waitReady(3000)).toBe(true);
      // Load both scripts first, so nothing below waits for a SCRIPT LOAD.
      await new Promise<void>((r) => store.messageBatched(100, Buffer.from("abcdef"), () => r()));
      await new Promise<void>((r) => store.message(101, Buffer.from("abcdef"), () => r()));
      // Redis holds every client's commands for 400 ms: the heartbeat pipeline below is written and waits for its replies.
      await redis.cli("CLIENT", "PAUSE", "400", "ALL");
      const t0 = performance.now();
      const hb = new Promise<unknown>((r) => store.messageBatched(1, Buffer.from("abcdef"), (e, v) => r(e ?? v)));
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      let written = false;
      store.afterNextWrite((): void => {
        written = true;
      });
      const req = new Promise<unknown>((r) => store.message(2, Buffer.from("abcdef"), (e, v) => r(e ?? v)));
      // ioredis runs one auto-pipeline per connection at a time: on the shared connection the request is not even written yet.
      expect(written).toBe(requestConnection === "own");
      expect(performance.now() - t0).toBeLessThan(300);
      expect(await hb).toBe(0);
      expect(await req).toBe(0);
      expect(written).toBe(true);
      await store.close();
    }
  });
});


function hexOf(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}