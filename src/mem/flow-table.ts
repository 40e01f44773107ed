/**
 * Connection lookup by TCP 4-tuple (RFC 9293 3.4: a connection is identified by
 * the pair of sockets; the demultiplexing of 3.10.7 starts here), and the
 * listener table for SYNs that match no connection.
 *
 * FlowTable design (chosen for bytes per entry, issue 4 "Ten million connections"):
 * - Values are connection ids in [0, capacity). The 4-tuple of id v is stored
 *   ONCE, indexed by v: either in arrays the caller already keeps (pass `keys`,
 *   e.g. the ConnTable itself, which has localIp/remoteIp/localPort/remotePort
 *   fields) or in 12-byte records the table allocates ([localIp, remoteIp,
 *   localPort << 16 | remotePort], one cache line per verification).
 * - The index is open addressing with linear probing and Robin Hood placement
 *   (Celis 1986) over ceil(capacity / MAX_LOAD) slots (load <= 0.8), each slot ONE
 *   int32: the value in the low `valueBits` bits, above it the entry's distance
 *   from its home slot in up to 6 bits (saturating at 63; a saturated distance is
 *   recomputed from the key), and in the bits left (5 at 1 M entries, 1 at 10 M,
 *   none past 2^24) a tag of hash bits the home slot does not use. 5 B per entry.
 * - Robin Hood keeps displacements short and even (an insert takes the slot of an
 *   entry closer to its home, which moves on), and makes the stored distance a
 *   filter: a lookup compares keys only for entries with the same home slot and
 *   tag as its own, and stops at the first entry closer to its home than the probe is
 *   (the key cannot be further on), so a miss costs about as much as a hit.
 * - Deletion is backward shift (no tombstones): following entries move one slot
 *   back until an empty slot or one at its home; their distances say which, so
 *   deleting reads no key (except after a saturated distance).
 * - The home slot is Lemire's multiply-shift range reduction of the hash, so the
 *   slot count need not be a power of two.
 * - The hash is a seeded murmur3-style mix of the three key words: pass a random
 *   `seed` in production so remote peers cannot aim for collisions.
 * insert() writes the key at index `value` (into the caller's arrays when given).
 * Random lookups cost one cache/TLB miss for the slot plus one per key line
 * touched; over 4 KiB pages in a VM that dominates (see the test output).
 * probeStats() reports the mean and longest probe for monitoring (bench/conns).
 */

export interface FlowKeyArrays {
  localIp: Int32Array;
  remoteIp: Int32Array;
  localPort: Uint16Array;
  remotePort: Uint16Array;
}

export interface FlowTableOptions {
  /** Maximum number of entries; values (connection ids) must be in [0, capacity). */
  capacity: number;
  /** Key storage indexed by value (length >= capacity); default: the table allocates its own. */
  keys?: FlowKeyArrays;
  /** Hash seed (use a random one in production). */
  seed?: number;
  /** Memory to carve the table from; default: a fresh ArrayBuffer. */
  backing?: ArrayBuffer;
  /** Where the table starts inside `backing`; must be a multiple of 8. */
  byteOffset?: number;
}

const EMPTY = -1;
const INV_2_32 = 1 / 4294967296;
/** Highest load factor: slots = ceil(capacity / MAX_LOAD). */
export const FLOW_MAX_LOAD = 0.8;

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/** Slots for `capacity` entries. */
function slotsFor(capacity: number): number {
  return Math.ceil(capacity / FLOW_MAX_LOAD) + 1;
}

