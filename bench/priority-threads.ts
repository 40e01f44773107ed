/**
 * Who takes the CPUs during a bench/priority run (issue 5's tail diagnosis):
 * samples every thread on the machine from /proc/PID/task/TID and sums, per
 * thread, the CPU time it ran and the time it waited runnable for a CPU
 * (/proc/.../schedstat: "<run ns> <run-queue wait ns> <slices>"), the CPU
 * time split by the CPU the thread was on at each sample (stat field 39,
 * `processor`), and the CPUs it may run on (status: Cpus_allowed_list).
 *
 * Threads are labelled by process role: the bench's server and generator
 * (bench/priority-peer.ts --role X), the orchestrator (this process), and
 * every other process by its command name. Bun names its own helper threads
 * (JIT worker, GC "Heap Helper", "HTTP Client", ...), so the table shows which
 * helper of which process ran where.
 *
 * A diagnostic tool run from the orchestrator (opt-in: it reads a few hundred
 * small files per sample, ~3-5 ms of CPU every --threads-ms), never on a
 * datapath; allocation per sample is fine here. Between the window's first
 * and last samples a pass over the threads is cut into slices of
 * `threadsPerSlice` threads, one every `sliceMs`: read at once, a pass took
 * the generator's CPU for 2.7-4.7 ms once a second (an ftrace of sched_switch
 * over the measured phase: the orchestrator's thread was what ran during the
 * generator's CPU waits; at SCHED_IDLE it still runs in its session's
 * autogroup, which competes with the peers' as an equal).
 */
import { readdirSync, readFileSync } from "node:fs";

interface ThreadAcc {
  pid: number;
  tid: number;
  role: string;
  comm: string;
  run0: number;
  wait0: number;
  run: number;
  wait: number;
  /** Run ns attributed to the CPU seen at each sample. */
  perCpu: number[];
  allowed: string;
  /** Scheduling policy (0 other, 3 batch, 5 idle) and nice, at the last sample. */
  policy: number;
  nice: number;
  lastRun: number;
}

export interface ThreadRow {
  role: string;
  pid: number;
  tid: number;
  comm: string;
  /** CPU time in the window, ms. */
  runMs: number;
  /** Run-queue wait in the window, ms. */
  waitMs: number;
  /** runMs split by the CPU the thread was seen on. */
  perCpuMs: number[];
  allowed: string;
  policy: number;
  nice: number;
}

