/**
 * An epoll-like event framework with a priority per registration (QStack's
 * qepoll: "multi-pri queues"). Modelled on Linux epoll(7) / epoll_ctl(2) /
 * epoll_wait(2): ids are registered with an interest mask, the stack reports
 * readiness, and `wait` hands back (id, events) pairs. What differs:
 *
 * - Each registration has a class, 0 (highest) .. classes-1, and each notify
 *   may carry its own (the class of the packet behind it). Ready ids wait on
 *   one FIFO list per class, and `wait` returns higher classes first.
 * - Batch sizes: one call returns at most `highBatch` class-0 events and at
 *   most `lowBatch` events of the other classes (both default to `max`).
 *   A small lowBatch bounds how long the app spends on low work before it
 *   looks at the high queue again; a highBatch below max guarantees low
 *   events a share (no starvation).
 * - Re-check (QStack's qepoll_wait): before each low event the high queue is
 *   looked at again, after calling the optional `pull` hook, which moves
 *   readiness produced elsewhere (a stack Worker's ring) into this object. So
 *   a high event that shows up while lows are being handed out comes out
 *   before the remaining lows.
 *
 * Readiness: the stack calls `notify(id, events)` when conditions become true
 * (data arrived: EPOLLIN; send space: EPOLLOUT; reset: EPOLLERR|EPOLLHUP; FIN:
 * EPOLLRDHUP|EPOLLIN), and `clear(id, events)` when they stop holding (the app
 * drained the receive buffer). Edge-triggered (EPOLLET) registrations report
 * each notified event once; level-triggered ones keep being reported, moved to
 * the tail of their class after each report (round robin, as Linux re-queues
 * level-triggered items), until `clear` or the optional `readiness(id)` hook
 * (consulted before each level-triggered report, like Linux's ep_item_poll)
 * says they are no longer ready. EPOLLERR and EPOLLHUP are always reported,
 * whatever the interest mask (epoll_ctl(2)). EPOLLONESHOT disarms after one
 * report until `ctl("mod")`.
 *
 * Ids are small integers 0 <= id < capacity (connection ids, like fds): every
 * per-id field is one slot of a typed array, and the ready lists are intrusive
 * doubly-linked lists through `next`/`prev` Int32Arrays. No allocation in
 * ctl/notify/clear/wait; `waitAsync` allocates its promise.
 *
 * ctl returns 0 or a negative errno, as epoll_ctl(2) would set it: -EBADF (id
 * out of range), -EEXIST (add of a registered id), -ENOENT (mod/del of an
 * unregistered id), -EINVAL (bad op or class).
 */

export const EPOLLIN = 0x001;
export const EPOLLPRI = 0x002;
export const EPOLLOUT = 0x004;
export const EPOLLERR = 0x008;
export const EPOLLHUP = 0x010;
export const EPOLLRDHUP = 0x2000;
/** Disarm after one report (Linux value 1 << 30). */
export const EPOLLONESHOT = 1 << 30;
/** Edge-triggered (Linux value 1 << 31; negative as an int32). */
export const EPOLLET = 1 << 31;

const FLAG_BITS = EPOLLONESHOT | EPOLLET;
const ALWAYS = EPOLLERR | EPOLLHUP;

/** Linux errno values returned (negated) by ctl. */
export const ENOENT = 2;
export const EBADF = 9;
export const EEXIST = 17;
export const EINVAL = 22;

export type EpollOp = "add" | "mod" | "del";

/** Max classes, as for packets (net/tx-queues.ts MAX_CLASSES). */
const MAX_CLASSES = 8;

const FREE = 0;
/** Registered, not on a ready list. */
const IDLE = 1;
/** On the ready list of its class. */
const QUEUED = 2;
/** Reported by the wait in progress; put back (or not) when it ends. */
const REPORTED = 3;

export interface EventPollOptions {
  /** Ids are 0 .. capacity-1. */
  capacity: number;
  /** Priority classes, 1..8 (default 2). */
  classes?: number;
  /**
   * Current readiness of `id` (an events mask). When given, it is consulted
   * on add/mod and before each level-triggered report, so the stack need not
   * call `clear`.
   */
  readiness?: (id: number) => number;
  /**
   * Move readiness produced elsewhere into this object (by calling notify),
   * e.g. from a ring filled by a stack Worker. Called at the start of wait and
   * before each low-class event (the re-check).
   */
  pull?: (ep: EventPoll) => void;
  /**
   * Called when something becomes ready while nothing was (outside wait).
   * Runs inside notify, i.e. inside the stack's processing: only schedule
   * work here (wake a coroutine), never run app code.
   */
  onReady?: () => void;
}

