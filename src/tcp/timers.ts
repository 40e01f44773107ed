/**
 * TCP timers mapped onto the TimerWheel: two timer ids per connection, one
 * pending deadline per id (schedule replaces).
 *
 *   MAIN (id 2c)   one of, by what the connection is doing:
 *     - retransmission (RFC 6298), SYN / SYN-ACK retransmission, or the persist
 *       timer for zero-window probes (RFC 9293 3.8.6.1; F_PERSIST says which);
 *     - keepalive (RFC 1122 4.2.3.6), FIN-WAIT-2 timeout, TIME-WAIT 2*MSL
 *       (RFC 9293 3.10.7.4) — the "idle" kinds, F_TMR_IDLE set.
 *     Only one is ever needed: keepalive probes only an idle connection (nothing
 *     outstanding), so while the retransmission or persist timer runs it replaces
 *     keepalive, and keepalive is re-armed when that timer stops; FIN-WAIT-2 and
 *     TIME-WAIT have nothing left to retransmit.
 *   DELACK (id 2c+1) delayed ACK (RFC 9293 3.8.6.3, RFC 5681 4.2), which may run
 *     alongside a retransmission timer.
 * 16 bytes per connection: the wheel is compact and grouped (2 ids x 4 B of expiry tick + one shared 8 B list node).
 */
import {
  F_ACK_NOW, F_APP_CLOSED, F_DELACK, F_FIN_SENT, F_KEEPALIVE, F_PERSIST, F_RECOVERY, F_RTO_RECOVERY,
  F_RTT_TIMING, F_TLP, F_TMR_IDLE, F_USED,
} from "./conn-table";
import { onTlp, rackRtoPass, tlpTimeoutUs } from "./rack";
import { ETIMEDOUT } from "./errno";
import { enterClosed, releaseClosed } from "./lifecycle";
import { emitSegment, sendPureAck, tcpOutput } from "./output";
import { sendRstForConn } from "./rst";
import { TcpState } from "./state";
import type { TcpLayer } from "./tcp-layer";

/** Timer ids per connection. */
export const TIMER_KINDS = 2;
/** Logical timers (the MAIN id carries T_RTX or T_IDLE). */
export const T_RTX = 0;
export const T_DELACK = 1;
export const T_IDLE = 2;

export function armTimer(t: TcpLayer, c: number, kind: number, deadlineUs: number): void {
  const conns = t.conns;
  if (kind === T_DELACK) {
    t.wheel.schedule(c * TIMER_KINDS + 1, deadlineUs);
    return;
  }
  if (kind === T_IDLE) conns.flags[c] = conns.flags[c]! | F_TMR_IDLE;
  else conns.flags[c] = conns.flags[c]! & ~F_TMR_IDLE;
  t.wheel.schedule(c * TIMER_KINDS, deadlineUs);
}

/** Cancel a logical timer; the MAIN id is cancelled only when it carries that kind. Stopping RTX re-arms keepalive. */
export function cancelTimer(t: TcpLayer, c: number, kind: number): void {
  if (kind === T_DELACK) {
    t.wheel.cancel(c * TIMER_KINDS + 1);
    return;
  }
  const idle = (t.conns.flags[c]! & F_TMR_IDLE) !== 0;
  if (kind === T_IDLE) {
    if (!idle) return;
    t.conns.flags[c] = t.conns.flags[c]! & ~F_TMR_IDLE;
    t.wheel.cancel(c * TIMER_KINDS);
    return;
  }
  if (idle || !t.wheel.isScheduled(c * TIMER_KINDS)) return;
  t.wheel.cancel(c * TIMER_KINDS);
  armKeepalive(t, c, t.nowUs);
}

export function timerPending(t: TcpLayer, c: number, kind: number): boolean {
  if (kind === T_DELACK) return t.wheel.isScheduled(c * TIMER_KINDS + 1);
  if (!t.wheel.isScheduled(c * TIMER_KINDS)) return false;
  return ((t.conns.flags[c]! & F_TMR_IDLE) !== 0) === (kind === T_IDLE);
}

export function cancelAllTimers(t: TcpLayer, c: number): void {
  const base = c * TIMER_KINDS;
  t.wheel.cancel(base);
  t.wheel.cancel(base + 1);
  t.conns.flags[c] = t.conns.flags[c]! & ~F_TMR_IDLE;
}

/**
 * RFC 6298 (5.1)/(5.3): (re)start the retransmission timer with the current RTO; when a tail loss
 * probe may be scheduled (RFC 8985 7.2, rack.ts), the timer first runs as the probe timeout.
 */
