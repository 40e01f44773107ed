/**
 * TcpLayer: the TCP engine's facade (RFC 9293). The sockets API and the apps
 * build on exactly this. Pure: time (integer microseconds) and randomness are
 * injected, output goes through L4Tx, timers are data in a TimerWheel, and the
 * loop asks pollAt() for the next deadline (DESIGN.md).
 *
 * Connection ids index the struct-of-arrays ConnTable. Ownership of an id:
 * a passive-open connection belongs to the stack until accept() hands it to
 * the application; connect() hands it out at once. The application gives an id
 * back with close() or abort(); the stack frees it when the connection reaches
 * CLOSED (after TIME-WAIT for an active close). If a connection dies while the
 * application still holds it, the id stays allocated in state CLOSED with its
 * errno until close().
 */
import { heapMemory, type MemoryProvider } from "../mem/carve";
import { ChunkQueues } from "../mem/chunk-queue";
import { FlowTable } from "../mem/flow-table";
import { SlabPool } from "../mem/slab-pool";
import type { L4Tx } from "../net/l4-tx";
import type { TcpEventSink } from "./events";
import { TcpView } from "../wire/tcp";
import type { TcpConfig } from "./config";
import { wscaleFor } from "./config";
import { type CongestionControl, createCongestionControl } from "./congestion";
import {
  ConnTable, F_ACK_NOW, F_APP_CLOSED, F_APP_OWNED, F_DELACK, F_DIRTY, F_FIN_QUEUED, F_FIN_RCVD, F_KEEPALIVE, F_NODELAY,
  F_READABLE_SIGNALLED, F_USED, F_WANT_WRITABLE,
} from "./conn-table";
import { TcpCounters } from "./counters";
import { EADDRINUSE, EAGAIN, EINVAL, ENOTCONN, EPIPE } from "./errno";
import { handleIcmpError } from "./icmp-input";
import { tcpInput, type StraySegmentSink } from "./input";
import { IsnGenerator } from "./isn";
import { abortConn, appClose, appShutdown } from "./lifecycle";
import { Listeners } from "./listen";
import { activeOpen, PortProbe } from "./open";
import { expressPeek, expressRead, MessageStore, rcvHeld, sendAhead } from "./message-mode";
import { dirtySlots, flushOverflow } from "./dirty-list";
import { PoolWaiters } from "./pool-wait";
import { bytesPerConnection, memoryBytes, memoryPlan, sideRecords, type MemoryPart } from "./memory-plan";
import { tcpOutput, windowUpdateDue } from "./output";
import { connClass, NO_RX_CLASS, P_FOLLOW_RX, P_MESSAGE, P_RX_EXPRESS, setConnClass } from "./priority";
import { EphemeralPorts } from "./ports";
import { RttEstimator } from "./rtt";
import { SackScoreboard } from "./sack-scoreboard";
import { SegInfo } from "./segment";
import { TcpState } from "./state";
import { armKeepalive, runTimers, TIMER_KINDS } from "./timers";
import { TimerWheel } from "./timer-wheel";

export { TcpEvent } from "./events";
export { dirtySlots } from "./dirty-list";
export { sideRecords, type MemoryPart } from "./memory-plan";
export type { TcpEventSink } from "./events";

export interface ConnOpts {
  noDelay?: boolean;
  keepAlive?: boolean;
}

export type { MemoryProvider } from "../mem/carve";


