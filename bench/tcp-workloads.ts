/**
 * The workloads of bench/tcp, written once against the Bun-style socket
 * handlers that both Bun.listen/Bun.connect (kernel sockets) and our
 * TcpSockets (src/api/tcp-sockets.ts) take, so both sides run the same code:
 *
 * - bulk: one connection; the client writes as fast as the socket takes bytes,
 *   the server counts them. Throughput is measured at the receiver over a
 *   window that starts `warmupS` after the first byte (JIT warm-up, slow start).
 * - rr: `conns` connections; the server echoes; the client sends `size`-byte
 *   requests and times each response.
 *     closed loop (rate 0): one request in flight per connection, the next sent
 *       when the response completes; latency is send -> response (nothing is
 *       scheduled, so there is no omission to correct).
 *     open loop (rate R): requests are scheduled at R per second in total,
 *       round-robin over the connections, whatever the responses do; latency
 *       is measured from the *intended* send time, which corrects for
 *       coordinated omission (a stalled server cannot hide its queueing).
 * Latencies go into an HdrHistogram (hdr-histogram-js) in microseconds.
 */
import * as hdr from "hdr-histogram-js";

/** The part of a socket the workloads use (Bun's Socket and our TcpSocket both fit). */
export interface BenchSocket {
  write(data: Uint8Array, byteOffset?: number, byteLength?: number): number;
  /** Zero-copy send (our TcpSocket): stack buffer space to fill, then commit(n). Kernel sockets lack it. */
  reserve?(n: number): Uint8Array | null;
  commit?(n: number): void;
  end(): void;
  data: unknown;
}

export interface BenchHandler {
  open?(s: BenchSocket): void;
  data?(s: BenchSocket, d: Uint8Array): void;
  drain?(s: BenchSocket): void;
  end?(s: BenchSocket): void;
  close?(s: BenchSocket, err?: unknown): void;
  error?(s: BenchSocket, err: unknown): void;
  connectError?(s: BenchSocket, err: unknown): void;
}

/** What a side offers: listen and connect with Bun-style handlers. */
export interface BenchNet {
  listen(port: number, handler: BenchHandler): void;
  connect(host: string, port: number, handler: BenchHandler): Promise<unknown>;
  /** Microseconds, monotonic. */
  nowUs(): number;
}

export interface LatencySummary {
  count: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  meanUs: number;
}

export function newHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false });
}

export function summarize(h: hdr.Histogram): LatencySummary {
  return {
    count: h.totalCount,
    p50Us: h.getValueAtPercentile(50),
    p99Us: h.getValueAtPercentile(99),
    p999Us: h.getValueAtPercentile(99.9),
    maxUs: h.maxValue,
    meanUs: Math.round(h.mean * 10) / 10,
  };
}

// ---------------------------------------------------------------- bulk

export interface BulkResult {
  bytes: number;
  seconds: number;
  gbps: number;
  /** Gbit/s in each 250 ms slice from the first byte (warm-up included): shows modes within a run. */
  sliceGbps: number[];
  /** Wall-clock ms of the first byte (the start of the first slice), to line slices up with other samplers. */
  firstByteWallMs: number;
}

/** Width of one slice of BulkResult.sliceGbps. */
const SLICE_US = 250_000;

/** Count received bytes; resolves with the throughput over [first byte + warmup, + measure] when the sender closes. */
export function bulkServer(net: BenchNet, port: number, warmupS: number, measureS: number, onReady: () => void): Promise<BulkResult> {
  return new Promise((resolve) => {
    let total = 0;
    let t0 = -1;
    let aT = -1, aB = 0, bT = -1, bB = 0, lastT = 0;
    const slices: number[] = [];
    let sliceEnd = 0, sliceB = 0, firstWall = 0;
    const warmUs = warmupS * 1e6;
    const endUs = (warmupS + measureS) * 1e6;
    net.listen(port, {
      data(_s, d) {
        const now = net.nowUs();
        if (t0 < 0) {
          t0 = now;
          sliceEnd = now + SLICE_US;
          firstWall = Date.now();
        }
        while (now >= sliceEnd) {
          slices.push(Math.round(((total - sliceB) * 8) / SLICE_US / 10) / 100);
          sliceB = total;
          sliceEnd += SLICE_US;
        }
        total += d.length;
        lastT = now;
        if (aT < 0 && now - t0 >= warmUs) {
          aT = now;
          aB = total;
        } else if (bT < 0 && now - t0 >= endUs) {
          bT = now;
          bB = total;
        }
      },
      end(s) {
        s.end();
      },
      close() {
        if (aT < 0) {
          aT = t0;
          aB = 0;
        }
        if (bT < 0) {
          bT = lastT;
          bB = total;
        }
        const seconds = (bT - aT) / 1e6;
        const bytes = bB - aB;
        resolve({ bytes, seconds, gbps: seconds > 0 ? (bytes * 8) / seconds / 1e9 : 0, sliceGbps: slices, firstByteWallMs: firstWall });
      },
    });
    onReady();
  });
}

