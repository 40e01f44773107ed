/**
 * Wire-level request latency, like HCMonitor: from frames seen at the
 * server's NIC (each with its timestamp), pair every request with its reply
 * per flow and record reply time - request time.
 *
 *   request: client -> server, message bytes 5..6 = 01 02 (the priority byte
 *            and the label at offset 6)
 *   reply:   server -> client, reply byte 6 = 03 (bytes 5..6 of "HTTP/1.1"
 *            become '1' 0x03)
 *   heartbeats (00 02, byte 8 = 08) are counted; they get no reply.
 *
 * Unlike HCMonitor, which looks at the start of every segment, message
 * boundaries are followed through the TCP sequence space: per flow the
 * sequence number of the next message start (client side, -l bytes apart) and
 * of the next reply start (server side, 146 bytes apart) is kept, so messages
 * split across segments or coalesced into one are still found, and
 * retransmitted bytes are recognised and skipped (the first transmission's
 * time counts, as HCMonitor does). Bytes the capture shows only after later
 * data (the server dropped them before its rx burst and the client
 * retransmitted them) leave a hole whose messages are taken when it fills. A
 * request's time is that of the segment
 * holding its first byte. Replies answer a flow's requests in order (the
 * server works on one connection's messages one after another), so each flow
 * keeps a FIFO of outstanding request times.
 *
 * Sequence comparisons use src/wire/seq.ts (RFC 9293 3.4 modular
 * arithmetic). Flows are keyed by the client's address and port (the server
 * is one address and --port) in a typed-array hash table (flow-index.ts),
 * and the per-flow arrays are sized up front from `expectedFlows`: at 1 M
 * connections nothing grows or rehashes during the run.
 */
import { FrameInfo, parseFrameInfo } from "../../src/sched/classifier";
import { IPPROTO_TCP } from "../../src/net/l4-tx";
import { TCP_RST, TCP_SYN, TcpView } from "../../src/wire/tcp";
import { seqAdd, seqGe, seqGt, seqLe, seqLt, seqSub } from "../../src/wire/seq";
import { FlowIndex } from "./flow-index";
import { newLatencyHistogram, recordUs, type Histogram } from "./latency";
import { HB_MARK, LABEL_REPLY, LABEL_REQUEST, OFF_HB_MARK, OFF_LABEL, OFF_PRIO, PRIO_HIGH, PRIO_LOW, REPLY_LEN } from "./protocol";

export class WireCounters {
  frames = 0;
  /** Frames that are not IPv4/TCP to or from the server port. */
  ignored = 0;
  dataSegments = 0;
  flows = 0;
  requests = 0;
  heartbeats = 0;
  /** Client messages with neither label pattern. */
  otherMessages = 0;
  replies = 0;
  paired = 0;
  /** Replies with no outstanding request on their flow. */
  unpairedReplies = 0;
  /** Segments whose bytes were all seen before. */
  retransmissions = 0;
  /** Message starts whose label bytes were in a later segment (not classified). */
  splitLabels = 0;
}

export interface WirePairerOptions {
  /** The server's TCP port. */
  serverPort: number;
  /** The server listens on this many consecutive ports from serverPort (default 1). */
  serverPorts?: number;
  /** Client message length (-l). */
  msgLen: number;
  /** Requests in the first warmupUs after the first message seen are paired but not recorded. */
  warmupUs?: number;
  /** Flows to size the tables for (the server's connection capacity); more still fit, by growing. */
  expectedFlows?: number;
}