export class TcpLayer {
  readonly cfg: TcpConfig;
  readonly tx: L4Tx;
  readonly events: TcpEventSink;
  readonly rng: () => number;
  readonly counters = new TcpCounters();
  readonly conns: ConnTable;
  readonly pool: SlabPool;
  /** Send buffer per connection: bytes from SND.UNA on (sent-unacked, then unsent). */
  readonly snd: ChunkQueues;
  /** Receive buffer per connection: unread in-order bytes, then out-of-order ranges beyond RCV.NXT. */
  readonly rcv: ChunkQueues;
  readonly wheel: TimerWheel;
  readonly rtt: RttEstimator;
  readonly cc: CongestionControl;
  readonly sack: SackScoreboard;
  readonly flows: FlowTable;
  readonly listeners: Listeners;
  readonly isn: IsnGenerator;
  readonly ports: EphemeralPorts;
  readonly cookieSecret: Uint32Array;
  /**
   * Decides whether an ephemeral port is usable for an active open (open.ts). Replaceable once at
   * start, e.g. by one that also keeps to ports whose returning flows hash to this thread's queue
   * (src/sched/multi/rss-ports.ts).
   */
  portProbe: PortProbe;
  /** Segments with no connection and no listener go here before a reset (input.ts StraySegmentSink); null: none. */
  stray: StraySegmentSink | null = null;
  /** Our receive window shift (RFC 7323 2.2), from the receive buffer size. */
  readonly rcvWscale: number;
  /** MSS we announce: MTU - 40 (RFC 9293 3.7.1, RFC 6691). */
  readonly ourMss: number;
  /** Parsing / writing views, one each, reused (STYLE.md). */
  readonly rxView = new TcpView();
  readonly txView = new TcpView();
  readonly seg = new SegInfo();
  /** Scratch for SACK blocks and timer expiry. */
  readonly scratchL = new Int32Array(8);
  readonly scratchR = new Int32Array(8);
  readonly scratch2 = new Int32Array(2);
  readonly expired = new Int32Array(256);
  /**
   * Connections with pending output (F_DIRTY), drained by flush(): a ring of
   * dirtyCount entries from dirtyHead. A ring, because a flush cut short by a
   * refused transmit leaves most of the list for the next one: moving the rest
   * to the front cost a copy of up to the whole list per flush (a 65,536-entry
   * copy 11,000 times a second while 300 k connections closed at once).
   */
  private readonly dirty: Int32Array;
  private dirtyHead = 0;
  private dirtyCount = 0;
  /** Some connection is marked F_DIRTY but not on the full dirty list: flush() scans the table from dirtyScanFrom (dirty-list.ts). */
  dirtyOverflow = false;
  dirtyScanFrom = 0;
  /** Writers cut short by the empty buffer pool, told Writable when it has a chunk again. */
  readonly poolWaiters: PoolWaiters;
  /** RFC 5961 10: challenge ACK rate limit, per second. */
  challengeWindowStartUs = 0;
  challengeCount = 0;
  nowUs: number;
  /**
   * Called when a passive open reaches ESTABLISHED (the handshake's ACK, or a
   * valid SYN cookie's, RFC 9293 3.10.7.4 / RFC 4987 3.6) with the peer's
   * address: the stack's wiring tells SYN admission about known sources
   * (src/sched/syn-admission.ts). Null: nothing is called.
   */
  onPassiveOpen: ((remoteIp: number, nowUs: number) => void) | null = null;
  /**
   * Priority class of the segment being processed (0 = highest), set by the
   * stack around receive; NO_RX_CLASS (255) outside receive and for the lowest
   * class. Replies leave in it; message mode takes it as the message's class.
   */
  rxClass = NO_RX_CLASS;
  /** Class of the data the last recv() returned: an express message's class, or -1 for stream bytes. */
  lastRecvClass = -1;
  /** Scratch out-value of aheadLimit (message-mode.ts). */
  aheadClass = -1;
  /**
   * Readable events edge-triggered: raised once, then not again until the application
   * reads (recv, recvRelease). For consumers that read everything on each event (the
   * sockets API); others get one per in-order segment.
   */
  readableEdge = false;
  /**
   * ACK owed for every second full-sized segment sent at flush(), once per receive burst,
   * instead of at once (receive.ts scheduleAck). For a caller that flushes after each
   * receive burst (the poll loop: TcpSockets sets it).
   */
  ackPerBurst = false;
  private msgStore: MessageStore | null = null;

