/**
 * Fixtures for TCP unit tests: a TcpLayer on a virtual clock against a scripted
 * peer. CaptureTx records every segment the layer sends (parsed back with
 * TcpView); Peer writes segments (flags, seq, ack, window, options, payload)
 * into a buffer and feeds them to TcpLayer.input(). Builders put a connection
 * into a given state: listening(), established(), synSent(), finWait1(), ...
 */
import { makeTcpConfig, type TcpConfig } from "../../src/tcp/config";
import { TcpState } from "../../src/tcp/state";
import { TcpLayer } from "../../src/tcp/tcp-layer";
import type { L4Tx } from "../../src/net/l4-tx";
import { TcpOptions, TcpView, parseTcpOptions } from "../../src/wire/tcp";
import {
  writeMssOption, writeSackOption, writeSackPermittedOption, writeTimestampOption, writeWscaleOption,
} from "../../src/wire/tcp-options";

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const URG = 0x20;

export const LOCAL_IP = 0x0a000001; // 10.0.0.1
export const REMOTE_IP = 0x0a000002; // 10.0.0.2
export const LOCAL_PORT = 80;
export const REMOTE_PORT = 40000;

/** One segment the layer sent, parsed. */
export interface Sent {
  src: number;
  dst: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  wnd: number;
  urg: number;
  hdrLen: number;
  payload: Uint8Array;
  opts: TcpOptions;
  checksumOk: boolean;
}

/** An L4Tx that accepts segments into one slot and forgets them (tests that only look at TCP's state). */
export class NullTx implements L4Tx {
  readonly mem = new Uint8Array(2048);
  readonly dv = new DataView(this.mem.buffer);
  readonly maxL4Bytes = 1480;
  begin(): number {
    return 0;
  }
  commit(): void {}
  abort(): void {}
}

/** An L4Tx that records segments instead of sending them. */
export class CaptureTx implements L4Tx {
  readonly mem = new Uint8Array(4096);
  readonly dv = new DataView(this.mem.buffer);
  readonly maxL4Bytes: number;
  readonly sent: Sent[] = [];
  /** Make the next n begin() calls fail (no transmit buffer). */
  failNext = 0;
  private open = false;

  constructor(mtu = 1500) {
    this.maxL4Bytes = mtu - 20;
  }

  begin(): number {
    if (this.open) throw new Error("CaptureTx: begin() with a packet open");
    if (this.failNext > 0) {
      this.failNext--;
      return -1;
    }
    this.open = true;
    return 64;
  }

  commit(srcIp: number, dstIp: number, proto: number, l4Len: number, _prio: number): void {
    if (!this.open) throw new Error("CaptureTx: commit() without begin()");
    if (proto !== 6) throw new Error("CaptureTx: not TCP");
    if (l4Len > this.maxL4Bytes) throw new Error("CaptureTx: segment of " + l4Len + " > maxL4Bytes " + this.maxL4Bytes);
    this.open = false;
    const v = new TcpView().reset(this.mem, this.dv, 64, l4Len);
    if (!v.checkLen()) throw new Error("CaptureTx: bad TCP header");
    const opts = new TcpOptions();
    parseTcpOptions(this.mem, this.dv, v.optionsOff(), v.optionsLen(), opts);
    this.sent.push({
      src: srcIp >>> 0,
      dst: dstIp >>> 0,
      srcPort: v.srcPort(),
      dstPort: v.dstPort(),
      seq: v.seq(),
      ack: v.ack(),
      flags: v.flags(),
      wnd: v.window(),
      urg: v.urgentPointer(),
      hdrLen: v.dataOffset(),
      payload: this.mem.slice(v.payloadOff(), v.payloadOff() + v.payloadLen()),
      opts,
      checksumOk: v.verifyChecksum(srcIp, dstIp),
    });
  }

  abort(): void {
    this.open = false;
  }

  /** Take (and forget) what was sent since the last take. */
  take(): Sent[] {
    return this.sent.splice(0, this.sent.length);
  }

  last(): Sent {
    const s = this.sent[this.sent.length - 1];
    if (s === undefined) throw new Error("nothing sent");
    return s;
  }
}

export interface EventRec {
  c: number;
  kind: number;
  arg: number;
}

export class EventLog {
  readonly list: EventRec[] = [];
  event(c: number, kind: number, arg: number): void {
    this.list.push({ c, kind, arg });
  }
  has(kind: number, c?: number): boolean {
    return this.list.some((e) => e.kind === kind && (c === undefined || e.c === c));
  }
  of(kind: number): EventRec[] {
    return this.list.filter((e) => e.kind === kind);
  }
  clear(): void {
    this.list.length = 0;
  }
}

