/**
 * A small open-addressing map from connection id to one int32 value, for side
 * state that only a few connections hold at a time (message-mode express
 * messages, send-ahead boundaries). Its size is fixed by the number of entries
 * it may hold, not by maxConnections, so it costs nothing per connection.
 * Linear probing, load factor <= 0.5, deletion by backward shift (no
 * tombstones). No allocation after construction.
 */
export class ConnMap {
  private readonly keys: Int32Array;
  private readonly vals: Int32Array;
  private readonly mask: number;
  readonly capacity: number;
  size = 0;

  constructor(capacity: number) {
    let n = 16;
    while (n < capacity * 2) n <<= 1;
    this.keys = new Int32Array(n).fill(-1);
    this.vals = new Int32Array(n);
    this.mask = n - 1;
    this.capacity = capacity;
  }

  private slot(c: number): number {
    return Math.imul(c, 0x9e3779b1) >>> 0 & this.mask;
  }

  /** The value for `c`, or -1 when absent. */
  get(c: number): number {
    const keys = this.keys;
    for (let i = this.slot(c); ; i = (i + 1) & this.mask) {
      const k = keys[i]!;
      if (k === c) return this.vals[i]!;
      if (k === -1) return -1;
    }
  }

  /** Set the value for `c` (v >= 0). False when the map is full and `c` is new. */
  set(c: number, v: number): boolean {
    const keys = this.keys;
    for (let i = this.slot(c); ; i = (i + 1) & this.mask) {
      const k = keys[i]!;
      if (k === c) {
        this.vals[i] = v;
        return true;
      }
      if (k === -1) {
        if (this.size >= this.capacity) return false;
        keys[i] = c;
        this.vals[i] = v;
        this.size++;
        return true;
      }
    }
  }

  /** Remove `c`; returns its value or -1 when absent. */
  delete(c: number): number {
    const keys = this.keys;
    const mask = this.mask;
    let i = this.slot(c);
    for (;;) {
      const k = keys[i]!;
      if (k === -1) return -1;
      if (k === c) break;
      i = (i + 1) & mask;
    }
    const v = this.vals[i]!;
    // Backward-shift deletion: move later members of the probe run into the hole.
    let hole = i;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const k = keys[j]!;
      if (k === -1) break;
      const home = this.slot(k);
      // k may fill the hole if its home is not cyclically in (hole, j].
      const inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!inRange) {
        keys[hole] = k;
        this.vals[hole] = this.vals[j]!;
        hole = j;
      }
    }
    keys[hole] = -1;
    this.size--;
    return v;
  }
}