  /**
   * `memory` hands out the blocks of memoryPlan(config) (one call per block, in
   * that order; e.g. hugepage regions); default: fresh ArrayBuffers.
   */
  constructor(opts: {
    config: TcpConfig; tx: L4Tx; rng: () => number; nowUs: number; events: TcpEventSink; memory?: MemoryProvider;
    /** Fewer dirty-list slots than dirtySlots(maxConnections) (tests of the overflow scan). */
    dirtyCap?: number;
  }) {
    const cfg = opts.config;
    this.cfg = cfg;
    this.tx = opts.tx;
    this.events = opts.events;
    this.rng = opts.rng;
    this.nowUs = opts.nowUs;
    const n = cfg.maxConnections;
    const mem = opts.memory ?? heapMemory;
    const plan = TcpLayer.memoryPlan(cfg);
    let part = 0;
    const take = (): { buffer: ArrayBuffer; offset: number } => {
      const p = plan[part++]!;
      return mem(p.bytes, p.name);
    };
    let m = take();
    this.conns = new ConnTable(n, m.buffer, m.offset);
    m = take();
    this.pool = new SlabPool({ objBytes: cfg.chunkBytes, count: cfg.chunkCount, backing: m.buffer, byteOffset: m.offset });
    m = take();
    this.snd = new ChunkQueues({ queues: n, pool: this.pool, maxRanges: 1, oooRecords: 0, backing: m.buffer, byteOffset: m.offset });
    m = take();
    this.rcv = new ChunkQueues({ queues: n, pool: this.pool, maxRanges: cfg.maxOooRanges, oooRecords: sideRecords(n), backing: m.buffer, byteOffset: m.offset });
    m = take();
    this.wheel = new TimerWheel({ capacity: n * TIMER_KINDS, tickUs: cfg.timerTickUs, nowUs: opts.nowUs, compact: true, group: TIMER_KINDS, backing: m.buffer, byteOffset: m.offset });
    m = take();
    this.rtt = new RttEstimator(n, {
      minRtoUs: cfg.minRtoUs, maxRtoUs: cfg.maxRtoUs, initialRtoUs: cfg.initialRtoUs, granularityUs: cfg.timerTickUs, backing: m.buffer, byteOffset: m.offset,
    });
    m = take();
    this.cc = createCongestionControl(cfg.cc, n, { backing: m.buffer, byteOffset: m.offset });
    m = take();
    this.sack = new SackScoreboard(n, { records: sideRecords(n), backing: m.buffer, byteOffset: m.offset });
    m = take();
    this.flows = new FlowTable({ capacity: n, keys: this.conns, seed: this.rng() | 0, backing: m.buffer, byteOffset: m.offset });
    m = take();
    this.dirty = new Int32Array(m.buffer, m.offset, Math.min(dirtySlots(n), opts.dirtyCap ?? n));
    this.poolWaiters = new PoolWaiters(n);
    this.listeners = new Listeners(cfg.maxListeners);
    this.isn = new IsnGenerator(this.randomWords(4));
    this.ports = new EphemeralPorts({ lo: cfg.ephemeralLo, hi: cfg.ephemeralHi, secret: this.randomWords(4) });
    this.cookieSecret = this.randomWords(4);
    this.portProbe = new PortProbe(this);
    this.rcvWscale = cfg.windowScaling ? wscaleFor(cfg.rcvBufBytes) : 0;
    this.ourMss = Math.min(cfg.mtu, this.tx.maxL4Bytes + 20) - 40;
  }

  /** The memory blocks a TcpLayer for `cfg` takes (memory-plan.ts). */
  static memoryPlan(cfg: TcpConfig): MemoryPart[] {
    return memoryPlan(cfg);
  }

  /** Total bytes of memoryPlan(cfg): [tables, buffer pool]. */
  static memoryBytes(cfg: TcpConfig): { tables: number; buffers: number } {
    return memoryBytes(cfg);
  }

  private randomWords(k: number): Uint32Array {
    const w = new Uint32Array(k);
    for (let i = 0; i < k; i++) w[i] = this.rng() >>> 0;
    return w;
  }

  // ---- the poll loop -------------------------------------------------------

  /** One received segment, in place: L4 header at mem[l4Off], l4Len bytes of header + payload. */
  input(nowUs: number, mem: Uint8Array, dv: DataView, l4Off: number, l4Len: number, srcIp: number, dstIp: number): void {
    this.nowUs = nowUs;
    tcpInput(this, nowUs, mem, dv, l4Off, l4Len, srcIp, dstIp);
  }

  /** ICMP destination unreachable / fragmentation needed quoting one of our segments (RFC 1122 4.2.3.9, RFC 1191). */
  icmpError(nowUs: number, type: number, code: number, nextHopMtu: number, mem: Uint8Array, dv: DataView, ipOff: number, ipLen: number): void {
    this.nowUs = nowUs;
    handleIcmpError(this, nowUs, type, code, nextHopMtu, mem, dv, ipOff, ipLen);
  }

  /** Expire due timers. */
  timers(nowUs: number): void {
    this.nowUs = nowUs;
    runTimers(this, nowUs);
  }

  /** Next deadline in microseconds (Infinity when no timer is pending). */
  pollAt(): number {
    return this.dirtyCount > 0 || this.dirtyOverflow || (this.poolWaiters.pending && this.pool.available() > 0) ? this.nowUs : this.wheel.nextDeadline();
  }

