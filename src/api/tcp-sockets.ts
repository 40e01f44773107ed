/**
 * The sockets API: Bun-style `listen` / `connect` with socket handlers
 * (open, data, drain, end, close, error, connectError), shaped after
 * Bun.listen / Bun.connect so it feels familiar, over the connection-id
 * TcpLayer. A TcpSocket object exists only while the app holds a connection.
 *
 * Events from TCP are queued (EventQueue) and delivered in the app phase of the
 * poll round, never inside protocol processing. `data` receives a fresh
 * Uint8Array per delivery, like Bun; with `zeroCopy: true` it receives a view
 * of the receive buffer itself (valid during the callback, released after it).
 * Zero-copy sending: socket.reserve(n) gives stack-provided buffer space,
 * socket.commit(n) queues it; socket.readView()/release(n) read in place.
 */
import { type MemoryProvider, TcpEvent, TcpLayer } from "../tcp/tcp-layer";
import { makeTcpConfig, type TcpConfig } from "../tcp/config";
import { EAGAIN, errnoName } from "../tcp/errno";
import { TcpState } from "../tcp/state";
import { cryptoRng } from "../net/seeded-rng";
import { formatIpv4, parseIpv4 } from "../wire/ip-addr";
import type { PollStage } from "../sched/poll-loop";
import { PriorityEventQueues } from "./event-queue";
import { MAX_CLASSES } from "../net/tx-queues";
import type { Stack } from "./stack";

/** A socket failure with its POSIX name (ECONNREFUSED, ECONNRESET, ETIMEDOUT, ...). */
export class SocketError extends Error {
  readonly errno: number;
  constructor(readonly code: string, errno: number, message?: string) {
    super(message ?? code);
    this.name = "SocketError";
    this.errno = errno;
  }
  static from(negErrno: number, what: string): SocketError {
    const name = errnoName(negErrno);
    return new SocketError(name, Math.abs(negErrno), `${what}: ${name}`);
  }
}

export interface SocketHandler<T> {
  open?(socket: TcpSocket<T>): void;
  data?(socket: TcpSocket<T>, data: Uint8Array): void;
  drain?(socket: TcpSocket<T>): void;
  /** The peer sent FIN and every byte before it was delivered. */
  end?(socket: TcpSocket<T>): void;
  close?(socket: TcpSocket<T>, error?: SocketError): void;
  error?(socket: TcpSocket<T>, error: SocketError): void;
  connectError?(socket: TcpSocket<T>, error: SocketError): void;
}

interface CommonOptions<T> {
  socket: SocketHandler<T>;
  /** Initial `socket.data` for each socket. */
  data?: T;
  noDelay?: boolean;
  keepAlive?: boolean;
  /** Pass `data` views of the receive buffer itself, valid only during the callback (no copy). */
  zeroCopy?: boolean;
  /** Transmit class of the connection, 0 (highest) .. 7 (lowest, the default). */
  priority?: number;
  /** The connection's transmit class follows the class of the last data segment received. */
  priorityFollowsRx?: boolean;
  /**
   * Message mode (src/tcp/message-mode.ts): each in-order high-priority segment
   * is one message, delivered before earlier low-priority bytes still unread;
   * `socket.messageClass` tells which a `data` call carries.
   */
  messageMode?: boolean;
}

/** write() flag: queue the bytes as one message ahead of unsent data, in the high class (message mode send-ahead). */
export const SEND_AHEAD = 1;

export interface ListenOptions<T> extends CommonOptions<T> {
  /** Local address to bind; "0.0.0.0" or absent for the interface's address. */
  hostname?: string;
  port: number;
  backlog?: number;
}

export interface ConnectOptions<T> extends CommonOptions<T> {
  hostname: string;
  port: number;
  /** Local port; 0 or absent for a randomized ephemeral port. */
  localPort?: number;
  /** Local address (one the interface owns, see NetInterface.addAddressRange); default the primary. */
  localAddress?: string;
}

const encoder = new TextEncoder();
/** Synthetic event kind: the app released a socket (not a TcpEvent). */
const EV_RELEASED = 100;

