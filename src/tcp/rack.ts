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
 * - The reordering timer (RFC 8985 6.3): when an ACK leaves RACK waiting for a window
 *   to pass (a pending edge, or a lost retransmission's evidence younger than
 *   SRTT + reo_wnd), the MAIN timer runs until then as RACK's timer (F_TLP) and runs
 *   detection when it fires: at high loss the ACK that would have done it may never come.
 * - TLP (RFC 8985 7): while data is outstanding with SACK, the MAIN timer first runs as
 *   the probe timeout PTO = max(2 * SRTT, 10 ms) (+ WCDelAckT, 200 ms, when one segment
 *   is in flight, 7.2), at most the RTO; when it fires, RACK is checked first, and if no
 *   loss is found the last segment is retransmitted (7.3: we always probe with the last
 *   segment, never new data) and the RTO is armed. One probe per flight: a new ACK
 *   re-arms the PTO.
 * - Deviation: a probe in SACK recovery too (7.2 allows none). At 10-20 % loss a fast
 *   recovery often stalls: the retransmission is lost, cwnd - pipe admits nothing more,
 *   and nothing sent after the retransmission can be delivered to reveal it, so the RTO
 *   (200 ms, then backed off, against a few ms of RTT) ended most recoveries. At the PTO
 *   recovery sends the highest un-SACKed segment not yet retransmitted in the pass (RFC
 *   6675 NextSeg rule 4's rescue retransmission, driven by the timer instead of by
 *   cwnd), whose SACK shows the pass's retransmissions lost; or the lowest hole again.
 *   Still one probe, then the RTO.
 * - Deviation: after an RTO too. The go-back resends one segment (cwnd 1 SMSS); when it
 *   or its ACK is lost, RFC 6298 waits a backed-off RTO (400 ms, 800 ms, ...), and at
 *   20 % loss these chains took most of the transfer time. At the PTO the first hole is
 *   resent once; then the backed-off RTO runs as before (one segment per backoff period,
 *   so the backoff still halves the rate). And RACK finds lost go-back retransmissions
 *   (6.2 after an RTO, as Linux does in its Loss state): the go-back resends in sequence
 *   order, so newly SACKed go-back data below SND.NXT was sent after the first hole's
 *   retransmission (rackRtoEvidence); SRTT + reo_wnd after that retransmission (the RTO,
 *   or the ACK that last moved SND.UNA) the hole is resent (rackRtoLost), not at the
 *   next RTO. RFC 6582 4.1 still keeps the RTO's losses out of a new fast recovery.
 * - Deviation: every probe (7.3, in recovery, after an RTO) also resends the first
 *   un-SACKed segment when it is not the probe itself: a probe and its ACK cross a lossy
 *   path with one chance in three of failing at 20 % loss each way, and a failed probe
 *   costs an RTO. Two segments per probe instead of one.
 */
import { enterFastRecovery } from "./ack";
import { F_PERSIST, F_RECOVERY, F_RTO_RECOVERY, F_SACK_OK, F_TLP, F_TMR_IDLE, F_USED } from "./conn-table";
import { retransmit, tcpOutput } from "./output";
import { RACK_WORDS, RK_LOST_END, RK_PEND_END, RK_PEND_US, RK_RXT_HIGH, RK_RXT_US } from "./sack-scoreboard";
import { TcpState } from "./state";
import type { TcpLayer } from "./tcp-layer";
import { armRtx, armTimer, T_RTX, TIMER_KINDS } from "./timers";

/** Floor of the probe timeout (Linux uses 10 ms): a tiny SRTT on a loaded host must not make probes spurious. */
const TLP_MIN_US = 10_000;

/**
 * RFC 8985 7.2 WCDelAckT: the worst-case delayed-ACK time of the PEER, added to the
 * probe timeout when one segment is in flight (200 ms, the RFC's value; Linux adds its
 * RTO minimum, 200 ms, too). It used to be our own delayed-ACK time (40 ms): against a
 * peer that delays 40 ms too, every ACK more than ~10 ms late drew a spurious probe.
 * At 1 M iotep connections (one 200-byte message per connection, so one segment in
 * flight) that was ~1 % of all messages sent twice, and each duplicate cost the server
 * an immediate ACK (its outOfWindow count); during a stall, a probe per message.
 */
export const WC_DEL_ACK_US = 200_000;

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

