/**
 * User-level threads with priorities (QStack runs app work in libco
 * coroutines; we use what JavaScript has). Measured with bench/sched.ts on
 * this 2-core VM while other jobs ran (best round / median, ns per switch,
 * 1,000 tasks): hand-written state machine 2 / 4.4, generator resume + yield
 * 7 / 9, async function woken through a promise 65 / 280 (FACTS.md: 0.4, 7,
 * 24-65). A state machine is not something app code can be written in, so
 * coroutines are generators (`function*`) that `yield` a command to this
 * scheduler; async functions are supported too (spawnAsync) for app code that
 * awaits promises (ioredis). Through the Scheduler, queueing included, a
 * generator resume costs ~50-70 ns and an async one ~120-250 ns.
 *
 * Commands are plain numbers (no allocation): op in the low 3 bits of
 * `arg * 8 + op`. A coroutine yields:
 *   yield;  or  yield YIELD      back to the tail of its class's run queue
 *   yield SLEEP(us)              sleep `us` microseconds of scheduler time
 *   yield WAIT(eventId)          wait until signal(eventId) (0 <= eventId < opts.events)
 *   yield PARK                   wait until wake(id); a wake that came first is kept (a permit)
 *   yield SETPRIO(p)             move to class p and yield
 * and the `yield` expression evaluates to the resume value: the value given to
 * wake / signal (default 1), or 0 after YIELD, SETPRIO or a SLEEP that ran out.
 * wake(id) also ends a SLEEP or WAIT early.
 *
 * Scheduling: one FIFO run queue per class (intrusive lists over Int32Arrays),
 * class 0 first; within a class strict FIFO, so coroutines that yield take
 * turns (fairness). `run(nowUs)` resumes ready coroutines until none is ready
 * or the stack has not polled for `budgetUs` (QStack: 1,000 us): then it
 * returns so the poll loop can receive (and classify high-priority traffic).
 * Reading the clock after every resume would cost more than the resume, so
 * run() reads it after a number of resumes it adapts to span about
 * `checkEveryUs` (QStack: checked every 200 us; at most `maxCheckSteps`
 * resumes between reads, which bounds the overshoot when steps get slow),
 * sized by the slowest recent steps (check-pacer.ts).
 *
 * Async functions: spawnAsync(fn, prio) calls fn(co) in run() at its first
 * turn; `await co.yield()`, `co.sleep(us)`, `co.wait(ev)`, `co.park()`,
 * `co.setPrio(p)` block it like the commands above, and run() resumes it in
 * priority order by resolving its promise. Its code then runs at the next
 * microtask checkpoint, after run() returns, so the budget covers the
 * admission, not the work: run() admits at most `asyncPerRun` async turns.
 *
 * Time is injected (`clock`, integer microseconds); tests use a manual clock.
 */
import { AsyncSlots, type AsyncCo } from "./async-co";
import { CheckPacer } from "./check-pacer";
import { CoState, OP_PARK, OP_PRIO, OP_SLEEP, OP_WAIT, OP_YIELD, type Command, type Coroutine } from "./coroutine-commands";
import { DeadlineHeap } from "./deadline-heap";
import type { PollStage } from "./poll-loop";

export { AsyncCo } from "./async-co";
export { CoState, PARK, SETPRIO, SLEEP, WAIT, YIELD, type Command, type Coroutine } from "./coroutine-commands";

const KIND_GEN = 0;
const KIND_ASYNC = 1;
const MAX_CLASSES = 8;

export interface SchedulerOptions {
  /** Priority classes 1..8 (default 2); 0 is the highest. */
  classes?: number;
  /** Return to the stack when it has not polled for this long (default 1,000 us). */
  budgetUs?: number;
  /**
   * The budget while a lower class (1 and up) runs (default: budgetUs). Smaller makes the stack
   * receive, and classify, sooner while the app works through low-priority backlog, so a
   * high-priority arrival waits less; class 0 keeps budgetUs.
   */
  lowBudgetUs?: number;
  /** Aim to read the clock this often while running (default 200 us). */
  checkEveryUs?: number;
  /** Most resumes between clock reads (default 64). */
  maxCheckSteps?: number;
  /** Most async turns admitted per run() (default 32). */
  asyncPerRun?: number;
  /** Event ids for WAIT / signal: 0 .. events-1 (default 1024). */
  events?: number;
  /** Initial coroutine slots (grows by doubling; default 256). */
  initialCapacity?: number;
  /** Monotonic integer microseconds. */
  clock: () => number;
  /** A coroutine threw (default: console.error). It is removed. */
  onError?: (id: number, err: unknown) => void;
}

