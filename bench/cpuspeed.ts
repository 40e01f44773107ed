/**
 * bench/cpuspeed: how fast is this core right now? A fixed CPU-bound loop (a 1448-byte copy
 * and a 32-bit sum over it, the shape of the stack's per-segment work, all in L1/L2) counted per
 * 250 ms slice. On a quiet machine the count should be flat; on this VM it is not: one vCPU
 * runs at about half speed for seconds at a time with nothing else running in the guest
 * (host-side contention: a busy hyperthread sibling or another tenant), which is what splits
 * `bench tcp` bulk into its ~9 and ~14 Gbit/s modes. Run it next to a benchmark's figures.
 *
 *   node_modules/.bin/bun bench/cpuspeed.ts [--seconds S] [--label L] [--json FILE]
 *   taskset -c 1 node_modules/.bin/bun bench/cpuspeed.ts      (one CPU)
 *
 * Prints thousands of iterations per slice and the ratio of the slowest to the fastest slice
 * (after the first second, which is JIT warm-up).
 */
import { writeFileSync } from "node:fs";
import { parseProgramArgs } from "../src/api/cli";

// An unknown flag or a missing value: one line, exit 2 (src/api/cli.ts).
const A = parseProgramArgs({
  name: "bench cpuspeed",
  usage: "bun run bench cpuspeed [--seconds S] [--label L] [--json FILE]",
  about: "A fixed CPU-bound loop counted per 250 ms slice: how fast this core is right now.",
  flags: [
    { name: "seconds", type: "string", arg: "S", help: "seconds to run (> 1)", default: "6" },
    { name: "label", type: "string", arg: "L", help: "a label for the output line", default: "" },
    { name: "json", type: "string", arg: "FILE", help: "write the slices as JSON", default: "" },
  ],
}).values;
const seconds = Number(A["seconds"]);
const label = String(A["label"]);
const json = String(A["json"]);
if (!(seconds > 1)) {
  console.error("bench cpuspeed: --seconds must be > 1");
  process.exit(2);
}

const SEG = 1448;
const src = new Uint8Array(1 << 16);
const dst = new Uint8Array(1 << 16);
for (let i = 0; i < src.length; i++) src[i] = (i * 31) & 0xff;
const dv = new DataView(src.buffer);

function work(k: number): number {
  const off = (k * SEG) & 0x7fff;
  dst.set(src.subarray(off, off + SEG), (k * 64) & 0x7fff);
  let s = 0;
  for (let i = 0; i < SEG; i += 4) s = (s + dv.getInt32(off + i, true)) | 0;
  return s;
}

const slices: number[] = [];
let k = 0;
let acc = 0;
let n = 0;
const start = performance.now();
const end = start + seconds * 1000;
let next = start + 250;
for (;;) {
  for (let j = 0; j < 100; j++) acc ^= work(k++);
  n += 100;
  const t = performance.now();
  if (t >= next) {
    slices.push(n);
    n = 0;
    next += 250;
    if (t >= end) break;
  }
}
const steady = slices.slice(4);
const lo = Math.min(...steady);
const hi = Math.max(...steady);
console.log(`cpuspeed${label ? ` ${label}` : ""}: k iterations per 250 ms: ${slices.map((x) => (x / 1000).toFixed(0)).join(" ")}`);
console.log(`  slowest/fastest after warm-up: ${(lo / hi).toFixed(2)}`);
// The checksum keeps the loop's result alive (no dead-code elimination).
if (json) writeFileSync(json, JSON.stringify({ bench: "cpuspeed", label, sliceMs: 250, slices, slowOverFast: lo / hi, checksum: acc }, null, 2));
