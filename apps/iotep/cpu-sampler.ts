/**
 * CPU time and CPU waits of the benchmark's processes (iotepserver, mcc,
 * redis-server), sampled from outside once a second: for each process the
 * sum over its threads of /proc/PID/task/TID/schedstat ("<on-CPU ns>
 * <run-queue wait ns> <timeslices>"). The run-queue wait is the time a thread
 * was runnable but another task had the CPU: on a small machine where the
 * server, the generator and Redis share the cores, that is where a request's
 * tail goes when Redis (or the server reading Redis' reply) is not running.
 *
 * `window(fromMs, toMs)` gives the totals between the samples nearest to two
 * times (ms since start), the CPU share, the mean wait per timeslice, and the
 * worst one-second interval's wait, per process. Sampling costs a few
 * readdir/read calls a second; it runs in the orchestrating process, outside
 * the measured ones.
 */
import { readdirSync, readFileSync } from "node:fs";

/** One process's threads summed: on-CPU and run-queue wait in us, timeslices. */
export interface SchedTotals {
  cpuUs: number;
  waitUs: number;
  slices: number;
}

/** Per thread id, /proc/PID/task/TID/schedstat; null when the process is gone. */
export function readProcSched(pid: number): Map<string, SchedTotals> | null {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  const m = new Map<string, SchedTotals>();
  for (const tid of tids) {
    try {
      const f = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "latin1").trim().split(" ");
      m.set(tid, { cpuUs: Number(f[0]) / 1000, waitUs: Number(f[1]) / 1000, slices: Number(f[2]) });
    } catch {
      // The thread exited between readdir and read.
    }
  }
  return m;
}

/**
 * What a process's threads did between two samples: per thread the
 * difference (a thread new in `b` counts from zero; one gone by `b` is left
 * out, since what it did after `a` is unknown), summed.
 */
export function schedDelta(a: Map<string, SchedTotals>, b: Map<string, SchedTotals>): SchedTotals {
  const d: SchedTotals = { cpuUs: 0, waitUs: 0, slices: 0 };
  for (const [tid, y] of b) {
    const x = a.get(tid);
    d.cpuUs += y.cpuUs - (x?.cpuUs ?? 0);
    d.waitUs += y.waitUs - (x?.waitUs ?? 0);
    d.slices += y.slices - (x?.slices ?? 0);
  }
  return d;
}

export interface SchedWindow {
  /** Seconds covered. */
  seconds: number;
  /** On-CPU time as a share of one CPU (1.0 = one core busy). */
  cpuShare: number;
  waitMs: number;
  /** Run-queue wait as a share of the window (1.0 = one thread always waiting). */
  waitShare: number;
  slices: number;
  /** Mean run-queue wait per timeslice, us. */
  waitPerSliceUs: number;
  /** The worst one-second interval: its wait, ms. */
  worstSecondWaitMs: number;
}

interface Sample {
  tMs: number;
  by: (Map<string, SchedTotals> | null)[];
  ticks: CpuTicks | null;
}

export class CpuSampler {
  private readonly samples: Sample[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly t0 = performance.now();

  constructor(
    /** Process name -> pid. */
    readonly procs: { name: string; pid: number }[],
    everyMs = 1000,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
  }

  /** Ms since the sampler started. */
  nowMs(): number {
    return performance.now() - this.t0;
  }

  sample(): void {
    this.samples.push({ tMs: this.nowMs(), by: this.procs.map((p) => readProcSched(p.pid)), ticks: cpuTicks() });
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.sample();
  }

  /** The samples from `fromMs` to `toMs` (1 ms either side). */
  samplesIn(fromMs: number, toMs: number): Sample[] {
    return this.samples.filter((x) => x.tMs >= fromMs - 1 && x.tMs <= toMs + 1);
  }

  /** Totals per process between the first sample at or after `fromMs` and the last at or before `toMs`. */
  window(fromMs: number, toMs: number): Record<string, SchedWindow> {
    const s = this.samplesIn(fromMs, toMs);
    const out: Record<string, SchedWindow> = {};
    if (s.length < 2) return out;
    this.procs.forEach((p, k) => {
      // The window's ends: the first and last samples where the process was alive.
      const alive = s.filter((x) => x.by[k] !== null);
      if (alive.length < 2) return;
      const a = alive[0]!;
      const b = alive[alive.length - 1]!;
      const secs = (b.tMs - a.tMs) / 1000;
      // Summed interval by interval, so threads that come and go are counted while they lived.
      const sum: SchedTotals = { cpuUs: 0, waitUs: 0, slices: 0 };
      let worst = 0;
      for (let i = 1; i < alive.length; i++) {
        const d = schedDelta(alive[i - 1]!.by[k]!, alive[i]!.by[k]!);
        sum.cpuUs += d.cpuUs;
        sum.waitUs += d.waitUs;
        sum.slices += d.slices;
        worst = Math.max(worst, d.waitUs);
      }
      const slices = sum.slices;
      const waitUs = sum.waitUs;
      out[p.name] = {
        seconds: round(secs, 1),
        cpuShare: round(sum.cpuUs / 1e6 / secs, 3),
        waitMs: Math.round(waitUs / 1000),
        waitShare: round(waitUs / 1e6 / secs, 3),
        slices,
        waitPerSliceUs: slices > 0 ? Math.round(waitUs / slices) : 0,
        worstSecondWaitMs: Math.round(worst / 1000),
      };
    });
    return out;
  }
}

/** The hypervisor's steal between the samples nearest to `fromMs` and `toMs` (as window()), or null. */
export function stealWindow(sampler: CpuSampler, fromMs: number, toMs: number): { share: number; ms: number } | null {
  const s = sampler.samplesIn(fromMs, toMs);
  return s.length < 2 ? null : stealBetween(s[0]!.ticks, s[s.length - 1]!.ticks);
}

function round(x: number, digits: number): number {
  const m = 10 ** digits;
  return Math.round(x * m) / m;
}

/** One line per process: "name: cpu 0.62, waited 1234 ms (0.10 of the time), 45 us per slice, worst second 80 ms". */
export function formatSchedWindow(w: Record<string, SchedWindow>): string[] {
  return Object.entries(w).map(
    ([name, x]) =>
      `${name}: CPU ${x.cpuShare.toFixed(2)} of a core, waited for a CPU ${x.waitMs} ms (${(x.waitShare * 100).toFixed(1)} % of ${x.seconds} s), ` +
      `${x.waitPerSliceUs} us per timeslice (${x.slices} slices), worst second ${x.worstSecondWaitMs} ms`,
  );
}

/** The machine's CPU time so far, from /proc/stat's first line, in clock ticks (USER_HZ, 100/s): all states, and "steal". */
export interface CpuTicks {
  total: number;
  steal: number;
}

/** CpuTicks now, or null where /proc/stat is not there. */
export function cpuTicks(): CpuTicks | null {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] as string;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user)
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return { total, steal: f[7] ?? 0 };
  } catch {
    return null;
  }
}

/**
 * Time the hypervisor ran something else on this VM's CPUs between two
 * readings ("steal"): its share of all CPU time and ms in all; null when
 * either reading is missing. On a shared VM this is time a stack thread did
 * not run while the guest thought it did: it lands in latency tails.
 */
export function stealBetween(a: CpuTicks | null, b: CpuTicks | null): { share: number; ms: number } | null {
  if (a === null || b === null || b.total <= a.total) return null;
  const steal = b.steal - a.steal;
  return { share: steal / (b.total - a.total), ms: steal * 10 };
}