export class Scheduler implements PollStage {
  readonly classes: number;
  readonly budgetUs: number;
  readonly lowBudgetUs: number;
  readonly checkEveryUs: number;
  readonly maxCheckSteps: number;
  readonly asyncPerRun: number;
  readonly events: number;
  private readonly clock: () => number;
  private readonly onError: (id: number, err: unknown) => void;

  // Per coroutine (index = id); grown together by grow().
  private cap = 0;
  private gens: (Coroutine | null)[] = [];
  /** Async coroutines' functions and pending promises (async-co.ts). */
  private readonly async: AsyncSlots;
  private kind: Uint8Array = new Uint8Array(0);
  private st: Uint8Array = new Uint8Array(0);
  private prioOf: Uint8Array = new Uint8Array(0);
  private permit: Uint8Array = new Uint8Array(0);
  private resumeVal: Float64Array = new Float64Array(0);
  /** List links: a coroutine is on at most one list (a run queue or an event's wait list). */
  private next: Int32Array = new Int32Array(0);
  private prev: Int32Array = new Int32Array(0);
  /** Which list: 0..classes-1 run queues, classes + e for event e, -1 none. */
  private where: Int32Array = new Int32Array(0);
  private freeIds: Int32Array = new Int32Array(0);
  private freeCount = 0;
  private readonly sleepers: DeadlineHeap;

  /** Heads/tails: run queues 0..classes-1, then one per event id. */
  private readonly head: Int32Array;
  private readonly tail: Int32Array;
  /** Bit c set when run queue c is not empty. */
  private readyMask = 0;

  private nowUs = 0;
  private lastPollUs = 0;
  private readonly pacer: CheckPacer;
  private current = -1;
  private inRun = false;

  /** Live coroutines. */
  live = 0;
  /** Resumes, all time. */
  resumes = 0;
  /** run() calls that returned because the budget ran out. */
  budgetYields = 0;
  /** Clock reads by run(). */
  clockReads = 0;
  /** Coroutines that threw. */
  errors = 0;

  constructor(opts: SchedulerOptions) {
    const classes = opts.classes ?? 2;
    if (!Number.isInteger(classes) || classes < 1 || classes > MAX_CLASSES) throw new RangeError(`classes must be 1..${MAX_CLASSES}, got ${classes}`);
    this.classes = classes;
    this.budgetUs = opts.budgetUs ?? 1000;
    this.lowBudgetUs = opts.lowBudgetUs ?? this.budgetUs;
    this.checkEveryUs = opts.checkEveryUs ?? 200;
    this.maxCheckSteps = Math.max(1, opts.maxCheckSteps ?? 64);
    this.pacer = new CheckPacer(this.checkEveryUs, this.maxCheckSteps);
    this.asyncPerRun = opts.asyncPerRun ?? 32;
    this.events = opts.events ?? 1024;
    if (!(this.budgetUs > 0) || !(this.lowBudgetUs > 0) || !(this.checkEveryUs > 0)) throw new RangeError("budgetUs, lowBudgetUs and checkEveryUs must be positive");
    this.clock = opts.clock;
    this.async = new AsyncSlots(this, { release: (id) => this.release(id), fail: (id, e) => this.fail(id, e) });
    this.onError = opts.onError ?? ((id, err) => console.error(`qstack: coroutine ${id} threw:`, err));
    this.head = new Int32Array(classes + this.events).fill(-1);
    this.tail = new Int32Array(classes + this.events).fill(-1);
    const initial = Math.max(4, opts.initialCapacity ?? 256);
    this.sleepers = new DeadlineHeap(initial);
    this.grow(initial);
    this.nowUs = this.lastPollUs = opts.clock();
  }

  // ---- creating and waking -------------------------------------------------------

  /** Start a generator coroutine in class `prio`, ready to run. Returns its id. */
  spawn(gen: Coroutine | (() => Coroutine), prio = 0): number {
    const g = typeof gen === "function" ? gen() : gen;
    const id = this.allocId(prio);
    this.kind[id] = KIND_GEN;
    this.gens[id] = g;
    this.makeReady(id, 0);
    return id;
  }

