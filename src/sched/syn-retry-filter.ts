/**
 * Shed-SYN memory for SYN admission under a flood (issue 7,
 * src/sched/syn-admission.ts): a time-generational blocked Bloom filter. A
 * SYN the admission sheds is added; its retransmission (same source address,
 * ports and ISN: RFC 9293 3.8.1, after RFC 6298 (2.1), (5.5) 1 s then 2 s more)
 * is found and let past the bounds. A Bloom filter has no false negatives (a
 * key added is found until its generation expires), only false matches, whose
 * rate the arithmetic below bounds.
 *
 * Layout: `blocks` blocks of `generations` (Q) cache lines of 64 bytes, the
 * block's lines adjacent (Q * 64 bytes, one page): a key hashes to one block,
 * and its k bits lie in one line per generation, so a lookup reads Q adjacent
 * lines (loads independent of each other: the CPU overlaps their misses; one
 * TLB entry) and an insert writes one of them. Time is cut into generations of
 * `genUs`; generation n writes line n mod Q of each block. Word 0 of a line is
 * its stamp: the generation that wrote it (24 bits) and how many keys it holds
 * (8 bits). A line whose stamp names an older generation is treated as empty by
 * lookups and zeroed by the first insert of the new generation: the clearing is
 * lazy and costs one line write per (line, generation), spread over the inserts
 * themselves, never a sweep of the table in one poll round (nor a spare
 * generation being swept while Q others are live). So a key added in
 * generation n is found through generation n + Q - 1 and in none after (no stale
 * entry survives Q generations); it lives at least (Q - 1) * genUs and at most
 * Q * genUs.
 *
 * Bits per line: 15 words of 32 = 480. A key's k bit positions come from a
 * second 32-bit hash of it, stepped by a bijective mix per bit (word from 16
 * bits, bit from 5 more). A line refuses inserts past `lineCap` keys (counted
 * by the caller): at a flood beyond the design rate some shed SYNs are then not
 * remembered, but a line's false-match rate never passes that of a line holding
 * lineCap keys, so the retry path cannot turn into an open door at any rate.
 *
 * The arithmetic (defaults: Q = 4, genUs = 1.1 s, 2^18 blocks = 64 MiB, k = 10,
 * lineCap = 48). At a flood of F shed SYNs/s a line gets lam = F * genUs /
 * blocks keys per generation, Poisson: 14.7 at 3.5 M/s, 16.8 at 4 M/s. A key
 * not in the filter matches a line holding L keys with probability
 * (1 - (1 - 1/480)^(kL))^k; over the Poisson load that is 7.9e-6 for a full
 * generation at 3.5 M/s (1.9e-5 at 4 M/s, 1.8e-7 at 2 M/s). A lookup tests Q - 1
 * full generations and the current, filling one (about an eighth of a full
 * one's rate on average): 2.5e-5 per flood SYN at 3.5 M/s, 86 false matches/s;
 * 6.0e-5 at 4 M/s, 242/s; 5,300/s at 6 M/s. The direct-mapped 16-bit tags this
 * replaces gave about 1,000-1,400/s at 2.8-3.6 M/s. Each false match costs one
 * SYN cookie beyond the rate bound, and at most retryPerBurst per burst get in.
 * lineCap = 48: the share of keys refused is 1.4e-13 at 3.5 M/s, 1.3e-6 at
 * 6 M/s, 5.9e-4 at 8 M/s, and a full line matches a foreign key with
 * probability 1.0e-2, so at any rate a lookup matches falsely at most 4e-2.
 * Memory: Q * 64 bytes per block, taken at the first insert (while the
 * admission sheds) and given back once nothing was added for `idleReleaseUs`;
 * or, after reserve(), taken and faulted in at once and kept (the apps do
 * this at start-up when shedding is configured, see reserve()).
 *
 * Why a lifetime of (Q - 1) * genUs = 3.3 s, not 1.1 s: the first retransmission
 * comes 1 s after the SYN (RFC 6298 (2.1)), the second 2 s after that; if the
 * first one is lost on the way in (a flood congests the path) or its SYN-ACK is,
 * the second comes 3 s after the shed SYN, and clients that still start at the
 * 3 s initial RTO of RFC 1122 / RFC 2988 (RFC 6298 Appendix A) send their first
 * retransmission then too. A Bloom filter cannot remove a key, so a retransmission admitted
 * does not use its entry up; the caller's per-burst cap bounds repeats.
 *
 * Cost: a lookup of a random block misses the cache on each of its Q lines;
 * touch() reads the lines of a whole burst's SYNs first, so those misses
 * overlap (measured in one process on this 2-core VM, 3.5 M distinct SYN/s all
 * shed: about 250 ns per SYN in the classifier with the filter, 45 without,
 * 265 with the 16-bit tags and no touch pass; noisy within +-20 %).
 *
 * No allocation per packet; one object per stack thread.
 */

