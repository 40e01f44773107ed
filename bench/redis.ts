/**
 * bench/redis: the iotepserver's Redis path alone, both store modes in one
 * invocation (no network stack: IotepServer fed in-process, a private
 * redis-server on a Unix socket):
 *
 *   script:   one Lua script per message on one connection (one round trip)
 *   commands: GET db 1, SET db 1, GET db 2 on one connection per database
 *             (three sequential round trips)
 *
 * Two measurements per mode, alternating modes for --rounds rounds:
 *   - paced: --rate messages/s (5 % requests) over --conns connections for
 *     --duration s, one tick per ms; latency from arrival to completion
 *     inside the server (requests / heartbeats), HdrHistogram;
 *   - flood: --flood messages handed over at once; completion rate.
 *
 *   bun run bench redis [--rate N] [--duration S] [--flood N] [--rounds N] [--json FILE]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAppArgs, runMain } from "../apps/common";
import { machineInfo } from "../apps/iotep/bench-run";
import { startRedis } from "../apps/iotep/orchestrate";
import { formatSummary, newLatencyHistogram, summarize, type Histogram } from "../apps/iotep/latency";
import { MessageBuilder } from "../apps/iotep/protocol";
import { IotepServer } from "../apps/iotep/server";
import { RedisDbStore, type IotepStore } from "../apps/iotep/store";
import { RedisScriptStore } from "../apps/iotep/store-script";

const spec = {
  name: "bench redis",
  usage: "bun run bench redis [--rate N] [--conns N] [--duration S] [--flood N] [--rounds N] [--json FILE]",
  about: "The iotepserver's Redis path, one Lua script per message vs GET/SET/GET, same Redis, same invocation.",
  stackFlags: false,
  flags: [
    { name: "rate", type: "int" as const, arg: "N", default: 2000, min: 1, help: "paced messages per second" },
    { name: "conns", type: "int" as const, arg: "N", default: 100_000, min: 1, help: "connections (Redis keys)" },
    { name: "duration", type: "number" as const, arg: "S", default: 5, min: 0.1, help: "paced seconds per round" },
    { name: "flood", type: "int" as const, arg: "N", default: 50_000, min: 0, help: "messages handed over at once (throughput)" },
    { name: "rounds", type: "int" as const, arg: "N", default: 2, min: 1, help: "rounds, modes alternating" },
    { name: "json", type: "string" as const, arg: "FILE", help: "write the results as JSON" },
  ],
};

const MODES = ["script", "commands"] as const;
type Mode = (typeof MODES)[number];

function until(f: () => boolean, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const end = Date.now() + ms;
    const t = setInterval(() => {
      if (f()) {
        clearInterval(t);
        resolve(true);
      } else if (Date.now() > end) {
        clearInterval(t);
        resolve(false);
      }
    }, 1);
  });
}

async function one(mode: Mode, socket: string, o: { rate: number; conns: number; durationS: number; flood: number }, hi: Histogram, lo: Histogram): Promise<{ floodPerS: number; failed: number }> {
  const store: IotepStore = mode === "script" ? new RedisScriptStore(socket) : new RedisDbStore(socket);
  if (!(await store.waitReady(3000))) throw new Error(`redis not reachable at ${socket}`);
  const srv = new IotepServer({ msgLen: 200, store, sink: { reply: () => true }, initialConns: o.conns });
  for (let c = 0; c < o.conns; c++) srv.open(c);
  const mb = new MessageBuilder(200);
  // Warm-up (JIT, script cache): 2,000 messages.
  for (let i = 0; i < 2000; i++) srv.data(i % o.conns, mb.heartbeat(i), 0, 200);
  await until(() => srv.isIdle(), 10_000);
  srv.latencyHigh.reset();
  srv.latencyLow.reset();
  // Paced.
  const total = Math.round(o.rate * o.durationS);
  let sent = 0;
  let conn = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * o.rate));
      for (; sent < due; sent++) {
        conn = (conn + 7919) % o.conns;
        srv.data(conn, sent % 20 === 0 ? mb.request(sent) : mb.heartbeat(sent), 0, 200);
      }
      if (sent >= total) {
        clearInterval(tick);
        resolve();
      }
    }, 1);
  });
  await until(() => srv.isIdle(), 10_000);
  hi.add(srv.latencyHigh);
  lo.add(srv.latencyLow);
  // Flood.
  let floodPerS = 0;
  if (o.flood > 0) {
    const done0 = srv.counters.doneRequests + srv.counters.doneHeartbeats;
    const f0 = performance.now();
    for (let i = 0; i < o.flood; i++) srv.data(i % o.conns, i % 20 === 0 ? mb.request(i) : mb.heartbeat(i), 0, 200);
    await until(() => srv.isIdle(), 60_000);
    const n = srv.counters.doneRequests + srv.counters.doneHeartbeats - done0;
    floodPerS = Math.round(n / ((performance.now() - f0) / 1000));
  }
  const failed = srv.counters.failedRequests + srv.counters.failedHeartbeats;
  await store.close();
  return { floodPerS, failed };
}

runMain("bench redis", async () => {
  const v = parseAppArgs(spec).values;
  const o = { rate: v["rate"] as number, conns: v["conns"] as number, durationS: v["duration"] as number, flood: v["flood"] as number };
  const rounds = v["rounds"] as number;
  const m = machineInfo();
  console.log(`bench redis: ${m.cpu} x${m.cores}, Bun ${m.bun}, commit ${m.commit}; ${JSON.stringify({ ...o, rounds })}`);
  const dir = mkdtempSync(join(tmpdir(), "bench-redis-"));
  const redis = await startRedis(dir);
  const res: Record<Mode, { hi: Histogram; lo: Histogram; flood: number[]; failed: number }> = {
    script: { hi: newLatencyHistogram(), lo: newLatencyHistogram(), flood: [], failed: 0 },
    commands: { hi: newLatencyHistogram(), lo: newLatencyHistogram(), flood: [], failed: 0 },
  };
  try {
    for (let r = 0; r < rounds; r++) {
      for (const mode of r % 2 === 0 ? MODES : [...MODES].reverse()) {
        const x = await one(mode, redis.socket, o, res[mode].hi, res[mode].lo);
        res[mode].flood.push(x.floodPerS);
        res[mode].failed += x.failed;
        console.log(`bench redis: round ${r + 1} ${mode}: flood ${x.floodPerS} messages/s, ${x.failed} failed`);
      }
    }
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const out: Record<string, unknown> = {};
  for (const mode of MODES) {
    const r = res[mode];
    console.log(`bench redis: ${mode.padEnd(8)} requests:   ${formatSummary(summarize(r.hi))}`);
    console.log(`bench redis: ${mode.padEnd(8)} heartbeats: ${formatSummary(summarize(r.lo))}`);
    console.log(`bench redis: ${mode.padEnd(8)} flood: ${r.flood.join(", ")} messages/s; failed ${r.failed}`);
    out[mode] = { request: summarize(r.hi), heartbeat: summarize(r.lo), floodPerS: r.flood, failed: r.failed };
  }
  const p99 = (mode: Mode): number => summarize(res[mode].hi).p99Us;
  const p50 = (mode: Mode): number => summarize(res[mode].hi).p50Us;
  console.log(`bench redis: request p50 commands/script ${(p50("commands") / Math.max(1, p50("script"))).toFixed(2)}x, p99 ${(p99("commands") / Math.max(1, p99("script"))).toFixed(2)}x`);
  const json = v["json"] as string | undefined;
  if (json !== undefined) writeFileSync(json, JSON.stringify({ machine: m, params: { ...o, rounds }, ...out }, null, 2));
  return 0;
});
