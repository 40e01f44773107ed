/**
 * Round-trip time estimation and the retransmission timeout, RFC 6298.
 *
 * Per connection, struct of arrays indexed by connection id: SRTT and RTTVAR in
 * integer microseconds (Int32Array), the backoff exponent and flags (Uint8Array):
 * 10 bytes per connection (`RttEstimator.bytesPerConn`).
 *
 * Karn's algorithm is the caller's job (RFC 6298 3): it samples only segments
 * that were not retransmitted, or uses the timestamp option (RFC 7323 4), and
 * keeps the backed-off RTO until such a sample arrives.
 *
 * Deviations, both as Linux does:
 *   - (2.4) says an RTO below 1 s SHOULD be rounded up to 1 s; the floor here is
 *     `minRtoUs` (default 200 ms).
 *   - The estimators are integers rounded down (shifts by 3 and 2); the error
 *     is below 1 us per sample, far under the clock granularity G.
 */

export interface RttOptions {
  /** Lower bound on the RTO, (2.4). Default 200 ms. */
  minRtoUs?: number;
  /** Upper bound on the RTO, (2.5): at least 60 s. Default 60 s. */
  maxRtoUs?: number;
  /** RTO before the first sample, (2.1). Default 1 s. */
  initialRtoUs?: number;
  /** Clock granularity G in (2.2)/(2.3). Default 1 ms. */
  granularityUs?: number;
  /** Memory to carve the arrays from (see src/mem/carve.ts); default: a fresh ArrayBuffer. */
  backing?: ArrayBuffer;
  byteOffset?: number;
}

import { arrayBytes, Carver } from "../mem/carve";

/** flags bit: at least one RTT measurement has been made. */
const F_SAMPLED = 1;
/** flags bit: a SYN (or SYN-ACK) timed out before any sample, (5.7). */
const F_SYN_LOST = 2;

/** Backoff exponents are held at this value (2^30 times any RTO is past any maximum). */
const MAX_BACKOFF = 30;

/** RTO to use after a lost SYN until the first measurement, RFC 6298 (5.7). */
const SYN_LOST_RTO_US = 3_000_000;

export class RttEstimator {
  /** Bytes of state per connection. */
  static readonly bytesPerConn = 4 + 4 + 1 + 1;

  readonly capacity: number;
  readonly minRtoUs: number;
  readonly maxRtoUs: number;
  readonly initialRtoUs: number;
  readonly granularityUs: number;
  private readonly srtt: Int32Array;
  private readonly rttvar: Int32Array;
  private readonly backoffExp: Uint8Array;
  private readonly flags: Uint8Array;

  constructor(capacity: number, opts: RttOptions = {}) {
    this.capacity = capacity;
    this.minRtoUs = opts.minRtoUs ?? 200_000;
    this.maxRtoUs = opts.maxRtoUs ?? 60_000_000;
    this.initialRtoUs = opts.initialRtoUs ?? 1_000_000;
    this.granularityUs = opts.granularityUs ?? 1000;
    if (!(this.minRtoUs > 0 && this.minRtoUs <= this.maxRtoUs && this.maxRtoUs < 0x7fffffff)) {
      throw new RangeError("RttEstimator: need 0 < minRtoUs <= maxRtoUs < 2^31 us");
    }
    const m = new Carver("RttEstimator", RttEstimator.bytesFor(capacity), opts.backing, opts.byteOffset);
    this.srtt = m.i32(capacity);
    this.rttvar = m.i32(capacity);
    this.backoffExp = m.u8(capacity);
    this.flags = m.u8(capacity);
  }

  /** Forget everything about connection `id`: RTO back to the initial value, (2.1). */
  reset(id: number): void {
    this.srtt[id] = 0;
    this.rttvar[id] = 0;
    this.backoffExp[id] = 0;
    this.flags[id] = 0;
  }

