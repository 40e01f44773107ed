/**
 * Hierarchical timing wheel (Varghese & Lauck, "Hashed and Hierarchical Timing
 * Wheels", 1987) over typed arrays, for millions of timers.
 *
 * Used for the TCP timers of RFC 9293 3.8.1 / RFC 6298 (retransmission),
 * 3.8.6.1 (persist), RFC 1122 4.2.3.2 (delayed ACK), 4.2.3.6 (keep-alive) and
 * TIME-WAIT (2 MSL). Time is injected: the wheel never reads a clock.
 *
 * Timer ids are integers in [0, capacity) (TCP: connId * kinds + kind). Each id
 * has at most one pending deadline; `schedule` replaces it. schedule and cancel
 * are O(1): every id is a node of a doubly linked list (next/prev in Int32Arrays)
 * hanging off one of the sentinel nodes that follow the ids in the same arrays:
 * 4 levels x 256 slots, the "due" list and the "overflow" list.
 *
 * Ticks: tick t covers (t-1)*tickUs < time <= t*tickUs, so a deadline d expires at
 * tick ceil(d / tickUs). advance(now) processes every tick t with t*tickUs <= now.
 * Hence a timer never fires before its deadline and fires at the first advance
 * whose now is >= ceil(d / tickUs) * tickUs, i.e. less than one tick late.
 * A deadline <= the latest `now` seen is due and fires on the next advance.
 *
 * Levels: with curTick the last processed tick, a timer expiring at tick t > curTick
 * sits at the lowest level l such that t and curTick agree on all base-256 digits
 * above digit l, in slot = digit l of t. Level 0 slots are single ticks; a level l
 * slot holds 256^l ticks and is cascaded (its timers re-placed lower) when curTick
 * reaches its first tick. 4 levels cover 2^32 ticks (49.7 days at 1 ms); later
 * deadlines wait on the overflow list and are re-placed at each 2^32-tick boundary.
 * advance() jumps from event to event using a bitmap of non-empty slots, so a long
 * jump in (virtual) time costs per non-empty slot, not per tick.
 *
 * Memory: 16 bytes per id (deadline Float64 + next + prev Int32) plus ~12 KiB.
 * With `compact: true` the deadline is kept as the low 32 bits of its expiry tick
 * (Int32; the full tick is recovered relative to the current tick, and "not
 * pending" is a -1 list link): 12 bytes per id. deadline() then returns the end of
 * the expiry tick (the deadline rounded up to a tick), and a deadline more than
 * 2^31 - 2 ticks ahead (24.8 days at 1 ms ticks) is clamped to that tick (TCP's
 * longest timer is the 2 h keepalive).
 *
 * Grouped (`group: g`, compact only): ids g*k .. g*k+g-1 (TCP: one connection's
 * timer kinds) share ONE list node, kept on the list of the earliest of their
 * expiry ticks; each id keeps its own Int32 expiry tick, INT32_MIN meaning "not
 * pending" (a tick whose low 32 bits are INT32_MIN is moved one tick later: at
 * most one tick late, once every 2^32 ticks). 4 + 8/g bytes per id: 8 B per TCP
 * connection's two timers fewer than 12 B each. The node is re-placed lazily:
 * cancelling an id, or moving it later, leaves the node where it is; when the
 * node's slot comes up, the ids that are due fire and the node moves on to the
 * earliest remaining one. Moving an id earlier than the node's earliest pending
 * tick moves the node at once, so nothing fires late. An id scheduled at or
 * before the latest now is due at the current tick (deadline() then reports
 * that tick, which may be before the deadline asked for: it is due either way).
 */

const LEVELS = 4;
const SLOTS = 256;
const WORDS_PER_LEVEL = SLOTS / 32;
/** Sentinel nodes after the ids: LEVELS*SLOTS wheel slots, then due, then overflow. */
const SENTINELS = LEVELS * SLOTS + 2;
const DUE_REL = LEVELS * SLOTS;
const OVERFLOW_REL = LEVELS * SLOTS + 1;

export interface TimerWheelOptions {
  /** Number of timer ids: ids are 0 .. capacity-1. */
  capacity: number;
  /** Tick length in microseconds (e.g. 1000). */
  tickUs: number;
  /** The current time in microseconds. */
  nowUs: number;
  /** Memory to carve the wheel from; default: a fresh ArrayBuffer. */
  backing?: ArrayBuffer;
  /** Where the wheel starts inside `backing`; must be a multiple of 8. */
  byteOffset?: number;
  /** Keep deadlines as Int32 ticks (12 B per id instead of 16; see the file comment). */
  compact?: boolean;
  /** Ids sharing one list node (1, 2, 4, ...; > 1 needs compact): see "Grouped" in the file comment. */
  group?: number;
}

