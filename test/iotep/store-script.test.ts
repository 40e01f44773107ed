/**
 * The one-script-per-message store against a real redis-server: the script's
 * SELECTs leave the connection's own database alone (Redis >= 7.0), a
 * flushed script cache (NOSCRIPT) is recovered by ioredis' EVAL fallback with
 * no message failing, and a restarted Redis (empty cache, new socket) serves
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
    // The store's connection (named "iotep") is still on database 0 after the script ran.
    const list = await redis.cli("CLIENT", "LIST");
    const line = list.split("\n").find((l) => / name=iotep /.test(l));
    expect(line).toBeDefined();
    expect(line!).toMatch(/ db=0 /);
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
    for (let c = 0; c < 20; c++) srv.data(c, mb.heartbeat(c), 0, 100);
    await until("first round", 3000, () => srv.isIdle());
    await redis.cli("CONFIG", "RESETSTAT");
    await redis.cli("SCRIPT", "FLUSH");
    for (let c = 0; c < 20; c++) srv.data(c, mb.request(c), 0, 100);
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
});