export interface WaitOptions {
  /** Most class-0 events per call (default: max). */
  highBatch?: number;
  /** Most events of classes 1.. per call, all together (default: max). */
  lowBatch?: number;
}

export class EventPoll {
  readonly capacity: number;
  readonly classes: number;
  private readonly state: Uint8Array;
  private readonly prio: Uint8Array;
  /** Class of the ready list the id is on (QUEUED), or it goes back to after this wait (REPORTED). */
  private readonly qcls: Uint8Array;
  /** Events reported for the id: interest | EPOLLERR | EPOLLHUP (0 when disarmed by EPOLLONESHOT). */
  private readonly mask: Int32Array;
  /** EPOLLET / EPOLLONESHOT as registered. */
  private readonly flags: Int32Array;
  /** The interest mask as registered (to re-arm a one-shot on mod). */
  private readonly interest: Int32Array;
  private readonly readyBits: Int32Array;
  private readonly data: Float64Array;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  /** List heads/tails/lengths: index 0..classes-1 per class, index `classes` = reported in this wait. */
  private readonly head: Int32Array;
  private readonly tail: Int32Array;
  private readonly len: Int32Array;
  /** Bit c set when class c's ready list is not empty. */
  private nonEmpty = 0;
  private inWait = false;
  private readonly readiness: ((id: number) => number) | null;
  private readonly pull: ((ep: EventPoll) => void) | null;
  private readonly onReady: (() => void) | null;
  private waiters: (() => void)[] = [];
  /** Registered ids. */
  registered = 0;
  /** notify calls. */
  notifies = 0;
  /** notify calls for unregistered ids (dropped). */
  ignored = 0;
  /** Events reported per class. */
  readonly reported: Float64Array;

  constructor(opts: EventPollOptions) {
    const cap = opts.capacity;
    if (!Number.isInteger(cap) || cap < 1 || cap > 0x7fffffff) throw new RangeError(`capacity must be a positive integer, got ${cap}`);
    const classes = opts.classes ?? 2;
    if (!Number.isInteger(classes) || classes < 1 || classes > MAX_CLASSES) throw new RangeError(`classes must be 1..${MAX_CLASSES}, got ${classes}`);
    this.capacity = cap;
    this.classes = classes;
    this.state = new Uint8Array(cap);
    this.prio = new Uint8Array(cap);
    this.qcls = new Uint8Array(cap);
    this.mask = new Int32Array(cap);
    this.flags = new Int32Array(cap);
    this.interest = new Int32Array(cap);
    this.readyBits = new Int32Array(cap);
    this.data = new Float64Array(cap);
    this.next = new Int32Array(cap);
    this.prev = new Int32Array(cap);
    this.head = new Int32Array(classes + 1).fill(-1);
    this.tail = new Int32Array(classes + 1).fill(-1);
    this.len = new Int32Array(classes + 1);
    this.reported = new Float64Array(classes);
    this.readiness = opts.readiness ?? null;
    this.pull = opts.pull ?? null;
    this.onReady = opts.onReady ?? null;
  }

  /** epoll_ctl(2). `events` is an interest mask, optionally with EPOLLET / EPOLLONESHOT. Returns 0 or -errno. */
  ctl(op: EpollOp, id: number, events = 0, prio = 0, userData = 0): number {
    if (!Number.isInteger(id) || id < 0 || id >= this.capacity) return -EBADF;
    const st = this.state[id]!;
    if (op === "del") {
      if (st === FREE) return -ENOENT;
      if (st === QUEUED || st === REPORTED) this.unlink(id, st === QUEUED ? this.qcls[id]! : this.classes);
      this.state[id] = FREE;
      this.readyBits[id] = 0;
      this.mask[id] = 0;
      this.registered--;
      return 0;
    }
    if (op !== "add" && op !== "mod") return -EINVAL;
    if (!Number.isInteger(prio) || prio < 0 || prio >= this.classes) return -EINVAL;
    if (op === "add") {
      if (st !== FREE) return -EEXIST;
      this.state[id] = IDLE;
      this.readyBits[id] = 0;
      this.registered++;
    } else if (st === FREE) {
      return -ENOENT;
    }
    const cur = this.state[id]!;
    if (cur === QUEUED && this.qcls[id] !== prio) {
      this.unlink(id, this.qcls[id]!);
      this.state[id] = IDLE;
    }
    this.prio[id] = prio;
    if (cur === REPORTED) this.qcls[id] = prio;
    this.interest[id] = events & ~FLAG_BITS;
    this.flags[id] = events & FLAG_BITS;
    this.mask[id] = (events & ~FLAG_BITS) | ALWAYS;
    this.data[id] = userData;
    if (this.readiness !== null) this.readyBits[id] = this.readiness(id);
    if (this.state[id] === IDLE && (this.readyBits[id]! & this.mask[id]!) !== 0) this.link(id, prio);
    return 0;
  }

