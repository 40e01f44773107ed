// bench/priority-gaps.ts: a round gap split into its parts by the probe's marks, and the report.
import { describe, expect, test } from "bun:test";
import { GAP_PARTS, gapReport, RoundProbe } from "../../bench/priority-gaps";
import { PollLoop } from "../../src/sched/poll-loop";

describe("RoundProbe", () => {
  test("splits the time from one round's start to the next into rx, app parts and flush", () => {
    let t = 0;
    const clock = () => t;
    const loop = new PollLoop({ clock });
    const counters = { rxFrames: 0 };
    const probe = new RoundProbe(loop, clock, counters);
    // The stack's stage: rx costs 300 us, the app stages in between, flush 50 us.
    const app: { poll(now: number): number; pollAt(): number }[] = [
      probe.first,
      { poll: () => ((t += 20), probe.mark(2), (t += 700), probe.mark(3), (t += 5), 0), pollAt: () => Number.POSITIVE_INFINITY },
      probe.last,
    ];
    loop.add({
      poll: (now) => {
        t += 300;
        counters.rxFrames += 3;
        for (const s of app) s.poll(now);
        t += 50;
        return 1;
      },
      pollAt: () => Number.POSITIVE_INFINITY,
    });
    loop.add(probe.start, true);
    loop.round(t);
    const start2 = t;
    loop.round(t);
    const out = new Float64Array(6);
    probe.parts(start2, out);
    expect(Array.from(out)).toEqual([300, 20, 700, 5, 50, 0]);
    expect(out.reduce((a, b) => a + b, 0)).toBe(start2 - 0);
  });
});

describe("gapReport", () => {
  // [start, length, wait, slept, six parts, cpu, span, frames]
  const row = (start: number, len: number, wait: number, slept: number, parts: number[], cpu: number, span: number) => [start, len, wait, slept, ...parts, cpu, span, 0];
  test("counts CPU waits, blocked gaps and running gaps by their largest part, before the cut-off only", () => {
    const rows = [
      row(10, 3000, 2800, 0, [0, 0, 3000, 0, 0, 0], 200, 3100), // waiting for a CPU
      row(20, 2000, 0, 0, [2000, 0, 0, 0, 0, 0], 100, 2100), // blocked or stolen
      row(30, 4000, 0, 0, [3000, 500, 0, 0, 500, 0], 4000, 4100), // running in rx+timers
      row(40, 1500, 0, 1, [0, 0, 0, 0, 0, 1500], 0, 1500), // slept: not counted
      row(99, 9000, 0, 0, [0, 0, 9000, 0, 0, 0], 9000, 9000), // after the cut-off
    ];
    const r = gapReport(rows, 50);
    expect(r.gaps).toBe(3);
    expect(r.cpuWait).toBe(1);
    expect(r.blocked).toBe(1);
    expect(r.byPart[GAP_PARTS[0]]).toBe(1);
    expect(r.longest.length).toBe(1);
  });
});
