/**
 * The sender (RFC 9293 3.8, 3.7): what to send now, segmentation by MSS, Nagle
 * (RFC 896, RFC 9293 3.7.4), sender silly-window avoidance (RFC 9293 3.8.6.2.1),
 * retransmission after an RTO (go-back from SND.UNA) and during SACK-based
 * recovery (RFC 6675 5 (C)), options on each segment (timestamps RFC 7323 3,
 * SACK blocks RFC 2018 4), window advertisement with receiver SWS avoidance
 * (RFC 9293 3.8.6.2.2) and window scaling (RFC 7323 2.3).
 *
 * Segments are written in place into the buffer L4Tx.begin() returns; payload
 * is copied out of the send ChunkQueue. When begin() returns -1 (no buffer, or the
 * transmit backlog at its limit: local congestion, not network loss) we count it
 * (txNoBuf), leave the connection's state as if nothing was tried (SND.NXT does not
 * move, an owed ACK stays owed) and mark it dirty: the next flush retries.
 */
import { checksumFold, checksumPartial, pseudoHeaderSum } from "../wire/checksum";
import { writeSackOption, writeSynOptions, writeTimestampOption } from "../wire/tcp-options";
import {
  F_ACK_NOW, F_DELACK, F_FIN_QUEUED, F_FIN_SENT, F_NODELAY, F_RECOVERY, F_RTO_RECOVERY, F_RTT_TIMING, F_SACK_OK, F_TLP, F_TS_OK,
  F_WS_OK,
} from "./conn-table";
import { aheadLimit, rcvHeld } from "./message-mode";
import { P_TX_AHEAD, txClass } from "./priority";
import { rackOnRetransmit } from "./rack";
import { TcpState } from "./state";
import type { TcpLayer } from "./tcp-layer";
import { armRtx, cancelTimer, ensurePersist, ensureRtx, T_DELACK } from "./timers";

export const TH_FIN = 0x01;
export const TH_SYN = 0x02;
export const TH_RST = 0x04;
export const TH_PSH = 0x08;
export const TH_ACK = 0x10;
export const TH_URG = 0x20;

const IPPROTO_TCP = 6;

/** Our timestamp clock (RFC 7323 5.4): milliseconds, low 32 bits. */
export function tsNow(nowUs: number): number {
  return Math.floor(nowUs / 1000) | 0;
}

/** Write the fixed 20-byte header at `off` (checksum zero). */
export function writeHeader(dv: DataView, off: number, sport: number, dport: number, seq: number, ack: number, flags: number, hdrLen: number, wnd: number): void {
  dv.setUint16(off, sport);
  dv.setUint16(off + 2, dport);
  dv.setInt32(off + 4, seq);
  dv.setInt32(off + 8, ack);
  dv.setUint16(off + 12, ((hdrLen >>> 2) << 12) | (flags & 0xff));
  dv.setUint16(off + 14, wnd);
  dv.setUint32(off + 16, 0); // checksum, urgent pointer
}

/**
 * RFC 9293 3.1: checksum over the pseudo header, header and payload; then hand the packet to IPv4
 * in transmit class `prio` (0 = highest, priority.ts).
 */
export function finishAndCommit(t: TcpLayer, off: number, l4Len: number, srcIp: number, dstIp: number, prio: number): void {
  const tx = t.tx;
  const sum = checksumPartial(tx.mem, off, l4Len, pseudoHeaderSum(srcIp, dstIp, IPPROTO_TCP, l4Len));
  tx.dv.setUint16(off + 16, checksumFold(sum));
  tx.commit(srcIp >>> 0, dstIp >>> 0, IPPROTO_TCP, l4Len, prio);
  t.counters.segsOut++;
}

/**
 * The window to advertise (RFC 9293 3.8.6.2.2 receiver SWS avoidance, RFC 7323 2.3 scaling):
 * the right edge moves right only by at least min(RCV.BUFF / 2, Eff.snd.MSS) and never moves left.
 * Updates rcvAdv. Returns the 16-bit header field value.
 *
 * A SYN or SYN-ACK starts the window: it offers the free buffer (unscaled, at most 65535,
 * RFC 7323 2.2) with no reference to an earlier edge. (Measuring it against rcvAdv, which
 * holds nothing meaningful before the first advertisement, offered a zero window when
 * IRS + 1 lay within RCV.BUFF below 2^31 -- a connection that then never opened, as the peer's
 * zero-window probes went unanswered -- and 65535 for half of all IRS values.)
 */
