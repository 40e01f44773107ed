// bench/priority-tail.ts: slow-message records and the charge of each slow
// message to its longest leg and to the round gaps over it (no devices, no clock).
import { describe, expect, test } from "bun:test";
import { explainTail, HighStamps, LEGS, SlowLog } from "../../bench/priority-tail";

describe("SlowLog", () => {
  test("keeps only messages over the threshold, up to its capacity, and counts the rest", () => {
    const s = new SlowLog(1000, 2);
    s.note(7, 999, 1, 2, 3, 4);
    s.note(8, 1500, 10_100, 10_200, 10_300, 11_500);
    s.note(9, 2000, 20_100, 20_200, 20_300, 22_000);
    s.note(10, 3000, 30_100, 30_200, 30_300, 33_000);
    expect(s.n).toBe(2);
    expect(s.over).toBe(1);
    // intended = received - latency; the message number last.
    expect(s.rows()[0]).toEqual([10_000, 10_100, 10_200, 10_300, 11_500, 1500, 8]);
    s.reset();
    expect(s.rows()).toEqual([]);
  });
});

describe("HighStamps", () => {
  test("keeps the first time of each direction in wall-clock us", () => {
    let now = 500;
    const h = new HighStamps(() => now, 16);
    h.note(600, true, 3);
    h.note(900, true, 3); // a retransmission: the first time stays
    h.note(700, false, 3);
    h.note(700, false, 99); // beyond the table: ignored
    const [req, rep] = h.of(3);
    expect(rep - req).toBe(100);
    expect(req).toBeGreaterThan(1e12); // on the wall clock
    expect(h.of(4)).toEqual([0, 0]);
    h.reset();
    expect(h.of(3)).toEqual([0, 0]);
    now = 0;
  });
});

describe("explainTail", () => {
  // Stamps: intended, sent, gen tx, server rx, read, replied, server tx, gen rx, received.
  const msg = (k: number, t: number[]) => ({ slow: [t[0]!, t[1]!, t[4]!, t[5]!, t[8]!, t[8]! - t[0]!, k], gen: [t[2]!, t[7]!], srv: [k, t[3]!, t[6]!] });

  test("charges each message to its longest leg and to a stall that overlaps that leg", () => {
    // #1: 3 ms between the generator's tx and the server's rx, during a server stall with a CPU wait.
    const a = msg(1, [0, 10, 20, 3020, 3030, 3130, 3140, 3150, 3160]);
    // #2: the send itself was 2 ms late, during a generator stall that was not a CPU wait.
    const b = msg(2, [10_000, 12_000, 12_010, 12_100, 12_110, 12_210, 12_220, 12_230, 12_240]);
    const serverStalls = [[100, 2800, 2500, 0]];
    const genStalls = [
      [10_100, 1800, 0, 0],
      // An idle sleep (slept = 1) is not a stall.
      [0, 5000, 0, 1],
    ];
    const t = explainTail([a.slow, b.slow], [a.gen, b.gen], [a.srv, b.srv], genStalls, serverStalls);
    expect(t.slow).toBe(2);
    expect(t.byLeg["ring to server"]).toBe(1);
    expect(t.byLeg["send lag"]).toBe(1);
    expect(t.serverStall).toBe(1);
    expect(t.genStall).toBe(1);
    expect(t.cpuWait).toBe(1);
    expect(t.legUs["ring to server"]).toBe(3000 + 90);
    expect(t.worst[0]).toStartWith("#1 3160 us = 10 + 10 + 3000 + 10 + 100 + 10 + 10 + 10; longest ring to server; server gap 2800 us (2500 waiting)");
    expect(t.worst).toHaveLength(2);
  });

  test("a stamp not seen (0) gives its leg 0 and the next leg its time", () => {
    const a = msg(5, [0, 10, 0, 0, 1500, 1600, 1610, 1620, 1630]);
    const t = explainTail([a.slow], [a.gen], [], [], []);
    expect(t.byLeg["server stack in"]).toBe(1);
    // No server stamps: its tx too is missing, so "ring back" takes "server stack out"'s time.
    expect(LEGS.map((l) => t.legUs[l])).toEqual([10, 0, 0, 1490, 100, 0, 20, 10]);
  });
});
