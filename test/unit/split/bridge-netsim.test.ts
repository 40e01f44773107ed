/**
 * Split mode in virtual time, in-process: stack A (sockets API, the client) and
 * stack B (TCP driven by a StackBridge) over a PairDevice; B's app thread ends
 * (SplitApp with the echo handler) are pumped on this thread between rounds,
 * so the whole record protocol runs deterministically with no Workers and no sleeps.
 */
import { describe, expect, test } from "bun:test";
import { Stack } from "../../../src/api/stack";
import { TcpSockets, type TcpSocket } from "../../../src/api/tcp-sockets";
import { ManualClock, PairDevice } from "../../../src/net/pair-device";
import { SeededRng } from "../../../src/net/seeded-rng";
import { SplitApp } from "../../../src/sched/split/app-end";
import { Lane } from "../../../src/sched/split/channel";
import { createEchoHandler } from "../../../src/sched/split/echo-app";
import { StackBridge } from "../../../src/sched/split/stack-bridge";

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

function setup(apps: number, laneBytes = 1 << 16, laneRecords = 256) {
  const clock = new ManualClock(1_000_000);
  const [da, db] = PairDevice.create({ clock, seed: 3, faults: { delayUs: 100 } });
  const now = () => clock.nowUs;
  const a = new Stack(da, { ip: 0x0a000001, prefixLen: 24 }, { clock: now });
  const b = new Stack(db, { ip: 0x0a000002, prefixLen: 24 }, { clock: now });
  const ra = new SeededRng(11);
  const rb = new SeededRng(12);
  const sa = new TcpSockets(a, {}, { rng: () => ra.nextU32() });
  const pairs = [];
  for (let i = 0; i < apps; i++) pairs.push({ events: Lane.create(laneRecords, laneBytes), commands: Lane.create(laneRecords, laneBytes) });
  const bridge = new StackBridge(b, pairs, { rng: () => rb.nextU32() });
  const handlers = pairs.map(() => createEchoHandler());
  // The app ends attach to the same SharedArrayBuffers, as a Worker would.
  const ends = pairs.map((p, i) => new SplitApp(Lane.attach(p.events.share()), Lane.attach(p.commands.share()), handlers[i]!));
  const settle = () => {
    for (let i = 0; i < 100_000; i++) {
      const t = clock.nowUs;
      let w = a.poll(t) + b.poll(t);
      for (const e of ends) w += e.pollOnce();
      if (w === 0) return;
    }
    throw new Error("no quiescence");
  };
  const run = (untilUs: number, done: () => boolean) => {
    settle();
    for (let g = 0; g < 5_000_000; g++) {
      if (done()) return;
      const next = Math.min(da.nextArrivalUs(), db.nextArrivalUs(), a.pollAt(), b.pollAt());
      if (next > untilUs) throw new Error("ran out of time");
      clock.nowUs = Math.max(clock.nowUs, Math.ceil(next));
      settle();
    }
    throw new Error("too many events");
  };
  return { sa, bridge, ends, handlers, run };
}

function client(sa: TcpSockets, payload: Uint8Array) {
  const got: Uint8Array[] = [];
  const st = { received: 0, ended: false, closed: false, error: null as unknown };
  let off = 0;
  const pump = (s: TcpSocket<undefined>) => {
    while (off < payload.length) {
      const n = s.write(payload, off, Math.min(65536, payload.length - off));
      if (n <= 0) return;
      off += n;
    }
    s.shutdown();
  };
  sa.connect({
    hostname: "10.0.0.2",
    port: 7,
    socket: {
      open: pump,
      drain: pump,
      data(_s, d) {
        got.push(d.slice());
        st.received += d.length;
      },
      end(s) {
        st.ended = true;
        s.end();
      },
      close(_s, e) {
        st.closed = true;
        st.error = e ?? null;
      },
    },
  });
  const joined = () => {
    const out = new Uint8Array(st.received);
    let o = 0;
    for (const g of got) {
      out.set(g, o);
      o += g.length;
    }
    return out;
  };
  return { st, joined };
}

describe("split mode: stack bridge and app ends over shared rings (virtual time)", () => {
  test("echo of 1 MiB through lanes smaller than the data arrives intact; FIN both ways; the id is given back", () => {
    const s = setup(1, 1 << 14, 64);
    s.bridge.listen(0, 7, 64);
    const payload = bytes(1 << 20, 7);
    const c = client(s.sa, payload);
    s.run(120_000_000, () => c.st.closed && s.handlers[0]!.counts.closed === 1);
    expect(c.st.error).toBeNull();
    expect(c.st.received).toBe(payload.length);
    expect(Buffer.compare(c.joined(), payload)).toBe(0);
    expect(c.st.ended).toBe(true);
    expect(s.handlers[0]!.counts.opened).toBe(1);
    expect(s.handlers[0]!.counts.echoedBytes).toBe(payload.length);
    // The lanes were too small for the data: backpressure was exercised.
    expect(s.bridge.laneFull + s.bridge.sendStalls).toBeGreaterThan(0);
    s.run(200_000_000, () => s.bridge.tcp.connectionsInUse() === 0);
    expect(s.bridge.tcp.connectionsInUse()).toBe(0);
  });

  test("connections are spread round-robin over the app threads, each echoes its own", () => {
    const s = setup(3);
    s.bridge.listen(0, 7, 64);
    const clients = [0, 1, 2, 3, 4, 5].map((i) => ({ p: bytes(3000 + i * 100, 100 + i), c: null as ReturnType<typeof client> | null }));
    for (const x of clients) x.c = client(s.sa, x.p);
    s.run(60_000_000, () => clients.every((x) => x.c!.st.closed));
    for (const x of clients) expect(Buffer.compare(x.c!.joined(), x.p)).toBe(0);
    expect(s.handlers.map((h) => h.counts.opened)).toEqual([2, 2, 2]);
  });

  test("a Stop request reaches every app end after queued work, and their loops end", () => {
    const s = setup(2);
    s.bridge.requestStop();
    s.run(10_000_000, () => s.ends.every((e) => e.isStopped()));
    expect(s.bridge.stopDelivered()).toBe(true);
    expect(s.ends.every((e) => e.isStopped())).toBe(true);
  });
});