export function advertiseWindow(t: TcpLayer, c: number, syn: boolean): number {
  const conns = t.conns;
  const rcvNxt = conns.rcvNxt[c]!;
  const buf = t.cfg.rcvBufBytes;
  let avail = buf - rcvHeld(t, c);
  if (avail < 0) avail = 0;
  if (syn) {
    const w = avail > 0xffff ? 0xffff : avail;
    conns.rcvAdv[c] = (rcvNxt + w) | 0; // an active open's SYN: rcvNxt is set (and this redone) at the SYN-ACK
    return w;
  }
  const adv = conns.rcvAdv[c]!;
  let right = (rcvNxt + avail) | 0;
  const grow = (right - adv) | 0;
  const step = buf >> 1 < t.ourMss ? buf >> 1 : t.ourMss;
  if (grow < step) right = ((adv - rcvNxt) | 0) > 0 ? adv : rcvNxt;
  let wnd = (right - rcvNxt) | 0;
  if (wnd < 0) wnd = 0;
  const shift = conns.rcvWscale[c]!;
  let field = wnd >>> shift;
  if (field > 0xffff) field = 0xffff;
  const edge = (rcvNxt + (field << shift)) | 0;
  if (((edge - adv) | 0) > 0) conns.rcvAdv[c] = edge;
  return field;
}

/** True when the window the peer knows is far enough behind what we could offer (after the application read). */
export function windowUpdateDue(t: TcpLayer, c: number): boolean {
  const conns = t.conns;
  const s = conns.state[c]!;
  if (s !== TcpState.Established && s !== TcpState.FinWait1 && s !== TcpState.FinWait2) return false;
  const buf = t.cfg.rcvBufBytes;
  const right = (conns.rcvNxt[c]! + buf - rcvHeld(t, c)) | 0;
  const grow = (right - conns.rcvAdv[c]!) | 0;
  const twoMss = 2 * t.ourMss;
  return grow >= (buf >> 1 < twoMss ? buf >> 1 : twoMss);
}

/**
 * Build and send one segment of connection c: sequence `seq`, `flags` (ACK is added
 * except on the first SYN of an active open), `len` payload bytes taken from the send
 * buffer at seq - SND.UNA. `syn`: a SYN or SYN-ACK with the handshake options.
 * `cls`: a transmit class above the connection's (send-ahead bytes), or -1.
 * Returns false when no transmit buffer was available.
 */
export function emitSegment(t: TcpLayer, c: number, seq: number, flags: number, len: number, nowUs: number, syn: boolean, cls = -1): boolean {
  const tx = t.tx;
  const off = tx.begin();
  if (off < 0) {
    t.counters.txNoBuf++;
    t.markDirty(c);
    return false;
  }
  const conns = t.conns;
  const dv = tx.dv;
  const f = conns.flags[c]!;
  const s = conns.state[c]!;
  let fl = flags;
  if (syn) fl = s === TcpState.SynSent ? TH_SYN : TH_SYN | TH_ACK;
  else fl |= TH_ACK;
  const ackNum = (fl & TH_ACK) !== 0 ? conns.rcvNxt[c]! : 0;
  let p = off + 20;
  if (syn) {
    // RFC 9293 3.7.1 MSS; RFC 7323 2.2 / 3.2; RFC 2018 2. Only options the connection has (still) enabled.
    p += writeSynOptions(
      dv, p, t.ourMss,
      (f & F_WS_OK) !== 0 ? conns.rcvWscale[c]! : -1,
      (f & F_SACK_OK) !== 0,
      (f & F_TS_OK) !== 0, tsNow(nowUs), (fl & TH_ACK) !== 0 ? conns.tsRecent[c]! : 0,
    );
  } else {
    if ((f & F_TS_OK) !== 0) p += writeTimestampOption(dv, p, tsNow(nowUs), conns.tsRecent[c]!);
    if ((f & F_SACK_OK) !== 0 && (fl & TH_RST) === 0) {
      // RFC 2018 3: as many blocks as fit in the option space and in the packet next to the payload.
      let max = (f & F_TS_OK) !== 0 ? 3 : 4;
      const room = tx.maxL4Bytes - (p - off) - len - 4;
      if (room < max * 8) max = room >= 8 ? (room >> 3) : 0;
      if (max > 0) p += writeSackBlocks(t, c, dv, p, max);
    }
  }
  const hdrLen = p - off;
  const wnd = advertiseWindow(t, c, syn);
  writeHeader(dv, off, conns.localPort[c]!, conns.remotePort[c]!, seq, ackNum, fl, hdrLen, wnd);
  if (len > 0) {
    t.snd.copyOut(c, (seq - conns.sndUna[c]!) | 0, tx.mem, p, len);
    t.counters.bytesOut += len;
  }
  let prio = txClass(t, c);
  if (cls >= 0 && cls < prio) prio = cls;
  finishAndCommit(t, off, hdrLen + len, conns.localIp[c]!, conns.remoteIp[c]!, prio);
  if ((fl & TH_ACK) !== 0) {
    // An ACK went out: no ACK is owed any more (RFC 9293 3.8.6.3).
    conns.lastAckSent[c] = ackNum;
    if ((f & (F_ACK_NOW | F_DELACK)) !== 0) {
      conns.flags[c] = f & ~(F_ACK_NOW | F_DELACK);
      cancelTimer(t, c, T_DELACK);
    }
    conns.delackSegs[c] = 0;
  }
  return true;
}

