/**
 * Segment arrival, RFC 9293 3.10.7 step by step:
 *   3.10.7.1 CLOSED (no connection): reset      -> rst.ts rstReply
 *   3.10.7.2 LISTEN                             -> listen.ts listenInput
 *   3.10.7.3 SYN-SENT                           -> synSentInput (here)
 *   3.10.7.4 other states, in order: first check sequence number (with PAWS, RFC 7323 5.3),
 *            second RST (RFC 5961 3.2), third security (no IP security option: skipped),
 *            fourth SYN (RFC 5961 4.2), fifth ACK (ack.ts, RFC 5961 5.2), sixth URG,
 *            seventh segment text and eighth FIN (receive.ts).
 * The segment is read in place; options are parsed into one reusable TcpOptions.
 */
import { parseTcpOptions } from "../wire/tcp-options";
import { ackInput } from "./ack";
import { F_ACTIVE, F_APP_OWNED, F_ACK_NOW, F_PERSIST, F_RTT_TIMING, F_TS_OK, F_USED } from "./conn-table";
import { ECONNREFUSED, ECONNRESET } from "./errno";
import { enterClosed, onEstablished } from "./lifecycle";
import { listenInput } from "./listen";
import { negotiate, pawsRejects, updateTsRecent } from "./options";
import { emitSegment, tcpOutput, TH_ACK, TH_FIN, TH_RST, TH_SYN, TH_URG } from "./output";
import { dataInput, finInput } from "./receive";
import { challengeAck, rstReply } from "./rst";
import { TcpState } from "./state";
import type { TcpLayer } from "./tcp-layer";
import { TcpEvent } from "./events";
import { armKeepalive, armRtx, armTimer, cancelTimer, T_IDLE, T_RTX } from "./timers";

/**
 * Where a segment with no connection and no listener goes before RFC 9293 3.10.7.1's reset
 * (TcpLayer.stray; set by src/sched/multi with several stack threads). The segment is at
 * mem[l4Off, l4Off + l4Len), behind the 20-byte IPv4 header and the Ethernet header it came with
 * (NetInterface drops IPv4 with options). take() copies what it keeps and returns true when it
 * took the segment (no reset then), false to let TCP answer as usual.
 */
export interface StraySegmentSink {
  take(mem: Uint8Array, l4Off: number, l4Len: number, dstPort: number): boolean;
}

export function tcpInput(t: TcpLayer, nowUs: number, mem: Uint8Array, dv: DataView, l4Off: number, l4Len: number, srcIp: number, dstIp: number): void {
  const cnt = t.counters;
  cnt.segsIn++;
  const v = t.rxView.reset(mem, dv, l4Off, l4Len);
  if (!v.checkLen()) {
    cnt.badOffset++;
    return;
  }
  if (!v.verifyChecksum(srcIp, dstIp)) {
    cnt.badChecksum++;
    return;
  }
  const seg = t.seg;
  seg.mem = mem;
  seg.dv = dv;
  seg.srcIp = srcIp | 0;
  seg.dstIp = dstIp | 0;
  seg.srcPort = v.srcPort();
  seg.dstPort = v.dstPort();
  seg.seq = v.seq();
  seg.ack = v.ack();
  seg.flags = v.flags();
  seg.wnd = v.window();
  seg.urgPtr = v.urgentPointer();
  seg.payOff = v.payloadOff();
  seg.payLen = v.payloadLen();
  seg.origLen = seg.payLen + ((seg.flags & TH_SYN) !== 0 ? 1 : 0) + ((seg.flags & TH_FIN) !== 0 ? 1 : 0);
  if (!parseTcpOptions(mem, dv, v.optionsOff(), v.optionsLen(), seg.opts)) cnt.badOptions++;
  cnt.bytesIn += seg.payLen;
  const c = t.flows.lookup(seg.dstIp, seg.dstPort, seg.srcIp, seg.srcPort);
  if (c < 0) {
    const li = t.listeners.find(seg.dstIp, seg.dstPort);
    if (li >= 0) {
      const nc = listenInput(t, li, seg, nowUs);
      if (nc >= 0) synchronizedInput(t, nc, nowUs);
      return;
    }
    // Several stack threads: the connection may live on the thread that owns the destination
    // port (src/sched/multi/segment-forward.ts); the sink hands the segment over. Only segments
    // that would otherwise be reset reach this check, so no connection's traffic pays for it.
    const sink = t.stray;
    if (sink !== null && sink.take(mem, l4Off, l4Len, seg.dstPort)) {
      cnt.strayForwarded++;
      return;
    }
    // RFC 9293 3.10.7.1: no connection: reset (never in reply to a RST) -- unless another
    // stack thread may own it (TcpConfig.strayRst): a SYN still gets its RST.
    if (!t.cfg.strayRst && (seg.flags & TH_SYN) === 0) {
      cnt.strayDropped++;
      return;
    }
    cnt.noListener++;
    rstReply(t, seg);
    return;
  }
  const conns = t.conns;
  conns.lastRecvMs[c] = (nowUs / 1000) | 0;
  conns.probes[c] = 0;
  if (conns.state[c] === TcpState.SynSent) synSentInput(t, c, nowUs);
  else synchronizedInput(t, c, nowUs);
}

