/**
 * The generator (generator.ts) on Bun's kernel sockets, for the baseline (on
 * our stack it drives TCP by connection id: id-client.ts). With kernel sockets a client source
 * address can only be chosen through node:net (Bun.connect has no local
 * address option), so node:net is used when --ips names source addresses and
 * Bun.connect otherwise.
 */
import { connect as netConnect, type Socket as NetSocket } from "node:net";
import type { Socket } from "bun";
import { monotonicUs } from "../../src/api/clock";
import type { GenEvents, GenTransport } from "./generator";

/**
 * Bytes a socket did not take at once, per connection, written on drain.
 * The common case (everything written) allocates nothing; a short write
 * copies the rest, since the caller reuses its buffer.
 */
export class PendingWrites {
  private readonly rest: (Uint8Array | undefined)[] = [];

  /** Write through `write` unless earlier bytes wait; returns false when the socket is gone. */
  send(i: number, buf: Uint8Array, len: number, write: (b: Uint8Array, off: number, len: number) => number): boolean {
    const r = this.rest[i];
    if (r !== undefined) {
      const m = new Uint8Array(r.length + len);
      m.set(r, 0);
      m.set(buf.subarray(0, len), r.length);
      this.rest[i] = m;
      return true;
    }
    const n = write(buf, 0, len);
    if (n < 0) return false;
    if (n < len) this.rest[i] = buf.slice(n, len);
    return true;
  }

  drain(i: number, write: (b: Uint8Array, off: number, len: number) => number): void {
    const r = this.rest[i];
    if (r === undefined) return;
    const n = write(r, 0, r.length);
    if (n < 0 || n >= r.length) this.rest[i] = undefined;
    else this.rest[i] = r.slice(n);
  }

  clear(i: number): void {
    this.rest[i] = undefined;
  }

  /** Bytes waiting, all connections (end-of-run report; walks the array). */
  bytes(): number {
    let n = 0;
    for (const r of this.rest) if (r !== undefined) n += r.length;
    return n;
  }
}

/** Late binding: the generator needs the transport and the transport needs the generator. */
export interface ClientTransport extends GenTransport {
  bind(gen: GenEvents): void;
}

interface KConn {
  i: number;
}

/**
 * Bun's kernel sockets; connection i goes to port + i mod ports. `sourceIps`:
 * client addresses to bind, used round-robin (node:net); empty = let the
 * kernel choose (Bun.connect).
 */
export function kernelClient(host: string, port: number, ports = 1, sourceIps: string[] = [], clockUs: () => number = monotonicUs): ClientTransport {
  let gen: GenEvents | null = null;
  const bunSocks: (Socket<KConn> | undefined)[] = [];
  const netSocks: (NetSocket | undefined)[] = [];
  const pending = new PendingWrites();
  const useNet = sourceIps.length > 0;
  return {
    bind(g) {
      gen = g;
    },
    connect(i) {
      if (useNet) {
        const s = netConnect({ host, port: port + (i % ports), localAddress: sourceIps[i % sourceIps.length], noDelay: true });
        let opened = false;
        s.on("connect", () => {
          opened = true;
          netSocks[i] = s;
          gen!.opened(i);
        });
        s.on("data", (d: Buffer) => gen!.data(i, d, 0, d.length, clockUs()));
        s.on("error", () => {
          if (!opened) gen!.connectFailed(i);
        });
        s.on("close", () => {
          if (netSocks[i] === s) netSocks[i] = undefined;
          if (opened) gen!.closed(i);
        });
        return;
      }
      Bun.connect<KConn>({
        hostname: host,
        port: port + (i % ports),
        data: { i },
        socket: {
          open(s) {
            bunSocks[s.data.i] = s;
            pending.clear(s.data.i);
            s.setNoDelay(true);
            gen!.opened(s.data.i);
          },
          drain(s) {
            pending.drain(s.data.i, (b, off, len) => s.write(b, off, len));
          },
          data(s, d) {
            gen!.data(s.data.i, d, 0, d.length, clockUs());
          },
          close(s) {
            if (bunSocks[s.data.i] === s) bunSocks[s.data.i] = undefined;
            gen!.closed(s.data.i);
          },
          connectError(s) {
            gen!.connectFailed(s.data.i);
          },
          error() {
            // close follows
          },
        },
      }).catch(() => gen!.connectFailed(i));
    },
    send(i, buf, len) {
      if (useNet) {
        const s = netSocks[i];
        if (s === undefined) return false;
        // node:net may queue the buffer it is given: hand it a copy (the caller reuses buf).
        s.write(buf.slice(0, len));
        return true;
      }
      const s = bunSocks[i];
      if (s === undefined) return false;
      return pending.send(i, buf, len, (b, off, n) => s.write(b, off, n));
    },
    close(i) {
      if (useNet) netSocks[i]?.end();
      else bunSocks[i]?.end();
    },
  };
}
