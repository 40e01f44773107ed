/**
 * A scheduling priority for a latency-critical stack thread that the kernel's
 * fair scheduler respects (issue 5: with priority on, the high class's tail
 * on a shared machine is time spent waiting for a CPU).
 *
 * Two levels, as a deployment gives a latency-critical service more CPU
 * weight than its neighbours (systemd CPUWeight=, a cgroup's cpu.weight):
 *   - between processes: with the kernel's autogroup on, CFS shares a CPU
 *     between sessions first, then between the threads of a session, so a
 *     thread's own nice value only counts inside its session. The process
 *     starts its own session (setsid: its own group, as a service started on
 *     its own is) and sets the group's nice (/proc/self/autogroup, sched(7)).
 *   - inside the process: the stack thread's own nice value, against the
 *     runtime's helper threads (see helper-threads.ts for putting those at
 *     SCHED_IDLE).
 *   - on wake-up (sliceUs > 0): a custom EEVDF slice (sched_setattr's
 *     sched_runtime, Linux 6.12+): a stack thread that sleeps between sends
 *     or bursts and wakes with a shorter slice than the running thread's
 *     preempts it at once instead of waiting up to that thread's slice.
 * Raising priority (a negative nice) needs CAP_SYS_NICE (root here). Called
 * once at start, never on a datapath.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { newSession, setThreadNice, setThreadSlice } from "../../../ffi/sched-policy";
import { threadId } from "./affinity";

export interface StackPriorityResult {
  /** The process's scheduling group after the change ("/autogroup-N nice X"), or "" without autogroup. */
  group: string;
  errors: string[];
}

/** Give the calling (stack) thread nice `nice` (and a slice of `sliceUs` when > 0), and its process its own autogroup at the same nice. */
export function raiseStackThread(nice: number, sliceUs = 0): StackPriorityResult {
  const errors: string[] = [];
  if (!Number.isInteger(nice) || nice < -20 || nice > 19) return { group: "", errors: [`nice ${nice}: expected -20..19`] };
  let autogroup = false;
  try {
    autogroup = readFileSync("/proc/sys/kernel/sched_autogroup_enabled", "utf8").trim() === "1";
  } catch {
    // no autogroup: the thread's nice is all there is
  }
  let group = "";
  if (autogroup) {
    const e = newSession();
    if (e !== null) errors.push(e);
    try {
      writeFileSync("/proc/self/autogroup", String(nice));
      group = readFileSync("/proc/self/autogroup", "utf8").trim();
    } catch (x) {
      errors.push(`/proc/self/autogroup: ${(x as Error).message}`);
    }
  }
  const tid = threadId();
  const e = tid < 0 ? "no thread id" : sliceUs > 0 ? setThreadSlice(tid, nice, sliceUs) : setThreadNice(tid, nice);
  if (e !== null) errors.push(e);
  return { group, errors };
}
