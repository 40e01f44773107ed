/**
 * A ring of (id, kind, arg) events on one Int32Array. The TCP layer raises
 * events while it processes input and timers; the sockets API drains them in
 * the app phase of the poll round, so application callbacks never run inside
 * protocol processing (no re-entry) and no object is allocated per event.
 * Grows by doubling when full (events are never dropped: a lost Readable or
 * Closed would strand a connection).
 */
export class EventQueue {
  private buf: Int32Array;
  private mask: number;
  private head = 0;
  private tail = 0;

  constructor(capacityPow2 = 1024) {
    let c = 16;
    while (c < capacityPow2) c <<= 1;
    this.buf = new Int32Array(c * 3);
    this.mask = c - 1;
  }

  get size(): number {
    return this.tail - this.head;
  }

  event(id: number, kind: number, arg: number): void {
    if (this.tail - this.head > this.mask) this.grow();
    const i = (this.tail & this.mask) * 3;
    this.buf[i] = id;
    this.buf[i + 1] = kind;
    this.buf[i + 2] = arg;
    this.tail++;
  }

  private grow(): void {
    const n = this.mask + 1;
    const next = new Int32Array(n * 2 * 3);
    for (let k = 0; k < n; k++) {
      const from = ((this.head + k) & this.mask) * 3;
      next[k * 3] = this.buf[from]!;
      next[k * 3 + 1] = this.buf[from + 1]!;
      next[k * 3 + 2] = this.buf[from + 2]!;
    }
    this.buf = next;
    this.mask = n * 2 - 1;
    this.tail -= this.head;
    this.head = 0;
  }

  /** Pop the oldest event into out[0..3); false when empty. */
  pop(out: Int32Array): boolean {
    if (this.head === this.tail) return false;
    const i = (this.head & this.mask) * 3;
    out[0] = this.buf[i]!;
    out[1] = this.buf[i + 1]!;
    out[2] = this.buf[i + 2]!;
    this.head++;
    return true;
  }
}

/**
 * Event queues per priority class (QStack's prioritized events): `event()`
 * files an event under the class given by `classOf()` at the time it is raised
 * (the class of the frame being processed), and `pop()` always takes from the
 * highest non-empty class, so a high event raised while lows are being
 * delivered still comes out before the remaining lows.
 */
export class PriorityEventQueues {
  readonly queues: EventQueue[];
  /** Events popped per class. */
  readonly delivered: Float64Array;

  constructor(
    readonly classes: number,
    private readonly classOf: () => number,
    capacityPow2 = 1024,
  ) {
    this.queues = [];
    for (let i = 0; i < classes; i++) this.queues.push(new EventQueue(capacityPow2));
    this.delivered = new Float64Array(classes);
  }

  get size(): number {
    let n = 0;
    for (let i = 0; i < this.queues.length; i++) n += this.queues[i]!.size;
    return n;
  }

  event(id: number, kind: number, arg: number): void {
    let c = this.classOf();
    if (c < 0 || c >= this.classes) c = this.classes - 1;
    this.queues[c]!.event(id, kind, arg);
  }

  /** File an event under an explicit class. */
  eventIn(cls: number, id: number, kind: number, arg: number): void {
    this.queues[cls < this.classes ? cls : this.classes - 1]!.event(id, kind, arg);
  }

  pop(out: Int32Array): boolean {
    const q = this.queues;
    for (let c = 0; c < q.length; c++) {
      if (q[c]!.pop(out)) {
        this.delivered[c]++;
        return true;
      }
    }
    return false;
  }
}
