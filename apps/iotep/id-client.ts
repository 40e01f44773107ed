/**
 * The generator (generator.ts) on our stack's TCP by connection id, as
 * bench/conns-stage.ts drives it: no JS object per connection, so 1 M client
 * connections cost typed-array slots only. Connection i (the generator's
 * index) gets source address firstIp + floor(i / P) and source port
 * portLo + i mod P (P = portHi - portLo + 1 ports per address; explicit
 * ports, no ephemeral search), and goes to dstPort + i mod ports.
 *
 * TCP's events go into a typed-array ring (the TcpEventSink) during receive
 * and are handled in this stage's poll(), never inside TCP: Connected ->
 * gen.opened, Readable -> recv and gen.data, the peer's FIN or a reset ->
 * gen.closed and the id given back. Two Int32Arrays map index <-> id.
 */
import type { PollStage } from "../../src/sched/poll-loop";
import { EventQueue } from "../../src/api/event-queue";
import { EAGAIN } from "../../src/tcp/errno";
import { TcpEvent, type TcpLayer } from "../../src/tcp/tcp-layer";
import { PendingWrites, type ClientTransport } from "./client-transports";
import type { GenEvents } from "./generator";

export interface IdClientOptions {
  conns: number;
  /** Source addresses (host order) and ports of each. */
  firstIp: number;
  ipCount: number;
  portLo: number;
  portHi: number;
  dstIp: number;
  dstPort: number;
  /** Spread over dstPort .. dstPort + ports - 1. */
  ports: number;
  clockUs: () => number;
}

export class IdClient implements ClientTransport, PollStage {
  readonly ring = new EventQueue(1 << 16);
  private tcp: TcpLayer | null = null;
  private gen: GenEvents | null = null;
  private readonly e = new Int32Array(3);
  private readonly buf = new Uint8Array(16 * 1024);
  /** Generator index -> connection id (-1: none). */
  private readonly idOf: Int32Array;
  /** Connection id -> generator index (-1: none); sized when TCP is attached. */
  private indexOf = new Int32Array(0);
  private readonly pending = new PendingWrites();
  private readonly perIp: number;
  private nowUs = 0;
  /** connect() refusals (address/port in use, table full). */
  connectErrors = 0;

  constructor(private readonly o: IdClientOptions) {
    this.idOf = new Int32Array(o.conns).fill(-1);
    this.perIp = o.portHi - o.portLo + 1;
    if (o.conns > this.perIp * o.ipCount) throw new RangeError(`${o.conns} connections need ${Math.ceil(o.conns / this.perIp)} source addresses, have ${o.ipCount}`);
  }

  attach(tcp: TcpLayer): void {
    this.tcp = tcp;
    this.indexOf = new Int32Array(tcp.cfg.maxConnections).fill(-1);
  }

  bind(g: GenEvents): void {
    this.gen = g;
  }

  connect(i: number): void {
    const o = this.o;
    const tcp = this.tcp!;
    const ip = (o.firstIp + Math.floor(i / this.perIp)) | 0;
    const port = o.portLo + (i % this.perIp);
    const c = tcp.connect(this.o.clockUs(), ip, port, o.dstIp, o.dstPort + (i % o.ports));
    if (c < 0) {
      this.connectErrors++;
      this.gen!.connectFailed(i);
      return;
    }
    tcp.setNoDelay(c, true);
    this.idOf[i] = c;
    this.indexOf[c] = i;
    this.pending.clear(i);
  }

  send(i: number, buf: Uint8Array, len: number): boolean {
    const c = this.idOf[i]!;
    if (c < 0) return false;
    const tcp = this.tcp!;
    return this.pending.send(i, buf, len, (b, off, n) => tcp.send(c, b, off, n));
  }

  close(i: number): void {
    const c = this.idOf[i]!;
    if (c < 0) return;
    this.forget(i, c);
    this.tcp!.close(c);
  }

  /**
   * What the generator handed over and is not yet acknowledged by the server,
   * summed over open connections: bytes in TCP's send buffers (unacknowledged
   * and unsent), connections holding some, and bytes still waiting in
   * PendingWrites (the send buffer was full). For the end-of-run report.
   */
  backlog(): { sendQueuedBytes: number; connsWithQueued: number; pendingWriteBytes: number } {
    const tcp = this.tcp!;
    let bytes = 0;
    let conns = 0;
    for (let i = 0; i < this.idOf.length; i++) {
      const c = this.idOf[i]!;
      if (c < 0) continue;
      const q = tcp.sendQueued(c);
      if (q > 0) {
        bytes += q;
        conns++;
      }
    }
    return { sendQueuedBytes: bytes, connsWithQueued: conns, pendingWriteBytes: this.pending.bytes() };
  }

  private forget(i: number, c: number): void {
    this.idOf[i] = -1;
    this.indexOf[c] = -1;
    this.pending.clear(i);
  }

  poll(nowUs: number): number {
    this.nowUs = nowUs;
    const e = this.e;
    const tcp = this.tcp!;
    const gen = this.gen!;
    let work = 0;
    while (this.ring.pop(e)) {
      work++;
      const c = e[0]!;
      const i = this.indexOf[c]!;
      if (i < 0) continue;
      switch (e[1]) {
        case TcpEvent.Connected:
          gen.opened(i);
          break;
        case TcpEvent.Writable:
          this.pending.drain(i, (b, off, n) => tcp.send(c, b, off, n));
          break;
        case TcpEvent.Readable:
        case TcpEvent.PeerFin: {
          const r = this.readAll(i, c);
          if (r === 0 || (r < 0 && r !== -EAGAIN)) this.lost(i, c);
          break;
        }
        case TcpEvent.Closed:
          this.lost(i, c);
          break;
      }
    }
    return work;
  }

  pollAt(): number {
    return Number.POSITIVE_INFINITY;
  }

  private readAll(i: number, c: number): number {
    const tcp = this.tcp!;
    const buf = this.buf;
    for (;;) {
      const n = tcp.recv(c, buf, 0, buf.length);
      if (n <= 0) return n;
      this.gen!.data(i, buf, 0, n, this.nowUs);
    }
  }

  /** The server closed or reset connection i: tell the generator and give the id back. */
  private lost(i: number, c: number): void {
    this.forget(i, c);
    this.gen!.closed(i);
    this.tcp!.close(c);
  }
}
