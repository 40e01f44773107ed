/**
 * CUBIC congestion control, RFC 9438, in bytes and integer microseconds.
 *
 * Window growth in congestion avoidance (RFC 9438 4.2-4.5):
 *   W_cubic(t) = C * (t - K)^3 + W_max                     (Figure 1, in segments)
 *   K = cbrt((W_max - cwnd_epoch) / C)                      (Figure 2)
 *   target = W_cubic(t + RTT) clamped to [cwnd, 1.5 * cwnd] (4.2)
 *   cwnd += (target - cwnd) / cwnd per segment acknowledged (4.4 concave, 4.5 convex)
 *   W_est += alpha_cubic * segments_acked / cwnd, alpha_cubic = 3(1 - beta)/(1 + beta),
 *     1 once W_est >= cwnd_prior; cwnd = W_est while W_cubic(t) < W_est (4.3 Reno-friendly)
 * with C = 0.4, beta_cubic = 0.7, t measured from the start of the current
 * congestion avoidance stage (the first ACK in congestion avoidance), RTT the
 * smoothed RTT the caller passes.
 * On loss (4.6, 4.7): cwnd_prior = cwnd; W_max = cwnd, or cwnd * (1 + beta) / 2
 * when cwnd < W_max (fast convergence); ssthresh = cwnd = max(flight * beta, 2*MSS).
 * On timeout (4.8): ssthresh as on loss, cwnd = 1 MSS; the next congestion
 * avoidance stage starts with K = 0 and W_max = cwnd_epoch.
 * Slow start (4.10) and the recovery mechanics are the RFC 5681/6582/3465 ones
 * shared with NewReno (src/tcp/newreno.ts).
 *
 * Deviations: in the Reno-friendly region cwnd is raised to W_est but never
 * lowered on an ACK (as Linux does); HyStart++ (RFC 9406) and the undo of
 * spurious congestion events (4.9) are not implemented; ECN is not used.
 *
 * Per connection (struct of arrays): cwnd, ssthresh, W_max, cwnd_prior,
 * cwnd_epoch (Int32Array, bytes), the epoch start time (Int32Array, ms, wrapping:
 * t is exact to 1 ms and an epoch may last 24 days), W_est (Float64Array), the MSS
 * (Uint16Array), flags (Uint8Array): 35 bytes (`Cubic.bytesPerConn`).
 */

import { arrayBytes, Carver } from "../mem/carve";
import type { CongestionControl, CongestionOptions } from "./congestion";
import {
  CC_F_RTO_PENDING,
  CC_F_SS_AFTER_RTO,
  CWND_MAX,
  SSTHRESH_INFINITE,
  cwndLimited,
  initialWindow,
  slowStartIncrease,
} from "./newreno";

/** C, in segments per second^3 (RFC 9438 5.1 / 4.2). */
export const CUBIC_C = 0.4;
/** beta_cubic, the multiplicative decrease factor (RFC 9438 4.6). */
export const CUBIC_BETA = 0.7;
/** alpha_cubic = 3 * (1 - beta) / (1 + beta) (RFC 9438 4.3, Figure 4). */
export const CUBIC_ALPHA = (3 * (1 - CUBIC_BETA)) / (1 + CUBIC_BETA);

/** flags bit: a congestion avoidance stage is under way (epochStartMs is valid). */
const CUBIC_F_EPOCH = 4;

export class Cubic implements CongestionControl {
  static readonly bytesPerConn = 4 * 6 + 8 + 2 + 1;
  readonly name = "cubic";
  readonly bytesPerConn = Cubic.bytesPerConn;
  readonly capacity: number;
  readonly initialWindowSegments: number;
  private readonly cwndB: Int32Array;
  private readonly ssthreshB: Int32Array;
  /** W_max in bytes; 0 = undefined (no loss yet, or reset by a timeout). */
  private readonly wMaxB: Int32Array;
  /** cwnd_prior: cwnd when ssthresh was last set, bytes (0 = none yet). */
  private readonly cwndPriorB: Int32Array;
  /** cwnd_epoch: cwnd at the start of the current congestion avoidance stage, bytes. */
  private readonly cwndEpochB: Int32Array;
  /** t_epoch in ms (low 32 bits), valid while CUBIC_F_EPOCH is set. */
  private readonly epochStartMs: Int32Array;
  /** W_est in bytes (fractional). */
  private readonly wEstB: Float64Array;
  private readonly mssB: Uint16Array;
  private readonly flags: Uint8Array;

