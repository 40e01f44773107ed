/**
 * Where a long poll-round gap went (bench/priority, issue 5): the time
 * between the starts of two poll rounds is split into the parts of the first
 * round, by clock marks the peer's app stages take:
 *
 *   rx+timers   round start -> the first app stage (rx bursts, TCP input, timers)
 *   app events  -> mark 2 (the server: its event wait and reads into its queues)
 *   app sched   -> mark 3 (the server: the Scheduler's coroutines, its budget)
 *   app other   -> the last app stage (the generator's sends, the diagnostic stages)
 *   flush+tx    -> the end of the poll loop's run of rounds (TCP flush, tx burst)
 *   event loop  -> the next round's start, when a run of rounds ended between
 *                  the two (Bun's event loop turn: timers, stdin, tasks;
 *                  0 when the two rounds were in one run)
 *
 * A pause of the thread (a GC, a JIT code install, a wait for a CPU) lands in
 * the part it interrupted. Four clock reads per round; only the bench's peers
 * use it.
 *
 * What the thread did meanwhile: the probe also reads the thread's CPU time
 * (CLOCK_THREAD_CPUTIME_ID, ffi/thread-cpu.ts) and run-queue wait
 * (/proc/thread-self/schedstat, kept open: one pread; its CPU field lags) at
 * a round's start, at most every SAMPLE_US and at once after a gap over the
 * threshold, so each such gap's span (at most SAMPLE_US longer than the gap)
 * splits into CPU (running: our code, a GC, a JIT install), run-queue wait
 * (another thread had the CPU) and the rest: neither running nor runnable,
 * i.e. blocked in the kernel (a lock, a page fault, a pipe) or the vCPU taken
 * by the hypervisor (steal). With BUN_JSC_logGC set, each gap over the threshold is also written
 * to stderr as a `[qs-gap ...]` line, so the JSC GC log around it (printed
 * when each collection ends) says whether a collection fell inside it.
 */
import { openSync, readSync } from "node:fs";
import { threadCpuClock } from "../ffi/thread-cpu";
import type { PollLoop, PollStage } from "../src/sched/poll-loop";

export const GAP_PARTS = ["rx+timers", "app events", "app sched", "app other", "flush+tx", "event loop"] as const;

/** Marks of one round: start, first app stage, mark 2, mark 3, last app stage. */
const MARKS = 5;
/** Most time between two thread-time samples, us (~2.7 us a sample: ~1 % of the thread). */
const SAMPLE_US = 250;

/** The calling thread's CPU time (exact) and run-queue wait (its schedstat file kept open), us. */
export class ThreadTimes {
  private readonly fd: number;
  private readonly buf = new Uint8Array(96);
  private readonly cpuClock = threadCpuClock();
  cpuUs = 0;
  waitUs = 0;
  constructor() {
    let fd = -1;
    try {
      fd = openSync("/proc/thread-self/schedstat", "r");
    } catch {
      // no schedstat (not Linux): ok() is false
    }
    this.fd = fd;
  }
  ok(): boolean {
    return this.fd >= 0;
  }
  /** Read both ("<cpu ns> <wait ns> <slices>"); false when unreadable. */
  read(): boolean {
    if (this.fd < 0) return false;
    const b = this.buf;
    const n = readSync(this.fd, b, 0, b.length, 0);
    let i = 0;
    let v = 0;
    for (; i < n && b[i]! >= 0x30; i++) v = v * 10 + (b[i]! - 0x30);
    // schedstat's CPU field lags for a running thread (up to a tick): the thread clock when there is one.
    this.cpuUs = this.cpuClock !== null ? this.cpuClock() : v / 1000;
    v = 0;
    for (i++; i < n && b[i]! >= 0x30; i++) v = v * 10 + (b[i]! - 0x30);
    this.waitUs = v / 1000;
    return n > 0;
  }
}

export class RoundProbe {
  private readonly cur = new Float64Array(MARKS);
  private readonly prev = new Float64Array(MARKS);
  private curRuns = -1;
  private prevRuns = -1;
  /** The stage to add to the poll loop before the stack (PollLoop.add(stage, true)). */
  readonly start: PollStage;
  /** The stage to add first among the app stages. */
  readonly first: PollStage;
  /** The stage to add last. */
  readonly last: PollStage;
  private readonly times = new ThreadTimes();
  private sampleAtUs = -1;
  private cpu0 = 0;
  private wait0 = 0;
  private frames0 = 0;
  /** The last sample span (ending at this round's start): length, CPU, run-queue wait, us; frames received. */
  spanUs = 0;
  spanCpuUs = 0;
  spanWaitUs = 0;
  spanFrames = 0;

