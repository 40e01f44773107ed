/**
 * How many coroutine resumes the Scheduler runs between two clock reads
 * (its budget check; QStack checks the time about every 200 us). A read after
 * every resume would cost about as much as the resume (~25-70 ns here against
 * ~50-70 ns), so run() counts resumes and reads the clock every `steps` of
 * them, aiming at one read per `checkEveryUs`.
 *
 * The count comes from the cost of a step, and steps are not all alike: an
 * app's coroutines mix steps that do work (bench/priority's server: 100 us
 * per message) with steps that only park or hand the turn back (~0.1 us).
 * Sized from the mean of the last interval alone, a few intervals of cheap
 * steps doubled the count to 4, 8, 16 and the next run of working steps went
 * that many times 100 us before its first check: measured in bench/priority
 * as server rounds of 1.1-1.9 ms under a 200 us budget (bench/priority-gaps.ts,
 * "app sched"), during which high-priority frames waited in the rx ring.
 * So the count is sized from a decaying maximum of the mean step cost: one
 * interval of working steps sets it, and it forgets them only over many reads
 * (DECAY per read: from 100 us to 1 us in ~45 reads), while the count still
 * grows at most 2x per read and shrinks at once.
 */

/** Per clock read, the remembered slow step cost shrinks to this fraction. */
export const DECAY = 0.9;

export class CheckPacer {
  /** Resumes between clock reads. */
  steps = 1;
  /** The decaying maximum of the mean step cost between reads, us. */
  slowStepUs = 0;

  constructor(
    readonly checkEveryUs: number,
    readonly maxSteps: number,
  ) {}

  /** A clock read came `n` resumes and `elapsedUs` after the previous one: size the next interval. */
  next(n: number, elapsedUs: number): void {
    const mean = n > 0 && elapsedUs > 0 ? elapsedUs / n : 0;
    const kept = this.slowStepUs * DECAY;
    const slow = mean > kept ? mean : kept;
    this.slowStepUs = slow;
    let k = slow > 0 ? Math.floor(this.checkEveryUs / slow) : this.maxSteps;
    if (k > 2 * this.steps) k = 2 * this.steps;
    this.steps = k < 1 ? 1 : k > this.maxSteps ? this.maxSteps : k;
  }
}