/** Words per line (64 bytes): word 0 is the stamp, words 1..15 the bits. */
const LINE_WORDS = 16;
/** Stamp: generation in the high 24 bits, key count in the low 8. */
const GEN_MASK = 0xffffff;
const COUNT_MASK = 0xff;
const EMPTY = new Int32Array(0);

/** Where the filter's table comes from (zeroed memory); default: a plain ArrayBuffer, left to the GC. */
export interface SynRetryMemory {
  alloc(bytes: number): ArrayBuffer;
  free(buf: ArrayBuffer): void;
}

const HEAP_MEMORY: SynRetryMemory = {
  alloc: (bytes) => new ArrayBuffer(bytes),
  free: () => {},
};

export interface SynRetryFilterOptions {
  /** Blocks (a power of two; Q lines of 64 bytes each); 0: off. Default 2^18. */
  blocks?: number;
  /** Generations kept, Q (2..8); default 4. */
  generations?: number;
  /** Length of a generation, us (default 1,100,000). */
  genUs?: number;
  /** Bits set per key, k (1..16); default 10. */
  hashes?: number;
  /** Keys a line takes per generation (1..255); default 48. */
  lineCap?: number;
  /** Release the memory after this long without an insert, us (default 10 s; at least Q * genUs). */
  idleReleaseUs?: number;
  /**
   * The table's memory. Default: a plain ArrayBuffer (4 KiB pages, freed when
   * the GC runs). The apps pass 2 MB pages (ffi/region.ts, unmapped by free):
   * a flood's first inserts then fault 32 pages, not 16,384 (about 50 ms of
   * faults in the first 200,000 on 4 KiB pages here, all in the flood's first
   * tenth of a second). Lookups were not measurably faster on them.
   */
  memory?: SynRetryMemory;
}

export class SynRetryFilter {
  readonly blocks: number;
  readonly generations: number;
  readonly genUs: number;
  readonly hashes: number;
  readonly lineCap: number;
  readonly idleReleaseUs: number;
  private readonly memory: SynRetryMemory;
  /** Keys added. */
  added = 0;
  /** Keys refused: their line held lineCap keys of this generation already. */
  refused = 0;
  /** Times the memory was allocated / released. */
  allocations = 0;
  releases = 0;
  /** The lines, or EMPTY while nothing is remembered. */
  private mem: Int32Array = EMPTY;
  /** Generation of the current time (setTime), plus 1 (a zeroed stamp never matches). */
  private gen = 1;
  /** Per generation age j (0: current): the line's word offset inside a block, and its 24-bit generation. */
  private readonly lineOff: Int32Array;
  private readonly lineGen: Int32Array;
  private lastAddUs = 0;
  /** reserve() was called: the table stays (setTime never releases it). */
  private reserved = false;
  /** Kept so touch()'s loads are not optimised away. */
  private touched = 0;
  private nowUs = 0;

  constructor(opts: SynRetryFilterOptions = {}) {
    const b = opts.blocks ?? 1 << 18;
    if (!Number.isInteger(b) || b < 0 || (b & (b - 1)) !== 0 || b > 1 << 22) throw new RangeError(`SYN retry filter: blocks must be 0 or a power of two up to 2^22, got ${b}`);
    const q = opts.generations ?? 4;
    if (!Number.isInteger(q) || q < 2 || q > 8) throw new RangeError(`SYN retry filter: generations must be an integer 2..8, got ${q}`);
    const g = opts.genUs ?? 1_100_000;
    if (!Number.isInteger(g) || g < 1000) throw new RangeError(`SYN retry filter: genUs must be an integer >= 1000, got ${g}`);
    const k = opts.hashes ?? 10;
    if (!Number.isInteger(k) || k < 1 || k > 16) throw new RangeError(`SYN retry filter: hashes must be an integer 1..16, got ${k}`);
    const cap = opts.lineCap ?? 48;
    if (!Number.isInteger(cap) || cap < 1 || cap > COUNT_MASK) throw new RangeError(`SYN retry filter: lineCap must be an integer 1..${COUNT_MASK}, got ${cap}`);
    const idle = opts.idleReleaseUs ?? 10_000_000;
    if (!Number.isFinite(idle) || idle < q * g) throw new RangeError(`SYN retry filter: idleReleaseUs must be >= generations * genUs (${q * g}), got ${idle}`);
    this.blocks = b;
    this.generations = q;
    this.genUs = g;
    this.hashes = k;
    this.lineCap = cap;
    this.idleReleaseUs = idle;
    this.memory = opts.memory ?? HEAP_MEMORY;
    this.lineOff = new Int32Array(q);
    this.lineGen = new Int32Array(q);
    this.setTime(0);
  }

  /** Bytes held now (0 while nothing is remembered). */
  bytes(): number {
    return this.mem.byteLength;
  }

  /** Bytes held while remembering. */
  budgetBytes(): number {
    return this.blocks * this.generations * LINE_WORDS * 4;
  }