export function armRtx(t: TcpLayer, c: number, nowUs: number): void {
  const pto = tlpTimeoutUs(t, c, nowUs);
  if (pto >= 0) {
    t.conns.flags[c] = (t.conns.flags[c]! & ~F_PERSIST) | F_TLP;
    armTimer(t, c, T_RTX, nowUs + pto);
    return;
  }
  armRto(t, c, nowUs);
}

/** The retransmission timer proper (no probe). */
export function armRto(t: TcpLayer, c: number, nowUs: number): void {
  t.conns.flags[c] = t.conns.flags[c]! & ~(F_PERSIST | F_TLP);
  armTimer(t, c, T_RTX, nowUs + t.rtt.rtoUs(c));
}

/** RFC 6298 (5.1): start the timer only if it is not running. */
export function ensureRtx(t: TcpLayer, c: number, nowUs: number): void {
  if ((t.conns.flags[c]! & F_PERSIST) !== 0 || !timerPending(t, c, T_RTX)) armRtx(t, c, nowUs);
}

/**
 * After sending our SYN or SYN-ACK at the open: time it (RFC 6298) and arm the retransmission timer;
 * when transmission was refused (local congestion) retry after REFUSED_RETRY_US instead of a whole RTO.
 */
export function armAfterSyn(t: TcpLayer, c: number, nowUs: number, sent: boolean): void {
  const conns = t.conns;
  if (!sent) {
    // F_PERSIST has no meaning before ESTABLISHED: here it marks "our SYN was never sent" (onPersist).
    conns.flags[c] = (conns.flags[c]! & ~F_RTT_TIMING) | F_PERSIST;
    armTimer(t, c, T_RTX, nowUs + REFUSED_RETRY_US);
    return;
  }
  conns.flags[c] = conns.flags[c]! | F_RTT_TIMING;
  conns.rttSeq[c] = (conns.iss[c]! + 1) | 0;
  conns.rttStartUs[c] = nowUs | 0;
  armRtx(t, c, nowUs);
}

/** RFC 9293 3.8.6.1: arm the persist timer (if not already) for a zero or too small window. */
export function ensurePersist(t: TcpLayer, c: number, nowUs: number): void {
  const conns = t.conns;
  if ((conns.flags[c]! & F_PERSIST) !== 0 && timerPending(t, c, T_RTX)) return;
  conns.flags[c] = (conns.flags[c]! | F_PERSIST) & ~F_TLP;
  armTimer(t, c, T_RTX, nowUs + t.rtt.rtoUs(c));
}

/**
 * RFC 1122 4.2.3.6: keepalive timer after keepIdleUs of silence (only in ESTABLISHED / CLOSE-WAIT).
 * Left alone while the retransmission or persist timer runs (see the file comment).
 */
export function armKeepalive(t: TcpLayer, c: number, nowUs: number): void {
  const conns = t.conns;
  const s = conns.state[c]!;
  if (s !== TcpState.Established && s !== TcpState.CloseWait) return;
  if ((conns.flags[c]! & F_KEEPALIVE) === 0) {
    cancelTimer(t, c, T_IDLE);
    return;
  }
  if ((conns.flags[c]! & F_TMR_IDLE) === 0 && t.wheel.isScheduled(c * TIMER_KINDS)) return;
  armTimer(t, c, T_IDLE, nowUs + t.cfg.keepIdleUs);
}

/** Delay before a SYN or SYN-ACK refused by local transmit is tried again. */
export const REFUSED_RETRY_US = 1000;

/** True when IPv4 output refuses a packet now (no buffer, or the transmit backlog at its limit). */
function txRefused(t: TcpLayer): boolean {
  if (t.tx.begin() < 0) return true;
  t.tx.abort();
  return false;
}

/** Expire every due timer. */
export function runTimers(t: TcpLayer, nowUs: number): void {
  const out = t.expired;
  for (;;) {
    const n = t.wheel.advance(nowUs, out);
    for (let i = 0; i < n; i++) {
      const id = out[i]!;
      const c = id >> 1;
      const f = t.conns.flags[c]!;
      if ((f & F_USED) === 0) continue;
      if ((id & 1) !== 0) {
        onDelack(t, c, nowUs);
      } else if ((f & F_TMR_IDLE) !== 0) {
        t.conns.flags[c] = f & ~F_TMR_IDLE;
        onIdle(t, c, nowUs);
      } else if (txRefused(t)) {
        // Local transmit congestion, not loss in the network: segments may still sit in our own
        // transmit queue, so no backoff and no retry counted (RFC 6298 (5.5) is about the network);
        // the timer runs again one unbacked-off RTO later (a refused SYN sooner), and the flush retries.
        t.counters.timersDeferred++;
        const synRetry = (f & F_PERSIST) !== 0 && (t.conns.state[c] === TcpState.SynSent || t.conns.state[c] === TcpState.SynReceived);
        armTimer(t, c, T_RTX, nowUs + (synRetry ? REFUSED_RETRY_US : t.rtt.rtoUs(c)));
        t.markDirty(c);
      } else {
        if ((f & F_PERSIST) !== 0) onPersist(t, c, nowUs);
        else if ((f & F_TLP) !== 0) {
          // RFC 8985 7.3: the probe (or a RACK loss); then the RTO runs (7.3: after a probe, the RTO).
          if (onTlp(t, c, nowUs) && !t.wheel.isScheduled(id) && (t.conns.flags[c]! & F_USED) !== 0) armRto(t, c, nowUs);
        } else onRtx(t, c, nowUs);
        // The timer stopped for good: keepalive takes the id back.
        if ((t.conns.flags[c]! & F_USED) !== 0 && !t.wheel.isScheduled(id)) armKeepalive(t, c, nowUs);
      }
    }
    if (n < out.length) break;
  }
}

