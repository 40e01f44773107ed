/**
 * mcc --smp on our stack: the lane protocol between the app threads and the
 * stack thread (apps/iotep/smp-lanes.ts) and the stack thread's router
 * (apps/iotep/smp-router.ts), producer and consumer in one thread: commands
 * and events arrive in order with their payloads intact across many wraps of
 * small rings, events reach the thread that owns the connection (i mod N), a
 * full event lane defers to the overflow list without losing or reordering
 * anything, and a command wakes the stack's idle loop through waitAsync.
 */
import { describe, expect, test } from "bun:test";
import type { GenEvents } from "../../../apps/iotep/generator";
import type { IdClient } from "../../../apps/iotep/id-client";
import { createThreadLanes, EventPump, LaneTransport, ThreadStats, type ThreadLanes } from "../../../apps/iotep/smp-lanes";
import { LaneRouter } from "../../../apps/iotep/smp-router";
import { Generator } from "../../../apps/iotep/generator";

/** Stands in for IdClient: records the calls the router makes, and lets the test emit events through `sink`. */
class FakeClient {
  calls: string[] = [];
  sink: GenEvents | null = null;
  refuse = new Set<number>();
  pollHook: (() => void) | null = null;
  bind(g: GenEvents): void {
    this.sink = g;
  }
  connect(i: number): void {
    this.calls.push(`connect ${i}`);
  }
  send(i: number, buf: Uint8Array, len: number): boolean {
    // The payload must be the pattern the test wrote for (i, len).
    let ok = true;
    for (let b = 0; b < len; b++) if (buf[b] !== ((i + b) & 0xff)) ok = false;
    this.calls.push(`send ${i} ${len} ${ok ? "intact" : "CORRUPT"}`);
    return !this.refuse.has(i);
  }
  close(i: number): void {
    this.calls.push(`close ${i}`);
  }
  poll(_now: number): number {
    this.pollHook?.();
    return 0;
  }
}

/** Records what the app side's pump hands to the generator. */
class Recorder implements GenEvents {
  seen: string[] = [];
  opened(i: number): void {
    this.seen.push(`opened ${i}`);
  }
  connectFailed(i: number): void {
    this.seen.push(`failed ${i}`);
  }
  closed(i: number): void {
    this.seen.push(`closed ${i}`);
  }
  data(i: number, buf: Uint8Array, off: number, len: number): void {
    let ok = true;
    for (let b = 0; b < len; b++) if (buf[off + b] !== ((i * 7 + b) & 0xff)) ok = false;
    this.seen.push(`data ${i} ${len} ${ok ? "intact" : "CORRUPT"}`);
  }
}

function pattern(seed: number, len: number): Uint8Array {
  const u = new Uint8Array(len);
  for (let b = 0; b < len; b++) u[b] = (seed + b) & 0xff;
  return u;
}

function setup(n: number, records = 64, bytes = 4096): { lanes: ThreadLanes[]; client: FakeClient; router: LaneRouter; wakes: number[] } {
  const lanes: ThreadLanes[] = [];
  for (let k = 0; k < n; k++) lanes.push(createThreadLanes(records, bytes));
  const client = new FakeClient();
  const wakes: number[] = [];
  const router = new LaneRouter(client as unknown as IdClient, lanes, () => wakes.push(1));
  client.bind(router);
  return { lanes, client, router, wakes };
}

