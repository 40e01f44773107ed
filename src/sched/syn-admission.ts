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
 * after 1 s, then 2 s, 4 s, ...). A shed SYN is added to a time-generational
 * blocked Bloom filter (src/sched/syn-retry-filter.ts: the layout, the lazy
 * per-line clearing and the arithmetic); a SYN found there is admitted past
 * both bounds, at most `retryPerBurst` such per burst. With the defaults (4
 * generations of 1.1 s, 64 MiB, 10 bits per key) every shed SYN is found for
 * at least 3.3 s at any flood rate up to about 6 M shed SYN/s per stack
 * thread: its retransmission 1 s later, or 3 s later when the first
 * retransmission was lost, always gets in (no false negatives; before, a direct-mapped table of 2^23 16-bit tags held 2.2 s
 * remembered a shed SYN only about half the time at 3.4 M shed SYN/s, so a
 * client from a never-seen address failed now and then). The price is false
 * matches, a flood SYN let in as if retransmitted: about 2.5e-5 of flood SYNs
 * at 3.5 M shed SYN/s (86/s), 6e-5 at 4 M/s (242/s), each one SYN cookie more
 * than ratePerSec and within the per-burst cap (the 16-bit tags gave about
 * 1,000-1,400/s at 2.8-3.6 M/s). A line of the filter takes at most 48 keys per
 * generation, so far past the design rate (from about 6 M shed SYN/s per stack
 * thread) some SYNs are not remembered (counted in retryTableFull) rather than
 * the false matches growing without bound. A retransmission admitted does not
 * use its entry up (a Bloom filter cannot remove): an attacker repeating each
 * SYN gets at most retryPerBurst of them per burst past the bounds. The filter
 * takes memory only while SYNs are shed: allocated at the first shed SYN,
 * released 10 s after the last (checked at each receive burst). The classifier
 * hashes a burst's bare SYNs first (prepareSyn), reads their filter lines in
 * one pass (prefetch) and then decides (admitPrepared), so the cache misses of
 * a burst overlap.
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
 * No allocation per packet (the filter allocates its table at the first shed
 * SYN of a flood); one object per stack thread.
 */