/**
 * Write as fast as the socket accepts for `seconds`, then close. Resolves with bytes accepted.
 * Where the socket offers zero-copy send (reserve/commit, our stack) the data is
 * produced straight into the stack's buffer (one copy of the pattern per reserved
 * span, the counterpart of the kernel's copy in write()); otherwise write().
 */
export function bulkClient(net: BenchNet, host: string, port: number, seconds: number, chunkBytes = 64 * 1024): Promise<number> {
  const chunk = new Uint8Array(chunkBytes);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 131) & 0xff;
  return new Promise((resolve, reject) => {
    let sent = 0;
    let stopAt = 0;
    let done = false;
    let off = 0;
    // The pattern cut to the last reserved length (spans are mostly one whole buffer chunk).
    let pat = chunk;
    const pumpZeroCopy = (s: BenchSocket): void => {
      for (;;) {
        const v = s.reserve!(chunkBytes);
        if (v === null) return; // buffer full: wait for drain
        const n = v.length;
        if (n !== pat.length) pat = chunk.subarray(0, n);
        v.set(pat);
        s.commit!(n);
        sent += n;
      }
    };
    const pump = (s: BenchSocket): void => {
      if (done) return;
      for (;;) {
        if (net.nowUs() >= stopAt) {
          done = true;
          s.end();
          return;
        }
        if (s.reserve !== undefined) {
          // Fill the send buffer; drain calls again once ACKs free space (the clock is read per call).
          pumpZeroCopy(s);
          return;
        }
        const n = s.write(chunk, off, chunk.length - off);
        if (n <= 0) return;
        sent += n;
        off += n;
        if (off === chunk.length) off = 0;
        else return; // partial write: wait for drain
      }
    };
    void net
      .connect(host, port, {
        open(s) {
          stopAt = net.nowUs() + seconds * 1e6;
          pump(s);
        },
        drain(s) {
          pump(s);
        },
        end(s) {
          s.end();
        },
        close() {
          resolve(sent);
        },
        connectError(_s, e) {
          reject(e);
        },
      })
      .catch(reject);
  });
}

// ---------------------------------------------------------------- request/response

/** Echo every byte back (with backpressure: what the send buffer refuses is kept and sent on drain). */
export function echoServer(net: BenchNet, port: number): void {
  interface Pend {
    buf: Uint8Array | null;
  }
  net.listen(port, {
    open(s) {
      s.data = { buf: null } as Pend;
    },
    data(s, d) {
      const p = s.data as Pend;
      if (p.buf !== null) {
        const merged = new Uint8Array(p.buf.length + d.length);
        merged.set(p.buf, 0);
        merged.set(d, p.buf.length);
        p.buf = merged;
        return;
      }
      const n = Math.max(0, s.write(d, 0, d.length));
      if (n < d.length) p.buf = d.slice(n);
    },
    drain(s) {
      const p = s.data as Pend;
      if (p.buf === null) return;
      const n = Math.max(0, s.write(p.buf, 0, p.buf.length));
      p.buf = n < p.buf.length ? p.buf.slice(n) : null;
    },
    end(s) {
      s.end();
    },
  });
}

export interface RrOptions {
  host: string;
  port: number;
  conns: number;
  size: number;
  warmupS: number;
  measureS: number;
  /** Requests per second in total (open loop); 0 for closed loop. */
  rate: number;
  /** Connections opened at a time while setting up. */
  connectBatch?: number;
}

export interface RrResult {
  mode: "closed" | "open";
  conns: number;
  /** Target rate (open loop) or 0. */
  targetRate: number;
  /** Responses completed per second in the measured window. */
  rate: number;
  completed: number;
  /** Requests still unanswered at the end (open loop; counted in the histogram at their age then). */
  unanswered: number;
  latency: LatencySummary;
  /** Time to open all connections, ms. */
  setupMs: number;
}

class RrConn {
  sock: BenchSocket | null = null;
  /** Intended (open loop) or actual (closed loop) send times of requests in flight, FIFO. */
  readonly times: Float64Array;
  head = 0;
  tail = 0;
  rxBytes = 0;
  /** Bytes of requests the socket has not taken yet (written on drain). */
  owed = 0;
  constructor(capacity: number) {
    this.times = new Float64Array(capacity);
  }
  get inFlight(): number {
    return this.tail - this.head;
  }
}

