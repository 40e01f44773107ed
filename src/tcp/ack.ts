/**
 * RFC 9293 3.10.7.4 fifth step: the ACK field. SYN-RECEIVED -> ESTABLISHED;
 * RFC 5961 5.2 ACK acceptability (blind data injection); SND.UNA advance and
 * send-buffer release; RTT samples (RFC 6298, Karn; RFC 7323 4 timestamps);
 * duplicate ACKs, fast retransmit and NewReno recovery (RFC 5681 3.2, RFC 6582),
 * SACK-based recovery (RFC 6675 5); the send window update (SND.WL1/WL2); and the
 * FIN-WAIT-1 / CLOSING / LAST-ACK transitions when our FIN is acknowledged.
 */
import {
  F_ACK_NOW, F_APP_CLOSED, F_APP_OWNED, F_FIN_SENT, F_PERSIST, F_RECOVERY, F_RTO_RECOVERY, F_RTT_TIMING,
  F_SACK_OK, F_TS_OK, F_WANT_WRITABLE,
} from "./conn-table";
import { enterClosed, enterTimeWait, onEstablished } from "./lifecycle";
import { retransmit, tcpOutput, TH_FIN, TH_SYN, tsNow } from "./output";
import { rstReply } from "./rst";
import { TcpState } from "./state";
import type { TcpLayer } from "./tcp-layer";
import { TcpEvent } from "./events";
import { rackArmTimer, rackDetect, rackNewPass, rackOnRetransmit, rackRtoEvidence, rackRtoLost, rackRtoPass } from "./rack";
import { armKeepalive, armRtx, armTimer, cancelTimer, T_IDLE, T_RTX } from "./timers";

/** RFC 6675 2 / RFC 5681 3.2: DupThresh. */
const DUP_THRESH = 3;

/**
 * Process the ACK of the current segment (t.seg). Returns false when the segment must
 * not be processed further (dropped, or the connection is gone); then it has counted the
 * segment's outcome (TcpCounters: a drop reason, or segsAccepted).
 */
