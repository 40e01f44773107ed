/**
 * The runtime's helper threads under a pinned layout (issue 5's tail): Bun
 * (JavaScriptCore) runs JIT compilers ("JITWorker"), GC helpers
 * ("HeapHelper"), the allocator's scavenger ("mi-scavenger") and a warm-up
 * thread beside each JS thread. Pinning the stack thread (pinThread) leaves
 * them free to run on any CPU, including the CPU of another process's
 * latency-critical thread: measured on bench/priority with --pin, each
 * process's JIT threads ran 0.6-0.8 s of the 7 s of bursts, most of it on the
 * other process's pinned CPU, and that process waited as long for its CPU.
 *
 * A deployment with spare cores would keep them off the stack cores
 * (isolcpus, a cpuset). With none to spare, the equivalent is to give them
 * only the CPU time the stack threads leave: SCHED_IDLE (sched(7)). A
 * SCHED_OTHER thread that wakes up preempts an idle-policy thread at once,
 * and an idle-policy thread gets weight 3 against 1,024 while both want the
 * CPU, so a stack thread that sleeps between bursts gets its CPU back on
 * waking and one that spins keeps ~99.7 % of it. The helpers still run on
 * idle time (a spinning stack thread's process has another CPU, or the other
 * process's idle moments): JIT compilation and concurrent GC happen later,
 * they are not turned off (turning them off was measured worse: stop-the-
 * world GC pauses).
 *
 * Threads are told apart by name (/proc/self/task/TID/comm): only names of the
 * runtime's helpers are touched, never a Worker that runs a stack or an app.
 * JavaScriptCore ends an idle helper after a while and starts a new one when
 * work comes (from the thread that has the work: a new helper inherits the
 * stack thread's pinning and policy), so `sweep` is repeated, slowly, by the
 * HelperThreadSweep stage.
 */
import { readdirSync, readFileSync } from "node:fs";
import { SCHED_IDLE, SCHED_OTHER, setThreadAffinity, setThreadPolicy, threadPolicy } from "../../../ffi/sched-policy";
import type { PollStage } from "../poll-loop";

/** Names (comm, up to 15 bytes; a longer name keeps its tail: "ollector Thread" is the GC collector) of Bun's and JavaScriptCore's helper threads. */
export const HELPER_THREAD = /^(JITWorker|HeapHelper|Heap Helper|JSCWarmUp|mi-scavenger|JSC Heap|Bun Pool|HTTP Client)|ollector Thread$/;

export interface HelperSweepResult {
  /** Helper threads seen. */
  helpers: number;
  /** Of them, moved to SCHED_IDLE (or re-allowed) by this sweep. */
  changed: number;
  errors: string[];
}

function comm(tid: string): string {
  try {
    return readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/**
 * Put this process's runtime helper threads at SCHED_IDLE, allowed on `cpus`
 * (null: leave their CPU mask). Threads already idle are left alone, so a
 * repeated sweep only reads names.
 */
export function sweepHelperThreads(cpus: readonly number[] | null = null): HelperSweepResult {
  const r: HelperSweepResult = { helpers: 0, changed: 0, errors: [] };
  for (const tid of helperThreadIds(r)) {
    if (threadPolicy(tid) === SCHED_IDLE) continue;
    const e1 = setThreadPolicy(tid, SCHED_IDLE);
    const e2 = cpus === null ? null : setThreadAffinity(tid, cpus);
    if (e1 !== null) r.errors.push(e1);
    if (e2 !== null) r.errors.push(e2);
    if (e1 === null) r.changed++;
  }
  return r;
}

/** This process's helper threads (HELPER_THREAD names), counted in `r.helpers`; an error in `r` where /proc has no task list. */
function helperThreadIds(r: HelperSweepResult): number[] {
  let tids: string[];
  try {
    tids = readdirSync("/proc/self/task");
  } catch {
    r.errors.push("no /proc/self/task (not Linux?)");
    return [];
  }
  const out: number[] = [];
  for (const t of tids) if (HELPER_THREAD.test(comm(t))) out.push(Number(t));
  r.helpers += out.length;
  return out;
}

/**
 * The inverse of sweepHelperThreads for a process started by a SCHED_IDLE
 * parent: the helper threads the runtime started before the process could
 * set its own policy inherited SCHED_IDLE; this puts them back at
 * SCHED_OTHER (so the JIT can finish its work in a warm-up). Returns how
 * many it changed.
 */
export function releaseHelperThreads(): HelperSweepResult {
  const r: HelperSweepResult = { helpers: 0, changed: 0, errors: [] };
  for (const tid of helperThreadIds(r)) {
    if (threadPolicy(tid) !== SCHED_IDLE) continue;
    const e = setThreadPolicy(tid, SCHED_OTHER);
    if (e !== null) r.errors.push(e);
    else r.changed++;
  }
  return r;
}

/**
 * A poll stage that repeats the sweep every `everyUs` (default 1 s; one
 * directory read and a name read per thread, ~0.1 ms), for helpers the
 * runtime starts later.
 */
export class HelperThreadSweep implements PollStage {
  sweeps = 0;
  changed = 0;
  errors: string[] = [];
  private nextUs = 0;

  constructor(
    private readonly cpus: readonly number[] | null = null,
    private readonly everyUs = 1_000_000,
  ) {}

  poll(nowUs: number): number {
    if (nowUs < this.nextUs) return 0;
    this.nextUs = nowUs + this.everyUs;
    const r = sweepHelperThreads(this.cpus);
    this.sweeps++;
    this.changed += r.changed;
    if (r.errors.length > 0 && this.errors.length < 8) this.errors.push(...r.errors.slice(0, 8 - this.errors.length));
    return 0;
  }

  pollAt(): number {
    return this.nextUs;
  }
}
