/**
 * NewReno congestion control: RFC 5681 (slow start, congestion avoidance, fast
 * retransmit/fast recovery), RFC 6582 (NewReno partial ACKs), RFC 3465
 * (appropriate byte counting), RFC 6928 (initial window of 10 segments).
 *
 * Per connection (struct of arrays, indexed by connection id): cwnd, ssthresh
 * and the congestion-avoidance byte counter (Int32Array), the MSS (Uint16Array),
 * flags (Uint8Array): 15 bytes (`NewReno.bytesPerConn`).
 *
 * The slow-start and window helpers exported here are shared with CUBIC (RFC
 * 9438 4.10 uses the same slow start; 4.6 the same recovery mechanics).
 * See src/tcp/congestion.ts for who does what.
 */

import { arrayBytes, Carver } from "../mem/carve";
import type { CongestionControl, CongestionOptions } from "./congestion";

/** "Arbitrarily high" initial ssthresh, RFC 5681 3.1. */
export const SSTHRESH_INFINITE = 0x7fffffff;
/** Windows never grow past this (2^30 bytes: the largest window RFC 7323 2.3 can express). */
export const CWND_MAX = 0x40000000;

/** flags: an RTO happened and no new data has been ACKed since (RFC 5681 3.1: hold ssthresh on repeated timeouts). */
export const CC_F_RTO_PENDING = 1;
/** flags: in the slow start that follows an RTO (RFC 3465 2.3: L = 1 SMSS). */
export const CC_F_SS_AFTER_RTO = 2;

/**
 * Initial window in bytes. RFC 6928 2: IW = min(10*MSS, max(2*MSS, 14600)).
 * Generalized for another segment count n as min(n*MSS, max(2*MSS, n*1460)).
 */
export function initialWindow(mss: number, segments: number): number {
  const a = segments * mss;
  let b = segments * 1460;
  if (b < 2 * mss) b = 2 * mss;
  return a < b ? a : b;
}

/**
 * Whether an ACK may grow cwnd (RFC 7661, RFC 9438 5.8: not while application
 * limited). `outstanding` is what was in flight when the ACK arrived. In slow
 * start half a window counts (the window doubles per RTT); in congestion
 * avoidance the sender must have filled cwnd to within one MSS.
 */
export function cwndLimited(cwnd: number, outstanding: number, mss: number, slowStart: boolean): boolean {
  return slowStart ? outstanding * 2 >= cwnd : outstanding + mss > cwnd;
}

/**
 * Slow-start increase for `acked` bytes: min(N, L*SMSS), RFC 3465 2.2 with
 * L = 2 (RFC 5681 3.1 eq. 2 allows it), or L = 1 in the slow start that
 * follows a retransmission timeout (RFC 3465 2.3).
 */
export function slowStartIncrease(acked: number, mss: number, afterRto: boolean): number {
  const limit = afterRto ? mss : 2 * mss;
  return acked < limit ? acked : limit;
}

/** ssthresh after a loss, RFC 5681 3.1 eq. 4: max(FlightSize / 2, 2*SMSS). */
export function renoSsthresh(flightBytes: number, mss: number): number {
  const half = Math.floor(flightBytes / 2);
  return half > 2 * mss ? half : 2 * mss;
}

export class NewReno implements CongestionControl {
  static readonly bytesPerConn = 4 + 4 + 4 + 2 + 1;
  readonly name = "newreno";
  readonly bytesPerConn = NewReno.bytesPerConn;
  readonly capacity: number;
  readonly initialWindowSegments: number;
  private readonly cwndB: Int32Array;
  private readonly ssthreshB: Int32Array;
  /** Bytes acknowledged in congestion avoidance since cwnd last grew (RFC 3465 2.1 bytes_acked). */
  private readonly bytesAcked: Int32Array;
  private readonly mssB: Uint16Array;
  private readonly flags: Uint8Array;

  constructor(capacity: number, opts: CongestionOptions = {}) {
    this.capacity = capacity;
    this.initialWindowSegments = opts.initialWindowSegments ?? 10;
    const m = new Carver("NewReno", NewReno.bytesFor(capacity), opts.backing, opts.byteOffset);
    this.cwndB = m.i32(capacity);
    this.ssthreshB = m.i32(capacity);
    this.bytesAcked = m.i32(capacity);
    this.mssB = m.u16(capacity);
    this.flags = m.u8(capacity);
  }

  init(id: number, mssBytes: number, _nowUs: number): void {
    this.mssB[id] = mssBytes;
    this.cwndB[id] = initialWindow(mssBytes, this.initialWindowSegments); // RFC 6928 2
    this.ssthreshB[id] = SSTHRESH_INFINITE; // RFC 5681 3.1
    this.bytesAcked[id] = 0;
    this.flags[id] = 0;
  }

