/**
 * One side of a bench/tcp run, as its own process (EAL starts once per
 * process): the stack (--impl stack, over the device the stack flags name,
 * e.g. net_memif) or Linux kernel sockets through Bun.listen/Bun.connect
 * (--impl kernel, run inside a network namespace by bench/tcp.ts).
 *
 *   bun bench/tcp-peer.ts --impl stack --role server --workload rr --vdev net_memif0,role=server,socket=/tmp/m.sock --ip 10.250.0.1/24
 *   bun bench/tcp-peer.ts --impl kernel --role client --workload bulk --ip 10.251.0.2 --host 10.251.0.1
 *
 * Talks to bench/tcp.ts in JSON lines on stdout: {"ev":"ready"} once a server
 * listens (or a client's link is up), {"ev":"result",...} at the end. A server
 * runs until SIGTERM (rr) or until its bulk connection closes.
 */
import { parseAppArgs, startStack, type RunningStack } from "../apps/common";
import { monotonicUs } from "../src/api/clock";
import { bulkClient, bulkServer, echoServer, rrClient, type BenchHandler, type BenchNet, type BenchSocket } from "./tcp-workloads";

const spec = {
  name: "tcp-peer",
  usage: "bun bench/tcp-peer.ts --impl stack|kernel --role server|client --workload bulk|rr [flags]",
  about: "One side of bench/tcp (see bench/tcp.ts).",
  flags: [
    { name: "impl", type: "string" as const, arg: "stack|kernel", default: "stack", help: "whose TCP" },
    { name: "role", type: "string" as const, arg: "server|client", default: "server", help: "side" },
    { name: "workload", type: "string" as const, arg: "bulk|rr", default: "rr", help: "what to run" },
    { name: "host", type: "string" as const, arg: "A.B.C.D", help: "server address (client)" },
    { name: "port", type: "int" as const, arg: "N", default: 5201, min: 1, max: 65535, help: "TCP port" },
    { name: "warmup", type: "number" as const, arg: "S", default: 2, min: 0, help: "warm-up seconds" },
    { name: "seconds", type: "number" as const, arg: "S", default: 10, min: 0.1, help: "measured seconds" },
    { name: "conns", type: "int" as const, arg: "N", default: 1000, min: 1, help: "rr connections" },
    { name: "size", type: "int" as const, arg: "B", default: 64, min: 1, help: "rr message bytes" },
    { name: "rate", type: "number" as const, arg: "R", default: 0, min: 0, help: "rr requests/s in total (open loop); 0: closed loop" },
    { name: "buf-kib", type: "int" as const, arg: "KIB", default: 1024, min: 16, help: "stack send/receive buffer per connection" },
    { name: "chunk-kib", type: "int" as const, arg: "KIB", default: 0, min: 0, max: 32, help: "stack buffer chunk size; 0: 16 for bulk, 2 for rr (128 MiB of chunks either way)" },
  ],
};

function emit(ev: string, data: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ ev, ...data }) + "\n");
}

/** Our stack behind the BenchNet interface. */
function stackNet(rs: RunningStack, noDelay: boolean): BenchNet {
  return {
    listen(port, handler) {
      rs.sockets.listen({ port, backlog: 4096, noDelay, zeroCopy: true, socket: handler as never });
    },
    connect(host, port, handler) {
      return rs.sockets.connect({ hostname: host, port, noDelay, zeroCopy: true, socket: handler as never });
    },
    nowUs: monotonicUs,
  };
}

/** Kernel sockets (Bun.listen / Bun.connect) behind the BenchNet interface. */
function kernelNet(bindIp: string, noDelay: boolean): BenchNet {
  const wrap = (h: BenchHandler) => ({
    open(s: Bun.Socket<unknown>) {
      if (noDelay) s.setNoDelay(true);
      h.open?.(s as unknown as BenchSocket);
    },
    data(s: Bun.Socket<unknown>, d: Uint8Array) {
      h.data?.(s as unknown as BenchSocket, d);
    },
    drain(s: Bun.Socket<unknown>) {
      h.drain?.(s as unknown as BenchSocket);
    },
    end(s: Bun.Socket<unknown>) {
      h.end?.(s as unknown as BenchSocket);
    },
    close(s: Bun.Socket<unknown>, err?: unknown) {
      h.close?.(s as unknown as BenchSocket, err);
    },
    error(s: Bun.Socket<unknown>, err: unknown) {
      h.error?.(s as unknown as BenchSocket, err);
    },
    connectError(s: Bun.Socket<unknown>, err: unknown) {
      h.connectError?.(s as unknown as BenchSocket, err);
    },
  });
  return {
    listen(port, handler) {
      Bun.listen({ hostname: bindIp, port, socket: wrap(handler) });
    },
    connect(host, port, handler) {
      return Bun.connect({ hostname: host, port, socket: wrap(handler) });
    },
    nowUs: monotonicUs,
  };
}

