/**
 * mcc --smp N on our stack, the main thread's handle on its app threads
 * (design: smp-lanes.ts; worker body: smp-worker.ts; stack side:
 * smp-router.ts). Starts the Workers, starts them together, and gives mcc the
 * same view of the run it has of one Generator: summed counters, the phase
 * (the earliest phase any thread is in), open connections; at the end the
 * HDR histograms merged over threads (hdr-histogram-js add).
 *
 * The live request p50/p99 are per thread (percentiles do not merge); the
 * status line shows the worst thread's. The final table is exact (merged
 * histograms).
 */
import { GenCounters, type GeneratorOptions, type GenPhase } from "./generator";
import { newLatencyHistogram, type Histogram } from "./latency";
import { decodeHistogram } from "./results";
import { createThreadLanes, PHASES, shareThreadLanes, ThreadStats, type ThreadLanes } from "./smp-lanes";
import type { GenWorkerDone, GenWorkerGo, GenWorkerInit } from "./smp-worker";

export interface GenThreadsOptions {
  count: number;
  gen: Omit<GeneratorOptions, "shard">;
  /** CPUs for the app threads (thread k on cpus[k mod length]); empty: not pinned. */
  cpus?: number[];
  /** Nice value of each app thread (0: unchanged). */
  nice?: number;
  laneRecords?: number;
  laneBytes?: number;
}

export interface GenThreadsResult {
  threads: GenWorkerDone[];
  counters: GenCounters;
  rttHigh: Histogram;
  sendLag: Histogram;
}

export class GenThreads {
  readonly lanes: ThreadLanes[];
  readonly perSecond: number;
  readonly shardConns: number;
  /** Allowed CPUs each thread reported, and pinning errors. */
  started: { cpus: string; pinError: string | null }[] = [];
  private readonly stats: ThreadStats[];
  private readonly workers: Worker[] = [];
  private readonly done: Promise<GenWorkerDone>[] = [];

  private constructor(private readonly o: GenThreadsOptions) {
    this.lanes = [];
    this.stats = [];
    for (let k = 0; k < o.count; k++) {
      this.lanes.push(createThreadLanes(o.laneRecords, o.laneBytes));
      this.stats.push(ThreadStats.create());
    }
    this.perSecond = o.gen.perSecond ?? Math.ceil(o.gen.conns / o.gen.epochS);
    this.shardConns = o.gen.conns;
  }

  /** Create the lanes, start the Workers (each builds its Generator shard) and wait until each is ready. */
  static async start(o: GenThreadsOptions): Promise<GenThreads> {
    if (!(o.count >= 2 && o.count <= o.gen.conns)) throw new RangeError(`GenThreads: 2..${o.gen.conns} threads, got ${o.count}`);
    const t = new GenThreads(o);
    const ready: Promise<{ cpus: string; pinError: string | null }>[] = [];
    for (let k = 0; k < o.count; k++) {
      const w = new Worker(new URL("./smp-worker.ts", import.meta.url).href);
      t.workers.push(w);
      let onReady!: (v: { cpus: string; pinError: string | null }) => void;
      let onDone!: (v: GenWorkerDone) => void;
      let onErr!: (e: Error) => void;
      const failed = new Promise<never>((_, rej) => (onErr = rej));
      failed.catch(() => {});
      ready.push(Promise.race([new Promise<{ cpus: string; pinError: string | null }>((r) => (onReady = r)), failed]));
      t.done.push(Promise.race([new Promise<GenWorkerDone>((r) => (onDone = r)), failed]));
      w.onmessage = (e: MessageEvent) => {
        const m = e.data as { ready?: boolean; cpus: string; pinError: string | null; done?: GenWorkerDone; error?: string };
        if (m.error !== undefined) onErr(new Error(`mcc app thread ${k}: ${m.error}`));
        else if (m.ready === true) onReady({ cpus: m.cpus, pinError: m.pinError });
        else if (m.done !== undefined) onDone(m.done);
      };
      w.onerror = (e) => onErr(new Error(`mcc app thread ${k}: ${e.message}`));
      const cpus = o.cpus ?? [];
      const init: GenWorkerInit = {
        init: true, index: k, count: o.count, lanes: shareThreadLanes(t.lanes[k]!), stats: t.stats[k]!.sab, gen: o.gen,
        cpu: cpus.length > 0 ? cpus[k % cpus.length]! : -1,
        nice: o.nice ?? 0,
      };
      w.postMessage(init);
    }
    try {
      t.started = await Promise.all(ready);
    } catch (e) {
      t.terminate();
      throw e;
    }
    return t;
  }

  /** Start every thread's run at the same moment (now, on the absolute clock). */
  go(): void {
    const msg: GenWorkerGo = { go: true, startAbsMs: performance.timeOrigin + performance.now() };
    for (const w of this.workers) w.postMessage(msg);
  }

  /** Ask every thread to end its run now (Ctrl+C); they still report. */
  stop(): void {
    for (const s of this.stats) s.requestStop();
  }

  /** Every thread's report, when all have finished (rejects when one fails). */
  finished(): Promise<GenWorkerDone[]> {
    return Promise.all(this.done);
  }

  terminate(): void {
    for (const w of this.workers) w.terminate();
  }

  // ---- the view mcc's status line reads (a Generator's names) ----

  get counters(): GenCounters {
    const c = new GenCounters();
    for (const s of this.stats) s.addCounters(c);
    return c;
  }

  get phase(): GenPhase {
    let p = PHASES.length - 1;
    for (const s of this.stats) p = Math.min(p, s.phaseIndex());
    return PHASES[p]!;
  }

  get openConnections(): number {
    let n = 0;
    for (const s of this.stats) n += s.openConnections();
    return n;
  }

  get connectingNow(): number {
    let n = 0;
    for (const s of this.stats) n += s.connectingNow();
    return n;
  }

  /** The worst thread's recent request p50 and p99 (us). */
  liveRequest(): { p50Us: number; p99Us: number } {
    let p50Us = 0;
    let p99Us = 0;
    for (const s of this.stats) {
      const r = s.requestSummary();
      if (r.p50Us > p50Us) p50Us = r.p50Us;
      if (r.p99Us > p99Us) p99Us = r.p99Us;
    }
    return { p50Us, p99Us };
  }
}

/** Sum the threads' counters and add their histograms. */
export function mergeThreads(threads: GenWorkerDone[]): GenThreadsResult {
  const counters = new GenCounters();
  const c = counters as unknown as Record<string, number>;
  const rttHigh = newLatencyHistogram();
  const sendLag = newLatencyHistogram();
  for (const t of threads) {
    for (const [k, v] of Object.entries(t.counters)) if (k in c) c[k] = c[k]! + v;
    rttHigh.add(decodeHistogram(t.rttHigh));
    sendLag.add(decodeHistogram(t.sendLag));
  }
  return { threads, counters, rttHigh, sendLag };
}
