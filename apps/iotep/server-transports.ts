/**
 * The iotepserver logic (server.ts) on Bun's kernel sockets (Bun.listen), for
 * the baseline: ids come from an IdPool (a free list on an Int32Array), so the
 * server logic sees small integer ids as it does on our stack (epoll-server.ts,
 * where the id is the TCP connection id). OwedReplies is shared by both.
 *
 * Replies that the send buffer cannot take at once are not lost: the number
 * of reply bytes still owed per connection is kept (a Uint32Array), and the
 * rest is written on `drain`. Every reply is the same 146 bytes apart from the
 * Date, so the owed bytes are re-created from the current reply.
 */
import type { Socket, SocketHandler as BunSocketHandler, TCPSocketListener } from "bun";
import { REPLY_LEN, ReplyBuilder } from "./protocol";
import type { IotepServer, ReplySink } from "./server";

/** Small integer ids with reuse (free list). */
export class IdPool {
  private free: Int32Array;
  private freeCount = 0;
  private next = 0;
  constructor(initial = 1024) {
    this.free = new Int32Array(Math.max(1, initial));
  }
  take(): number {
    if (this.freeCount > 0) return this.free[--this.freeCount]!;
    return this.next++;
  }
  give(id: number): void {
    if (this.freeCount === this.free.length) {
      const f = new Int32Array(this.free.length * 2);
      f.set(this.free);
      this.free = f;
    }
    this.free[this.freeCount++] = id;
  }
  /** Ids handed out and not given back. */
  get inUse(): number {
    return this.next - this.freeCount;
  }
}

/** Owed reply bytes per connection, written when the socket drains. */
export class OwedReplies {
  private owed = new Uint32Array(1024);
  private readonly fill = new ReplyBuilder();
  /** Replies that could not be written at all (socket closing). */
  lost = 0;

  reset(conn: number): void {
    if (conn < this.owed.length) this.owed[conn] = 0;
  }

  has(conn: number): boolean {
    return conn < this.owed.length && this.owed[conn]! > 0;
  }

  add(conn: number, bytes: number): void {
    if (conn >= this.owed.length) {
      let n = this.owed.length;
      while (n <= conn) n *= 2;
      const o = new Uint32Array(n);
      o.set(this.owed);
      this.owed = o;
    }
    this.owed[conn] = this.owed[conn]! + bytes;
  }

  /** Write what is owed with `write(buf, off, len) -> written`; returns true when nothing is owed any more. */
  flush(conn: number, write: (buf: Uint8Array, off: number, len: number) => number): boolean {
    if (conn >= this.owed.length) return true;
    let owe = this.owed[conn]!;
    const buf = this.fill.at(Date.now());
    while (owe > 0) {
      const inReply = owe % REPLY_LEN === 0 ? REPLY_LEN : owe % REPLY_LEN;
      const off = REPLY_LEN - inReply;
      const n = write(buf, off, inReply);
      if (n < 0) {
        this.lost++;
        owe = 0;
        break;
      }
      owe -= n;
      if (n < inReply) break;
    }
    this.owed[conn] = owe;
    return owe === 0;
  }
}

export interface ServedHandle {
  /** Stop accepting new connections. */
  stopListening(): void;
  /** Close every open connection (graceful FIN). */
  closeAll(): void;
  readonly openConnections: number;
  readonly port: number;
}

interface KernelConn {
  id: number;
}

/**
 * Serve `server` on Bun's kernel TCP sockets (Bun.listen), on `ports`
 * consecutive ports from `port` (port 0: one port the kernel picks);
 * `reusePort` lets several processes share the ports.
 */
export function serveOnKernel(server: IotepServer, hostname: string, port: number, opts: { reusePort?: boolean; ports?: number } = {}): ServedHandle & ReplySink {
  const ids = new IdPool(4096);
  const open: (Socket<KernelConn> | undefined)[] = [];
  const owed = new OwedReplies();
  let openCount = 0;
  const listeners: TCPSocketListener<KernelConn>[] = [];
  // Bun.listen takes reusePort (SO_REUSEPORT) at runtime; its typings lack it.
  const reuse = (opts.reusePort === true ? { reusePort: true } : {}) as object;
  const socket: BunSocketHandler<KernelConn> = {
    open(s) {
      const id = ids.take();
      s.data = { id };
      open[id] = s;
      openCount++;
      owed.reset(id);
      s.setNoDelay(true);
      server.open(id);
    },
    data(s, d) {
      server.data(s.data.id, d, 0, d.length);
    },
    drain(s) {
      owed.flush(s.data.id, (b, off, len) => s.write(b, off, len));
    },
    end(s) {
      s.end();
    },
    close(s) {
      const id = s.data.id;
      if (id >= 0 && open[id] === s) {
        open[id] = undefined;
        openCount--;
        server.close(id);
        ids.give(id);
        s.data.id = -1;
      }
    },
    error() {
      // a reset connection; close follows
    },
  };
  const n = port === 0 ? 1 : (opts.ports ?? 1);
  for (let k = 0; k < n; k++) listeners.push(Bun.listen<KernelConn>({ ...reuse, hostname, port: port === 0 ? 0 : port + k, data: { id: -1 }, socket }));
  const boundPort = listeners[0]!.port;
  return {
    port: boundPort,
    get openConnections() {
      return openCount;
    },
    reply(conn: number, buf: Uint8Array, len: number): boolean {
      const s = open[conn];
      if (s === undefined) return false;
      if (owed.has(conn)) {
        owed.add(conn, len);
        return true;
      }
      const n = s.write(buf, 0, len);
      if (n < 0) return false;
      if (n < len) owed.add(conn, len - n);
      return true;
    },
    stopListening() {
      for (const l of listeners) l.stop(false);
      listeners.length = 0;
    },
    closeAll() {
      for (const s of open) if (s !== undefined) s.end();
    },
  };
}