  cwnd(id: number): number {
    return this.cwndB[id]!;
  }

  ssthresh(id: number): number {
    return this.ssthreshB[id]!;
  }

  onAck(id: number, ackedBytes: number, flightBytes: number, _nowUs: number, _rttUs: number): void {
    const mss = this.mssB[id]!;
    const cwnd = this.cwndB[id]!;
    const ssthresh = this.ssthreshB[id]!;
    let f = this.flags[id]! & ~CC_F_RTO_PENDING;
    if (cwnd < ssthresh) {
      // Slow start, RFC 5681 3.1 eq. 2 with RFC 3465 byte counting; stops at ssthresh.
      if (cwndLimited(cwnd, flightBytes + ackedBytes, mss, true)) {
        let next = cwnd + slowStartIncrease(ackedBytes, mss, (f & CC_F_SS_AFTER_RTO) !== 0);
        if (next > ssthresh) next = ssthresh;
        this.cwndB[id] = next > CWND_MAX ? CWND_MAX : next;
      }
      this.bytesAcked[id] = 0;
    } else {
      // Congestion avoidance, RFC 5681 3.1 / RFC 3465 2.1: one SMSS per cwnd bytes acknowledged.
      f &= ~CC_F_SS_AFTER_RTO;
      if (cwndLimited(cwnd, flightBytes + ackedBytes, mss, false)) {
        let counted = this.bytesAcked[id]! + ackedBytes;
        let next = cwnd;
        if (counted >= cwnd) {
          counted -= cwnd;
          next = cwnd + mss;
        }
        this.bytesAcked[id] = counted;
        this.cwndB[id] = next > CWND_MAX ? CWND_MAX : next;
      }
    }
    this.flags[id] = f;
  }

  enterRecovery(id: number, flightBytes: number, _nowUs: number): void {
    // RFC 5681 3.2 step 2; cwnd = ssthresh as RFC 6675 5 step (4.2). Without SACK the caller
    // adds the 3 (and later) duplicate ACKs with onDupAcks (RFC 5681 3.2 steps 3-4).
    const ss = renoSsthresh(flightBytes, this.mssB[id]!);
    this.ssthreshB[id] = ss;
    this.cwndB[id] = ss;
    this.bytesAcked[id] = 0;
  }

  onDupAcks(id: number, count: number): void {
    const next = this.cwndB[id]! + count * this.mssB[id]!;
    this.cwndB[id] = next > CWND_MAX ? CWND_MAX : next;
  }

  onPartialAck(id: number, ackedBytes: number): void {
    // RFC 6582 3.2 step 5: deflate by the amount acknowledged, add back one SMSS if at least
    // one SMSS was acknowledged. Never below ssthresh (the window RFC 6675 recovery uses).
    const mss = this.mssB[id]!;
    let next = this.cwndB[id]! - ackedBytes;
    if (ackedBytes >= mss) next += mss;
    const ss = this.ssthreshB[id]!;
    this.cwndB[id] = next < ss ? ss : next;
  }

  exitRecovery(id: number, _nowUs: number): void {
    // RFC 6582 3.2 step 3, option (2): cwnd = ssthresh.
    this.cwndB[id] = this.ssthreshB[id]!;
    this.bytesAcked[id] = 0;
  }

  onRto(id: number, flightBytes: number, _nowUs: number): void {
    const mss = this.mssB[id]!;
    const f = this.flags[id]!;
    // RFC 5681 3.1 eq. 4, except that a timeout of an already timed-out retransmission keeps ssthresh.
    if ((f & CC_F_RTO_PENDING) === 0) this.ssthreshB[id] = renoSsthresh(flightBytes, mss);
    this.cwndB[id] = mss; // loss window LW = 1 SMSS
    this.bytesAcked[id] = 0;
    this.flags[id] = f | CC_F_RTO_PENDING | CC_F_SS_AFTER_RTO;
  }

  onIdleRestart(id: number, _nowUs: number, _rtoUs: number): void {
    // RFC 5681 4.1: cwnd = min(RW, cwnd) with RW = min(IW, cwnd).
    const iw = initialWindow(this.mssB[id]!, this.initialWindowSegments);
    if (this.cwndB[id]! > iw) this.cwndB[id] = iw;
    this.bytesAcked[id] = 0;
  }

  setMss(id: number, mss: number): void {
    this.mssB[id] = mss;
    if (this.cwndB[id]! < mss) this.cwndB[id] = mss;
  }

  /** Bytes of typed-array state for `capacity` connections. */
  static bytesFor(capacity: number): number {
    return 3 * arrayBytes(4, capacity) + arrayBytes(2, capacity) + arrayBytes(1, capacity);
  }
}