/** Run the request/response client. */
export async function rrClient(net: BenchNet, o: RrOptions): Promise<RrResult> {
  const req = new Uint8Array(o.size);
  for (let i = 0; i < req.length; i++) req[i] = i & 0xff;
  const open = o.rate > 0;
  const cap = open ? 1 << 16 : 2;
  const conns: RrConn[] = [];
  const hist = newHistogram();
  let measureFrom = Number.POSITIVE_INFINITY;
  let measureTo = Number.POSITIVE_INFINITY;
  let completedInWindow = 0;
  let running = true;

  const sendOne = (c: RrConn, t: number): void => {
    c.times[c.tail % cap] = t;
    c.tail++;
    if (c.owed > 0) {
      c.owed += o.size;
      return;
    }
    const n = Math.max(0, c.sock!.write(req, 0, o.size));
    if (n < o.size) c.owed = o.size - n;
  };
  const flushOwed = (c: RrConn): void => {
    while (c.owed > 0) {
      const k = Math.min(c.owed, o.size);
      const n = Math.max(0, c.sock!.write(req, o.size - k, k));
      c.owed -= n;
      if (n < k) return;
    }
  };

  const handler: BenchHandler = {
    open(s) {
      const c = s.data as RrConn;
      c.sock = s;
    },
    data(s, d) {
      const c = s.data as RrConn;
      c.rxBytes += d.length;
      while (c.rxBytes >= o.size && c.inFlight > 0) {
        c.rxBytes -= o.size;
        const t = c.times[c.head % cap]!;
        c.head++;
        const now = net.nowUs();
        if (t >= measureFrom && t < measureTo) {
          hist.recordValue(Math.max(1, Math.round(now - t)));
          completedInWindow++;
        }
        if (!open && running) sendOne(c, now);
      }
    },
    drain(s) {
      flushOwed(s.data as RrConn);
    },
  };

  // Open one connection alone (it resolves the server's MAC: frames held for ARP
  // are few), then the rest in batches (a burst of 1,000 SYNs would only test
  // SYN cookies).
  const t0 = net.nowUs();
  const batch = o.connectBatch ?? 100;
  for (let i = 0; i < o.conns; i = i === 0 ? 1 : i + batch) {
    const ps: Promise<unknown>[] = [];
    for (let k = i; k < Math.min(o.conns, i === 0 ? 1 : i + batch); k++) {
      const c = new RrConn(cap);
      conns.push(c);
      ps.push(net.connect(o.host, o.port, { ...handler, open: (s) => ((s.data = c), (c.sock = s)) }));
    }
    await Promise.all(ps);
  }
  for (const c of conns) if (c.sock === null) throw new Error("a connection did not open");
  const setupMs = (net.nowUs() - t0) / 1000;

  const start = net.nowUs();
  measureFrom = start + o.warmupS * 1e6;
  measureTo = measureFrom + o.measureS * 1e6;

  if (!open) {
    for (const c of conns) sendOne(c, net.nowUs());
    await Bun.sleep((o.warmupS + o.measureS) * 1000);
    running = false;
  } else {
    // Open loop: request k is due at start + k / rate, on connection k % conns.
    const intervalUs = 1e6 / o.rate;
    let k = 0;
    await new Promise<void>((resolve) => {
      const tick = (): void => {
        const now = net.nowUs();
        let due = start + k * intervalUs;
        while (due <= now && due < measureTo) {
          const c = conns[k % conns.length]!;
          if (c.inFlight < cap) sendOne(c, due);
          k++;
          due = start + k * intervalUs;
        }
        if (due >= measureTo) resolve();
        else setImmediate(tick);
      };
      setImmediate(tick);
    });
    running = false;
  }
  // Wait (bounded) for what is still in flight, then count the rest at its age.
  const graceEnd = net.nowUs() + 2e6;
  while (net.nowUs() < graceEnd && conns.some((c) => c.inFlight > 0 && (open || c.times[c.head % cap]! < measureTo))) await Bun.sleep(5);
  let unanswered = 0;
  const now = net.nowUs();
  for (const c of conns) {
    for (let i = c.head; i < c.tail; i++) {
      const t = c.times[i % cap]!;
      if (t >= measureFrom && t < measureTo) {
        unanswered++;
        hist.recordValue(Math.max(1, Math.round(now - t)));
      }
    }
  }
  for (const c of conns) c.sock!.end();
  return {
    mode: open ? "open" : "closed",
    conns: o.conns,
    targetRate: o.rate,
    rate: completedInWindow / o.measureS,
    completed: completedInWindow,
    unanswered,
    latency: summarize(hist),
    setupMs,
  };
}