describe("mcc --smp lanes and router", () => {
  test("commands arrive in order with payloads intact across many wraps of a small byte ring", () => {
    const { lanes, client, router } = setup(1, 64, 4096);
    const t = new LaneTransport(lanes[0]!.commands);
    const want: string[] = [];
    let i = 0;
    // 2,000 sends of 57..1,000 bytes through a 4 KiB byte ring: hundreds of wraps (payloads never split).
    // Two per round, so the producer (same thread) never waits for room.
    for (let round = 0; round < 1000; round++) {
      for (let m = 0; m < 2; m++, i++) {
        const len = 57 + ((i * 389) % 944);
        if (i % 50 === 0) {
          t.connect(i);
          want.push(`connect ${i}`);
        }
        t.send(i, pattern(i, len), len);
        want.push(`send ${i} ${len} intact`);
        if (i % 97 === 0) {
          t.close(i);
          want.push(`close ${i}`);
        }
      }
      t.flush();
      router.poll(round);
    }
    expect(client.calls.length).toBe(want.length);
    expect(client.calls).toEqual(want);
  });

  test("events reach the thread that owns the connection (i mod N), in order, payloads intact", () => {
    const n = 3;
    const { lanes, client, router } = setup(n, 256, 1 << 16);
    const sink = client.sink!;
    const want: string[][] = [[], [], []];
    client.pollHook = () => {
      for (let i = 0; i < 30; i++) {
        sink.opened(i);
        want[i % n]!.push(`opened ${i}`);
        const len = 146 + (i % 5);
        sink.data(i, pattern(i * 7, len), 0, len, 0);
        want[i % n]!.push(`data ${i} ${len} intact`);
        if (i % 4 === 0) {
          sink.closed(i);
          want[i % n]!.push(`closed ${i}`);
        }
        if (i % 9 === 0) {
          sink.connectFailed(i + 100);
          want[(i + 100) % n]!.push(`failed ${i + 100}`);
        }
      }
      client.pollHook = null;
    };
    router.poll(0);
    for (let k = 0; k < n; k++) {
      const r = new Recorder();
      new EventPump(lanes[k]!.events).pump(r, 0);
      expect(r.seen).toEqual(want[k]!);
    }
    expect(router.counts.map((c) => c.overflowed)).toEqual([0, 0, 0]);
  });

  test("a full event lane defers to the overflow list: nothing lost or reordered, delivered in later rounds", () => {
    // 16 records and 1 KiB of payload per lane; 200 events with 100-byte payloads in one round.
    const { lanes, client, router } = setup(1, 16, 1024);
    const sink = client.sink!;
    const want: string[] = [];
    client.pollHook = () => {
      for (let i = 0; i < 100; i++) {
        sink.opened(i);
        want.push(`opened ${i}`);
        sink.data(i, pattern(i * 7, 100), 0, 100, 0);
        want.push(`data ${i} 100 intact`);
      }
      client.pollHook = null;
    };
    const r = new Recorder();
    const pump = new EventPump(lanes[0]!.events);
    router.poll(0);
    expect(router.counts[0]!.overflowed).toBeGreaterThan(100);
    for (let round = 1; round < 100 && r.seen.length < want.length; round++) {
      pump.pump(r, round);
      router.poll(round);
    }
    pump.pump(r, 100);
    expect(r.seen).toEqual(want);
  });

  test("after a thread's Finishing record its events are dropped (it stopped reading), others still flow", () => {
    const { lanes, client, router } = setup(2);
    let first = 0;
    router.onFirstFinish = () => first++;
    const t0 = new LaneTransport(lanes[0]!.commands);
    t0.finishing();
    t0.close(4);
    t0.flush();
    router.poll(0);
    expect(first).toBe(1);
    expect(client.calls).toEqual(["close 4"]);
    client.sink!.opened(2);
    client.sink!.opened(3);
    router.poll(1);
    const r0 = new Recorder();
    const r1 = new Recorder();
    new EventPump(lanes[0]!.events).pump(r0, 0);
    new EventPump(lanes[1]!.events).pump(r1, 0);
    expect(r0.seen).toEqual([]);
    expect(r1.seen).toEqual(["opened 3"]);
    expect(router.counts[0]!.droppedAfterFinish).toBe(1);
  });

  test("a refused send (connection already gone on the stack side) is counted for its thread", () => {
    const { lanes, client, router } = setup(2);
    client.refuse.add(3);
    const t1 = new LaneTransport(lanes[1]!.commands);
    t1.send(3, pattern(3, 10), 10);
    t1.send(5, pattern(5, 10), 10);
    t1.flush();
    router.poll(0);
    expect(router.counts[1]!.sendRefused).toBe(1);
    expect(router.counts[1]!.commands).toBe(2);
  });

  test("a command published while the stack is idle wakes its loop (Atomics.waitAsync on the command ring)", async () => {
    const lanes = [createThreadLanes(64, 4096), createThreadLanes(64, 4096)];
    let woken = 0;
    let woke!: () => void;
    const wokeP = new Promise<string>((r) => (woke = () => r("woken")));
    const router = new LaneRouter(new FakeClient() as unknown as IdClient, lanes, () => {
      woken++;
      woke();
    });
    router.poll(0); // finds both command lanes empty: arms a waiter on each (timeout 1 s)
    expect(woken).toBe(0);
    const t1 = new LaneTransport(lanes[1]!.commands);
    t1.connect(7);
    t1.flush();
    // The waiter's own 1 s timeout does not call wake: only the publish can.
    const timedOut = new Promise<string>((r) => setTimeout(() => r("not woken"), 1500));
    expect(await Promise.race([wokeP, timedOut])).toBe("woken");
    expect(woken).toBe(1);
  });

  test("ThreadStats: the main thread sums the threads' counters and sees the earliest phase", () => {
    const a = ThreadStats.create();
    const b = ThreadStats.attach(ThreadStats.create().sab);
    const t = { connect() {}, send: () => true, close() {} };
    const g0 = new Generator({ conns: 10, setupS: 0, waitS: 0, epochS: 1, msgLen: 200, ratio: 0.5, durationS: 1, shard: { index: 0, count: 2 } }, t);
    const g1 = new Generator({ conns: 10, setupS: 0, waitS: 0, epochS: 1, msgLen: 200, ratio: 0.5, durationS: 1, shard: { index: 1, count: 2 } }, t);
    g0.counters.sent = 5;
    g1.counters.sent = 7;
    g1.counters.replies = 2;
    g0.phase = "sending";
    g1.phase = "draining";
    a.publish(g0);
    b.publish(g1);
    const sum = new (g0.counters.constructor as new () => typeof g0.counters)();
    a.addCounters(sum);
    b.addCounters(sum);
    expect(sum.sent).toBe(12);
    expect(sum.replies).toBe(2);
    expect(Math.min(a.phaseIndex(), b.phaseIndex())).toBe(2);
    expect(a.stopRequested()).toBe(false);
    ThreadStats.attach(a.sab).requestStop();
    expect(a.stopRequested()).toBe(true);
  });
});