/** RFC 9293 3.10.7.3: SEGMENT ARRIVES in SYN-SENT. */
function synSentInput(t: TcpLayer, c: number, nowUs: number): void {
  const conns = t.conns;
  const seg = t.seg;
  const fl = seg.flags;
  const cnt = t.counters;
  // First: the ACK must acknowledge our SYN: ISS < SEG.ACK =< SND.NXT.
  if ((fl & TH_ACK) !== 0 && (((seg.ack - conns.iss[c]!) | 0) <= 0 || ((seg.ack - conns.sndMax[c]!) | 0) > 0)) {
    cnt.badAck++;
    rstReply(t, seg);
    return;
  }
  // Second: a RST is acceptable only with an acceptable ACK (RFC 9293; RFC 5961 3.2 needs no more here).
  if ((fl & TH_RST) !== 0) {
    if ((fl & TH_ACK) !== 0) {
      cnt.segsAccepted++;
      cnt.rstsReceived++;
      enterClosed(t, c, ECONNREFUSED, nowUs);
    } else {
      cnt.rstWithoutAckInSynSent++;
    }
    return;
  }
  // Fifth: "if neither of the SYN or RST bits is set, then drop the segment and return".
  if ((fl & TH_SYN) === 0) {
    cnt.nonSynInSynSent++;
    return;
  }
  cnt.segsAccepted++;
  // Fourth: the SYN.
  conns.rcvNxt[c] = (seg.seq + 1) | 0;
  // Our SYN offered a window before RCV.NXT was known: its right edge is IRS + 1 + that window
  // (advertiseWindow: the free buffer, unscaled, at most 65535).
  const synWnd = t.cfg.rcvBufBytes - t.rcv.length(c);
  conns.rcvAdv[c] = (conns.rcvNxt[c]! + (synWnd > 0xffff ? 0xffff : synWnd > 0 ? synWnd : 0)) | 0;
  negotiate(t, c, seg.opts, conns.flags[c]!, nowUs);
  t.cc.setMss(c, conns.mss[c]!);
  // RFC 7323 2.2: the window field of a SYN is never scaled.
  conns.sndWnd[c] = seg.wnd;
  conns.maxSndWnd[c] = seg.wnd;
  conns.sndWl1[c] = seg.seq;
  conns.sndWl2[c] = seg.ack;
  if ((fl & TH_ACK) === 0) {
    // Simultaneous open: SYN-RECEIVED, send <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
    conns.state[c] = TcpState.SynReceived;
    conns.flags[c] = conns.flags[c]! & ~F_RTT_TIMING;
    emitSegment(t, c, conns.iss[c]!, 0, 0, nowUs, true);
    armRtx(t, c, nowUs);
    return;
  }
  // Our SYN is acknowledged: ESTABLISHED.
  if ((conns.flags[c]! & F_RTT_TIMING) !== 0) {
    t.rtt.sample(c, ((nowUs | 0) - conns.rttStartUs[c]!) | 0);
    conns.flags[c] = conns.flags[c]! & ~F_RTT_TIMING;
  }
  conns.sndUna[c] = seg.ack;
  conns.retries[c] = 0;
  conns.flags[c] = conns.flags[c]! & ~F_PERSIST; // a refused SYN's retry marker (timers.ts armAfterSyn)
  cancelTimer(t, c, T_RTX);
  onEstablished(t, c);
  conns.flags[c] = conns.flags[c]! | F_ACK_NOW;
  conns.lastAckSent[c] = conns.rcvNxt[c]!;
  armKeepalive(t, c, nowUs);
  if ((conns.flags[c]! & F_APP_OWNED) !== 0) t.events.event(c, TcpEvent.Connected, 0);
  // Sixth and on: data or FIN riding on the SYN-ACK.
  if (seg.payLen > 0 || (fl & TH_FIN) !== 0) {
    seg.seq = (seg.seq + 1) | 0;
    seg.flags = fl & ~TH_SYN;
    trimToWindow(t, c);
    if (seg.payLen > 0 && !dataInput(t, c, nowUs)) return;
    if ((seg.flags & TH_FIN) !== 0) finInput(t, c, nowUs);
  }
  if ((conns.flags[c]! & F_USED) !== 0) tcpOutput(t, c, nowUs);
}

