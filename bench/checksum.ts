/**
 * Micro-benchmark: Internet checksum (src/wire/checksum.ts) over 1460-byte
 * buffers, against a plain DataView loop, in the same run.
 *
 *   node_modules/.bin/bun bench/checksum.ts [--seconds N] [--json FILE]
 *
 * Buffers are 1460-byte payloads spread over a 4 MiB region (like packets in
 * an mbuf pool); the "even" case starts each buffer at an even address, the
 * "odd" case one byte later. Each case warms up (JIT) before it is timed, is
 * timed in repeated rounds, and reports GB/s for the p50 and best round
 * (a throughput micro-benchmark: no per-call latency histogram).
 */
import { checksumPartial, checksumPartialDv, checksumFold } from "../src/wire/checksum";
import { gitCommit, machineInfo, machineLine } from "./machine-info";
import { parseProgramArgs } from "../src/api/cli";

const BYTES = 1460;
const REGION = 4 << 20;
const STRIDE = 2048;
const SLOTS = (REGION / STRIDE) | 0;

const flags = parseProgramArgs({
  name: "bench checksum",
  usage: "bun run bench checksum [--seconds N] [--json FILE]",
  about: "Internet checksum over 1460-byte buffers against a plain DataView loop, in the same run.",
  flags: [
    { name: "seconds", type: "number", arg: "N", default: 1, min: 0.01, help: "seconds of timed rounds per case" },
    { name: "json", type: "string", arg: "FILE", default: "", help: "write the results as JSON" },
  ],
}).values;
const seconds = flags["seconds"] as number;
const jsonFile = flags["json"] as string;

const mem = new Uint8Array(REGION);
for (let i = 0; i < REGION; i++) mem[i] = (i * 2654435761) >>> 24;
const dv = new DataView(mem.buffer);

type Kernel = (slot: number, shift: number) => number;

const fast: Kernel = (slot, shift) => checksumFold(checksumPartial(mem, slot * STRIDE + shift, BYTES, 0));
const viaDataView: Kernel = (slot, shift) => checksumFold(checksumPartialDv(dv, slot * STRIDE + shift, BYTES, 0));

let sink = 0;

/** Run `fn` over all slots `rounds` times; returns elapsed ns. */
function round(fn: Kernel, shift: number, calls: number): number {
  const t0 = Bun.nanoseconds();
  let s = 0;
  for (let c = 0; c < calls; c++) s = (s + fn(c % SLOTS, shift)) | 0;
  sink ^= s;
  return Bun.nanoseconds() - t0;
}

interface Result {
  name: string;
  shift: number;
  p50GBps: number;
  bestGBps: number;
  nsPerCall: number;
}

function measure(name: string, fn: Kernel, shift: number): Result {
  const calls = 20000;
  const warmEnd = Bun.nanoseconds() + 1.5e9; // FACTS.md: the first seconds of a hot loop run slower
  while (Bun.nanoseconds() < warmEnd) round(fn, shift, calls);
  const rates: number[] = [];
  const end = Bun.nanoseconds() + seconds * 1e9;
  while (Bun.nanoseconds() < end || rates.length < 5) {
    const ns = round(fn, shift, calls);
    rates.push((calls * BYTES) / ns); // bytes per ns == GB/s
  }
  rates.sort((a, b) => a - b);
  const p50 = rates[rates.length >> 1]!;
  return { name, shift, p50GBps: p50, bestGBps: rates[rates.length - 1]!, nsPerCall: BYTES / p50 };
}

// Both paths must agree before we time them.
for (let s = 0; s < 64; s++) {
  for (let shift = 0; shift < 2; shift++) {
    if (fast(s, shift) !== viaDataView(s, shift)) throw new Error("checksum paths disagree at slot " + s);
  }
}

const commit = gitCommit();
const cpu = machineInfo();
console.log(machineLine(commit));
console.log(`parameters: ${BYTES}-byte buffers, ${SLOTS} slots of ${STRIDE} B, ${seconds} s per case after 1.5 s warm-up`);

const results = [
  measure("fast (Uint16Array)", fast, 0),
  measure("fast (Uint16Array)", fast, 1),
  measure("DataView loop", viaDataView, 0),
  measure("DataView loop", viaDataView, 1),
];

console.log("");
console.log("path                 start   p50 GB/s   best GB/s   ns/call");
for (const r of results) {
  console.log(
    r.name.padEnd(20) + " " + (r.shift === 0 ? "even" : "odd ").padEnd(6) + " " +
      r.p50GBps.toFixed(2).padStart(9) + " " + r.bestGBps.toFixed(2).padStart(11) + " " + r.nsPerCall.toFixed(1).padStart(9),
  );
}
const ratioEven = results[0]!.p50GBps / results[2]!.p50GBps;
const ratioOdd = results[1]!.p50GBps / results[3]!.p50GBps;
console.log(`ratio fast/DataView: even ${ratioEven.toFixed(2)}x, odd ${ratioOdd.toFixed(2)}x`);
if (sink === 0x7fffffff) console.log(""); // keep the results live

if (jsonFile !== "") {
  await Bun.write(
    jsonFile,
    JSON.stringify({ bench: "checksum", commit, machine: cpu, bytes: BYTES, seconds, results, ratioEven, ratioOdd }, null, 2),
  );
}