  /**
   * The current time (once per receive burst): picks the generation, and
   * releases the memory when nothing was added for idleReleaseUs.
   */
  setTime(nowUs: number): void {
    this.nowUs = nowUs;
    const gen = Math.floor(nowUs / this.genUs) + 1;
    if (gen !== this.gen || nowUs === 0) {
      this.gen = gen;
      const q = this.generations;
      for (let j = 0; j < q; j++) {
        const g = gen - j;
        this.lineOff[j] = (((g % q) + q) % q) * LINE_WORDS;
        this.lineGen[j] = g & GEN_MASK;
      }
    }
    if (!this.reserved && this.mem.length !== 0 && nowUs - this.lastAddUs >= this.idleReleaseUs) this.release();
  }

  /**
   * Take the table now, write one word of each 4 KiB so every page is faulted
   * in, and keep it from then on. A server configured to shed SYNs calls this
   * at start-up: a flood's first bursts then neither allocate nor fault (32
   * 2 MB pages faulted in those bursts made single classification rounds of
   * 3.8-7.1 ms in the first 100 ms of a flood, measured with bench synflood),
   * and a table the machine cannot give fails at start, not under attack.
   */
  reserve(): void {
    if (this.blocks === 0) return;
    const mem = this.table();
    for (let i = 0; i < mem.length; i += 1024) mem[i] = 0;
    this.reserved = true;
  }

  /** The table, taken now if it is not held. */
  private table(): Int32Array {
    if (this.mem.length === 0) {
      this.mem = new Int32Array(this.memory.alloc(this.budgetBytes()), 0, this.budgetBytes() >>> 2);
      this.allocations++;
    }
    return this.mem;
  }

  /** Give the table back (nothing is remembered any more). */
  release(): void {
    if (this.mem.length === 0) return;
    const buf = this.mem.buffer as ArrayBuffer;
    this.mem = EMPTY;
    this.releases++;
    this.memory.free(buf);
  }

  /**
   * Whether the key (h1: block hash, h2: bit hash; two independent 32-bit
   * hashes of it) was added within the live generations.
   */
  has(h1: number, h2: number): boolean {
    const mem = this.mem;
    if (mem.length === 0) return false;
    const q = this.generations;
    const base = (h1 & (this.blocks - 1)) * q * LINE_WORDS;
    const off = this.lineOff;
    const lg = this.lineGen;
    // Lines of the live generations (stamp names it); read all Q stamps first (independent loads).
    let alive = 0;
    for (let j = 0; j < q; j++) if (mem[base + off[j]!]! >>> 8 === lg[j]) alive |= 1 << j;
    if (alive === 0) return false;
    let x = h2 | 0;
    for (let i = 0; i < this.hashes; i++) {
      x = Math.imul(x ^ (x >>> 16), 0x45d9f3b) ^ h1;
      const w = base + 1 + ((((x >>> 11) & 0xffff) * 15) >>> 16);
      const m = 1 << (x >>> 27);
      for (let j = 0; j < q; j++) if ((alive & (1 << j)) !== 0 && (mem[w + off[j]!]! & m) === 0) alive &= ~(1 << j);
      if (alive === 0) return false;
    }
    return true;
  }

  /**
   * Read the stamps of the blocks of keys h1s[0..n) (every line of each): a
   * tight loop of independent loads, so the CPU has many of their cache misses
   * in flight at once; has() and add() for those keys then find the lines in
   * cache. (JavaScript has no prefetch instruction; this is the load itself.)
   */
  touch(h1s: Int32Array, n: number): void {
    const mem = this.mem;
    if (mem.length === 0) return;
    const q = this.generations;
    const mask = this.blocks - 1;
    let s = 0;
    for (let i = 0; i < n; i++) {
      const base = (h1s[i]! & mask) * q * LINE_WORDS;
      for (let j = 0; j < q; j++) s ^= mem[base + j * LINE_WORDS]!;
    }
    this.touched = s;
  }

  /** Add the key to the current generation; false when its line is at lineCap (not remembered). */
  add(h1: number, h2: number): boolean {
    if (this.blocks === 0) return false;
    const mem = this.table();
    this.lastAddUs = this.nowUs;
    const line = (h1 & (this.blocks - 1)) * this.generations * LINE_WORDS + this.lineOff[0]!;
    const g = this.lineGen[0]!;
    let stamp = mem[line]!;
    if (stamp >>> 8 !== g) {
      // Lazy clear: the line last held an expired generation.
      mem.fill(0, line + 1, line + LINE_WORDS);
      stamp = g << 8;
    }
    if ((stamp & COUNT_MASK) >= this.lineCap) {
      this.refused++;
      return false;
    }
    mem[line] = stamp + 1;
    let x = h2 | 0;
    for (let i = 0; i < this.hashes; i++) {
      x = Math.imul(x ^ (x >>> 16), 0x45d9f3b) ^ h1;
      const w = line + 1 + ((((x >>> 11) & 0xffff) * 15) >>> 16);
      mem[w] = mem[w]! | (1 << (x >>> 27));
    }
    this.added++;
    return true;
  }
}
