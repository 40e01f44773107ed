/**
 * Micro-benchmarks of the memory structures (src/mem) and the timing wheel,
 * plus the memory they need for N connections.
 *
 *   node_modules/.bin/bun bench/mem.ts [--conns N] [--seconds S] [--json FILE]
 *
 * Each case warms up (JIT, 1 s) and is then timed in repeated rounds of a fixed
 * number of operations; the table gives ns per operation for the p50, p99 and
 * worst round (a throughput micro-benchmark: no per-call latency histogram).
 * Random accesses over tables of --conns entries are dominated by cache and TLB
 * misses; with 4 KiB pages in a VM that is most of the cost.
 */
import { gitCommit, machineInfo, machineLine } from "./machine-info";
import { parseProgramArgs } from "../src/api/cli";
import { ChunkQueues } from "../src/mem/chunk-queue";
import { FlowTable } from "../src/mem/flow-table";
import { SlabPool } from "../src/mem/slab-pool";
import { SpscRing } from "../src/mem/spsc-ring";
import { TimerWheel } from "../src/tcp/timer-wheel";

const flags = parseProgramArgs({
  name: "bench mem",
  usage: "bun run bench mem [--conns N] [--seconds S] [--json FILE]",
  about: "Micro-benchmarks of the memory structures (src/mem) and the timing wheel, plus the memory they need for N connections.",
  flags: [
    { name: "conns", type: "int", arg: "N", default: 1_000_000, min: 1, help: "connections the tables are sized for" },
    { name: "seconds", type: "number", arg: "S", default: 1, min: 0.01, help: "seconds of timed rounds per case" },
    { name: "json", type: "string", arg: "FILE", default: "", help: "write the results as JSON" },
  ],
}).values;
const conns = flags["conns"] as number;
const seconds = flags["seconds"] as number;
const jsonFile = flags["json"] as string;
const TIMER_KINDS = 4;

interface Result {
  name: string;
  opsPerRound: number;
  rounds: number;
  p50Ns: number;
  p99Ns: number;
  maxNs: number;
}

let sink = 0;

function measure(name: string, opsPerRound: number, round: () => number): Result {
  const warmEnd = Bun.nanoseconds() + 1e9;
  while (Bun.nanoseconds() < warmEnd) sink ^= round();
  const per: number[] = [];
  const end = Bun.nanoseconds() + seconds * 1e9;
  while (Bun.nanoseconds() < end || per.length < 5) {
    const t0 = Bun.nanoseconds();
    sink ^= round();
    per.push((Bun.nanoseconds() - t0) / opsPerRound);
  }
  per.sort((a, b) => a - b);
  const at = (q: number): number => per[Math.min(per.length - 1, Math.floor(q * per.length))]!;
  return { name, opsPerRound, rounds: per.length, p50Ns: at(0.5), p99Ns: at(0.99), maxNs: per[per.length - 1]! };
}

/** xorshift32 over an Int32Array of pseudo-random indices (made once, outside the timed loops). */
function randomIndices(n: number, below: number, seed: number): Int32Array {
  const out = new Int32Array(n);
  let s = seed | 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) % below;
  }
  return out;
}

const results: Result[] = [];
const BATCH = 65536;

// SlabPool: alloc then free of 32 objects (LIFO, warm).
{
  const pool = new SlabPool({ objBytes: 2048, count: 4096 });
  const held = new Int32Array(32);
  results.push(
    measure("SlabPool alloc+free (pairs)", 32 * 1024, () => {
      let s = 0;
      for (let r = 0; r < 1024; r++) {
        for (let i = 0; i < 32; i++) held[i] = pool.alloc();
        for (let i = 0; i < 32; i++) pool.free(held[i]!);
        s += held[31]!;
      }
      return s;
    }),
  );
}

// FlowTable over --conns entries: random hits and misses, both key layouts.
const ip = (i: number): number => (0xc0a80000 + (i >>> 6)) | 0;
const port = (i: number): number => 1024 + (i & 63) * 997;
const idx = randomIndices(BATCH, conns, 7);
for (const own of [true, false]) {
  const keys = own
    ? undefined
    : { localIp: new Int32Array(conns), remoteIp: new Int32Array(conns), localPort: new Uint16Array(conns), remotePort: new Uint16Array(conns) };
  const t = new FlowTable({ capacity: conns, keys, seed: 99 });
  for (let i = 0; i < conns; i++) t.insert(0x0a000001, 8080, ip(i), port(i), i);
  const label = own ? "own keys" : "caller's key arrays";
  results.push(
    measure(`FlowTable lookup hit, ${label}`, BATCH, () => {
      let s = 0;
      for (let i = 0; i < BATCH; i++) {
        const k = idx[i]!;
        s += t.lookup(0x0a000001, 8080, ip(k), port(k));
      }
      return s;
    }),
  );
  results.push(
    measure(`FlowTable lookup miss, ${label}`, BATCH, () => {
      let s = 0;
      for (let i = 0; i < BATCH; i++) {
        const k = idx[i]!;
        s += t.lookup(0x0a000001, 8081, ip(k), port(k));
      }
      return s;
    }),
  );
  results.push(
    measure(`FlowTable remove+insert, ${label}`, BATCH, () => {
      let s = 0;
      for (let i = 0; i < BATCH; i++) {
        const k = idx[i]!;
        s += t.remove(0x0a000001, 8080, ip(k), port(k));
        t.insert(0x0a000001, 8080, ip(k), port(k), k);
      }
      return s;
    }),
  );
}

