/**
 * Where the time between poll rounds goes (tail-latency diagnosis): an app
 * stage that records the gap between the starts of consecutive rounds in an
 * HDR histogram, and for every gap over 2 ms without an idle sleep inside it
 * (a stall: a long round, a GC pause, or the thread waiting for a CPU) asks
 * the kernel how much of it the thread spent runnable but not running
 * (/proc/thread-self/schedstat, field 2: run-queue wait, ns). So a stall is
 * split into "waiting for a CPU" (other processes on the cores) and "running
 * but not polling" (our long rounds, GC, ioredis callbacks).
 */
import { openSync, readSync, closeSync } from "node:fs";
import type { PollLoop, PollStage } from "../../src/sched/poll-loop";
import { newLatencyHistogram, recordUs, summarize, type LatencySummary } from "./latency";

/** Run-queue wait of the calling thread so far, us (-1 when the kernel does not say). */
export function runQueueWaitUs(buf: Uint8Array = new Uint8Array(96)): number {
  let fd = -1;
  try {
    fd = openSync("/proc/thread-self/schedstat", "r");
    const n = readSync(fd, buf, 0, buf.length, 0);
    // "<cpu ns> <wait ns> <slices>\n"
    let i = 0;
    while (i < n && buf[i] !== 0x20) i++;
    let v = 0;
    for (i++; i < n && buf[i]! >= 0x30 && buf[i]! <= 0x39; i++) v = v * 10 + (buf[i]! - 0x30);
    return v / 1000;
  } catch {
    return -1;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/**
 * The status lines' opening part (iotepserver, mcc): the calling stack
 * thread's CPU, its wait for a CPU and the poll loop's idle sleeps since the
 * previous call.
 */
export function threadSliceSince(idleSleeps: () => number): () => string {
  const now = new Float64Array(2);
  const last = threadSchedUs(new Float64Array(2));
  let lastSleeps = idleSleeps();
  return () => {
    threadSchedUs(now);
    const cpuMs = ((now[0]! - last[0]!) / 1000).toFixed(0);
    const waitMs = ((now[1]! - last[1]!) / 1000).toFixed(0);
    last.set(now);
    const idle = idleSleeps();
    const sleeps = idle - lastSleeps;
    lastSleeps = idle;
    return `since last: stack thread CPU ${cpuMs} ms, waited for a CPU ${waitMs} ms, idle sleeps ${sleeps}`;
  };
}

/**
 * CPU time and run-queue wait of the calling thread so far, us, into `out`
 * ([cpu, wait]; -1 each when the kernel does not say): the first two fields of
 * /proc/thread-self/schedstat. For per-interval status lines.
 */
export function threadSchedUs(out: Float64Array, buf: Uint8Array = new Uint8Array(96)): Float64Array {
  out[0] = -1;
  out[1] = -1;
  let fd = -1;
  try {
    fd = openSync("/proc/thread-self/schedstat", "r");
    const n = readSync(fd, buf, 0, buf.length, 0);
    let i = 0;
    for (let k = 0; k < 2; k++) {
      let v = 0;
      for (; i < n && buf[i]! >= 0x30 && buf[i]! <= 0x39; i++) v = v * 10 + (buf[i]! - 0x30);
      out[k] = v / 1000;
      i++;
    }
  } catch {
    // left at -1
  } finally {
    if (fd >= 0) closeSync(fd);
  }
  return out;
}

export class RoundGaps implements PollStage {
  readonly gaps = newLatencyHistogram();
  maxUs = 0;
  over2ms = 0;
  over10ms = 0;
  /** Gaps over 2 ms with no idle sleep inside, and their total length, us. */
  stalls = 0;
  stallUs = 0;
  /** Of stallUs, time the thread waited for a CPU. */
  stallRunQueueUs = 0;
  private lastUs = -1;
  private lastSleeps = 0;
  private lastWaitUs: number;
  private readonly buf = new Uint8Array(96);
  private lastCpuUs = -1;

  /**
   * `cpuClock` (diagnosis, ffi/thread-cpu.ts; ~1 us per round): the thread's
   * CPU time read every round, so each long gap, idle sleep inside or not,
   * says how much of it the thread ran (GC, ioredis, long rounds) against
   * sleeping or being blocked.
   */
  constructor(
    private readonly loop: PollLoop,
    private readonly cpuClock: (() => number) | null = null,
  ) {
    this.lastWaitUs = runQueueWaitUs(this.buf);
  }

  poll(nowUs: number): number {
    const sleeps = this.loop.idleSleeps;
    const cpu = this.cpuClock !== null ? this.cpuClock() : -1;
    if (this.lastUs >= 0) {
      const gap = nowUs - this.lastUs;
      recordUs(this.gaps, gap);
      if (gap > this.maxUs) this.maxUs = gap;
      let stallUs = 0;
      let rqUs = 0;
      let rqAllUs = -1;
      if (gap > 2000) {
        this.over2ms++;
        if (gap > 10_000) this.over10ms++;
        const w = runQueueWaitUs(this.buf);
        // Upper bound: the wait since the previous long gap (schedstat is read at long gaps only).
        if (w >= 0 && this.lastWaitUs >= 0) rqAllUs = Math.min(gap, w - this.lastWaitUs);
        if (sleeps === this.lastSleeps) {
          this.stalls++;
          this.stallUs += gap;
          stallUs = gap;
          if (rqAllUs >= 0) {
            rqUs = rqAllUs;
            this.stallRunQueueUs += rqUs;
          }
        }
        this.lastWaitUs = w;
      }
      const win = this.window;
      if (win !== null && win.open) win.add(nowUs, gap, stallUs, rqUs, cpu >= 0 && this.lastCpuUs >= 0 ? cpu - this.lastCpuUs : -1, rqAllUs);
    }
    this.lastUs = nowUs;
    this.lastSleeps = sleeps;
    this.lastCpuUs = cpu;
    return 0;
  }

  /**
   * The measured window's own view (the fields above cover the whole
   * process: setup, and the shutdown that closes every connection in one
   * synchronous pass, which is a poll gap of ~0.3-0.9 s at 1 M connections).
   * `beginWindow` at the end of the warm-up, `endWindow` when the server is
   * told to stop.
   */
  window: GapWindow | null = null;

  beginWindow(nowUs: number): void {
    this.window = new GapWindow(nowUs);
  }

  endWindow(nowUs: number): void {
    const w = this.window;
    if (w !== null && w.open) {
      w.open = false;
      w.endUs = nowUs;
    }
  }

  pollAt(): number {
    return Number.POSITIVE_INFINITY;
  }

  summary(): LatencySummary & { maxGapUs: number; over2ms: number; over10ms: number; stalls: number; stallMs: number; stallRunQueueMs: number } {
    return {
      ...summarize(this.gaps),
      maxGapUs: this.maxUs,
      over2ms: this.over2ms,
      over10ms: this.over10ms,
      stalls: this.stalls,
      stallMs: Math.round(this.stallUs / 1000),
      stallRunQueueMs: Math.round(this.stallRunQueueUs / 1000),
    };
  }
}

/** Longest gaps a GapWindow keeps. */
export const TOP_GAPS = 16;

/** Poll gaps inside one window of time (RoundGaps.beginWindow .. endWindow). */
export class GapWindow {
  readonly gaps = newLatencyHistogram();
  open = true;
  /** When endWindow closed it (-1: still open). */
  endUs = -1;
  maxUs = 0;
  /** When the longest gap ended, us after the window began. */
  maxAtUs = 0;
  over2ms = 0;
  over10ms = 0;
  stalls = 0;
  stallUs = 0;
  stallRunQueueUs = 0;

  /** The longest gaps (over 2 ms) of the window: where they ended (clock, us) and how long they were; unsorted. */
  readonly topEndUs = new Float64Array(TOP_GAPS);
  readonly topLenUs = new Float64Array(TOP_GAPS);
  /** 1 where the gap had no idle sleep inside (a stall). */
  readonly topStall = new Uint8Array(TOP_GAPS);
  /** The thread's CPU time inside the gap, us (-1: not measured: RoundGaps without a cpuClock). */
  readonly topCpuUs = new Float64Array(TOP_GAPS);
  /** Its wait for a CPU, us (-1: unknown). */
  readonly topRqUs = new Float64Array(TOP_GAPS);

  constructor(readonly startUs: number) {}

  /** The longest gaps, longest first: [end us after the window start, length us, stall 0/1, CPU us or -1, CPU wait us or -1]. */
  top(): [number, number, number, number, number][] {
    const out: [number, number, number, number, number][] = [];
    for (let i = 0; i < TOP_GAPS; i++)
      if (this.topLenUs[i]! > 0) out.push([this.topEndUs[i]! - this.startUs, this.topLenUs[i]!, this.topStall[i]!, this.topCpuUs[i]!, this.topRqUs[i]!]);
    return out.sort((a, b) => b[1] - a[1]);
  }

  /** One gap of top(), for a log line: "12.3 ms at 4.567 s (idle sleep inside; on CPU 11.9 ms, waiting 0.1 ms)". */
  static describe([at, len, stall, cpuUs, rqUs]: [number, number, number, number, number]): string {
    const parts: string[] = [];
    if (stall !== 1) parts.push("idle sleep inside");
    const cpu: string[] = [];
    if (cpuUs >= 0) cpu.push(`on CPU ${(cpuUs / 1000).toFixed(1)} ms`);
    if (rqUs >= 0) cpu.push(`waiting ${(rqUs / 1000).toFixed(1)} ms`);
    if (cpu.length > 0) parts.push(cpu.join(", "));
    return `${(len / 1000).toFixed(1)} ms at ${(at / 1e6).toFixed(3)} s${parts.length > 0 ? ` (${parts.join("; ")})` : ""}`;
  }

  /**
   * A gap of `gapUs` ending at `nowUs`; `stallUs` > 0 when it had no idle
   * sleep, `rqUs` of it waiting for a CPU; `cpuUs` the thread's CPU time in
   * it and `rqAllUs` its wait for a CPU, sleep or not (-1: unknown).
   */
  add(nowUs: number, gapUs: number, stallUs: number, rqUs: number, cpuUs = -1, rqAllUs = -1): void {
    recordUs(this.gaps, gapUs);
    if (gapUs > this.maxUs) {
      this.maxUs = gapUs;
      this.maxAtUs = nowUs - this.startUs;
    }
    if (gapUs > 2000) {
      this.over2ms++;
      if (gapUs > 10_000) this.over10ms++;
      // Replace the shortest of the kept gaps.
      let m = 0;
      for (let i = 1; i < TOP_GAPS; i++) if (this.topLenUs[i]! < this.topLenUs[m]!) m = i;
      if (gapUs > this.topLenUs[m]!) {
        this.topLenUs[m] = gapUs;
        this.topEndUs[m] = nowUs;
        this.topStall[m] = stallUs > 0 ? 1 : 0;
        this.topCpuUs[m] = cpuUs;
        this.topRqUs[m] = rqAllUs;
      }
    }
    if (stallUs > 0) {
      this.stalls++;
      this.stallUs += stallUs;
      this.stallRunQueueUs += rqUs;
    }
  }

  summary(): LatencySummary & { maxGapUs: number; maxAtS: number; windowS: number; over2ms: number; over10ms: number; stalls: number; stallMs: number; stallRunQueueMs: number } {
    return {
      ...summarize(this.gaps),
      maxGapUs: this.maxUs,
      maxAtS: Math.round(this.maxAtUs / 1e5) / 10,
      windowS: this.endUs >= 0 ? Math.round((this.endUs - this.startUs) / 1e5) / 10 : -1,
      over2ms: this.over2ms,
      over10ms: this.over10ms,
      stalls: this.stalls,
      stallMs: Math.round(this.stallUs / 1000),
      stallRunQueueMs: Math.round(this.stallRunQueueUs / 1000),
    };
  }
}