export class WirePairer {
  readonly counters = new WireCounters();
  /** Request -> reply at the wire, us. */
  readonly latencyHigh: Histogram = newLatencyHistogram();
  private readonly info = new FrameInfo();
  private readonly tcp = new TcpView();
  private readonly flowIndex: FlowIndex;
  private n = 0;
  private cap = 0;
  // Per flow (struct of arrays).
  private cInit: Uint8Array = new Uint8Array(0);
  /** Sequence number of the flow's first client data byte: message starts are cOrigin + k * msgLen. */
  private cOrigin: Int32Array = new Int32Array(0);
  /** One hole in the client stream (first byte, length; 0 = none). */
  private holeLo: Int32Array = new Int32Array(0);
  private holeLen: Int32Array = new Int32Array(0);
  private cNext: Int32Array = new Int32Array(0);
  private cHigh: Int32Array = new Int32Array(0);
  private sInit: Uint8Array = new Uint8Array(0);
  private sNext: Int32Array = new Int32Array(0);
  private sHigh: Int32Array = new Int32Array(0);
  private pHead: Int32Array = new Int32Array(0);
  private pTail: Int32Array = new Int32Array(0);
  // Outstanding requests: a pool of linked nodes.
  private nodeT: Float64Array = new Float64Array(1024);
  private nodeNext: Int32Array = new Int32Array(1024);
  private freeNode = -1;
  private nodesUsed = 0;
  /** Requests before this time are not recorded (-1: not known yet). */
  private measureFromUs = -1;

  constructor(private readonly opts: WirePairerOptions) {
    if (!Number.isInteger(opts.msgLen) || opts.msgLen < 9) throw new RangeError(`bad message length ${opts.msgLen}`);
    const np = opts.serverPorts ?? 1;
    if (!Number.isInteger(np) || np < 1 || np > 32) throw new RangeError(`serverPorts must be 1..32, got ${np}`);
    const expected = Math.max(0, Math.floor(opts.expectedFlows ?? 0));
    this.flowIndex = new FlowIndex(expected);
    if (expected > 0) this.grow(expected);
  }

  private grow(atLeast = 0): void {
    let cap = this.cap === 0 ? 1024 : this.cap * 2;
    while (cap < atLeast) cap *= 2;
    const g8 = (a: Uint8Array): Uint8Array => {
      const b = new Uint8Array(cap);
      b.set(a);
      return b;
    };
    const g32 = (a: Int32Array, fill = 0): Int32Array => {
      const b = new Int32Array(cap).fill(fill);
      b.set(a);
      return b;
    };
    this.cInit = g8(this.cInit);
    this.sInit = g8(this.sInit);
    this.cNext = g32(this.cNext);
    this.cOrigin = g32(this.cOrigin);
    this.holeLo = g32(this.holeLo);
    this.holeLen = g32(this.holeLen);
    this.cHigh = g32(this.cHigh);
    this.sNext = g32(this.sNext);
    this.sHigh = g32(this.sHigh);
    this.pHead = g32(this.pHead, -1);
    this.pTail = g32(this.pTail, -1);
    this.cap = cap;
  }

  private flow(clientIp: number, clientPort: number, serverPort: number): number {
    const fresh = this.n;
    const f = this.flowIndex.getOrInsert(clientIp, clientPort, (serverPort - this.opts.serverPort) & 31, fresh);
    if (f === fresh) {
      if (this.n === this.cap) this.grow();
      this.n++;
      this.counters.flows++;
    }
    return f;
  }

  private resetFlow(f: number): void {
    this.cInit[f] = 0;
    this.sInit[f] = 0;
    let x = this.pHead[f]!;
    while (x >= 0) {
      const nx = this.nodeNext[x]!;
      this.releaseNode(x);
      x = nx;
    }
    this.pHead[f] = this.pTail[f] = -1;
  }

  private takeNode(): number {
    if (this.freeNode >= 0) {
      const x = this.freeNode;
      this.freeNode = this.nodeNext[x]!;
      return x;
    }
    if (this.nodesUsed === this.nodeT.length) {
      const t = new Float64Array(this.nodeT.length * 2);
      t.set(this.nodeT);
      const nx = new Int32Array(this.nodeNext.length * 2);
      nx.set(this.nodeNext);
      this.nodeT = t;
      this.nodeNext = nx;
    }
    return this.nodesUsed++;
  }

  private releaseNode(x: number): void {
    this.nodeNext[x] = this.freeNode;
    this.freeNode = x;
  }

