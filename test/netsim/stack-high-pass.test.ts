/**
 * Stack's high-priority pass (src/api/stack.ts runHighStages): an app stage
 * with pollHigh is called right after a burst's class-0 frames went through
 * TCP, before the burst's lower-class frames are; and transmitSoon() puts
 * output queued outside a poll round on the wire without a round.
 */
import { describe, expect, test } from "bun:test";
import { classifierFromSpec } from "../../src/api/classifier-spec";
import type { TcpSocket } from "../../src/api/tcp-sockets";
import type { PollStage } from "../../src/sched/poll-loop";
import { StackPair } from "../helpers/stack-pair";

function setup(withClassifier: boolean) {
  const p = new StackPair({ faults: { delayUs: 100 } });
  if (withClassifier) p.b.setClassifier(classifierFromSpec("port:80"));
  const got: Record<number, string> = { 80: "", 81: "" };
  const server: Record<number, TcpSocket<undefined>> = {};
  for (const port of [80, 81]) {
    p.sb.listen({
      port,
      socket: {
        open: (s) => void (server[port] = s),
        data: (_s, d) => void (got[port] += Buffer.from(d).toString()),
      },
    });
  }
  const socks: Record<number, TcpSocket<undefined>> = {};
  const atA: Record<number, string> = { 80: "", 81: "" };
  for (const port of [80, 81]) {
    void p.sa.connect({ hostname: "10.0.0.2", port, noDelay: true, socket: { open: (s) => void (socks[port] = s), data: (_s, d) => void (atA[port] += Buffer.from(d).toString()) } });
  }
  p.run(p.clock.nowUs + 50_000, () => socks[80] !== undefined && socks[81] !== undefined);
  p.run(p.clock.nowUs + 50_000);
  // A stage that notes, at each high pass, how many segments B's TCP had taken in and what the app had.
  const passes: { segsIn: number; high: string; low: string }[] = [];
  const stage: PollStage = {
    poll: () => 0,
    pollAt: () => Number.POSITIVE_INFINITY,
    pollHigh: () => {
      passes.push({ segsIn: p.sb.tcp.counters.segsIn, high: got[80]!, low: got[81]! });
      return 0;
    },
  };
  p.b.addAppStage(stage);
  return { p, got, socks, server, passes, atA };
}

describe("the stack's high-priority pass", () => {
  test("runs after the burst's class-0 frame and before its low-class frame", () => {
    const { p, got, socks, passes } = setup(true);
    const before = p.sb.tcp.counters.segsIn;
    // Low first, then high: both frames reach B in one rx burst.
    socks[81]!.write("low");
    socks[80]!.write("high");
    p.run(p.clock.nowUs + 10_000, () => got[80] === "high" && got[81] === "low");
    expect(passes.length).toBeGreaterThanOrEqual(1);
    // At the pass: the high segment taken in by TCP, the low one not yet.
    expect(passes[0]!.segsIn).toBe(before + 1);
    expect(passes[0]!.low).toBe("");
  });

  test("no pass for a burst without class-0 frames, nor without a classifier", () => {
    for (const withClassifier of [true, false]) {
      const { p, got, socks, passes } = setup(withClassifier);
      socks[81]!.write("low");
      p.run(p.clock.nowUs + 10_000, () => got[81] === "low");
      if (!withClassifier) {
        socks[80]!.write("high");
        p.run(p.clock.nowUs + 10_000, () => got[80] === "high");
      }
      expect(passes.length).toBe(0);
    }
  });

  test("transmitSoon sends output written outside a round without a round", async () => {
    const { p, server, atA } = setup(false);
    const roundsBefore = p.b.loop.rounds;
    const txBefore = p.b.netif.counters.txFrames;
    // Outside any round (as an ioredis callback would): write, then ask for the transmit.
    server[80]!.write("reply");
    p.b.transmitSoon();
    expect(p.b.netif.counters.txFrames).toBe(txBefore);
    await Promise.resolve();
    expect(p.b.netif.counters.txFrames).toBe(txBefore + 1);
    expect(p.b.transmitsOutOfRound).toBe(1);
    expect(p.b.loop.rounds).toBe(roundsBefore);
    // It reaches A.
    p.run(p.clock.nowUs + 10_000, () => atA[80] === "reply");
    expect(atA[80]).toBe("reply");
  });

  test("after close() a queued transmitSoon sends nothing", async () => {
    const { p, server } = setup(false);
    server[80]!.write("late");
    p.b.transmitSoon();
    p.b.close();
    await Promise.resolve();
    expect(p.b.transmitsOutOfRound).toBe(0);
    // And a new one is not even queued.
    p.b.transmitSoon();
    await Promise.resolve();
    expect(p.b.transmitsOutOfRound).toBe(0);
  });
});
