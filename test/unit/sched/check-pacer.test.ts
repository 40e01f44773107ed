import { describe, expect, test } from "bun:test";
import { CheckPacer, DECAY } from "../../../src/sched/check-pacer";
import { PARK, Scheduler, type Coroutine } from "../../../src/sched/coroutine";

describe("CheckPacer", () => {
  test("uniform steps: the count aims at checkEveryUs, growing at most 2x per read", () => {
    const p = new CheckPacer(200, 64);
    p.next(1, 1);
    expect(p.steps).toBe(2);
    p.next(2, 2);
    expect(p.steps).toBe(4);
    for (let i = 0; i < 10; i++) p.next(p.steps, p.steps);
    expect(p.steps).toBe(64);
    // Steps get slow: shrinks at once.
    p.next(64, 64 * 100);
    expect(p.steps).toBe(2);
  });

  test("cheap intervals after a slow one do not grow the count until the slow cost has decayed", () => {
    const p = new CheckPacer(200, 64);
    p.next(1, 100);
    expect(p.steps).toBe(2);
    // Intervals of parks only (0.1 us a step): the remembered 100 us decays by DECAY per read.
    let reads = 0;
    while (p.steps <= 2) {
      p.next(p.steps, 0.1 * p.steps);
      reads++;
    }
    // floor(200 / (100 * DECAY^reads)) first exceeds 2 when 100 * DECAY^reads < 200 / 3.
    expect(reads).toBe(Math.ceil(Math.log(2 / 3) / Math.log(DECAY)));
  });
});

describe("Scheduler budget with mixed step costs", () => {
  /**
   * bench/priority's server shape on a manual clock: a class-0 coroutine serves
   * a high queue and hands the turn back when it empties, a class-1 coroutine
   * serves a low backlog; each served message costs 100 us, the other steps
   * (parks) cost nothing. Before check-pacer.ts, intervals of parks doubled the
   * check count and low-only runs went on for 400-800 us under a 200 us budget.
   */
  test("a low-class run returns within the low budget plus one step", () => {
    let now = 0;
    const s = new Scheduler({ classes: 2, budgetUs: 1000, lowBudgetUs: 200, checkEveryUs: 200, clock: () => now });
    let hi = 0;
    let lo = 0;
    let endTurn = false;
    const h = s.spawn(function* (): Coroutine {
      for (;;) {
        while (hi === 0) yield PARK;
        hi--;
        now += 100;
        if (hi === 0) endTurn = true;
        yield;
      }
    }, 0);
    const l = s.spawn(function* (): Coroutine {
      for (;;) {
        while (lo === 0 || endTurn) yield PARK;
        lo--;
        now += 100;
        yield;
      }
    }, 1);
    let seed = 7;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) / 0x7fffffff;
    let longestLowOnly = 0;
    for (let r = 0; r < 20_000; r++) {
      // A saturated low backlog; now and then one to three high messages.
      lo = 50;
      const highs = rnd() < 0.1 ? 1 + Math.floor(rnd() * 3) : 0;
      hi += highs;
      endTurn = false;
      if (hi > 0) s.wake(h);
      s.wake(l);
      const t0 = now;
      s.poll(now);
      if (highs === 0) longestLowOnly = Math.max(longestLowOnly, now - t0);
      now += 5;
    }
    expect(longestLowOnly).toBeGreaterThanOrEqual(200);
    expect(longestLowOnly).toBeLessThanOrEqual(200 + 100);
  });
});
