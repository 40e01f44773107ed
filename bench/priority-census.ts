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