  constructor(capacity: number, opts: CongestionOptions = {}) {
    this.capacity = capacity;
    this.initialWindowSegments = opts.initialWindowSegments ?? 10;
    const m = new Carver("Cubic", Cubic.bytesFor(capacity), opts.backing, opts.byteOffset);
    this.wEstB = m.f64(capacity);
    this.cwndB = m.i32(capacity);
    this.ssthreshB = m.i32(capacity);
    this.wMaxB = m.i32(capacity);
    this.cwndPriorB = m.i32(capacity);
    this.cwndEpochB = m.i32(capacity);
    this.epochStartMs = m.i32(capacity);
    this.mssB = m.u16(capacity);
    this.flags = m.u8(capacity);
  }

  init(id: number, mssBytes: number, _nowUs: number): void {
    this.mssB[id] = mssBytes;
    this.cwndB[id] = initialWindow(mssBytes, this.initialWindowSegments); // RFC 6928 2
    this.ssthreshB[id] = SSTHRESH_INFINITE; // RFC 5681 3.1
    this.wMaxB[id] = 0;
    this.cwndPriorB[id] = 0;
    this.cwndEpochB[id] = 0;
    this.epochStartMs[id] = 0;
    this.wEstB[id] = 0;
    this.flags[id] = 0;
  }

  cwnd(id: number): number {
    return this.cwndB[id]!;
  }

  ssthresh(id: number): number {
    return this.ssthreshB[id]!;
  }

  /** W_max in bytes (0 while undefined). For tests and monitoring. */
  wMax(id: number): number {
    return this.wMaxB[id]!;
  }

  /** K in seconds for the current congestion avoidance stage (RFC 9438 Figure 2), 0 when none. */
  kSeconds(id: number): number {
    const d = this.wMaxB[id]! - this.cwndEpochB[id]!;
    return d > 0 ? Math.cbrt(d / this.mssB[id]! / CUBIC_C) : 0;
  }

  /** W_est in bytes. For tests and monitoring. */
  wEst(id: number): number {
    return this.wEstB[id]!;
  }

  onAck(id: number, ackedBytes: number, flightBytes: number, nowUs: number, rttUs: number): void {
    const mss = this.mssB[id]!;
    const cwnd = this.cwndB[id]!;
    const ssthresh = this.ssthreshB[id]!;
    let f = this.flags[id]! & ~CC_F_RTO_PENDING;
    if (cwnd < ssthresh) {
      // Slow start (RFC 9438 4.10 -> RFC 5681 3.1, RFC 3465 2.2).
      if (cwndLimited(cwnd, flightBytes + ackedBytes, mss, true)) {
        let next = cwnd + slowStartIncrease(ackedBytes, mss, (f & CC_F_SS_AFTER_RTO) !== 0);
        if (next > ssthresh) next = ssthresh;
        this.cwndB[id] = next > CWND_MAX ? CWND_MAX : next;
      }
      this.flags[id] = f;
      return;
    }
    f &= ~CC_F_SS_AFTER_RTO;
    this.flags[id] = f;
    // RFC 9438 5.8: no growth while application limited.
    if (!cwndLimited(cwnd, flightBytes + ackedBytes, mss, false)) return;

    const nowMs = Math.floor(nowUs / 1000) | 0;
    if ((f & CUBIC_F_EPOCH) === 0) {
      // A congestion avoidance stage begins (RFC 9438 4.2): t_epoch, cwnd_epoch, W_max, W_est.
      this.flags[id] = f | CUBIC_F_EPOCH;
      this.epochStartMs[id] = nowMs;
      this.cwndEpochB[id] = cwnd;
      // No W_max (no loss yet, or after a timeout, 4.8/4.10), or already above it: K = 0, W_max = cwnd_epoch.
      if (this.wMaxB[id]! <= cwnd) this.wMaxB[id] = cwnd;
      if (this.cwndPriorB[id]! === 0) this.cwndPriorB[id] = cwnd; // 4.10
      this.wEstB[id] = cwnd; // 4.3: W_est = cwnd_epoch
    }
    const mssF = mss;
    const wMaxSeg = this.wMaxB[id]! / mssF;
    const diff = wMaxSeg - this.cwndEpochB[id]! / mssF;
    const k = diff > 0 ? Math.cbrt(diff / CUBIC_C) : 0; // Figure 2
    let tSec = ((nowMs - this.epochStartMs[id]!) | 0) / 1000;
    if (tSec < 0) tSec = 0;

    // Reno-friendly estimate, 4.3 Figure 4 (in bytes: alpha * acked * MSS / cwnd).
    let wEst = this.wEstB[id]!;
    const alpha = wEst >= this.cwndPriorB[id]! ? 1 : CUBIC_ALPHA;
    wEst += (alpha * ackedBytes * mssF) / cwnd;
    this.wEstB[id] = wEst;

    const dt = tSec - k;
    const wCubicNowBytes = (CUBIC_C * dt * dt * dt + wMaxSeg) * mssF; // Figure 1 at t
    let next: number;
    if (wCubicNowBytes < wEst) {
      // Reno-friendly region (4.3): cwnd = W_est (raised only).
      next = Math.floor(wEst);
      if (next < cwnd) next = cwnd;
    } else {
      // Concave (4.4) or convex (4.5) region: aim for W_cubic one RTT ahead.
      const rttSec = rttUs > 0 ? rttUs / 1e6 : 0;
      const dr = tSec + rttSec - k;
      let target = (CUBIC_C * dr * dr * dr + wMaxSeg) * mssF;
      if (target < cwnd) target = cwnd;
      else if (target > 1.5 * cwnd) target = 1.5 * cwnd;
      next = cwnd + Math.floor(((target - cwnd) * ackedBytes) / cwnd);
    }
    this.cwndB[id] = next > CWND_MAX ? CWND_MAX : next;
  }