import { SynRetryFilter, type SynRetryFilterOptions } from "./syn-retry-filter";

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
  /** The shed-SYN filter (syn-retry-filter.ts; default: its defaults, 64 MiB while shedding); null: no retry preference. */
  retry?: SynRetryFilterOptions | null;
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
  readonly retryPerBurst: number;
  /** Shed SYNs not remembered: their line of the filter was full (a flood past the filter's design rate). */
  retryTableFull = 0;
  /** The shed-SYN filter, or null (no retry preference, or no bound configured). */
  readonly retryFilter: SynRetryFilter | null;
  /** SYNs of the current burst prepared (prepareSyn): source address and the key's two hashes. */
  private prepIp = new Int32Array(0);
  private prepH1 = new Int32Array(0);
  private prepH2 = new Int32Array(0);
  private prepared = 0;
  /** The key hashes of the last hashKey call. */
  private h1 = 0;
  private h2 = 0;
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
    const ks = opts.knownSlots ?? 1 << 16;
    if (!Number.isInteger(ks) || ks < 0 || (ks & (ks - 1)) !== 0 || ks > 1 << 24) throw new RangeError(`SYN admission: knownSlots must be 0 or a power of two up to 2^24, got ${ks}`);
    const kt = opts.knownTtlUs ?? 300_000_000;
    if (!Number.isFinite(kt) || kt < 0) throw new RangeError(`SYN admission: knownTtlUs must be >= 0, got ${kt}`);
    const kpb = opts.knownPerBurst ?? 4;
    if (!Number.isInteger(kpb) || kpb < 0) throw new RangeError(`SYN admission: knownPerBurst must be an integer >= 0, got ${kpb}`);
    const rpb = opts.retryPerBurst ?? 8;
    if (!Number.isInteger(rpb) || rpb < 0) throw new RangeError(`SYN admission: retryPerBurst must be an integer >= 0, got ${rpb}`);
    this.perBurst = pb;
    this.overloadFrames = of;
    this.overloadStreak = os;
    this.ratePerSec = r;
    this.burst = b;
    this.tokens = b;
    this.retryPerBurst = rpb;
    // Validated even when no bound is configured (a bad option is a bad option).
    const filter = opts.retry === null ? null : new SynRetryFilter(opts.retry ?? {});
    this.retryFilter = filter !== null && filter.blocks > 0 && this.active() ? filter : null;
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
    this.prepared = 0;
    if (this.prepIp.length < capacity) this.growPrepared(capacity);
    this.retryLeft = this.retryPerBurst;
    this.knownLeft = this.knownPerBurst;
    this.nowUs = nowUs;
    this.left = -1;
    if (this.retryFilter !== null) this.retryFilter.setTime(nowUs);
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
    if (this.retryFilter === null) return this.admitKnown(srcIp) || this.admit();
    this.hashKey(srcIp, srcPort, dstPort, seq);
    return this.admitHashed(srcIp, this.h1, this.h2);
  }

  /**
   * A burst's bare SYNs in two steps, so the filter's cache misses overlap:
   * prepareSyn for each bare SYN in order (returns its index in the burst,
   * 0, 1, ...), then prefetch() once, then admitPrepared(index) for each in the
   * same order (the decisions, as admitSyn). Without a filter prepareSyn only
   * keeps the address.
   */
  prepareSyn(srcIp: number, srcPort: number, dstPort: number, seq: number): number {
    const i = this.prepared++;
    if (i >= this.prepIp.length) this.growPrepared(2 * i + 1);
    this.prepIp[i] = srcIp;
    if (this.retryFilter !== null) {
      this.hashKey(srcIp, srcPort, dstPort, seq);
      this.prepH1[i] = this.h1;
      this.prepH2[i] = this.h2;
    }
    return i;
  }

  /** Read the filter lines of the prepared SYNs (independent loads: their misses overlap). */
  prefetch(): void {
    if (this.retryFilter !== null && this.prepared > 0) this.retryFilter.touch(this.prepH1, this.prepared);
  }

  /** The decision for prepared SYN `i` (see prepareSyn). */
  admitPrepared(i: number): boolean {
    const ip = this.prepIp[i]!;
    if (this.retryFilter === null) return this.admitKnown(ip) || this.admit();
    return this.admitHashed(ip, this.prepH1[i]!, this.prepH2[i]!);
  }

  /** Room for `n` prepared SYNs (once per batch size, not per burst). */
  private growPrepared(n: number): void {
    const ip = new Int32Array(n);
    const a = new Int32Array(n);
    const b = new Int32Array(n);
    ip.set(this.prepIp);
    a.set(this.prepH1);
    b.set(this.prepH2);
    this.prepIp = ip;
    this.prepH1 = a;
    this.prepH2 = b;
  }

  /** Two independent 32-bit mixes of a SYN's identity into h1 (the filter's block) and h2 (its bits). */
  private hashKey(srcIp: number, srcPort: number, dstPort: number, seq: number): void {
    const pp = (srcPort << 16) | dstPort;
    let h = Math.imul(srcIp ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13) ^ pp, 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 16) ^ seq, 0x27d4eb2f);
    this.h1 = h ^ (h >>> 15);
    let h2 = Math.imul(seq ^ 0x7f4a7c15, 0x2c1b3c6d);
    h2 = Math.imul(h2 ^ (h2 >>> 15) ^ srcIp, 0x297a2d39);
    h2 = Math.imul(h2 ^ (h2 >>> 16) ^ pp, 0x9e3779b1);
    this.h2 = h2 ^ (h2 >>> 16);
  }

  /** Retransmission of a shed SYN (found in the filter) first, then the known source, then the bounds; a shed SYN is added. */
  private admitHashed(srcIp: number, h1: number, h2: number): boolean {
    const f = this.retryFilter!;
    if (this.retryLeft > 0 && f.has(h1, h2)) {
      this.retryLeft--;
      this.retryAdmitted++;
      this.admitted++;
      if (this.tokens >= 1) this.tokens -= 1;
      return true;
    }
    if (this.admitKnown(srcIp) || this.admit()) return true;
    if (!f.add(h1, h2)) this.retryTableFull++;
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