/** RFC 6298 (5.4)-(5.7), RFC 5681 (4), RFC 9293 3.8.1 (R2: give up). */
function onRtx(t: TcpLayer, c: number, nowUs: number): void {
  const conns = t.conns;
  const s = conns.state[c]!;
  if (s === TcpState.Closed || s === TcpState.TimeWait || s === TcpState.FinWait2 && conns.sndUna[c] === conns.sndMax[c]) return;
  const retries = conns.retries[c]!;
  const limit = s === TcpState.SynSent ? t.cfg.synRetries : s === TcpState.SynReceived ? t.cfg.synAckRetries : t.cfg.dataRetries;
  if (retries >= limit) {
    t.counters.connTimeouts++;
    if (s === TcpState.SynReceived && conns.listener[c]! >= 0) {
      // A half-open passive connection silently goes away (back to LISTEN, RFC 9293 3.10.7.4).
      enterClosed(t, c, 0, nowUs);
      return;
    }
    if (s !== TcpState.SynSent) sendRstForConn(t, c);
    enterClosed(t, c, ETIMEDOUT, nowUs);
    return;
  }
  conns.retries[c] = retries + 1;
  t.counters.rtoTimeouts++;
  // (5.5) back off; Karn: do not time a retransmitted segment.
  t.rtt.backoff(c);
  conns.flags[c] = conns.flags[c]! & ~F_RTT_TIMING;
  if (s === TcpState.SynSent || s === TcpState.SynReceived) {
    // Retransmit the SYN / SYN-ACK (RFC 9293 3.8.1; RFC 6298 (5.7): cwnd drops to 1 segment once data flows).
    t.counters.retransmits++;
    emitSegment(t, c, conns.iss[c]!, 0, 0, nowUs, true);
    armRtx(t, c, nowUs);
    return;
  }
  // RFC 5681 (4): ssthresh = max(FlightSize / 2, 2*SMSS), cwnd = 1 SMSS (LW).
  const flight = (conns.sndMax[c]! - conns.sndUna[c]!) | 0;
  t.cc.onRto(c, flight, nowUs);
  conns.flags[c] = (conns.flags[c]! & ~F_RECOVERY) | F_RTO_RECOVERY;
  conns.dupAcks[c] = 0;
  conns.recover[c] = conns.sndMax[c]!;
  // RFC 6675 5.1: keep the scoreboard (as Linux): every un-SACKed byte below SND.MAX counts as lost
  // and the go-back below skips what the receiver holds (output.ts). RFC 2018 8 allows the receiver
  // to renege, so forget it (resend everything, RFC 2018's rule) when it did -- an ACK stopping at
  // the left edge of a SACKed range -- or when two RTOs in a row made no progress.
  const una = conns.sndUna[c]!;
  if (!t.cfg.sackAfterRto || retries >= 2 || t.sack.isSacked(c, una)) t.sack.clear(c);
  else if (t.sack.count(c) > 0) t.counters.rtoSackKept++;
  rackRtoPass(t, c, nowUs);
  // Go back: resend from SND.UNA under the collapsed window.
  conns.sndNxt[c] = conns.sndUna[c]!;
  conns.highRxt[c] = conns.sndUna[c]!;
  if ((conns.flags[c]! & F_FIN_SENT) !== 0 && t.snd.length(c) === 0) conns.flags[c] = conns.flags[c]! & ~F_FIN_SENT;
  tcpOutput(t, c, nowUs);
  armRtx(t, c, nowUs);
}

