/**
 * RFC 9293 3.10.7.4 seventh step (segment text) and eighth step (FIN), with the
 * receive buffer as a ChunkQueue: in-order data is appended at RCV.NXT,
 * out-of-order data is held with writeAt (RFC 9293 3.10.7.4 "may be held for
 * later processing") and reported in SACK blocks (RFC 2018 4). ACK policy:
 * RFC 9293 3.8.6.3 / RFC 5681 4.2 delayed ACKs (at least every second full-sized
 * segment, at most delAckUs later), an immediate ACK for out-of-order data and
 * for data that fills a gap.
 */
import {
  F_ACK_NOW, F_APP_CLOSED, F_APP_OWNED, F_DELACK, F_FIN_RCVD, F_FIN_SENT, F_OOO_FIN, F_READABLE_SIGNALLED,
} from "./conn-table";
import { ECONNRESET } from "./errno";
import { enterClosed, enterTimeWait } from "./lifecycle";
import { sendRstForConn } from "./rst";
import { TcpState } from "./state";
import type { TcpLayer } from "./tcp-layer";
import { TcpEvent } from "./events";
import { expressPush } from "./message-mode";
import { followRx, NO_RX_CLASS, P_MESSAGE } from "./priority";
import { armTimer, T_DELACK, T_IDLE } from "./timers";

/** Process the text of t.seg (already trimmed to the window). Returns false if the connection was reset. */
export function dataInput(t: TcpLayer, c: number, nowUs: number): boolean {
  const conns = t.conns;
  const seg = t.seg;
  const cnt = t.counters;
  const s = conns.state[c]!;
  if (s !== TcpState.Established && s !== TcpState.FinWait1 && s !== TcpState.FinWait2) {
    // CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT: the peer already sent its FIN; ignore the text.
    return true;
  }
  if ((conns.flags[c]! & F_APP_CLOSED) !== 0) {
    // Nobody will read it (RFC 1122 4.2.2.13, RFC 2525 2.17): reset, as Linux does.
    cnt.resets++;
    sendRstForConn(t, c);
    enterClosed(t, c, ECONNRESET, nowUs);
    return false;
  }
  const rcvNxt = conns.rcvNxt[c]!;
  const qlen = t.rcv.length(c);
  const d = (seg.seq - rcvNxt) | 0;
  if (seg.payLen > 0) followRx(t, c);
  if (d === 0) {
    const hadOoo = t.rcv.rangeCount(c) > 0;
    // Message mode: an in-order high-priority payload becomes an express message (message-mode.ts).
    if (!hadOoo && t.rxClass !== NO_RX_CLASS && (conns.prio[c]! & P_MESSAGE) !== 0 && seg.payLen > 0 &&
      expressPush(t, c, t.rxClass, seg.mem, seg.payOff, seg.payLen)) {
      conns.rcvNxt[c] = (rcvNxt + seg.payLen) | 0;
      scheduleAck(t, c, seg.payLen, nowUs);
      if ((conns.flags[c]! & F_OOO_FIN) !== 0 && conns.rcvNxt[c] === conns.finSeq[c]) {
        conns.flags[c] = conns.flags[c]! & ~F_OOO_FIN;
        processFin(t, c, nowUs);
      }
      signalReadable(t, c, seg.payLen);
      return true;
    }
    // In order with nothing held beyond it: append in place (one copy from the frame into the
    // buffer's tail chunk); the general writeAt merges with out-of-order ranges.
    const n = hadOoo ? t.rcv.writeAt(c, qlen, seg.mem, seg.payOff, seg.payLen) : t.rcv.append(c, seg.mem, seg.payOff, seg.payLen);
    if (n < 0 || (n === 0 && seg.payLen > 0)) {
      cnt.rcvBufFull++;
      conns.flags[c] = conns.flags[c]! | F_ACK_NOW;
      return true;
    }
    conns.rcvNxt[c] = (rcvNxt + n) | 0;
    if (hadOoo) {
      // RFC 5681 4.2: a segment that fills (part of) a gap is ACKed at once.
      conns.flags[c] = conns.flags[c]! | F_ACK_NOW;
    } else {
      scheduleAck(t, c, seg.payLen, nowUs);
    }
    if ((conns.flags[c]! & F_OOO_FIN) !== 0 && conns.rcvNxt[c] === conns.finSeq[c]) {
      conns.flags[c] = conns.flags[c]! & ~F_OOO_FIN;
      processFin(t, c, nowUs);
    }
    signalReadable(t, c, t.rcv.length(c));
    return true;
  }
  // Out of order (d > 0 after trimming): hold it, ACK at once (a duplicate ACK with SACK blocks).
  cnt.oooSegments++;
  if (t.rcv.writeAt(c, qlen + d, seg.mem, seg.payOff, seg.payLen) < 0) cnt.oooDropped++;
  conns.flags[c] = conns.flags[c]! | F_ACK_NOW;
  return true;
}