function read(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** The role of process `pid`: "server"/"generator" for bench/priority-peer.ts, "orchestrator" for us, else its comm. */
function roleOf(pid: number): string {
  if (pid === process.pid) return "orchestrator";
  const cmd = read(`/proc/${pid}/cmdline`).split("\0");
  if (cmd.some((a) => a.endsWith("priority-peer.ts"))) {
    const i = cmd.indexOf("--role");
    return i >= 0 ? (cmd[i + 1] ?? "peer") : "peer";
  }
  return read(`/proc/${pid}/comm`).trim() || "?";
}

export class ThreadSampler {
  private readonly acc = new Map<number, ThreadAcc>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly cpus: number;
  samples = 0;
  private t0 = 0;
  private t1 = 0;

  private pass: Generator<void, void, void> | null = null;
  private passStart = 0;

  constructor(
    private readonly everyMs = 100,
    cpus = 2,
    /** Threads read per slice of a pass, and the time between slices. */
    private readonly threadsPerSlice = 16,
    private readonly sliceMs = 4,
  ) {
    this.cpus = cpus;
  }

  /** Begin a window: the current totals are the baseline. */
  start(): void {
    this.acc.clear();
    this.samples = 0;
    this.t0 = performance.now();
    this.sample(true);
    this.pass = null;
    this.passStart = performance.now();
    this.timer = setInterval(() => this.slice(), this.sliceMs);
  }

  /** One slice of the current pass; a new pass starts everyMs after the last one started. */
  private slice(): void {
    if (this.pass === null) {
      if (performance.now() - this.passStart < this.everyMs) return;
      this.passStart = performance.now();
      this.samples++;
      this.pass = this.walk(false, this.threadsPerSlice);
    }
    if (this.pass.next().done === true) this.pass = null;
  }

  /** End the window (one last sample). */
  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.sample(false);
    this.t1 = performance.now();
  }

  private sample(first: boolean): void {
    this.samples++;
    for (const _ of this.walk(first, Number.POSITIVE_INFINITY));
  }

  /** Read every thread, yielding after each `per` threads. */
  private *walk(first: boolean, per: number): Generator<void, void, void> {
    let done = 0;
    let pids: string[];
    try {
      pids = readdirSync("/proc");
    } catch {
      return;
    }
    for (const p of pids) {
      const c0 = p.charCodeAt(0);
      if (c0 < 0x30 || c0 > 0x39) continue;
      const pid = Number(p);
      let tids: string[];
      try {
        tids = readdirSync(`/proc/${p}/task`);
      } catch {
        continue;
      }
      for (const t of tids) {
        const tid = Number(t);
        const base = `/proc/${p}/task/${t}`;
        const ss = read(`${base}/schedstat`).split(" ");
        if (ss.length < 2) continue;
        const run = Number(ss[0]);
        const wait = Number(ss[1]);
        const stat = read(`${base}/stat`);
        // Fields after the ")" that ends comm: state is field 3, processor field 39.
        const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const cpu = Number(rest[39 - 3]);
        const nice = Number(rest[19 - 3]);
        const policy = Number(rest[41 - 3]);
        let a = this.acc.get(tid);
        if (a === undefined || a.pid !== pid) {
          const allowed = /Cpus_allowed_list:\s*(\S+)/.exec(read(`${base}/status`))?.[1] ?? "?";
          // A thread born inside the window counts from zero.
          const zero = first ? run : 0;
          a = { pid, tid, role: roleOf(pid), comm: read(`${base}/comm`).trim(), run0: zero, wait0: first ? wait : 0, run, wait, perCpu: new Array<number>(this.cpus).fill(0), allowed, policy, nice, lastRun: zero };
          this.acc.set(tid, a);
        }
        a.run = run;
        a.wait = wait;
        a.policy = policy;
        a.nice = nice;
        if (cpu >= 0 && cpu < this.cpus) a.perCpu[cpu]! += run - a.lastRun;
        a.lastRun = run;
        if (++done % per === 0) yield;
      }
    }
  }

  /** Threads that ran or waited at least `minMs` in the window, most CPU first. */
  rows(minMs = 1): ThreadRow[] {
    const out: ThreadRow[] = [];
    for (const a of this.acc.values()) {
      const runMs = (a.run - a.run0) / 1e6;
      const waitMs = (a.wait - a.wait0) / 1e6;
      if (runMs < minMs && waitMs < minMs) continue;
      out.push({ role: a.role, pid: a.pid, tid: a.tid, comm: a.comm, runMs: Math.round(runMs), waitMs: Math.round(waitMs), perCpuMs: a.perCpu.map((x) => Math.round(x / 1e6)), allowed: a.allowed, policy: a.policy, nice: a.nice });
    }
    return out.sort((x, y) => y.runMs - x.runMs);
  }

  /** Window length, ms. */
  get windowMs(): number {
    return Math.round((this.t1 || performance.now()) - this.t0);
  }
}

/** Print the rows (at most `max`). */
export function printThreads(title: string, s: ThreadSampler, log: (s: string) => void = console.log, max = 25): ThreadRow[] {
  const rows = s.rows();
  log(`  ${title}: ${s.windowMs} ms, ${s.samples} samples; threads with >= 1 ms (ran / waited for a CPU / ran per CPU, ms; allowed CPUs; policy 0 other 5 idle, nice)`);
  for (const r of rows.slice(0, max)) {
    log(`    ${r.role.padEnd(13)} ${String(r.tid).padStart(7)} ${r.comm.padEnd(16)} ran ${String(r.runMs).padStart(6)} waited ${String(r.waitMs).padStart(6)}  per CPU ${r.perCpuMs.join("/").padEnd(11)} allowed ${r.allowed.padEnd(4)} pol ${r.policy} nice ${r.nice}`);
  }
  if (rows.length > max) log(`    ... ${rows.length - max} more`);
  return rows;
}
