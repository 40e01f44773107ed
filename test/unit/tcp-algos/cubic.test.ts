import { describe, expect, test } from "bun:test";
import { CUBIC_ALPHA, CUBIC_BETA, CUBIC_C, Cubic } from "../../../src/tcp/cubic";

const MSS = 1000;
const RTT_US = 100_000;
const T0 = 10_000_000; // first ACK of the congestion avoidance stage

/** Slow start from IW (10000) to `w` bytes, 2 MSS per ACK with a full window outstanding. */
function grow(cc: Cubic, id: number, w: number): void {
  while (cc.cwnd(id) < w) cc.onAck(id, 2000, cc.cwnd(id) - 2000, 0, RTT_US);
}

/** cwnd 100000 at loss -> W_max 100000, ssthresh = cwnd = 70000, recovery over. */
function afterLoss(): Cubic {
  const cc = new Cubic(2);
  cc.init(0, MSS, 0);
  grow(cc, 0, 100_000);
  expect(cc.cwnd(0)).toBe(100_000);
  cc.enterRecovery(0, 100_000, 1_000_000);
  cc.exitRecovery(0, 2_000_000);
  return cc;
}

/** W_cubic(t) in bytes, RFC 9438 Figure 1 (t, K in seconds; W_max in segments). */
function wCubic(tSec: number, kSec: number, wMaxSeg: number): number {
  return (CUBIC_C * (tSec - kSec) ** 3 + wMaxSeg) * MSS;
}

describe("RFC 9438 constants", () => {
  test("C = 0.4, beta = 0.7, alpha = 3(1 - beta)/(1 + beta) = 0.5294", () => {
    expect(CUBIC_C).toBe(0.4);
    expect(CUBIC_BETA).toBe(0.7);
    expect(CUBIC_ALPHA).toBeCloseTo(0.529412, 6);
  });
});

describe("RFC 9438 4.10 slow start", () => {
  test("IW10 and byte counting as RFC 5681/3465", () => {
    const cc = new Cubic(1);
    cc.init(0, 1460, 0);
    expect(cc.cwnd(0)).toBe(14600);
    cc.onAck(0, 1460, 13140, 0, RTT_US);
    expect(cc.cwnd(0)).toBe(16060);
    cc.onAck(0, 10 * 1460, 2000, 0, RTT_US); // stretch ACK: at most 2 SMSS
    expect(cc.cwnd(0)).toBe(16060 + 2920);
  });
});

describe("RFC 9438 4.6 multiplicative decrease", () => {
  test("ssthresh = cwnd = flight * beta; cwnd_prior and W_max = cwnd at the loss", () => {
    const cc = afterLoss();
    expect(cc.ssthresh(0)).toBe(70_000);
    expect(cc.cwnd(0)).toBe(70_000);
    expect(cc.wMax(0)).toBe(100_000);
  });

  test("ssthresh and cwnd are at least 2 MSS", () => {
    const cc = new Cubic(1);
    cc.init(0, MSS, 0);
    cc.enterRecovery(0, 2000, 0);
    expect(cc.ssthresh(0)).toBe(2000);
    expect(cc.cwnd(0)).toBe(2000);
  });
});