  /** Send what became sendable through application calls since the last flush. */
  flush(nowUs: number): void {
    this.nowUs = nowUs;
    const conns = this.conns;
    const dirty = this.dirty;
    // Connections marked again while flushing (their transmit was refused: output.ts) wait for the
    // next flush, so a full transmit backlog is retried once per round, not in a loop here.
    // A refusal also means the transmit path is full for this round: the
    // connections not reached yet keep their place and wait too, rather than
    // each being tried (and refused) in turn.
    const n = this.dirtyCount;
    const cap = dirty.length;
    const head = this.dirtyHead;
    const refusedBefore = this.counters.txNoBuf;
    let done = n;
    for (let i = 0; i < n; i++) {
      const at = head + i;
      const c = dirty[at < cap ? at : at - cap]!;
      let f = conns.flags[c]! & ~F_DIRTY;
      // A delayed ACK that became due during the receive burst (ackPerBurst): send it now.
      if ((f & F_DELACK) !== 0 && conns.delackSegs[c]! >= 2) f |= F_ACK_NOW;
      conns.flags[c] = f;
      if ((f & F_USED) !== 0) tcpOutput(this, c, nowUs);
      if (this.counters.txNoBuf !== refusedBefore) {
        done = i + 1;
        break;
      }
    }
    // Left for the next flush: the ones not reached [done, n), then the ones re-marked [n, dirtyCount).
    const h = head + done;
    this.dirtyHead = h < cap ? h : h - cap;
    this.dirtyCount -= done;
    if (this.dirtyOverflow && this.counters.txNoBuf === refusedBefore) flushOverflow(this, nowUs);
    this.poolWaiters.wake(this);
  }

  /** Queue a connection for output at the next flush(). */
  markDirty(c: number): void {
    const f = this.conns.flags[c]!;
    if ((f & F_DIRTY) !== 0) return;
    this.conns.flags[c] = f | F_DIRTY;
    const d = this.dirty;
    if (this.dirtyCount < d.length) {
      const at = this.dirtyHead + this.dirtyCount++;
      d[at < d.length ? at : at - d.length] = c;
    } else this.dirtyOverflow = true;
  }

  // ---- opening ------------------------------------------------------------------

  /** Passive open (RFC 9293 3.10.1). Returns a listener id or a negative errno. */
  listen(localIp: number, localPort: number, backlog: number, opts?: ConnOpts): number {
    if (localPort <= 0 || localPort > 65535) return -EINVAL;
    const b = backlog > 0 ? backlog : this.cfg.defaultBacklog;
    const id = this.listeners.add(localIp | 0, localPort, b, opts?.noDelay ?? this.cfg.noDelay, opts?.keepAlive ?? this.cfg.keepAlive);
    return id === -2 ? -EADDRINUSE : id < 0 ? -EINVAL : id;
  }

  /** Take the next established connection of a listener; -1 when none (EAGAIN). */
  accept(listenerId: number): number {
    const c = this.listeners.popAccept(this, listenerId);
    if (c < 0) return -1;
    this.conns.flags[c] = this.conns.flags[c]! | F_APP_OWNED;
    return c;
  }

  /** Stop listening: pending connections in the SYN and accept queues are reset. */
  closeListener(listenerId: number): void {
    this.listeners.close(this, listenerId, this.nowUs);
  }

  /** Active open (RFC 9293 3.10.1). localPort 0 picks a randomized ephemeral port (RFC 6056). */
  connect(nowUs: number, localIp: number, localPort: number, remoteIp: number, remotePort: number, opts?: ConnOpts): number {
    this.nowUs = nowUs;
    return activeOpen(this, nowUs, localIp | 0, localPort, remoteIp | 0, remotePort, opts);
  }

  // ---- data -----------------------------------------------------------------

