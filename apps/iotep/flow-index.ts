/**
 * The wire monitor's flow table: (client address, client port and server
 * port offset) -> flow number, as an open-addressing hash table with linear
 * probing on typed arrays. It replaces a JS Map that, at 1 M flows, held a
 * million entries on the heap, rehashed as it grew (each rehash a pass over
 * every entry inside one poll round) and cost ~11 % of the server's CPU
 * samples. Sized from the expected flow count (the server's --max-conns) at
 * a load factor of at most 1/2, so at the expected size it never grows; past
 * it, it doubles (a rare rehash, still without a per-flow object).
 *
 * Flows are never removed: the monitor reuses a flow's number when its
 * 4-tuple starts again (SYN), so no tombstones are needed.
 */

/** Slots for `n` entries at a load factor of at most 1/2 (a power of two, at least 1024). */
function slotsFor(n: number): number {
  let s = 1024;
  while (s < 2 * n) s *= 2;
  return s;
}

export class FlowIndex {
  /** Client IPv4 address per slot (as int32). */
  private kIp: Int32Array;
  /** (client port | server port offset << 16) + 1 per slot; 0 = empty slot. */
  private kPort: Int32Array;
  private val: Int32Array;
  private mask: number;
  size = 0;
  /** Times the table doubled (0 when it was sized right). */
  grows = 0;

  constructor(expected = 0) {
    const s = slotsFor(Math.max(0, Math.floor(expected)));
    this.kIp = new Int32Array(s);
    this.kPort = new Int32Array(s);
    this.val = new Int32Array(s);
    this.mask = s - 1;
  }

  get slots(): number {
    return this.mask + 1;
  }

  private static hash(ip: number, pk: number): number {
    let h = Math.imul(ip ^ Math.imul(pk, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 15;
    h = Math.imul(h, 0xc2b2ae35);
    return h ^ (h >>> 13);
  }

  /**
   * The value for (ip, port, portOff); when absent, insert `fresh` and return
   * it (the caller tells an insert by the returned value being `fresh`).
   * `port` is 0..65535, `portOff` 0..31.
   */
  getOrInsert(ip: number, port: number, portOff: number, fresh: number): number {
    const ip32 = ip | 0;
    const pk = (port | (portOff << 16)) + 1;
    let i = FlowIndex.hash(ip32, pk) & this.mask;
    const kIp = this.kIp;
    const kPort = this.kPort;
    for (;;) {
      const p = kPort[i]!;
      if (p === 0) break;
      if (p === pk && kIp[i] === ip32) return this.val[i]!;
      i = (i + 1) & this.mask;
    }
    if (2 * (this.size + 1) > this.mask + 1) {
      this.grow();
      return this.getOrInsert(ip, port, portOff, fresh);
    }
    kIp[i] = ip32;
    kPort[i] = pk;
    this.val[i] = fresh;
    this.size++;
    return fresh;
  }

  /** The value for (ip, port, portOff), or -1. */
  get(ip: number, port: number, portOff: number): number {
    const ip32 = ip | 0;
    const pk = (port | (portOff << 16)) + 1;
    let i = FlowIndex.hash(ip32, pk) & this.mask;
    for (;;) {
      const p = this.kPort[i]!;
      if (p === 0) return -1;
      if (p === pk && this.kIp[i] === ip32) return this.val[i]!;
      i = (i + 1) & this.mask;
    }
  }

  private grow(): void {
    const oIp = this.kIp;
    const oPort = this.kPort;
    const oVal = this.val;
    const s = oPort.length * 2;
    this.kIp = new Int32Array(s);
    this.kPort = new Int32Array(s);
    this.val = new Int32Array(s);
    this.mask = s - 1;
    this.grows++;
    for (let j = 0; j < oPort.length; j++) {
      const pk = oPort[j]!;
      if (pk === 0) continue;
      let i = FlowIndex.hash(oIp[j]!, pk) & this.mask;
      while (this.kPort[i] !== 0) i = (i + 1) & this.mask;
      this.kIp[i] = oIp[j]!;
      this.kPort[i] = pk;
      this.val[i] = oVal[j]!;
    }
  }
}
