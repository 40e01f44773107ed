/**
 * An indexed binary min-heap of (id, deadline) on typed arrays, for sleeping
 * coroutines: insert, remove any id, peek and pop the earliest, all without
 * allocation (except when `grow` is called). Equal deadlines come out in
 * insertion order (a sequence number breaks ties), so sleepers that wake at
 * the same time keep FIFO order.
 *
 * Ids are 0 <= id < capacity; an id is in the heap at most once.
 */
export class DeadlineHeap {
  private heap: Int32Array;
  /** Position of each id in `heap`, -1 when absent. */
  private pos: Int32Array;
  private deadlineUs: Float64Array;
  private seqOf: Float64Array;
  private seq = 0;
  size = 0;

  constructor(capacity: number) {
    this.heap = new Int32Array(capacity);
    this.pos = new Int32Array(capacity).fill(-1);
    this.deadlineUs = new Float64Array(capacity);
    this.seqOf = new Float64Array(capacity);
  }

  get capacity(): number {
    return this.pos.length;
  }

  /** Make room for ids up to newCapacity - 1 (allocates). */
  grow(newCapacity: number): void {
    const old = this.pos.length;
    if (newCapacity <= old) return;
    const heap = new Int32Array(newCapacity);
    heap.set(this.heap);
    const pos = new Int32Array(newCapacity).fill(-1);
    pos.set(this.pos);
    const dl = new Float64Array(newCapacity);
    dl.set(this.deadlineUs);
    const sq = new Float64Array(newCapacity);
    sq.set(this.seqOf);
    this.heap = heap;
    this.pos = pos;
    this.deadlineUs = dl;
    this.seqOf = sq;
  }

  has(id: number): boolean {
    return this.pos[id]! >= 0;
  }

  deadline(id: number): number {
    return this.deadlineUs[id]!;
  }

  /** Insert `id` (not already present) with its deadline. */
  insert(id: number, deadlineUs: number): void {
    this.deadlineUs[id] = deadlineUs;
    this.seqOf[id] = this.seq++;
    const i = this.size++;
    this.heap[i] = id;
    this.pos[id] = i;
    this.up(i);
  }

  /** Remove `id` if present. */
  remove(id: number): void {
    const i = this.pos[id]!;
    if (i < 0) return;
    this.pos[id] = -1;
    const last = --this.size;
    if (i === last) return;
    const moved = this.heap[last]!;
    this.heap[i] = moved;
    this.pos[moved] = i;
    this.down(i);
    this.up(this.pos[moved]!);
  }

  /** Earliest deadline, or +Infinity when empty. */
  minDeadline(): number {
    return this.size === 0 ? Number.POSITIVE_INFINITY : this.deadlineUs[this.heap[0]!]!;
  }

  /** Remove and return the id with the earliest deadline (-1 when empty). */
  popMin(): number {
    if (this.size === 0) return -1;
    const id = this.heap[0]!;
    this.remove(id);
    return id;
  }

  private less(a: number, b: number): boolean {
    const da = this.deadlineUs[a]!;
    const db = this.deadlineUs[b]!;
    return da < db || (da === db && this.seqOf[a]! < this.seqOf[b]!);
  }

  private up(i: number): void {
    const h = this.heap;
    const id = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pid = h[p]!;
      if (!this.less(id, pid)) break;
      h[i] = pid;
      this.pos[pid] = i;
      i = p;
    }
    h[i] = id;
    this.pos[id] = i;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = this.size;
    const id = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(h[r]!, h[l]!) ? r : l;
      const cid = h[c]!;
      if (!this.less(cid, id)) break;
      h[i] = cid;
      this.pos[cid] = i;
      i = c;
    }
    h[i] = id;
    this.pos[id] = i;
  }
}