async function waitLinkUp(rs: RunningStack, ms: number): Promise<void> {
  const dev = rs.stack.dev as { linkUp?: () => boolean };
  if (dev.linkUp === undefined) return;
  const end = Date.now() + ms;
  while (!dev.linkUp()) {
    if (Date.now() > end) throw new Error(`link not up after ${ms} ms`);
    await Bun.sleep(5);
  }
}

async function main(): Promise<number> {
  const args = parseAppArgs(spec);
  const v = args.values;
  const impl = v["impl"] as string;
  const role = v["role"] as string;
  const workload = v["workload"] as string;
  const port = v["port"] as number;
  const warm = v["warmup"] as number;
  const secs = v["seconds"] as number;
  const noDelay = workload === "rr";
  let rs: RunningStack | null = null;
  let net: BenchNet;
  if (impl === "stack") {
    const buf = (v["buf-kib"] as number) * 1024;
    // Bulk: big chunks, so a zero-copy reserve() span and a segment's payload rarely cross a chunk boundary.
    const chunkBytes = ((v["chunk-kib"] as number) || (workload === "bulk" ? 16 : 2)) * 1024;
    const chunkCount = (128 << 20) / chunkBytes;
    rs = await startStack(v, { maxConnections: 4096, sndBufBytes: buf, rcvBufBytes: buf, chunkBytes, chunkCount, synQueueSize: 2048, defaultBacklog: 4096 });
    net = stackNet(rs, noDelay);
  } else if (impl === "kernel") {
    net = kernelNet(String(v["ip"] ?? "0.0.0.0").split("/")[0]!, noDelay);
  } else {
    throw new Error(`--impl ${impl}: expected stack or kernel`);
  }
  // Bulk sender: every 100 ms, the window state of its connection (in flight, peer window, cwnd, queued),
  // so a run's figure can be told window-bound from CPU-bound.
  const win: number[][] = [];
  let winTimer: ReturnType<typeof setInterval> | null = null;
  if (rs !== null && workload === "bulk" && role === "client") {
    const t = rs.sockets.tcp;
    winTimer = setInterval(() => {
      for (let c = 0; c < 4; c++) {
        if (!t.conns.isUsed(c)) continue;
        const una = t.conns.sndUna[c]!;
        win.push([((t.conns.sndMax[c]! - una) | 0) >> 10, t.conns.sndWnd[c]! >> 10, t.cc.cwnd(c) >> 10, t.snd.length(c) >> 10]);
        break;
      }
    }, 100);
  }
  const stopped = new Promise<void>((r) => {
    process.on("SIGTERM", () => r());
    process.on("SIGINT", () => r());
  });
  const finish = async (code: number): Promise<number> => {
    if (rs !== null) {
      const t = rs.sockets.tcp.counters as unknown as Record<string, number>;
      const cpu = process.cpuUsage();
      if (winTimer !== null) clearInterval(winTimer);
      emit("stats", { win, tcp: { ...t }, net: rs.stack.netif.counters.snapshot(), dev: rs.stack.dev.stats(), cpuUs: cpu.user + cpu.system, rounds: rs.stack.loop.rounds, idleSleeps: rs.stack.loop.idleSleeps });
      await rs.shutdown();
    }
    return code;
  };

  if (role === "server") {
    if (workload === "bulk") {
      const r = bulkServer(net, port, warm, secs, () => emit("ready"));
      const res = await Promise.race([r, stopped.then(() => null)]);
      emit("result", res === null ? { error: "stopped before the bulk connection closed" } : { ...res });
      return finish(res === null ? 1 : 0);
    }
    echoServer(net, port);
    emit("ready");
    await stopped;
    return finish(0);
  }

  const host = v["host"] as string | undefined;
  if (host === undefined) throw new Error("--host is required for a client");
  if (rs !== null) await waitLinkUp(rs, 20_000);
  emit("ready");
  if (workload === "bulk") {
    const sent = await bulkClient(net, host, port, warm + secs + 0.5);
    emit("result", { sent });
    return finish(0);
  }
  const res = await rrClient(net, { host, port, conns: v["conns"] as number, size: v["size"] as number, warmupS: warm, measureS: secs, rate: v["rate"] as number });
  emit("result", { ...res });
  return finish(0);
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    emit("error", { message: (e as Error)?.message ?? String(e) });
    process.exit(1);
  },
);
