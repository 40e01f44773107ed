/**
 * One TCP connection held by an app (the object TcpSockets hands to socket
 * handlers), and the option and handler types of the sockets API. Shaped after
 * Bun's Socket: write/end/shutdown/terminate, pause/resume, setNoDelay, plus
 * zero-copy reserve/commit and readView/release.
 */
import { errnoName } from "../tcp/errno";
import { TcpState } from "../tcp/state";
import { formatIpv4 } from "../wire/ip-addr";
import type { TcpSockets } from "./tcp-sockets";

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

export interface CommonOptions<T> {
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
