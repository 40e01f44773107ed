/**
 * End to end on Bun's kernel sockets over loopback: a real redis-server, the
 * iotepserver app (--kernel) and the mcc app (--kernel) as separate
 * processes, 10,000 connections. Checks what each side counted against the
 * other and against Redis, and the files mcc writes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppProcess } from "../helpers/app-process";
import { RedisServer, redisAvailable } from "../helpers/redis";

const ok = redisAvailable();
if (!ok) console.log("skipping the kernel end-to-end run: redis-server is not installed (apt-get install redis-server)");

describe.skipIf(!ok)("iotep on kernel sockets over loopback", () => {
  let redis: RedisServer;
  let dir: string;
  beforeAll(async () => {
    redis = await RedisServer.start();
    dir = mkdtempSync(join(tmpdir(), "iotep-e2e-"));
  });
  afterAll(async () => {
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("10,000 connections: every request answered, every message in Redis, reports written", async () => {
    const conns = 10_000;
    const server = new AppProcess("iotepserver", ["--kernel", "--listen", "127.0.0.1", "--port", "0", "--redis-socket", redis.socketPath, "--status-interval", "0", "--stats-json", join(dir, "server.json")]);
    try {
      const m = await server.waitFor(/listening on kernel sockets 127\.0\.0\.1:(\d+)/, 15_000);
      const port = m[1]!;
      const out = join(dir, "out");
      const mcc = new AppProcess("mcc", ["--kernel", "--dest", "127.0.0.1", "--port", port, "-c", String(conns), "-s", "3", "-w", "2", "-e", "2", "--duration", "4", "-r", "0.25", "--out", out, "--status-interval", "0"]);
      const code = await Promise.race([mcc.exited, Bun.sleep(90_000).then(() => -999)]);
      if (code === -999) await mcc.stop(1000);
      expect(code).toBe(0);
      expect(mcc.stdout).toContain("connecting [");
      const res = JSON.parse(readFileSync(join(out, "mcc.json"), "utf8"));
      const ct = res.counters;
      expect(ct.connected).toBe(conns);
      expect(ct.connectFailed).toBe(0);
      // b = c / e = 5000 messages/s for 4 s: each connection sends twice.
      expect(ct.sent + ct.skipped).toBe(2 * conns);
      expect(ct.sent).toBeGreaterThan(1.8 * conns);
      expect(ct.sentRequests).toBeGreaterThan(0.2 * ct.sent);
      expect(ct.sentRequests).toBeLessThan(0.3 * ct.sent);
      expect(ct.replies).toBe(ct.sentRequests);
      expect(ct.unanswered).toBe(0);
      expect(ct.badReplies).toBe(0);
      expect(res.latencyUs["request (client)"].count).toBe(ct.replies);
      expect(typeof res.histograms["request (client)"]).toBe("string");
      const cdf = readFileSync(join(out, "cdf.txt"), "utf8");
      expect(cdf.split("\n").filter((l) => /^[01]\.\d+:/.test(l)).length).toBe(14);
      const html = readFileSync(join(out, "mcc.html"), "utf8");
      expect(html).toContain("<svg");
      expect(html).toContain("<polyline");

      expect(await server.stop(10_000)).toBe(0);
      expect(server.stdout).toMatch(/iotepserver: stopped \(SIGTERM\)/);
      const st = JSON.parse(readFileSync(join(dir, "server.json"), "utf8"));
      expect(st.counters.accepted).toBe(conns);
      expect(st.counters.messages).toBe(ct.sent);
      expect(st.counters.requests).toBe(ct.sentRequests);
      expect(st.counters.replies).toBe(ct.sentRequests);
      expect(st.counters.failedRequests + st.counters.failedHeartbeats).toBe(0);
      expect(st.counters.newKeys + st.counters.updatedKeys).toBe(ct.sent);
      expect(st.counters.newKeys).toBeLessThanOrEqual(conns);
      expect(st.latencyUs.heartbeat.count).toBe(ct.sentHeartbeats);
      // Redis: one key per connection that sent, in database 1; nothing written to database 2.
      expect(await redis.cli("-n", "1", "DBSIZE")).toBe(String(st.counters.newKeys));
      expect(await redis.cli("-n", "2", "DBSIZE")).toBe("0");
      expect(existsSync(join(out, "mcc.json"))).toBe(true);
    } finally {
      if (server.proc.exitCode === null) await server.stop(3000);
    }
  }, 120_000);
});
