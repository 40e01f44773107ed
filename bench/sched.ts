/**
 * Micro-benchmarks for src/sched: the cost of a coroutine switch (hand-written
 * state machine vs generator resume+yield vs async function woken through a
 * promise), the Scheduler's cost per resume (generators and async), EventPoll
 * throughput (notify + wait), the classifier's cost per frame, and one clock
 * read (what the budget check costs).
 *
 *   node_modules/.bin/bun bench/sched.ts [--seconds N] [--warmup S] [--tasks K] [--json FILE]
 *
 * Each case warms up (JIT; FACTS.md: the first seconds of a hot loop run
 * slower), then runs timed rounds for --seconds; it reports ns per operation
 * for the median and the best round (a throughput micro-benchmark: no
 * per-operation latency histogram).
 */
import { gitCommit, machineInfo, machineLine } from "./machine-info";
import { parseProgramArgs } from "../src/api/cli";
import { monotonicUs } from "../src/api/clock";
import { Classifier, iotepClassifier } from "../src/sched/classifier";
import { Scheduler, YIELD, type AsyncCo, type Coroutine } from "../src/sched/coroutine";
import { EPOLLET, EPOLLIN, EventPoll } from "../src/sched/event-poll";
import { PacketBatch } from "../src/net/packet-batch";
import { ETHERTYPE_IPV4, writeEthernetHeader } from "../src/wire/ethernet";
import { writeIpv4Header } from "../src/wire/ipv4";
import { TCP_ACK, writeTcpHeader } from "../src/wire/tcp";

// bench/priority imports this file: then its own command line is not ours (defaults).
const flags = parseProgramArgs({
  name: "bench sched",
  usage: "bun run bench sched [--seconds N] [--warmup S] [--tasks K] [--json FILE]",
  about: "Micro-benchmarks for src/sched: coroutine switches, Scheduler resumes, EventPoll, the classifier, a clock read.",
  flags: [
    { name: "seconds", type: "number", arg: "N", default: 1, min: 0.01, help: "seconds of timed rounds per case" },
    { name: "warmup", type: "number", arg: "S", default: 1.5, min: 0, help: "seconds of warm-up per case" },
    { name: "tasks", type: "int", arg: "K", default: 1000, min: 1, help: "coroutines in the many-task cases" },
    { name: "json", type: "string", arg: "FILE", default: "", help: "write the results as JSON" },
  ],
}, import.meta.main ? process.argv.slice(2) : []).values;
const seconds = flags["seconds"] as number;
const warmupS = flags["warmup"] as number;
const K = flags["tasks"] as number;
const jsonFile = flags["json"] as string;

export interface Result {
  name: string;
  unit: string;
  p50Ns: number;
  bestNs: number;
  rounds: number;
}

let sink = 0;

/** Time `round` (which performs `ops` operations, or returns how many it did) repeatedly; ns per op. */
async function measure(name: string, unit: string, ops: number, round: () => void | number | Promise<void | number>): Promise<Result> {
  const warmEnd = performance.now() + warmupS * 1000;
  while (performance.now() < warmEnd) await round();
  const per: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end || per.length < 5) {
    const t0 = Bun.nanoseconds();
    const did = await round();
    per.push((Bun.nanoseconds() - t0) / (typeof did === "number" ? did : ops));
  }
  per.sort((a, b) => a - b);
  const r = { name, unit, p50Ns: per[per.length >> 1]!, bestNs: per[0]!, rounds: per.length };
  console.log(`  ${name.padEnd(48)} ${r.p50Ns.toFixed(2).padStart(9)} ${r.bestNs.toFixed(2).padStart(9)}  ns/${unit}`);
  return r;
}

// ---- 1. switch cost: state machine / generator / async ----------------------------------

/** A hand-written state machine coroutine: what a generator compiles to, by hand. */
class Machine {
  state = 0;
  acc = 0;
  step(v: number): number {
    switch (this.state) {
      case 0:
        this.acc += v;
        this.state = 1;
        return 0;
      case 1:
        this.acc ^= v;
        this.state = 0;
        return 0;
    }
    return -1;
  }
}

function* genTask(): Generator<number, void, number> {
  let acc = 0;
  for (;;) {
    acc += yield 0;
    acc ^= yield 0;
    if (acc === 0x7fffffff) sink++;
  }
}