  /** Queue bytes for sending (RFC 9293 3.10.2). Returns bytes queued (0 when the buffer is full) or a negative errno. */
  send(c: number, src: Uint8Array, off: number, len: number): number {
    const conns = this.conns;
    if (!conns.isUsed(c)) return -EINVAL;
    const f = conns.flags[c]!;
    const s = conns.state[c]!;
    if ((f & F_FIN_QUEUED) !== 0) return -EPIPE;
    if (s === TcpState.Closed) return conns.errno[c]! !== 0 ? -conns.errno[c]! : -EPIPE;
    if (s === TcpState.Listen) return -ENOTCONN;
    if (s !== TcpState.Established && s !== TcpState.CloseWait && s !== TcpState.SynSent && s !== TcpState.SynReceived) return -EPIPE;
    const space = this.cfg.sndBufBytes - this.snd.length(c);
    const fits = len < space ? len : space;
    const n = fits > 0 ? this.snd.append(c, src, off, fits) : 0;
    if (n < fits) this.poolWaiters.add(this, c);
    if (n < len) conns.flags[c] = conns.flags[c]! | F_WANT_WRITABLE;
    if (n > 0) this.markDirty(c);
    return n;
  }

  /**
   * Zero-copy send, step 1: stack-provided space at the end of the send buffer.
   * out[0] = offset in `pool.mem`, out[1] = bytes writable there (<= want, limited
   * by the send buffer and one chunk). Returns out[1], or a negative errno when the
   * connection cannot send. Write the bytes, then sendCommit.
   */
  sendReserve(c: number, want: number, out: Int32Array): number {
    const conns = this.conns;
    out[0] = 0;
    out[1] = 0;
    if (!conns.isUsed(c)) return -EINVAL;
    const s = conns.state[c]!;
    if ((conns.flags[c]! & F_FIN_QUEUED) !== 0) return -EPIPE;
    if (s === TcpState.Closed) return conns.errno[c]! !== 0 ? -conns.errno[c]! : -EPIPE;
    if (s !== TcpState.Established && s !== TcpState.CloseWait && s !== TcpState.SynSent && s !== TcpState.SynReceived) return -EPIPE;
    const space = this.cfg.sndBufBytes - this.snd.length(c);
    const n = this.snd.tailSpan(c, want < space ? want : space, out);
    // Nothing at all with room in the buffer: the pool is empty (a short span is only the chunk's end).
    if (n === 0 && want > 0 && space > 0) this.poolWaiters.add(this, c);
    if (n < want) conns.flags[c] = conns.flags[c]! | F_WANT_WRITABLE;
    return n;
  }

  /** Zero-copy send, step 2: queue `n` bytes written into the space sendReserve gave. */
  sendCommit(c: number, n: number): void {
    if (n <= 0 || !this.conns.isUsed(c)) return;
    this.snd.commitAppend(c, n);
    this.markDirty(c);
  }

  /**
   * Zero-copy receive: the contiguous readable bytes at the head of the receive
   * buffer, in place. out[0] = offset in `pool.mem`, out[1] = length. Returns
   * out[1] (0 when nothing is readable; recv() tells EOF and errors). The bytes
   * stay valid until recvRelease.
   */
  recvView(c: number, out: Int32Array): number {
    if (!this.conns.isUsed(c)) {
      out[0] = 0;
      out[1] = 0;
      return 0;
    }
    return this.rcv.headSpan(c, out);
  }

  /** Zero-copy receive: give back `n` bytes read through recvView (opens the window). */
  recvRelease(c: number, n: number): void {
    const conns = this.conns;
    if (n <= 0 || !conns.isUsed(c)) return;
    this.rcv.consume(c, n);
    conns.flags[c] = conns.flags[c]! & ~F_READABLE_SIGNALLED;
    if (windowUpdateDue(this, c)) {
      conns.flags[c] = conns.flags[c]! | F_ACK_NOW;
      this.markDirty(c);
    }
  }

  /** Read bytes (RFC 9293 3.10.3). Returns bytes read, 0 at end of stream, or a negative errno (-EAGAIN when nothing yet). */
  recv(c: number, dst: Uint8Array, off: number, len: number): number {
    const conns = this.conns;
    if (!conns.isUsed(c)) return -EINVAL;
    this.lastRecvClass = -1;
    // Any read re-arms the Readable event (readableEdge).
    conns.flags[c] = conns.flags[c]! & ~F_READABLE_SIGNALLED;
    if ((conns.prio[c]! & P_RX_EXPRESS) !== 0 && len > 0) {
      // Message mode: express messages first, one per call (message-mode.ts).
      const n = expressRead(this, c, dst, off, len);
      if (windowUpdateDue(this, c)) {
        conns.flags[c] = conns.flags[c]! | F_ACK_NOW;
        this.markDirty(c);
      }
      return n;
    }
    const avail = this.rcv.length(c);
    const n = len < avail ? len : avail;
    if (n > 0) {
      this.rcv.copyOut(c, 0, dst, off, n);
      this.rcv.consume(c, n);
      conns.flags[c] = conns.flags[c]! & ~F_READABLE_SIGNALLED;
      // RFC 9293 3.8.6.2.2: tell the peer when the window opened enough.
      if (windowUpdateDue(this, c)) {
        conns.flags[c] = conns.flags[c]! | F_ACK_NOW;
        this.markDirty(c);
      }
      return n;
    }
    if (len === 0) return 0;
    if ((conns.flags[c]! & F_FIN_RCVD) !== 0) return 0;
    const s = conns.state[c]!;
    if (s === TcpState.Closed) return conns.errno[c]! !== 0 ? -conns.errno[c]! : 0;
    if (s === TcpState.Listen) return -ENOTCONN;
    return -EAGAIN;
  }