/** Expiry tick of an id that is not pending (grouped wheels). */
const NOT_PENDING = -2147483648;

/** Furthest a compact wheel schedules ahead of the current tick, in ticks. */
const MAX_REL_TICK = 0x7ffffffe;

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/** Index of the lowest set bit of a non-zero int32. */
function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

export class TimerWheel {
  readonly capacity: number;
  readonly tickUs: number;
  /** Number of ids with a pending deadline. */
  pending = 0;

  readonly compact: boolean;
  /** Ids per list node (grouped wheels), and log2 of it. */
  readonly group: number;
  private readonly groupShift: number;
  /** Number of list nodes for ids; the sentinels follow them in next/prev. */
  private readonly nodeCount: number;
  /** Deadline (us) per id; -1 when not pending (empty when compact). */
  private readonly deadlineUs: Float64Array;
  /** Compact mode: low 32 bits of the expiry tick per id (empty otherwise); next[id] = -1 when not pending. */
  private readonly expiryTick: Int32Array;
  /** List links for ids [0, capacity) and sentinels [capacity, capacity + SENTINELS). */
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  /** One bit per wheel slot (level * 256 + slot): the slot's list is non-empty. */
  private readonly occupied: Int32Array;
  private readonly due: number;
  private readonly overflow: number;
  /** Last processed tick. */
  private curTick: number;
  /** The largest `now` seen (constructor or advance). */
  private lastNowUs: number;
  /** First tick of the current level-l block: curTick rounded down to a multiple of SPAN[l]. */
  private base0 = 0;
  private base1 = 0;
  private base2 = 0;
  private base3 = 0;

  static bytesFor(capacity: number, compact = false, group = 1): number {
    const nodes = Math.ceil(capacity / group);
    return align8((compact ? 4 : 8) * capacity) + 2 * align8(4 * (nodes + SENTINELS)) + LEVELS * WORDS_PER_LEVEL * 4;
  }

  /** Bytes per timer id, excluding the fixed ~12 KiB of sentinels and bitmap. */
  static readonly bytesPerTimer = 16;
  /** The same for a compact wheel. */
  static readonly bytesPerTimerCompact = 12;

  constructor(opts: TimerWheelOptions) {
    const capacity = opts.capacity;
    if (!Number.isInteger(capacity) || capacity <= 0 || capacity > 0x7fffffff - SENTINELS) {
      throw new RangeError("TimerWheel capacity must be a positive integer below 2^31 - 1026");
    }
    if (!Number.isInteger(opts.tickUs) || opts.tickUs <= 0) throw new RangeError("TimerWheel tickUs must be a positive integer");
    if (!Number.isFinite(opts.nowUs) || opts.nowUs < 0) throw new RangeError("TimerWheel nowUs must be a finite non-negative number");
    const base = opts.byteOffset ?? 0;
    if (!Number.isInteger(base) || base < 0 || base % 8 !== 0) throw new RangeError("TimerWheel byteOffset must be a non-negative multiple of 8");
    const compact = opts.compact === true;
    const group = opts.group ?? 1;
    if (!Number.isInteger(group) || group < 1 || (group & (group - 1)) !== 0 || (group > 1 && !compact)) {
      throw new RangeError("TimerWheel group must be a power of two (> 1 only with compact)");
    }
    const need = TimerWheel.bytesFor(capacity, compact, group);
    const buf = opts.backing ?? new ArrayBuffer(base + need);
    if (buf.byteLength < base + need) {
      throw new RangeError(`TimerWheel backing too small: need ${need} bytes at offset ${base}, have ${buf.byteLength - base}`);
    }
    this.capacity = capacity;
    this.tickUs = opts.tickUs;
    this.compact = compact;
    this.group = group;
    this.groupShift = 31 - Math.clz32(group);
    this.nodeCount = Math.ceil(capacity / group);
    const nodes = this.nodeCount + SENTINELS;
    let off = base;
    if (compact) {
      this.deadlineUs = new Float64Array(0);
      this.expiryTick = new Int32Array(buf, off, capacity);
      off += align8(4 * capacity);
    } else {
      this.deadlineUs = new Float64Array(buf, off, capacity);
      this.expiryTick = new Int32Array(0);
      this.deadlineUs.fill(-1);
      off += align8(8 * capacity);
    }
    this.next = new Int32Array(buf, off, nodes);
    off += align8(4 * nodes);
    this.prev = new Int32Array(buf, off, nodes);
    off += align8(4 * nodes);
    this.occupied = new Int32Array(buf, off, LEVELS * WORDS_PER_LEVEL);
    if (compact) this.next.fill(-1, 0, this.nodeCount);
    if (group > 1) this.expiryTick.fill(NOT_PENDING);
    for (let s = this.nodeCount; s < nodes; s++) {
      this.next[s] = s;
      this.prev[s] = s;
    }
    this.occupied.fill(0);
    this.due = this.nodeCount + DUE_REL;
    this.overflow = this.nodeCount + OVERFLOW_REL;
    this.lastNowUs = opts.nowUs;
    this.curTick = 0;
    this.setCurTick(Math.floor(opts.nowUs / opts.tickUs));
  }

