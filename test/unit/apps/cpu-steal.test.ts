/** apps/iotep/cpu-sampler.ts: the hypervisor-steal reading the benchmarks print beside their tails. */
import { expect, test } from "bun:test";
import { cpuTicks, stealBetween } from "../../../apps/iotep/cpu-sampler";

test("stealBetween: the steal share of all CPU time between two readings", () => {
  expect(stealBetween({ total: 1000, steal: 10 }, { total: 3000, steal: 30 })).toEqual({ share: 0.01, ms: 200 });
  expect(stealBetween(null, { total: 1, steal: 0 })).toBeNull();
  // No time passed: no share to give.
  expect(stealBetween({ total: 5, steal: 1 }, { total: 5, steal: 1 })).toBeNull();
});

const haveStat = cpuTicks() !== null;
if (!haveStat) console.log("skipping the cpuTicks test: no /proc/stat here");

test.skipIf(!haveStat)("cpuTicks reads /proc/stat, and the counters only grow", async () => {
  const a = cpuTicks()!;
  expect(a.total).toBeGreaterThan(0);
  expect(a.steal).toBeGreaterThanOrEqual(0);
  await Bun.sleep(30);
  const b = cpuTicks()!;
  expect(b.total).toBeGreaterThanOrEqual(a.total);
  expect(b.steal).toBeGreaterThanOrEqual(a.steal);
});