  private pushRequest(f: number, tsUs: number): void {
    const x = this.takeNode();
    this.nodeT[x] = tsUs;
    this.nodeNext[x] = -1;
    const tail = this.pTail[f]!;
    if (tail >= 0) this.nodeNext[tail] = x;
    else this.pHead[f] = x;
    this.pTail[f] = x;
  }

  private pushRequestFront(f: number, tsUs: number): void {
    const x = this.takeNode();
    this.nodeT[x] = tsUs;
    this.nodeNext[x] = this.pHead[f]!;
    this.pHead[f] = x;
    if (this.pTail[f]! < 0) this.pTail[f] = x;
  }

  /** Time of the oldest outstanding request of flow f, removed; -1 if none. */
  private popRequest(f: number): number {
    const x = this.pHead[f]!;
    if (x < 0) return -1;
    const t = this.nodeT[x]!;
    this.pHead[f] = this.nodeNext[x]!;
    if (this.pHead[f]! < 0) this.pTail[f] = -1;
    this.releaseNode(x);
    return t;
  }

  /** One frame seen at time `tsUs` (us). */
  process(tsUs: number, buf: Uint8Array, dv: DataView, off: number, len: number): void {
    const c = this.counters;
    c.frames++;
    const info = this.info;
    if (!parseFrameInfo(buf, dv, off, len, info) || info.l4Proto !== IPPROTO_TCP) {
      c.ignored++;
      return;
    }
    const port = this.opts.serverPort;
    const nports = this.opts.serverPorts ?? 1;
    const toServer = info.dstPort - port >= 0 && info.dstPort - port < nports;
    const fromServer = info.srcPort - port >= 0 && info.srcPort - port < nports;
    if (!toServer && !fromServer) {
      c.ignored++;
      return;
    }
    const t = this.tcp.reset(buf, dv, info.l4Off, info.payloadOff - info.l4Off);
    const flags = t.flags();
    const plen = info.payloadLen;
    // A bare ACK (every message's, at one message per connection) changes nothing: no flow lookup.
    if (plen <= 0 && (flags & (TCP_SYN | TCP_RST)) === 0) return;
    const f = toServer ? this.flow(info.srcIp, info.srcPort, info.dstPort) : this.flow(info.dstIp, info.dstPort, info.srcPort);
    if ((flags & (TCP_SYN | TCP_RST)) !== 0) {
      // A new connection on this 4-tuple (or its end): forget the old one. The client's
      // data starts at ISN + 1 (RFC 9293 3.4), where its first message starts.
      if ((flags & TCP_SYN) !== 0 && toServer) {
        this.resetFlow(f);
        const first = seqAdd(t.seq(), 1);
        this.cInit[f] = 1;
        this.cOrigin[f] = first;
        this.cNext[f] = first;
        this.cHigh[f] = first;
        this.holeLen[f] = 0;
      }
      return;
    }
    if (plen <= 0) return;
    c.dataSegments++;
    if (toServer) this.clientData(f, tsUs, buf, info.payloadOff, plen, t.seq());
    else this.serverData(f, tsUs, buf, info.payloadOff, plen, t.seq());
  }

