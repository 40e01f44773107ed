/**
 * Listeners (RFC 9293 3.10.1 passive OPEN, 3.10.7.2 SEGMENT ARRIVES in LISTEN):
 * a small struct-of-arrays table keyed by local port (with wildcard address 0),
 * a SYN queue bound (half-open connections per listener) and an accept queue
 * (connections that completed the handshake, linked through ConnTable.link)
 * bounded by the backlog. When the SYN queue is full we answer with SYN cookies
 * (stateless SYN-ACKs whose ISN and TSval carry MSS / window scale / SACK-permitted,
 * src/tcp/syn-cookie.ts) and rebuild the connection from the final ACK.
 */
import { writeSynOptions } from "../wire/tcp-options";
import {
  F_APP_CLOSED, F_IN_ACCEPTQ, F_IN_SYNQ, F_KEEPALIVE, F_NODELAY, F_USED,
} from "./conn-table";
import { enterClosed } from "./lifecycle";
import { effectiveMss, negotiate, offeredOptionFlags } from "./options";
import { replyClass } from "./priority";
import { emitSegment, finishAndCommit, TH_ACK, TH_RST, TH_SYN, tsNow, writeHeader } from "./output";
import { rstReply, sendRstForConn } from "./rst";
import type { SegInfo } from "./segment";
import { TcpState } from "./state";
import { decodeCookie, encodeCookie, SynCookieRepr } from "./syn-cookie";
import { TcpEvent } from "./events";
import type { TcpLayer } from "./tcp-layer";
import { armAfterSyn } from "./timers";

export class Listeners {
  readonly capacity: number;
  readonly localIp: Int32Array;
  readonly localPort: Uint16Array;
  readonly backlog: Int32Array;
  readonly acceptHead: Int32Array;
  readonly acceptTail: Int32Array;
  readonly acceptCount: Int32Array;
  readonly synCount: Int32Array;
  /** Flags inherited by accepted connections (F_NODELAY, F_KEEPALIVE); -1 = free slot. */
  readonly connFlags: Int32Array;
  /** First listener per port, chained through next. */
  private readonly portHead = new Int16Array(65536).fill(-1);
  private readonly next: Int16Array;
  readonly cookie = new SynCookieRepr();

  constructor(capacity: number) {
    if (capacity > 32767) throw new RangeError("Listeners: at most 32767");
    this.capacity = capacity;
    this.localIp = new Int32Array(capacity);
    this.localPort = new Uint16Array(capacity);
    this.backlog = new Int32Array(capacity);
    this.acceptHead = new Int32Array(capacity).fill(-1);
    this.acceptTail = new Int32Array(capacity).fill(-1);
    this.acceptCount = new Int32Array(capacity);
    this.synCount = new Int32Array(capacity);
    this.connFlags = new Int32Array(capacity).fill(-1);
    this.next = new Int16Array(capacity).fill(-1);
  }

  /** Returns the id, -2 when the address is in use, -1 when the table is full. */
  add(ip: number, port: number, backlog: number, noDelay: boolean, keepAlive: boolean): number {
    for (let l = this.portHead[port]!; l >= 0; l = this.next[l]!) {
      // One listener per port and address; the wildcard conflicts with every address.
      if (this.localIp[l] === ip || this.localIp[l] === 0 || ip === 0) return -2;
    }
    let id = -1;
    for (let i = 0; i < this.capacity; i++) {
      if (this.connFlags[i]! < 0) {
        id = i;
        break;
      }
    }
    if (id < 0) return -1;
    this.localIp[id] = ip;
    this.localPort[id] = port;
    this.backlog[id] = backlog;
    this.acceptHead[id] = -1;
    this.acceptTail[id] = -1;
    this.acceptCount[id] = 0;
    this.synCount[id] = 0;
    this.connFlags[id] = (noDelay ? F_NODELAY : 0) | (keepAlive ? F_KEEPALIVE : 0);
    this.next[id] = this.portHead[port]!;
    this.portHead[port] = id;
    return id;
  }

  isOpen(l: number): boolean {
    return l >= 0 && l < this.capacity && this.connFlags[l]! >= 0;
  }

  /** The listener for a segment to ip:port: exact address first, then the wildcard. */
  find(ip: number, port: number): number {
    let wild = -1;
    for (let l = this.portHead[port]!; l >= 0; l = this.next[l]!) {
      if (this.localIp[l] === ip) return l;
      if (this.localIp[l] === 0) wild = l;
    }
    return wild;
  }

  /** True when some listener owns ip:port (ephemeral port selection skips it). */
  owns(ip: number, port: number): boolean {
    return this.find(ip, port) >= 0;
  }

