/**
 * The stack thread's end of split mode (design: split.ts). A poll stage and the
 * TCP layer's event sink: TCP events become per-connection pending work, which
 * each round turns into records on the owning app thread's event lane (higher
 * classes first; received bytes are read by TcpLayer.recv straight into the
 * shared byte ring), and the app threads' commands become TcpLayer calls (send
 * copies from the shared ring into TCP's send buffer). Never blocks: a full
 * lane leaves the work pending (TCP's window closes meanwhile), and a send the
 * TCP buffer cannot take whole is retried next round.
 */
import type { L4Tx } from "../../net/l4-tx";
import { TcpEvent, TcpLayer, type MemoryProvider, type TcpEventSink } from "../../tcp/tcp-layer";
import { makeTcpConfig, type TcpConfig } from "../../tcp/config";
import { AsyncWaker, FLAG_SEND_AHEAD, Lane, RecordWriter, REC_WORDS, SplitCommand, SplitEvent } from "./channel";
import type { PollStage } from "../poll-loop";

/** What the bridge needs of the stack it runs in (src/api/stack.ts Stack fits). */
export interface SplitHost {
  /** The class of the frames being processed (0 highest). */
  rxClass: number;
  classes: number;
  netif: { out: L4Tx };
  loop: { clock(): number; wake(): void };
  setTransport(t: TcpLayer): void;
  addAppStage(s: PollStage): void;
}

/** The two lanes of one app thread, as the stack sees them. */
export interface AppLanes {
  events: Lane;
  commands: Lane;
}

// Pending work bits per connection.
const QUEUED = 1;
const OPEN = 2;
const DATA = 4;
const FIN = 8;
const CLOSED = 16;

const CMD_BATCH = 64;

export class StackBridge implements PollStage, TcpEventSink {
  readonly tcp: TcpLayer;
  private readonly apps: AppLanes[];
  private readonly writers: RecordWriter[];
  private readonly wakers: AsyncWaker[];
  /** Per connection: owning app thread (-1: none), pending bits, class, close errno, local port. */
  private readonly owner: Int8Array;
  private readonly bits: Uint8Array;
  private readonly cls: Uint8Array;
  private readonly closeErr: Int32Array;
  /** Pending connections, one FIFO per class (each id in at most one, marked QUEUED). */
  private readonly queues: Int32Array[];
  private readonly qHead: Int32Array;
  private readonly qLen: Int32Array;
  /** Per app: popped command records not yet done (a send TCP could not take whole waits here). */
  private readonly cmdBuf: Uint32Array[];
  private readonly cmdN: Int32Array;
  private readonly cmdI: Int32Array;
  private nextApp = 0;
  private stopRequested = false;
  private stopSent: boolean[];
  /** Largest payload per Data record. */
  private readonly chunkBytes: number;
  /** Counters. */
  delivered = 0;
  commandsDone = 0;
  sendStalls = 0;
  laneFull = 0;

  constructor(
    private readonly host: SplitHost,
    apps: AppLanes[],
    opts: { tcp?: Partial<TcpConfig>; rng: () => number; memory?: MemoryProvider; chunkBytes?: number },
  ) {
    if (apps.length < 1 || apps.length > 127) throw new RangeError("StackBridge: 1 to 127 app threads");
    this.apps = apps;
    this.tcp = new TcpLayer({ config: makeTcpConfig(opts.tcp ?? {}), tx: host.netif.out, rng: opts.rng, nowUs: host.loop.clock(), events: this, memory: opts.memory });
    host.setTransport(this.tcp);
    host.addAppStage(this);
    const n = this.tcp.cfg.maxConnections;
    this.owner = new Int8Array(n).fill(-1);
    this.bits = new Uint8Array(n);
    this.cls = new Uint8Array(n);
    this.closeErr = new Int32Array(n);
    const classes = Math.max(1, Math.min(8, host.classes));
    this.queues = [];
    for (let c = 0; c < classes; c++) this.queues.push(new Int32Array(n));
    this.qHead = new Int32Array(classes);
    this.qLen = new Int32Array(classes);
    this.writers = apps.map((a) => new RecordWriter(a.events.records, 64));
    this.wakers = apps.map((a) => new AsyncWaker(a.commands.records, () => host.loop.wake()));
    this.cmdBuf = apps.map(() => new Uint32Array(CMD_BATCH * REC_WORDS));
    this.cmdN = new Int32Array(apps.length);
    this.cmdI = new Int32Array(apps.length);
    this.stopSent = apps.map(() => false);
    let minBytes = Infinity;
    for (const a of apps) minBytes = Math.min(minBytes, a.events.bytes.maxPayload());
    this.chunkBytes = Math.min(opts.chunkBytes ?? 16384, minBytes);
  }