  enterRecovery(id: number, flightBytes: number, _nowUs: number): void {
    const mss = this.mssB[id]!;
    const cwnd = this.cwndB[id]!;
    // 4.7 fast convergence: a flow below its last W_max releases bandwidth.
    this.wMaxB[id] = cwnd < this.wMaxB[id]! ? Math.floor((cwnd * (1 + CUBIC_BETA)) / 2) : cwnd;
    this.cwndPriorB[id] = cwnd; // 4.6
    let ss = Math.floor(flightBytes * CUBIC_BETA);
    if (ss < 2 * mss) ss = 2 * mss; // ssthresh and cwnd at least 2 MSS
    this.ssthreshB[id] = ss;
    this.cwndB[id] = ss; // 4.6: cwnd = ssthresh (RFC 6675 5 step (4.2))
    this.flags[id] = this.flags[id]! & ~CUBIC_F_EPOCH;
  }

  onDupAcks(id: number, count: number): void {
    // RFC 5681 3.2 steps 3-4 (connections without SACK).
    const next = this.cwndB[id]! + count * this.mssB[id]!;
    this.cwndB[id] = next > CWND_MAX ? CWND_MAX : next;
  }

  onPartialAck(id: number, ackedBytes: number): void {
    // RFC 6582 3.2 step 5, never below ssthresh (as in newreno.ts).
    const mss = this.mssB[id]!;
    let next = this.cwndB[id]! - ackedBytes;
    if (ackedBytes >= mss) next += mss;
    const ss = this.ssthreshB[id]!;
    this.cwndB[id] = next < ss ? ss : next;
  }

  exitRecovery(id: number, _nowUs: number): void {
    // RFC 6582 3.2 step 3 (2); the next ACK starts a new congestion avoidance stage.
    this.cwndB[id] = this.ssthreshB[id]!;
    this.flags[id] = this.flags[id]! & ~CUBIC_F_EPOCH;
  }

  onRto(id: number, flightBytes: number, _nowUs: number): void {
    const mss = this.mssB[id]!;
    const f = this.flags[id]!;
    if ((f & CC_F_RTO_PENDING) === 0) {
      // 4.8: ssthresh with beta_cubic (4.6), held on a repeated timeout (RFC 5681 3.1).
      let ss = Math.floor(flightBytes * CUBIC_BETA);
      if (ss < 2 * mss) ss = 2 * mss;
      this.ssthreshB[id] = ss;
      this.cwndPriorB[id] = this.cwndB[id]!;
    }
    this.cwndB[id] = mss; // RFC 5681 3.1: LW = 1 SMSS
    this.wMaxB[id] = 0; // 4.8: the next stage uses K = 0, W_max = cwnd_epoch
    this.flags[id] = (f & ~CUBIC_F_EPOCH) | CC_F_RTO_PENDING | CC_F_SS_AFTER_RTO;
  }

  onIdleRestart(id: number, _nowUs: number, _rtoUs: number): void {
    // RFC 5681 4.1 restart window; the idle time does not count toward t (RFC 9438 5.8).
    const iw = initialWindow(this.mssB[id]!, this.initialWindowSegments);
    if (this.cwndB[id]! > iw) this.cwndB[id] = iw;
    this.flags[id] = this.flags[id]! & ~CUBIC_F_EPOCH;
  }

  setMss(id: number, mss: number): void {
    this.mssB[id] = mss;
    if (this.cwndB[id]! < mss) this.cwndB[id] = mss;
    this.flags[id] = this.flags[id]! & ~CUBIC_F_EPOCH; // K is in segments: start a new stage with the new unit
  }

  /** Bytes of typed-array state for `capacity` connections. */
  static bytesFor(capacity: number): number {
    return arrayBytes(8, capacity) + 6 * arrayBytes(4, capacity) + arrayBytes(2, capacity) + arrayBytes(1, capacity);
  }
}
