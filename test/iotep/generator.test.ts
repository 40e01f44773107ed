/**
 * The generator's schedule and measurement in virtual time, over a transport
 * that records what it is asked to do (connections open at once unless told
 * otherwise).
 */
import { describe, expect, test } from "bun:test";
import { Generator, type GenTransport, type GeneratorOptions } from "../../apps/iotep/generator";
import { REPLY_LEN, classifyMessage, MSG_REQUEST, writeReply } from "../../apps/iotep/protocol";

class FakeTransport implements GenTransport {
  gen!: Generator;
  connects: { i: number; t: number }[] = [];
  sends: { i: number; t: number; request: boolean; counter: number }[] = [];
  closes: number[] = [];
  now = 0;
  autoOpen = true;
  connect(i: number): void {
    this.connects.push({ i, t: this.now });
    if (this.autoOpen) this.gen.opened(i);
  }
  send(i: number, buf: Uint8Array, len: number): boolean {
    expect(len).toBe(buf.length);
    const counter = (buf[0]! << 24) | (buf[1]! << 16) | (buf[2]! << 8) | buf[3]!;
    this.sends.push({ i, t: this.now, request: classifyMessage(buf, 0) === MSG_REQUEST, counter });
    return true;
  }
  close(i: number): void {
    this.closes.push(i);
  }
}

function make(o: Partial<GeneratorOptions> = {}) {
  const t = new FakeTransport();
  const g = new Generator({ conns: 100, setupS: 1, waitS: 0.5, epochS: 10, msgLen: 200, ratio: 0.05, durationS: 20, drainS: 1, ...o }, t);
  t.gen = g;
  /** Run the generator to virtual time `until` (us), ticking at every time it asks for, or every `stepUs`. */
  const run = (until: number, stepUs = 0): void => {
    let next = t.now;
    while (next <= until && next !== Number.POSITIVE_INFINITY) {
      t.now = next;
      const n = g.tick(next);
      next = stepUs > 0 ? Math.max(n, next + stepUs) : n;
      if (stepUs > 0 && n !== Number.POSITIVE_INFINITY) next = Math.ceil(next / stepUs) * stepUs;
    }
  };
  return { t, g, run };
}

const reply = new Uint8Array(REPLY_LEN);
writeReply(reply, 0);