/** Options a scripted segment carries. */
export interface SegOpts {
  mss?: number;
  wscale?: number;
  sackOk?: boolean;
  ts?: [number, number];
  sack?: [number, number][];
}

/** A deterministic uint32 generator (mulberry32: consecutive outputs are uncorrelated enough for fault draws). */
export function seededRng(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** The layer under test, its clock, capture device and events. */
export class Harness {
  readonly tx: CaptureTx;
  readonly ev = new EventLog();
  readonly tcp: TcpLayer;
  readonly cfg: TcpConfig;
  now = 1_000_000_000; // 1000 s: away from zero
  private readonly buf = new Uint8Array(70000);
  private readonly dv = new DataView(this.buf.buffer);

  constructor(cfg?: Partial<TcpConfig>, seed = 1) {
    this.cfg = makeTcpConfig({ maxConnections: 64, chunkCount: 2048, ...cfg });
    this.tx = new CaptureTx(this.cfg.mtu);
    this.tcp = new TcpLayer({ config: this.cfg, tx: this.tx, rng: seededRng(seed), nowUs: this.now, events: this.ev });
  }

  /** Move the clock by us, run due timers and flush. */
  advance(us: number): void {
    this.now += us;
    this.tcp.timers(this.now);
    this.tcp.flush(this.now);
  }

  /**
   * Advance the clock deadline by deadline (the wheel reports far deadlines at their cascade
   * points) until a timer did something visible (a segment or an event), up to maxUs ahead.
   */
  runToNextTimer(maxUs = 1e12): boolean {
    const limit = this.now + maxUs;
    const sent = this.tx.sent.length;
    const evs = this.ev.list.length;
    for (let i = 0; i < 10000; i++) {
      const d = this.tcp.pollAt();
      if (!Number.isFinite(d) || d > limit) return false;
      this.advance(Math.max(0, d - this.now));
      if (this.tx.sent.length !== sent || this.ev.list.length !== evs) return true;
      if (d <= this.now && !Number.isFinite(this.tcp.pollAt())) return false;
    }
    return false;
  }

  /** Advance to the given absolute time, firing timers on the way in order. */
  runUntil(t: number): void {
    for (let i = 0; i < 100000; i++) {
      const d = this.tcp.pollAt();
      if (!Number.isFinite(d) || d > t) break;
      this.advance(Math.max(0, d - this.now));
    }
    if (t > this.now) this.advance(t - this.now);
  }

  flush(): void {
    this.tcp.flush(this.now);
  }

  /** Write a segment from (srcIp:srcPort) to (dstIp:dstPort) and feed it to input(). */
  inject(
    flags: number, seq: number, ack: number, opts: SegOpts = {}, payload?: Uint8Array | string, wnd = 65535,
    srcIp = REMOTE_IP, srcPort = REMOTE_PORT, dstIp = LOCAL_IP, dstPort = LOCAL_PORT, corrupt = false, urg = 0,
  ): void {
    const off = 100;
    const dv = this.dv;
    let p = off + 20;
    if (opts.mss !== undefined) p += writeMssOption(dv, p, opts.mss);
    if (opts.wscale !== undefined) p += writeWscaleOption(dv, p, opts.wscale);
    if (opts.sackOk) p += writeSackPermittedOption(dv, p);
    if (opts.ts) p += writeTimestampOption(dv, p, opts.ts[0], opts.ts[1]);
    if (opts.sack && opts.sack.length > 0) {
      const l = new Int32Array(opts.sack.map((b) => b[0]));
      const r = new Int32Array(opts.sack.map((b) => b[1]));
      p += writeSackOption(dv, p, l, r, opts.sack.length);
    }
    const hdr = p - off;
    const data = typeof payload === "string" ? new TextEncoder().encode(payload) : payload ?? new Uint8Array(0);
    this.buf.set(data, p);
    const len = hdr + data.length;
    dv.setUint16(off, srcPort);
    dv.setUint16(off + 2, dstPort);
    dv.setInt32(off + 4, seq | 0);
    dv.setInt32(off + 8, ack | 0);
    dv.setUint16(off + 12, ((hdr >>> 2) << 12) | flags);
    dv.setUint16(off + 14, wnd);
    dv.setUint16(off + 18, urg);
    const v = new TcpView().reset(this.buf, dv, off, len);
    v.fillChecksum(srcIp, dstIp);
    if (corrupt) this.buf[off + len - 1] ^= 0x5a;
    this.tcp.input(this.now, this.buf, dv, off, len, srcIp, dstIp);
  }
}

export const TS_PEER0 = 5000;

/**
 * A remote peer talking to the layer: tracks its own sequence numbers.
 * seq: the peer's next sequence number; ack: what it acknowledges of ours.
 */
export class Peer {
  seq: number;
  ack = 0;
  ts = TS_PEER0;
  useTs: boolean;
  wnd = 65535;
  constructor(
    readonly h: Harness,
    readonly ip = REMOTE_IP,
    readonly port = REMOTE_PORT,
    readonly localIp = LOCAL_IP,
    readonly localPort = LOCAL_PORT,
    iss = 0x10000000,
    useTs = true,
  ) {
    this.seq = iss;
    this.useTs = useTs;
  }

  /** The timestamp option for our next segment (TSecr = the layer's last TSval seen). */
  tsOpt(lastSent?: Sent): [number, number] | undefined {
    if (!this.useTs) return undefined;
    this.ts++;
    const ecr = lastSent?.opts.tsPresent ? lastSent.opts.tsVal : 0;
    return [this.ts, ecr];
  }

  /** Send a segment; seq advances by payload (+SYN/FIN). */
  send(flags: number, payload?: Uint8Array | string, opts: SegOpts = {}, extra: { seq?: number; ack?: number; wnd?: number; corrupt?: boolean; urg?: number } = {}): void {
    const data = typeof payload === "string" ? new TextEncoder().encode(payload) : payload ?? new Uint8Array(0);
    const o: SegOpts = { ...opts };
    if (o.ts === undefined && this.useTs) {
      const last = this.h.tx.sent[this.h.tx.sent.length - 1];
      o.ts = this.tsOpt(last) ?? undefined;
    }
    const seq = extra.seq ?? this.seq;
    this.h.inject(flags, seq, extra.ack ?? this.ack, o, data, extra.wnd ?? this.wnd, this.ip, this.port, this.localIp, this.localPort, extra.corrupt ?? false, extra.urg ?? 0);
    if (extra.seq === undefined) this.seq = (this.seq + data.length + (flags & SYN ? 1 : 0) + (flags & FIN ? 1 : 0)) | 0;
  }

  /** ACK everything the layer sent so far (ack = its last seq + len). */
  ackAll(sent: Sent[] = this.h.tx.sent): void {
    for (const s of sent) {
      if ((s.flags & RST) !== 0) continue;
      const end = (s.seq + s.payload.length + (s.flags & SYN ? 1 : 0) + (s.flags & FIN ? 1 : 0)) | 0;
      if ((s.flags & SYN) !== 0 || ((end - this.ack) | 0) > 0) this.ack = end;
    }
  }
}

export interface Conn {
  h: Harness;
  peer: Peer;
  c: number;
  /** The layer's ISS. */
  iss: number;
}

/** A listener on LOCAL_IP:LOCAL_PORT. */
export function listening(h: Harness, backlog = 16): number {
  const l = h.tcp.listen(LOCAL_IP, LOCAL_PORT, backlog);
  if (l < 0) throw new Error("listen failed " + l);
  return l;
}

export interface OpenOpts {
  /** Active open (connect) instead of passive (listen + accept). */
  active?: boolean;
  /** Peer options on its SYN / SYN-ACK. Default: MSS 1460, wscale 7, SACK, timestamps. */
  peerOpts?: SegOpts;
  useTs?: boolean;
  peerIss?: number;
  cfg?: Partial<TcpConfig>;
  h?: Harness;
  peerPort?: number;
}

export const LINUX_SYN_OPTS: SegOpts = { mss: 1460, wscale: 7, sackOk: true };

/** ESTABLISHED against a scripted peer, by passive open (default) or active open. */
export function established(o: OpenOpts = {}): Conn {
  const h = o.h ?? new Harness(o.cfg);
  const useTs = o.useTs ?? true;
  const peer = new Peer(h, REMOTE_IP, o.peerPort ?? REMOTE_PORT, LOCAL_IP, LOCAL_PORT, o.peerIss ?? 0x10000000, useTs);
  const popts = o.peerOpts ?? LINUX_SYN_OPTS;
  if (o.active) {
    const c = synSentOn(h, peer);
    const syn = h.tx.last();
    peer.ack = (syn.seq + 1) | 0;
    peer.send(SYN | ACK, undefined, { ...popts });
    if (h.tcp.state(c) !== TcpState.Established) throw new Error("not established: " + h.tcp.state(c));
    h.tx.take();
    h.ev.clear();
    return { h, peer, c, iss: syn.seq };
  }
  const l = h.tcp.listeners.find(LOCAL_IP, LOCAL_PORT) >= 0 ? h.tcp.listeners.find(LOCAL_IP, LOCAL_PORT) : listening(h);
  peer.send(SYN, undefined, { ...popts });
  const synAck = h.tx.last();
  if ((synAck.flags & (SYN | ACK)) !== (SYN | ACK)) throw new Error("no SYN-ACK");
  peer.ack = (synAck.seq + 1) | 0;
  peer.send(ACK);
  const c = h.tcp.accept(l);
  if (c < 0 || h.tcp.state(c) !== TcpState.Established) throw new Error("not established");
  h.tx.take();
  h.ev.clear();
  return { h, peer, c, iss: synAck.seq };
}

/** connect() to the peer: SYN-SENT. */
export function synSentOn(h: Harness, peer: Peer): number {
  const c = h.tcp.connect(h.now, LOCAL_IP, LOCAL_PORT, peer.ip, peer.port);
  if (c < 0) throw new Error("connect failed " + c);
  return c;
}

export function synSent(o: OpenOpts = {}): Conn {
  const h = o.h ?? new Harness(o.cfg);
  const peer = new Peer(h, REMOTE_IP, o.peerPort ?? REMOTE_PORT, LOCAL_IP, LOCAL_PORT, o.peerIss ?? 0x10000000, o.useTs ?? true);
  const c = synSentOn(h, peer);
  const syn = h.tx.last();
  return { h, peer, c, iss: syn.seq };
}

/** ESTABLISHED, then shutdown(): FIN-WAIT-1 with our FIN sent and not yet acknowledged. */
export function finWait1(o: OpenOpts = {}): Conn {
  const k = established(o);
  k.h.tcp.shutdown(k.c);
  k.h.flush();
  k.h.tx.take();
  return k;
}

/** FIN-WAIT-2: our FIN acknowledged. */
export function finWait2(o: OpenOpts = {}): Conn {
  const k = established(o);
  k.h.tcp.shutdown(k.c);
  k.h.flush();
  k.peer.ackAll(k.h.tx.take());
  k.peer.send(ACK);
  k.h.tx.take();
  return k;
}

/** CLOSE-WAIT: the peer's FIN received. */
export function closeWait(o: OpenOpts = {}): Conn {
  const k = established(o);
  k.peer.send(FIN | ACK);
  k.h.tx.take();
  k.h.ev.clear();
  return k;
}

/** TIME-WAIT after an active close. */
export function timeWait(o: OpenOpts = {}): Conn {
  const k = finWait2(o);
  k.peer.send(FIN | ACK);
  k.h.tx.take();
  return k;
}

/** Bytes 0..n-1 of a repeating pattern. */
export function pattern(n: number, salt = 0): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + salt + (i >> 8)) & 0xff;
  return b;
}

