/**
 * bench/priority's server app (bench/priority-server.ts) and load generator
 * (bench/priority-gen.ts) over two full stacks in virtual time: the same
 * mechanism the real-device benchmark measures, deterministically. The
 * server's busy-wait advances the virtual clock, so the stack cannot receive
 * while a message is being served (run to completion, one thread) and only
 * the Scheduler's budget yield lets it see new arrivals under overload.
 * Timed targets are the benchmark's; here only orderings that follow from the
 * mechanism are asserted.
 */
import { describe, expect, test } from "bun:test";
import { classifierFromSpec } from "../../src/api/classifier-spec";
import { burstPlan, LoadGen, type GenConn } from "../../bench/priority-gen";
import { MSG, PriorityServer } from "../../bench/priority-server";
import { PriorityWireTap } from "../../bench/priority-wire";
import { StackPair } from "../helpers/stack-pair";

const CONNS = 100;
const SERVICE_US = 100;
const BUDGET_US = 1000;

function runCase(priority: boolean) {
  const p = new StackPair({ bApi: "epoll", classifyB: priority ? classifierFromSpec("iotep") : undefined, faults: { delayUs: 20 }, nbufs: 16384 });
  const clock = () => p.clock.nowUs;
  const ep = p.eb!;
  const srv = new PriorityServer(ep, 80, {
    priority,
    serviceUs: SERVICE_US,
    budgetUs: BUDGET_US,
    checkEveryUs: 200,
    clock,
    spin: (us) => void (p.clock.nowUs += us),
    maxConnections: ep.listenerBase,
    queueMessages: 1 << 14,
  });
  p.b.addAppStage(srv);
  // The server's wire view (installed before the handshakes: it follows message starts from the ISNs).
  const wire = new PriorityWireTap(80, p.devB.mem, p.devB.dv, clock);
  p.b.netif.setBurstTap(wire);
  // The longest time between two receives of the server's stack while the app had a backlog.
  let last = -1;
  let maxGapBusy = 0;
  p.b.addAppStage({
    poll(now) {
      if (last >= 0 && srv.queued > 0 && now - last > maxGapBusy) maxGapBusy = now - last;
      last = now;
      return 0;
    },
    pollAt: () => Number.POSITIVE_INFINITY,
  });
  const gen = new LoadGen(clock, null, p.sa.tcp);
  p.a.addAppStage(gen);
  for (let i = 0; i < CONNS; i++) {
    void p.sa.connect<GenConn>({
      hostname: "10.0.0.2", port: 80, noDelay: true, data: { part: new Uint8Array(MSG), len: 0 },
      socket: { open: (s) => void gen.socks.push(s), data: (s, d) => gen.reply(s, d) },
    });
  }
  p.run(p.clock.nowUs + 2_000_000, () => gen.socks.length === CONNS);
  expect(gen.socks.length).toBe(CONNS);
  // 0.3 s at 2x the nominal capacity (1 / W), 10 % high: the backlog grows to ~3,000 messages.
  const plan = burstPlan(p.clock.nowUs + 1000, 2e6 / SERVICE_US, 1, 0.3, 0, 0.1, 3);
  gen.start(plan);
  p.run(p.clock.nowUs + 30_000_000, () => gen.finished);
  return { srv, gen, r: gen.results(), highCount: plan.high.reduce((a, b) => a + b, 0), maxGapBusy, wire: wire.summary() };
}

describe("bench/priority server app, virtual time", () => {
  test("priority on: under 2x overload high-priority messages overtake the low backlog", () => {
    const { srv, gen, r, highCount, maxGapBusy } = runCase(true);
    expect(r.replies).toBe(gen.total);
    expect(r.sendFailed + r.badReplies + srv.sendFailed + srv.malformed).toBe(0);
    // Every high message went through the high queue (express or framed from the stream).
    expect(srv.servedHigh).toBe(highCount);
    expect(r.high.count).toBe(highCount);
    // Saturated: the Scheduler gave the stack its turn by the budget, and after high replies.
    expect(srv.sched.budgetYields).toBeGreaterThan(100);
    expect(srv.turnsHandedBack).toBeGreaterThan(0);
    expect(maxGapBusy).toBeLessThanOrEqual(BUDGET_US + 2 * SERVICE_US + 50);
    // The low backlog waits hundreds of ms; high messages wait about one budget.
    expect(r.low.p50Us).toBeGreaterThan(50_000);
    expect(r.high.p50Us * 10).toBeLessThan(r.low.p50Us);
    expect(r.high.maxUs).toBeLessThan(r.low.p50Us);
    // A high message waits for the generator's late send (it shares the one thread: up to a
    // budget), the server's next receive (up to a budget) and the high messages ahead of it.
    expect(r.sendLag.maxUs).toBeLessThanOrEqual(BUDGET_US + 2 * SERVICE_US);
    expect(r.high.p99Us).toBeLessThan(4 * BUDGET_US);
  });

  for (const priority of [true, false]) {
    test(`server wire view (priority ${priority ? "on" : "off"}): every request paired with its reply, per class, inside the generator's view`, () => {
      const { gen, r, highCount, wire } = runCase(priority);
      const k = wire.counters;
      expect(k.misaligned).toBe(0);
      expect(k.requests).toBe(gen.total);
      expect(k.paired).toBe(gen.total);
      // Class from the message's byte 5, as the generator drew it (priority off too: only the server differs).
      expect(wire.high.count).toBe(highCount);
      expect(wire.low.count).toBe(gen.total - highCount);
      // rx burst -> tx burst lies inside send -> reply received, message by message.
      expect(wire.high.p99Us).toBeLessThanOrEqual(r.high.p99Us);
      expect(wire.low.p50Us).toBeLessThanOrEqual(r.low.p50Us);
      expect(wire.high.minUs).toBeGreaterThanOrEqual(SERVICE_US);
      if (priority) expect(wire.high.p99Us * 10).toBeLessThan(wire.low.p50Us);
      else expect(wire.high.p50Us).toBeGreaterThan(wire.low.p50Us / 2);
    });
  }

  test("priority off: one FIFO, high and low messages wait alike", () => {
    const { srv, gen, r, maxGapBusy } = runCase(false);
    expect(r.replies).toBe(gen.total);
    expect(srv.servedHigh).toBe(0);
    expect(srv.malformed).toBe(0);
    expect(maxGapBusy).toBeLessThanOrEqual(BUDGET_US + 2 * SERVICE_US + 50);
    expect(r.low.p50Us).toBeGreaterThan(50_000);
    expect(r.high.p50Us).toBeGreaterThan(r.low.p50Us / 2);
    expect(r.high.p50Us).toBeLessThan(r.low.p50Us * 2);
  });
});