export class TcpSocket<T = undefined> {
  data: T;
  /** Bytes accepted by write() so far. */
  bytesWritten = 0;
  /** True after end() or terminate(): the id is given back to TCP. */
  private released = false;
  private closedFired = false;
  /** @internal */ connecting: boolean;
  /** @internal */ resolveConnect: ((s: TcpSocket<T>) => void) | null = null;
  /** @internal */ rejectConnect: ((e: SocketError) => void) | null = null;

  constructor(
    private readonly api: TcpSockets,
    readonly id: number,
    /** @internal */ readonly handler: SocketHandler<T>,
    data: T,
    /** @internal */ readonly zeroCopy: boolean,
    connecting: boolean,
  ) {
    this.data = data;
    this.connecting = connecting;
  }

  get remoteAddress(): string {
    return formatIpv4(this.api.tcp.remoteIp(this.id));
  }
  get remotePort(): number {
    return this.api.tcp.remotePort(this.id);
  }
  get localAddress(): string {
    return formatIpv4(this.api.tcp.localIp(this.id));
  }
  get localPort(): number {
    return this.api.tcp.localPort(this.id);
  }
  /** "opening" | "open" | "closing" | "closed" */
  get readyState(): string {
    if (this.closedFired) return "closed";
    if (this.released) return "closing";
    const s = this.api.tcp.state(this.id);
    if (s === TcpState.SynSent || s === TcpState.SynReceived) return "opening";
    if (s === TcpState.Established || s === TcpState.CloseWait) return "open";
    return s === TcpState.Closed ? "closed" : "closing";
  }

  /**
   * During a `data` call: the priority class of the express message it carries
   * (message mode), or -1 for stream bytes.
   */
  messageClass = -1;

  /**
   * Queue bytes for sending. Returns how many were queued: fewer than given
   * when the send buffer is full (write the rest from `drain`), -1 when the
   * socket can no longer send. With `flags` SEND_AHEAD the bytes are one
   * message queued ahead of unsent data and sent in class 0: all of it or
   * nothing (0).
   */
  write(data: string | Uint8Array, byteOffset = 0, byteLength?: number, flags = 0): number {
    if (this.released) return -1;
    const buf = typeof data === "string" ? encoder.encode(data) : data;
    const len = byteLength ?? buf.length - byteOffset;
    const n = (flags & SEND_AHEAD) !== 0 ? this.api.tcp.sendAhead(this.id, buf, byteOffset, len, 0) : this.api.tcp.send(this.id, buf, byteOffset, len);
    if (n < 0) return -1;
    this.bytesWritten += n;
    return n;
  }

  /**
   * Zero-copy send: a view of up to `n` bytes of stack-provided send-buffer
   * space (at most one buffer chunk), or null when none is free now (write
   * more from `drain`). Fill it, then commit() how many bytes you wrote.
   */
  reserve(n: number): Uint8Array | null {
    if (this.released) return null;
    const t = this.api.tcp;
    const got = t.sendReserve(this.id, n, this.api.zspan);
    if (got <= 0) return null;
    const o = this.api.zspan[0]!;
    return t.pool.mem.subarray(o, o + got);
  }

  /** Queue `n` bytes written into the view reserve() returned. */
  commit(n: number): void {
    if (this.released || n <= 0) return;
    this.api.tcp.sendCommit(this.id, n);
    this.bytesWritten += n;
  }

  /**
   * Zero-copy receive outside the `data` callback (a paused socket): a view of
   * the readable bytes in the receive buffer, valid until release(); null when
   * none are readable.
   */
  readView(): Uint8Array | null {
    const t = this.api.tcp;
    const n = t.recvView(this.id, this.api.zspan);
    if (n <= 0) return null;
    const o = this.api.zspan[0]!;
    return t.pool.mem.subarray(o, o + n);
  }

  /** Give back `n` bytes read through readView() (opens TCP's window). */
  release(n: number): void {
    this.api.tcp.recvRelease(this.id, n);
  }

  /** Optionally write `data`, then close gracefully (FIN after queued data). */
  end(data?: string | Uint8Array): void {
    if (this.released) return;
    if (data !== undefined) this.write(data);
    this.released = true;
    this.api.tcp.close(this.id);
    this.api.released(this);
  }

  /** Half-close: send FIN after queued data but keep receiving. */
  shutdown(): void {
    if (!this.released) this.api.tcp.shutdown(this.id);
  }

  /** Reset the connection now (RST). */
  terminate(): void {
    if (this.released) return;
    this.released = true;
    this.api.tcp.abort(this.id);
    this.api.released(this);
  }