const ROUNDS_PER_CALL = 100;

/** Switch costs with each task count in `counts` (bench/priority imports this). */
export async function switchCosts(counts: number[] = [1, K]): Promise<Result[]> {
  const out: Result[] = [];
  for (const k of counts) {
    const ms: Machine[] = [];
    for (let i = 0; i < k; i++) ms.push(new Machine());
    const n = Math.max(1, Math.floor(100_000 / k));
    out.push(
      await measure(`state machine step (${k} tasks)`, "switch", n * k, () => {
        for (let r = 0; r < n; r++) for (let i = 0; i < k; i++) ms[i]!.step(r);
      }),
    );
    const gs: Generator<number, void, number>[] = [];
    for (let i = 0; i < k; i++) {
      const g = genTask();
      g.next(0);
      gs.push(g);
    }
    out.push(
      await measure(`generator resume+yield (${k} tasks)`, "switch", n * k, () => {
        for (let r = 0; r < n; r++) for (let i = 0; i < k; i++) gs[i]!.next(r);
      }),
    );
    // Async: each task awaits a promise whose resolver the driver holds; the
    // driver resolves every task, then awaits once so the continuations run.
    const resolvers: ((v: number) => void)[] = new Array(k);
    for (let i = 0; i < k; i++) {
      void (async () => {
        let acc = 0;
        for (;;) {
          acc += await new Promise<number>((r) => (resolvers[i] = r));
          if (acc === 0x7fffffff) sink++;
        }
      })();
    }
    await null;
    const na = Math.max(1, Math.floor(20_000 / k));
    out.push(
      await measure(`async wake via promise + await (${k} tasks)`, "switch", na * k, async () => {
        for (let r = 0; r < na; r++) {
          for (let i = 0; i < k; i++) resolvers[i]!(r);
          await null;
        }
      }),
    );
  }
  return out;
}

// ---- 2. the Scheduler ------------------------------------------------------------------------

async function schedulerCosts(): Promise<Result[]> {
  const out: Result[] = [];
  {
    const s = new Scheduler({ clock: monotonicUs });
    for (let i = 0; i < K; i++) {
      s.spawn(function* (): Coroutine {
        for (;;) yield YIELD;
      }, i % 10 === 0 ? 0 : 1);
    }
    out.push(
      await measure(`Scheduler.run, ${K} generator coroutines (YIELD)`, "resume", 0, () => {
        // Every coroutine stays ready, so each run() lasts one budget (1 ms) and returns.
        const start = s.resumes;
        for (let r = 0; r < 10; r++) {
          const t = monotonicUs();
          s.stackPolled(t);
          s.run(t);
        }
        return s.resumes - start;
      }),
    );
  }
  {
    const s = new Scheduler({ clock: monotonicUs, asyncPerRun: K });
    for (let i = 0; i < K; i++) {
      s.spawnAsync(async (co: AsyncCo) => {
        for (;;) await co.yield();
      }, i % 10 === 0 ? 0 : 1);
    }
    s.stackPolled(monotonicUs());
    s.run(monotonicUs());
    await null;
    const n = 20;
    out.push(
      await measure(`Scheduler.run, ${K} async coroutines (await co.yield())`, "resume", n * K, async () => {
        const start = s.resumes;
        for (let r = 0; r < n; r++) {
          const t = monotonicUs();
          s.stackPolled(t);
          s.run(t);
          await null; // the continuations run here, and block again in co.yield()
        }
        return s.resumes - start;
      }),
    );
  }
  out.push(
    await measure("clock read (monotonicUs)", "read", 100_000, () => {
      let t = 0;
      for (let i = 0; i < 100_000; i++) t += monotonicUs();
      sink ^= t;
    }),
  );
  return out;
}

// ---- 3. EventPoll ------------------------------------------------------------------------------