  /** Start an async coroutine: fn(co) is called at its first turn in run(). Returns its id. */
  spawnAsync(fn: (co: AsyncCo) => Promise<unknown>, prio = 0): number {
    const id = this.allocId(prio);
    this.kind[id] = KIND_ASYNC;
    this.async.set(id, fn);
    this.makeReady(id, 0);
    return id;
  }

  /**
   * Make a parked, waiting or sleeping coroutine ready, resuming with `value`.
   * On a coroutine that is not blocked, store a permit so its next PARK
   * returns at once. Returns true when it was blocked.
   */
  wake(id: number, value = 1): boolean {
    if (id < 0 || id >= this.cap) return false;
    switch (this.st[id]) {
      case CoState.Sleeping:
        this.sleepers.remove(id);
        this.makeReady(id, value);
        return true;
      case CoState.Waiting:
        this.unlink(id);
        this.makeReady(id, value);
        return true;
      case CoState.Parked:
        this.makeReady(id, value);
        return true;
      case CoState.Free:
        return false;
      default:
        this.permit[id] = 1;
        return false;
    }
  }

  /** Wake every coroutine waiting on `eventId`, in the order they began waiting. Returns how many. */
  signal(eventId: number, value = 1): number {
    if (eventId < 0 || eventId >= this.events) return 0;
    const list = this.classes + eventId;
    let n = 0;
    let id = this.head[list]!;
    while (id >= 0) {
      const nx = this.next[id]!;
      this.unlink(id);
      this.makeReady(id, value);
      n++;
      id = nx;
    }
    return n;
  }

  /** Change the class of a coroutine; a ready one moves to the tail of its new run queue. */
  setPrio(id: number, prio: number): void {
    if (id < 0 || id >= this.cap || this.st[id] === CoState.Free) return;
    const p = this.clampPrio(prio);
    this.prioOf[id] = p;
    if (this.st[id] === CoState.Ready) {
      this.unlink(id);
      this.link(id, p);
    }
  }

  /** Stop a generator coroutine (its finally blocks run). Async ones get their pending promise rejected. */
  kill(id: number): boolean {
    if (id < 0 || id >= this.cap) return false;
    const s = this.st[id]!;
    if (s === CoState.Free || id === this.current) return false;
    this.detach(id);
    if (this.kind[id] === KIND_GEN) {
      const g = this.gens[id]!;
      this.release(id);
      try {
        g.return(undefined);
      } catch (e) {
        this.errors++;
        this.onError(id, e);
      }
    } else {
      const rej = this.async.rejecter(id);
      this.release(id);
      if (rej !== null) rej(new Error(`coroutine ${id} killed`));
    }
    return true;
  }

  state(id: number): number {
    return id >= 0 && id < this.cap ? this.st[id]! : CoState.Free;
  }

  prio(id: number): number {
    return this.prioOf[id]!;
  }

  /** The id of the coroutine being resumed (-1 outside one). */
  get currentId(): number {
    return this.current;
  }

  /** Ready coroutines in `cls`, or in all classes. */
  readyCount(cls = -1): number {
    let n = 0;
    for (let c = 0; c < this.classes; c++) {
      if (cls >= 0 && c !== cls) continue;
      for (let id = this.head[c]!; id >= 0; id = this.next[id]!) n++;
    }
    return n;
  }

  // ---- running ---------------------------------------------------------------------

  /** The stack has just polled the NIC (start of the budget). */
  stackPolled(nowUs: number): void {
    this.lastPollUs = nowUs;
  }

  /** PollStage: the poll loop has just polled; run coroutines. */
  poll(nowUs: number): number {
    this.lastPollUs = nowUs;
    return this.run(nowUs);
  }

  /** PollStage: now when something is ready, else the earliest sleeper's deadline. */
  pollAt(): number {
    return this.readyMask !== 0 ? this.nowUs : this.sleepers.minDeadline();
  }

