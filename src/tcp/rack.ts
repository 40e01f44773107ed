/**
 * RACK-TLP (RFC 8985), compact: time-based loss detection and tail loss probes
 * on top of the RFC 6675 scoreboard, which still decides what to send (NextSeg,
 * pipe). Deviations, to keep per-connection state small (no per-segment
 * transmit times; DESIGN.md memory budget):
 *
 * - RACK (RFC 8985 6.2) marks a segment lost when a segment sent after it was
 *   delivered and a reordering window has passed. Original transmissions go out in
 *   sequence order, so "sent after" is "above", and the delivery of the segment above
 *   is when its SACK arrived: an un-SACKed byte below the highest SACKed byte seen at
 *   time T is lost at T + RACK.reo_wnd. The edge and T ("pending") live in the SACK
 *   side record (sack-scoreboard.ts RK_*); the edge becomes lostEnd when an ACK or
 *   the probe timer sees the window pass.
 * - RACK.reo_wnd = SRTT / 4 (RFC 8985 6.2.4 uses min_RTT / 4; we keep no min_RTT).
 * - Lost retransmissions (RFC 8985 6.2, the retransmission's own transmit time): the
 *   first retransmission of a recovery pass records its time and SND.MAX; when data
 *   above that SND.MAX (sent after it) is SACKed and SRTT + reo_wnd has passed, the
 *   retransmissions of the pass are lost: HighRxt goes back to SND.UNA and NextSeg
 *   resends the holes.
 * - TLP (RFC 8985 7): while data is outstanding outside recovery with SACK, the MAIN
 *   timer first runs as the probe timeout PTO = max(2 * SRTT, 2 ms) (+ the delayed-ACK time when
 *   one segment is in flight, 7.2), at most the RTO; when it fires, RACK is checked
 *   first, and if no loss is found the last segment is retransmitted (7.3: we always
 *   probe with the last segment, never new data) and the RTO is armed. One probe per
 *   flight: a new ACK re-arms the PTO.
 */
import { enterFastRecovery } from "./ack";
import { F_RECOVERY, F_RTO_RECOVERY, F_SACK_OK, F_TLP } from "./conn-table";
import { retransmit } from "./output";
import { RACK_WORDS, RK_LOST_END, RK_PEND_END, RK_PEND_US, RK_RXT_HIGH, RK_RXT_US } from "./sack-scoreboard";
import { TcpState } from "./state";
import type { TcpLayer } from "./tcp-layer";

/** Floor of the probe timeout (Linux uses 10 ms): a tiny SRTT on a loaded host must not make probes spurious. */
const TLP_MIN_US = 10_000;

/** RACK.reo_wnd in us. */
function reoWndUs(t: TcpLayer, c: number): number {
  return t.rtt.srttUs(c) >> 2;
}

/**
 * RFC 8985 6.2 on an ACK (or a probe timeout): advance the lost edge once the reordering
 * window has passed since it was seen, and detect lost retransmissions (HighRxt back to
 * SND.UNA). Returns true when some un-SACKed data at SND.UNA is now lost by RACK.
 */