  constructor(
    private readonly loop: PollLoop,
    private readonly clock: () => number,
    /** The interface's counters (frames received in a span). */
    private readonly counters: { rxFrames: number },
    /** A gap over this forces a sample at once (StallLog's threshold). */
    private readonly gapUs = 1000,
  ) {
    // Before the stack's own stage (PollLoop.add(stage, true)): the round's start, and the sample, come before its rx.
    this.start = {
      poll: (nowUs) => {
        const gap = nowUs - this.cur[0]!;
        this.prev.set(this.cur);
        this.prevRuns = this.curRuns;
        this.cur.fill(0);
        this.cur[0] = nowUs;
        this.curRuns = this.loop.runs;
        if ((nowUs - this.sampleAtUs >= SAMPLE_US || gap > this.gapUs) && this.times.read()) {
          const t = this.times;
          if (this.sampleAtUs >= 0) {
            this.spanUs = nowUs - this.sampleAtUs;
            this.spanCpuUs = t.cpuUs - this.cpu0;
            this.spanWaitUs = t.waitUs - this.wait0;
            this.spanFrames = this.counters.rxFrames - this.frames0;
          }
          this.frames0 = this.counters.rxFrames;
          this.sampleAtUs = nowUs;
          this.cpu0 = t.cpuUs;
          this.wait0 = t.waitUs;
        }
        return 0;
      },
      pollAt: () => Number.POSITIVE_INFINITY,
    };
    this.first = {
      poll: () => {
        this.cur[1] = this.clock();
        return 0;
      },
      pollAt: () => Number.POSITIVE_INFINITY,
    };
    this.last = {
      poll: () => {
        this.cur[4] = this.clock();
        return 0;
      },
      pollAt: () => Number.POSITIVE_INFINITY,
    };
  }

  /** Mark 2 or 3 of the current round. */
  mark(i: number): void {
    this.cur[i] = this.clock();
  }

  /**
   * The parts (GAP_PARTS order, us) of the gap from the previous round's start
   * to `nowUs` (this round's start), into out[0..6). Call from a stage after `first`.
   */
  parts(nowUs: number, out: Float64Array, at = 0): void {
    const p = this.prev;
    const m1 = p[1]!;
    const m2 = p[2]! > 0 ? p[2]! : m1;
    const m3 = p[3]! > 0 ? p[3]! : m2;
    const m4 = p[4]! > 0 ? p[4]! : m3;
    out[at] = m1 - p[0]!;
    out[at + 1] = m2 - m1;
    out[at + 2] = m3 - m2;
    out[at + 3] = m4 - m3;
    // A run of rounds ended between the two rounds: the loop's clock at that end splits the tail.
    const runEnd = this.loop.runs !== this.prevRuns && this.loop.runEndUs >= m4 ? this.loop.runEndUs : nowUs;
    out[at + 4] = runEnd - m4;
    out[at + 5] = nowUs - runEnd;
  }
}

export interface GapReport {
  /** Gaps over the threshold with no idle sleep inside. */
  gaps: number;
  /** Of them, mostly waiting for a CPU (run-queue wait > half the gap). */
  cpuWait: number;
  /** Of them, mostly neither running nor waiting (blocked in the kernel, or vCPU steal: span - CPU - wait > half the gap). */
  blocked: number;
  /** The rest (the thread was running) by their largest part. */
  byPart: Record<string, number>;
  /** The running gaps' time per part, ms. */
  partMs: Record<string, number>;
  /** The longest running gaps: "length us: parts". */
  longest: string[];
}

/** Summarize StallLog rows (with probe parts) of one process, those that started before `untilWallUs`. */
export function gapReport(all: number[][], untilWallUs = Number.POSITIVE_INFINITY, longestN = 6): GapReport {
  const rows = all.filter((r) => r[0]! < untilWallUs);
  const byPart: Record<string, number> = Object.fromEntries(GAP_PARTS.map((p) => [p, 0]));
  const partMs: Record<string, number> = Object.fromEntries(GAP_PARTS.map((p) => [p, 0]));
  let gaps = 0;
  let cpuWait = 0;
  let blocked = 0;
  const run: number[][] = [];
  for (const r of rows) {
    if (r[3] === 1) continue;
    gaps++;
    if (r[2]! > r[1]! / 2) {
      cpuWait++;
      continue;
    }
    if (r[11]! > 0 && r[11]! - r[10]! - r[2]! > r[1]! / 2) {
      blocked++;
      continue;
    }
    run.push(r);
    let best = 0;
    for (let j = 1; j < GAP_PARTS.length; j++) if (r[4 + j]! > r[4 + best]!) best = j;
    byPart[GAP_PARTS[best]!]!++;
    for (let j = 0; j < GAP_PARTS.length; j++) partMs[GAP_PARTS[j]!]! += r[4 + j]! / 1000;
  }
  for (const p of GAP_PARTS) partMs[p] = Math.round(partMs[p]! * 10) / 10;
  run.sort((a, b) => b[1]! - a[1]!);
  const longest = run.slice(0, longestN).map((r) => `${Math.round(r[1]!)} us (${Math.round(r[2]!)} waiting, ${Math.round(r[10]!)} on CPU of a ${Math.round(r[11]!)} us span, ${r[12]} frames in): ${GAP_PARTS.map((p, j) => `${p} ${Math.round(r[4 + j]!)}`).join(", ")}`);
  return { gaps, cpuWait, blocked, byPart, partMs, longest };
}