/** Read everything readable from c. */
export function drain(h: Harness, c: number): Uint8Array {
  const out: number[] = [];
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = h.tcp.recv(c, buf, 0, buf.length);
    if (n <= 0) break;
    for (let i = 0; i < n; i++) out.push(buf[i]!);
  }
  return new Uint8Array(out);
}

export function seqEnd(s: Sent): number {
  return (s.seq + s.payload.length + (s.flags & SYN ? 1 : 0) + (s.flags & FIN ? 1 : 0)) | 0;
}

// ---- an in-process link between two TcpLayers (netsim) ----------------------------------

export interface LinkFaults {
  /** Probability (0..1) that a packet is dropped. */
  loss?: number;
  /** Probability that a packet is delivered twice. */
  dup?: number;
  /** Probability that a packet is delayed by an extra random amount (reordering). */
  reorder?: number;
  /** Probability that one byte of a packet is flipped (the checksum must catch it). */
  corrupt?: number;
  /** One-way propagation delay, us. */
  delayUs?: number;
  /** Extra delay for reordered packets, up to this many us. */
  reorderUs?: number;
  /** Link rate in bit/s (serialization delay); default 1 Gbit/s. */
  rateBps?: number;
  /** Drop-tail queue limit, us of queueing delay. */
  queueUs?: number;
}