/** Seeded murmur3-style hash of (local ip, remote ip, ports word); int32. */
export function flowHash(seed: number, lip: number, rip: number, ports: number): number {
  let h = seed | 0;
  let k = Math.imul(lip, 0xcc9e2d51);
  k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
  h ^= k;
  h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
  k = Math.imul(rip, 0xcc9e2d51);
  k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
  h ^= k;
  h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
  k = Math.imul(ports, 0xcc9e2d51);
  k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
  h ^= k;
  h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
  h ^= 12;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export class FlowTable {
  readonly capacity: number;
  /** Number of hash slots (ceil(capacity / FLOW_MAX_LOAD) + 1). */
  readonly slotCount: number;
  /** Number of entries. */
  size = 0;

  private readonly seed: number;
  /** Per slot: EMPTY, or (tag << tagShift) | (distance from home << valueBits) | value. */
  private readonly slots: Int32Array;
  /** Bits of a slot holding the value, the mask for them, and the largest (saturating) distance above them. */
  private readonly valueBits: number;
  private readonly valueMask: number;
  private readonly distMax: number;
  /** Tag = hash & tagMask, stored at bit tagShift (above the distance). */
  private readonly tagShift: number;
  private readonly tagMask: number;
  /** One bit per value: the value is in the table. */
  private readonly present: Uint8Array;
  /** Own key records (3 words per value), or null when the caller's arrays hold the keys. */
  private readonly keyRec: Int32Array | null;
  /** The caller's key arrays (when keyRec is null). */
  private readonly ext: FlowKeyArrays | null;

  /** Bytes needed in a backing buffer; ownKeys: whether the table also holds the keys (12 B per entry). */
  static bytesFor(capacity: number, ownKeys = true): number {
    const index = align8(4 * slotsFor(capacity)) + align8(Math.ceil(capacity / 8));
    return ownKeys ? index + align8(12 * capacity) : index;
  }

  constructor(opts: FlowTableOptions) {
    const capacity = opts.capacity;
    if (!Number.isInteger(capacity) || capacity <= 0 || capacity > 0x3fffffff) {
      throw new RangeError("FlowTable capacity must be a positive integer below 2^30");
    }
    const base = opts.byteOffset ?? 0;
    if (!Number.isInteger(base) || base < 0 || base % 8 !== 0) throw new RangeError("FlowTable byteOffset must be a non-negative multiple of 8");
    const ownKeys = opts.keys === undefined;
    const need = FlowTable.bytesFor(capacity, ownKeys);
    const buf = opts.backing ?? new ArrayBuffer(base + need);
    if (buf.byteLength < base + need) {
      throw new RangeError(`FlowTable backing too small: need ${need} bytes at offset ${base}, have ${buf.byteLength - base}`);
    }
    this.capacity = capacity;
    this.slotCount = slotsFor(capacity);
    this.seed = opts.seed ?? 0x5bd1e995;
    // Values 0 .. capacity-1 need valueBits bits; the distance takes the rest of 31 (the sign stays clear).
    this.valueBits = Math.max(1, 32 - Math.clz32(capacity - 1));
    this.valueMask = (1 << this.valueBits) - 1;
    const distBits = Math.min(6, 31 - this.valueBits);
    this.distMax = (1 << distBits) - 1;
    this.tagShift = this.valueBits + distBits;
    this.tagMask = (1 << (31 - this.tagShift)) - 1;
    let off = base;
    this.slots = new Int32Array(buf, off, this.slotCount);
    off += align8(4 * this.slotCount);
    this.present = new Uint8Array(buf, off, Math.ceil(capacity / 8));
    off += align8(Math.ceil(capacity / 8));
    if (opts.keys !== undefined) {
      const k = opts.keys;
      if (k.localIp.length < capacity || k.remoteIp.length < capacity || k.localPort.length < capacity || k.remotePort.length < capacity) {
        throw new RangeError("FlowTable key arrays shorter than capacity");
      }
      this.ext = k;
      this.keyRec = null;
    } else {
      this.ext = null;
      this.keyRec = new Int32Array(buf, off, 3 * capacity);
    }
    this.slots.fill(EMPTY);
    this.present.fill(0);
  }

  /** Local IP (int32) stored for value v. */
  localIp(v: number): number {
    return this.keyRec !== null ? this.keyRec[3 * v]! : this.ext!.localIp[v]!;
  }

  /** Remote IP (int32) stored for value v. */
  remoteIp(v: number): number {
    return this.keyRec !== null ? this.keyRec[3 * v + 1]! : this.ext!.remoteIp[v]!;
  }

  localPort(v: number): number {
    return this.keyRec !== null ? this.keyRec[3 * v + 2]! >>> 16 : this.ext!.localPort[v]!;
  }

  remotePort(v: number): number {
    return this.keyRec !== null ? this.keyRec[3 * v + 2]! & 0xffff : this.ext!.remotePort[v]!;
  }

  /** Home slot of a hash: floor(uint32(h) * slotCount / 2^32). */
  private home(h: number): number {
    return Math.floor((h >>> 0) * INV_2_32 * this.slotCount);
  }

  /** The slot word for value v at distance d from its home (saturating), with the tag of hash h. */
  private pack(v: number, d: number, h: number): number {
    return ((h & this.tagMask) << this.tagShift) | ((d < this.distMax ? d : this.distMax) << this.valueBits) | v;
  }

  /** The hash of the key stored for value v. */
  private hashOf(v: number): number {
    return flowHash(this.seed, this.localIp(v), this.remoteIp(v), (this.localPort(v) << 16) | this.remotePort(v));
  }

  /** Distance of the entry in slot i (word s) from its home; recomputed from the key when saturated. */
  private distOf(i: number, s: number): number {
    const d = (s >>> this.valueBits) & this.distMax;
    if (d < this.distMax) return d;
    const k = this.home(this.hashOf(s & this.valueMask));
    return i >= k ? i - k : i + this.slotCount - k;
  }

  private matches(v: number, lip: number, lport: number, rip: number, rport: number): boolean {
    const r = this.keyRec;
    if (r !== null) {
      const b = 3 * v;
      return r[b + 1] === rip && r[b + 2] === ((lport << 16) | rport) && r[b] === lip;
    }
    // Most selective first: the remote address and port (a server's local ones are all alike).
    const k = this.ext!;
    return k.remoteIp[v] === rip && k.remotePort[v] === rport && k.localPort[v] === lport && k.localIp[v] === lip;
  }

  /**
   * Slot holding this key, or -1. Robin Hood: the entries with our home slot sit
   * at exactly our probe distance, and an entry nearer its home than our probe
   * distance means the key is absent.
   */
  private find(lip: number, lport: number, rip: number, rport: number): number {
    const h = flowHash(this.seed, lip, rip, (lport << 16) | rport);
    const slots = this.slots;
    const m = this.slotCount;
    const vb = this.valueBits;
    const dm = this.distMax;
    const ts = this.tagShift;
    const tag = h & this.tagMask;
    let i = this.home(h);
    for (let d = 0; ; d++) {
      const s = slots[i]!;
      if (s === EMPTY) return -1;
      const sd = (s >>> vb) & dm;
      if (sd === d ? true : sd === dm && d >= dm) {
        if (s >>> ts === tag && this.matches(s & this.valueMask, lip, lport, rip, rport)) return i;
      } else if (sd < d) {
        return -1;
      }
      if (++i === m) i = 0;
    }
  }

  /** The value stored for this 4-tuple, or -1. IPs as uint32 or int32, ports 0..65535. */
  lookup(lip: number, lport: number, rip: number, rport: number): number {
    const i = this.find(lip | 0, lport & 0xffff, rip | 0, rport & 0xffff);
    return i < 0 ? -1 : this.slots[i]! & this.valueMask;
  }

  /**
   * Add 4-tuple -> value, and store the key at index `value` of the key arrays.
   * False (nothing changed) when the key is present, the value is in use or out of
   * [0, capacity), or the table is full.
   */
  insert(lip: number, lport: number, rip: number, rport: number, value: number): boolean {
    if (!(value >= 0 && value < this.capacity) || (value | 0) !== value) return false;
    if ((this.present[value >> 3]! & (1 << (value & 7))) !== 0) return false;
    lip |= 0;
    rip |= 0;
    lport &= 0xffff;
    rport &= 0xffff;
    if (this.size >= this.capacity) return false;
    // One pass: look for the key among the entries with our home slot, up to the
    // Robin Hood insertion point (an empty slot, or the first entry nearer its home).
    const slots = this.slots;
    const m = this.slotCount;
    const vb = this.valueBits;
    const dm = this.distMax;
    const ts = this.tagShift;
    const h = flowHash(this.seed, lip, rip, (lport << 16) | rport);
    const tag = h & this.tagMask;
    let i = this.home(h);
    let d = 0;
    for (;;) {
      const s = slots[i]!;
      if (s === EMPTY) break;
      const sd = (s >>> vb) & dm;
      if (sd === d ? true : sd === dm && d >= dm) {
        if (s >>> ts === tag && this.matches(s & this.valueMask, lip, lport, rip, rport)) return false;
      } else if (sd < d) {
        break;
      }
      if (++i === m) i = 0;
      d++;
    }
    const r = this.keyRec;
    if (r !== null) {
      r[3 * value] = lip;
      r[3 * value + 1] = rip;
      r[3 * value + 2] = (lport << 16) | rport;
    } else {
      const k = this.ext!;
      k.localIp[value] = lip;
      k.remoteIp[value] = rip;
      k.localPort[value] = lport;
      k.remotePort[value] = rport;
    }
    // Take slot i and shift the rest of the run one slot on (each of them one further from home).
    let carry = this.pack(value, d, h);
    const step = 1 << vb;
    for (;;) {
      const s = slots[i]!;
      slots[i] = carry;
      if (s === EMPTY) break;
      carry = ((s >>> vb) & dm) < dm ? s + step : s;
      if (++i === m) i = 0;
    }
    this.present[value >> 3] |= 1 << (value & 7);
    this.size++;
    return true;
  }

  /** Remove the 4-tuple; returns its value, or -1 when absent. */
  remove(lip: number, lport: number, rip: number, rport: number): number {
    const i = this.find(lip | 0, lport & 0xffff, rip | 0, rport & 0xffff);
    if (i < 0) return -1;
    const v = this.slots[i]! & this.valueMask;
    this.deleteSlot(i);
    this.present[v >> 3] &= ~(1 << (v & 7));
    this.size--;
    return v;
  }

  /** Remove the entry of `value` using its stored key; false if the value is not in the table. */
  removeValue(value: number): boolean {
    if (!this.has(value)) return false;
    return this.remove(this.localIp(value), this.localPort(value), this.remoteIp(value), this.remotePort(value)) === value;
  }

  /** Whether `value` is in the table. */
  has(value: number): boolean {
    return value >= 0 && value < this.capacity && (this.present[value >> 3]! & (1 << (value & 7))) !== 0;
  }

  /** Backward-shift deletion: pull the following entries one slot back until an empty slot or an entry at its home. */
  private deleteSlot(hole: number): void {
    const slots = this.slots;
    const m = this.slotCount;
    let i = hole;
    for (;;) {
      const j = i + 1 === m ? 0 : i + 1;
      const s = slots[j]!;
      if (s === EMPTY) break;
      const d = this.distOf(j, s);
      if (d === 0) break;
      // One slot nearer home: the distance field minus one (a saturated one is written anew from the key).
      slots[i] = d < this.distMax ? s - (1 << this.valueBits) : this.pack(s & this.valueMask, d - 1, this.hashOf(s & this.valueMask));
      i = j;
    }
    slots[i] = EMPTY;
  }

  /** Length of the probe sequence for a present key (1 = in its home slot), or -1; for tests and monitoring. */
  probeLength(lip: number, lport: number, rip: number, rport: number): number {
    const i = this.find(lip | 0, lport & 0xffff, rip | 0, rport & 0xffff);
    return i < 0 ? -1 : this.distOf(i, this.slots[i]!) + 1;
  }

  /** Mean and longest probe sequence over all entries (1 = in the home slot); O(slots), for monitoring. */
  probeStats(): { mean: number; max: number; load: number } {
    let sum = 0;
    let max = 0;
    for (let i = 0; i < this.slotCount; i++) {
      const s = this.slots[i]!;
      if (s === EMPTY) continue;
      const p = this.distOf(i, s) + 1;
      sum += p;
      if (p > max) max = p;
    }
    return { mean: this.size > 0 ? sum / this.size : 0, max, load: this.size / this.slotCount };
  }
}

/**
 * Listening sockets: (local ip, local port) -> listener id, with local ip 0 as the
 * wildcard (INADDR_ANY). lookup() prefers an exact address match, then the wildcard
 * (RFC 9293 3.10.7.2: a SYN for a LISTEN socket; the most specific binding wins).
 * One chain head per port (Int32Array of 65536), entries in typed arrays.
 */
export class ListenTable {
  readonly capacity: number;
  size = 0;
  private readonly headByPort: Int32Array;
  private readonly ip: Int32Array;
  private readonly id: Int32Array;
  private readonly nextEntry: Int32Array;
  private freeHead: number;

  constructor(opts: { capacity: number }) {
    const capacity = opts.capacity;
    if (!Number.isInteger(capacity) || capacity <= 0) throw new RangeError("ListenTable capacity must be a positive integer");
    this.capacity = capacity;
    this.headByPort = new Int32Array(65536).fill(-1);
    this.ip = new Int32Array(capacity);
    this.id = new Int32Array(capacity);
    this.nextEntry = new Int32Array(capacity);
    for (let e = 0; e < capacity; e++) this.nextEntry[e] = e + 1 < capacity ? e + 1 : -1;
    this.freeHead = 0;
  }

  /** Bind (ip, port) -> id. False if that exact binding exists or the table is full. */
  add(ip: number, port: number, id: number): boolean {
    ip |= 0;
    port &= 0xffff;
    if (this.find(ip, port) >= 0) return false;
    const e = this.freeHead;
    if (e < 0) return false;
    this.freeHead = this.nextEntry[e]!;
    this.ip[e] = ip;
    this.id[e] = id;
    this.nextEntry[e] = this.headByPort[port]!;
    this.headByPort[port] = e;
    this.size++;
    return true;
  }

  /** Remove the exact binding; returns its id or -1. */
  remove(ip: number, port: number): number {
    ip |= 0;
    port &= 0xffff;
    let prev = -1;
    let e = this.headByPort[port]!;
    while (e >= 0) {
      if (this.ip[e] === ip) {
        const nx = this.nextEntry[e]!;
        if (prev < 0) this.headByPort[port] = nx;
        else this.nextEntry[prev] = nx;
        this.nextEntry[e] = this.freeHead;
        this.freeHead = e;
        this.size--;
        return this.id[e]!;
      }
      prev = e;
      e = this.nextEntry[e]!;
    }
    return -1;
  }

  /** Listener for a SYN to (ip, port): the exact binding, else the wildcard one, else -1. */
  lookup(ip: number, port: number): number {
    ip |= 0;
    let wildcard = -1;
    let e = this.headByPort[port & 0xffff]!;
    while (e >= 0) {
      const a = this.ip[e]!;
      if (a === ip) return this.id[e]!;
      if (a === 0) wildcard = this.id[e]!;
      e = this.nextEntry[e]!;
    }
    return wildcard;
  }

  /** The exact binding's id (no wildcard fallback), or -1. */
  get(ip: number, port: number): number {
    const e = this.find(ip | 0, port & 0xffff);
    return e < 0 ? -1 : this.id[e]!;
  }

  private find(ip: number, port: number): number {
    let e = this.headByPort[port]!;
    while (e >= 0) {
      if (this.ip[e] === ip) return e;
      e = this.nextEntry[e]!;
    }
    return -1;
  }
}
