/**
 * Connection teardown and the user calls that end a connection (RFC 9293 3.10.4
 * CLOSE, 3.10.5 ABORT, 3.6 closing a connection; RFC 2525 2.17 / RFC 1122
 * 4.2.2.13: close with unread data resets).
 */
import {
  F_APP_CLOSED, F_APP_OWNED, F_CLOSED_SIGNALLED, F_FIN_QUEUED, F_IN_ACCEPTQ, F_IN_SYNQ, F_PERSIST,
} from "./conn-table";
import { ECONNRESET } from "./errno";
import { aheadDrop, expressDrop, rcvHeld } from "./message-mode";
import { sendRstForConn } from "./rst";
import { TcpState } from "./state";
import type { TcpLayer } from "./tcp-layer";
import { TcpEvent } from "./events";
import { armTimer, cancelAllTimers, cancelTimer, T_IDLE, T_RTX } from "./timers";


/**
 * The connection reaches CLOSED (RFC 9293 3.3.2 "delete the TCB"). `err` is a positive
 * errno (0 for an orderly end). The 4-tuple is released at once; the id is freed unless
 * the application still holds it, in which case it stays in CLOSED with its errno and
 * the application is told (Closed event) and frees it with close().
 */
export function enterClosed(t: TcpLayer, c: number, err: number, _nowUs: number): void {
  const conns = t.conns;
  const prev = conns.state[c]!;
  conns.state[c] = TcpState.Closed;
  if (err !== 0) conns.errno[c] = err;
  cancelAllTimers(t, c);
  t.snd.reset(c);
  aheadDrop(t, c);
  t.sack.clear(c);
  if (prev !== TcpState.Closed) t.flows.removeValue(c);
  const f = conns.flags[c]!;
  if ((f & F_IN_SYNQ) !== 0) t.listeners.leaveSynQueue(t, c);
  if ((f & F_IN_ACCEPTQ) !== 0) t.listeners.removeFromAcceptQueue(t, c);
  conns.flags[c] = conns.flags[c]! & ~(F_PERSIST | F_FIN_QUEUED);
  if ((f & (F_APP_OWNED | F_APP_CLOSED)) === F_APP_OWNED) {
    // RFC 9293 3.10.7.4: on reset, "all segment queues should be flushed"; an orderly end keeps unread data.
    if (err !== 0) {
      t.rcv.reset(c);
      expressDrop(t, c);
    }
    signalClosed(t, c, err);
    return;
  }
  releaseClosed(t, c);
}

/** Tell the application (once) that the connection is over. */
export function signalClosed(t: TcpLayer, c: number, err: number): void {
  const conns = t.conns;
  const f = conns.flags[c]!;
  if ((f & F_CLOSED_SIGNALLED) !== 0 || (f & (F_APP_OWNED | F_APP_CLOSED)) !== F_APP_OWNED) return;
  conns.flags[c] = f | F_CLOSED_SIGNALLED;
  t.events.event(c, TcpEvent.Closed, err !== 0 ? -err : 0);
}

/** Free buffers and the id. */
export function releaseClosed(t: TcpLayer, c: number): void {
  cancelAllTimers(t, c);
  t.snd.reset(c);
  t.rcv.reset(c);
  expressDrop(t, c);
  aheadDrop(t, c);
  t.conns.free(c);
}

/**
 * RFC 9293 3.10.7.4: enter TIME-WAIT, start the 2*MSL timer, turn off the other timers.
 * The send buffer is empty (our FIN was acknowledged) and is released; unread data stays
 * for the application.
 */
export function enterTimeWait(t: TcpLayer, c: number, nowUs: number): void {
  const conns = t.conns;
  conns.state[c] = TcpState.TimeWait;
  cancelTimer(t, c, T_RTX);
  conns.flags[c] = conns.flags[c]! & ~F_PERSIST;
  t.snd.reset(c);
  aheadDrop(t, c);
  t.sack.clear(c);
  armTimer(t, c, T_IDLE, nowUs + t.cfg.timeWaitUs);
  signalClosed(t, c, 0);
}

/** Half-close (RFC 9293 3.10.4 on a synchronized connection): queue the FIN after the data. */
export function appShutdown(t: TcpLayer, c: number, _nowUs: number): void {
  const conns = t.conns;
  const s = conns.state[c]!;
  if ((conns.flags[c]! & F_FIN_QUEUED) !== 0) return;
  switch (s) {
    case TcpState.Established:
      conns.state[c] = TcpState.FinWait1;
      break;
    case TcpState.CloseWait:
      conns.state[c] = TcpState.LastAck;
      break;
    case TcpState.SynSent:
    case TcpState.SynReceived:
      // RFC 9293 3.10.4: queued until ESTABLISHED is entered (input moves the state then).
      break;
    default:
      return;
  }
  conns.flags[c] = conns.flags[c]! | F_FIN_QUEUED;
  t.markDirty(c);
}

/** CLOSE by the application (RFC 9293 3.10.4): it gives up the id. */
export function appClose(t: TcpLayer, c: number, nowUs: number): void {
  const conns = t.conns;
  conns.flags[c] = (conns.flags[c]! | F_APP_CLOSED) & ~F_APP_OWNED;
  const s = conns.state[c]!;
  if (s === TcpState.Closed) {
    releaseClosed(t, c);
    return;
  }
  if (s === TcpState.SynSent) {
    // RFC 9293 3.10.4: CLOSE in SYN-SENT deletes the TCB.
    enterClosed(t, c, 0, nowUs);
    return;
  }
  if (rcvHeld(t, c) > 0 && s !== TcpState.TimeWait) {
    // RFC 2525 2.17, RFC 1122 4.2.2.13: closing with unread data resets the connection so the peer knows.
    t.counters.resets++;
    sendRstForConn(t, c);
    enterClosed(t, c, ECONNRESET, nowUs);
    return;
  }
  if (s === TcpState.FinWait2) {
    armTimer(t, c, T_IDLE, nowUs + t.cfg.finWait2TimeoutUs);
    return;
  }
  appShutdown(t, c, nowUs);
}

/** ABORT (RFC 9293 3.10.5): RST in the synchronized states (and SYN-RECEIVED), then CLOSED; the id is given up. */
export function abortConn(t: TcpLayer, c: number, nowUs: number): void {
  const conns = t.conns;
  conns.flags[c] = (conns.flags[c]! | F_APP_CLOSED) & ~F_APP_OWNED;
  const s = conns.state[c]!;
  if (s === TcpState.Closed) {
    releaseClosed(t, c);
    return;
  }
  if (s === TcpState.SynReceived || s === TcpState.Established || s === TcpState.FinWait1 || s === TcpState.FinWait2 || s === TcpState.CloseWait) {
    t.counters.resets++;
    sendRstForConn(t, c);
  }
  enterClosed(t, c, 0, nowUs);
}

/** Leave SYN-RECEIVED for ESTABLISHED: a FIN queued meanwhile moves on to FIN-WAIT-1 (RFC 9293 3.10.4). */
export function onEstablished(t: TcpLayer, c: number): void {
  const conns = t.conns;
  conns.state[c] = (conns.flags[c]! & F_FIN_QUEUED) !== 0 ? TcpState.FinWait1 : TcpState.Established;
}