interface InFlight {
  at: number;
  seq: number;
  to: 0 | 1;
  src: number;
  dst: number;
  bytes: Uint8Array;
}

/** One side's transmitter: copies each committed segment onto the link. */
class LinkTx implements L4Tx {
  readonly mem = new Uint8Array(2048);
  readonly dv = new DataView(this.mem.buffer);
  readonly maxL4Bytes: number;
  constructor(private readonly link: TcpLink, private readonly side: 0 | 1, mtu: number) {
    this.maxL4Bytes = mtu - 20;
  }
  begin(): number {
    return 0;
  }
  commit(srcIp: number, dstIp: number, _proto: number, l4Len: number, _prio: number): void {
    this.link.transmit(this.side, srcIp, dstIp, this.mem.slice(0, l4Len));
  }
  abort(): void {}
}

/**
 * Two TcpLayers (a = 10.0.0.1, b = 10.0.0.2) joined by a seeded faulty link on a virtual
 * clock. Deterministic for a given seed.
 */
export class TcpLink {
  now = 1_000_000;
  readonly a: TcpLayer;
  readonly b: TcpLayer;
  readonly evA = new EventLog();
  readonly evB = new EventLog();
  readonly ipA = 0x0a000001;
  readonly ipB = 0x0a000002;
  private readonly q: InFlight[] = [];
  private readonly busyUntil = [0, 0];
  private seqNo = 0;
  private readonly rnd: () => number;
  readonly stats = { sent: 0, lost: 0, dup: 0, reordered: 0, corrupted: 0, queueDrops: 0 };

