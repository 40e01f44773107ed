/**
 * Per-thread scheduling through libc (bun:ffi stays in ffi/): the policy
 * (sched_setscheduler(2)), the CPU mask (sched_setaffinity(2)) and the nice
 * value (setpriority(2), per thread on Linux) of a thread given by its kernel
 * id. Called a few times per process at start (and by a slow sweep for
 * helper threads the runtime creates later), never on a datapath.
 *
 * Linux semantics used by the thread layout (src/sched/split/affinity.ts):
 * a SCHED_IDLE thread runs only in CPU time that SCHED_OTHER threads leave
 * (weight 3 against 1,024 at nice 0), and a SCHED_OTHER thread that wakes up
 * preempts it at once (kernel/sched/fair.c: an idle entity is always
 * preempted by a non-idle one).
 */
import { dlopen, read } from "bun:ffi";

export const SCHED_OTHER = 0;
export const SCHED_BATCH = 3;
export const SCHED_IDLE = 5;
/** OR'ed into a policy by the kernel's reset-on-fork flag (sched(7)); it resets real-time policies and negative nice in children, not SCHED_IDLE. */
export const SCHED_RESET_ON_FORK = 0x40000000;
const PRIO_PROCESS = 0;
/** sizeof(cpu_set_t) in glibc: 1,024 CPUs. */
const CPU_SET_BYTES = 128;

type Lib = {
  sched_setscheduler: (tid: number, policy: number, param: Int32Array) => number;
  sched_getscheduler: (tid: number) => number;
  sched_setaffinity: (tid: number, size: number, mask: Uint8Array) => number;
  setpriority: (which: number, who: number, prio: number) => number;
  setsid: () => number;
  syscall4: (nr: number, a: number, b: Uint8Array, c: number) => number;
  errno: () => number;
};

let lib: Lib | null | undefined;

function libc(): Lib | null {
  if (lib !== undefined) return lib;
  try {
    const l = dlopen("libc.so.6", {
      sched_setscheduler: { args: ["i32", "i32", "ptr"], returns: "i32" },
      sched_getscheduler: { args: ["i32"], returns: "i32" },
      sched_setaffinity: { args: ["i32", "u32", "ptr"], returns: "i32" },
      setpriority: { args: ["i32", "u32", "i32"], returns: "i32" },
      setsid: { args: [], returns: "i32" },
      syscall: { args: ["i64", "i64", "ptr", "i64"], returns: "i64" },
      __errno_location: { args: [], returns: "ptr" },
    });
    const s = l.symbols;
    lib = {
      sched_setscheduler: (t, p, param) => s.sched_setscheduler(t, p, param),
      sched_getscheduler: (t) => s.sched_getscheduler(t),
      sched_setaffinity: (t, n, m) => s.sched_setaffinity(t, n, m),
      setpriority: (w, who, p) => s.setpriority(w, who, p),
      setsid: () => s.setsid(),
      syscall4: (nr, a, b, c) => Number(s.syscall(nr, a, b, c)),
      // errno is thread-local: read right after the failing call, on the same thread.
      errno: () => {
        const p = s.__errno_location();
        return p === null ? 0 : read.i32(p, 0);
      },
    };
  } catch {
    lib = null;
  }
  return lib;
}

/** Set `tid`'s policy (SCHED_OTHER/BATCH/IDLE). Returns null or why it failed. */
export function setThreadPolicy(tid: number, policy: number): string | null {
  const l = libc();
  if (l === null) return "libc not loadable";
  const param = new Int32Array(1); // sched_priority 0: the only value the non-real-time policies take
  const r = l.sched_setscheduler(tid, policy, param);
  return r === 0 ? null : `sched_setscheduler(${tid}, ${policy}) failed (errno ${l.errno()})`;
}

/** `tid`'s policy without SCHED_RESET_ON_FORK, or -1. */
export function threadPolicy(tid: number): number {
  const l = libc();
  if (l === null) return -1;
  const r = l.sched_getscheduler(tid);
  return r < 0 ? -1 : r & ~SCHED_RESET_ON_FORK;
}

/** Allow `tid` on exactly `cpus`. Returns null or why it failed. */
export function setThreadAffinity(tid: number, cpus: readonly number[]): string | null {
  const l = libc();
  if (l === null) return "libc not loadable";
  const mask = new Uint8Array(CPU_SET_BYTES);
  for (const c of cpus) {
    if (!Number.isInteger(c) || c < 0 || c >= CPU_SET_BYTES * 8) return `bad CPU ${c}`;
    mask[c >> 3]! |= 1 << (c & 7);
  }
  const r = l.sched_setaffinity(tid, CPU_SET_BYTES, mask);
  return r === 0 ? null : `sched_setaffinity(${tid}, [${cpus.join(",")}]) failed (errno ${l.errno()})`;
}

/** Set `tid`'s nice value (-20..19; lowering it needs CAP_SYS_NICE). Returns null or why it failed. */
export function setThreadNice(tid: number, nice: number): string | null {
  const l = libc();
  if (l === null) return "libc not loadable";
  const r = l.setpriority(PRIO_PROCESS, tid, nice);
  return r === 0 ? null : `setpriority(${tid}, ${nice}) failed (errno ${l.errno()})`;
}

/**
 * Start a new session (setsid(2)) for this process. With the kernel's
 * autogroup on (/proc/sys/kernel/sched_autogroup_enabled), a new session is a
 * new scheduling group, as a separately started service would be. Fails
 * (EPERM) in a process group leader. Returns null or why it failed.
 */
export function newSession(): string | null {
  const l = libc();
  if (l === null) return "libc not loadable";
  return l.setsid() >= 0 ? null : `setsid failed (errno ${l.errno()})`;
}

/** x86-64 system call number of sched_setattr(2) (glibc 2.36 has no wrapper). */
const SYS_SCHED_SETATTR_X64 = 314;
/** struct sched_attr, SCHED_ATTR_SIZE_VER0. */
const SCHED_ATTR_SIZE = 48;

/**
 * Set `tid` to SCHED_OTHER at `nice` with a custom slice of `sliceUs`
 * (sched_setattr(2) with sched_runtime; Linux 6.12+ EEVDF, 100 us .. 100 ms):
 * a thread with a shorter slice than the one running preempts it when it
 * wakes up (the scheduler's PREEMPT_SHORT), instead of waiting for that
 * thread's slice (~3 ms) to end. x86-64 only. Returns null or why it failed.
 */
export function setThreadSlice(tid: number, nice: number, sliceUs: number): string | null {
  if (process.arch !== "x64") return `sched_setattr: system call number known for x64 only (${process.arch})`;
  const l = libc();
  if (l === null) return "libc not loadable";
  const a = new Uint8Array(SCHED_ATTR_SIZE);
  const dv = new DataView(a.buffer);
  dv.setUint32(0, SCHED_ATTR_SIZE, true); // size
  dv.setUint32(4, SCHED_OTHER, true); // sched_policy
  // sched_flags (u64) at 8: 0
  dv.setInt32(16, nice, true); // sched_nice
  // sched_priority (u32) at 20: 0
  dv.setBigUint64(24, BigInt(Math.round(sliceUs * 1000)), true); // sched_runtime, ns
  const r = l.syscall4(SYS_SCHED_SETATTR_X64, tid, a, 0);
  return r === 0 ? null : `sched_setattr(${tid}, slice ${sliceUs} us) failed (errno ${l.errno()})`;
}