/**
 * RFC 9293 3.10.7.4 first check: is the segment acceptable (the four cases of the table)?
 *   len 0, RCV.WND 0: SEG.SEQ = RCV.NXT
 *   len 0, RCV.WND > 0: RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND
 *   len > 0, RCV.WND 0: not acceptable
 *   len > 0, RCV.WND > 0: either the first or the last octet lies in the window
 */
export function acceptable(seq: number, len: number, rcvNxt: number, rcvWnd: number): boolean {
  if (len === 0) {
    if (rcvWnd === 0) return seq === rcvNxt;
    const d = (seq - rcvNxt) | 0;
    return d >= 0 && d < rcvWnd;
  }
  if (rcvWnd === 0) return false;
  const d0 = (seq - rcvNxt) | 0;
  if (d0 >= 0 && d0 < rcvWnd) return true;
  const d1 = (seq + len - 1 - rcvNxt) | 0;
  return d1 >= 0 && d1 < rcvWnd;
}

/** The receive window we offered: RCV.NXT .. the advertised right edge. */
function rcvWindow(t: TcpLayer, c: number): number {
  const w = (t.conns.rcvAdv[c]! - t.conns.rcvNxt[c]!) | 0;
  return w > 0 ? w : 0;
}

/**
 * RFC 9293 3.10.7.4: "segments with higher beginning sequence numbers may be held for later
 * processing"; trim what lies before RCV.NXT (a SYN first) and beyond the window (a FIN last).
 */
function trimToWindow(t: TcpLayer, c: number): void {
  const seg = t.seg;
  const conns = t.conns;
  let d = (conns.rcvNxt[c]! - seg.seq) | 0;
  if (d > 0) {
    if ((seg.flags & TH_SYN) !== 0) {
      seg.flags &= ~TH_SYN;
      seg.seq = (seg.seq + 1) | 0;
      d--;
    }
    const skip = d < seg.payLen ? d : seg.payLen;
    seg.payOff += skip;
    seg.payLen -= skip;
    seg.seq = (seg.seq + skip) | 0;
    if (d > skip) seg.flags &= ~TH_FIN; // the FIN was already received
  }
  const room = (conns.rcvAdv[c]! - seg.seq) | 0;
  if (seg.payLen > room) {
    seg.payLen = room > 0 ? room : 0;
    seg.flags &= ~TH_FIN;
    // RFC 9293 3.8.6.1: a segment arriving at a zero window (a zero-window probe) must still be
    // acknowledged with RCV.NXT and the current window; so must text beyond the window (as Linux).
    // Without this reply a window update lost on the way is never repeated and the peer probes forever.
    conns.flags[c] = conns.flags[c]! | F_ACK_NOW;
  }
}