  /** Half-close: send a FIN after the queued data (RFC 9293 3.10.4 on an open connection). */
  shutdown(c: number): void {
    if (!this.conns.isUsed(c)) return;
    appShutdown(this, c, this.nowUs);
  }

  /** The application gives up the id: graceful FIN, or RST when unread data remains (RFC 9293 3.10.4, RFC 2525 2.17). */
  close(c: number): void {
    if (!this.conns.isUsed(c)) return;
    if ((this.conns.flags[c]! & (F_APP_OWNED | F_APP_CLOSED)) === F_APP_CLOSED) return;
    appClose(this, c, this.nowUs);
  }

  /** The application gives up the id and resets the connection (RFC 9293 3.10.5). */
  abort(c: number): void {
    if (!this.conns.isUsed(c)) return;
    abortConn(this, c, this.nowUs);
  }

  // ---- options and queries --------------------------------------------------------

  setNoDelay(c: number, on: boolean): void {
    if (!this.conns.isUsed(c)) return;
    this.conns.flags[c] = on ? this.conns.flags[c]! | F_NODELAY : this.conns.flags[c]! & ~F_NODELAY;
    if (on) this.markDirty(c);
  }

  /** RFC 1122 4.2.3.6 keepalive; idleUs overrides the configured idle time for this connection (not stored: global). */
  setKeepAlive(c: number, on: boolean): void {
    if (!this.conns.isUsed(c)) return;
    this.conns.flags[c] = on ? this.conns.flags[c]! | F_KEEPALIVE : this.conns.flags[c]! & ~F_KEEPALIVE;
    armKeepalive(this, c, this.nowUs);
  }

  state(c: number): number {
    return this.conns.isUsed(c) ? this.conns.state[c]! : TcpState.Closed;
  }

  /** Free bytes in the send buffer. */
  sendSpace(c: number): number {
    if (!this.conns.isUsed(c)) return 0;
    const s = this.conns.state[c]!;
    if (s !== TcpState.Established && s !== TcpState.CloseWait && s !== TcpState.SynSent && s !== TcpState.SynReceived) return 0;
    if ((this.conns.flags[c]! & F_FIN_QUEUED) !== 0) return 0;
    return this.cfg.sndBufBytes - this.snd.length(c);
  }

  /** Bytes buffered in the send buffer (unacknowledged + unsent). */
  sendQueued(c: number): number {
    return this.conns.isUsed(c) ? this.snd.length(c) : 0;
  }

  /** Bytes readable: the stream plus express messages (message mode). */
  recvAvailable(c: number): number {
    return this.conns.isUsed(c) ? rcvHeld(this, c) : 0;
  }

  // ---- priority and message mode (priority.ts, message-mode.ts) -------------------

  /** The connection's transmit class, 0 (highest) .. 7 (lowest, the default). */
  setPriority(c: number, cls: number): void {
    if (!this.conns.isUsed(c)) return;
    setConnClass(this, c, cls < 0 ? 0 : cls > 7 ? 7 : cls | 0);
  }

  priority(c: number): number {
    return this.conns.isUsed(c) ? connClass(this, c) : 7;
  }

  /** The connection's class follows the class of the last data segment received (also for all: cfg.priorityFollowsRx). */
  setPriorityFollowsRx(c: number, on: boolean): void {
    if (!this.conns.isUsed(c)) return;
    this.conns.prio[c] = on ? this.conns.prio[c]! | P_FOLLOW_RX : this.conns.prio[c]! & ~P_FOLLOW_RX;
  }

