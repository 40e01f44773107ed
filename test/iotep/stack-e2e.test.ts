/**
 * End to end on our stack: iotepserver and mcc as two processes joined by
 * net_memif (DPDK, --no-huge), a real redis-server, 10,000 connections; the
 * server records a pcap (--pcap) and the wire monitor pairs it, and the
 * server also pairs the same frames live at its rx/tx bursts (--monitor).
 * Every request must be answered, the views must agree on the counts (the
 * live and pcap wire views exactly), and Redis must hold one key per
 * connection that sent.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { shimBuilt } from "../../ffi/shim";
import { AppProcess } from "../helpers/app-process";
import { RedisServer, redisAvailable } from "../helpers/redis";
import { isRoot } from "../dpdk/helpers/netns";

const skip = !redisAvailable()
  ? "redis-server is not installed (apt-get install redis-server)"
  : !shimBuilt()
    ? "the DPDK shim is not built (run npm run setup)"
    : !isRoot
      ? "not root (DPDK vdevs need root here)"
      : null;
if (skip) console.log(`skipping the iotep run on our stack: ${skip}`);

describe.skipIf(skip !== null)("iotep on our stack over net_memif", () => {
  let redis: RedisServer;
  let dir: string;
  beforeAll(async () => {
    redis = await RedisServer.start();
    dir = mkdtempSync(join(tmpdir(), "iotep-stack-"));
  });
  afterAll(async () => {
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("10,000 connections: client, server, wire and Redis agree", async () => {
    const conns = 10_000;
    const sock = join(dir, "memif.sock");
    const memif = (role: string): string => `net_memif0,role=${role},id=0,socket=${sock},socket-abstract=no`;
    const pcap = join(dir, "server.pcap");
    const server = new AppProcess("iotepserver", [
      "--vdev", memif("server"), "--ip", "10.77.0.1/24", "--no-huge", "--port", "80",
      "--redis-socket", redis.socketPath, "--status-interval", "0", "--stats-json", join(dir, "server.json"), "--pcap", pcap, "--monitor", join(dir, "wire-live"),
    ]);
    let client: AppProcess | null = null;
    try {
      await server.waitFor(/iotepserver: listening on our stack/, 30_000);
      const out = join(dir, "out");
      client = new AppProcess("mcc", [
        "--vdev", memif("client"), "--ip", "10.77.0.2/24", "--no-huge", "--dest", "10.77.0.1", "--port", "80",
        "-c", String(conns), "-s", "3", "-w", "2", "-e", "2", "--warmup", "1", "--duration", "2", "-r", "0.25",
        "--out", out, "--status-interval", "0",
      ]);
      const code = await Promise.race([client.exited, Bun.sleep(120_000).then(() => -999)]);
      if (code === -999) await client.stop(1000);
      expect(code).toBe(0);
      const res = JSON.parse(readFileSync(join(out, "mcc.json"), "utf8"));
      const ct = res.counters;
      expect(ct.connected).toBe(conns);
      // 5000 messages/s for 1 s of warm-up + 2 s measured; a message whose connection is not
      // open yet (a slow machine) is skipped and counted, never lost silently.
      expect(ct.sent + ct.skipped).toBe(15_000);
      expect(ct.sent).toBeGreaterThan(12_000);
      expect(ct.replies).toBe(ct.sentRequests);
      expect(ct.unanswered).toBe(0);
      expect(ct.badReplies).toBe(0);
      expect(res.latencyUs["request (client)"].count).toBeGreaterThan(0);

      expect(await server.stop(15_000)).toBe(0);
      const st = JSON.parse(readFileSync(join(dir, "server.json"), "utf8"));
      expect(st.transport).toBe("qstack");
      expect(st.counters.accepted).toBe(conns);
      expect(st.counters.messages).toBe(ct.sent);
      expect(st.counters.requests).toBe(ct.sentRequests);
      expect(st.counters.replies).toBe(ct.sentRequests);
      expect(st.counters.failedRequests + st.counters.failedHeartbeats).toBe(0);
      expect(st.counters.newKeys + st.counters.updatedKeys).toBe(ct.sent);
      expect(st.counters.newKeys).toBeLessThanOrEqual(conns);
      expect(await redis.cli("-n", "1", "DBSIZE")).toBe(String(st.counters.newKeys));

      // The wire view from the server's own pcap.
      const mon = new AppProcess("monitor", ["--read", pcap, "--port", "80", "--out", join(dir, "wire")]);
      expect(await mon.exited).toBe(0);
      const wire = JSON.parse(readFileSync(join(dir, "wire", "monitor.json"), "utf8"));
      expect(wire.counters.flows).toBe(conns);
      expect(wire.counters.requests).toBe(ct.sentRequests);
      expect(wire.counters.heartbeats).toBe(ct.sentHeartbeats);
      expect(wire.counters.paired).toBe(ct.sentRequests);
      expect(wire.unanswered).toBe(0);

      // The live view of the same run: the same frames, paired as they passed the bursts.
      const live = JSON.parse(readFileSync(join(dir, "wire-live", "monitor.json"), "utf8"));
      expect(live.source).toBe("live rx/tx bursts");
      for (const k of ["flows", "requests", "heartbeats", "otherMessages", "replies", "paired", "unpairedReplies", "dataSegments"]) {
        expect(`${k} ${live.counters[k]}`).toBe(`${k} ${wire.counters[k]}`);
      }
      expect(live.unanswered).toBe(0);
      expect(live.latencyUs["request (wire)"].count).toBe(wire.latencyUs["request (wire)"].count);
      expect(readFileSync(join(dir, "wire-live", "cdf.txt"), "utf8")).toContain("request_wire__num:");
    } finally {
      if (client !== null && client.proc.exitCode === null) await client.stop(3000);
      if (server.proc.exitCode === null) await server.stop(3000);
    }
  }, 180_000);

  test("mcc --smp 2 (two app threads beside the stack thread), 2,000 connections: both threads send their share, every request answered, merged counts are the sums", async () => {
    const conns = 2000;
    const sock = join(dir, "memif-smp.sock");
    const memif = (role: string): string => `net_memif0,role=${role},id=0,socket=${sock},socket-abstract=no`;
    const server = new AppProcess("iotepserver", [
      "--vdev", memif("server"), "--ip", "10.77.0.1/24", "--no-huge", "--port", "80",
      "--redis-socket", redis.socketPath, "--status-interval", "0", "--stats-json", join(dir, "server-smp.json"),
    ]);
    let client: AppProcess | null = null;
    try {
      await server.waitFor(/iotepserver: listening on our stack/, 30_000);
      const out = join(dir, "out-smp");
      client = new AppProcess("mcc", [
        "--vdev", memif("client"), "--ip", "10.77.0.2/24", "--no-huge", "--dest", "10.77.0.1", "--port", "80",
        "-c", String(conns), "-s", "2", "-w", "1", "-e", "1", "--warmup", "1", "--duration", "2", "-r", "0.25",
        "--smp", "2", "--out", out, "--status-interval", "0",
      ]);
      const code = await Promise.race([client.exited, Bun.sleep(120_000).then(() => -999)]);
      if (code === -999) await client.stop(1000);
      expect(code).toBe(0);
      expect(client.stdout).toContain("2 app threads");
      const res = JSON.parse(readFileSync(join(out, "mcc.json"), "utf8"));
      const ct = res.counters;
      expect(res.params.appThreads).toBe(2);
      expect(ct.connected).toBe(conns);
      // 2,000 messages/s for 1 s of warm-up + 2 s measured, split over the two threads.
      expect(ct.sent + ct.skipped).toBe(6000);
      expect(ct.sent).toBeGreaterThan(5000);
      expect(ct.replies).toBe(ct.sentRequests);
      expect(ct.unanswered).toBe(0);
      expect(ct.badReplies).toBe(0);
      expect(res.threads).toHaveLength(2);
      for (const t of res.threads) {
        expect(t.counters.connected).toBe(conns / 2);
        expect(t.counters.sent).toBeGreaterThan(2500);
        expect(t.router.sendRefused).toBe(0);
      }
      for (const k of ["connected", "sent", "sentRequests", "replies", "unanswered"]) {
        expect(`${k} ${ct[k]}`).toBe(`${k} ${res.threads[0].counters[k] + res.threads[1].counters[k]}`);
      }
      expect(res.latencyUs["request (client)"].count).toBeGreaterThan(0);
      expect(readFileSync(join(out, "cdf.txt"), "utf8")).toContain("request_client__num:");

      expect(await server.stop(15_000)).toBe(0);
      const st = JSON.parse(readFileSync(join(dir, "server-smp.json"), "utf8"));
      expect(st.counters.accepted).toBe(conns);
      expect(st.counters.messages).toBe(ct.sent);
      expect(st.counters.requests).toBe(ct.sentRequests);
      expect(st.counters.replies).toBe(ct.sentRequests);
    } finally {
      if (client !== null && client.proc.exitCode === null) await client.stop(3000);
      if (server.proc.exitCode === null) await server.stop(3000);
    }
  }, 180_000);
});
