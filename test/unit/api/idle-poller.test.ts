/**
 * src/api/idle-poller.ts with the real build/qs-idle-poll: it starts one
 * SCHED_IDLE thread per CPU in a session of its own at autogroup nice 19,
 * and stop() ends it. Skips with a reason where it cannot run.
 */
import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { cpus } from "node:os";
import { idlePollerUnavailable, startIdlePoller } from "../../../src/api/idle-poller";

const why = idlePollerUnavailable();
if (why !== null) console.log(`skipping idle poller test: ${why}`);

/** Field 41 of /proc/<pid>/task/<tid>/stat: the scheduling policy (5 = SCHED_IDLE). */
function policy(pid: number, tid: string): number {
  const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(rest[41 - 3]);
}

test.skipIf(why !== null)("one SCHED_IDLE thread per CPU, own session at nice 19, an idle cpu cgroup where it can, all ended by stop()", async () => {
  const p = await startIdlePoller();
  if ("unavailable" in p) throw new Error(p.unavailable);
  try {
    expect(p.cpus).toBe(cpus().length);
    const tids = readdirSync(`/proc/${p.pid}/task`).filter((t) => Number(t) !== p.pid);
    expect(tids.length).toBe(p.cpus);
    for (const t of tids) expect(policy(p.pid, t)).toBe(5);
    // Its own session (setsid): the session id is its pid; the autogroup says nice 19.
    const stat = readFileSync(`/proc/${p.pid}/stat`, "utf8");
    const sid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[3]);
    expect(sid).toBe(p.pid);
    expect(readFileSync(`/proc/${p.pid}/autogroup`, "utf8")).toContain("nice 19");
    if (p.cgroup !== null) {
      // An idle cpu cgroup of its own, holding the process.
      expect(readFileSync(`${p.cgroup}/cpu.idle`, "utf8").trim()).toBe("1");
      expect(readFileSync(`${p.cgroup}/cgroup.procs`, "utf8").trim().split("\n")).toContain(String(p.pid));
    } else console.log("idle poller: no cpu cgroup here (autogroup nice 19 only)");
  } finally {
    await p.stop();
  }
  if (p.cgroup !== null) expect(existsSync(p.cgroup)).toBe(false);
  let alive = true;
  try {
    readFileSync(`/proc/${p.pid}/stat`);
  } catch {
    alive = false;
  }
  expect(alive).toBe(false);
});