  /** Listen on (ip 0 = any, port); accepted connections are spread over the app threads. */
  listen(localIp: number, port: number, backlog: number): number {
    return this.tcp.listen(localIp, port, backlog);
  }

  /** Ask every app thread to stop (a Stop record after the work already queued). */
  requestStop(): void {
    this.stopRequested = true;
    this.host.loop.wake();
  }

  /** True when every app thread has been sent its Stop record. */
  stopDelivered(): boolean {
    for (const s of this.stopSent) if (!s) return false;
    return true;
  }

  // ---- TcpEventSink ----

  event(id: number, kind: number, arg: number): void {
    switch (kind) {
      case TcpEvent.Accept: {
        const t = this.tcp;
        for (let c = t.accept(id); c >= 0; c = t.accept(id)) {
          this.owner[c] = this.nextApp;
          this.nextApp = (this.nextApp + 1) % this.apps.length;
          this.pend(c, OPEN);
        }
        return;
      }
      case TcpEvent.Readable:
        this.pend(id, DATA);
        return;
      case TcpEvent.PeerFin:
        this.pend(id, FIN);
        return;
      case TcpEvent.Closed:
        this.closeErr[id] = arg;
        this.pend(id, CLOSED);
        return;
    }
  }

  private pend(c: number, bit: number): void {
    if (this.owner[c]! < 0) return;
    const b = this.bits[c]!;
    this.bits[c] = b | bit | QUEUED;
    if ((b & QUEUED) !== 0) return;
    let k = this.host.rxClass;
    if (k >= this.queues.length) k = this.queues.length - 1;
    this.cls[c] = k;
    this.enqueue(k, c);
  }

  private enqueue(k: number, c: number): void {
    const q = this.queues[k]!;
    q[(this.qHead[k]! + this.qLen[k]!) % q.length] = c;
    this.qLen[k]!++;
  }

  // ---- PollStage ----

  poll(_nowUs: number): number {
    let work = 0;
    for (let a = 0; a < this.apps.length; a++) work += this.commands(a);
    work += this.deliver();
    if (this.stopRequested) this.sendStops();
    for (let a = 0; a < this.writers.length; a++) this.writers[a]!.flush();
    return work;
  }

  pollAt(): number {
    return Number.POSITIVE_INFINITY;
  }

  /** Deliver pending work, class 0 first; returns records written. */
  private deliver(): number {
    let done = 0;
    for (let k = 0; k < this.queues.length; k++) {
      const q = this.queues[k]!;
      let visits = this.qLen[k]!;
      while (visits-- > 0) {
        const c = q[this.qHead[k]!]!;
        this.qHead[k] = (this.qHead[k]! + 1) % q.length;
        this.qLen[k]!--;
        const r = this.deliverOne(c);
        if (r < 0) {
          this.enqueue(k, c); // lane full or more data: later
        } else {
          this.bits[c] = this.bits[c]! & ~QUEUED;
        }
        done += r < 0 ? -r - 1 : r;
      }
    }
    this.delivered += done;
    return done;
  }