  /** SYN-RECEIVED -> ESTABLISHED of a passive connection: move it to the accept queue (false when full). */
  completeHandshake(t: TcpLayer, c: number): boolean {
    const l = t.conns.listener[c]!;
    if (!this.isOpen(l) || this.acceptCount[l]! >= this.backlog[l]!) return false;
    this.leaveSynQueue(t, c);
    this.pushAccept(t, l, c);
    return true;
  }

  pushAccept(t: TcpLayer, l: number, c: number): void {
    const conns = t.conns;
    conns.link[c] = -1;
    if (this.acceptTail[l]! >= 0) conns.link[this.acceptTail[l]!] = c;
    else this.acceptHead[l] = c;
    this.acceptTail[l] = c;
    this.acceptCount[l] = this.acceptCount[l]! + 1;
    conns.flags[c] = conns.flags[c]! | F_IN_ACCEPTQ;
    if (t.onPassiveOpen !== null) t.onPassiveOpen(conns.remoteIp[c]!, t.nowUs);
  }

  /** Take the oldest connection from the accept queue, -1 if empty. */
  popAccept(t: TcpLayer, l: number): number {
    if (!this.isOpen(l)) return -1;
    const c = this.acceptHead[l]!;
    if (c < 0) return -1;
    const conns = t.conns;
    this.acceptHead[l] = conns.link[c]!;
    if (this.acceptHead[l]! < 0) this.acceptTail[l] = -1;
    this.acceptCount[l] = this.acceptCount[l]! - 1;
    conns.link[c] = -1;
    conns.flags[c] = conns.flags[c]! & ~F_IN_ACCEPTQ;
    conns.listener[c] = -1;
    return c;
  }

  /** Unlink c from its listener's accept queue (it was reset before accept). */
  removeFromAcceptQueue(t: TcpLayer, c: number): void {
    const conns = t.conns;
    const l = conns.listener[c]!;
    conns.flags[c] = conns.flags[c]! & ~F_IN_ACCEPTQ;
    if (l < 0) return;
    let prev = -1;
    for (let x = this.acceptHead[l]!; x >= 0; x = conns.link[x]!) {
      if (x === c) {
        const nx = conns.link[c]!;
        if (prev < 0) this.acceptHead[l] = nx;
        else conns.link[prev] = nx;
        if (this.acceptTail[l] === c) this.acceptTail[l] = prev;
        this.acceptCount[l] = this.acceptCount[l]! - 1;
        conns.link[c] = -1;
        return;
      }
      prev = x;
    }
  }

  leaveSynQueue(t: TcpLayer, c: number): void {
    const conns = t.conns;
    if ((conns.flags[c]! & F_IN_SYNQ) === 0) return;
    conns.flags[c] = conns.flags[c]! & ~F_IN_SYNQ;
    const l = conns.listener[c]!;
    if (l >= 0) this.synCount[l] = this.synCount[l]! - 1;
  }

  /** Close listener l: reset what waits in its queues (RFC 9293 3.10.4 CLOSE in LISTEN). */
  close(t: TcpLayer, l: number, nowUs: number): void {
    if (!this.isOpen(l)) return;
    const conns = t.conns;
    for (let c = this.acceptHead[l]!; c >= 0; ) {
      const nx = conns.link[c]!;
      conns.flags[c] = (conns.flags[c]! & ~F_IN_ACCEPTQ) | F_APP_CLOSED;
      conns.listener[c] = -1;
      sendRstForConn(t, c);
      enterClosed(t, c, 0, nowUs);
      c = nx;
    }
    if (this.synCount[l]! > 0) {
      for (let c = 0; c < conns.capacity; c++) {
        if ((conns.flags[c]! & (F_USED | F_IN_SYNQ)) === (F_USED | F_IN_SYNQ) && conns.listener[c] === l) {
          sendRstForConn(t, c);
          enterClosed(t, c, 0, nowUs);
        }
      }
    }
    // Unlink from the port chain.
    const port = this.localPort[l]!;
    if (this.portHead[port] === l) this.portHead[port] = this.next[l]!;
    else {
      for (let x = this.portHead[port]!; x >= 0; x = this.next[x]!) {
        if (this.next[x] === l) {
          this.next[x] = this.next[l]!;
          break;
        }
      }
    }
    this.next[l] = -1;
    this.connFlags[l] = -1;
    this.acceptHead[l] = -1;
    this.acceptTail[l] = -1;
    this.acceptCount[l] = 0;
    this.synCount[l] = 0;
  }
}

/**
 * RFC 9293 3.10.7.2: a segment for listener l with no connection. Returns the id of a
 * connection restored from a SYN cookie (the caller processes the segment further in
 * ESTABLISHED), else -1.
 */