/**
 * Tell the application data is readable. With t.readableEdge (the sockets API) only once
 * until it reads again (recv/recvRelease clear F_READABLE_SIGNALLED): one event per burst
 * of segments, not one per segment.
 */
function signalReadable(t: TcpLayer, c: number, avail: number): void {
  const conns = t.conns;
  const f = conns.flags[c]!;
  if ((f & F_APP_OWNED) === 0) return;
  if (t.readableEdge && (f & F_READABLE_SIGNALLED) !== 0) return;
  conns.flags[c] = f | F_READABLE_SIGNALLED;
  t.events.event(c, TcpEvent.Readable, avail);
}

/**
 * RFC 5681 4.2: ACK at least every second full-sized segment; otherwise within delAckUs.
 * With t.ackPerBurst the ACK a second full-sized segment calls for goes out when the
 * receive burst has been processed (TcpLayer.flush, the same poll round), one ACK for
 * all of the burst's segments: a deviation from "at least every second segment" in the
 * way Linux's GRO deviates (at most one burst, 32 frames, per ACK), halving the ACKs or
 * better. Out-of-order and gap-filling segments are still ACKed at once (dataInput).
 */
function scheduleAck(t: TcpLayer, c: number, len: number, nowUs: number): void {
  const conns = t.conns;
  if ((conns.flags[c]! & F_ACK_NOW) !== 0) return;
  if (len >= conns.mss[c]! || len >= t.ourMss) {
    const n = conns.delackSegs[c]! + 1;
    if (n < 256) conns.delackSegs[c] = n;
    if (n >= 2) {
      if (!t.ackPerBurst) {
        conns.flags[c] = conns.flags[c]! | F_ACK_NOW;
        return;
      }
      t.markDirty(c);
    }
  }
  if ((conns.flags[c]! & F_DELACK) === 0) {
    conns.flags[c] = conns.flags[c]! | F_DELACK;
    armTimer(t, c, T_DELACK, nowUs + t.cfg.delAckUs);
  }
}

/** Eighth step: the FIN bit of t.seg (after its text). */
export function finInput(t: TcpLayer, c: number, nowUs: number): void {
  const conns = t.conns;
  const seg = t.seg;
  const finSeq = (seg.seq + seg.payLen) | 0;
  const d = (finSeq - conns.rcvNxt[c]!) | 0;
  if (d > 0) {
    // The FIN is beyond a gap: remember it until the data before it arrives.
    conns.flags[c] = conns.flags[c]! | F_OOO_FIN | F_ACK_NOW;
    conns.finSeq[c] = finSeq;
    return;
  }
  if (d < 0) return;
  processFin(t, c, nowUs);
}

/** The FIN is in order: RCV.NXT advances over it; the state moves (RFC 9293 3.10.7.4 eighth). */
function processFin(t: TcpLayer, c: number, nowUs: number): void {
  const conns = t.conns;
  const s = conns.state[c]!;
  if ((conns.flags[c]! & F_FIN_RCVD) !== 0) {
    conns.flags[c] = conns.flags[c]! | F_ACK_NOW;
    if (s === TcpState.TimeWait) armTimer(t, c, T_IDLE, nowUs + t.cfg.timeWaitUs);
    return;
  }
  conns.rcvNxt[c] = (conns.rcvNxt[c]! + 1) | 0;
  conns.flags[c] = conns.flags[c]! | F_FIN_RCVD | F_ACK_NOW;
  if ((conns.flags[c]! & F_APP_OWNED) !== 0) t.events.event(c, TcpEvent.PeerFin, 0);
  switch (s) {
    case TcpState.SynReceived:
    case TcpState.Established:
      conns.state[c] = TcpState.CloseWait;
      break;
    case TcpState.FinWait1:
      // Our FIN acknowledged too? Then TIME-WAIT, else CLOSING (simultaneous close).
      if ((conns.flags[c]! & F_FIN_SENT) !== 0 && conns.sndUna[c] === conns.sndMax[c]) enterTimeWait(t, c, nowUs);
      else conns.state[c] = TcpState.Closing;
      break;
    case TcpState.FinWait2:
      enterTimeWait(t, c, nowUs);
      break;
    default:
      break;
  }
}