export function ackInput(t: TcpLayer, c: number, origSeq: number, nowUs: number): boolean {
  const conns = t.conns;
  const seg = t.seg;
  const cnt = t.counters;
  const ack = seg.ack;
  if (conns.state[c] === TcpState.SynReceived) {
    // SND.UNA < SEG.ACK =< SND.NXT: ESTABLISHED; else <SEQ=SEG.ACK><CTL=RST>.
    if (((ack - conns.sndUna[c]!) | 0) <= 0 || ((ack - conns.sndMax[c]!) | 0) > 0) {
      cnt.badAck++;
      rstReply(t, seg);
      return false;
    }
    const li = conns.listener[c]!;
    if (li >= 0 && !t.listeners.completeHandshake(t, c)) {
      // Accept queue full: drop the ACK; the SYN-ACK will be retransmitted (as Linux does).
      cnt.acceptQueueFull++;
      cnt.listenDrops++;
      return false;
    }
    if ((conns.flags[c]! & F_RTT_TIMING) !== 0) {
      t.rtt.sample(c, ((nowUs | 0) - conns.rttStartUs[c]!) | 0);
      conns.flags[c] = conns.flags[c]! & ~F_RTT_TIMING;
    }
    // The SYN is acknowledged.
    conns.sndUna[c] = (conns.iss[c]! + 1) | 0;
    conns.retries[c] = 0;
    conns.flags[c] = conns.flags[c]! & ~F_PERSIST; // a refused SYN-ACK's retry marker (timers.ts armAfterSyn)
    cancelTimer(t, c, T_RTX);
    onEstablished(t, c);
    conns.sndWnd[c] = seg.wnd << conns.sndWscale[c]!;
    conns.maxSndWnd[c] = conns.sndWnd[c]!;
    conns.sndWl1[c] = origSeq;
    conns.sndWl2[c] = ack;
    armKeepalive(t, c, nowUs);
    if (li >= 0) t.events.event(li, TcpEvent.Accept, c);
    else if ((conns.flags[c]! & F_APP_OWNED) !== 0) t.events.event(c, TcpEvent.Connected, 0);
  }
  // RFC 5961 5.2: acceptable iff SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT; else drop and ACK.
  const una = conns.sndUna[c]!;
  const sndMax = conns.sndMax[c]!;
  if (((ack - sndMax) | 0) > 0) {
    cnt.ackTooNew++;
    conns.flags[c] = conns.flags[c]! | F_ACK_NOW;
    tcpOutput(t, c, nowUs);
    return false;
  }
  if (((ack - ((una - conns.maxSndWnd[c]!) | 0)) | 0) < 0) {
    cnt.badAck++;
    conns.flags[c] = conns.flags[c]! | F_ACK_NOW;
    tcpOutput(t, c, nowUs);
    return false;
  }
  const f = conns.flags[c]!;
  const mss = conns.mss[c]!;
  const newWnd = seg.wnd << conns.sndWscale[c]!;
  // RFC 8985 6.2 after an RTO: what the go-back resent and is now newly SACKed (rack.ts rackRtoEvidence).
  const goBack = conns.sndNxt[c]!;
  const rtoSack = (f & (F_RTO_RECOVERY | F_SACK_OK)) === (F_RTO_RECOVERY | F_SACK_OK) && seg.opts.sackCount > 0;
  const sackedBefore = rtoSack ? t.sack.sackedBelow(c, ((ack - una) | 0) > 0 ? ack : una, goBack) : 0;
  if ((f & F_SACK_OK) !== 0 && seg.opts.sackCount > 0) {
    t.sack.update(c, ((ack - una) | 0) > 0 ? ack : una, seg.opts.sackLeft, seg.opts.sackRight, seg.opts.sackCount, sndMax);
  }
  if (((ack - una) | 0) > 0) {
    newAck(t, c, ack, nowUs);
  } else if (
    ack === una && seg.payLen === 0 && (seg.flags & (TH_SYN | TH_FIN)) === 0 && sndMax !== una &&
    (newWnd === conns.sndWnd[c] || seg.opts.sackCount > 0) &&
    // Answers to zero-window probes are not a loss signal.
    newWnd !== 0 && (f & F_PERSIST) === 0
  ) {
    dupAck(t, c, mss, nowUs);
  }
  // RFC 8985 6.2: RACK on every ACK with SACK information (also ACKs that move SND.UNA, which
  // RFC 6675 never counts); it detects losses and lost retransmissions by time.
  if (rtoSack) rackRtoEvidence(t, c, goBack, sackedBefore, nowUs);
  if ((conns.flags[c]! & F_SACK_OK) !== 0 && t.sack.count(c) > 0) {
    if (rackDetect(t, c, nowUs) && (conns.flags[c]! & F_RECOVERY) === 0) {
      if (enterFastRecovery(t, c, nowUs)) cnt.rackLosses++;
    }
    rackRtoLost(t, c, nowUs);
    // RFC 8985 6.3: a reordering window still to pass runs the timer (no later ACK may come).
    rackArmTimer(t, c, nowUs);
  }
  // RFC 9293 3.10.7.4: update the send window if SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK).
  const wl1d = (origSeq - conns.sndWl1[c]!) | 0;
  if (wl1d > 0 || (wl1d === 0 && ((ack - conns.sndWl2[c]!) | 0) >= 0)) {
    const opened = conns.sndWnd[c] === 0 && newWnd > 0;
    conns.sndWnd[c] = newWnd;
    conns.sndWl1[c] = origSeq;
    conns.sndWl2[c] = ack;
    if (newWnd > conns.maxSndWnd[c]!) conns.maxSndWnd[c] = newWnd;
    if (opened && (conns.flags[c]! & F_PERSIST) !== 0) {
      // The window opened: leave persist mode; output resumes sending.
      conns.flags[c] = conns.flags[c]! & ~F_PERSIST;
      cancelTimer(t, c, T_RTX);
      t.rtt.clearBackoff(c);
      conns.retries[c] = 0;
      if (conns.sndMax[c] !== conns.sndUna[c]) armRtx(t, c, nowUs);
    }
  }
  // Our FIN is acknowledged when SND.UNA has passed it.
  const finAcked = (conns.flags[c]! & F_FIN_SENT) !== 0 && conns.sndUna[c] === conns.sndMax[c];
  switch (conns.state[c]) {
    case TcpState.FinWait1:
      if (finAcked) {
        conns.state[c] = TcpState.FinWait2;
        // Linux-style FIN-WAIT-2 timeout once nobody can read or write any more.
        if ((conns.flags[c]! & F_APP_CLOSED) !== 0) armTimer(t, c, T_IDLE, nowUs + t.cfg.finWait2TimeoutUs);
      }
      break;
    case TcpState.Closing:
      if (finAcked) enterTimeWait(t, c, nowUs);
      break;
    case TcpState.LastAck:
      if (finAcked) {
        cnt.segsAccepted++; // processed: it closed the connection
        enterClosed(t, c, 0, nowUs);
        return false;
      }
      break;
    default:
      break;
  }
  return true;
}