export function rackDetect(t: TcpLayer, c: number, nowUs: number): boolean {
  const sack = t.sack;
  const rec = sack.record(c);
  if (rec < 0 || sack.count(c) === 0) return false;
  const conns = t.conns;
  const r = sack.rack;
  const rb = rec * RACK_WORDS;
  const una = conns.sndUna[c]!;
  const high = sack.highestSacked(c);
  const reo = reoWndUs(t, c);
  const now = nowUs | 0;
  if (((r[rb + RK_PEND_END]! - una) | 0) <= 0) {
    // Nothing pending: start the window for everything below the highest SACK.
    r[rb + RK_PEND_END] = high;
    r[rb + RK_PEND_US] = now;
  }
  if (((now - r[rb + RK_PEND_US]!) | 0) >= reo) {
    const pend = r[rb + RK_PEND_END]!;
    if (((pend - r[rb + RK_LOST_END]!) | 0) > 0) r[rb + RK_LOST_END] = pend;
    r[rb + RK_PEND_END] = high;
    r[rb + RK_PEND_US] = now;
  }
  // Lost retransmissions: data sent after the pass's first retransmission was delivered.
  if ((conns.flags[c]! & F_RECOVERY) !== 0 && r[rb + RK_RXT_US] !== 0 &&
      ((high - r[rb + RK_RXT_HIGH]!) | 0) > 0 && ((now - r[rb + RK_RXT_US]!) | 0) >= t.rtt.srttUs(c) + reo) {
    r[rb + RK_RXT_US] = 0;
    if (((high - r[rb + RK_LOST_END]!) | 0) > 0) r[rb + RK_LOST_END] = high;
    if (((conns.highRxt[c]! - una) | 0) > 0) {
      conns.highRxt[c] = una;
      t.counters.rackLostRetransmits++;
    }
  }
  return sack.rackLost(c, una);
}

/** A new recovery starts: the next retransmission starts a pass. */
export function rackNewPass(t: TcpLayer, c: number): void {
  const rec = t.sack.record(c);
  if (rec >= 0) t.sack.rack[rec * RACK_WORDS + RK_RXT_US] = 0;
}

/** A retransmission in SACK recovery went out: the first of a pass records its time and SND.MAX. */
export function rackOnRetransmit(t: TcpLayer, c: number, nowUs: number): void {
  const rec = t.sack.record(c);
  if (rec < 0) return;
  const r = t.sack.rack;
  const rb = rec * RACK_WORDS;
  if (r[rb + RK_RXT_US] !== 0) return;
  r[rb + RK_RXT_US] = (nowUs | 0) || 1;
  r[rb + RK_RXT_HIGH] = t.conns.sndMax[c]!;
}

/**
 * RFC 8985 7.2: the probe timeout for c when a TLP may be scheduled, else -1 (the RTO applies):
 * SACK in use, an RTT sample, data outstanding, not in loss recovery, a data state.
 */
export function tlpTimeoutUs(t: TcpLayer, c: number): number {
  const conns = t.conns;
  const f = conns.flags[c]!;
  if ((f & F_SACK_OK) === 0 || (f & (F_RECOVERY | F_RTO_RECOVERY)) !== 0 || !t.rtt.hasSample(c)) return -1;
  const s = conns.state[c]!;
  if (s !== TcpState.Established && s !== TcpState.CloseWait && s !== TcpState.FinWait1 && s !== TcpState.Closing && s !== TcpState.LastAck) return -1;
  const flight = (conns.sndMax[c]! - conns.sndUna[c]!) | 0;
  if (flight <= 0) return -1;
  let pto = 2 * t.rtt.srttUs(c);
  if (pto < TLP_MIN_US) pto = TLP_MIN_US;
  if (flight <= conns.mss[c]!) pto += t.cfg.delAckUs;
  const rto = t.rtt.rtoUs(c);
  return pto < rto ? pto : rto;
}

/** RFC 8985 7.3: the probe timer fired. Returns false when it found nothing to probe. */
export function onTlp(t: TcpLayer, c: number, nowUs: number): boolean {
  const conns = t.conns;
  conns.flags[c] = conns.flags[c]! & ~F_TLP;
  if (rackDetect(t, c, nowUs)) {
    if ((conns.flags[c]! & F_RECOVERY) === 0) {
      t.counters.rackTimeoutLosses++;
      if (enterFastRecovery(t, c, nowUs)) return true;
    }
  }
  const una = conns.sndUna[c]!;
  const max = conns.sndMax[c]!;
  if (((max - una) | 0) <= 0) return false;
  const mss = conns.mss[c]!;
  let seq = (max - mss) | 0;
  if (((seq - una) | 0) < 0) seq = una;
  // The FIN alone: retransmit() sends it when seq is its sequence number.
  if (retransmit(t, c, seq, (max - seq) | 0, nowUs)) t.counters.tlpProbes++;
  return true;
}