/**
 * After an RTO (timers.ts onRtx) or when SND.UNA moves during RTO recovery: the go-back has
 * resent (or is about to resend) the first hole now, which starts a pass; no evidence yet.
 * In RTO recovery RK_RXT_HIGH is the evidence edge: above SND.UNA once go-back data sent
 * after the first hole's retransmission was SACKed (rackRtoEvidence).
 */
export function rackRtoPass(t: TcpLayer, c: number, nowUs: number): void {
  const rec = t.sack.record(c);
  if (rec < 0) return;
  const r = t.sack.rack;
  r[rec * RACK_WORDS + RK_RXT_US] = (nowUs | 0) || 1;
  r[rec * RACK_WORDS + RK_RXT_HIGH] = t.conns.sndUna[c]!;
}

/**
 * RFC 8985 6.2 in RTO recovery: after an ACK, SACK blocks that newly cover data the
 * go-back resent (below goBack, SND.NXT before the ACK; `before` is what was SACKed there
 * before the blocks were merged) mean data sent after the first hole's retransmission
 * was delivered: that retransmission is lost once SRTT + reo_wnd has passed (rackRtoLost).
 */
export function rackRtoEvidence(t: TcpLayer, c: number, goBack: number, before: number, nowUs: number): void {
  const sack = t.sack;
  const rec = sack.record(c);
  if (rec < 0 || (t.conns.flags[c]! & F_RTO_RECOVERY) === 0) return;
  if (sack.sackedBelow(c, t.conns.sndUna[c]!, goBack) <= before) return;
  const r = sack.rack;
  const rb = rec * RACK_WORDS;
  // A record made after the RTO has no pass time: the retransmission went out about an RTT ago.
  if (r[rb + RK_RXT_US] === 0) r[rb + RK_RXT_US] = ((nowUs - t.rtt.srttUs(c)) | 0) || 1;
  r[rb + RK_RXT_HIGH] = goBack;
}

/**
 * RTO recovery: with evidence (rackRtoEvidence) at least SRTT + reo_wnd after the first
 * hole was resent, that retransmission is lost: send it again now (instead of waiting for
 * the next, backed-off, RTO) and start a new pass. Returns true when it went out.
 */
