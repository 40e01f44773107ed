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
 * after 1 s, then 2 s, 4 s, ...). A shed SYN leaves a 16-bit tag in a
 * direct-mapped table of `retrySlots` entries (Uint16Array: 11 bits of a hash
 * of source address, ports and sequence number, never all zero, and the time
 * it was written in units of 2^18 us, modulo 32, in the low 5 bits); the slot
 * is chosen by other bits of the hash. A SYN that finds its own tag is
 * admitted past both bounds (at most `retryPerBurst` such per burst, so an
 * attacker repeating each SYN gains little; a flood SYN meeting a held slot
 * matches another's tag with probability 1/2047, also within that cap: about
 * 1,000-1,400 flood SYNs/s admitted so at 2.8-3.6 M shed SYN/s in bench
 * synflood, each one SYN cookie more than ratePerSec). A tag
 * is HELD for `retryHoldUs` (default 2.2 s: past a retransmission 1 s or 2 s
 * later): a newer shed SYN that maps to a held slot is not remembered
 * (counted in retryTableFull) instead of overwriting it. So a remembered SYN
 * is always found by its retransmission, and under a flood of F shed SYNs/s a
 * shed SYN is remembered when its slot is free: with S slots and hold H, a
 * share of about (S/F) / (H + S/F) of them (0.53 at 3.4 M/s with the default
 * 2^23 slots, 16 MiB; one half at F = S/H, 3.8 M/s). With 32-bit tags
 * the same 16 MiB held 2^22 slots: 0.36 at 3.4 M/s. Before the hold (a table
 * that overwrote always), a tag survived 1 s of flood only with probability
 * exp(-F/S): 0.03 at 3.4 M/s and 2^20 slots, and never past a 2 s backoff.
 *
 * Known sources: a flood from random spoofed addresses almost never uses an
 * address that completed a three-way handshake with this stack, while the
 * devices of a fleet reconnect from addresses that did. The stack's wiring
 * tells this object about every passive open reaching ESTABLISHED (including
 * by a SYN cookie, RFC 4987 3.6) with noteKnown(); the source address is kept
 * in a direct-mapped table of `knownSlots` addresses for `knownTtlUs` (default
 * 300 s; a newer address overwrites a colliding one). A bare SYN from a known
 * address that the bounds would shed is admitted anyway, at most
 * `knownPerBurst` per receive burst, so an attacker spoofing known addresses
 * gets at most that many SYNs per burst past the bounds.
 *
 * This is not an RFC mechanism: RFC 4987 3 lists filtering and rate limiting
 * of SYNs beside SYN cookies (3.6) as flood defences; Linux has none in TCP
 * itself (iptables/nftables limit rules do it there).
 *
 * No allocation; one object per stack thread.
 */