  /** Set (or replace) the deadline of timer `id`. A deadline <= the latest now fires on the next advance. */
  schedule(id: number, deadlineUs: number): void {
    if (!(id >= 0 && id < this.capacity)) throw new RangeError("TimerWheel.schedule: id out of range");
    const d = deadlineUs > 0 ? deadlineUs : 0;
    if (this.group > 1) {
      this.scheduleGrouped(id, d);
      return;
    }
    let t = Math.ceil(d / this.tickUs);
    if (this.isPending(id)) this.unlink(id);
    else this.pending++;
    if (this.compact) {
      if (t - this.curTick > MAX_REL_TICK) t = this.curTick + MAX_REL_TICK;
      this.expiryTick[id] = t | 0;
    } else {
      this.deadlineUs[id] = d;
    }
    if (d <= this.lastNowUs) this.linkTail(this.due, id);
    else this.placeTick(id, t);
  }

  private isPending(id: number): boolean {
    if (this.group > 1) return this.expiryTick[id] !== NOT_PENDING;
    return this.compact ? this.next[id] !== -1 : this.deadlineUs[id]! >= 0;
  }

  /** schedule() on a grouped wheel: the id's own tick, and its node moved only when it must fire sooner. */
  private scheduleGrouped(id: number, d: number): void {
    const node = id >> this.groupShift;
    const linked = this.next[node] !== -1;
    // Earliest pending tick of the node before the change (the node sits at or before it).
    const oldMin = linked ? this.minTick(node) : Number.POSITIVE_INFINITY;
    if (this.expiryTick[id] === NOT_PENDING) this.pending++;
    let t = Math.ceil(d / this.tickUs);
    if (d <= this.lastNowUs && t > this.curTick) t = this.curTick;
    if (t - this.curTick > MAX_REL_TICK) t = this.curTick + MAX_REL_TICK;
    let lo = t | 0;
    if (lo === NOT_PENDING) {
      lo = (lo + 1) | 0;
      t++;
    }
    this.expiryTick[id] = lo;
    if (t >= oldMin) return;
    if (linked) this.unlinkNode(node);
    this.placeTick(node, t);
  }

  /** Earliest expiry tick among the pending ids of a grouped node (+Infinity if none). */
  private minTick(node: number): number {
    let m = Number.POSITIVE_INFINITY;
    const first = node << this.groupShift;
    const end = Math.min(first + this.group, this.capacity);
    for (let id = first; id < end; id++) {
      if (this.expiryTick[id] === NOT_PENDING) continue;
      const t = this.tickOf(id);
      if (t < m) m = t;
    }
    return m;
  }

  private unlinkNode(node: number): void {
    this.unlink(node);
    this.next[node] = -1;
  }

  private clearDeadline(id: number): void {
    if (this.compact) this.next[id] = -1;
    else this.deadlineUs[id] = -1;
  }

  /** The expiry tick of a pending id. */
  private tickOf(id: number): number {
    if (!this.compact) return Math.ceil(this.deadlineUs[id]! / this.tickUs);
    const cur = this.curTick;
    return cur + ((this.expiryTick[id]! - (cur | 0)) | 0);
  }

  /** Cancel timer `id` if pending. */
  cancel(id: number): void {
    if (!(id >= 0 && id < this.capacity)) return;
    if (!this.isPending(id)) return;
    if (this.group > 1) {
      this.expiryTick[id] = NOT_PENDING;
      this.pending--;
      // The node stays where it is while another id of it is pending (it re-places itself when its slot comes).
      const node = id >> this.groupShift;
      if (this.minTick(node) === Number.POSITIVE_INFINITY) this.unlinkNode(node);
      return;
    }
    this.unlink(id);
    this.clearDeadline(id);
    this.pending--;
  }

  /** The pending deadline of `id` in us (as scheduled; compact: rounded up to its tick), or -1. */
  deadline(id: number): number {
    if (!(id >= 0 && id < this.capacity)) return -1;
    if (!this.isPending(id)) return -1;
    if (this.compact) return this.tickOf(id) * this.tickUs;
    return this.deadlineUs[id]!;
  }

