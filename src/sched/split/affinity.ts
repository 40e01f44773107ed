/**
 * CPU pinning for the thread layout (src/api/layout.ts): pin the calling thread
 * (the main thread or a Worker) to one CPU.
 *
 * How: sched_setaffinity(2) on the calling thread's id. The shim (c-shim/,
 * ffi/shim.ts) does not export it (it only saves/restores the mask around EAL
 * init), and only ffi/ may use bun:ffi, so this asks util-linux's `taskset`
 * (which calls sched_setaffinity) for the thread id read from /proc/thread-self.
 * It runs once per thread at start, never on the datapath. A shim entry
 * (qs_set_affinity(cpu)) would remove the process spawn; see the split-mode report.
 */
import { readFileSync, readlinkSync } from "node:fs";

/** The calling thread's kernel thread id (Linux), or -1. */
export function threadId(): number {
  try {
    const m = /task\/(\d+)$/.exec(readlinkSync("/proc/thread-self"));
    return m ? Number(m[1]) : -1;
  } catch {
    return -1;
  }
}

/** CPUs the calling thread may run on, as the kernel lists them ("0-1", "1"), or "" when unknown. */
export function allowedCpus(): string {
  try {
    const m = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync("/proc/thread-self/status", "utf8"));
    return m ? m[1]! : "";
  } catch {
    return "";
  }
}

/** Pin the calling thread to `cpu`. Returns null on success or why it failed. */
export function pinThread(cpu: number): string | null {
  const tid = threadId();
  if (tid < 0) return "no /proc/thread-self (not Linux?)";
  if (Bun.which("taskset") === null) return "taskset not installed (util-linux)";
  const r = Bun.spawnSync(["taskset", "-p", "-c", String(cpu), String(tid)], { stdout: "ignore", stderr: "pipe" });
  if (r.exitCode !== 0) return `taskset -p -c ${cpu} ${tid} failed: ${r.stderr.toString().trim()}`;
  return allowedCpus() === String(cpu) ? null : `thread ${tid} still allowed on ${allowedCpus()}`;
}