describe("schedule", () => {
  test("connections open evenly over the setup time", () => {
    const { t, g, run } = make({ conns: 100, setupS: 1 });
    g.start(0);
    run(1_000_000);
    expect(t.connects.length).toBe(100);
    t.connects.forEach((c, k) => {
      expect(c.i).toBe(k);
      expect(c.t).toBe(k * 10_000);
    });
    expect(g.counters.connected).toBe(100);
  });

  test("b messages per second, connection j mod c, each connection once per epoch", () => {
    const { t, g, run } = make({ conns: 100, epochS: 10, durationS: 20 });
    g.start(0);
    run(30_000_000);
    expect(g.perSecond).toBe(10);
    expect(t.sends.length).toBe(200);
    const start = 1_500_000;
    t.sends.forEach((s, j) => {
      expect(s.i).toBe(j % 100);
      expect(s.t).toBe(start + j * 100_000);
    });
    // Counters are per connection: connection 7's two messages carry 1 and 2.
    expect(t.sends.filter((s) => s.i === 7).map((s) => s.counter)).toEqual([1, 2]);
  });

  test("the request ratio holds and is reproducible from the seed", () => {
    const a = make({ conns: 1000, epochS: 1, durationS: 20, ratio: 0.05, seed: 42 });
    a.g.start(0);
    a.run(25_000_000);
    const req = a.t.sends.filter((s) => s.request).length;
    expect(a.t.sends.length).toBe(20_000);
    expect(req).toBeGreaterThan(850);
    expect(req).toBeLessThan(1150);
    const b = make({ conns: 1000, epochS: 1, durationS: 20, ratio: 0.05, seed: 42 });
    b.g.start(0);
    b.run(25_000_000);
    expect(b.t.sends.map((s) => s.request)).toEqual(a.t.sends.map((s) => s.request));
  });

  test("at most maxConnecting handshakes at once", () => {
    const { t, g, run } = make({ conns: 50, setupS: 0, maxConnecting: 8 });
    t.autoOpen = false;
    g.start(0);
    run(0);
    expect(t.connects.length).toBe(8);
    for (let i = 0; i < 4; i++) g.opened(i);
    g.connectFailed(4);
    t.now = 1000;
    g.tick(1000);
    expect(t.connects.length).toBe(13);
    expect(g.counters.connectFailed).toBe(1);
  });

  test("messages due on connections that are not open are skipped and counted", () => {
    const { t, g, run } = make({ conns: 10, setupS: 0, epochS: 1, durationS: 1, ratio: 0 });
    t.autoOpen = false;
    g.start(0);
    run(0);
    for (let i = 0; i < 5; i++) g.opened(i);
    run(3_000_000);
    expect(g.counters.sent).toBe(5);
    expect(g.counters.skipped).toBe(5);
  });

  test("shards split connections and messages without overlap", () => {
    const all: number[] = [];
    const sent: number[] = [];
    for (let k = 0; k < 3; k++) {
      const { t, g, run } = make({ conns: 30, epochS: 3, durationS: 6, shard: { index: k, count: 3 } });
      g.start(0);
      run(10_000_000);
      all.push(...t.connects.map((c) => c.i));
      sent.push(...t.sends.map((s) => s.t * 1000 + s.i));
      expect(g.shardConns).toBe(10);
    }
    expect(all.sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(new Set(sent).size).toBe(60);
  });
});

describe("measurement", () => {
  test("request latency is measured from the scheduled send time", () => {
    const { t, g } = make({ conns: 1, setupS: 0, waitS: 0, epochS: 1, durationS: 1, ratio: 1 });
    g.start(0);
    t.now = 0;
    g.tick(0);
    expect(t.sends.length).toBe(1);
    g.data(0, reply, 0, 100, 700);
    expect(g.rttHigh.totalCount).toBe(0);
    g.data(0, reply, 100, REPLY_LEN - 100, 750);
    expect(g.rttHigh.totalCount).toBe(1);
    expect(g.rttHigh.maxValue).toBe(750);
    expect(g.counters.replies).toBe(1);
  });

  test("coordinated omission: a stalled driver's delay counts as latency, and as send lag", () => {
    const g2 = make({ conns: 1, setupS: 0, waitS: 0, epochS: 0.001, durationS: 0.01, ratio: 1 });
    g2.g.start(0);
    g2.t.now = 5000; // the driver wakes 5 ms late: five messages are overdue
    g2.g.tick(5000);
    expect(g2.t.sends.length).toBe(6);
    g2.g.data(0, reply, 0, REPLY_LEN, 5100);
    // Only the last request is still outstanding (each new request supersedes the previous one).
    expect(g2.g.counters.unanswered).toBe(5);
    expect(g2.g.rttHigh.maxValue).toBe(100);
    expect(g2.g.sendLag.maxValue).toBe(5000);
  });

  test("the tick quantizes the schedule up to the tick's end", () => {
    const { t, g, run } = make({ conns: 10, setupS: 0, waitS: 0, epochS: 1, durationS: 1, tickUs: 1000, ratio: 1 });
    g.start(0);
    run(2_000_000, 1000);
    expect(t.sends.length).toBe(10);
    for (const s of t.sends) expect(s.t % 1000).toBe(0);
  });

  test("warm-up: messages are sent but their latency is not recorded", () => {
    const { t, g, run } = make({ conns: 10, setupS: 0, waitS: 0, epochS: 1, durationS: 1, warmupS: 1, ratio: 1, drainS: 0 });
    g.start(0);
    run(1_500_000);
    expect(t.sends.length).toBe(16); // 0, 0.1, ..., 1.5 s: warm-up does not shorten the measured part
    const g2 = make({ conns: 2, setupS: 0, waitS: 0, epochS: 1, durationS: 1, warmupS: 1, ratio: 1 });
    g2.g.start(0);
    g2.run(0);
    g2.g.data(0, reply, 0, REPLY_LEN, 50); // answers the warm-up request at t=0
    expect(g2.g.counters.replies).toBe(1);
    expect(g2.g.rttHigh.totalCount).toBe(0);
    g2.run(1_000_000);
    g2.g.data(0, reply, 0, REPLY_LEN, 1_000_050); // answers the first measured request
    expect(g2.g.rttHigh.totalCount).toBe(1);
    expect(g2.g.rttHigh.maxValue).toBe(50);
  });

  test("a reply without an outstanding request is counted as bad", () => {
    const { g } = make({ conns: 1, setupS: 0, waitS: 0, ratio: 0 });
    g.start(0);
    g.tick(0);
    g.data(0, reply, 0, REPLY_LEN, 10);
    expect(g.counters.badReplies).toBe(1);
    expect(g.rttHigh.totalCount).toBe(0);
  });

  test("at the end every connection is closed and unanswered requests are counted", () => {
    const { t, g, run } = make({ conns: 5, setupS: 0, waitS: 0, epochS: 1, durationS: 1, ratio: 1, drainS: 0.5 });
    g.start(0);
    run(10_000_000);
    expect(g.phase).toBe("done");
    expect(t.closes.sort()).toEqual([0, 1, 2, 3, 4]);
    expect(g.counters.unanswered).toBe(5);
  });
});
