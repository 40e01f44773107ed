/**
 * The bench's measuring and placement helpers, pure (no device, no Redis):
 * per-thread schedstat deltas (threads that come and go), the placement
 * plan's command prefixes, Redis' INFO commandstats / LATENCY LATEST parsing,
 * and the server handing heartbeats (not requests) to a store's batched call.
 */
import { expect, test } from "bun:test";
import { schedDelta, type SchedTotals } from "../../apps/iotep/cpu-sampler";
import { parseRt, planPlacement } from "../../apps/iotep/placement";
import { parseCommandStats, parseLatencyLatest } from "../../apps/iotep/redis-stats";
import { IotepServer } from "../../apps/iotep/server";
import { MessageBuilder } from "../../apps/iotep/protocol";
import type { IotepStore, MessageCallback } from "../../apps/iotep/store";

const t = (cpuUs: number, waitUs: number, slices: number): SchedTotals => ({ cpuUs, waitUs, slices });

test("schedDelta: per-thread differences; a new thread counts from zero, a gone thread is left out", () => {
  const a = new Map([
    ["1", t(1000, 500, 10)],
    ["2", t(9000, 9000, 90)],
  ]);
  const b = new Map([
    ["1", t(1500, 700, 14)],
    ["3", t(200, 50, 2)],
  ]);
  expect(schedDelta(a, b)).toEqual(t(700, 250, 6));
});

test("placement: split pins the server to CPU 0 and the rest to the other CPUs; none only applies nice", () => {
  const s = planPlacement("split", { redisNice: -10, ncpu: 4 });
  expect(s.server).toEqual(["taskset", "-c", "0"]);
  expect(s.client).toEqual(["taskset", "-c", "1-3"]);
  expect(s.redis).toEqual(["nice", "-n", "-10", "taskset", "-c", "1-3"]);
  expect(planPlacement("split", { ncpu: 2 }).client).toEqual(["taskset", "-c", "1"]);
  const n = planPlacement("none", { ncpu: 2, clientNice: 5 });
  expect(n.server).toEqual([]);
  expect(n.redis).toEqual([]);
  expect(n.client).toEqual(["nice", "-n", "5"]);
  // One CPU: nothing to split.
  expect(planPlacement("split", { ncpu: 1 }).server).toEqual([]);
  // SCHED_FIFO for the processes named.
  const rt = planPlacement("none", { ncpu: 2, rt: parseRt("redis,server"), privileged: true });
  expect(rt.redis).toEqual(["chrt", "-f", "1"]);
  // The server's main thread only: threads it starts later (JIT, GC helpers, DPDK's) are normal tasks (reset on fork).
  expect(rt.server).toEqual(["chrt", "-f", "-R", "1"]);
  expect(rt.client).toEqual([]);
  expect(parseRt("none")).toEqual([]);
  // mcc too (--rt redis,server,client), after its nice.
  const all = planPlacement("none", { ncpu: 2, rt: parseRt("redis,server,client"), clientNice: 5, privileged: true });
  // (mcc raises its own main thread: --fifo, not chrt on the command.)
  expect(all.client).toEqual(["nice", "-n", "5"]);
  expect(all.clientArgs).toEqual(["--fifo"]);
  expect(rt.clientArgs).toEqual([]);
  expect(all.describe).toMatch(/redis-server and iotepserver and mcc at SCHED_FIFO 1/);
  // Not root: no chrt, and the description says so.
  const user = planPlacement("none", { ncpu: 2, rt: ["redis"], privileged: false });
  expect(user.redis).toEqual([]);
  expect(user.describe).toMatch(/SCHED_FIFO skipped/);
  expect(() => parseRt("mcc")).toThrow();
});

test("Redis' INFO commandstats and LATENCY LATEST as redis-cli prints them", () => {
  const info = "# Commandstats\r\ncmdstat_evalsha:calls=57520,usec=3868800,usec_per_call=67.26,rejected_calls=0,failed_calls=0\r\ncmdstat_get:calls=10,usec=7,usec_per_call=0.70,rejected_calls=0,failed_calls=0\r\n";
  expect(parseCommandStats(info)).toEqual({ evalsha: { calls: 57520, usecPerCall: 67.26 }, get: { calls: 10, usecPerCall: 0.7 } });
  expect(parseLatencyLatest("command\n1764378000\n2\n5\nfast-command\n1764378001\n1\n2\n")).toEqual([
    { event: "command", latestMs: 2, maxMs: 5 },
    { event: "fast-command", latestMs: 1, maxMs: 2 },
  ]);
  expect(parseLatencyLatest("")).toEqual([]);
});

test("the server sends heartbeats through messageBatched and requests through message", () => {
  const single: number[] = [];
  const batched: number[] = [];
  const pending: MessageCallback[] = [];
  const store: IotepStore = {
    get: () => {},
    set: () => {},
    message: (key, _first, cb) => {
      single.push(key);
      pending.push(cb);
    },
    messageBatched: (key, _first, cb) => {
      batched.push(key);
      pending.push(cb);
    },
    connected: true,
    connectionErrors: 0,
    waitReady: async () => true,
    close: async () => {},
    describe: () => "fake",
  };
  const srv = new IotepServer({ msgLen: 100, store, sink: { reply: () => true }, schedule: (f) => f() });
  const mb = new MessageBuilder(100);
  for (let c = 0; c < 4; c++) srv.open(c);
  srv.data(0, mb.heartbeat(0), 0, 100);
  srv.data(1, mb.request(1), 0, 100);
  srv.data(2, mb.heartbeat(2), 0, 100);
  srv.data(3, mb.request(3), 0, 100);
  expect(single).toEqual([1, 3]);
  expect(batched).toEqual([0, 2]);
  for (const cb of pending.splice(0)) cb(null, 0);
  expect(srv.counters.doneRequests).toBe(2);
  expect(srv.counters.doneHeartbeats).toBe(2);
});