  /** Stop delivering `data`: bytes stay in TCP's receive buffer and its window closes (backpressure). */
  pause(): void {
    this.paused = true;
  }

  /** Deliver again, starting with what arrived while paused. */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.api.wake(this.id);
  }

  /** @internal */ paused = false;
  /** @internal */ eofSeen = false;

  setNoDelay(on = true): void {
    if (!this.released) this.api.tcp.setNoDelay(this.id, on);
  }

  setKeepAlive(on = true): void {
    if (!this.released) this.api.tcp.setKeepAlive(this.id, on);
  }

  /** Transmit class of this connection: 0 (highest) .. 7 (lowest, the default). */
  setPriority(cls: number): void {
    if (!this.released) this.api.tcp.setPriority(this.id, cls);
  }

  get priority(): number {
    return this.api.tcp.priority(this.id);
  }

  /** Follow the class of the last data segment received. */
  setPriorityFollowsRx(on = true): void {
    if (!this.released) this.api.tcp.setPriorityFollowsRx(this.id, on);
  }

  /** Message mode on or off (see ListenOptions.messageMode). */
  setMessageMode(on = true): void {
    if (!this.released) this.api.tcp.setMessageMode(this.id, on);
  }

  /** @internal */ get isReleased(): boolean {
    return this.released;
  }
  /** @internal */ markClosed(): boolean {
    if (this.closedFired) return false;
    this.closedFired = true;
    this.released = true;
    return true;
  }
}

export class TcpListener<T = undefined> {
  private stopped = false;
  constructor(
    private readonly api: TcpSockets,
    readonly id: number,
    readonly hostname: string,
    readonly port: number,
    /** @internal */ readonly opts: ListenOptions<T>,
  ) {}

  /** Stop accepting; connections already accepted stay open. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.api.unlisten(this);
  }
}

export class TcpSockets implements PollStage {
  readonly tcp: TcpLayer;
  /** Events per priority class; delivered highest class first (QStack's prioritized events). */
  readonly events: PriorityEventQueues;
  private readonly sockets: (TcpSocket<any> | undefined)[] = [];
  private readonly listeners: (TcpListener<any> | undefined)[] = [];
  private readonly ev = new Int32Array(3);
  private readonly scratch = new Uint8Array(64 * 1024);
  private nowUs = 0;
  /** Exceptions thrown by handlers (logged, never allowed to stop the loop). */
  handlerErrors = 0;

  constructor(
    private readonly stack: Stack,
    config: Partial<TcpConfig> = {},
    opts: { rng?: () => number; memory?: MemoryProvider } = {},
  ) {
    this.events = new PriorityEventQueues(MAX_CLASSES, () => stack.rxClass, 4096);
    this.tcp = new TcpLayer({
      config: makeTcpConfig(config), tx: stack.netif.out, rng: opts.rng ?? cryptoRng(), nowUs: stack.loop.clock(), events: this.events, memory: opts.memory,
    });
    stack.setTransport(this.tcp);
    stack.addAppStage(this);
  }

  private localAddress(hostname: string | undefined): number {
    if (hostname === undefined || hostname === "0.0.0.0" || hostname === "") return 0;
    const ip = parseIpv4(hostname);
    if (ip === -1) throw new SocketError("EINVAL", 22, `not an IPv4 address: ${hostname}`);
    if (!this.stack.netif.addrs.isLocal(ip)) throw new SocketError("EADDRNOTAVAIL", 99, `${hostname} is not this interface's address`);
    return ip;
  }

  listen<T = undefined>(opts: ListenOptions<T>): TcpListener<T> {
    const lip = this.localAddress(opts.hostname);
    const id = this.tcp.listen(lip, opts.port, opts.backlog ?? 0, { noDelay: opts.noDelay, keepAlive: opts.keepAlive });
    if (id < 0) throw SocketError.from(id, `listen on port ${opts.port}`);
    const l = new TcpListener<T>(this, id, opts.hostname ?? "0.0.0.0", opts.port, opts);
    this.listeners[id] = l;
    return l;
  }

  /**
   * @internal The app gave the id back (end/terminate): TCP sends no more events
   * for it, so `close` fires from the event queue, still in this app phase and
   * before TCP can reuse the id.
   */
  released(s: TcpSocket<any>): void {
    this.events.eventIn(0, s.id, EV_RELEASED, 0);
  }

