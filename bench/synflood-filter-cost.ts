/**
 * The shed-SYN filter's cost per flood SYN (issue 7; src/sched/syn-retry-filter.ts), in one
 * process, without a stack or a device:
 *
 *   bun bench/synflood-filter-cost.ts [--rate 3500000] [--seconds 12] [--huge] [--generations Q] [--gen-us US] [--blocks N] [--hashes K]
 *
 * Feeds SynAdmission (the production bounds: --syn-budget 4, --syn-rate 20000) bursts of 32 bare
 * SYNs with random identities on a virtual clock advancing at --rate SYNs per second (so the
 * filter holds what a flood of that rate leaves in it), the way the classifier calls it
 * (prepareSyn per SYN, prefetch, admitPrepared per SYN), and prints ns per SYN over the last
 * half (the table full and every generation live), the memory and the false matches counted
 * (retransmission admissions: none of these SYNs repeats). Filter options default to the
 * production ones. Heap memory (4 KiB pages), or with --huge 2 MB pages as the apps use (ffi/region.ts;
 * needs the DPDK shim built and free hugepages).
 */
import { parseArgs } from "node:util";
import { SynAdmission } from "../src/sched/syn-admission";
import { allocRegion, freeRegion, regionIsHuge } from "../ffi/region";

const { values } = parseArgs({
  options: {
    rate: { type: "string", default: "3500000" }, seconds: { type: "string", default: "12" },
    huge: { type: "boolean", default: false }, generations: { type: "string" }, "gen-us": { type: "string" }, blocks: { type: "string" }, hashes: { type: "string" },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
const adm = new SynAdmission({
  perBurst: 4, ratePerSec: 20_000,
  retry: {
    memory: values.huge ? { alloc: (bytes: number) => allocRegion("syn-retry-bench", bytes, { huge: true }), free: freeRegion } : undefined,
    generations: num(values.generations), genUs: num(values["gen-us"]), blocks: num(values.blocks), hashes: num(values.hashes) },
});
const f = adm.retryFilter!;
const BURST = 32;
const usPerBurst = (BURST * 1e6) / rate;
const bursts = Math.floor((seconds * rate) / BURST);
let x = 0x12345678;
const rnd = () => {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return x | 0;
};
let t = 1_000_000;
let t0 = 0;
let retry0 = 0;
const half = bursts >>> 1;
for (let b = 0; b < bursts; b++) {
  if (b === half) {
    t0 = performance.now();
    retry0 = adm.retryAdmitted;
  }
  t += usPerBurst;
  adm.beginBurst(BURST, BURST, Math.floor(t));
  for (let i = 0; i < BURST; i++) adm.prepareSyn(rnd(), rnd() & 0xffff, 80, rnd());
  adm.prefetch();
  for (let i = 0; i < BURST; i++) adm.admitPrepared(i);
}
const ns = ((performance.now() - t0) * 1e6) / ((bursts - half) * BURST);
const virtS = ((bursts - half) * BURST) / rate;
console.log(JSON.stringify({
  rate, generations: f.generations, genUs: f.genUs, blocks: f.blocks, hashes: f.hashes, mib: f.budgetBytes() / 2 ** 20,
  huge: values.huge ? regionIsHuge(f["mem"].buffer as ArrayBuffer) : false, nsPerSyn: Math.round(ns * 10) / 10, falseMatchesPerS: Math.round((adm.retryAdmitted - retry0) / virtS), refused: f.refused,
}));