  constructor(readonly faults: LinkFaults = {}, seed = 7, cfg?: Partial<TcpConfig>) {
    this.rnd = seededRng(seed ^ 0x5bd1e995);
    const config = makeTcpConfig({ maxConnections: 16, chunkCount: 4096, ...cfg });
    this.a = new TcpLayer({ config, tx: new LinkTx(this, 0, config.mtu), rng: seededRng(seed), nowUs: this.now, events: this.evA });
    this.b = new TcpLayer({ config, tx: new LinkTx(this, 1, config.mtu), rng: seededRng(seed + 1), nowUs: this.now, events: this.evB });
  }

  private chance(p: number | undefined): boolean {
    return p !== undefined && p > 0 && this.rnd() / 4294967296 < p;
  }

  transmit(side: 0 | 1, src: number, dst: number, bytes: Uint8Array): void {
    const f = this.faults;
    this.stats.sent++;
    const rate = f.rateBps ?? 1e9;
    const ser = Math.ceil(((bytes.length + 58) * 8 * 1e6) / rate);
    const start = Math.max(this.now, this.busyUntil[side]!);
    if (start - this.now > (f.queueUs ?? 50_000)) {
      this.stats.queueDrops++;
      return;
    }
    this.busyUntil[side] = start + ser;
    if (this.chance(f.loss)) {
      this.stats.lost++;
      return;
    }
    let at = start + ser + (f.delayUs ?? 1000);
    if (this.chance(f.reorder)) {
      this.stats.reordered++;
      at += 1 + Math.floor((this.rnd() / 4294967296) * (f.reorderUs ?? 3000));
    }
    if (this.chance(f.corrupt)) {
      this.stats.corrupted++;
      const i = this.rnd() % bytes.length;
      bytes[i] ^= 1 << (this.rnd() & 7);
    }
    const to: 0 | 1 = side === 0 ? 1 : 0;
    this.push({ at, seq: this.seqNo++, to, src, dst, bytes });
    if (this.chance(f.dup)) {
      this.stats.dup++;
      this.push({ at: at + 10, seq: this.seqNo++, to, src, dst, bytes: bytes.slice() });
    }
  }

  private push(p: InFlight): void {
    // Keep q sorted by (at, seq): insertion from the back (mostly appends).
    let i = this.q.length;
    while (i > 0 && (this.q[i - 1]!.at > p.at || (this.q[i - 1]!.at === p.at && this.q[i - 1]!.seq > p.seq))) i--;
    this.q.splice(i, 0, p);
  }

  /** Next time something happens (a delivery or a timer). */
  nextEvent(): number {
    let t = Math.min(this.a.pollAt(), this.b.pollAt());
    if (this.q.length > 0 && this.q[0]!.at < t) t = this.q[0]!.at;
    return t;
  }

  /** Advance to time t: deliver due packets, run timers, flush. */
  step(t: number): void {
    if (t > this.now) this.now = t;
    const now = this.now;
    while (this.q.length > 0 && this.q[0]!.at <= now) {
      const p = this.q.shift()!;
      const dst = p.to === 0 ? this.a : this.b;
      dst.input(now, p.bytes, new DataView(p.bytes.buffer, p.bytes.byteOffset, p.bytes.byteLength), 0, p.bytes.length, p.src, p.dst);
    }
    this.a.timers(now);
    this.b.timers(now);
    this.a.flush(now);
    this.b.flush(now);
  }

  inFlight(): number {
    return this.q.length;
  }
}
