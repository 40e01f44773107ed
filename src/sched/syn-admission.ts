/**
 * SYN admission under a flood (issue 7): how many bare SYNs (connection
 * requests, RFC 9293 3.10.7.2 third) of a receive burst go on to TCP. The rest
 * are shed by the classifier before any protocol work (checksums, listener
 * lookup, SYN cookie, SYN-ACK transmit), so the segments of established flows
 * in the same receive ring are reached sooner and the poll round stays short.
 *
 * Two bounds, each optional:
 *  - per burst: when a burst is full (the receive ring had a backlog: the
 *    stack is behind), at most `perBurst` bare SYNs of it are admitted;
 *  - rate: a token bucket of `ratePerSec` SYNs per second with `burst` tokens,
 *    on the stack's injected clock (integer microseconds). This bounds the
 *    SYN-ACKs we transmit too (each SYN cookie costs a transmit), whatever the
 *    poll rate. A legitimate client whose SYN is shed retransmits it
 *    (RFC 6298 / RFC 9293 3.8.1): at a flood of F SYN/s, each attempt gets
 *    through with probability about min(1, ratePerSec / F).
 * This is not an RFC mechanism: RFC 4987 3 lists filtering and rate limiting
 * of SYNs beside SYN cookies (3.6) as flood defences; Linux has none in TCP
 * itself (iptables/nftables limit rules do it there).
 *
 * No allocation; one object per stack thread.
 */

export interface SynAdmissionOptions {
  /** Bare SYNs admitted per full burst; negative (default): no per-burst bound. */
  perBurst?: number;
  /** Burst size counted as full; 0 (default): the receive batch's capacity. */
  overloadFrames?: number;
  /** Token bucket rate in SYNs per second; 0 (default): no rate bound. */
  ratePerSec?: number;
  /** Token bucket depth in SYNs; default max(64, ratePerSec / 50) (20 ms of the rate). */
  burst?: number;
}

export class SynAdmission {
  readonly perBurst: number;
  readonly overloadFrames: number;
  readonly ratePerSec: number;
  readonly burst: number;
  /** Bare SYNs admitted by this object (while a bound was active or not). */
  admitted = 0;
  /** Shed because the full burst's budget was spent. */
  shedBurst = 0;
  /** Shed because the token bucket was empty. */
  shedRate = 0;
  /** Bursts counted as full (the per-burst bound applied). */
  fullBursts = 0;
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
    const r = opts.ratePerSec ?? 0;
    if (!Number.isFinite(r) || r < 0) throw new RangeError(`SYN admission: ratePerSec must be >= 0 (0: off), got ${r}`);
    const b = opts.burst ?? Math.max(64, Math.ceil(r / 50));
    if (!Number.isInteger(b) || b < 1) throw new RangeError(`SYN admission: burst must be an integer >= 1, got ${b}`);
    this.perBurst = pb;
    this.overloadFrames = of;
    this.ratePerSec = r;
    this.burst = b;
    this.tokens = b;
  }

  /** True when some bound is configured (otherwise admit() always says yes). */
  active(): boolean {
    return this.perBurst >= 0 || this.ratePerSec > 0;
  }

  /** Start a receive burst of `n` frames from a batch of `capacity`, at `nowUs`. */
  beginBurst(n: number, capacity: number, nowUs: number): void {
    if (this.perBurst >= 0 && n >= (this.overloadFrames > 0 ? this.overloadFrames : capacity)) {
      this.left = this.perBurst;
      this.fullBursts++;
    } else {
      this.left = -1;
    }
    if (this.ratePerSec > 0) {
      if (this.lastUs >= 0 && nowUs > this.lastUs) {
        const t = this.tokens + ((nowUs - this.lastUs) * this.ratePerSec) / 1e6;
        this.tokens = t < this.burst ? t : this.burst;
      }
      if (nowUs > this.lastUs) this.lastUs = nowUs;
    }
  }

  /** One bare SYN of the current burst: true to process it, false to shed it (counted). */
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