export function listenInput(t: TcpLayer, l: number, seg: SegInfo, nowUs: number): number {
  const fl = seg.flags;
  const cnt = t.counters;
  // Every return counts the segment's outcome (TcpCounters), except a restored connection
  // (>= 0), which the caller processes (and counts) in ESTABLISHED.
  // First: an incoming RST is ignored.
  if ((fl & TH_RST) !== 0) {
    cnt.rstInListen++;
    return -1;
  }
  // Second: an ACK is bad in LISTEN -- unless it completes a SYN-cookie handshake.
  if ((fl & TH_ACK) !== 0) {
    if ((fl & TH_SYN) === 0 && t.cfg.synCookies) {
      const c = cookieAck(t, l, seg, nowUs);
      if (c !== -1) return c;
    }
    if (!t.cfg.strayRst) {
      // Another stack thread may own this connection (TcpConfig.strayRst): drop, no RST.
      cnt.strayDropped++;
      return -1;
    }
    cnt.ackInListen++;
    rstReply(t, seg);
    return -1;
  }
  // Third: SYN; fourth: "any other control or text-bearing segment ... drop the segment and return".
  if ((fl & TH_SYN) === 0) {
    cnt.nonSynInListen++;
    return -1;
  }
  const ls = t.listeners;
  if (ls.acceptCount[l]! >= ls.backlog[l]!) {
    // Accept queue full: drop the SYN; the peer retries (as Linux does).
    cnt.acceptQueueFull++;
    cnt.listenDrops++;
    return -1;
  }
  if (ls.synCount[l]! >= t.cfg.synQueueSize) {
    if (t.cfg.synCookies) {
      cnt.segsAccepted++;
      sendCookieSynAck(t, seg, nowUs);
    } else {
      cnt.listenDrops++;
    }
    return -1;
  }
  const conns = t.conns;
  const c = conns.alloc();
  if (c < 0) {
    cnt.connTableFull++;
    if (t.cfg.synCookies) {
      cnt.segsAccepted++;
      sendCookieSynAck(t, seg, nowUs);
    } else {
      cnt.listenDrops++;
    }
    return -1;
  }
  if (!t.flows.insert(seg.dstIp, seg.dstPort, seg.srcIp, seg.srcPort, c)) {
    conns.free(c);
    cnt.listenDrops++;
    return -1;
  }
  initPassive(t, c, l, seg, nowUs);
  const iss = t.isn.isn(seg.dstIp, seg.dstPort, seg.srcIp, seg.srcPort, nowUs) | 0;
  conns.iss[c] = iss;
  conns.sndUna[c] = iss;
  conns.sndNxt[c] = (iss + 1) | 0;
  conns.sndMax[c] = (iss + 1) | 0;
  conns.recover[c] = iss;
  conns.sndSml[c] = iss;
  conns.state[c] = TcpState.SynReceived;
  conns.flags[c] = conns.flags[c]! | F_IN_SYNQ;
  ls.synCount[l] = ls.synCount[l]! + 1;
  cnt.passiveOpens++;
  cnt.segsAccepted++;
  // <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>; time it (RFC 6298) unless retransmitted.
  armAfterSyn(t, c, nowUs, emitSegment(t, c, iss, 0, 0, nowUs, true));
  return -1;
}

/** Fields common to a normal passive open and a cookie-restored one. */
function initPassive(t: TcpLayer, c: number, l: number, seg: SegInfo, nowUs: number): void {
  const conns = t.conns;
  conns.localIp[c] = seg.dstIp;
  conns.localPort[c] = seg.dstPort;
  conns.remoteIp[c] = seg.srcIp;
  conns.remotePort[c] = seg.srcPort;
  conns.listener[c] = l;
  conns.flags[c] = conns.flags[c]! | t.listeners.connFlags[l]!;
  conns.rcvNxt[c] = (seg.seq + 1) | 0;
  conns.lastAckSent[c] = conns.rcvNxt[c]!;
  conns.lastRecvMs[c] = (nowUs / 1000) | 0;
  // RFC 7323 2.2: the window of a SYN is not scaled.
  conns.sndWnd[c] = seg.wnd;
  conns.maxSndWnd[c] = seg.wnd;
  conns.sndWl1[c] = seg.seq;
  conns.sndWl2[c] = seg.ack;
  negotiate(t, c, seg.opts, offeredOptionFlags(t), nowUs);
  t.rtt.reset(c);
  t.cc.init(c, conns.mss[c]!, nowUs);
  t.sack.clear(c);
}