  /**
   * Resume ready coroutines, highest class first, FIFO within a class, until
   * none is ready or the budget since stackPolled() is spent. Returns resumes.
   */
  run(nowUs: number): number {
    this.nowUs = nowUs;
    this.expire(nowUs);
    const pacer = this.pacer;
    let steps = 0;
    let sinceCheck = 0;
    let lastCheckUs = nowUs;
    let asyncTurns = 0;
    this.inRun = true;
    for (;;) {
      const m = this.readyMask;
      if (m === 0) break;
      const c = 31 - Math.clz32(m & -m);
      const head = this.head;
      const id = head[c]!;
      if (this.kind[id] === KIND_ASYNC) {
        if (asyncTurns >= this.asyncPerRun) break;
        asyncTurns++;
        this.unlink(id);
        this.resume(id);
      } else {
        // Pop the head of run queue c (inline unlink).
        const nx = this.next[id]!;
        head[c] = nx;
        if (nx < 0) {
          this.tail[c] = -1;
          this.readyMask = m & ~(1 << c);
        } else {
          this.prev[nx] = -1;
        }
        this.where[id] = -1;
        this.resumeGen(id);
      }
      steps++;
      if (++sinceCheck >= pacer.steps) {
        const t = this.clock();
        this.clockReads++;
        // Aim the next read about checkEveryUs ahead, sized by the slowest recent steps (check-pacer.ts).
        pacer.next(sinceCheck, t - lastCheckUs);
        sinceCheck = 0;
        lastCheckUs = t;
        this.nowUs = t;
        this.expire(t);
        if (t - this.lastPollUs >= (c === 0 ? this.budgetUs : this.lowBudgetUs)) {
          this.budgetYields++;
          break;
        }
      }
    }
    this.inRun = false;
    this.resumes += steps;
    return steps;
  }

  private resumeGen(id: number): void {
    this.st[id] = CoState.Running;
    this.current = id;
    const g = this.gens[id]!;
    let r: IteratorResult<Command, void>;
    try {
      r = g.next(this.resumeVal[id]!);
    } catch (e) {
      this.current = -1;
      this.fail(id, e);
      return;
    }
    this.current = -1;
    if (r.done === true) {
      this.release(id);
      return;
    }
    const cmd = r.value;
    if (cmd === undefined || cmd === OP_YIELD) {
      // The common case: back to the tail of its run queue.
      this.resumeVal[id] = 0;
      this.link(id, this.prioOf[id]!);
      return;
    }
    this.apply(id, cmd);
  }

  private resume(id: number): void {
    const v = this.resumeVal[id]!;
    this.st[id] = CoState.Running;
    this.current = id;
    if (this.kind[id] === KIND_GEN) {
      const g = this.gens[id]!;
      let r: IteratorResult<Command, void>;
      try {
        r = g.next(v);
      } catch (e) {
        this.current = -1;
        this.fail(id, e);
        return;
      }
      this.current = -1;
      if (r.done === true) {
        this.release(id);
        return;
      }
      this.apply(id, r.value);
      return;
    }
    this.async.turn(id, v);
    this.current = -1;
    if (this.st[id] === CoState.Running) this.st[id] = CoState.Outside;
  }

  /** @internal AsyncCo's operations: block the async coroutine `id` on `cmd`. */
  blockAsync(id: number, cmd: number): Promise<number> {
    const s = this.st[id];
    if (this.kind[id] !== KIND_ASYNC || (s !== CoState.Running && s !== CoState.Outside)) {
      return Promise.reject(new Error(`coroutine ${id} is not running (already blocked, or ended)`));
    }
    return this.async.block(id, () => this.apply(id, cmd));
  }

  /** Carry out the command a coroutine yielded. */
  private apply(id: number, cmd: Command): void {
    if (cmd === undefined) {
      this.makeReady(id, 0);
      return;
    }
    if (typeof cmd !== "number" || !(cmd >= 0)) {
      this.failCommand(id, cmd);
      return;
    }
    const op = cmd % 8;
    const arg = (cmd - op) / 8;
    switch (op) {
      case OP_YIELD:
        this.makeReady(id, 0);
        return;
      case OP_SLEEP:
        if (arg <= 0) {
          this.makeReady(id, 0);
          return;
        }
        this.st[id] = CoState.Sleeping;
        this.resumeVal[id] = 0;
        // Inside run() time is the last clock read; outside (async code) read it now.
        this.sleepers.insert(id, (this.inRun ? this.nowUs : this.clock()) + arg);
        return;
      case OP_WAIT:
        if (arg >= this.events) {
          this.failCommand(id, cmd);
          return;
        }
        this.st[id] = CoState.Waiting;
        this.link(id, this.classes + arg);
        return;
      case OP_PARK:
        if (this.permit[id] === 1) {
          this.permit[id] = 0;
          this.makeReady(id, 1);
          return;
        }
        this.st[id] = CoState.Parked;
        return;
      case OP_PRIO:
        this.prioOf[id] = this.clampPrio(arg);
        this.makeReady(id, 0);
        return;
      default:
        this.failCommand(id, cmd);
    }
  }

