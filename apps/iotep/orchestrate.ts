/**
 * Runs a whole iotep experiment as separate processes, for bench/iotep and
 * `npm start`: a redis-server of its own (Unix socket in a temp dir) unless
 * one is given, iotepserver, mcc and (for our stack) the wire monitor on the
 * server's pcap. Our stack runs as two processes joined by net_memif; the
 * kernel baseline as two processes over loopback. Returns the JSON each
 * process wrote.
 */
import { lowLatencyEnv } from "../../src/api/runtime-env";
import { startIdlePoller, type IdlePoller } from "../../src/api/idle-poller";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CpuSampler, stealWindow, type SchedWindow } from "./cpu-sampler";
import { planPlacement, type Placement, type RtTarget } from "./placement";
import { readRedisStats, resetRedisStats, type RedisStats } from "./redis-stats";

const ROOT = join(import.meta.dir, "..", "..");
const BUN = process.execPath;
/**
 * Diagnosis: QSTACK_BENCH_PROF=DIR runs our stack's iotepserver under Bun's
 * sampling profiler (250 us), writing a .cpuprofile to DIR at its exit; with
 * QSTACK_BENCH_HEAPPROF=1 as well, a heap profile (.md) instead.
 */
const PROF = process.env["QSTACK_BENCH_PROF"] ?? "";
const BUN_SERVER =
  PROF === ""
    ? [BUN]
    : process.env["QSTACK_BENCH_HEAPPROF"] === "1"
      ? [BUN, "--heap-prof", "--heap-prof-md", `--heap-prof-dir=${PROF}`]
      : [BUN, "--cpu-prof", `--cpu-prof-dir=${PROF}`, "--cpu-prof-interval=250"];

/** A child process whose output is collected and can be waited on for a pattern. */
export class Proc {
  readonly p: Bun.Subprocess<"ignore", "pipe", "pipe">;
  out = "";
  private waiters: { re: RegExp; res: (m: RegExpMatchArray) => void }[] = [];
  readonly exited: Promise<number>;

