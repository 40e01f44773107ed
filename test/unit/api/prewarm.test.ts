/**
 * The start-up warm-up of the SYN-flood paths (src/api/prewarm.ts): the SYNs it
 * feeds really take the shed and the SYN-cookie paths on the production
 * classifier and TCP configuration, and nothing of the caller's is touched.
 */
import { describe, expect, test } from "bun:test";
import { prewarmFloodPaths } from "../../../src/api/prewarm";

describe("prewarmFloodPaths", () => {
  test("runs every SYN through the classifier: some shed by the bounds, some answered with SYN cookies", () => {
    const r = prewarmFloodPaths({ tcp: {}, admission: { perBurst: 4, ratePerSec: 20_000 }, syns: 20_000 });
    expect(r.syns).toBe(20_000);
    expect(r.shed).toBeGreaterThan(10_000);
    expect(r.cookies).toBeGreaterThan(1_000);
    // Every SYN was either shed before TCP or reached it (cookie or SYN queue).
    expect(r.shed + r.cookies).toBeLessThanOrEqual(r.syns);
  });

  test("a per-burst bound alone sheds too (the rate bound off)", () => {
    const r = prewarmFloodPaths({ tcp: {}, admission: { perBurst: 4 }, syns: 4_096 });
    expect(r.shed).toBeGreaterThan(0);
    expect(r.cookies).toBeGreaterThan(0);
  });

  test("the retransmitted-SYN and known-source paths run too", () => {
    const r = prewarmFloodPaths({ tcp: {}, admission: { perBurst: 4, ratePerSec: 20_000 }, syns: 100_000 });
    expect(r.retry).toBeGreaterThan(0);
    expect(r.known).toBeGreaterThan(0);
  });
});
