/**
 * Diagnosis for bench/priority's peers (issue 5, GC pauses): what the process
 * allocates per message while it runs.
 *
 * - `phaseMark(name)`: with BUN_JSC_logGC set, a line `[qs-prio phase NAME]` on
 *   stderr, so the JSC GC log (also on stderr; QS_PRIO_PEER_LOGS keeps it) can
 *   be split into the setup and the measured phase.
 * - `HeapCensus` (QS_PRIO_CENSUS=1): heap cells by type counted (bun:jsc
 *   heapStats) at the start and end of short windows; a window that saw no
 *   collection (no type's count fell) is reported on stderr as cells per
 *   message by type. Counting walks the heap (milliseconds): diagnosis runs only.
 * - `gcLogSummary(stderr)`: collections and pauses from a peer's BUN_JSC_logGC
 *   log, for the whole run and for the measured phase.
 */
import { heapStats } from "bun:jsc";

export function phaseMark(name: string): void {
  if (process.env["BUN_JSC_logGC"] !== undefined) process.stderr.write(`[qs-prio phase ${name}]\n`);
}

export class HeapCensus {
  private before: Record<string, number> | null = null;
  private msgsBefore = 0;
  private windows = 0;
  private readonly sum = new Map<string, number>();
  private msgs = 0;

  static enabled(): boolean {
    return process.env["QS_PRIO_CENSUS"] === "1";
  }

  /** Open a window (`messages`: the process's message counter now). */
  open(messages: number): void {
    this.before = heapStats().objectTypeCounts;
    this.msgsBefore = messages;
  }

  /** Close the window; kept when no collection ran inside it. */
  close(messages: number): void {
    const a = this.before;
    if (a === null) return;
    this.before = null;
    const b = heapStats().objectTypeCounts;
    for (const k of Object.keys(a)) if ((b[k] ?? 0) < a[k]!) return;
    const n = messages - this.msgsBefore;
    if (n <= 0) return;
    this.windows++;
    this.msgs += n;
    for (const k of Object.keys(b)) {
      const d = b[k]! - (a[k] ?? 0);
      if (d > 0) this.sum.set(k, (this.sum.get(k) ?? 0) + d);
    }
  }

  /** One line: cells per message by type over the clean windows. */
  report(who: string): void {
    const rows = [...this.sum].sort((x, y) => y[1] - x[1]).slice(0, 12).map(([k, v]) => `${k} ${(v / this.msgs).toFixed(2)}`);
    process.stderr.write(`[qs-prio census ${who}: ${this.windows} clean windows, ${this.msgs} messages; cells per message: ${rows.join(", ")}]\n`);
  }
}

export interface GcCounts {
  eden: number;
  full: number;
  /** Stop-the-world pauses (each `p=` of the log) and their total and longest, ms. */
  pauses: number;
  pauseMs: number;
  maxPauseMs: number;
}

export interface GcLogSummary {
  run: GcCounts;
  measured: GcCounts;
  /** The census line (QS_PRIO_CENSUS=1), or null. */
  census: string | null;
}

/** Count a BUN_JSC_logGC log's collections, whole run and between the phase marks; null when it has none. */
export function gcLogSummary(log: string): GcLogSummary | null {
  const zero = (): GcCounts => ({ eden: 0, full: 0, pauses: 0, pauseMs: 0, maxPauseMs: 0 });
  const run = zero();
  const measured = zero();
  let phase = 0;
  let census: string | null = null;
  let seen = false;
  for (const line of log.split("\n")) {
    if (line.includes("[qs-prio phase measured]")) phase = 1;
    else if (line.includes("[qs-prio phase end]")) phase = 2;
    if (line.includes("[qs-prio census")) census = line.replace(/^\[|\]$/g, "");
    const targets = phase === 1 ? [run, measured] : [run];
    if (line.includes("=> EdenCollection")) for (const t of targets) t.eden++;
    if (line.includes("=> FullCollection")) for (const t of targets) t.full++;
    for (const m of line.matchAll(/p=([0-9.]+)ms/g)) {
      seen = true;
      const ms = Number(m[1]);
      for (const t of targets) {
        t.pauses++;
        t.pauseMs += ms;
        if (ms > t.maxPauseMs) t.maxPauseMs = ms;
      }
    }
  }
  return seen || run.eden + run.full > 0 ? { run, measured, census } : null;
}
