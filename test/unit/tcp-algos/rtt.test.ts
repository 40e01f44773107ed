import { describe, expect, test } from "bun:test";
import { RttEstimator } from "../../../src/tcp/rtt";

function est(opts = {}) {
  return new RttEstimator(4, opts);
}

describe("RFC 6298 RTO computation", () => {
  test("(2.1) before any sample the RTO is the initial 1 s", () => {
    const r = est();
    expect(r.hasSample(0)).toBe(false);
    expect(r.rtoUs(0)).toBe(1_000_000);
  });

  test("(2.2) first sample: SRTT = R, RTTVAR = R/2, RTO = SRTT + max(G, 4*RTTVAR)", () => {
    const r = est({ minRtoUs: 1000 });
    r.sample(1, 100_000);
    expect(r.hasSample(1)).toBe(true);
    expect(r.srttUs(1)).toBe(100_000);
    expect(r.rttvarUs(1)).toBe(50_000);
    expect(r.rtoUs(1)).toBe(100_000 + 200_000);
  });

  test("(2.3) later samples: RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R'|, then SRTT = 7/8 SRTT + 1/8 R'", () => {
    const r = est({ minRtoUs: 1000 });
    r.sample(0, 100_000); // srtt 100000, rttvar 50000
    r.sample(0, 180_000);
    // rttvar = 0.75*50000 + 0.25*|100000-180000| = 37500 + 20000 = 57500
    // srtt = 0.875*100000 + 0.125*180000 = 87500 + 22500 = 110000
    expect(r.rttvarUs(0)).toBe(57_500);
    expect(r.srttUs(0)).toBe(110_000);
    expect(r.rtoUs(0)).toBe(110_000 + 4 * 57_500);
    r.sample(0, 60_000);
    // rttvar = 0.75*57500 + 0.25*|110000-60000| = 43125 + 12500 = 55625
    // srtt = 0.875*110000 + 0.125*60000 = 96250 + 7500 = 103750
    expect(r.rttvarUs(0)).toBe(55_625);
    expect(r.srttUs(0)).toBe(103_750);
  });

  test("(2.3) integer estimators round down", () => {
    const r = est({ minRtoUs: 1000 });
    r.sample(0, 1001); // srtt 1001, rttvar 500 (1001/2 rounded down)
    expect(r.rttvarUs(0)).toBe(500);
    r.sample(0, 1004);
    // rttvar = 375 + 0.75 = 375.75 -> 375; srtt = 875.875 + 125.5 = 1001.375 -> 1001
    expect(r.rttvarUs(0)).toBe(375);
    expect(r.srttUs(0)).toBe(1001);
  });

  test("(2.2)/(2.3) the clock granularity G bounds the variance term from below", () => {
    const r = est({ minRtoUs: 1, granularityUs: 1000 });
    for (let i = 0; i < 60; i++) r.sample(2, 50_000); // rttvar decays toward 0
    expect(r.rttvarUs(2)).toBeLessThan(250);
    expect(r.rtoUs(2)).toBe(50_000 + 1000);
  });

  test("(2.4) the RTO is at least minRtoUs (200 ms default)", () => {
    const r = est();
    r.sample(0, 1000); // 1000 + max(1000, 2000) = 3000 us
    expect(r.rtoUs(0)).toBe(200_000);
  });

  test("(2.5) the RTO is at most maxRtoUs (60 s default)", () => {
    const r = est();
    r.sample(0, 30_000_000); // 30 s + 4*15 s = 90 s
    expect(r.rtoUs(0)).toBe(60_000_000);
  });

  test("(5.5) each backoff doubles the RTO, up to the maximum", () => {
    const r = est({ maxRtoUs: 10_000_000 });
    r.sample(0, 100_000); // RTO 300 ms
    r.backoff(0);
    expect(r.rtoUs(0)).toBe(600_000);
    r.backoff(0);
    expect(r.rtoUs(0)).toBe(1_200_000);
    expect(r.backoffCount(0)).toBe(2);
    for (let i = 0; i < 100; i++) r.backoff(0);
    expect(r.rtoUs(0)).toBe(10_000_000);
  });

  test("(5.5) backoff also applies to the initial RTO", () => {
    const r = est();
    r.backoff(3);
    expect(r.rtoUs(3)).toBe(2_000_000);
  });

  test("Karn: a new valid sample ends the backoff", () => {
    const r = est();
    r.sample(0, 100_000);
    r.backoff(0);
    r.backoff(0);
    r.sample(0, 100_000); // srtt 100000, rttvar 0.75*50000 = 37500: RTO 250 ms
    expect(r.backoffCount(0)).toBe(0);
    expect(r.rtoUs(0)).toBe(100_000 + 4 * 37_500);
  });

  test("clearBackoff drops the backoff without touching the estimate", () => {
    const r = est();
    r.sample(0, 100_000);
    r.backoff(0);
    r.clearBackoff(0);
    expect(r.rtoUs(0)).toBe(300_000);
    expect(r.srttUs(0)).toBe(100_000);
  });

  test("(5.7) after a SYN timeout and no sample, the RTO base is 3 s", () => {
    const r = est();
    r.noteSynTimeout(0);
    expect(r.rtoUs(0)).toBe(3_000_000);
    r.sample(0, 100_000);
    expect(r.rtoUs(0)).toBe(300_000);
  });

  test("reset forgets samples and backoff; connections are independent", () => {
    const r = est();
    r.sample(0, 100_000);
    r.sample(1, 500_000);
    r.backoff(0);
    r.reset(0);
    expect(r.hasSample(0)).toBe(false);
    expect(r.rtoUs(0)).toBe(1_000_000);
    expect(r.srttUs(1)).toBe(500_000);
  });

  test("negative samples are ignored", () => {
    const r = est();
    r.sample(0, -5);
    expect(r.hasSample(0)).toBe(false);
  });

  test("bytesPerConn is 10", () => {
    expect(RttEstimator.bytesPerConn).toBe(10);
    expect(RttEstimator.bytesFor(1_000_000)).toBe(10_000_000);
  });
});