/** SEG.ACK > SND.UNA: new data (or our FIN) acknowledged. */
function newAck(t: TcpLayer, c: number, ack: number, nowUs: number): void {
  const conns = t.conns;
  const cnt = t.counters;
  const seg = t.seg;
  const una = conns.sndUna[c]!;
  const acked = (ack - una) | 0;
  const f = conns.flags[c]!;
  const bufLen = t.snd.length(c);
  const dataAcked = acked > bufLen ? bufLen : acked;
  if (dataAcked > 0) t.snd.consume(c, dataAcked);
  // RTT (RFC 6298 2, Karn 3): the timed segment (microseconds); else (RFC 7323 4.1) the echoed
  // timestamp (milliseconds). An echo is unambiguous for retransmitted data too, except after a
  // lost ACK, when it names an earlier copy and overstates the RTT by at least one RTO interval:
  // while retransmitted data is being acknowledged, only echoes below the un-backed-off RTO count.
  let sampled = false;
  if ((f & F_RTT_TIMING) !== 0 && ((ack - conns.rttSeq[c]!) | 0) >= 0) {
    t.rtt.sample(c, ((nowUs | 0) - conns.rttStartUs[c]!) | 0);
    conns.flags[c] = conns.flags[c]! & ~F_RTT_TIMING;
    sampled = true;
  }
  if (!sampled && (f & F_TS_OK) !== 0 && seg.opts.tsPresent && seg.opts.tsEcr !== 0) {
    const us = ((tsNow(nowUs) - seg.opts.tsEcr) | 0) * 1000;
    const ambiguous = (f & (F_RECOVERY | F_RTO_RECOVERY)) !== 0;
    if (us >= 0 && us < 60_000_000 && (!ambiguous || us < t.rtt.rtoUs(c) / (1 << t.rtt.backoffCount(c)))) {
      if ((f & F_RTT_TIMING) === 0 || ambiguous) t.rtt.sample(c, us);
    }
  }
  conns.sndUna[c] = ack;
  if (((conns.sndNxt[c]! - ack) | 0) < 0) conns.sndNxt[c] = ack;
  if (((conns.highRxt[c]! - ack) | 0) < 0) conns.highRxt[c] = ack;
  conns.retries[c] = 0;
  const flight = (conns.sndMax[c]! - ack) | 0;
  if ((f & F_RECOVERY) !== 0) {
    if (((ack - conns.recover[c]!) | 0) >= 0) {
      // RFC 6582 3.2 step 3 / RFC 6675 5 (A): full acknowledgment ends recovery.
      t.cc.exitRecovery(c, nowUs);
      conns.flags[c] = conns.flags[c]! & ~F_RECOVERY;
      conns.dupAcks[c] = 0;
    } else {
      // RFC 6582 3.2 step 5: partial ACK.
      cnt.partialAcks++;
      t.cc.onPartialAck(c, acked);
      if ((f & F_SACK_OK) === 0) {
        retransmit(t, c, ack, conns.mss[c]!, nowUs);
      }
    }
  } else {
    if ((f & F_RTO_RECOVERY) !== 0 && ((ack - conns.recover[c]!) | 0) >= 0) conns.flags[c] = conns.flags[c]! & ~F_RTO_RECOVERY;
    else if ((f & F_RTO_RECOVERY) !== 0) rackRtoPass(t, c, nowUs);
    conns.dupAcks[c] = 0;
    t.cc.onAck(c, acked, flight, nowUs, t.rtt.hasSample(c) ? t.rtt.srttUs(c) : -1);
  }
  // RFC 6298 (5.2)/(5.3): stop the timer when all is acknowledged, else restart it.
  if (flight === 0) {
    if ((conns.flags[c]! & F_PERSIST) === 0) cancelTimer(t, c, T_RTX);
  } else {
    armRtx(t, c, nowUs);
  }
  if ((conns.flags[c]! & F_WANT_WRITABLE) !== 0 && dataAcked > 0) {
    conns.flags[c] = conns.flags[c]! & ~F_WANT_WRITABLE;
    if ((conns.flags[c]! & F_APP_OWNED) !== 0) t.events.event(c, TcpEvent.Writable, t.cfg.sndBufBytes - t.snd.length(c));
  }
}

