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

/** What AsyncSlots needs of its Scheduler: end a coroutine normally, or with an error. */
export interface AsyncHost {
  release(id: number): void;
  fail(id: number, err: unknown): void;
}

/**
 * The Scheduler's per-coroutine state for async coroutines (spawnAsync), by
 * coroutine id: the function not yet started, the pending promise's resolve
 * and reject, and an incarnation that tells a finished coroutine's late
 * settlement from its id's next owner. Grown with the Scheduler's slots.
 */
export class AsyncSlots {
  private fns: (((co: AsyncCo) => Promise<unknown>) | null)[] = [];
  private resolvers: (((v: number) => void) | null)[] = [];
  private rejecters: (((e: unknown) => void) | null)[] = [];
  private started: Uint8Array = new Uint8Array(0);
  private incarnation: Int32Array = new Int32Array(0);

  constructor(
    private readonly sched: Scheduler,
    private readonly host: AsyncHost,
  ) {}

  /** Coroutine `id` is async: fn(co) is called at its first turn. */
  set(id: number, fn: (co: AsyncCo) => Promise<unknown>): void {
    this.fns[id] = fn;
    this.started[id] = 0;
  }

  /** Its turn: start it, or resolve the promise it is blocked on with `v`. */
  turn(id: number, v: number): void {
    if (this.started[id] === 0) {
      this.started[id] = 1;
      this.start(id);
      return;
    }
    const res = this.resolvers[id]!;
    this.resolvers[id] = null;
    this.rejecters[id] = null;
    res(v);
  }

  private start(id: number): void {
    const fn = this.fns[id]!;
    this.fns[id] = null;
    const inc = this.incarnation[id]!;
    let p: Promise<unknown>;
    try {
      p = fn(new AsyncCo(this.sched, id));
    } catch (e) {
      this.host.fail(id, e);
      return;
    }
    p.then(
      () => {
        if (this.incarnation[id] === inc) this.host.release(id);
      },
      (e) => {
        if (this.incarnation[id] === inc) this.host.fail(id, e);
      },
    );
  }

  /** A promise that blocks coroutine `id` until its next turn; `apply` files the command. */
  block(id: number, apply: () => void): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.resolvers[id] = resolve;
      this.rejecters[id] = reject;
      apply();
    });
  }

  /** The reject of the promise `id` is blocked on, if any. */
  rejecter(id: number): ((e: unknown) => void) | null {
    return this.rejecters[id] ?? null;
  }

  /** Coroutine `id` ended: forget it (a late settlement of its promise is ignored). */
  clear(id: number): void {
    this.fns[id] = null;
    this.resolvers[id] = null;
    this.rejecters[id] = null;
    this.incarnation[id]++;
  }

  grow(newCap: number): void {
    const s = new Uint8Array(newCap);
    s.set(this.started);
    this.started = s;
    const inc = new Int32Array(newCap);
    inc.set(this.incarnation);
    this.incarnation = inc;
    for (let i = this.fns.length; i < newCap; i++) {
      this.fns.push(null);
      this.resolvers.push(null);
      this.rejecters.push(null);
    }
  }
}