export function rackRtoLost(t: TcpLayer, c: number, nowUs: number): boolean {
  const conns = t.conns;
  if ((conns.flags[c]! & (F_RTO_RECOVERY | F_SACK_OK)) !== (F_RTO_RECOVERY | F_SACK_OK)) return false;
  const sack = t.sack;
  const rec = sack.record(c);
  if (rec < 0) return false;
  const r = sack.rack;
  const rb = rec * RACK_WORDS;
  const una = conns.sndUna[c]!;
  if (r[rb + RK_RXT_US] === 0 || ((r[rb + RK_RXT_HIGH]! - una) | 0) <= 0) return false;
  if ((((nowUs | 0) - r[rb + RK_RXT_US]!) | 0) < t.rtt.srttUs(c) + reoWndUs(t, c)) return false;
  if (((conns.sndNxt[c]! - una) | 0) <= 0 || sack.isSacked(c, una)) return false;
  r[rb + RK_RXT_US] = (nowUs | 0) || 1;
  r[rb + RK_RXT_HIGH] = una;
  const mss = conns.mss[c]!;
  const hole = sack.holeAfter(c, una);
  if (!retransmit(t, c, una, hole > 0 && hole < mss ? hole : mss, nowUs)) return false;
  t.counters.rackLostRetransmits++;
  return true;
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
 * RFC 8985 7.2: the probe timeout for c when a TLP may be scheduled, else -1:
 * SACK in use, an RTT sample, data outstanding, a data state, not after an RTO
 * (in SACK recovery too: recoveryProbe, a deviation).
 */
function probeTimeoutUs(t: TcpLayer, c: number): number {
  const conns = t.conns;
  const f = conns.flags[c]!;
  if ((f & F_SACK_OK) === 0 || !t.rtt.hasSample(c)) return -1;
  if (!dataState(conns.state[c]!)) return -1;
  const flight = (conns.sndMax[c]! - conns.sndUna[c]!) | 0;
  if (flight <= 0) return -1;
  let pto = 2 * t.rtt.srttUs(c);
  if (pto < TLP_MIN_US) pto = TLP_MIN_US;
  if (flight <= conns.mss[c]!) pto += WC_DEL_ACK_US;
  return pto;
}

function dataState(s: number): boolean {
  return s === TcpState.Established || s === TcpState.CloseWait || s === TcpState.FinWait1 || s === TcpState.Closing || s === TcpState.LastAck;
}

/**
 * RFC 8985 6.3: when RACK waits for a reordering window to pass before it can
 * call data lost (an edge seen below the highest SACK, or the evidence of a lost
 * retransmission), the time from now until it passes (0 when it has passed);
 * else -1. The reordering timer then runs detection without waiting for another
 * ACK, which at high loss may never come (the RTO would).
 */
export function rackReoTimeoutUs(t: TcpLayer, c: number, nowUs: number): number {
  const sack = t.sack;
  const rec = sack.record(c);
  if (rec < 0 || sack.count(c) === 0 || !t.rtt.hasSample(c)) return -1;
  const conns = t.conns;
  if ((conns.flags[c]! & F_SACK_OK) === 0 || !dataState(conns.state[c]!)) return -1;
  const r = sack.rack;
  const rb = rec * RACK_WORDS;
  const una = conns.sndUna[c]!;
  const now = nowUs | 0;
  const reo = reoWndUs(t, c);
  let wait = -1;
  const pend = r[rb + RK_PEND_END]!;
  if (((pend - una) | 0) > 0 && ((pend - r[rb + RK_LOST_END]!) | 0) > 0) {
    const w = (r[rb + RK_PEND_US]! + reo - now) | 0;
    wait = w > 0 ? w : 0;
  }
  const f = conns.flags[c]!;
  if (r[rb + RK_RXT_US] !== 0 && (
    ((f & F_RECOVERY) !== 0 && ((sack.highestSacked(c) - r[rb + RK_RXT_HIGH]!) | 0) > 0 && ((conns.highRxt[c]! - una) | 0) > 0) ||
    ((f & F_RTO_RECOVERY) !== 0 && ((r[rb + RK_RXT_HIGH]! - una) | 0) > 0))) {
    let w = (r[rb + RK_RXT_US]! + t.rtt.srttUs(c) + reo - now) | 0;
    if (w < 0) w = 0;
    if (wait < 0 || w < wait) wait = w;
  }
  return wait;
}

/**
 * The MAIN timer's first deadline from now while data is outstanding, when it is
 * RACK's (RFC 8985 6.3 reordering timer, 7.2 probe timeout): the earlier of the
 * two, at most the RTO; -1 when neither applies (the RTO alone runs).
 */
export function tlpTimeoutUs(t: TcpLayer, c: number, nowUs: number): number {
  const pto = probeTimeoutUs(t, c);
  const reo = rackReoTimeoutUs(t, c, nowUs);
  let d = pto;
  if (reo >= 0 && (d < 0 || reo < d)) d = reo;
  if (d < 0) return -1;
  const rto = t.rtt.rtoUs(c);
  return d < rto ? d : rto;
}

/**
 * After an ACK: when RACK now waits for a reordering window that ends before the
 * MAIN timer would fire, run the timer as RACK's until then (RFC 8985 6.3).
 */
export function rackArmTimer(t: TcpLayer, c: number, nowUs: number): void {
  const conns = t.conns;
  if ((conns.flags[c]! & F_PERSIST) !== 0 || conns.sndMax[c] === conns.sndUna[c]) return;
  const w = rackReoTimeoutUs(t, c, nowUs);
  if (w < 0) return;
  const at = nowUs + w;
  const d = t.wheel.deadline(c * TIMER_KINDS);
  if ((conns.flags[c]! & F_TMR_IDLE) === 0 && d >= 0 && d <= at) return;
  conns.flags[c] = conns.flags[c]! | F_TLP;
  armTimer(t, c, T_RTX, at);
}

/**
 * The MAIN timer fired as RACK's (F_TLP): the reordering timer (RFC 8985 6.3) when
 * RACK was waiting for a window to pass, else the probe timeout (7.3). Returns
 * false when it found nothing to do.
 */
export function onTlp(t: TcpLayer, c: number, nowUs: number): boolean {
  const conns = t.conns;
  conns.flags[c] = conns.flags[c]! & ~F_TLP;
  const reordering = rackReoTimeoutUs(t, c, nowUs) >= 0;
  if ((conns.flags[c]! & (F_RECOVERY | F_RTO_RECOVERY)) !== 0) {
    // In recovery: what RACK now calls lost goes out (NextSeg, or the first hole after an RTO).
    rackDetect(t, c, nowUs);
    const out = t.counters.segsOut;
    rackRtoLost(t, c, nowUs);
    tcpOutput(t, c, nowUs);
    if (t.counters.segsOut !== out || reordering) {
      // Sent what is lost now (the timer restarts), or the window passed with nothing lost.
      if ((conns.flags[c]! & F_USED) !== 0 && !t.wheel.isScheduled(c * TIMER_KINDS)) armRtx(t, c, nowUs);
      return true;
    }
    // The probe timeout with nothing to send: one probe, then the RTO (runTimers arms it).
    if (recoveryProbe(t, c, nowUs)) t.counters.tlpProbes++;
    return true;
  }
  if (rackDetect(t, c, nowUs)) {
    t.counters.rackTimeoutLosses++;
    if (enterFastRecovery(t, c, nowUs)) return true;
  }
  if (reordering) {
    // The reordering window passed without a loss: no probe yet; the probe timeout (or RTO) runs again.
    armRtx(t, c, nowUs);
    return true;
  }
  // RFC 8985 7.3: probe with the last segment.
  const una = conns.sndUna[c]!;
  const max = conns.sndMax[c]!;
  if (((max - una) | 0) <= 0) return false;
  const mss = conns.mss[c]!;
  let seq = (max - mss) | 0;
  if (((seq - una) | 0) < 0) seq = una;
  // The FIN alone: retransmit() sends it when seq is its sequence number.
  if (retransmit(t, c, seq, (max - seq) | 0, nowUs)) {
    t.counters.tlpProbes++;
    probeFirstHole(t, c, seq, nowUs);
  }
  return true;
}

/**
 * Deviation (file comment): with a probe above it, the first un-SACKed segment goes out
 * too, so that one lost probe or ACK does not leave the flight to the RTO.
 */
function probeFirstHole(t: TcpLayer, c: number, probeSeq: number, nowUs: number): void {
  const conns = t.conns;
  const una = conns.sndUna[c]!;
  const mss = conns.mss[c]!;
  if (((probeSeq - una) | 0) <= 0 || t.sack.isSacked(c, una)) return;
  let len = (probeSeq - una) | 0;
  const hole = t.sack.holeAfter(c, una);
  if (hole > 0 && hole < len) len = hole;
  if (len > mss) len = mss;
  retransmit(t, c, una, len, nowUs);
}

/**
 * A probe in SACK recovery (a deviation from RFC 8985 7.2, which probes only outside
 * recovery; see the file comment): no ACK for a probe timeout while recovery cannot
 * send (cwnd - pipe below one segment, or nothing known lost). One segment goes out:
 * the highest un-SACKed one not yet retransmitted in this pass (RFC 6675 4 NextSeg
 * rule 4's rescue retransmission, here on a timer), whose delivery lets RACK find the
 * pass's lost retransmissions; else the lowest hole again. Returns false when
 * nothing is outstanding.
 */
function recoveryProbe(t: TcpLayer, c: number, nowUs: number): boolean {
  const conns = t.conns;
  const sack = t.sack;
  const una = conns.sndUna[c]!;
  const max = conns.sndMax[c]!;
  const mss = conns.mss[c]!;
  const end = sack.highestUnsacked(c, una, max);
  if (((end - una) | 0) <= 0) return false;
  if ((conns.flags[c]! & F_RECOVERY) !== 0 && ((end - conns.highRxt[c]!) | 0) > 0) {
    let seq = (end - mss) | 0;
    if (((seq - una) | 0) < 0) seq = una;
    // Not into SACKed data below the stretch.
    const below = sack.lastRightIn(c, seq, end);
    if (below !== -1) seq = below;
    const rec = sack.record(c);
    if (rec >= 0 && ((seq - sack.highestSacked(c)) | 0) >= 0) {
      // Its SACK will be data delivered that was sent after this pass's retransmissions.
      const r = sack.rack;
      if (r[rec * RACK_WORDS + RK_RXT_US] !== 0) r[rec * RACK_WORDS + RK_RXT_HIGH] = seq;
    }
    if (!retransmit(t, c, seq, (end - seq) | 0, nowUs)) return false;
    probeFirstHole(t, c, seq, nowUs);
    return true;
  }
  const hole = sack.holeAfter(c, una);
  return retransmit(t, c, una, hole > 0 && hole < mss ? hole : mss, nowUs);
}