  private failCommand(id: number, cmd: unknown): void {
    this.fail(id, new RangeError(`coroutine ${id} yielded an invalid command: ${String(cmd)}`));
  }

  /** Wake sleepers whose deadline has come, earliest first. */
  private expire(nowUs: number): void {
    const h = this.sleepers;
    while (h.size > 0 && h.minDeadline() <= nowUs) this.makeReady(h.popMin(), 0);
  }

  private makeReady(id: number, value: number): void {
    this.resumeVal[id] = value;
    this.link(id, this.prioOf[id]!);
  }

  private clampPrio(p: number): number {
    return p >= 0 && p < this.classes ? p | 0 : this.classes - 1;
  }

  // ---- lists and ids -------------------------------------------------------------------

  private link(id: number, list: number): void {
    const t = this.tail[list]!;
    this.prev[id] = t;
    this.next[id] = -1;
    if (t < 0) this.head[list] = id;
    else this.next[t] = id;
    this.tail[list] = id;
    this.where[id] = list;
    if (list < this.classes) {
      this.st[id] = CoState.Ready;
      this.readyMask |= 1 << list;
    }
  }

  private unlink(id: number): void {
    const list = this.where[id]!;
    if (list < 0) return;
    const p = this.prev[id]!;
    const n = this.next[id]!;
    if (p < 0) this.head[list] = n;
    else this.next[p] = n;
    if (n < 0) this.tail[list] = p;
    else this.prev[n] = p;
    this.where[id] = -1;
    if (list < this.classes && this.head[list]! < 0) this.readyMask &= ~(1 << list);
  }

  /** Take `id` off any list or the sleep heap. */
  private detach(id: number): void {
    this.unlink(id);
    this.sleepers.remove(id);
  }

  private fail(id: number, err: unknown): void {
    this.errors++;
    this.detach(id);
    this.release(id);
    this.onError(id, err);
  }

  private allocId(prio: number): number {
    if (this.freeCount === 0) this.grow(this.cap * 2);
    const id = this.freeIds[--this.freeCount]!;
    this.prioOf[id] = this.clampPrio(prio);
    this.permit[id] = 0;
    this.resumeVal[id] = 0;
    this.where[id] = -1;
    this.live++;
    return id;
  }

  private release(id: number): void {
    if (this.st[id] === CoState.Free) return;
    this.detach(id);
    this.st[id] = CoState.Free;
    this.gens[id] = null;
    this.async.clear(id);
    this.freeIds[this.freeCount++] = id;
    this.live--;
  }

  private grow(newCap: number): void {
    const old = this.cap;
    this.kind = grownU8(this.kind, newCap);
    this.st = grownU8(this.st, newCap);
    this.prioOf = grownU8(this.prioOf, newCap);
    this.permit = grownU8(this.permit, newCap);
    this.next = grownI32(this.next, newCap, 0);
    this.prev = grownI32(this.prev, newCap, 0);
    this.where = grownI32(this.where, newCap, -1);
    const rv = new Float64Array(newCap);
    rv.set(this.resumeVal);
    this.resumeVal = rv;
    const free = new Int32Array(newCap);
    free.set(this.freeIds.subarray(0, this.freeCount));
    // Lowest new id on top of the stack, so ids are handed out 0, 1, 2, ...
    for (let i = newCap - 1; i >= old; i--) free[this.freeCount++] = i;
    this.freeIds = free;
    for (let i = old; i < newCap; i++) this.gens.push(null);
    this.async.grow(newCap);
    this.sleepers.grow(newCap);
    this.cap = newCap;
  }
}

function grownU8(a: Uint8Array, n: number): Uint8Array {
  const b = new Uint8Array(n);
  b.set(a);
  return b;
}

function grownI32(a: Int32Array, n: number, fill: number): Int32Array {
  const b = new Int32Array(n);
  if (fill !== 0) b.fill(fill, a.length);
  b.set(a);
  return b;
}