/** Stateless SYN-ACK whose ISN (and TSval) is a SYN cookie. */
function sendCookieSynAck(t: TcpLayer, seg: SegInfo, nowUs: number): void {
  const o = seg.opts;
  const ck = t.listeners.cookie;
  const ws = t.cfg.windowScaling && o.wscale >= 0;
  const sackOk = t.cfg.sack && o.sackPermitted;
  const tsOk = t.cfg.timestamps && o.tsPresent;
  encodeCookie(
    ck, t.cookieSecret, seg.dstIp, seg.dstPort, seg.srcIp, seg.srcPort, seg.seq, nowUs,
    effectiveMss(t, o.mss), ws ? o.wscale : -1, sackOk, tsOk, tsNow(nowUs),
  );
  const off = t.tx.begin();
  if (off < 0) {
    t.counters.txNoBuf++;
    return;
  }
  const dv = t.tx.dv;
  const optLen = writeSynOptions(dv, off + 20, t.ourMss, ws ? t.rcvWscale : -1, sackOk, tsOk, ck.tsVal, o.tsVal);
  const wnd = t.cfg.rcvBufBytes > 0xffff ? 0xffff : t.cfg.rcvBufBytes;
  writeHeader(dv, off, seg.dstPort, seg.srcPort, ck.isn, (seg.seq + 1) | 0, TH_SYN | TH_ACK, 20 + optLen, wnd);
  finishAndCommit(t, off, 20 + optLen, seg.dstIp, seg.srcIp, replyClass(t));
  t.counters.synCookiesSent++;
}

/**
 * The ACK completing a cookie handshake: rebuild the connection in ESTABLISHED (RFC 4987 3.6).
 * Returns the new connection id, -1 when the cookie is invalid, -2 when it was valid but
 * the connection could not be created (the segment is dropped).
 */
function cookieAck(t: TcpLayer, l: number, seg: SegInfo, nowUs: number): number {
  const ck = t.listeners.cookie;
  const peerIsn = (seg.seq - 1) | 0;
  if (!decodeCookie(t.cookieSecret, seg.dstIp, seg.dstPort, seg.srcIp, seg.srcPort, peerIsn, seg.ack, seg.opts.tsPresent ? seg.opts.tsEcr : -1, nowUs, ck)) {
    t.counters.synCookiesRejected++;
    return -1;
  }
  const ls = t.listeners;
  const cnt = t.counters;
  if (ls.acceptCount[l]! >= ls.backlog[l]!) {
    cnt.acceptQueueFull++;
    cnt.listenDrops++;
    return -2; // dropped: the peer will retransmit (its data or ACK)
  }
  const conns = t.conns;
  const c = conns.alloc();
  if (c < 0) {
    cnt.connTableFull++;
    cnt.listenDrops++;
    return -2;
  }
  if (!t.flows.insert(seg.dstIp, seg.dstPort, seg.srcIp, seg.srcPort, c)) {
    conns.free(c);
    cnt.listenDrops++;
    return -2;
  }
  // The peer's SYN as the cookie remembers it: ISN, MSS, window scale, SACK, timestamps.
  const o = seg.opts;
  const saveSeq = seg.seq;
  const saveWs = o.wscale;
  const saveMss = o.mss;
  const saveSack = o.sackPermitted;
  const saveTsVal = o.tsVal;
  const saveTs = o.tsPresent;
  seg.seq = peerIsn;
  o.mss = ck.mss;
  o.wscale = ck.wscale;
  o.sackPermitted = ck.sackOk;
  o.tsPresent = ck.tsOk && saveTs;
  initPassive(t, c, l, seg, nowUs);
  seg.seq = saveSeq;
  o.wscale = saveWs;
  o.mss = saveMss;
  o.sackPermitted = saveSack;
  o.tsVal = saveTsVal;
  o.tsPresent = saveTs;
  conns.iss[c] = ck.isn;
  conns.sndUna[c] = seg.ack;
  conns.sndNxt[c] = seg.ack;
  conns.sndMax[c] = seg.ack;
  conns.recover[c] = ck.isn;
  conns.sndSml[c] = ck.isn;
  conns.sndWnd[c] = seg.wnd << conns.sndWscale[c]!;
  conns.maxSndWnd[c] = conns.sndWnd[c]!;
  conns.sndWl1[c] = seg.seq;
  conns.sndWl2[c] = seg.ack;
  // The SYN-ACK advertised min(buffer, 65535) unscaled.
  const w = t.cfg.rcvBufBytes > 0xffff ? 0xffff : t.cfg.rcvBufBytes;
  conns.rcvAdv[c] = (conns.rcvNxt[c]! + w) | 0;
  conns.state[c] = TcpState.Established;
  ls.pushAccept(t, l, c);
  cnt.synCookiesAccepted++;
  cnt.passiveOpens++;
  t.events.event(l, TcpEvent.Accept, c);
  return c;
}
