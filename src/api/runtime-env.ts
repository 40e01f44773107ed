/**
 * Bun runtime settings for a latency-critical stack process. Bun reads them
 * from the environment once, when the process starts, so they are set by
 * whoever starts it (the iotep and priority orchestrators, `npm start`), and a
 * process started without them says so in one line (runtimeEnvNote).
 *
 * Each one removes a stall of the JavaScript thread that a poll loop sees as
 * a gap between rounds, measured on iotepserver at 300,000 connections
 * (bench iotep --server-args "--gap-cpu", `perf record -g` of the main thread):
 *
 *  - MIMALLOC_PURGE_DELAY=-1: Bun's allocator (mimalloc) returns freed pages
 *    to the OS from a background thread ("mi-scavenger"). The main thread
 *    was seen (perf, perf sched) spinning in sched_yield(2), called from
 *    Bun's event loop, for 6-52 ms at a time until the scavenger got a CPU
 *    again. Under SCHED_FIFO (iotep's --rt server), a yield hands the CPU
 *    only to other real-time threads, so the scavenger, a normal thread,
 *    waits for the other CPU while the main thread spins. -1 never purges:
 *    the scavenger thread does not start, and freed memory stays with the
 *    process for its next use (a server's steady state).
 *  - BUN_JSC_decommitUnusedMarkedBlockPages=false: after a garbage
 *    collection, JavaScriptCore sweeps the heap on the main thread in slices
 *    (~10 ms, ~100 ms apart), and by default also hands the unused pages
 *    inside each heap block back to the OS. With this off, the 300,000
 *    connection run's bursts of 9-15 ms native slices (no JavaScript on the
 *    stack, perf) went away; at 1 M connections, where each collection
 *    leaves more garbage (~230 MB of heap allowed between collections),
 *    bursts of ~12 ms slices ~110 ms apart remain, two a minute (the sweep).
 *  - BUN_GC_TIMER_DISABLE=1: Bun's idle GC timer starts an Eden collection
 *    about once a second whenever the heap changed (1-12 ms); collections
 *    that allocation calls for still run (bench/priority.ts).
 *
 * Measured (README): bench iotep --conns 300000 --setup 20 --epoch 18
 * --duration 30 --kernel-conns 0 --huge: the measured part's longest poll
 * gap 24-48 ms before, 12.9 ms with the first setting, 9.0 ms with both;
 * at 1 M connections (bench iotep --conns 1000000 --setup 60 --epoch 60
 * --kernel-conns 0 --huge) the wire request p99 went from 5.39 ms to 1.29 ms.
 */

/** Names and values, in the order above. */
export const LOW_LATENCY_ENV: Readonly<Record<string, string>> = Object.freeze({
  MIMALLOC_PURGE_DELAY: "-1",
  BUN_JSC_decommitUnusedMarkedBlockPages: "false",
  BUN_GC_TIMER_DISABLE: "1",
});

/** The allocator settings of LOW_LATENCY_ENV (all but the GC timer). */
export const ALLOCATOR_ENV_NAMES: readonly string[] = ["MIMALLOC_PURGE_DELAY", "BUN_JSC_decommitUnusedMarkedBlockPages"];

export interface RuntimeEnvChoice {
  /** Keep Bun's idle GC timer (leave BUN_GC_TIMER_DISABLE out). */
  gcTimer?: boolean;
  /** Keep Bun's allocator defaults (leave the mimalloc and JavaScriptCore page settings out). */
  allocatorDefaults?: boolean;
}

/**
 * The environment for a child stack process: `base` (default: this
 * process's) with LOW_LATENCY_ENV added, less what `choice` keeps at Bun's
 * defaults. A value already in `base` wins (a user's own setting).
 */
export function lowLatencyEnv(choice: RuntimeEnvChoice = {}, base: Record<string, string | undefined> = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) out[k] = v;
  for (const [k, v] of Object.entries(LOW_LATENCY_ENV)) {
    if (k === "BUN_GC_TIMER_DISABLE" && choice.gcTimer === true) continue;
    if (ALLOCATOR_ENV_NAMES.includes(k) && choice.allocatorDefaults === true) continue;
    if (out[k] === undefined) out[k] = v;
  }
  return out;
}

/** The LOW_LATENCY_ENV names `env` does not set (to the value or any other). */
export function missingRuntimeEnv(env: Record<string, string | undefined> = process.env): string[] {
  return Object.keys(LOW_LATENCY_ENV).filter((k) => env[k] === undefined);
}

/**
 * One line for a server's start-up output when its environment lacks some of
 * LOW_LATENCY_ENV, or null when it has them all.
 */
export function runtimeEnvNote(app: string, env: Record<string, string | undefined> = process.env): string | null {
  const missing = missingRuntimeEnv(env);
  if (missing.length === 0) return null;
  const set = missing.map((k) => `${k}=${LOW_LATENCY_ENV[k]}`).join(" ");
  return `${app}: note: started without ${set} in the environment: the poll loop can stall for milliseconds in Bun's allocator and GC (src/api/runtime-env.ts)`;
}
