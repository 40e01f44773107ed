/**
 * Body of one mcc --smp app thread (a Bun Worker; design: smp-lanes.ts). The
 * main thread posts `init` (lanes, stats, generator options, shard, CPU), the
 * Worker answers `ready`; then `go` with the run's start time, after which the
 * Worker runs its generator shard in a blocking loop until the run ends and
 * posts `done` with its counters and HDR histograms (compressed base64, merged
 * by the main thread).
 *
 * Clocks: every time the generator sees (its schedule, the send times, the
 * receive times of replies) is this thread's own monotonicUs(). Workers have
 * their own performance.now() origin, so only the run's start crosses threads,
 * as an absolute time (performance.timeOrigin + now, ms) that each thread
 * turns into its own clock once.
 *
 * Loop: read the clock, hand the events at hand to the generator, tick it if
 * something is due, publish the staged commands, then sleep in Atomics.wait
 * until the next due time (at most 100 ms, so a stop request is seen). While
 * sending, the sleep is on the event lane, so a reply is timed as soon as the
 * stack hands it over. While connecting (nothing is measured) the thread
 * wakes on a 1 ms grid (or the send quantum, --tick-us) and not per event: a
 * wake per connection (thousands a second, each also waking the stack thread
 * for one Connect) cost the stack thread its CPU on two cores (measured: see
 * the --smp report). Nothing spins.
 */
import { monotonicUs } from "../../src/api/clock";
import { allowedCpus, pinThread, threadId } from "../../src/sched/split/affinity";
import { Generator, type GeneratorOptions } from "./generator";
import { summarize } from "./latency";
import { encodeHistogram } from "./results";
import { attachThreadLanes, EventPump, LaneTransport, ThreadStats, type ThreadLanesShare } from "./smp-lanes";

declare const self: Worker;

export interface GenWorkerInit {
  init: true;
  index: number;
  count: number;
  lanes: ThreadLanesShare;
  stats: SharedArrayBuffer;
  gen: Omit<GeneratorOptions, "shard">;
  /** CPU to pin this thread to, or -1. */
  cpu: number;
  /** Nice value for this thread (0: unchanged); the stack thread keeps its own. */
  nice: number;
}

export interface GenWorkerGo {
  go: true;
  /** performance.timeOrigin + performance.now() of the run's start, ms. */
  startAbsMs: number;
}

export interface GenWorkerDone {
  index: number;
  counters: Record<string, number>;
  rttHigh: string;
  sendLag: string;
  /** Events handled, waits on a full command lane, idle sleeps, loop passes. */
  events: number;
  fullWaits: number;
  sleeps: number;
  passes: number;
  cpus: string;
  pinError: string | null;
}

const SUMMARY_EVERY_US = 500_000;
/** Wake-up grid while connecting (us), unless the send quantum is coarser. */
const CONNECT_GRID_US = 1000;
const MAX_SLEEP_MS = 100;

let gen: Generator | null = null;
let transport: LaneTransport | null = null;
let pump: EventPump | null = null;
let stats: ThreadStats | null = null;
let index = 0;
let tickUs = 0;
let pinError: string | null = null;

self.onmessage = (e: MessageEvent<GenWorkerInit | GenWorkerGo>) => {
  try {
    const m = e.data;
    if ("init" in m) {
      index = m.index;
      tickUs = m.gen.tickUs ?? 0;
      pinError = m.cpu >= 0 ? pinThread(m.cpu) : null;
      if (m.nice !== 0) pinError = [pinError, niceThread(m.nice)].filter((x) => x !== null).join("; ") || null;
      const lanes = attachThreadLanes(m.lanes);
      stats = ThreadStats.attach(m.stats);
      transport = new LaneTransport(lanes.commands);
      pump = new EventPump(lanes.events);
      gen = new Generator({ ...m.gen, shard: { index: m.index, count: m.count } }, transport);
      const t = transport;
      gen.onFinish = () => t.finishing();
      stats.publish(gen);
      postMessage({ ready: true, cpus: allowedCpus(), pinError });
    } else if ("go" in m) {
      postMessage({ done: run(m.startAbsMs) });
    }
  } catch (err) {
    postMessage({ error: String((err as Error)?.stack ?? err) });
  }
};

/**
 * setpriority(2) on this thread's id, through util-linux's renice (no FFI outside ffi/; once at start,
 * as affinity.ts does with taskset). Linux applies a nice value per thread. null on success.
 */
function niceThread(nice: number): string | null {
  const tid = threadId();
  if (tid < 0) return "no thread id";
  const r = Bun.spawnSync(["renice", "-n", String(nice), "-p", String(tid)], { stdout: "ignore", stderr: "pipe" });
  return r.exitCode === 0 ? null : `renice -n ${nice} -p ${tid} failed: ${r.stderr.toString().trim()}`;
}

function run(startAbsMs: number): GenWorkerDone {
  const g = gen!;
  const t = transport!;
  const p = pump!;
  const st = stats!;
  const lateMs = performance.timeOrigin + performance.now() - startAbsMs;
  const t0 = monotonicUs() - Math.round(lateMs * 1000);
  g.start(t0);
  let nextAt = t0;
  let nextSummary = 0;
  let sleeps = 0;
  let passes = 0;
  let stopped = false;
  for (;;) {
    passes++;
    const now = monotonicUs();
    p.pump(g, now);
    if (!stopped && st.stopRequested()) {
      // Ctrl+C in the main thread: end the run now (as mcc does with one thread).
      stopped = true;
      nextAt = g.tick(Number.MAX_SAFE_INTEGER);
    } else if (now >= nextAt) {
      nextAt = g.tick(now);
    }
    t.flush();
    st.publish(g);
    if (now >= nextSummary) {
      const s = summarize(g.rttHigh);
      st.setRequestSummary(s.p50Us, s.p99Us);
      nextSummary = now + SUMMARY_EVERY_US;
    }
    if (nextAt === Number.POSITIVE_INFINITY) break;
    const quiet = g.phase === "connecting" || g.phase === "waiting";
    const grid = quiet ? Math.max(tickUs, CONNECT_GRID_US) : 0; // sends are quantized by the generator itself (--tick-us)
    const wakeAt = grid > 0 ? t0 + Math.ceil((nextAt - t0) / grid) * grid : nextAt;
    const waitUs = wakeAt - monotonicUs();
    if (waitUs > 0) {
      sleeps++;
      const ms = Math.min(waitUs / 1000, MAX_SLEEP_MS);
      if (quiet) st.sleep(ms);
      else p.wait(ms);
    }
  }
  t.flush();
  st.publish(g);
  const s = summarize(g.rttHigh);
  st.setRequestSummary(s.p50Us, s.p99Us);
  return {
    index,
    counters: { ...(g.counters as unknown as Record<string, number>) },
    rttHigh: encodeHistogram(g.rttHigh),
    sendLag: encodeHistogram(g.sendLag),
    events: p.events,
    fullWaits: t.fullWaits,
    sleeps,
    passes,
    cpus: allowedCpus(),
    pinError,
  };
}