/** RFC 2018 4: SACK blocks for the out-of-order data we hold, most recently changed first. */
function writeSackBlocks(t: TcpLayer, c: number, dv: DataView, p: number, max: number): number {
  const L = t.scratchL;
  const R = t.scratchR;
  let n = t.rcv.ranges(c, L, R);
  if (n <= 0) return 0;
  if (n > max) n = max;
  const head = (t.conns.rcvNxt[c]! - t.rcv.length(c)) | 0;
  for (let i = 0; i < n; i++) {
    L[i] = (head + L[i]!) | 0;
    R[i] = (head + R[i]!) | 0;
  }
  return writeSackOption(dv, p, L, R, n);
}

/** A segment with no data: an ACK (or keepalive probe when seq = SND.UNA - 1). */
export function sendPureAck(t: TcpLayer, c: number, seq: number, nowUs: number): boolean {
  return emitSegment(t, c, seq, 0, 0, nowUs, false);
}

/** Send a retransmission of [seq, seq+len) (FIN included when it is the FIN's sequence number). */
export function retransmit(t: TcpLayer, c: number, seq: number, len: number, nowUs: number): boolean {
  const conns = t.conns;
  const offset = (seq - conns.sndUna[c]!) | 0;
  const bufLen = t.snd.length(c);
  let n = len;
  if (n > bufLen - offset) n = bufLen - offset;
  if (n < 0) n = 0;
  let fl = 0;
  if ((conns.flags[c]! & F_FIN_SENT) !== 0 && offset + n === bufLen) fl = TH_FIN;
  if (n === 0 && fl === 0) return false;
  if (!emitSegment(t, c, seq, fl | (n > 0 ? TH_PSH : 0), n, nowUs, false)) return false;
  t.counters.retransmits++;
  t.counters.retransmittedBytes += n;
  // Karn (RFC 6298 3): a retransmission invalidates the timed segment.
  conns.flags[c] = conns.flags[c]! & ~F_RTT_TIMING;
  return true;
}

/** States in which data (and our FIN) may be sent. */
function canSendData(s: number): boolean {
  return s === TcpState.Established || s === TcpState.CloseWait || s === TcpState.FinWait1 || s === TcpState.Closing || s === TcpState.LastAck;
}

/**
 * Send everything the windows, Nagle and SWS avoidance allow; then a pure ACK if
 * one is owed and nothing else carried it.
 */
