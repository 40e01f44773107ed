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
 * use it. With BUN_JSC_logGC set, each gap over the threshold is also written
 * to stderr as a `[qs-gap ...]` line, so the JSC GC log around it (printed
 * when each collection ends) says whether a collection fell inside it.
 */
import type { PollLoop, PollStage } from "../src/sched/poll-loop";

export const GAP_PARTS = ["rx+timers", "app events", "app sched", "app other", "flush+tx", "event loop"] as const;

/** Marks of one round: start, first app stage, mark 2, mark 3, last app stage. */
const MARKS = 5;

export class RoundProbe {
  private readonly cur = new Float64Array(MARKS);
  private readonly prev = new Float64Array(MARKS);
  private curRuns = -1;
  private prevRuns = -1;
  /** The stage to add first among the app stages. */
  readonly first: PollStage;
  /** The stage to add last. */
  readonly last: PollStage;

  constructor(
    private readonly loop: PollLoop,
    private readonly clock: () => number,
  ) {
    this.first = {
      poll: (nowUs) => {
        this.prev.set(this.cur);
        this.prevRuns = this.curRuns;
        this.cur.fill(0);
        this.cur[0] = nowUs;
        this.cur[1] = this.clock();
        this.curRuns = this.loop.runs;
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
  /** The rest (the thread was running) by their largest part. */
  byPart: Record<string, number>;
  /** The running gaps' time per part, ms. */
  partMs: Record<string, number>;
  /** The longest running gaps: "length us: parts". */
  longest: string[];
}

/** Summarize StallLog rows (with probe parts) of one process. */
export function gapReport(rows: number[][], longestN = 6): GapReport {
  const byPart: Record<string, number> = Object.fromEntries(GAP_PARTS.map((p) => [p, 0]));
  const partMs: Record<string, number> = Object.fromEntries(GAP_PARTS.map((p) => [p, 0]));
  let gaps = 0;
  let cpuWait = 0;
  const run: number[][] = [];
  for (const r of rows) {
    if (r[3] === 1) continue;
    gaps++;
    if (r[2]! > r[1]! / 2) {
      cpuWait++;
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
  const longest = run.slice(0, longestN).map((r) => `${Math.round(r[1]!)} us (${Math.round(r[2]!)} waiting): ${GAP_PARTS.map((p, j) => `${p} ${Math.round(r[4 + j]!)}`).join(", ")}`);
  return { gaps, cpuWait, byPart, partMs, longest };
}
