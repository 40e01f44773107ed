/**
 * SYN admission under a flood (issue 7): how many bare SYNs (connection
 * requests, RFC 9293 3.10.7.2 third) of a receive burst go on to TCP. The rest
 * are shed by the classifier before any protocol work (checksums, listener
 * lookup, SYN cookie, SYN-ACK transmit), so the segments of established flows
 * in the same receive ring are reached sooner and the poll round stays short.
 *
 * Two bounds, each optional:
 *  - per burst: when bursts have come full `overloadStreak` times in a row
 *    (the receive ring keeps a backlog: the stack is behind, not just a
 *    client opening a hundred connections at once), at most `perBurst` bare
 *    SYNs of each further full burst are admitted;
 *  - rate: a token bucket of `ratePerSec` SYNs per second with `burst` tokens,
 *    on the stack's injected clock (integer microseconds). This bounds the
 *    SYN-ACKs we transmit too (each SYN cookie costs a transmit), whatever the
 *    poll rate. A legitimate client whose SYN is shed retransmits it
 *    (RFC 6298 / RFC 9293 3.8.1): at a flood of F SYN/s, each attempt gets
 *    through with probability about min(1, ratePerSec / F).
 * Retransmitted SYNs first: a spoofed flood never repeats a SYN, a real client
 * does (same addresses, ports and ISN, RFC 9293 3.8.1 / RFC 6298 (2.1), (5.5):
 * after 1 s, then 2 s, 4 s, ...). A shed SYN leaves a tag in a direct-mapped
 * table of `retrySlots` entries (hash of source address, ports and sequence
 * number, and the time it was written in units of 2^18 us); a SYN that finds
 * its own tag is admitted past both bounds (at most `retryPerBurst` such per
 * burst, so an attacker repeating each SYN gains little). A tag is HELD for
 * `retryHoldUs` (default 2.2 s: past a retransmission 1 s or 2 s later): a
 * newer shed SYN that maps to a held slot is not remembered (counted in
 * retryTableFull) instead of overwriting it. So a remembered SYN is always
 * found by its retransmission, and under a flood of F shed SYNs/s a shed SYN
 * is remembered when its slot is free: with S slots and hold H, a share of
 * about (S/F) / (H + S/F) of them (0.36 at 3.4 M/s with the default 2^22
 * slots, 16 MiB; most of them while F < S/H, 1.9 M/s). Before the hold (a table
 * that overwrote always), a tag survived 1 s of flood only with probability
 * exp(-F/S): 0.03 at 3.4 M/s and 2^20 slots, and never past a 2 s backoff.
 *
 * This is not an RFC mechanism: RFC 4987 3 lists filtering and rate limiting
 * of SYNs beside SYN cookies (3.6) as flood defences; Linux has none in TCP
 * itself (iptables/nftables limit rules do it there).
 *
 * No allocation; one object per stack thread.
 */

/** Tag epochs: 2^18 us (262 ms), kept modulo 64 (16.8 s) in a tag's low 6 bits. */
const EPOCH_US = 1 << 18;
const EPOCH_MOD = 64;
const EPOCH_MASK = EPOCH_MOD - 1;

export interface SynAdmissionOptions {
  /** Bare SYNs admitted per full burst; negative (default): no per-burst bound. */
  perBurst?: number;
  /** Burst size counted as full; 0 (default): the receive batch's capacity. */
  overloadFrames?: number;
  /** Full bursts in a row before the per-burst bound applies; default 4. */
  overloadStreak?: number;
  /** Token bucket rate in SYNs per second; 0 (default): no rate bound. */
  ratePerSec?: number;
  /** Token bucket depth in SYNs; default max(64, ratePerSec / 50) (20 ms of the rate). */
  burst?: number;
  /** Slots of the shed-SYN table (a power of two); 0: no retry preference. Default 2^22 (16 MiB). */
  retrySlots?: number;
  /** How long a shed SYN's tag is held against newer ones, us (default 2,200,000: past a 2 s backoff). */
  retryHoldUs?: number;
  /** Retransmitted SYNs admitted past the bounds per burst; default 8. */
  retryPerBurst?: number;
}

export class SynAdmission {
  readonly perBurst: number;
  readonly overloadFrames: number;
  readonly overloadStreak: number;
  readonly ratePerSec: number;
  readonly burst: number;
  /** Bare SYNs admitted by this object (while a bound was active or not). */
  admitted = 0;
  /** Shed because the full burst's budget was spent. */
  shedBurst = 0;
  /** Shed because the token bucket was empty. */
  shedRate = 0;
  /** Bursts the per-burst bound applied to (full, after overloadStreak full ones in a row). */
  fullBursts = 0;
  /** Full bursts in a row so far. */
  private streak = 0;
  /** SYNs admitted past the bounds because they retransmit a shed SYN (in `admitted` too). */
  retryAdmitted = 0;
  readonly retrySlots: number;
  readonly retryPerBurst: number;
  /** Hold of a tag in epochs of 2^18 us (retryHoldUs rounded up, at least 1). */
  readonly retryHoldEpochs: number;
  /** Shed SYNs not remembered: their slot held a newer tag (the table is full for this flood rate). */
  retryTableFull = 0;
  /** The current epoch (nowUs >> 18, low 6 bits), set by beginBurst. */
  private epoch = 0;
  /** Tags of shed SYNs (0: empty; low 6 bits: epoch written), allocated when a bound is configured. */
  private readonly retryTags: Int32Array;
  private retryLeft = 0;
  /** SYNs left in the current burst's budget; -1: no per-burst bound for this burst. */
  private left = -1;
  /** Tokens in the bucket (fractional: refilled per microsecond). */
  private tokens: number;
  private lastUs = -1;