  /** @internal */ wake(id: number): void {
    this.events.event(id, TcpEvent.Readable, 0);
  }

  /** @internal */ unlisten(l: TcpListener<any>): void {
    this.tcp.closeListener(l.id);
    this.listeners[l.id] = undefined;
  }

  connect<T = undefined>(opts: ConnectOptions<T>): Promise<TcpSocket<T>> {
    const rip = parseIpv4(opts.hostname);
    if (rip === -1) return Promise.reject(new SocketError("EINVAL", 22, `not an IPv4 address: ${opts.hostname}`));
    let lip = this.stack.netif.ip;
    if (opts.localAddress !== undefined) {
      lip = parseIpv4(opts.localAddress);
      if (lip === -1 || !this.stack.netif.addrs.isLocal(lip)) return Promise.reject(new SocketError("EADDRNOTAVAIL", 99, `${opts.localAddress} is not an address of this interface`));
    }
    const c = this.tcp.connect(this.stack.loop.clock(), lip, opts.localPort ?? 0, rip, opts.port, { noDelay: opts.noDelay, keepAlive: opts.keepAlive });
    if (c < 0) return Promise.reject(SocketError.from(c, `connect to ${opts.hostname}:${opts.port}`));
    const s = new TcpSocket<T>(this, c, opts.socket, opts.data as T, opts.zeroCopy === true, true);
    this.applyPriority(c, opts);
    this.adopt(c, s);
    return new Promise((resolve, reject) => {
      s.resolveConnect = resolve;
      s.rejectConnect = reject;
    });
  }

  private applyPriority(c: number, o: CommonOptions<any>): void {
    if (o.priority !== undefined) this.tcp.setPriority(c, o.priority);
    if (o.priorityFollowsRx === true) this.tcp.setPriorityFollowsRx(c, true);
    if (o.messageMode === true) this.tcp.setMessageMode(c, true);
  }

  /** Put `s` at id `c`; a previous socket there whose close never fired gets it now. */
  private adopt(c: number, s: TcpSocket<any>): void {
    const old = this.sockets[c];
    if (old !== undefined && old !== s) this.fireClose(old, undefined);
    this.sockets[c] = s;
  }

  // ---- PollStage: deliver events in the app phase --------------------------------

  poll(nowUs: number): number {
    this.nowUs = nowUs;
    let n = 0;
    const ev = this.ev;
    while (this.events.pop(ev)) {
      n++;
      this.dispatch(ev[0]!, ev[1]!, ev[2]!);
    }
    return n;
  }

  pollAt(): number {
    return this.events.size > 0 ? this.nowUs : Number.POSITIVE_INFINITY;
  }

  private dispatch(id: number, kind: number, arg: number): void {
    switch (kind) {
      case TcpEvent.Accept:
        this.onAccept(id);
        return;
      case TcpEvent.Connected: {
        const s = this.sockets[id];
        if (s === undefined || !s.connecting) return;
        s.connecting = false;
        const r = s.resolveConnect;
        s.resolveConnect = s.rejectConnect = null;
        this.call(s, "open");
        if (r !== null) r(s);
        return;
      }
      case TcpEvent.Readable:
        this.deliverData(id);
        return;
      case TcpEvent.PeerFin:
        // deliverData reads to the end of the stream and fires `end` there.
        this.deliverData(id);
        return;
      case TcpEvent.Writable: {
        const s = this.sockets[id];
        if (s !== undefined && !s.isReleased) this.call(s, "drain");
        return;
      }
      case EV_RELEASED: {
        const s = this.sockets[id];
        if (s === undefined || !s.isReleased) return;
        this.fireClose(s, undefined);
        this.sockets[id] = undefined;
        return;
      }
      case TcpEvent.Closed: {
        const s = this.sockets[id];
        if (s === undefined) return;
        if (arg === 0) this.deliverData(id);
        const err = arg < 0 ? SocketError.from(arg, "connection") : undefined;
        const wasReleased = s.isReleased;
        this.fireClose(s, err);
        this.sockets[id] = undefined;
        // Give the id back unless the app already did (end/terminate).
        if (!wasReleased) this.tcp.close(id);
        return;
      }
    }
  }