export function tcpOutput(t: TcpLayer, c: number, nowUs: number): void {
  const conns = t.conns;
  const s = conns.state[c]!;
  if (!canSendData(s)) {
    if ((conns.flags[c]! & F_ACK_NOW) !== 0 && (s === TcpState.TimeWait || s === TcpState.FinWait2)) {
      sendPureAck(t, c, conns.sndMax[c]!, nowUs);
    }
    return;
  }
  const una = conns.sndUna[c]!;
  const mss = conns.mss[c]!;
  const bufLen = t.snd.length(c);
  let sent = false;
  // Congestion allowance for new data: cwnd - pipe in SACK recovery (RFC 6675 5 (C)), else the window.
  let allowance = -1;
  if ((conns.flags[c]! & (F_RECOVERY | F_SACK_OK)) === (F_RECOVERY | F_SACK_OK)) {
    const out = t.scratch2;
    for (let guard = 0; guard < 64; guard++) {
      const pipe = t.sack.pipe(c, una, conns.sndMax[c]!, mss, conns.highRxt[c]!);
      const room = t.cc.cwnd(c) - pipe;
      if (room < mss) {
        allowance = room > 0 ? room : 0;
        break;
      }
      // RFC 6675 NextSeg rule (1)/(3): retransmit a lost (or rescue) segment below HighData.
      if (!t.sack.nextSeg(c, una, conns.sndMax[c]!, conns.highRxt[c]!, mss, out) || ((out[0]! - conns.sndMax[c]!) | 0) >= 0) {
        allowance = room;
        break;
      }
      if (!retransmit(t, c, out[0]!, out[1]!, nowUs)) {
        allowance = 0;
        break;
      }
      rackOnRetransmit(t, c, nowUs);
      const end = (out[0]! + (out[1]! > 0 ? out[1]! : 1)) | 0;
      if (((end - conns.highRxt[c]!) | 0) > 0) conns.highRxt[c] = end;
      sent = true;
    }
    if (allowance < 0) allowance = 0;
  }
  // cwnd already includes RFC 5681 3.2 dup-ACK inflation without SACK (congestion.ts onDupAcks).
  // RFC 3042 Limited Transmit: the first two duplicate ACKs each let one new segment go beyond cwnd.
  let win = t.cc.cwnd(c);
  const dups = conns.dupAcks[c]!;
  if (dups > 0 && (conns.flags[c]! & F_RECOVERY) === 0) win += (dups < 2 ? dups : 2) * mss;
  const sndWnd = conns.sndWnd[c]!;
  const effWnd = win < sndWnd ? win : sndWnd;
  // Going back after an RTO with the SACK scoreboard kept (timers.ts onRtx, RFC 6675 5.1): skip SACKed ranges.
  const rtoSack = (conns.flags[c]! & (F_RTO_RECOVERY | F_SACK_OK | F_RECOVERY)) === (F_RTO_RECOVERY | F_SACK_OK) && t.sack.count(c) > 0 &&
    t.cfg.sackAfterRto;
  for (;;) {
    let nxt = conns.sndNxt[c]!;
    if (rtoSack && ((nxt - conns.sndMax[c]!) | 0) < 0) {
      const to = t.sack.sackedEnd(c, nxt);
      if (to !== nxt) {
        t.counters.rtoSackSkipped += (to - nxt) | 0;
        nxt = conns.sndNxt[c] = to;
      }
    }
    const offset = (nxt - una) | 0;
    const remaining = bufLen - offset;
    if (remaining <= 0) {
      // RFC 9293 3.10.4: the FIN goes after all queued data.
      if (remaining === 0 && (conns.flags[c]! & F_FIN_QUEUED) !== 0 && s !== TcpState.Established && s !== TcpState.CloseWait) {
        if (emitSegment(t, c, nxt, TH_FIN, 0, nowUs, false)) {
          advanceNxt(t, c, nxt, 1, nowUs, true);
          sent = true;
        }
      }
      break;
    }
    let len = remaining < mss ? remaining : mss;
    // Message mode send-ahead (message-mode.ts): its bytes travel in segments of their own, in their class.
    let cls = -1;
    if ((conns.prio[c]! & P_TX_AHEAD) !== 0) {
      const lim = aheadLimit(t, c, nxt);
      if (lim > 0) {
        if (lim < len) len = lim;
        cls = t.aheadClass;
      }
    }
    let usable = (una + effWnd - nxt) | 0;
    if (rtoSack) {
      // RFC 6675 5.1 with every un-SACKed byte lost: pipe is what was resent, SACKed bytes are not in flight.
      const byCwnd = (una + win + t.sack.sackedBelow(c, una, nxt) - nxt) | 0;
      const byRwnd = (una + sndWnd - nxt) | 0;
      usable = byCwnd < byRwnd ? byCwnd : byRwnd;
      // Only the hole: stop at the next SACKed range.
      const hole = ((nxt - conns.sndMax[c]!) | 0) < 0 ? t.sack.holeAfter(c, nxt) : -1;
      if (hole > 0 && hole < len) len = hole;
    }
    if (allowance >= 0) {
      // RFC 6675 5 (C) rule 2: in SACK recovery new data is bounded by cwnd - pipe and the receiver's
      // window, not by SND.UNA + cwnd (SACKed bytes are not in flight). Bounding it by SND.UNA + cwnd
      // sent nothing new once the flight exceeded cwnd, so a lost retransmission had no later data to
      // reveal it (RACK) and recovery waited for the RTO.
      const sw = (una + sndWnd - nxt) | 0;
      usable = allowance < sw ? allowance : sw;
    }
    const isNew = ((nxt - conns.sndMax[c]!) | 0) >= 0;
    if (usable < len) {
      if (usable <= 0 || (isNew && usable < (conns.maxSndWnd[c]! >> 1))) {
        // Window-limited (RFC 9293 3.8.6.2.1: no silly small segment). With nothing in flight, the persist
        // timer probes a zero window or, for a small one, is the override timeout (RFC 9293 3.8.6.1).
        if (conns.sndMax[c] === una) ensurePersist(t, c, nowUs);
        break;
      }
      // RFC 9293 3.8.6.2.1 (c): at least Fs * Max(SND.WND) (Fs = 1/2) can be sent.
      len = usable;
    } else if (len < mss && isNew && cls < 0 && (conns.flags[c]! & F_NODELAY) === 0 && ((conns.sndSml[c]! - una) | 0) > 0) {
      // Nagle (RFC 896, RFC 9293 3.7.4) in Minshall's variant (as Linux): hold a small segment
      // while an earlier small segment is unacknowledged, unless it is the last data before our FIN.
      if ((conns.flags[c]! & F_FIN_QUEUED) === 0) break;
    }
    const last = len === remaining;
    const fin = last && (conns.flags[c]! & F_FIN_QUEUED) !== 0 && s !== TcpState.Established && s !== TcpState.CloseWait;
    if (!emitSegment(t, c, nxt, (last || cls >= 0 ? TH_PSH : 0) | (fin ? TH_FIN : 0), len, nowUs, false, cls)) break;
    if (!isNew) {
      t.counters.retransmits++;
      t.counters.retransmittedBytes += len;
    }
    if (allowance >= 0) allowance -= len;
    if (len < mss && isNew) conns.sndSml[c] = (nxt + len) | 0;
    advanceNxt(t, c, nxt, len + (fin ? 1 : 0), nowUs, fin);
    sent = true;
  }
  // A pure ACK carries SND.MAX, not a rewound SND.NXT: after a go-back the peer's RCV.NXT may be past
  // SND.NXT, and a segment below RCV.NXT is unacceptable (its ACK field ignored) -- as Linux's
  // tcp_acceptable_seq().
  if (!sent && (conns.flags[c]! & F_ACK_NOW) !== 0) sendPureAck(t, c, conns.sndMax[c]!, nowUs);
  // RFC 8985 7.2: reschedule the probe timeout after sending new data (the flight changed).
  else if (sent && (conns.flags[c]! & F_TLP) !== 0) armRtx(t, c, nowUs);
}

function advanceNxt(t: TcpLayer, c: number, nxt: number, n: number, nowUs: number, fin: boolean): void {
  const conns = t.conns;
  const end = (nxt + n) | 0;
  conns.sndNxt[c] = end;
  if (((end - conns.sndMax[c]!) | 0) > 0) {
    // New data: time it if nothing is being timed (RFC 6298 Karn: never a retransmission).
    if ((conns.flags[c]! & F_RTT_TIMING) === 0 && ((nxt - conns.sndMax[c]!) | 0) >= 0) {
      conns.flags[c] = conns.flags[c]! | F_RTT_TIMING;
      conns.rttSeq[c] = end;
      conns.rttStartUs[c] = nowUs | 0;
    }
    conns.sndMax[c] = end;
  }
  if (fin) conns.flags[c] = conns.flags[c]! | F_FIN_SENT;
  // RFC 6298 (5.1): start the timer when sending data if it is not running.
  ensureRtx(t, c, nowUs);
}
