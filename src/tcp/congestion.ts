/**
 * Congestion control: the interface the sender drives, and the factory.
 *
 * Implementations (struct of arrays indexed by connection id, no allocation
 * per ACK, time passed in as integer microseconds):
 *   - src/tcp/newreno.ts: RFC 5681 + RFC 6582 (NewReno), RFC 3465 (ABC), RFC 6928 (IW10)
 *   - src/tcp/cubic.ts:   RFC 9438 (CUBIC) on the same slow start and recovery
 *
 * All windows are in bytes. What the caller (the TCP sender) does and what the
 * module does:
 *   - The caller detects loss (3 duplicate ACKs or RFC 6675 IsLost(HighACK+1)),
 *     retransmits, tracks the recovery point (RFC 6582 "recover") and decides
 *     whether an ACK is full or partial; it tells the module through
 *     enterRecovery / onPartialAck / exitRecovery.
 *   - During recovery the window is `cwnd(id)` measured against RFC 6675 pipe
 *     (SACK) or against FlightSize inflated by duplicate ACKs (no SACK: call
 *     onDupAcks, RFC 5681 3.2 steps 3-4).
 *   - onAck is for ACKs of new data outside recovery only.
 *   - onIdleRestart is called by the caller when it sends after an idle period
 *     longer than one RTO (RFC 5681 4.1); the module does not track send times.
 *
 * Growth only happens while the sender is cwnd-limited (RFC 7661 / RFC 9438
 * 5.8: an application-limited flow does not grow its window): an ACK grows cwnd
 * only if the data outstanding when it arrived (flightBytes + ackedBytes) was
 * within one MSS of cwnd, or, in slow start, at least half of cwnd (the
 * slow-start rule Linux uses, so that a window that is being doubled counts).
 */

import { Cubic } from "./cubic";
import { NewReno } from "./newreno";

export interface CongestionControl {
  /** "cubic" or "newreno". */
  readonly name: string;
  /** State bytes per connection. */
  readonly bytesPerConn: number;
  /** New connection: cwnd = IW (RFC 6928), ssthresh = "arbitrarily high" (RFC 5681 3.1). */
  init(id: number, mssBytes: number, nowUs: number): void;
  /** Congestion window in bytes. */
  cwnd(id: number): number;
  /** Slow start threshold in bytes. */
  ssthresh(id: number): number;
  /**
   * New data was acknowledged outside loss recovery.
   * ackedBytes: bytes newly acknowledged by this ACK; flightBytes: bytes still
   * outstanding after it (so flightBytes + ackedBytes were outstanding when it
   * arrived); rttUs: the current smoothed RTT (CUBIC uses it), -1 if none.
   */
  onAck(id: number, ackedBytes: number, flightBytes: number, nowUs: number, rttUs: number): void;
  /** Fast retransmit: a loss was detected (RFC 5681 3.2 step 2, RFC 6675 5 step 4). */
  enterRecovery(id: number, flightBytes: number, nowUs: number): void;
  /** Duplicate ACKs during recovery on a connection without SACK: cwnd += count * SMSS (RFC 5681 3.2 steps 3-4). */
  onDupAcks(id: number, count: number): void;
  /** A partial ACK during recovery (RFC 6582 3.2 step 5). */
  onPartialAck(id: number, ackedBytes: number): void;
  /** The recovery point was acknowledged (RFC 6582 3.2 step 3): cwnd = ssthresh. */
  exitRecovery(id: number, nowUs: number): void;
  /** The retransmission timer expired (RFC 5681 3.1 (4), 3.1 "LW" = 1 SMSS). */
  onRto(id: number, flightBytes: number, nowUs: number): void;
  /** Sending again after more than one RTO idle: cwnd = min(cwnd, RW = IW) (RFC 5681 4.1). */
  onIdleRestart(id: number, nowUs: number, rtoUs: number): void;
  /** The MSS changed (e.g. ICMP fragmentation needed). cwnd keeps its byte value, at least 1 MSS. */
  setMss(id: number, mss: number): void;
}

export type CongestionControlName = "cubic" | "newreno";

export interface CongestionOptions {
  /** Initial window in segments; 10 gives exactly RFC 6928's min(10*MSS, max(2*MSS, 14600)). */
  initialWindowSegments?: number;
  /** Memory to carve the per-connection arrays from (src/mem/carve.ts); default: a fresh ArrayBuffer. */
  backing?: ArrayBuffer;
  byteOffset?: number;
}

/** Bytes the per-connection state of `name` takes for `capacity` connections. */
export function congestionBytesFor(name: CongestionControlName, capacity: number): number {
  return name === "cubic" ? Cubic.bytesFor(capacity) : NewReno.bytesFor(capacity);
}

/** The congestion control algorithm `name` for `capacity` connections. */
export function createCongestionControl(name: CongestionControlName, capacity: number, opts: CongestionOptions = {}): CongestionControl {
  switch (name) {
    case "cubic":
      return new Cubic(capacity, opts);
    case "newreno":
      return new NewReno(capacity, opts);
    default:
      throw new RangeError("unknown congestion control " + String(name) + ": use \"cubic\" or \"newreno\"");
  }
}