  /** Whether `id` has a pending deadline. */
  isScheduled(id: number): boolean {
    return id >= 0 && id < this.capacity && this.isPending(id);
  }

  /**
   * Move time to nowUs and write expired ids into `out` (tick by tick: ids of an
   * earlier tick come first). Returns the count; if it equals out.length more may
   * be expired: call again (with the same now). An expired id is no longer pending.
   */
  advance(nowUs: number, out: Int32Array): number {
    if (nowUs > this.lastNowUs) this.lastNowUs = nowUs;
    const max = out.length;
    let n = this.drainDue(out, 0, max);
    if (n === max) return n;
    const target = Math.floor(this.lastNowUs / this.tickUs);
    while (this.curTick < target) {
      const ev = this.nextEventTick();
      if (ev > target) {
        this.setCurTick(target);
        break;
      }
      this.setCurTick(ev);
      if (ev === this.base3 && this.next[this.overflow] !== this.overflow) this.replaceList(this.overflow);
      // Cascade every level whose slot starts at ev, top down (Varghese & Lauck, scheme 7).
      // A level-l slot spans 256^l ticks, so it starts where the level-(l-1) block does.
      if (ev === this.base2) this.cascade(3, (ev - this.base3) / 16777216);
      if (ev === this.base1) this.cascade(2, (ev - this.base2) / 65536);
      if (ev === this.base0) this.cascade(1, (ev - this.base1) / 256);
      this.spliceToDue(ev - this.base0);
      n = this.drainDue(out, n, max);
      if (n === max) return n;
    }
    return n;
  }

  /**
   * Earliest time (us) at which advance() may fire a timer: a lower bound on the
   * earliest pending deadline rounded up to its tick (exact for timers less than
   * 256 ticks ahead; for later ones the start of their slot, where they cascade).
   * A value <= the latest now means "call advance now". +Infinity when none pending.
   */
  nextDeadline(): number {
    if (this.pending === 0) return Number.POSITIVE_INFINITY;
    if (this.next[this.due] !== this.due) return this.curTick * this.tickUs;
    const ev = this.nextEventTick();
    return ev === Number.POSITIVE_INFINITY ? ev : ev * this.tickUs;
  }

  /** The last processed tick (for tests and monitoring). */
  currentTick(): number {
    return this.curTick;
  }

  // ---- internals ----

  private setCurTick(t: number): void {
    this.curTick = t;
    this.base0 = t - (t % 256);
    this.base1 = t - (t % 65536);
    this.base2 = t - (t % 16777216);
    this.base3 = t - (t % 4294967296);
  }

  /** Put id (not linked) on the list for expiry tick t. */
  private placeTick(id: number, t: number): void {
    if (t <= this.curTick) {
      this.linkTail(this.due, id);
      return;
    }
    let off = t - this.base0;
    if (off < 256) {
      this.linkSlot(off, id);
      return;
    }
    off = t - this.base1;
    if (off < 65536) {
      this.linkSlot(SLOTS + Math.floor(off / 256), id);
      return;
    }
    off = t - this.base2;
    if (off < 16777216) {
      this.linkSlot(2 * SLOTS + Math.floor(off / 65536), id);
      return;
    }
    off = t - this.base3;
    if (off < 4294967296) {
      this.linkSlot(3 * SLOTS + Math.floor(off / 16777216), id);
      return;
    }
    this.linkTail(this.overflow, id);
  }

  /** Append id to wheel slot `bit` (= level * 256 + slot), marking the slot occupied. */
  private linkSlot(bit: number, id: number): void {
    const s = this.nodeCount + bit;
    if (this.next[s] === s) this.occupied[bit >> 5] |= 1 << (bit & 31);
    this.linkTail(s, id);
  }

  private linkTail(s: number, id: number): void {
    const p = this.prev[s]!;
    this.next[p] = id;
    this.prev[id] = p;
    this.next[id] = s;
    this.prev[s] = id;
  }

  private unlink(id: number): void {
    const nx = this.next[id]!;
    const pv = this.prev[id]!;
    this.next[pv] = nx;
    this.prev[nx] = pv;
    // Both neighbours are the same sentinel: that list is now empty.
    if (nx === pv && nx >= this.nodeCount) {
      const bit = nx - this.nodeCount;
      if (bit < DUE_REL) this.occupied[bit >> 5] &= ~(1 << (bit & 31));
    }
  }