/** A duplicate ACK (RFC 5681 2): fast retransmit on the third (or RFC 6675 IsLost). */
function dupAck(t: TcpLayer, c: number, mss: number, nowUs: number): void {
  const conns = t.conns;
  const cnt = t.counters;
  cnt.dupAcksIn++;
  const f = conns.flags[c]!;
  const una = conns.sndUna[c]!;
  if ((f & F_RECOVERY) !== 0) {
    // RFC 5681 3.2 step 4: inflate by one segment per further dup ACK (SACK recovery uses pipe instead).
    if ((f & F_SACK_OK) === 0) t.cc.onDupAcks(c, 1);
    return;
  }
  const d = conns.dupAcks[c]!;
  if (d < 255) conns.dupAcks[c] = d + 1;
  const sackLost = (f & F_SACK_OK) !== 0 && (t.sack.isLost(c, una, mss) || rackDetect(t, c, nowUs));
  if (d + 1 < dupThreshold(t, c, mss) && !sackLost) return;
  enterFastRecovery(t, c, nowUs);
}

/**
 * Fast retransmit and enter loss recovery (RFC 5681 3.2, RFC 6582 3.2, RFC 6675 5 (4)); also started by
 * RACK (rack.ts). Returns false when RFC 6582 4.1 forbids a new recovery (losses from before the last RTO).
 */
export function enterFastRecovery(t: TcpLayer, c: number, nowUs: number): boolean {
  const conns = t.conns;
  const cnt = t.counters;
  const f = conns.flags[c]!;
  const una = conns.sndUna[c]!;
  const mss = conns.mss[c]!;
  // RFC 6582 3.2 step 2 / 4.1: no new recovery for losses from before the last one.
  if ((f & F_RTO_RECOVERY) !== 0 && ((una - conns.recover[c]!) | 0) < 0) return false;
  cnt.fastRetransmits++;
  if ((f & F_SACK_OK) !== 0) cnt.sackRecoveries++;
  const flight = (conns.sndMax[c]! - una) | 0;
  conns.recover[c] = conns.sndMax[c]!;
  conns.flags[c] = (f | F_RECOVERY) & ~F_RTO_RECOVERY;
  t.cc.enterRecovery(c, flight, nowUs);
  // RFC 5681 3.2 step 3: cwnd = ssthresh + 3*SMSS without SACK.
  if ((f & F_SACK_OK) === 0) t.cc.onDupAcks(c, DUP_THRESH);
  conns.highRxt[c] = una;
  rackNewPass(t, c);
  // RFC 5681 3.2 step 2 / RFC 6675 5 (4.3): retransmit the first unacknowledged segment.
  if (retransmit(t, c, una, mss, nowUs)) {
    let end = (una + mss) | 0;
    if (((end - conns.sndMax[c]!) | 0) > 0) end = conns.sndMax[c]!;
    conns.highRxt[c] = end;
    rackOnRetransmit(t, c, nowUs);
  }
  armRtx(t, c, nowUs);
  return true;
}

/**
 * RFC 5827 Early Retransmit: with fewer than four segments outstanding and no new data
 * that could be sent, the threshold drops to (outstanding segments - 1).
 */
function dupThreshold(t: TcpLayer, c: number, mss: number): number {
  const conns = t.conns;
  const flight = (conns.sndMax[c]! - conns.sndUna[c]!) | 0;
  const oseg = Math.ceil(flight / mss);
  if (oseg >= DUP_THRESH + 1) return DUP_THRESH;
  // RFC 5827 2.1: ER_thresh = oseg - 1 needs oseg >= 2. With one segment out, no
  // later segment can make a duplicate ACK: one comes from a window update or a late
  // delayed ACK (request/response traffic), never from loss.
  if (oseg < 2) return DUP_THRESH;
  // RFC 5827 2.3: with SACK, early retransmit needs SACK evidence of what arrived.
  if ((conns.flags[c]! & F_SACK_OK) !== 0 && t.sack.count(c) === 0) return DUP_THRESH;
  const unsent = t.snd.length(c) - flight;
  const wndRoom = (conns.sndUna[c]! + conns.sndWnd[c]! - conns.sndMax[c]!) | 0;
  if (unsent > 0 && wndRoom >= mss) return DUP_THRESH;
  return oseg > 2 ? oseg - 1 : 1;
}
