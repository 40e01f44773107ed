/**
 * The idle poller (build/qs-idle-poll, c-tools/idle-poll.c): a process that
 * keeps every CPU from halting, at SCHED_IDLE in a cpu cgroup of its own with
 * cpu.idle = 1 (else an autogroup at nice 19), so it only runs when nothing
 * else wants a CPU and gives way at once to a thread that wakes.
 *
 * What it is for: a stack whose poll loop sleeps when idle (shared cores:
 * the default outside --busy-poll) on a VM whose halted vCPUs take the
 * hypervisor milliseconds to resume. On this repository's Firecracker VM,
 * bench iotep at 300,000 connections saw 5.5 % of the CPU time as "steal"
 * (/proc/stat) and a wire request p99 of 5.3 ms; with the poller running,
 * 0.15 % and 0.85 ms (README). Dedicated cores under --busy-poll never halt
 * and do not need it. Its price: the CPUs look 100 % busy to the hypervisor
 * and the host (power, a cloud's CPU credits), and ~1.5 % of a CPU that
 * another process keeps busy.
 *
 * The benchmarks start it around their measured runs (bench iotep, npm
 * start, bench priority; --no-idle-poller leaves it out).
 */
import { existsSync, rmdirSync } from "node:fs";
import { join } from "node:path";

export const IDLE_POLLER_PATH = join(import.meta.dir, "..", "..", "build", "qs-idle-poll");

export interface IdlePoller {
  readonly pid: number;
  /** CPUs it keeps awake. */
  readonly cpus: number;
  /** Its cpu cgroup with cpu.idle = 1 (removed by stop()), or null where it could not make one (then autogroup nice 19 only). */
  readonly cgroup: string | null;
  /** End it (SIGTERM) and wait for it. */
  stop(): Promise<void>;
}

/** Why the poller cannot run here, or null when it can. */
export function idlePollerUnavailable(): string | null {
  if (process.platform !== "linux") return "not Linux";
  if (!existsSync(IDLE_POLLER_PATH)) return `${IDLE_POLLER_PATH} is not built (npm run setup, or scripts/build-shim)`;
  return null;
}

/** Start the poller and wait until its threads run (its first line); null, with the reason, when it cannot run. */
export async function startIdlePoller(timeoutMs = 5000): Promise<IdlePoller | { unavailable: string }> {
  const why = idlePollerUnavailable();
  if (why !== null) return { unavailable: why };
  const p = Bun.spawn([IDLE_POLLER_PATH], { stdin: "ignore", stdout: "pipe", stderr: "inherit" });
  const reader = p.stdout.getReader();
  let text = "";
  const deadline = Date.now() + timeoutMs;
  while (!/kept awake\n/.test(text) && Date.now() < deadline) {
    const r = await Promise.race([reader.read(), Bun.sleep(Math.max(1, deadline - Date.now())).then(() => null)]);
    if (r === null || r.done === true) break;
    text += new TextDecoder().decode(r.value);
  }
  reader.releaseLock();
  const m = /(\d+) CPUs kept awake/.exec(text);
  const group = /cgroup (\/\S+)/.exec(text)?.[1] ?? null;
  if (m === null) {
    p.kill("SIGKILL");
    await p.exited;
    removeGroup(group);
    return { unavailable: `qs-idle-poll did not start (${text.trim() || `exit ${String(p.exitCode)}`})` };
  }
  return {
    pid: p.pid,
    cpus: Number(m[1]),
    cgroup: group,
    async stop() {
      if (p.exitCode === null) p.kill("SIGTERM");
      await p.exited;
      removeGroup(group);
    },
  };
}

/** The poller's idle cgroup, empty once it has exited (null: none). */
function removeGroup(dir: string | null): void {
  if (dir === null) return;
  try {
    rmdirSync(dir);
  } catch {
    // already gone
  }
}