/** RFC 9293 3.10.7.4: SYN-RECEIVED and the synchronized states. */
function synchronizedInput(t: TcpLayer, c: number, nowUs: number): void {
  const conns = t.conns;
  const seg = t.seg;
  const cnt = t.counters;
  let fl = seg.flags;
  const s = conns.state[c]!;
  if (s === TcpState.TimeWait && (fl & (TH_SYN | TH_ACK | TH_RST)) === TH_SYN && timeWaitAcceptsSyn(t, c)) {
    // RFC 6191 / RFC 1122 4.2.2.13: a new SYN may reopen a TIME-WAIT connection when its
    // timestamp (or, without timestamps, its sequence number) is beyond the old incarnation.
    cnt.timeWaitReused++;
    const li = t.listeners.find(seg.dstIp, seg.dstPort);
    enterClosed(t, c, 0, nowUs);
    if (li >= 0) {
      listenInput(t, li, seg, nowUs); // counts the segment's outcome
    } else {
      cnt.noListener++;
      rstReply(t, seg);
    }
    return;
  }
  if (s === TcpState.SynReceived && (fl & (TH_SYN | TH_ACK | TH_RST)) === TH_SYN && seg.seq === ((conns.rcvNxt[c]! - 1) | 0)) {
    // A retransmitted SYN (its sequence number is IRS = RCV.NXT - 1 here): our SYN-ACK was lost; send it again.
    cnt.segsAccepted++;
    emitSegment(t, c, conns.iss[c]!, 0, 0, nowUs, true);
    return;
  }
  if (
    s === TcpState.SynReceived && (fl & (TH_SYN | TH_ACK | TH_RST)) === (TH_SYN | TH_ACK) &&
    ((seg.seq + 1) | 0) === conns.rcvNxt[c] && seg.ack === conns.sndMax[c]
  ) {
    // Simultaneous open (RFC 9293 3.5 figure 7): the peer's SYN-ACK repeats its SYN; the exception
    // to RFC 5961 4.2 that Linux makes. Skip the SYN and process the ACK.
    fl &= ~TH_SYN;
    seg.flags = fl;
    seg.seq = conns.rcvNxt[c]!;
    seg.origLen -= 1;
  }
  // First: PAWS (RFC 7323 5.3 R1), then the acceptability test.
  if (pawsRejects(t, c, seg, nowUs)) {
    cnt.pawsRejected++;
    conns.flags[c] = conns.flags[c]! | F_ACK_NOW;
    tcpOutput(t, c, nowUs);
    return;
  }
  const origSeq = seg.seq;
  const wnd = rcvWindow(t, c);
  if (!acceptable(seg.seq, seg.origLen, conns.rcvNxt[c]!, wnd)) {
    if (wnd === 0 && seg.seq === conns.rcvNxt[c] && (fl & TH_RST) === 0) {
      // "Special allowance": with a zero window the ACK (and RST) of a segment at RCV.NXT is still processed;
      // its text is dropped below by the trim to the (empty) window.
    } else {
      cnt.outOfWindow++;
      if ((fl & TH_RST) === 0) {
        if (s === TcpState.TimeWait && (fl & TH_FIN) !== 0) armTimer(t, c, T_IDLE, nowUs + t.cfg.timeWaitUs);
        conns.flags[c] = conns.flags[c]! | F_ACK_NOW;
        tcpOutput(t, c, nowUs);
      }
      return;
    }
  }
  // Second: RST (RFC 5961 3.2): reset only on an exact match with RCV.NXT, else challenge ACK.
  if ((fl & TH_RST) !== 0) {
    if (origSeq !== conns.rcvNxt[c]) {
      cnt.rstNotExact++;
      challengeAck(t, c, nowUs);
      return;
    }
    cnt.segsAccepted++;
    cnt.rstsReceived++;
    if (s === TcpState.SynReceived) {
      // Passive open: back to LISTEN (the listener is untouched); active (simultaneous) open: refused.
      enterClosed(t, c, (conns.flags[c]! & F_ACTIVE) !== 0 ? ECONNREFUSED : 0, nowUs);
    } else if (s === TcpState.Established || s === TcpState.FinWait1 || s === TcpState.FinWait2 || s === TcpState.CloseWait) {
      enterClosed(t, c, ECONNRESET, nowUs);
    } else {
      enterClosed(t, c, 0, nowUs);
    }
    return;
  }
  trimToWindow(t, c);
  // Fourth: a SYN in a synchronized state (RFC 5961 4.2): challenge ACK, drop.
  if ((seg.flags & TH_SYN) !== 0) {
    cnt.synInSynchronized++;
    challengeAck(t, c, nowUs);
    return;
  }
  // Fifth: the ACK field. Without ACK the segment is dropped.
  if ((fl & TH_ACK) === 0) {
    cnt.noAckInSynchronized++;
    return;
  }
  // ackInput counts the outcome when it returns false (a drop reason, or accepted when the ACK closed the connection).
  if (!ackInput(t, c, origSeq, nowUs)) return;
  cnt.segsAccepted++;
  // RFC 7323 4.3: TS.Recent moves only for a segment that passed every RFC 5961 check (its SYN,
  // RST and ACK were acceptable), as Linux does; a blind SYN or bad ACK must not poison PAWS.
  updateTsRecent(t, c, seg, origSeq, nowUs);
  // Sixth: URG. Urgent data is delivered inline as part of the stream (RFC 6093 5); only counted.
  if ((fl & TH_URG) !== 0) cnt.urgentSegments++;
  // Seventh: segment text.
  if (seg.payLen > 0 && !dataInput(t, c, nowUs)) return;
  // Eighth: FIN.
  if ((seg.flags & TH_FIN) !== 0) finInput(t, c, nowUs);
  if ((conns.flags[c]! & F_USED) !== 0) tcpOutput(t, c, nowUs);
}

/** RFC 6191 4.2: may a SYN take over this TIME-WAIT 4-tuple? */
function timeWaitAcceptsSyn(t: TcpLayer, c: number): boolean {
  const conns = t.conns;
  const seg = t.seg;
  if ((conns.flags[c]! & F_APP_OWNED) !== 0) return false;
  if ((conns.flags[c]! & F_TS_OK) !== 0 && seg.opts.tsPresent) return ((seg.opts.tsVal - conns.tsRecent[c]!) | 0) > 0;
  return ((seg.seq - conns.rcvNxt[c]!) | 0) > 0;
}