  private onAccept(listenerId: number): void {
    const l = this.listeners[listenerId];
    for (;;) {
      const c = this.tcp.accept(listenerId);
      if (c < 0) return;
      if (l === undefined) {
        this.tcp.abort(c);
        continue;
      }
      const o = l.opts;
      const s = new TcpSocket(this, c, o.socket, o.data, o.zeroCopy === true, false);
      this.applyPriority(c, o);
      this.adopt(c, s);
      this.call(s, "open");
      // Data (even the peer's FIN) may have arrived before the app took the connection.
      this.deliverData(c);
    }
  }

  /**
   * Read everything readable and hand it to `data`; at the end of the stream
   * (the peer's FIN, every byte before it delivered) fire `end` once.
   */
  private deliverData(id: number): void {
    const s = this.sockets[id];
    if (s === undefined || s.isReleased || s.paused) return;
    if (s.zeroCopy && !this.deliverInPlace(s, id)) return;
    const scratch = this.scratch;
    for (;;) {
      const n = this.tcp.recv(id, scratch, 0, scratch.length);
      if (n === 0) {
        if (!s.eofSeen) {
          s.eofSeen = true;
          this.call(s, "end");
        }
        return;
      }
      if (n < 0) return;
      const h = s.handler.data;
      if (h !== undefined) {
        const view = s.zeroCopy ? scratch.subarray(0, n) : scratch.slice(0, n);
        s.messageClass = this.tcp.lastRecvClass;
        try {
          h(s, view);
        } catch (e) {
          this.handlerFailed(s, e);
        }
        s.messageClass = -1;
      }
      if (s.isReleased || s.paused) return;
    }
  }

  /**
   * zeroCopy sockets: hand `data` views of the receive buffer itself, released
   * when the callback returns. Returns false when the socket stopped reading
   * (paused or released); true to go on with recv() (express messages, EOF).
   */
  private deliverInPlace(s: TcpSocket<any>, id: number): boolean {
    const span = this.span;
    const mem = this.tcp.pool.mem;
    const h = s.handler.data;
    for (;;) {
      const n = this.tcp.recvView(id, span);
      if (n === 0) return true;
      if (h !== undefined) {
        s.messageClass = -1;
        try {
          h(s, mem.subarray(span[0]!, span[0]! + n));
        } catch (e) {
          this.handlerFailed(s, e);
        }
      }
      this.tcp.recvRelease(id, n);
      if (s.isReleased || s.paused) return false;
    }
  }

  private readonly span = new Int32Array(2);
  /** @internal Scratch for the zero-copy socket calls. */
  readonly zspan = new Int32Array(2);

  private fireClose(s: TcpSocket<any>, err: SocketError | undefined): void {
    if (!s.markClosed()) return;
    if (s.connecting) {
      s.connecting = false;
      const rej = s.rejectConnect;
      s.resolveConnect = s.rejectConnect = null;
      const e = err ?? new SocketError("ECONNABORTED", 103, "connection closed before it was established");
      if (s.handler.connectError !== undefined) this.callArg(s, "connectError", e);
      if (rej !== null) rej(e);
      return;
    }
    if (err !== undefined && s.handler.error !== undefined) this.callArg(s, "error", err);
    this.callArg(s, "close", err);
  }

  private call(s: TcpSocket<any>, name: "open" | "end" | "drain"): void {
    const h = s.handler[name];
    if (h === undefined) return;
    try {
      h.call(s.handler, s);
    } catch (e) {
      this.handlerFailed(s, e);
    }
  }

  private callArg(s: TcpSocket<any>, name: "close" | "error" | "connectError", err: SocketError | undefined): void {
    const h = s.handler[name] as ((s: TcpSocket<any>, e?: SocketError) => void) | undefined;
    if (h === undefined) return;
    try {
      h.call(s.handler, s, err);
    } catch (e) {
      this.handlerFailed(s, e);
    }
  }

  private handlerFailed(s: TcpSocket<any>, e: unknown): void {
    this.handlerErrors++;
    console.error(`qstack: socket handler threw (${(e as Error)?.message ?? e}); resetting connection ${s.id}`);
    s.terminate();
  }

  /** Open sockets the app holds. */
  openSockets(): number {
    let n = 0;
    for (const s of this.sockets) if (s !== undefined) n++;
    return n;
  }
}