/** RFC 9293 3.8.6.1 / RFC 1122 4.2.2.17: zero-window probe, backed off, never giving up while acknowledged. */
function onPersist(t: TcpLayer, c: number, nowUs: number): void {
  const conns = t.conns;
  const s = conns.state[c]!;
  if (s === TcpState.SynSent || s === TcpState.SynReceived) {
    // Our SYN / SYN-ACK was refused by local transmit (armAfterSyn): send it now, a first transmission.
    armAfterSyn(t, c, nowUs, emitSegment(t, c, conns.iss[c]!, 0, 0, nowUs, true));
    return;
  }
  if (s !== TcpState.Established && s !== TcpState.CloseWait && s !== TcpState.FinWait1 && s !== TcpState.Closing && s !== TcpState.LastAck) {
    conns.flags[c] = conns.flags[c]! & ~F_PERSIST;
    return;
  }
  const una = conns.sndUna[c]!;
  const offset = (conns.sndNxt[c]! - una) | 0;
  const unsent = t.snd.length(c) - offset;
  if (unsent <= 0) {
    conns.flags[c] = conns.flags[c]! & ~F_PERSIST;
    return;
  }
  t.counters.persistProbes++;
  const usable = (una + conns.sndWnd[c]! - conns.sndNxt[c]!) | 0;
  // Window still closed: send one byte beyond it (the probe); otherwise the sender-SWS override timeout
  // (RFC 9293 3.8.6.2.1) lets us send what fits now.
  let len = usable > 0 ? usable : 1;
  if (len > conns.mss[c]!) len = conns.mss[c]!;
  if (len > unsent) len = unsent;
  // An earlier probe not yet accepted is repeated (from SND.UNA) rather than followed by more bytes.
  const probing = usable <= 0 && conns.sndNxt[c] !== una;
  const seq = probing ? una : conns.sndNxt[c]!;
  if (probing && len > conns.sndMax[c]! - una) len = (conns.sndMax[c]! - una) | 0;
  const sent = emitSegment(t, c, seq, 0x18 /* ACK|PSH */, len, nowUs, false);
  if (sent && !probing) {
    const nxt = (seq + len) | 0;
    conns.sndNxt[c] = nxt;
    if (((nxt - conns.sndMax[c]!) | 0) > 0) conns.sndMax[c] = nxt;
  }
  // RFC 6298 (5.5) backoff, capped at maxRtoUs (60 s by default, rtt.ts); a probe that local transmit
  // refused was never sent: tried again one unbacked-off interval later.
  if (sent) t.rtt.backoff(c);
  conns.flags[c] = conns.flags[c]! | F_PERSIST;
  armTimer(t, c, T_RTX, nowUs + t.rtt.rtoUs(c));
}

function onDelack(t: TcpLayer, c: number, nowUs: number): void {
  const conns = t.conns;
  if ((conns.flags[c]! & F_DELACK) === 0) return;
  t.counters.delayedAcks++;
  conns.flags[c] = conns.flags[c]! | F_ACK_NOW;
  tcpOutput(t, c, nowUs);
}

function onIdle(t: TcpLayer, c: number, nowUs: number): void {
  const conns = t.conns;
  const s = conns.state[c]!;
  if (s === TcpState.TimeWait) {
    // RFC 9293 3.10.7.4 / 3.6: 2*MSL elapsed: delete the TCB.
    enterClosed(t, c, 0, nowUs);
    return;
  }
  if (s === TcpState.FinWait2) {
    if ((conns.flags[c]! & F_APP_CLOSED) !== 0) {
      t.counters.finWait2Timeouts++;
      enterClosed(t, c, 0, nowUs);
    }
    return;
  }
  if (s === TcpState.Closed) {
    releaseClosed(t, c);
    return;
  }
  if ((conns.flags[c]! & F_KEEPALIVE) === 0 || (s !== TcpState.Established && s !== TcpState.CloseWait)) return;
  // RFC 1122 4.2.3.6: probe after the idle time; give up after keepProbes unanswered probes.
  const idleMs = ((((nowUs / 1000) | 0) - conns.lastRecvMs[c]!) | 0);
  const needMs = (conns.probes[c]! === 0 ? t.cfg.keepIdleUs : t.cfg.keepIntervalUs) / 1000;
  if (idleMs < needMs && conns.probes[c]! === 0) {
    armTimer(t, c, T_IDLE, nowUs + (needMs - idleMs) * 1000);
    return;
  }
  if (conns.probes[c]! >= t.cfg.keepProbes) {
    t.counters.connTimeouts++;
    sendRstForConn(t, c);
    enterClosed(t, c, ETIMEDOUT, nowUs);
    return;
  }
  conns.probes[c] = conns.probes[c]! + 1;
  t.counters.keepaliveProbes++;
  // The probe: SEG.SEQ = SND.NXT - 1 with no data, which the peer must answer with an ACK.
  sendPureAck(t, c, (conns.sndUna[c]! - 1) | 0, nowUs);
  armTimer(t, c, T_IDLE, nowUs + t.cfg.keepIntervalUs);
}