  /**
   * The stack: `events` became true for `id` (ORed into its readiness).
   * `prio` (optional) is the class of this event, e.g. the class the
   * classifier gave the segment that made the socket readable (QStack: an
   * event carries its packet's priority); without it the registration's class
   * is used. An id already queued in a lower class moves up to the tail of
   * the event's class; it never moves down. Unregistered ids are ignored.
   */
  notify(id: number, events: number, prio = -1): void {
    this.notifies++;
    if (id < 0 || id >= this.capacity || this.state[id] === FREE) {
      this.ignored++;
      return;
    }
    const r = this.readyBits[id]! | events;
    this.readyBits[id] = r;
    if ((r & this.mask[id]!) === 0) return;
    const c = prio < 0 ? this.prio[id]! : prio < this.classes ? prio : this.classes - 1;
    const st = this.state[id]!;
    if (st === IDLE) {
      this.link(id, c);
    } else if (st === QUEUED) {
      if (c < this.qcls[id]!) {
        this.unlink(id, this.qcls[id]!);
        this.link(id, c);
      }
    } else if (c < this.qcls[id]!) {
      this.qcls[id] = c; // REPORTED: requeued in this class when the wait ends
    }
  }

  /** The stack: `events` no longer hold for `id` (e.g. EPOLLIN once the receive buffer is empty). */
  clear(id: number, events: number): void {
    if (id < 0 || id >= this.capacity || this.state[id] === FREE) return;
    const r = this.readyBits[id]! & ~events;
    this.readyBits[id] = r;
    if (this.state[id] === QUEUED && (r & this.mask[id]!) === 0) {
      this.unlink(id, this.qcls[id]!);
      this.state[id] = IDLE;
    }
  }

  /**
   * epoll_wait(2) without blocking: write up to `max` pairs (id, events) into
   * `out` (out.length >= 2 * max), higher classes first, FIFO within a class,
   * with the batch limits and re-check described at the top. Returns the
   * number of pairs.
   */
  wait(out: Int32Array, max: number, opts?: WaitOptions): number {
    if (max * 2 > out.length) max = out.length >> 1;
    const highBatch = opts === undefined || opts.highBatch === undefined ? max : opts.highBatch;
    const lowBatch = opts === undefined || opts.lowBatch === undefined ? max : opts.lowBatch;
    const pull = this.pull;
    this.inWait = true;
    if (pull !== null) pull(this);
    let pulled = true;
    let n = 0;
    let hi = 0;
    let lo = 0;
    while (n < max) {
      let m = this.nonEmpty;
      if (hi >= highBatch) m &= ~1;
      if (m === 0) break;
      const c = 31 - Math.clz32(m & -m);
      if (c > 0) {
        if (lo >= lowBatch) break;
        if (!pulled && pull !== null) {
          // QStack: re-check the high queue before each low event.
          pull(this);
          pulled = true;
          continue;
        }
      }
      const id = this.head[c]!;
      const ev = this.take(id, c);
      if (ev === 0) continue;
      out[2 * n] = id;
      out[2 * n + 1] = ev;
      n++;
      if (c === 0) hi++;
      else lo++;
      pulled = false;
    }
    this.requeueReported();
    this.inWait = false;
    return n;
  }

  /**
   * Like wait, but when nothing is ready resolves once something is (or
   * after `timeoutMs`, with 0; negative: no timeout). For apps that await.
   * Readiness from a `pull` source only arrives when something calls wait or
   * notify: in split mode pair this with the ring's own wake-up.
   */
  async waitAsync(out: Int32Array, max: number, opts?: WaitOptions, timeoutMs = -1): Promise<number> {
    const deadline = timeoutMs >= 0 ? performance.now() + timeoutMs : Number.POSITIVE_INFINITY;
    for (;;) {
      const n = this.wait(out, max, opts);
      // Something ready but held back by the batch limits: nothing to wait for.
      if (n > 0 || this.nonEmpty !== 0) return n;
      const left = deadline - performance.now();
      if (left <= 0) return 0;
      if (!(await this.readySignal(left))) return this.wait(out, max, opts);
    }
  }