  constructor(
    readonly name: string,
    cmd: string[],
    private readonly echo: ((line: string) => void) | null = null,
    env?: Record<string, string | undefined>,
  ) {
    this.p = Bun.spawn(cmd, { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe", env }) as Bun.Subprocess<"ignore", "pipe", "pipe">;
    void this.pump(this.p.stdout);
    void this.pump(this.p.stderr);
    this.exited = this.p.exited;
  }

  private async pump(s: ReadableStream<Uint8Array>): Promise<void> {
    const dec = new TextDecoder();
    let partial = "";
    for await (const chunk of s) {
      const t = dec.decode(chunk, { stream: true });
      this.out += t;
      if (this.echo !== null) {
        partial += t;
        const lines = partial.split("\n");
        partial = lines.pop()!;
        for (const l of lines) this.echo(l);
      }
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        const m = this.out.match(this.waiters[i]!.re);
        if (m) this.waiters.splice(i, 1)[0]!.res(m);
      }
    }
  }

  waitFor(re: RegExp, ms: number): Promise<RegExpMatchArray> {
    const m = this.out.match(re);
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.name}: no ${re} within ${ms} ms; output:\n${this.out.slice(-3000)}`)), ms);
      this.waiters.push({
        re,
        res: (mm) => {
          clearTimeout(t);
          resolve(mm);
        },
      });
      void this.exited.then((code) =>
        setTimeout(() => {
          clearTimeout(t);
          reject(new Error(`${this.name} exited (${code}) before ${re}; output:\n${this.out.slice(-3000)}`));
        }, 50),
      );
    });
  }

  async stop(graceMs = 10_000): Promise<number> {
    if (this.p.exitCode !== null) return this.p.exitCode;
    this.p.kill("SIGTERM");
    const t = setTimeout(() => this.p.kill("SIGKILL"), graceMs);
    const code = await this.exited;
    clearTimeout(t);
    return code;
  }
}

/** A base port with `n` consecutive free TCP ports on 127.0.0.1. */
export function freePortRange(n: number): number {
  const free = (p: number): boolean => {
    try {
      Bun.listen({ hostname: "127.0.0.1", port: p, socket: { data() {} } }).stop(true);
      return true;
    } catch {
      return false;
    }
  };
  for (let tries = 0; tries < 200; tries++) {
    const base = 20000 + Math.floor(Math.random() * 12000);
    let ok = true;
    for (let k = 0; k < n && ok; k++) ok = free(base + k);
    if (ok) return base;
  }
  throw new Error(`no ${n} consecutive free ports`);
}

/** A redis-server of ours: its socket, pid, and stop. */
export interface OwnRedis {
  socket: string;
  pid: number;
  stop: () => Promise<void>;
}

/**
 * A redis-server of our own on a Unix socket; nothing persisted. Commands
 * slower than 1 ms are kept for LATENCY LATEST (redisStats). `prefix` runs it
 * under e.g. taskset / nice (they exec it: the pid stays redis-server's).
 */
export async function startRedis(dir: string, prefix: string[] = []): Promise<OwnRedis> {
  const socket = join(dir, "redis.sock");
  const p = new Proc("redis-server", [...prefix, "redis-server", "--port", "0", "--unixsocket", socket, "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", dir, "--loglevel", "warning", "--latency-monitor-threshold", "1"]);
  const end = Date.now() + 5000;
  while (!existsSync(socket)) {
    if (p.p.exitCode !== null || Date.now() > end) throw new Error(`redis-server did not start:\n${p.out}`);
    await Bun.sleep(20);
  }
  return {
    socket,
    pid: p.p.pid,
    stop: async () => {
      await p.stop(3000);
    },
  };
}

export interface IotepRunOptions {
  transport: "qstack" | "kernel";
  conns: number;
  setupS: number;
  waitS: number;
  epochS: number;
  warmupS: number;
  durationS: number;
  ratio: number;
  msgLen: number;
  /** Redis Unix socket to use; a private redis-server is started when absent. */
  redisSocket?: string;
  /** Record the server's frames and run the wire monitor on the pcap (our stack only). */
  wire: boolean;
  /** The wire monitor's live mode inside the server (iotepserver --monitor; our stack only). */
  liveWire?: boolean;
  /** Extra stack flags for both sides (e.g. --busy-poll). */
  stackFlags?: string[];
  /** Use hugepages (default: --no-huge). */
  huge?: boolean;
  /** Called with each output line, prefixed by the process name. */
  echo?: (line: string) => void;
  /** Directory for the results (JSON, cdf.txt, html); a temp dir when absent. */
  outDir?: string;
  /** Stop early (Ctrl+C): the processes are stopped and everything is cleaned up; runIotep then rejects. */
  abort?: AbortSignal;
  /** Extra flags for iotepserver / mcc only. */
  serverFlags?: string[];
  clientFlags?: string[];
  /** CPU placement of the processes (placement.ts); default "none". */
  placement?: Placement;
  /** nice value for our redis-server (0: unchanged). */
  redisNice?: number;
  /** Processes under SCHED_FIFO (placement.ts), on both sides. */
  rt?: RtTarget[];
  /** nice value for our stack's mcc (0: unchanged). */
  clientNice?: number;
  /** Our stack's generator: mcc --tick-us (send schedule quantum); default 0 (exact). */
  clientTickUs?: number;
  /**
   * Keep Bun's GC timer in iotepserver and mcc (default false: both start with
   * BUN_GC_TIMER_DISABLE=1). The timer runs an Eden collection about once a
   * second whenever the heap changed, a pause of 1-12 ms on the request path
   * (measured on bench/priority); collections that allocation calls for still run.
   */
  gcTimer?: boolean;
  /**
   * Keep Bun's allocator defaults in iotepserver and mcc (default false: both
   * start with src/api/runtime-env.ts's mimalloc and JavaScriptCore settings,
   * which remove 6-52 ms stalls of the poll loop).
   */
  allocatorDefaults?: boolean;
  /** Keep the CPUs from halting during the run (src/api/idle-poller.ts; default true). */
  idlePoller?: boolean;
}

/** Thrown by runIotep when its abort signal fired. */
export class IotepAborted extends Error {
  constructor() {
    super("aborted");
  }
}

export interface IotepRunResult {
  transport: "qstack" | "kernel";
  client: Record<string, any>;
  server: Record<string, any>;
  wire: Record<string, any> | null;
  /** The live wire monitor's monitor.json (null when not run). */
  wireLive: Record<string, any> | null;
  outDir: string;
  /** On-CPU time and run-queue waits per process (cpu-sampler.ts): while connecting and in the measured part. */
  sched: { setup: Record<string, SchedWindow>; measured: Record<string, SchedWindow>; measuredSteal: { share: number; ms: number } | null } | null;
  /** Our redis-server's own view of the measured part (null with an outside Redis). */
  redisStats: RedisStats | null;
  /** CPUs the idle poller kept awake (0: it did not run). */
  idlePollerCpus: number;
  /** What ran where (placement.ts). */
  placement: string;
}

/** Run one side (our stack or the kernel) end to end. */
export async function runIotep(o: IotepRunOptions): Promise<IotepRunResult> {
  const tmp = mkdtempSync(join(tmpdir(), `iotep-${o.transport}-`));
  const outDir = o.outDir ?? join(tmp, "out");
  const echo = (name: string) => (o.echo ? (l: string) => o.echo!(`[${o.transport} ${name}] ${l}`) : null);
  let redis: OwnRedis | null = null;
  let sampler: CpuSampler | null = null;
  let resetTimer: ReturnType<typeof setTimeout> | null = null;
  // CPU placement and nice are for our stack's processes; the kernel baseline's process trees float.
  const ours = o.transport === "qstack";
  const plan = planPlacement(ours ? (o.placement ?? "none") : "none", {
    redisNice: o.redisNice,
    clientNice: ours ? o.clientNice : 0,
    // SCHED_FIFO alike on both sides (the kernel baseline's server processes inherit it), so the comparison stays fair.
    rt: o.rt,
  });
  let server: Proc | null = null;
  let client: Proc | null = null;
  // On abort: stop the processes now (their exits resolve the waits below), then clean up in finally.
  const onAbort = (): void => {
    void client?.stop(3000);
    void server?.stop(3000);
  };
  o.abort?.addEventListener("abort", onAbort);
  const check = (): void => {
    if (o.abort?.aborted === true) throw new IotepAborted();
  };
  let poller: IdlePoller | null = null;
  try {
    check();
    if (o.idlePoller !== false) {
      const p = await startIdlePoller();
      if ("unavailable" in p) console.log(`idle poller: not running (${p.unavailable})`);
      else poller = p;
    }
    const redisSocket = o.redisSocket ?? (redis = await startRedis(tmp, plan.redis)).socket;
    const serverJson = join(outDir, "server.json");
    const common = ["--status-interval", "0"];
    const bunEnv = lowLatencyEnv({ gcTimer: o.gcTimer === true, allocatorDefaults: o.allocatorDefaults === true });
    // Our stack's generator takes as many source addresses as it needs (64,512 ports each): one server port.
    const nports = 1;
    const gen = ["--ports", String(nports), "-c", String(o.conns), "-s", String(o.setupS), "-w", String(o.waitS), "-e", String(o.epochS), "--warmup", String(o.warmupS), "--duration", String(o.durationS), "-r", String(o.ratio), "-l", String(o.msgLen), "--out", outDir];
    const srvArgs = ["--ports", String(nports), "--redis-socket", redisSocket, "-l", String(o.msgLen), "--stats-json", serverJson, "--warmup", String(o.warmupS), "--measure", String(o.durationS)];
    let pcap: string | null = null;
    if (o.transport === "kernel") {
      // One process holds at most ~20,000 sockets here: several server and client processes,
      // and a client source address per ~25,000 connections (the ephemeral port range).
      // Each server port gives the client a fresh ephemeral port range (~28,000 4-tuples; connect() slows down
      // as a range fills, so ~10,000 per port), which Bun.connect
      // reaches without binding a source address (node:net can bind one, but costs far more per connection).
      const procs = Math.max(1, Math.ceil(o.conns / 15_000));
      const kports = Math.max(1, Math.ceil(o.conns / 10_000));
      const base = freePortRange(kports);
      const multi = ["--ports", String(kports), "--smp", String(procs)];
      server = new Proc("iotepserver", [...plan.server, BUN, join(ROOT, "apps", "iotepserver.ts"), "--kernel", "--listen", "127.0.0.1", "--port", String(base), ...srvArgs, ...multi, ...common], echo("server"), bunEnv);
      const m = await server.waitFor(/^iotepserver: listening on kernel sockets 127\.0\.0\.1:(\d+)/m, 60_000);
      client = new Proc("mcc", [BUN, join(ROOT, "apps", "mcc.ts"), "--kernel", "--dest", "127.0.0.1", "--port", m[1]!, ...gen, ...multi, ...common], echo("mcc"), bunEnv);
    } else {
      const sock = join(tmp, "memif.sock");
      const memif = (role: string): string => `net_memif0,role=${role},id=0,socket=${sock},socket-abstract=no`;
      const huge = o.huge ? [] : ["--no-huge"];
      pcap = o.wire ? join(tmp, "server.pcap") : null;
      const live = o.liveWire === true ? ["--monitor", join(outDir, "wire-live")] : [];
      server = new Proc(
        "iotepserver",
        [...plan.server, ...BUN_SERVER, join(ROOT, "apps", "iotepserver.ts"), "--vdev", memif("server"), "--ip", "10.77.0.1/24", ...huge, "--port", "80", "--max-conns", String(o.conns + 1024), ...srvArgs, ...(pcap ? ["--pcap", pcap] : []), ...live, ...(o.stackFlags ?? []), ...common, ...(o.serverFlags ?? [])],
        echo("server"),
        bunEnv,
      );
      check();
      await server.waitFor(/iotepserver: listening on our stack/, 60_000);
      const tick = ["--tick-us", String(o.clientTickUs ?? 0)];
      client = new Proc("mcc", [...plan.client, BUN, join(ROOT, "apps", "mcc.ts"), "--vdev", memif("client"), "--ip", "10.77.0.2/24", ...huge, "--dest", "10.77.0.1", "--port", "80", ...gen, ...tick, ...plan.clientArgs, ...(o.stackFlags ?? []), ...common, ...(o.clientFlags ?? [])], echo("mcc"), bunEnv);
    }
    // CPU waits per process; Redis' counters from the start of the measured part.
    const procs = [
      { name: "iotepserver", pid: server.p.pid },
      { name: "mcc", pid: client.p.pid },
      ...(redis !== null ? [{ name: "redis-server", pid: redis.pid }] : []),
    ];
    // (The kernel baseline's servers and clients are process trees: only our stack's processes are sampled.)
    sampler = o.transport === "qstack" ? new CpuSampler(procs) : null;
    const t0 = performance.now();
    const startMs = 0;
    const sendMs = startMs + (o.setupS + o.waitS) * 1000;
    const measureMs = sendMs + o.warmupS * 1000;
    if (redis !== null) {
      const sock = redis.socket;
      resetTimer = setTimeout(() => resetRedisStats(sock), measureMs - startMs);
    }
    check();
    const code = await client.exited;
    // The measured part ends with the last scheduled message (mcc then closes its connections).
    const endMs = Math.min(performance.now() - t0, measureMs + o.durationS * 1000);
    sampler?.stop();
    const redisStats = redis !== null ? readRedisStats(redis.socket) : null;
    const sched = sampler !== null ? { setup: sampler.window(startMs, startMs + o.setupS * 1000), measured: sampler.window(measureMs, endMs), measuredSteal: stealWindow(sampler, measureMs, endMs) } : null;
    check();
    if (code !== 0) throw new Error(`mcc (${o.transport}) exited with ${code}:\n${client.out.slice(-3000)}`);
    // Shutting down drains every connection: give large runs time (1 M: ~2 min) before SIGKILL.
    const sc = await server.stop(20_000 + Math.ceil(o.conns / 10));
    if (sc !== 0) throw new Error(`iotepserver (${o.transport}) exited with ${sc}:\n${server.out.slice(-3000)}`);
    const clientRes = JSON.parse(readFileSync(join(outDir, "mcc.json"), "utf8"));
    const serverRes = JSON.parse(readFileSync(serverJson, "utf8"));
    let wire: Record<string, any> | null = null;
    if (pcap !== null) {
      const mon = new Proc("monitor", [BUN, join(ROOT, "apps", "monitor.ts"), "--read", pcap, "--port", "80", "--ports", String(nports), "-l", String(o.msgLen), "--warmup", String(o.warmupS), "--out", join(outDir, "wire")], echo("monitor"));
      const stopMon = (): void => void mon.stop(1000);
      o.abort?.addEventListener("abort", stopMon);
      const mc = await mon.exited;
      o.abort?.removeEventListener("abort", stopMon);
      check();
      if (mc !== 0) throw new Error(`monitor exited with ${mc}:\n${mon.out.slice(-3000)}`);
      wire = JSON.parse(readFileSync(join(outDir, "wire", "monitor.json"), "utf8"));
    }
    const liveJson = join(outDir, "wire-live", "monitor.json");
    const wireLive = o.transport === "qstack" && o.liveWire === true ? JSON.parse(readFileSync(liveJson, "utf8")) : null;
    return { transport: o.transport, client: clientRes, server: serverRes, wire, wireLive, outDir, sched, redisStats, placement: plan.describe, idlePollerCpus: poller?.cpus ?? 0 };
  } catch (e) {
    throw o.abort?.aborted === true ? new IotepAborted() : e;
  } finally {
    o.abort?.removeEventListener("abort", onAbort);
    sampler?.stop();
    if (resetTimer !== null) clearTimeout(resetTimer);
    if (client !== null) await client.stop(3000);
    if (server !== null) await server.stop(3000);
    if (redis !== null) await redis.stop();
    await poller?.stop();
    // Keep the results; drop the rest (pcap, sockets).
    for (const f of ["server.pcap", "memif.sock", "redis.sock"]) rmSync(join(tmp, f), { force: true });
    if (o.outDir !== undefined) rmSync(tmp, { recursive: true, force: true });
  }
}
