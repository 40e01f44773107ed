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
