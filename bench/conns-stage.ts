/**
 * The low-level connection holders of bench/conns: app stages (PollStage) that
 * drive TcpLayer directly with connection ids, so holding N connections costs
 * no JS object per connection (issue 4). Events from TCP go into a typed-array
 * ring (TcpEventSink) and are handled in the stage's poll(), never inside TCP.
 *
 *   ConnServer: listens, accepts everything, echoes each message, closes when the
 *               peer closes.
 *   ConnGenerator: opens N connections at a fixed rate from a range of local
 *               addresses over the whole port range of each (explicit local ports,
 *               no ephemeral picking), sends a small timestamped message on every
 *               connection once per epoch, records the echo's round trip, and at
 *               the end half-closes every connection and counts clean closes.
 *
 * Message: 16 bytes [u32 seq][u32 conn id][f64 send time us] (little endian).
 */
import { EventQueue } from "../src/api/event-queue";
import type { PollStage } from "../src/sched/poll-loop";
import { describeConn } from "../src/tcp/describe";
import { TcpEvent, type TcpLayer } from "../src/tcp/tcp-layer";

export const MSG_BYTES = 16;

/** This process's CPU time so far (user + system), us. */
export function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

export class ConnServer implements PollStage {
  readonly ring = new EventQueue(1 << 16);
  private readonly e = new Int32Array(3);
  private readonly buf = new Uint8Array(4096);
  listener = -1;
  accepted = 0;
  /** Accepts at which `cpuAtTargetUs` is taken (the bench's N); 0: never. */
  acceptTarget = 0;
  /** Process CPU time (user + system, us) at the first accept and when `acceptTarget` was reached. */
  cpuAtFirstUs = -1;
  cpuAtTargetUs = -1;
  messages = 0;
  peerClosed = 0;
  resets = 0;

  constructor(readonly tcp: TcpLayer) {}

  listen(ip: number, port: number): void {
    this.listener = this.tcp.listen(ip, port, 65535);
    if (this.listener < 0) throw new Error(`listen failed: ${this.listener}`);
  }

  poll(_nowUs: number): number {
    const tcp = this.tcp;
    const e = this.e;
    let work = 0;
    while (this.ring.pop(e)) {
      work++;
      const c = e[0]!;
      switch (e[1]) {
        case TcpEvent.Accept:
          for (;;) {
            const a = tcp.accept(this.listener);
            if (a < 0) break;
            if (this.accepted++ === 0) this.cpuAtFirstUs = cpuUs();
            if (this.accepted === this.acceptTarget) this.cpuAtTargetUs = cpuUs();
            if (tcp.recvAvailable(a) > 0) this.echo(a);
          }
          break;
        case TcpEvent.Readable:
          this.echo(c);
          break;
        case TcpEvent.PeerFin:
          this.echo(c);
          this.peerClosed++;
          tcp.close(c);
          break;
        case TcpEvent.Closed:
          if (e[2]! < 0) this.resets++;
          tcp.close(c);
          break;
      }
    }
    return work;
  }

  private echo(c: number): void {
    const tcp = this.tcp;
    for (;;) {
      const n = tcp.recv(c, this.buf, 0, this.buf.length);
      if (n <= 0) return;
      this.messages += (n / MSG_BYTES) | 0;
      tcp.send(c, this.buf, 0, n);
    }
  }

  pollAt(): number {
    return Number.POSITIVE_INFINITY;
  }
}

export interface GeneratorOptions {
  conns: number;
  /** Seconds over which the connections are opened. */
  setupS: number;
  /** Seconds between two messages of one connection. */
  epochS: number;
  /** Local addresses: first (host order) and count; local ports portLo..portHi of each. */
  firstIp: number;
  ipCount: number;
  portLo: number;
  portHi: number;
  dstIp: number;
  dstPort: number;
  /**
   * Most connections opening at once (SYN sent, not yet established). Opening faster
   * than the server completes handshakes only fills the rings: SYN-ACKs wait past
   * the 1 s initial RTO (RFC 6298 (2.1)) and SYNs are sent again, the server's SYN
   * queue overflows into SYN cookies. Keep it below the server's SYN queue.
   */
  maxOpening: number;
  /** Called with each round trip in us. */
  onRtt: (us: number) => void;
  /**
   * Stamp each message with its scheduled send time (hold start + k * epoch / conns) instead
   * of the round's clock, so a late send (the generator's own loop delayed) is charged to the
   * round trip: no coordinated omission. Default false (the stamp is the actual send time).
   */
  stampScheduled?: boolean;
}