/** Tag epochs: 2^18 us (262 ms), kept modulo 32 (8.4 s) in a tag's low 5 bits. */
const EPOCH_US = 1 << 18;
const EPOCH_MOD = 32;
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
  /** Slots of the shed-SYN table (a power of two, 2 bytes each); 0: no retry preference. Default 2^23 (16 MiB). */
  retrySlots?: number;
  /** How long a shed SYN's tag is held against newer ones, us (default 2,200,000: past a 2 s backoff). */
  retryHoldUs?: number;
  /** Retransmitted SYNs admitted past the bounds per burst; default 8. */
  retryPerBurst?: number;
  /** Slots of the known-source table (a power of two, 12 bytes each); 0: off. Default 2^16 (768 KiB). */
  knownSlots?: number;
  /** How long an address stays known after its last completed handshake, us (default 300 s). */
  knownTtlUs?: number;
  /** SYNs from known sources admitted past the bounds per burst; default 4. */
  knownPerBurst?: number;
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
  /** Tags of shed SYNs (0: empty; low 5 bits: epoch written), allocated when a bound is configured. */
  private readonly retryTags: Uint16Array;
  /** SYNs admitted past the bounds because their source completed a handshake lately (in `admitted` too). */
  knownAdmitted = 0;
  /** Completed passive opens noted (noteKnown calls while active). */
  knownNoted = 0;
  readonly knownSlots: number;
  readonly knownTtlUs: number;
  readonly knownPerBurst: number;
  /** Known source addresses (int32) and the time each stops being known, us (0: empty slot). */
  private readonly knownIp: Int32Array;
  private readonly knownUntil: Float64Array;
  private knownLeft = 0;
  /** Time of the current burst (beginBurst), us. */
  private nowUs = 0;
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
    const rs = opts.retrySlots ?? 1 << 23;
    if (!Number.isInteger(rs) || rs < 0 || (rs & (rs - 1)) !== 0 || rs > 1 << 26) throw new RangeError(`SYN admission: retrySlots must be 0 or a power of two up to 2^26, got ${rs}`);
    const ks = opts.knownSlots ?? 1 << 16;
    if (!Number.isInteger(ks) || ks < 0 || (ks & (ks - 1)) !== 0 || ks > 1 << 24) throw new RangeError(`SYN admission: knownSlots must be 0 or a power of two up to 2^24, got ${ks}`);
    const kt = opts.knownTtlUs ?? 300_000_000;
    if (!Number.isFinite(kt) || kt < 0) throw new RangeError(`SYN admission: knownTtlUs must be >= 0, got ${kt}`);
    const kpb = opts.knownPerBurst ?? 4;
    if (!Number.isInteger(kpb) || kpb < 0) throw new RangeError(`SYN admission: knownPerBurst must be an integer >= 0, got ${kpb}`);
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
    this.retryTags = new Uint16Array(this.active() ? rs : 0);
    this.knownSlots = ks;
    this.knownTtlUs = kt;
    this.knownPerBurst = kpb;
    this.knownIp = new Int32Array(this.active() ? ks : 0);
    this.knownUntil = new Float64Array(this.active() ? ks : 0);
  }

  /** True when some bound is configured (otherwise admit() always says yes). */
  active(): boolean {
    return this.perBurst >= 0 || this.ratePerSec > 0;
  }

  /** Start a receive burst of `n` frames from a batch of `capacity`, at `nowUs`. */
  beginBurst(n: number, capacity: number, nowUs: number): void {
    this.retryLeft = this.retryPerBurst;
    this.knownLeft = this.knownPerBurst;
    this.nowUs = nowUs;
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
    if (slots === 0) return this.admitKnown(srcIp) || this.admit();
    // Two 32-bit mixes of the SYN's identity: slot index and tag (never 0).
    let h = Math.imul(srcIp ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13) ^ ((srcPort << 16) | dstPort), 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 16) ^ seq, 0x27d4eb2f);
    h ^= h >>> 15;
    const slot = h & (slots - 1);
    // Tag: 11 bits of a second mix (all-zero mapped to 1: a tag is never 0) over the epoch's 5 bits.
    const hb = ((Math.imul(h, 0x165667b1) ^ seq) >>> 21) & 0x7ff;
    const id = (hb === 0 ? 1 : hb) << 5;
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
    if (this.admitKnown(srcIp) || this.admit()) return true;
    // Remember it unless the slot holds another SYN's tag younger than the hold.
    if (mine || cur === 0 || ((this.epoch - cur) & EPOCH_MASK) >= this.retryHoldEpochs) tags[slot] = id | this.epoch;
    else this.retryTableFull++;
    return false;
  }

  /** Slot of an address in the known-source table. */
  private knownSlot(ip: number): number {
    return (Math.imul(ip | 0, 0x9e3779b1) >>> 0) & (this.knownIp.length - 1);
  }

  /**
   * A passive open from `srcIp` reached ESTABLISHED at `nowUs` (the stack's
   * wiring calls this from TCP's hook): the address is known for knownTtlUs.
   */
  noteKnown(srcIp: number, nowUs: number): void {
    if (this.knownIp.length === 0) return;
    const s = this.knownSlot(srcIp);
    this.knownIp[s] = srcIp | 0;
    this.knownUntil[s] = nowUs + this.knownTtlUs;
    this.knownNoted++;
  }

  /** True when `srcIp` completed a handshake within knownTtlUs of the current burst's time. */
  isKnown(srcIp: number): boolean {
    if (this.knownIp.length === 0) return false;
    const s = this.knownSlot(srcIp);
    return this.knownIp[s] === (srcIp | 0) && this.knownUntil[s]! > this.nowUs;
  }

  /** Admit a SYN from a known source that the bounds would shed (within the burst's known cap). */
  private admitKnown(srcIp: number): boolean {
    if (this.knownLeft <= 0 || !(this.left === 0 || (this.ratePerSec > 0 && this.tokens < 1)) || !this.isKnown(srcIp)) return false;
    this.knownLeft--;
    this.knownAdmitted++;
    this.admitted++;
    return true;
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
