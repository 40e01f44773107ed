/**
 * The IPv4 addresses an interface owns: a primary address plus ranges of
 * secondary addresses (a load generator opens connections from many source
 * addresses to get more than 64 K ports towards one server). Membership is a
 * compare per range: no table per address.
 */
export class LocalAddresses {
  readonly primary: number;
  private readonly lo: number[] = [];
  private readonly hi: number[] = [];

  constructor(primary: number) {
    this.primary = primary >>> 0;
  }

  /** Own `count` consecutive addresses starting at `first`. */
  addRange(first: number, count: number): void {
    if (count <= 0) return;
    this.lo.push(first >>> 0);
    this.hi.push(((first >>> 0) + count - 1) >>> 0);
  }

  isLocal(ip: number): boolean {
    const a = ip >>> 0;
    if (a === this.primary) return true;
    const lo = this.lo;
    for (let i = 0; i < lo.length; i++) if (a >= lo[i]! && a <= this.hi[i]!) return true;
    return false;
  }

  /** Number of addresses owned. */
  count(): number {
    let n = 1;
    for (let i = 0; i < this.lo.length; i++) n += this.hi[i]! - this.lo[i]! + 1;
    return n;
  }

  /** The i-th owned address, i in [0, count()): the primary first, then the ranges in order. */
  at(i: number): number {
    if (i === 0) return this.primary;
    let k = i - 1;
    for (let r = 0; r < this.lo.length; r++) {
      const n = this.hi[r]! - this.lo[r]! + 1;
      if (k < n) return (this.lo[r]! + k) >>> 0;
      k -= n;
    }
    return -1;
  }
}