  /** Re-place every timer of wheel slot (level, slot): they now fall in a lower level (or are due). */
  private cascade(level: number, slot: number): void {
    const bit = level * SLOTS + slot;
    if ((this.occupied[bit >> 5]! & (1 << (bit & 31))) === 0) return;
    this.occupied[bit >> 5] &= ~(1 << (bit & 31));
    this.replaceList(this.nodeCount + bit);
  }

  /** Detach the whole list of sentinel s and re-place each of its timers from its deadline. */
  private replaceList(s: number): void {
    let id = this.next[s]!;
    const last = this.prev[s]!;
    this.next[s] = s;
    this.prev[s] = s;
    for (;;) {
      const nx = this.next[id]!;
      this.placeTick(id, this.group > 1 ? this.minTick(id) : this.tickOf(id));
      if (id === last) break;
      id = nx;
    }
  }

  /** Move the whole list of level-0 slot `slot` to the end of the due list (O(1)). */
  private spliceToDue(slot: number): void {
    if ((this.occupied[slot >> 5]! & (1 << (slot & 31))) === 0) return;
    this.occupied[slot >> 5] &= ~(1 << (slot & 31));
    const s = this.nodeCount + slot;
    const first = this.next[s]!;
    const last = this.prev[s]!;
    const due = this.due;
    const dl = this.prev[due]!;
    this.next[dl] = first;
    this.prev[first] = dl;
    this.next[last] = due;
    this.prev[due] = last;
    this.next[s] = s;
    this.prev[s] = s;
  }

  private drainDue(out: Int32Array, n: number, max: number): number {
    if (this.group > 1) return this.drainDueGrouped(out, n, max);
    const due = this.due;
    while (n < max) {
      const id = this.next[due]!;
      if (id === due) break;
      const nx = this.next[id]!;
      this.next[due] = nx;
      this.prev[nx] = due;
      this.clearDeadline(id);
      this.pending--;
      out[n++] = id;
    }
    return n;
  }

  /**
   * drainDue for a grouped wheel: each node on the due list fires its ids due by
   * the current tick and moves on to its earliest remaining one. When `out` fills
   * up mid-node, the node stays first on the due list for the next call.
   */
  private drainDueGrouped(out: Int32Array, n: number, max: number): number {
    const due = this.due;
    const cur = this.curTick;
    const g = this.group;
    for (;;) {
      const node = this.next[due]!;
      if (node === due) break;
      let rest = Number.POSITIVE_INFINITY;
      const first = node << this.groupShift;
      const end = Math.min(first + g, this.capacity);
      for (let id = first; id < end; id++) {
        if (this.expiryTick[id] === NOT_PENDING) continue;
        const t = this.tickOf(id);
        if (t > cur) {
          if (t < rest) rest = t;
          continue;
        }
        if (n === max) return n;
        this.expiryTick[id] = NOT_PENDING;
        this.pending--;
        out[n++] = id;
      }
      const nx = this.next[node]!;
      this.next[due] = nx;
      this.prev[nx] = due;
      this.next[node] = -1;
      if (rest !== Number.POSITIVE_INFINITY) this.placeTick(node, rest);
    }
    return n;
  }

  /**
   * The next tick > curTick at which something happens: the first tick of the
   * earliest non-empty slot (levels are ordered in time: every level-l timer is
   * later than every level-(l-1) timer), else the next 2^32-tick boundary when
   * the overflow list is non-empty, else +Infinity.
   */
  private nextEventTick(): number {
    const t = this.curTick;
    let s = this.findSlot(0, t - this.base0 + 1);
    if (s >= 0) return this.base0 + s;
    s = this.findSlot(1, Math.floor((t - this.base1) / 256) + 1);
    if (s >= 0) return this.base1 + s * 256;
    s = this.findSlot(2, Math.floor((t - this.base2) / 65536) + 1);
    if (s >= 0) return this.base2 + s * 65536;
    s = this.findSlot(3, Math.floor((t - this.base3) / 16777216) + 1);
    if (s >= 0) return this.base3 + s * 16777216;
    if (this.next[this.overflow] !== this.overflow) return this.base3 + 4294967296;
    return Number.POSITIVE_INFINITY;
  }

  /** First occupied slot >= from at `level`, or -1. */
  private findSlot(level: number, from: number): number {
    if (from >= SLOTS) return -1;
    const w0 = level * WORDS_PER_LEVEL;
    let w = from >> 5;
    let bits = this.occupied[w0 + w]! & (-1 << (from & 31));
    for (;;) {
      if (bits !== 0) return (w << 5) + ctz32(bits);
      if (++w === WORDS_PER_LEVEL) return -1;
      bits = this.occupied[w0 + w]!;
    }
  }
}