  /** Records written for c; encoded -(n + 1) when c still has work. */
  private deliverOne(c: number): number {
    const a = this.owner[c]!;
    if (a < 0) {
      this.bits[c] = QUEUED;
      return 0;
    }
    const w = this.writers[a]!;
    const cls = this.cls[c]!;
    let n = 0;
    let b = this.bits[c]!;
    if ((b & OPEN) !== 0) {
      if (!w.hasRoom()) return this.full(n);
      w.put(SplitEvent.Open, cls, 0, c, 0, this.tcp.localPort(c));
      n++;
      b &= ~OPEN;
      this.bits[c] = b;
    }
    if ((b & DATA) !== 0) {
      const t = this.tcp;
      const bytes = this.apps[a]!.events.bytes;
      const avail = t.recvAvailable(c);
      if (avail > 0) {
        if (!w.hasRoom()) return this.full(n);
        const want = avail < this.chunkBytes ? avail : this.chunkBytes;
        const pos = bytes.reserve(want);
        if (pos < 0) return this.full(n);
        const got = t.recv(c, bytes.u8, pos & bytes.mask, want);
        if (got > 0) {
          bytes.commit(pos, got);
          w.put(SplitEvent.Data, cls, 0, c, pos, got);
          n++;
        }
        if (got > 0 && t.recvAvailable(c) > 0) return -(n + 1);
      }
      b &= ~DATA;
      this.bits[c] = b;
    }
    if ((b & FIN) !== 0) {
      if (!w.hasRoom()) return this.full(n);
      w.put(SplitEvent.PeerFin, cls, 0, c, 0, 0);
      n++;
      b &= ~FIN;
      this.bits[c] = b;
    }
    if ((b & CLOSED) !== 0) {
      if (!w.hasRoom()) return this.full(n);
      w.put(SplitEvent.Closed, cls, 0, c, 0, this.closeErr[c]!);
      n++;
      this.bits[c] = b & ~CLOSED;
    }
    return n;
  }

  private full(n: number): number {
    this.laneFull++;
    return -(n + 1);
  }

  /** Run app `a`'s commands; returns how many finished. */
  private commands(a: number): number {
    const lane = this.apps[a]!.commands;
    const buf = this.cmdBuf[a]!;
    const bytes = lane.bytes;
    const t = this.tcp;
    let done = 0;
    let releaseTo = 0;
    let release = false;
    for (;;) {
      let i = this.cmdI[a]!;
      if (i >= this.cmdN[a]!) {
        const words = lane.records.popBatch(buf, buf.length);
        this.cmdN[a] = words / REC_WORDS;
        this.cmdI[a] = i = 0;
        if (words === 0) {
          this.wakers[a]!.arm();
          break;
        }
      }
      const k = i * REC_WORDS;
      const w0 = buf[k]!;
      const kind = w0 & 0xff;
      const c = buf[k + 1]!;
      const mine = c < this.owner.length && this.owner[c] === a;
      if (kind === SplitCommand.Send) {
        const pos = buf[k + 2]! | 0;
        const len = buf[k + 3]!;
        if (mine) {
          const ahead = ((w0 >>> 16) & FLAG_SEND_AHEAD) !== 0;
          const sent = ahead ? t.sendAhead(c, bytes.u8, pos & bytes.mask, len, (w0 >>> 8) & 0xff) : t.send(c, bytes.u8, pos & bytes.mask, len);
          if (sent >= 0 && sent < len) {
            // TCP's send buffer is full: keep the rest, retry next round (acks free space).
            if (!ahead) {
              buf[k + 2] = (pos + sent) | 0;
              buf[k + 3] = len - sent;
            }
            this.sendStalls++;
            break;
          }
        }
        releaseTo = (pos + len) | 0;
        release = true;
      } else if (mine) {
        if (kind === SplitCommand.Shutdown) {
          t.shutdown(c);
        } else if (kind === SplitCommand.Close || kind === SplitCommand.Abort) {
          if (kind === SplitCommand.Close) t.close(c);
          else t.abort(c);
          this.owner[c] = -1;
          this.bits[c] = this.bits[c]! & QUEUED;
        }
      }
      this.cmdI[a] = i + 1;
      done++;
    }
    if (release) bytes.release(releaseTo);
    this.commandsDone += done;
    return done;
  }

  private sendStops(): void {
    for (let a = 0; a < this.apps.length; a++) {
      if (this.stopSent[a]) continue;
      const w = this.writers[a]!;
      if (!w.hasRoom()) continue;
      w.put(SplitEvent.Stop, 0, 0, 0, 0, 0);
      this.stopSent[a] = true;
    }
  }
}
