/**
 * The handle an async coroutine (Scheduler.spawnAsync) receives: its blocking
 * operations, the promise forms of the generator commands. Each resolves when
 * the Scheduler resumes the coroutine, with the same resume value the command
 * would give (coroutine-commands.ts).
 */
import { OP_PARK, OP_YIELD, SETPRIO, SLEEP, WAIT } from "./coroutine-commands";
import type { Scheduler } from "./coroutine";

/** Handle passed to an async coroutine: its blocking operations. */
export class AsyncCo {
  constructor(
    private readonly sched: Scheduler,
    readonly id: number,
  ) {}
  yield(): Promise<number> {
    return this.sched.blockAsync(this.id, OP_YIELD);
  }
  sleep(us: number): Promise<number> {
    return this.sched.blockAsync(this.id, SLEEP(us));
  }
  wait(eventId: number): Promise<number> {
    return this.sched.blockAsync(this.id, WAIT(eventId));
  }
  park(): Promise<number> {
    return this.sched.blockAsync(this.id, OP_PARK);
  }
  setPrio(prio: number): Promise<number> {
    return this.sched.blockAsync(this.id, SETPRIO(prio));
  }
}