  /** Resolves true when something becomes ready, false after `ms` (Infinity: never). */
  private readySignal(ms: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let done = false;
      let timer: ReturnType<typeof setTimeout> | null = null;
      const wake = (): void => {
        if (done) return;
        done = true;
        if (timer !== null) clearTimeout(timer);
        resolve(true);
      };
      this.waiters.push(wake);
      if (ms !== Number.POSITIVE_INFINITY) {
        timer = setTimeout(() => {
          if (done) return;
          done = true;
          const i = this.waiters.indexOf(wake);
          if (i >= 0) this.waiters.splice(i, 1);
          resolve(false);
        }, Math.max(1, Math.ceil(ms)));
      }
    });
  }

  /** Registered with this id. */
  has(id: number): boolean {
    return id >= 0 && id < this.capacity && this.state[id] !== FREE;
  }

  /** The userData given at add/mod. */
  userData(id: number): number {
    return this.data[id]!;
  }

  /** The class a registered id was given by ctl. */
  prioOf(id: number): number {
    return this.prio[id]!;
  }

  /** The class of the ready list the id is on, or -1 when it is not queued. */
  queuedClass(id: number): number {
    return this.state[id] === QUEUED ? this.qcls[id]! : -1;
  }

  /** The readiness bits recorded for `id`. */
  readyEvents(id: number): number {
    return this.readyBits[id]!;
  }

  /** Ids waiting on the ready list of `cls`, or of all classes when omitted. */
  readyCount(cls = -1): number {
    if (cls >= 0) return this.len[cls]!;
    let n = 0;
    for (let c = 0; c < this.classes; c++) n += this.len[c]!;
    return n;
  }

  // ---- lists -------------------------------------------------------------------

  /** Append `id` to list `c` (a class, or `classes` for the reported list). */
  private link(id: number, c: number): void {
    const t = this.tail[c]!;
    this.prev[id] = t;
    this.next[id] = -1;
    if (t < 0) this.head[c] = id;
    else this.next[t] = id;
    this.tail[c] = id;
    this.len[c]++;
    if (c < this.classes) {
      this.state[id] = QUEUED;
      this.qcls[id] = c;
      const was = this.nonEmpty;
      this.nonEmpty = was | (1 << c);
      if (was === 0 && !this.inWait) this.becameReady();
    } else {
      this.state[id] = REPORTED;
    }
  }

  private unlink(id: number, c: number): void {
    const p = this.prev[id]!;
    const n = this.next[id]!;
    if (p < 0) this.head[c] = n;
    else this.next[p] = n;
    if (n < 0) this.tail[c] = p;
    else this.prev[n] = p;
    if (--this.len[c]! === 0 && c < this.classes) this.nonEmpty &= ~(1 << c);
  }

  /** Report the head of class c: returns its events (0 when it is no longer ready and was dropped). */
  private take(id: number, c: number): number {
    this.unlink(id, c);
    const fl = this.flags[id]!;
    if ((fl & EPOLLET) === 0 && this.readiness !== null) this.readyBits[id] = this.readiness(id);
    const ev = this.readyBits[id]! & this.mask[id]!;
    if (ev === 0) {
      this.state[id] = IDLE;
      return 0;
    }
    // Edge-triggered: the edge is consumed by this report.
    if ((fl & EPOLLET) !== 0) this.readyBits[id] = this.readyBits[id]! & ~ev;
    if ((fl & EPOLLONESHOT) !== 0) this.mask[id] = 0;
    this.link(id, this.classes);
    // Back in its own class unless a notify during this wait raises it.
    this.qcls[id] = this.prio[id]!;
    this.reported[c]++;
    return ev;
  }

  /** After a wait: ids still ready go to the tail of their class (level-triggered round robin). */
  private requeueReported(): void {
    const r = this.classes;
    let id = this.head[r]!;
    this.head[r] = -1;
    this.tail[r] = -1;
    this.len[r] = 0;
    while (id >= 0) {
      const nx = this.next[id]!;
      if ((this.readyBits[id]! & this.mask[id]!) !== 0) this.link(id, this.qcls[id]!);
      else this.state[id] = IDLE;
      id = nx;
    }
  }

  private becameReady(): void {
    if (this.onReady !== null) this.onReady();
    if (this.waiters.length > 0) {
      const w = this.waiters;
      this.waiters = [];
      for (let i = 0; i < w.length; i++) w[i]!();
    }
  }
}
