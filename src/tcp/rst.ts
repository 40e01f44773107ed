/**
 * Reset generation (RFC 9293 3.10.7.1, 3.10.5) and RFC 5961 challenge ACKs with
 * a global rate limit (RFC 5961 7).
 */
import { finishAndCommit, sendPureAck, TH_ACK, TH_RST, writeHeader } from "./output";
import { replyClass } from "./priority";
import type { SegInfo } from "./segment";
import type { TcpLayer } from "./tcp-layer";

/** A bare RST (optionally RST+ACK) from (lip,lport) to (rip,rport). */
export function emitRst(t: TcpLayer, lip: number, lport: number, rip: number, rport: number, seq: number, ack: number, withAck: boolean): void {
  const off = t.tx.begin();
  if (off < 0) {
    t.counters.txNoBuf++;
    return;
  }
  writeHeader(t.tx.dv, off, lport, rport, seq, withAck ? ack : 0, withAck ? TH_RST | TH_ACK : TH_RST, 20, 0);
  finishAndCommit(t, off, 20, lip, rip, replyClass(t));
  t.counters.rstsSent++;
}

/**
 * RFC 9293 3.10.7.1: answer a segment that has no connection (CLOSED) or is not
 * acceptable to a non-synchronized one. An incoming RST is never answered.
 *   ACK off: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
 *   ACK on:  <SEQ=SEG.ACK><CTL=RST>
 */
export function rstReply(t: TcpLayer, seg: SegInfo): void {
  if ((seg.flags & TH_RST) !== 0) return;
  if ((seg.flags & TH_ACK) !== 0) emitRst(t, seg.dstIp, seg.dstPort, seg.srcIp, seg.srcPort, seg.ack, 0, false);
  else emitRst(t, seg.dstIp, seg.dstPort, seg.srcIp, seg.srcPort, 0, (seg.seq + seg.origLen) | 0, true);
}

/** RFC 9293 3.10.5 ABORT / a fatal error: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK> (SND.NXT = our SND.MAX). */
export function sendRstForConn(t: TcpLayer, c: number): void {
  const conns = t.conns;
  emitRst(t, conns.localIp[c]!, conns.localPort[c]!, conns.remoteIp[c]!, conns.remotePort[c]!, conns.sndMax[c]!, conns.rcvNxt[c]!, true);
}

/**
 * RFC 5961 3.2 / 4.2 / 5.2 challenge ACK: <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> (SND.NXT = our SND.MAX), at most
 * challengeAckLimit per second over all connections (RFC 5961 7); beyond it, nothing is sent.
 */
export function challengeAck(t: TcpLayer, c: number, nowUs: number): void {
  if (nowUs - t.challengeWindowStartUs >= 1_000_000) {
    t.challengeWindowStartUs = nowUs;
    t.challengeCount = 0;
  }
  if (t.challengeCount >= t.cfg.challengeAckLimit) {
    t.counters.challengeAcksLimited++;
    return;
  }
  t.challengeCount++;
  t.counters.challengeAcks++;
  sendPureAck(t, c, t.conns.sndMax[c]!, nowUs);
}
