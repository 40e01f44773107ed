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
import { cryptoRng } from "../net/seeded-rng";
import { parseIpv4 } from "../wire/ip-addr";
import type { PollStage } from "../sched/poll-loop";
import { PriorityEventQueues } from "./event-queue";
import { MAX_CLASSES } from "../net/tx-queues";
import type { Stack } from "./stack";

export * from "./tcp-socket";
import {
  type CommonOptions, type ConnectOptions, type ListenOptions, SocketError, type SocketHandler, TcpSocket,
} from "./tcp-socket";

/** Synthetic event kind: the app released a socket (not a TcpEvent). */
const EV_RELEASED = 100;

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
    // deliverData reads until recv() says EAGAIN: one Readable per burst is enough.
    this.tcp.readableEdge = true;
    // The stack flushes after every receive burst: one ACK per burst (receive.ts scheduleAck).
    this.tcp.ackPerBurst = true;
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