async function eventPollCosts(): Promise<Result[]> {
  const out: Result[] = [];
  const cap = 65536;
  for (const mode of ["edge", "level"] as const) {
    const ep = new EventPoll({ capacity: cap, classes: 2 });
    for (let i = 0; i < cap; i++) ep.ctl("add", i, mode === "edge" ? EPOLLIN | EPOLLET : EPOLLIN, i % 20 === 0 ? 0 : 1);
    const ev = new Int32Array(128);
    const perRound = 16384;
    let base = 0;
    out.push(
      await measure(`EventPoll notify+wait, ${mode}-triggered, batches of 64`, "event", perRound, () => {
        for (let i = 0; i < perRound; i++) ep.notify((base + i * 7) & (cap - 1), EPOLLIN);
        base += 13;
        let n: number;
        let got = 0;
        while ((n = ep.wait(ev, 64)) > 0) {
          got += n;
          if (mode === "level") for (let j = 0; j < n; j++) ep.clear(ev[2 * j]!, EPOLLIN);
        }
        sink ^= got;
      }),
    );
  }
  return out;
}

// ---- 4. Classifier -----------------------------------------------------------------------------

async function classifierCosts(): Promise<Result[]> {
  const SLOT = 2048;
  const mem = new Uint8Array(SLOT * 32);
  const dv = new DataView(mem.buffer);
  const batch = new PacketBatch(32);
  const frames: number[] = [];
  for (let i = 0; i < 32; i++) {
    const off = i * SLOT + 128;
    writeEthernetHeader(mem, dv, off, new Uint8Array(6), new Uint8Array(6), ETHERTYPE_IPV4);
    const doff = i % 2 === 0 ? 32 : 20;
    writeIpv4Header(dv, off + 14, 0, 20 + doff + 200, 1, true, 64, 6, 0x0a000001, 0x0a000002);
    writeTcpHeader(dv, off + 34, 40000 + i, 80, 1, 1, doff, TCP_ACK, 65535);
    mem[off + 34 + doff + 5] = i % 20 === 0 ? 1 : 0;
    frames.push(off, 14 + 20 + doff + 200);
  }
  const cl = new Classifier({ classes: 2, fn: iotepClassifier() });
  const outs = [new PacketBatch(32), new PacketBatch(32)];
  const bursts = 2000;
  return [
    await measure("Classifier.classifyBatch, iotep rule, bursts of 32", "frame", bursts * 32, () => {
      for (let b = 0; b < bursts; b++) {
        for (let i = 0; i < 32; i++) batch.push(i, frames[2 * i]!, frames[2 * i + 1]!);
        cl.classifyBatch(mem, dv, batch, outs);
        outs[0]!.count = 0;
        outs[1]!.count = 0;
      }
    }),
  ];
}

// ---- main ---------------------------------------------------------------------------------------

// Run as a script (bench/priority imports switchCosts only).
if (import.meta.main) {
  const commit = gitCommit();
  const cpu = machineInfo();
  console.log(machineLine(commit));
  console.log(`parameters: ${K} tasks, ${warmupS} s warm-up and ${seconds} s of rounds per case`);
  console.log("");
  console.log(`  ${"case".padEnd(48)} ${"p50".padStart(9)} ${"best".padStart(9)}`);
  const results: Result[] = [];
  results.push(...(await switchCosts()));
  results.push(...(await schedulerCosts()));
  results.push(...(await eventPollCosts()));
  results.push(...(await classifierCosts()));

  const find = (prefix: string): Result => results.find((r) => r.name.startsWith(prefix))!;
  const gen = find(`generator resume+yield (${K} tasks)`);
  const asy = find(`async wake via promise + await (${K} tasks)`);
  const sm = find(`state machine step (${K} tasks)`);
  console.log("");
  console.log(
    `switch cost with ${K} tasks (p50): state machine ${sm.p50Ns.toFixed(1)} ns, generator ${gen.p50Ns.toFixed(1)} ns, async ${asy.p50Ns.toFixed(1)} ns; ` +
      `async/generator ${(asy.p50Ns / gen.p50Ns).toFixed(1)}x, generator/state machine ${(gen.p50Ns / sm.p50Ns).toFixed(1)}x`,
  );
  for (const prefix of ["EventPoll notify+wait, edge", "EventPoll notify+wait, level"]) {
    const r = find(prefix);
    console.log(`${prefix}: ${(1e3 / r.p50Ns).toFixed(1)} M events/s (p50)`);
  }
  if (sink === 0x12345678) console.log(""); // keep results live

  if (jsonFile !== "") {
    await Bun.write(
      jsonFile,
      JSON.stringify({ bench: "sched", commit, machine: cpu, bun: Bun.version, tasks: K, seconds, warmupS, results }, null, 2),
    );
    console.log(`wrote ${jsonFile}`);
  }
  process.exit(0);
}