describe("RFC 9438 4.2-4.5 window growth in congestion avoidance", () => {
  test("K = cbrt((W_max - cwnd_epoch) / C) = cbrt(75) s", () => {
    const cc = afterLoss();
    cc.onAck(0, 1000, 69_000, T0, RTT_US);
    expect(cc.kSeconds(0)).toBeCloseTo(Math.cbrt(30 / 0.4), 12);
    expect(cc.kSeconds(0)).toBeCloseTo(4.217163, 6);
  });

  test("4.3 Reno-friendly region at t = 0: cwnd = W_est = cwnd_epoch + alpha * MSS * acked / cwnd", () => {
    const cc = afterLoss();
    cc.onAck(0, 1000, 69_000, T0, RTT_US);
    // W_cubic(0) = 0.4 * (-K)^3 + 100 = 70 segments = 70000 bytes < W_est = 70000 + 0.5294 * 1000 * 1000 / 70000
    const wEst = 70_000 + (CUBIC_ALPHA * 1000 * 1000) / 70_000;
    expect(cc.wEst(0)).toBeCloseTo(wEst, 9);
    expect(wCubic(0, Math.cbrt(75), 100)).toBeCloseTo(70_000, 6);
    expect(cc.cwnd(0)).toBe(Math.floor(wEst));
    expect(cc.cwnd(0)).toBe(70_007);
  });

  test("4.4 concave region: cwnd += (W_cubic(t + RTT) - cwnd) / cwnd per segment", () => {
    const cc = afterLoss();
    cc.onAck(0, 1000, 69_000, T0, RTT_US); // 70007
    cc.onAck(0, 1000, 69_007, T0 + 100_000, RTT_US); // t = 0.1 s
    const k = Math.cbrt(75);
    expect(wCubic(0.1, k, 100)).toBeGreaterThan(cc.wEst(0)); // not Reno-friendly
    const target = wCubic(0.2, k, 100); // 74069.05 bytes, below W_max: concave
    expect(target).toBeLessThan(100_000);
    expect(cc.cwnd(0)).toBe(70_007 + Math.floor(((target - 70_007) * 1000) / 70_007));
    expect(cc.cwnd(0)).toBe(70_065);
  });

  test("4.5 convex region (t > K): the target is above W_max", () => {
    const cc = afterLoss();
    cc.onAck(0, 1000, 69_000, T0, RTT_US); // 70007
    cc.onAck(0, 1000, 69_007, T0 + 6_000_000, RTT_US); // t = 6 s > K = 4.217 s
    const target = wCubic(6.1, Math.cbrt(75), 100); // 102669.9 bytes
    expect(target).toBeGreaterThan(100_000);
    expect(cc.cwnd(0)).toBe(70_007 + Math.floor(((target - 70_007) * 1000) / 70_007));
    expect(cc.cwnd(0)).toBe(70_473);
  });

  test("4.2 the target is at most 1.5 * cwnd", () => {
    const cc = afterLoss();
    cc.onAck(0, 1000, 69_000, T0, RTT_US); // 70007
    cc.onAck(0, 1000, 69_007, T0 + 20_000_000, RTT_US); // W_cubic(20.1) = 1.67 M bytes
    expect(cc.cwnd(0)).toBe(70_007 + Math.floor((0.5 * 70_007 * 1000) / 70_007));
    expect(cc.cwnd(0)).toBe(70_507);
  });

  test("concave up to W_max, Reno-friendly near the plateau, then convex", () => {
    const cc = afterLoss();
    let now = T0;
    const seen: number[] = [];
    const wEstAt: number[] = [];
    // One ACK of 1 MSS per 1 ms with a full window outstanding (about 1 window per RTT), for 10 s.
    for (let i = 0; i <= 10_000; i++) {
      cc.onAck(0, 1000, cc.cwnd(0) - 1000, now, RTT_US);
      if (i % 1000 === 0) {
        seen.push(cc.cwnd(0));
        wEstAt.push(cc.wEst(0));
      }
      now += 1000;
    }
    // t = 1..4 s: below W_max, rising with shrinking steps (concave, 4.4)
    for (let s = 1; s <= 4; s++) expect(seen[s]!).toBeGreaterThan(seen[s - 1]!);
    expect(seen[4]!).toBeLessThan(100_000 + 1000);
    expect(seen[2]! - seen[1]!).toBeGreaterThan(seen[4]! - seen[3]!);
    // t = 6, 7 s: the cubic curve is flat near W_max and W_est (alpha = 1 past cwnd_prior) leads: cwnd = W_est (4.3)
    expect(seen[6]!).toBe(Math.floor(wEstAt[6]!));
    expect(seen[7]!).toBe(Math.floor(wEstAt[7]!));
    // t = 9, 10 s: above W_max with growing steps (convex, 4.5), following W_cubic(t + RTT) within 5 %
    expect(seen[10]! - seen[9]!).toBeGreaterThan(seen[9]! - seen[8]!);
    expect(seen[10]!).toBeGreaterThan(Math.floor(wEstAt[10]!));
    const target = wCubic(10.1, Math.cbrt(75), 100);
    expect(Math.abs(seen[10]! - target) / target).toBeLessThan(0.05);
  });

  test("RFC 9438 5.8: no growth while application limited", () => {
    const cc = afterLoss();
    cc.onAck(0, 1000, 10_000, T0, RTT_US); // 11000 outstanding of 70000
    cc.onAck(0, 1000, 10_000, T0 + 6_000_000, RTT_US);
    expect(cc.cwnd(0)).toBe(70_000);
  });
});