const S_NONE = 0;
const S_OPENING = 1;
const S_OPEN = 2;
const S_CLOSING = 3;
const S_CLOSED = 4;
const S_FAILED = 5;

export class ConnGenerator implements PollStage {
  readonly ring = new EventQueue(1 << 16);
  private readonly e = new Int32Array(3);
  private readonly buf = new Uint8Array(4096);
  private readonly msg = new Uint8Array(MSG_BYTES);
  private readonly msgDv = new DataView(this.msg.buffer);
  private readonly inDv = new DataView(this.buf.buffer);
  /** Per connection id: S_*; 1 byte of app state per connection. */
  readonly st: Uint8Array;
  opened = 0;
  established = 0;
  failed = 0;
  openErrors = 0;
  sent = 0;
  received = 0;
  cleanClosed = 0;
  resets = 0;
  phase: "idle" | "setup" | "hold" | "close" = "idle";
  setupStartUs = 0;
  setupEndUs = 0;
  /** Process CPU time (us) when the setup started and when the last connection was established. */
  setupStartCpuUs = 0;
  setupEndCpuUs = -1;
  private holdStartUs = 0;
  private nextSend = 0;
  private sendCursor = 0;
  private ipIdx = 0;
  private port: number;
  private closeCursor = 0;

  constructor(readonly tcp: TcpLayer, readonly o: GeneratorOptions) {
    this.st = new Uint8Array(tcp.cfg.maxConnections);
    this.port = o.portLo;
  }

  startSetup(nowUs: number): void {
    this.phase = "setup";
    this.setupStartUs = nowUs;
    this.setupStartCpuUs = cpuUs();
  }

  startHold(nowUs: number): void {
    this.phase = "hold";
    this.holdStartUs = nowUs;
    this.nextSend = 0;
  }

  startClose(): void {
    this.phase = "close";
    this.closeCursor = 0;
  }