  /**
   * Take one RTT measurement of `rttUs` microseconds.
   * First one (2.2): SRTT = R, RTTVAR = R/2.
   * Later ones (2.3): RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R'| (with the old SRTT),
   * then SRTT = 7/8 SRTT + 1/8 R'.
   * A valid sample also ends any backoff (Karn, RFC 6298 5 note after (5.7)):
   * the RTO is recomputed from the new estimate. Negative samples are ignored.
   */
  sample(id: number, rttUs: number): void {
    if (!(rttUs >= 0)) return;
    const r = rttUs > this.maxRtoUs ? this.maxRtoUs : rttUs | 0;
    const f = this.flags[id]!;
    if ((f & F_SAMPLED) === 0) {
      this.srtt[id] = r;
      this.rttvar[id] = r >> 1;
      this.flags[id] = (f | F_SAMPLED) & ~F_SYN_LOST;
    } else {
      const srtt = this.srtt[id]!;
      const rttvar = this.rttvar[id]!;
      let d = srtt - r;
      if (d < 0) d = -d;
      this.rttvar[id] = rttvar + ((d - rttvar) >> 2);
      this.srtt[id] = srtt + ((r - srtt) >> 3);
    }
    this.backoffExp[id] = 0;
  }

  /**
   * The retransmission timeout in microseconds, backoff applied:
   * RTO = SRTT + max(G, 4*RTTVAR) (2.3), or the initial RTO before any sample
   * (2.1), clamped to [minRtoUs, maxRtoUs] (2.4)/(2.5), then doubled once per
   * backoff (5.5) and clamped to maxRtoUs again.
   */
  rtoUs(id: number): number {
    const f = this.flags[id]!;
    let base: number;
    if ((f & F_SAMPLED) !== 0) {
      const v4 = this.rttvar[id]! * 4;
      base = this.srtt[id]! + (v4 > this.granularityUs ? v4 : this.granularityUs);
    } else if ((f & F_SYN_LOST) !== 0 && this.initialRtoUs < SYN_LOST_RTO_US) {
      base = SYN_LOST_RTO_US;
    } else {
      base = this.initialRtoUs;
    }
    if (base < this.minRtoUs) base = this.minRtoUs;
    const b = this.backoffExp[id]!;
    if (b !== 0) base = base * (1 << b);
    return base > this.maxRtoUs ? this.maxRtoUs : base;
  }

  /** The timer expired: RTO = RTO * 2 (5.5). */
  backoff(id: number): void {
    const b = this.backoffExp[id]!;
    if (b < MAX_BACKOFF) this.backoffExp[id] = b + 1;
  }

  /** Drop the backoff without a new sample (e.g. a new connection reusing the estimate). */
  clearBackoff(id: number): void {
    this.backoffExp[id] = 0;
  }

  /** Number of backoffs applied since the last sample or clearBackoff. */
  backoffCount(id: number): number {
    return this.backoffExp[id]!;
  }

  /**
   * A SYN or SYN-ACK timed out: until the first measurement the base RTO is 3 s
   * once data transfer starts, RFC 6298 (5.7) (when the initial RTO is lower).
   */
  noteSynTimeout(id: number): void {
    this.flags[id] = this.flags[id]! | F_SYN_LOST;
  }

  /** Smoothed RTT in us (0 before the first sample). */
  srttUs(id: number): number {
    return this.srtt[id]!;
  }

  /** RTT variation in us (0 before the first sample). */
  rttvarUs(id: number): number {
    return this.rttvar[id]!;
  }

  /** Whether at least one RTT measurement has been taken. */
  hasSample(id: number): boolean {
    return (this.flags[id]! & F_SAMPLED) !== 0;
  }

  /** Bytes the typed arrays of an estimator for `capacity` connections take. */
  static bytesFor(capacity: number): number {
    return 2 * arrayBytes(4, capacity) + 2 * arrayBytes(1, capacity);
  }
}