describe("RFC 9438 4.3 Reno-friendly estimate", () => {
  test("alpha becomes 1 once W_est >= cwnd_prior", () => {
    const cc = new Cubic(1);
    cc.init(0, MSS, 0);
    cc.onAck(0, 2000, 10_000, 0, RTT_US); // 12000
    cc.onRto(0, 12_000, 0); // ssthresh 8400, cwnd_prior 12000, cwnd 1000
    expect(cc.ssthresh(0)).toBe(8400);
    while (cc.cwnd(0) < 8400) cc.onAck(0, 1000, cc.cwnd(0) - 1000, 0, RTT_US);
    expect(cc.cwnd(0)).toBe(8400);
    // All ACKs at one instant: W_cubic(0) = W_max = cwnd_epoch (K = 0 after a timeout, 4.8),
    // so cwnd follows W_est. Oracle: the Figure 4 update with alpha switching at cwnd_prior.
    let wEst = 8400;
    let cwnd = 8400;
    for (let i = 0; i < 120; i++) {
      const alpha = wEst >= 12_000 ? 1 : CUBIC_ALPHA;
      wEst += (alpha * 1000 * 1000) / cwnd;
      cwnd = Math.max(cwnd, Math.floor(wEst));
      cc.onAck(0, 1000, cc.cwnd(0) - 1000, T0, RTT_US);
      expect(cc.cwnd(0)).toBe(cwnd);
    }
    expect(cc.kSeconds(0)).toBe(0);
    expect(wEst).toBeGreaterThan(12_000); // the alpha = 1 branch was exercised
    const before = cc.cwnd(0);
    const w0 = cc.wEst(0);
    cc.onAck(0, 1000, before - 1000, T0, RTT_US);
    expect(cc.wEst(0) - w0).toBeCloseTo((1 * 1000 * 1000) / before, 9);
  });
});

describe("RFC 9438 4.7 fast convergence", () => {
  test("a loss below the previous W_max sets W_max = cwnd * (1 + beta) / 2", () => {
    const cc = afterLoss();
    cc.onAck(0, 1000, 69_000, T0, RTT_US);
    cc.onAck(0, 1000, 69_007, T0 + 100_000, RTT_US); // 70065
    cc.enterRecovery(0, 70_065, T0 + 200_000);
    expect(cc.wMax(0)).toBe(Math.floor(70_065 * 0.85));
    expect(cc.wMax(0)).toBe(59_555);
    expect(cc.ssthresh(0)).toBe(49_045);
  });

  test("a loss at or above the previous W_max sets W_max = cwnd", () => {
    const cc = afterLoss();
    cc.onAck(0, 1000, 69_000, T0, RTT_US);
    cc.onAck(0, 1000, 69_007, T0 + 6_000_000, RTT_US); // 70473
    for (let i = 0; i < 3000; i++) cc.onAck(0, 1000, cc.cwnd(0) - 1000, T0 + 6_000_000 + i * 1000, RTT_US);
    const w = cc.cwnd(0);
    expect(w).toBeGreaterThan(100_000);
    cc.enterRecovery(0, w, T0 + 10_000_000);
    expect(cc.wMax(0)).toBe(w);
  });
});

describe("RFC 9438 4.8 timeout", () => {
  test("ssthresh = max(flight * beta, 2 MSS), cwnd = 1 MSS", () => {
    const cc = new Cubic(1);
    cc.init(0, MSS, 0);
    cc.onRto(0, 50_000, 0);
    expect(cc.ssthresh(0)).toBe(35_000);
    expect(cc.cwnd(0)).toBe(1000);
    cc.onRto(0, 1000, 0); // repeated timeout: ssthresh held (RFC 5681 3.1)
    expect(cc.ssthresh(0)).toBe(35_000);
  });

  test("the next congestion avoidance stage has K = 0 and W_max = cwnd_epoch", () => {
    const cc = afterLoss(); // W_max 100000
    cc.onRto(0, 70_000, T0); // ssthresh 49000
    while (cc.cwnd(0) < cc.ssthresh(0)) cc.onAck(0, 1000, cc.cwnd(0) - 1000, T0, RTT_US);
    expect(cc.cwnd(0)).toBe(49_000);
    cc.onAck(0, 1000, 48_000, T0 + 1_000_000, RTT_US);
    expect(cc.kSeconds(0)).toBe(0);
    expect(cc.wMax(0)).toBe(49_000);
  });
});

describe("recovery mechanics shared with NewReno", () => {
  test("duplicate-ACK inflation, partial ACK deflation, exit to ssthresh", () => {
    const cc = afterLoss();
    cc.enterRecovery(0, 70_000, T0); // ssthresh 49000
    cc.onDupAcks(0, 3);
    expect(cc.cwnd(0)).toBe(52_000);
    cc.onPartialAck(0, 2000);
    expect(cc.cwnd(0)).toBe(51_000);
    cc.exitRecovery(0, T0);
    expect(cc.cwnd(0)).toBe(49_000);
  });

  test("RFC 5681 4.1 idle restart: cwnd = min(cwnd, IW)", () => {
    const cc = afterLoss();
    cc.onIdleRestart(0, T0, 1_000_000);
    expect(cc.cwnd(0)).toBe(10_000);
  });

  test("bytes per connection: 35", () => {
    expect(Cubic.bytesPerConn).toBe(35);
  });
});
