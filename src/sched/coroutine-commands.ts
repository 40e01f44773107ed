/**
 * The commands a coroutine yields to the Scheduler (coroutine.ts), and the
 * coroutine states. A command is a plain number, so yielding allocates
 * nothing: `arg * 8 + op`, the operation in the low 3 bits and its argument
 * (microseconds, an event id, a class) above; arguments up to 2^50 are exact.
 * `yield` with no value is YIELD.
 */

/** What a coroutine yields: a command number, or nothing (= YIELD). */
export type Command = number | undefined | void;
/** A generator coroutine: yields commands, receives resume values. */
export type Coroutine = Generator<Command, void, number>;

export const OP_YIELD = 0;
export const OP_SLEEP = 1;
export const OP_WAIT = 2;
export const OP_PARK = 3;
export const OP_PRIO = 4;

/** Back to the tail of the run queue of the coroutine's class. */
export const YIELD = OP_YIELD;
/** Block until Scheduler.wake(id); a wake that came first (a permit) makes it return at once. */
export const PARK = OP_PARK;
/** Sleep `us` microseconds of scheduler time (rounded up; <= 0 is a YIELD). */
export function SLEEP(us: number): number {
  return (us > 0 ? Math.ceil(us) : 0) * 8 + OP_SLEEP;
}
/** Block until Scheduler.signal(eventId). */
export function WAIT(eventId: number): number {
  return eventId * 8 + OP_WAIT;
}
/** Move to class `prio` (clamped to the last class) and yield. */
export function SETPRIO(prio: number): number {
  return prio * 8 + OP_PRIO;
}

/** Coroutine states. */
export const CoState = {
  Free: 0,
  Ready: 1,
  Running: 2,
  Sleeping: 3,
  Waiting: 4,
  Parked: 5,
  /** An async coroutine whose code runs outside run() (in microtasks or awaiting I/O). */
  Outside: 6,
} as const;