  private clientData(f: number, tsUs: number, buf: Uint8Array, p: number, plen: number, seq: number): void {
    const c = this.counters;
    const end = seqAdd(seq, plen);
    const L = this.opts.msgLen;
    if (this.cInit[f] === 0) {
      this.cInit[f] = 1;
      this.cOrigin[f] = seq;
      this.cNext[f] = seq;
      this.cHigh[f] = seq;
      this.holeLen[f] = 0;
    }
    // A hole: bytes the capture has not shown yet (the server dropped them before its rx burst,
    // and the client retransmits them after later data). Their message starts are taken when they come.
    const holeLen = this.holeLen[f]!;
    if (holeLen > 0) {
      const lo = this.holeLo[f]!;
      const hi = seqAdd(lo, holeLen);
      if (seqLt(seq, hi) && seqGt(end, lo)) {
        const from = seqLt(seq, lo) ? lo : seq;
        const to = seqLt(end, hi) ? end : hi;
        // First message start at or after `from` (starts are origin + k * L).
        const off = seqSub(from, this.cOrigin[f]!);
        let m = seqAdd(this.cOrigin[f]!, Math.ceil(off / L) * L);
        while (seqLt(m, to)) {
          this.message(f, tsUs, buf, p + seqSub(m, seq), seqSub(end, m), true);
          m = seqAdd(m, L);
        }
        if (seqLe(seq, lo)) {
          // Filled from its start: the hole shrinks (a fill in its middle leaves it as it is).
          const left = seqSub(hi, to);
          this.holeLo[f] = to;
          this.holeLen[f] = left > 0 ? left : 0;
        }
      }
    }
    if (seqLe(end, this.cHigh[f]!)) {
      if (holeLen === 0) c.retransmissions++;
      return;
    }
    if (seqGt(seq, this.cHigh[f]!) && this.holeLen[f] === 0) {
      this.holeLo[f] = this.cHigh[f]!;
      this.holeLen[f] = seqSub(seq, this.cHigh[f]!);
    }
    let m = this.cNext[f]!;
    while (seqLt(m, end)) {
      if (seqGe(m, seq)) this.message(f, tsUs, buf, p + seqSub(m, seq), seqSub(end, m), false);
      m = seqAdd(m, L);
    }
    this.cNext[f] = m;
    this.cHigh[f] = end;
  }

  /** A client message starting at buf[o] with `room` bytes of it in this segment. `early`: it precedes messages already seen. */
  private message(f: number, tsUs: number, buf: Uint8Array, o: number, room: number, early: boolean): void {
    const c = this.counters;
    if (room <= OFF_LABEL) {
      c.splitLabels++;
      return;
    }
    const prio = buf[o + OFF_PRIO];
    const label = buf[o + OFF_LABEL];
    if (this.measureFromUs < 0) this.measureFromUs = tsUs + (this.opts.warmupUs ?? 0);
    if (prio === PRIO_HIGH && label === LABEL_REQUEST) {
      c.requests++;
      // The server answers in stream order, so a request from a filled hole is answered first.
      if (early) this.pushRequestFront(f, tsUs);
      else this.pushRequest(f, tsUs);
    } else if (prio === PRIO_LOW && label === LABEL_REQUEST && (room <= OFF_HB_MARK || buf[o + OFF_HB_MARK] === HB_MARK)) {
      c.heartbeats++;
    } else {
      c.otherMessages++;
    }
  }

  private serverData(f: number, tsUs: number, buf: Uint8Array, p: number, plen: number, seq: number): void {
    const c = this.counters;
    const end = seqAdd(seq, plen);
    if (this.sInit[f] === 0) {
      this.sInit[f] = 1;
      this.sNext[f] = seq;
      this.sHigh[f] = seq;
    } else if (seqLe(end, this.sHigh[f]!)) {
      c.retransmissions++;
      return;
    }
    let m = this.sNext[f]!;
    while (seqLt(m, end)) {
      if (seqGe(m, seq)) {
        const o = p + seqSub(m, seq);
        if (seqSub(end, m) > OFF_LABEL && buf[o + OFF_LABEL] === LABEL_REPLY) {
          c.replies++;
          const reqT = this.popRequest(f);
          if (reqT >= 0) {
            c.paired++;
            if (reqT >= this.measureFromUs) recordUs(this.latencyHigh, tsUs - reqT);
          } else {
            c.unpairedReplies++;
          }
        }
      }
      m = seqAdd(m, REPLY_LEN);
    }
    this.sNext[f] = m;
    this.sHigh[f] = end;
  }

  /** Requests still waiting for a reply. */
  outstanding(): number {
    let n = 0;
    for (let f = 0; f < this.n; f++) for (let x = this.pHead[f]!; x >= 0; x = this.nodeNext[x]!) n++;
    return n;
  }
}