  /**
   * Message mode on or off (message-mode.ts): high-priority in-order segments
   * become express messages read before earlier stream bytes. Turning it off
   * keeps messages already received readable (they still come first).
   */
  setMessageMode(c: number, on: boolean): void {
    if (!this.conns.isUsed(c)) return;
    if (on) this.messages();
    this.conns.prio[c] = on ? this.conns.prio[c]! | P_MESSAGE : this.conns.prio[c]! & ~P_MESSAGE;
  }

  messageMode(c: number): boolean {
    return this.conns.isUsed(c) && (this.conns.prio[c]! & P_MESSAGE) !== 0;
  }

  /** Length of the next express message, -1 when none (message mode). */
  nextMessageBytes(c: number): number {
    return this.conns.isUsed(c) ? expressPeek(this, c) : -1;
  }

  /**
   * Queue a message ahead of unsent bytes, sent in class `cls` (message-mode.ts
   * send-ahead). Returns len, 0 when it does not fit whole, or a negative errno.
   */
  sendAhead(c: number, src: Uint8Array, off: number, len: number, cls = 0): number {
    const conns = this.conns;
    if (!conns.isUsed(c)) return -EINVAL;
    const f = conns.flags[c]!;
    const s = conns.state[c]!;
    if ((f & F_FIN_QUEUED) !== 0) return -EPIPE;
    if (s === TcpState.Closed) return conns.errno[c]! !== 0 ? -conns.errno[c]! : -EPIPE;
    if (s !== TcpState.Established && s !== TcpState.CloseWait) return s === TcpState.Listen ? -ENOTCONN : -EAGAIN;
    const n = sendAhead(this, c, src, off, len, cls < 0 ? 0 : cls > 7 ? 7 : cls | 0);
    // Refused with room in the connection's own buffer: the pool is short (pool-wait.ts).
    if (n < len && this.snd.length(c) + len <= this.cfg.sndBufBytes) this.poolWaiters.add(this, c);
    if (n < len) conns.flags[c] = conns.flags[c]! | F_WANT_WRITABLE;
    if (n > 0) this.markDirty(c);
    return n;
  }

  /** Message-mode side tables, created on first use. */
  messages(): MessageStore {
    let m = this.msgStore;
    if (m === null) {
      m = new MessageStore(this);
      this.msgStore = m;
    }
    return m;
  }

  /** True once the peer's FIN arrived in order (recv returns 0 after the buffer drains). */
  peerFinReceived(c: number): boolean {
    return this.conns.isUsed(c) && (this.conns.flags[c]! & F_FIN_RCVD) !== 0;
  }

  /** Positive errno of a failed connection, 0 otherwise. */
  error(c: number): number {
    return this.conns.isUsed(c) ? this.conns.errno[c]! : 0;
  }

  localIp(c: number): number {
    return this.conns.localIp[c]! >>> 0;
  }
  localPort(c: number): number {
    return this.conns.localPort[c]!;
  }
  remoteIp(c: number): number {
    return this.conns.remoteIp[c]! >>> 0;
  }
  remotePort(c: number): number {
    return this.conns.remotePort[c]!;
  }
  /** Effective send MSS. */
  mss(c: number): number {
    return this.conns.mss[c]!;
  }
  cwnd(c: number): number {
    return this.cc.cwnd(c);
  }
  srttUs(c: number): number {
    return this.rtt.srttUs(c);
  }
  rtoUs(c: number): number {
    return this.rtt.rtoUs(c);
  }

  /** Connections allocated (any state, TIME-WAIT included). */
  connectionsInUse(): number {
    return this.conns.inUse();
  }

  /** Buffer chunks currently held by all connections. */
  chunksInUse(): number {
    return this.pool.inUse();
  }

  /**
   * Stack memory per connection, buffers excluded: each table's bytes (as
   * allocated, for maxConnections, side tables and fixed parts included) divided
   * by maxConnections. The chunk links of the buffer pool are in `bufferPool`,
   * not in the total.
   */
  bytesPerConnection(): { total: number; parts: Record<string, number>; bufferPool: number } {
    return bytesPerConnection(this.cfg);
  }

  /** True when `c` is a live id the application may use. */
  isOpen(c: number): boolean {
    return this.conns.isUsed(c) && (this.conns.flags[c]! & F_APP_CLOSED) === 0;
  }
}

