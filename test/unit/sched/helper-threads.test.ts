/**
 * The runtime's helper threads at SCHED_IDLE (src/sched/split/helper-threads.ts)
 * and the stack thread's priority (stack-priority.ts), through libc
 * (ffi/sched-policy.ts). The changes are made in a child Bun process (the test
 * runner's own JIT and GC threads keep their policy), which reports every
 * thread's name, policy and nice from /proc.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { HELPER_THREAD } from "../../../src/sched/split/helper-threads";

const linux = existsSync("/proc/self/task");
const root = join(import.meta.dir, "../../..");

const CHILD = `
import { readdirSync, readFileSync } from "node:fs";
import { sweepHelperThreads } from "${root}/src/sched/split/helper-threads";
import { setThreadNice } from "${root}/ffi/sched-policy";
import { threadId } from "${root}/src/sched/split/affinity";
// Make the JIT busy so its threads exist.
let x = 0; for (let i = 0; i < 3e6; i++) x += Math.sqrt(i);
const first = sweepHelperThreads([0]);
const again = sweepHelperThreads([0]);
const nice = setThreadNice(threadId(), 5);
const threads = readdirSync("/proc/self/task").map((t) => {
  const st = readFileSync("/proc/self/task/" + t + "/stat", "utf8");
  const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
  const allowed = /Cpus_allowed_list:\\s*(\\S+)/.exec(readFileSync("/proc/self/task/" + t + "/status", "utf8"))?.[1];
  return { tid: Number(t), comm: readFileSync("/proc/self/task/" + t + "/comm", "utf8").trim(), nice: Number(f[16]), policy: Number(f[38]), allowed };
});
console.log(JSON.stringify({ main: threadId(), first, again, nice, threads, x: x > 0 }));
`;

const SLICE_CHILD = `
import { readFileSync } from "node:fs";
import { raiseStackThread } from "${root}/src/sched/split/stack-priority";
const r = raiseStackThread(-3, 250);
const sched = readFileSync("/proc/thread-self/sched", "utf8");
const slice = /se\\.slice\\s*:\\s*(\\d+)/.exec(sched)?.[1];
const st = readFileSync("/proc/thread-self/stat", "utf8");
const nice = Number(st.slice(st.lastIndexOf(")") + 2).split(" ")[16]);
console.log(JSON.stringify({ r, slice: slice === undefined ? null : Number(slice), nice, group: readFileSync("/proc/self/autogroup", "utf8").trim() }));
`;
function readOr(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
const hasSlice = linux && process.arch === "x64" && /se\.slice/.test(readOr("/proc/thread-self/sched"));
if (!linux) console.log("skip: helper-thread sweep needs Linux /proc/self/task");
else if (!hasSlice) console.log("skip: raiseStackThread slice test needs x64 and a kernel that shows se.slice (EEVDF, Linux 6.12+)");

describe("helper threads and stack thread priority", () => {
  test("helper names: JavaScriptCore's and Bun's helpers, not a stack or app thread", () => {
    for (const n of ["JITWorker", "HeapHelper", "JSCWarmUp", "mi-scavenger", "Bun Pool 0", "ollector Thread"]) expect(HELPER_THREAD.test(n)).toBe(true);
    for (const n of ["bun", "bun.exe", "eal-intr-thread", "Worker", "rte_mp_handle"]) expect(HELPER_THREAD.test(n)).toBe(false);
  });

  test.skipIf(!linux)("a sweep puts every helper at SCHED_IDLE on the given CPUs and leaves the main thread alone; a second sweep changes nothing", () => {
    const r = Bun.spawnSync([process.execPath, "-e", CHILD], { stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(0);
    const o = JSON.parse(r.stdout.toString()) as {
      main: number;
      first: { helpers: number; changed: number; errors: string[] };
      again: { helpers: number; changed: number; errors: string[] };
      nice: string | null;
      threads: { tid: number; comm: string; nice: number; policy: number; allowed: string }[];
    };
    expect(o.first.errors).toEqual([]);
    expect(o.first.helpers).toBeGreaterThan(0);
    expect(o.first.changed).toBe(o.first.helpers);
    expect(o.again.changed).toBe(0);
    expect(o.nice).toBeNull();
    const main = o.threads.find((t) => t.tid === o.main)!;
    expect(main.policy).toBe(0);
    expect(main.nice).toBe(5);
    const helpers = o.threads.filter((t) => HELPER_THREAD.test(t.comm));
    expect(helpers.length).toBeGreaterThanOrEqual(o.first.helpers);
    for (const t of helpers.filter((h) => h.tid !== o.main)) {
      // Threads the runtime started after the sweep are not swept yet.
      if (t.policy === 0) continue;
      expect(t.policy).toBe(5);
      expect(t.allowed).toBe("0");
    }
    expect(helpers.filter((t) => t.policy === 5).length).toBe(o.first.changed);
  });

  // The kernel shows se.slice (EEVDF, 6.6+) and takes a custom one from sched_setattr (6.12+); x86-64 system call number.
  test.skipIf(!hasSlice)("raiseStackThread: own session's autogroup and the thread at the nice, the thread's EEVDF slice as asked", () => {
    const r = Bun.spawnSync([process.execPath, "-e", SLICE_CHILD], { stdout: "pipe", stderr: "pipe" });
    expect(r.exitCode).toBe(0);
    const o = JSON.parse(r.stdout.toString()) as { r: { group: string; errors: string[] }; slice: number | null; nice: number; group: string };
    expect(o.r.errors).toEqual([]);
    expect(o.nice).toBe(-3);
    expect(o.slice).toBe(250_000);
    if (o.group !== "") expect(o.group).toMatch(/nice -3$/);
  });
});

describe("releaseHelperThreads", () => {
  const RELEASE_CHILD = `
import { readdirSync, readFileSync } from "node:fs";
import { HELPER_THREAD, releaseHelperThreads, sweepHelperThreads } from "${root}/src/sched/split/helper-threads";
let x = 0; for (let i = 0; i < 3e6; i++) x += Math.sqrt(i);
const policies = () => readdirSync("/proc/self/task").filter((t) => HELPER_THREAD.test(readFileSync("/proc/self/task/" + t + "/comm", "utf8").trim())).map((t) => {
  const st = readFileSync("/proc/self/task/" + t + "/stat", "utf8");
  return Number(st.slice(st.lastIndexOf(")") + 2).split(" ")[38]);
});
const swept = sweepHelperThreads(null);
const idle = policies();
const released = releaseHelperThreads();
console.log(JSON.stringify({ swept: swept.changed, idle, released: released.changed, errors: released.errors, after: policies() }));
`;
  // Leaving SCHED_IDLE takes root (or RLIMIT_NICE) since Linux 2.6.39.
  const root0 = process.getuid?.() === 0;
  if (linux && !root0) console.log("skipping releaseHelperThreads test: not root");
  test.skipIf(!linux || !root0)("puts helper threads at SCHED_IDLE back at SCHED_OTHER", async () => {
    const p = Bun.spawn([process.execPath, "-e", RELEASE_CHILD], { stdout: "pipe", stderr: "pipe" });
    const out = await new Response(p.stdout).text();
    expect(await p.exited).toBe(0);
    const r = JSON.parse(out.trim().split("\n").pop()!);
    expect(r.swept).toBeGreaterThan(0);
    expect(r.idle.every((x: number) => x === 5)).toBe(true);
    expect(r.released).toBe(r.idle.length);
    expect(r.errors).toEqual([]);
    expect(r.after.every((x: number) => x === 0)).toBe(true);
  });
});