  /**
   * Up to `max` connections still closing, with their complete TCP state (describe.ts) and the
   * 4-tuple as numbers (`tuple`: local ip, local port, remote ip, remote port) so the peer can look
   * its side up: diagnostics for a close that does not finish.
   */
  stuck(max: number, nowUs: number): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    const t = this.tcp;
    const k = t.conns;
    for (let c = 0; c < this.st.length && out.length < max; c++) {
      if (this.st[c] !== S_CLOSING) continue;
      out.push({ ...describeConn(t, c, nowUs), tuple: [k.localIp[c]!, k.localPort[c]!, k.remoteIp[c]!, k.remotePort[c]!] });
    }
    return out;
  }

  /** Connections in S_CLOSING (half-closed, waiting for the peer's FIN). */
  closing(): number {
    return this.established - this.cleanClosed - this.resets - this.failedAfterOpen;
  }
  private failedAfterOpen = 0;

  poll(nowUs: number): number {
    let work = this.drain(nowUs);
    if (this.phase === "setup") work += this.openSome(nowUs);
    else if (this.phase === "hold") work += this.sendSome(nowUs);
    else if (this.phase === "close") work += this.closeSome();
    return work;
  }

  private drain(nowUs: number): number {
    const tcp = this.tcp;
    const e = this.e;
    const st = this.st;
    let work = 0;
    while (this.ring.pop(e)) {
      work++;
      const c = e[0]!;
      switch (e[1]) {
        case TcpEvent.Connected:
          if (st[c] === S_OPENING) {
            st[c] = S_OPEN;
            this.established++;
            if (this.established === this.o.conns) {
              this.setupEndUs = nowUs;
              this.setupEndCpuUs = cpuUs();
            }
          }
          break;
        case TcpEvent.Readable:
          this.read(c, nowUs);
          break;
        case TcpEvent.Closed:
          if (e[2]! === 0 && st[c] === S_CLOSING) {
            st[c] = S_CLOSED;
            this.cleanClosed++;
          } else if (st[c] !== S_CLOSED && st[c] !== S_FAILED) {
            if (st[c] === S_OPENING) this.failed++;
            else {
              this.resets++;
              this.failedAfterOpen++;
            }
            st[c] = S_FAILED;
          }
          tcp.close(c);
          break;
      }
    }
    return work;
  }

  private read(c: number, nowUs: number): void {
    const tcp = this.tcp;
    while (tcp.recvAvailable(c) >= MSG_BYTES) {
      const n = tcp.recv(c, this.buf, 0, MSG_BYTES);
      if (n !== MSG_BYTES) return;
      const sentUs = this.inDv.getFloat64(8, true);
      this.received++;
      this.o.onRtt(nowUs - sentUs);
    }
  }

  private openSome(nowUs: number): number {
    const o = this.o;
    const rate = o.setupS > 0 ? o.conns / o.setupS : Number.POSITIVE_INFINITY;
    let due = Math.min(o.conns, Math.floor(((nowUs - this.setupStartUs) / 1e6) * rate) + 1) - this.opened;
    // Bounded per round so the transmit ring (1024 descriptors) never overflows into drops,
    // and by the handshakes in flight (maxOpening).
    if (due > 32) due = 32;
    const room = o.maxOpening - (this.opened - this.established - this.failed);
    if (due > room) due = room;
    let work = 0;
    for (let i = 0; i < due; i++) {
      if (this.ipIdx >= o.ipCount) break;
      const lip = (o.firstIp + this.ipIdx) | 0;
      const c = this.tcp.connect(nowUs, lip, this.port, o.dstIp, o.dstPort);
      if (++this.port > o.portHi) {
        this.port = o.portLo;
        this.ipIdx++;
      }
      if (c < 0) {
        this.openErrors++;
        continue;
      }
      this.st[c] = S_OPENING;
      this.opened++;
      work++;
    }
    return work;
  }

  private sendSome(nowUs: number): number {
    const o = this.o;
    const n = this.tcp.cfg.maxConnections;
    const target = Math.floor(((nowUs - this.holdStartUs) / (o.epochS * 1e6)) * o.conns) + 1;
    let todo = target - this.nextSend;
    if (todo > 64) todo = 64;
    let work = 0;
    const dv = this.msgDv;
    for (let k = 0; k < todo; k++) {
      // Next open connection in id order (each once per epoch).
      let tries = 0;
      while (this.st[this.sendCursor] !== S_OPEN && tries < n) {
        this.sendCursor = this.sendCursor + 1 === n ? 0 : this.sendCursor + 1;
        tries++;
      }
      this.nextSend++;
      if (tries >= n) break;
      const c = this.sendCursor;
      this.sendCursor = c + 1 === n ? 0 : c + 1;
      dv.setUint32(0, this.sent, true);
      dv.setUint32(4, c, true);
      dv.setFloat64(8, o.stampScheduled === true ? this.holdStartUs + ((this.nextSend - 1) * o.epochS * 1e6) / o.conns : nowUs, true);
      if (this.tcp.send(c, this.msg, 0, MSG_BYTES) === MSG_BYTES) this.sent++;
      work++;
    }
    return work;
  }

  private closeSome(): number {
    const n = this.tcp.cfg.maxConnections;
    let work = 0;
    while (this.closeCursor < n && work < 32) {
      const c = this.closeCursor++;
      if (this.st[c] === S_OPEN) {
        this.st[c] = S_CLOSING;
        this.tcp.shutdown(c);
        work++;
      }
    }
    return work;
  }

  pollAt(): number {
    return this.phase === "idle" ? Number.POSITIVE_INFINITY : 0;
  }
}
