/**
 * sched_yield(2) for the poll loop: a stack thread that found nothing to do in
 * a round lets any other runnable thread on its CPU run first (the other
 * peer of a benchmark, the app's own helpers, unrelated work) instead of
 * spinning through its time slice. On a CPU with nothing else runnable the
 * call returns at once (one syscall per empty round).
 */
import { dlopen } from "bun:ffi";

let fn: (() => void) | null | undefined;

/** A function that yields the CPU, or null where libc's sched_yield cannot be loaded. */
export function cpuYieldFn(): (() => void) | null {
  if (fn !== undefined) return fn;
  try {
    const l = dlopen("libc.so.6", { sched_yield: { args: [], returns: "i32" } });
    const y = l.symbols.sched_yield;
    fn = () => {
      y();
    };
  } catch {
    fn = null;
  }
  return fn;
}
