/**
 * apps/iotep/round-gaps.ts: the poll-gap record of the whole process and of
 * the measured window (beginWindow .. endWindow), in virtual time (the clock
 * readings are handed to poll() directly).
 */
import { describe, expect, test } from "bun:test";
import { GapWindow, RoundGaps, TOP_GAPS } from "../../../apps/iotep/round-gaps";
import type { PollLoop } from "../../../src/sched/poll-loop";

function gapsWithLoop(): { g: RoundGaps; loop: { idleSleeps: number } } {
  const loop = { idleSleeps: 0 };
  return { g: new RoundGaps(loop as unknown as PollLoop), loop };
}

describe("RoundGaps measured window", () => {
  test("gaps before beginWindow and after endWindow count in the whole view only", () => {
    const { g, loop } = gapsWithLoop();
    g.poll(0);
    g.poll(500_000); // a 500 ms setup gap, no idle sleep: a stall
    expect(g.window).toBeNull();
    g.beginWindow(500_000);
    g.poll(500_100);
    g.poll(503_100); // 3 ms stall, 3.1 ms after the window began
    loop.idleSleeps++;
    g.poll(515_100); // 12 ms with an idle sleep inside: a gap, not a stall
    g.poll(515_200);
    g.endWindow(520_000);
    g.poll(1_420_000); // the shutdown pass: 900 ms
    const all = g.summary();
    expect(all.maxGapUs).toBe(904_800);
    expect(all.stalls).toBe(3);
    const w = g.window!.summary();
    expect(w.maxGapUs).toBe(12_000);
    expect(w.maxAtS).toBe(0);
    expect(w.over2ms).toBe(2);
    expect(w.over10ms).toBe(1);
    expect(w.stalls).toBe(1);
    expect(w.stallMs).toBe(3);
    expect(w.windowS).toBe(0);
    expect(w.count).toBe(4);
  });

  test("the longest gap's time is kept relative to the window start", () => {
    const { g } = gapsWithLoop();
    g.poll(1_000_000);
    g.beginWindow(1_000_000);
    g.poll(1_001_000);
    g.poll(13_001_000); // a 12 s gap ending 12.001 s in
    g.poll(13_002_000);
    g.endWindow(61_000_000);
    const w = g.window!.summary();
    expect(w.maxGapUs).toBe(12_000_000);
    expect(w.maxAtS).toBe(12);
    expect(w.windowS).toBe(60);
    // Closed: later gaps do not reach it.
    g.poll(80_000_000);
    expect(g.window!.summary().maxGapUs).toBe(12_000_000);
    expect(g.summary().maxGapUs).toBe(66_998_000);
  });
});

describe("GapWindow's longest gaps", () => {
  test("keeps the TOP_GAPS longest over 2 ms, longest first, with their end and whether they were stalls", () => {
    const { g, loop } = gapsWithLoop();
    g.poll(0);
    g.beginWindow(0);
    let t = 0;
    // 40 gaps of 2.1 .. 6.0 ms, every 5th with an idle sleep inside, 1 ms rounds between.
    for (let k = 1; k <= 40; k++) {
      if (k % 5 === 0) loop.idleSleeps++;
      t += 2000 + k * 100;
      g.poll(t);
      t += 1000;
      g.poll(t);
    }
    const top = g.window!.top();
    expect(top.length).toBe(TOP_GAPS);
    expect(top.map((x) => x[1])).toEqual(Array.from({ length: TOP_GAPS }, (_, i) => 2000 + (40 - i) * 100));
    expect(top[0]![2]).toBe(0); // k = 40: idle sleep inside
    expect(top[1]![2]).toBe(1);
    // The longest ended at the 40th gap's end: sum of (3000 + k*100) for k < 40, plus 2000 + 4000.
    let end = 0;
    for (let k = 1; k < 40; k++) end += 3000 + k * 100;
    expect(top[0]![0]).toBe(end + 6000);
  });
});

describe("RoundGaps with a thread CPU clock (--gap-cpu)", () => {
  test("each kept gap says how much of it the thread ran, idle sleep inside or not", () => {
    const loop = { idleSleeps: 0 };
    let cpu = 0;
    const g = new RoundGaps(loop as unknown as PollLoop, () => cpu);
    g.poll(0);
    g.beginWindow(0);
    // A 12 ms gap with an idle sleep inside in which the thread ran 11.5 ms (not asleep: busy elsewhere).
    loop.idleSleeps++;
    cpu += 11_500;
    g.poll(12_000);
    // A 5 ms gap in which it ran 0.2 ms (really asleep).
    loop.idleSleeps++;
    cpu += 200;
    g.poll(17_000);
    const top = g.window!.top();
    expect(top.map((x) => [x[1], x[3]])).toEqual([
      [12_000, 11_500],
      [5_000, 200],
    ]);
    const line = GapWindow.describe(top[0]!);
    expect(line).toStartWith("12.0 ms at 0.012 s (idle sleep inside; on CPU 11.5 ms");
  });

  test("without a clock the CPU field is -1 and the line leaves it out", () => {
    const loop = { idleSleeps: 0 };
    const g = new RoundGaps(loop as unknown as PollLoop);
    g.poll(0);
    g.beginWindow(0);
    g.poll(3_000);
    const top = g.window!.top();
    expect(top[0]![3]).toBe(-1);
    expect(GapWindow.describe(top[0]!)).not.toContain("on CPU");
  });
});
