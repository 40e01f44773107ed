/**
 * The calling thread's CPU time (clock_gettime(CLOCK_THREAD_CPUTIME_ID), a
 * syscall: ~1 us here), exact to the call: /proc/thread-self/schedstat's CPU
 * field is not brought up to date for a thread that is running, so it lags by
 * up to a scheduler tick (4 ms at HZ=250) and cannot split a gap of a few
 * milliseconds. Diagnosis only (bench/priority-gaps.ts), never per packet.
 */
import { dlopen } from "bun:ffi";

const CLOCK_THREAD_CPUTIME_ID = 3;

/** A function returning this thread's CPU time in us, or null where libc cannot be loaded. */
export function threadCpuClock(): (() => number) | null {
  try {
    const l = dlopen("libc.so.6", { clock_gettime: { args: ["i32", "ptr"], returns: "i32" } });
    const f = l.symbols.clock_gettime;
    // struct timespec: tv_sec (i64), tv_nsec (i64); both fit 32 bits here (seconds of thread CPU, ns < 1e9).
    // Passed as the array itself each call: a pointer taken once to a small typed array can go stale.
    const ts = new Int32Array(4);
    return () => {
      if (f(CLOCK_THREAD_CPUTIME_ID, ts) !== 0) return -1;
      return ts[0]! * 1e6 + ts[2]! / 1000;
    };
  } catch {
    return null;
  }
}
