/**
 * A microsecond sleep for a load generator's idle moments: libc usleep with the
 * thread's timer slack cut to 1 us (prctl PR_SET_TIMERSLACK: ~20 us over the
 * asked time here instead of ~70), or null where libc cannot be loaded. A
 * generator that spins between sends takes a whole core from the server and
 * everything else on a shared machine, and the kernel then preempts it for
 * milliseconds; one that sleeps between sends is woken promptly.
 */
import { dlopen } from "bun:ffi";

export function microSleeper(): ((us: number) => void) | null {
  try {
    const lib = dlopen("libc.so.6", {
      usleep: { args: ["u32"], returns: "i32" },
      prctl: { args: ["i32", "u64", "u64", "u64", "u64"], returns: "i32" },
    });
    const PR_SET_TIMERSLACK = 29;
    lib.symbols.prctl(PR_SET_TIMERSLACK, 1000, 0, 0, 0);
    const usleep = lib.symbols.usleep;
    return (us: number) => void usleep(us);
  } catch {
    return null;
  }
}