  constructor(opts: SynAdmissionOptions) {
    const pb = opts.perBurst ?? -1;
    if (!Number.isInteger(pb)) throw new RangeError(`SYN admission: perBurst must be an integer (negative: off), got ${pb}`);
    const of = opts.overloadFrames ?? 0;
    if (!Number.isInteger(of) || of < 0) throw new RangeError(`SYN admission: overloadFrames must be an integer >= 0, got ${of}`);
    const os = opts.overloadStreak ?? 4;
    if (!Number.isInteger(os) || os < 1) throw new RangeError(`SYN admission: overloadStreak must be an integer >= 1, got ${os}`);
    const r = opts.ratePerSec ?? 0;
    if (!Number.isFinite(r) || r < 0) throw new RangeError(`SYN admission: ratePerSec must be >= 0 (0: off), got ${r}`);
    const b = opts.burst ?? Math.max(64, Math.ceil(r / 50));
    if (!Number.isInteger(b) || b < 1) throw new RangeError(`SYN admission: burst must be an integer >= 1, got ${b}`);
    const rs = opts.retrySlots ?? 1 << 22;
    if (!Number.isInteger(rs) || rs < 0 || (rs & (rs - 1)) !== 0 || rs > 1 << 26) throw new RangeError(`SYN admission: retrySlots must be 0 or a power of two up to 2^26, got ${rs}`);
    const rpb = opts.retryPerBurst ?? 8;
    const hold = opts.retryHoldUs ?? 2_200_000;
    const he = Math.ceil(hold / EPOCH_US);
    if (!Number.isFinite(hold) || hold < 0 || he >= EPOCH_MOD) throw new RangeError(`SYN admission: retryHoldUs must be 0..${(EPOCH_MOD - 1) * EPOCH_US}, got ${hold}`);
    if (!Number.isInteger(rpb) || rpb < 0) throw new RangeError(`SYN admission: retryPerBurst must be an integer >= 0, got ${rpb}`);
    this.perBurst = pb;
    this.overloadFrames = of;
    this.overloadStreak = os;
    this.ratePerSec = r;
    this.burst = b;
    this.tokens = b;
    this.retrySlots = rs;
    this.retryPerBurst = rpb;
    this.retryHoldEpochs = Math.max(1, he);
    this.retryTags = new Int32Array(this.active() ? rs : 0);
  }

  /** True when some bound is configured (otherwise admit() always says yes). */
  active(): boolean {
    return this.perBurst >= 0 || this.ratePerSec > 0;
  }

  /** Start a receive burst of `n` frames from a batch of `capacity`, at `nowUs`. */
  beginBurst(n: number, capacity: number, nowUs: number): void {
    this.retryLeft = this.retryPerBurst;
    this.left = -1;
    this.epoch = Math.floor(nowUs / EPOCH_US) & EPOCH_MASK;
    if (n >= (this.overloadFrames > 0 ? this.overloadFrames : capacity)) {
      if (this.streak < this.overloadStreak) this.streak++;
      if (this.perBurst >= 0 && this.streak >= this.overloadStreak) {
        this.left = this.perBurst;
        this.fullBursts++;
      }
    } else {
      this.streak = 0;
    }
    if (this.ratePerSec > 0) {
      if (this.lastUs >= 0 && nowUs > this.lastUs) {
        const t = this.tokens + ((nowUs - this.lastUs) * this.ratePerSec) / 1e6;
        this.tokens = t < this.burst ? t : this.burst;
      }
      if (nowUs > this.lastUs) this.lastUs = nowUs;
    }
  }

  /**
   * One bare SYN of the current burst, identified by its source address and
   * port, destination port and sequence number: true to process it, false to
   * shed it (counted, and remembered for its retransmission).
   */
  admitSyn(srcIp: number, srcPort: number, dstPort: number, seq: number): boolean {
    const slots = this.retryTags.length;
    if (slots === 0) return this.admit();
    // Two 32-bit mixes of the SYN's identity: slot index and tag (never 0).
    let h = Math.imul(srcIp ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13) ^ ((srcPort << 16) | dstPort), 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 16) ^ seq, 0x27d4eb2f);
    h ^= h >>> 15;
    const slot = h & (slots - 1);
    // Tag: 25 hash bits, bit 6 set (never 0), the epoch in the low 6 bits.
    const id = ((Math.imul(h, 0x165667b1) ^ seq) & ~EPOCH_MASK) | (EPOCH_MASK + 1);
    const tags = this.retryTags;
    const cur = tags[slot]!;
    const mine = (cur & ~EPOCH_MASK) === id;
    if (mine && this.retryLeft > 0) {
      tags[slot] = 0;
      this.retryLeft--;
      this.retryAdmitted++;
      this.admitted++;
      if (this.tokens >= 1) this.tokens -= 1;
      return true;
    }
    if (this.admit()) return true;
    // Remember it unless the slot holds another SYN's tag younger than the hold.
    if (mine || cur === 0 || ((this.epoch - cur) & EPOCH_MASK) >= this.retryHoldEpochs) tags[slot] = id | this.epoch;
    else this.retryTableFull++;
    return false;
  }

  /** One bare SYN of the current burst (no retry preference): true to process it, false to shed it (counted). */
  admit(): boolean {
    if (this.left === 0) {
      this.shedBurst++;
      return false;
    }
    if (this.ratePerSec > 0) {
      if (this.tokens < 1) {
        this.shedRate++;
        return false;
      }
      this.tokens -= 1;
    }
    if (this.left > 0) this.left--;
    this.admitted++;
    return true;
  }

  shed(): number {
    return this.shedBurst + this.shedRate;
  }
}