// TimerWheel with --conns * 4 ids: re-arm random timers (RTO-like, 200 ms .. 1 s ahead) and advance 1 ms at a time.
{
  const cap = conns * TIMER_KINDS;
  const w = new TimerWheel({ capacity: cap, tickUs: 1000, nowUs: 0 });
  const ids = randomIndices(BATCH, cap, 11);
  for (let i = 0; i < cap; i += TIMER_KINDS) w.schedule(i, 1 + ((i * 2654435761) >>> 0) % 60_000_000);
  let now = 0;
  const out = new Int32Array(256);
  results.push(
    measure("TimerWheel schedule (re-arm)", BATCH, () => {
      for (let i = 0; i < BATCH; i++) w.schedule(ids[i]!, now + 200_000 + (i & 0xfffff));
      return w.pending;
    }),
  );
  results.push(
    measure("TimerWheel cancel+schedule", BATCH, () => {
      for (let i = 0; i < BATCH; i++) {
        w.cancel(ids[i]!);
        w.schedule(ids[i]!, now + 300_000);
      }
      return w.pending;
    }),
  );
  let fired = 0;
  results.push(
    measure("TimerWheel advance 1 ms (per tick)", 100, () => {
      for (let k = 0; k < 100; k++) {
        now += 1000;
        for (;;) {
          const n = w.advance(now, out);
          fired += n;
          for (let i = 0; i < n; i++) w.schedule(out[i]!, now + 30_000_000); // keep the population
          if (n < out.length) break;
        }
      }
      return fired;
    }),
  );
}

// ChunkQueues: a send buffer life cycle on random queues (append 200 B, copy out, consume).
{
  const queues = Math.min(conns, 1_000_000);
  const pool = new SlabPool({ objBytes: 2048, count: 65536 });
  const cq = new ChunkQueues({ queues, pool });
  const msg = new Uint8Array(1460).fill(7);
  const dst = new Uint8Array(1460);
  const qs = randomIndices(BATCH, queues, 13);
  for (const size of [200, 1460]) {
    results.push(
      measure(`ChunkQueues append+copyOut+consume ${size} B`, BATCH, () => {
        let s = 0;
        for (let i = 0; i < BATCH; i++) {
          const q = qs[i]!;
          cq.append(q, msg, 0, size);
          s += cq.copyOut(q, 0, dst, 0, size);
          cq.consume(q, size);
        }
        return s;
      }),
    );
  }
  const d = new Uint8Array(1460).fill(3);
  results.push(
    measure("ChunkQueues writeAt out of order then fill (1460 B x2)", BATCH, () => {
      let s = 0;
      for (let i = 0; i < BATCH; i++) {
        const q = qs[i]!;
        cq.writeAt(q, 1460, d, 0, 1460);
        s += cq.writeAt(q, 0, d, 0, 1460);
        cq.consume(q, 2920);
      }
      return s;
    }),
  );
}

// SpscRing on one thread: batches of 32 (the cost of the indices and copies, no cache-line transfer).
{
  const r = SpscRing.create(1024);
  const src = new Uint32Array(32);
  const dst = new Uint32Array(32);
  results.push(
    measure("SpscRing pushBatch+popBatch 32 (one thread, per item)", 32 * 1024, () => {
      let s = 0;
      for (let k = 0; k < 1024; k++) {
        r.pushBatch(src, 32);
        s += r.popBatch(dst, 32);
      }
      return s;
    }),
  );
}

const commit = gitCommit();
const cpu = machineInfo();
console.log(machineLine(commit));
console.log(`parameters: --conns ${conns} (timer ids ${conns * TIMER_KINDS}), ${seconds} s per case after 1 s warm-up`);
console.log("");
console.log("case".padEnd(58) + "p50 ns/op   p99 ns/op   max ns/op");
for (const r of results) {
  console.log(r.name.padEnd(58) + r.p50Ns.toFixed(1).padStart(9) + r.p99Ns.toFixed(1).padStart(12) + r.maxNs.toFixed(1).padStart(12));
}

// Memory per connection for these structures (an idle connection holds no chunk).
const memory = {
  flowTableIndex: FlowTable.bytesFor(conns, false) / conns,
  flowTableOwnKeys: FlowTable.bytesFor(conns, true) / conns,
  timers: TimerWheel.bytesFor(conns * TIMER_KINDS) / conns,
  sendAndReceiveQueues: (2 * ChunkQueues.bytesFor({ queues: conns, poolCount: 0, oooRecords: 0 })) / conns,
};
console.log("");
console.log(`bytes per idle connection: flow table ${memory.flowTableIndex.toFixed(2)} (with own keys ${memory.flowTableOwnKeys.toFixed(2)}), ` +
  `timers (${TIMER_KINDS} ids) ${memory.timers.toFixed(2)}, send+receive queue state ${memory.sendAndReceiveQueues.toFixed(2)}`);
if (sink === 0x7fffffff) console.log("");

if (jsonFile !== "") {
  await Bun.write(
    jsonFile,
    JSON.stringify({ bench: "mem", commit, machine: cpu, conns, seconds, results, memoryBytesPerConn: memory }, null, 2),
  );
}
