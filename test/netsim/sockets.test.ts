import { describe, expect, test } from "bun:test";
import type { SocketError, TcpSocket } from "../../src/api/tcp-sockets";
import { StackPair } from "../helpers/stack-pair";

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

function sha(b: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(b).digest("hex");
}

/** An echo server with backpressure, as apps/echo.ts does it. */
function echoServer(p: StackPair, port: number) {
  const pending = new Map<number, Uint8Array>();
  const st = { accepted: 0, closed: 0 };
  p.sb.listen({
    port,
    socket: {
      open() {
        st.accepted++;
      },
      data(s, d) {
        const n = Math.max(0, s.write(d));
        if (n < d.length) {
          pending.set(s.id, d.subarray(n));
          s.pause();
        }
      },
      drain(s) {
        const r = pending.get(s.id);
        if (!r) return;
        const n = Math.max(0, s.write(r));
        if (n < r.length) pending.set(s.id, r.subarray(n));
        else {
          pending.delete(s.id);
          s.resume();
        }
      },
      end(s) {
        s.end();
      },
      close() {
        st.closed++;
      },
    },
  });
  return st;
}

/** A client that sends `payload`, half-closes, and collects what comes back. */
function client(p: StackPair, port: number, payload: Uint8Array) {
  const got: Uint8Array[] = [];
  const st = { opened: false, ended: false, closed: false, error: null as SocketError | null, received: 0 };
  let off = 0;
  const pump = (s: TcpSocket<undefined>) => {
    while (off < payload.length) {
      const n = s.write(payload, off, Math.min(65536, payload.length - off));
      if (n <= 0) return;
      off += n;
    }
    s.shutdown();
  };
  p.sa.connect({
    hostname: "10.0.0.2",
    port,
    socket: {
      open(s) {
        st.opened = true;
        pump(s);
      },
      drain(s) {
        pump(s);
      },
      data(_s, d) {
        got.push(d);
        st.received += d.length;
      },
      end(s) {
        st.ended = true;
        s.end();
      },
      close(_s, e) {
        st.closed = true;
        if (e) st.error = e;
      },
    },
  });
  return {
    st,
    joined(): Uint8Array {
      const out = new Uint8Array(st.received);
      let o = 0;
      for (const g of got) {
        out.set(g, o);
        o += g.length;
      }
      return out;
    },
  };
}

describe("sockets API over two full stacks (Ethernet/ARP/IPv4/TCP) in virtual time", () => {
  test("echo of 256 KiB with half-close arrives intact and both sides close", () => {
    const p = new StackPair();
    const srv = echoServer(p, 7);
    const payload = bytes(256 * 1024, 42);
    const c = client(p, 7, payload);
    p.run(60_000_000, () => c.st.closed && srv.closed === 1);
    expect(c.st.opened).toBe(true);
    expect(c.st.error).toBeNull();
    expect(c.st.received).toBe(payload.length);
    expect(sha(c.joined())).toBe(sha(payload));
    expect(c.st.ended).toBe(true);
    expect(srv.accepted).toBe(1);
    expect(srv.closed).toBe(1);
  });

  test("connect to a port nobody listens on fails with ECONNREFUSED", async () => {
    const p = new StackPair();
    let err: SocketError | null = null;
    const pr = p.sa.connect({ hostname: "10.0.0.2", port: 9, socket: { connectError(_s, e) { err = e; } } }).catch((e) => e);
    p.run(5_000_000, () => err !== null);
    expect((err as SocketError | null)?.code).toBe("ECONNREFUSED");
    expect((await pr).code).toBe("ECONNREFUSED");
  });

  test("echo through 5 % loss, duplication and reordering arrives intact", () => {
    const p = new StackPair({ faults: { delayUs: 200, jitterUs: 100, loss: 0.05, duplicate: 0.01, reorder: 0.02, reorderUs: 500 }, seed: 3 });
    echoServer(p, 7);
    const payload = bytes(512 * 1024, 7);
    const c = client(p, 7, payload);
    p.run(600_000_000, () => c.st.closed);
    expect(c.st.error).toBeNull();
    expect(sha(c.joined())).toBe(sha(payload));
  });
});
