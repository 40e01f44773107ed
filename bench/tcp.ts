/**
 * bench/tcp: our TCP against Linux kernel TCP, side by side, in one run.
 *
 *   node_modules/.bin/bun bench/tcp.ts [--seconds S] [--warmup S] [--conns N] [--size B]
 *                                      [--rr-rate R] [--only stack|kernel] [--workload bulk|rr]
 *                                      [--jumbo MTU] [--buf-kib K] [--idle-spin-us US] [--idle-yield] [--json FILE]
 *
 * Workloads (bench/tcp-workloads.ts, the same code on both sides):
 *   bulk       one connection, client writes as fast as it can, throughput at the receiver (Gbit/s)
 *   rr closed  --conns connections, --size-byte request echoed back, one in flight per connection:
 *              the request/response rate and its latency
 *   rr open    the same at a fixed --rr-rate (default: half the lower closed-loop rate, so both sides
 *              run at the same load), latency from the intended send time (coordinated omission corrected)
 * Sides:
 *   stack      two processes running our stack (bench/tcp-peer.ts --impl stack), joined by net_memif
 *              (one role=server, one role=client, same socket path)
 *   kernel     two processes using Bun.listen / Bun.connect on Linux sockets, each in its own network
 *              namespace, joined by a veth (kernel defaults, offloads on: the kernel at its best)
 * --jumbo MTU (default 9000; 0: none) adds one more bulk run with that IP MTU on both sides (memif
 * bsize and the stack's --mtu; the veth's MTU), reported in its own row; every other figure is at MTU
 * 1500. The jumbo row is in the default run because two processes joined by memif on one host are where
 * a deployment sets jumbo frames (memif has no segmentation offload; the kernel's veth figure at MTU
 * 1500 rides on 64 KB GSO/GRO segments), and the MTU 1500 row stays beside it.
 * --idle-yield / --idle-spin-us go to both stack peers (src/sched/poll-loop.ts). --idle-yield stays off
 * by default: with both peers on one CPU it lifted bulk from ~1.9 to 5.36 Gbit/s, but with a CPU each
 * five alternated pairs gave 9.02/9.18/9.07/9.41/6.93 against the default's 8.88/6.76/15.87/6.97/9.86
 * (no run of the ~15 Gbit/s mode with it, one without: not settled).
 * Each process is single-threaded JavaScript; on this machine both sides share the same cores
 * (nproc is printed). Every run prints the machine, commit and parameters, a table with the ratio
 * stack/kernel, and writes everything as JSON with --json.
 */
import { execSync } from "node:child_process";
import { cpus, loadavg, release } from "node:os";
import { join } from "node:path";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { shimBuilt } from "../ffi/shim";
import { parseProgramArgs } from "../src/api/cli";
import { lines } from "../scripts/lines";

const ROOT = join(import.meta.dir, "..");
const BUN = process.execPath;
const PEER = join(import.meta.dir, "tcp-peer.ts");
/** QSTACK_BENCH_PROF=DIR: run each stack peer under Bun's sampling profiler, writing .cpuprofile and .md files to DIR. */
const PROF = process.env.QSTACK_BENCH_PROF ?? "";
const BUN_STACK = PROF === "" ? [BUN] : [BUN, "--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${PROF}`, "--cpu-prof-interval=250"];

// ---------------------------------------------------------------- flags

// An unknown flag or a missing value: one line, exit 2 (src/api/cli.ts). --help: the comment above and the flags.
const str = (name: string, arg: string, help: string) => ({ name, type: "string" as const, arg, help });
const A = parseProgramArgs({
  name: "bench tcp",
  usage: "bun run bench tcp [flags] [--json FILE]",
  about: readFileSync(import.meta.path, "utf8").split("*/")[0]!.replace(/^\/\*\*|^ \* ?/gm, "").trim(),
  flags: [
    str("seconds", "S", "seconds measured per workload (default 10)"),
    str("warmup", "S", "seconds of warm-up (default 3)"),
    str("conns", "N", "request/response connections (default 1000)"),
    str("size", "B", "request bytes (default 64)"),
    str("rr-rate", "R", "open-loop request rate (default auto: half the lower closed-loop rate)"),
    str("only", "stack|kernel", "run one side only"),
    str("workload", "bulk|rr", "run one workload only"),
    str("jumbo", "MTU", "one more bulk run at this MTU (default 9000; 0: none)"),
    str("buf-kib", "KIB", "the stack peers' send/receive buffer per connection in KiB (default 1024)"),
    str("idle-spin-us", "US", "the stack peers' --idle-spin-us (default: the stack's)"),
    { name: "idle-yield", type: "bool" as const, help: "the stack peers yield the CPU after each empty poll round" },
    str("json", "FILE", "write the results as JSON"),
  ],
}).values;
function flag(name: string, dflt: string): string {
  const v = A[name];
  return typeof v === "string" ? v : dflt;
}
const P = {
  seconds: Number(flag("seconds", "10")),
  warmup: Number(flag("warmup", "3")),
  conns: Number(flag("conns", "1000")),
  size: Number(flag("size", "64")),
  rrRate: flag("rr-rate", "auto"),
  only: flag("only", ""),
  /** Run only this workload ("bulk" or "rr"); default both. */
  workload: flag("workload", ""),
  /** Extra bulk run at this MTU (0: none). */
  jumbo: Number(flag("jumbo", "9000")),
  json: flag("json", ""),
  bufKib: Number(flag("buf-kib", "1024")),
  /** Stack peers: --idle-spin-us passed through (-1: the stack's default). */
  idleSpinUs: Number(flag("idle-spin-us", "-1")),
  /** Stack peers: --idle-yield (sched_yield after each empty poll round). */
  idleYield: A["idle-yield"] === true,
};
if (P.workload !== "" && P.workload !== "bulk" && P.workload !== "rr") {
  console.error("bench tcp: --workload must be bulk or rr");
  process.exit(2);
}
if (P.jumbo !== 0 && !(Number.isInteger(P.jumbo) && P.jumbo > 1500 && P.jumbo <= 9600)) {
  console.error("bench tcp: --jumbo must be an MTU in 1501..9600");
  process.exit(2);
}
if (!Number.isInteger(P.idleSpinUs) || P.idleSpinUs < -1) {
  console.error("bench tcp: --idle-spin-us must be an integer >= 0");
  process.exit(2);
}
for (const k of ["seconds", "warmup", "conns", "size", "bufKib"] as const) {
  if (!Number.isFinite(P[k]) || P[k] < 0) {
    console.error(`bench tcp: --${k} must be a non-negative number`);
    process.exit(2);
  }
}

// ---------------------------------------------------------------- machine

function sh(cmd: string): string {
  try {
    return execSync(cmd, { cwd: ROOT, stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
  } catch {
    return "";
  }
}

const machine = {
  nproc: cpus().length,
  cpu: cpus()[0]?.model ?? "unknown",
  kernel: release(),
  bun: Bun.version,
  commit: sh("git rev-parse --short HEAD") + (sh("git status --porcelain --untracked-files=no") !== "" ? "-dirty" : ""),
  date: new Date().toISOString(),
  /** 1-minute load average at the start: other work on the same cores skews every figure. */
  loadAvg1: Math.round(loadavg()[0]! * 100) / 100,
};

// ---------------------------------------------------------------- child processes

type Msg = Record<string, unknown> & { ev?: string };

/** Teardowns of what this run created (namespaces, peer processes), run on SIGINT/SIGTERM too so an interrupted run leaves nothing behind. */
const onSignalTeardowns: (() => void)[] = [];
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    for (const t of onSignalTeardowns) t();
    process.exit(sig === "SIGINT" ? 130 : 143);
  });
}

class Peer {
  readonly proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  readonly msgs: Msg[] = [];
  stderr = "";
  private waiters: { ev: string; resolve: (m: Msg) => void }[] = [];
  private ended = false;

  constructor(readonly label: string, cmd: string[]) {
    const proc = Bun.spawn(cmd, { stdin: "ignore", stdout: "pipe", stderr: "pipe", cwd: ROOT }) as Bun.Subprocess<"ignore", "pipe", "pipe">;
    this.proc = proc;
    onSignalTeardowns.unshift(() => proc.kill("SIGKILL"));
    void this.readOut();
    void (async () => {
      const dec = new TextDecoder();
      for await (const c of proc.stderr) this.stderr += dec.decode(c, { stream: true });
    })();
  }

  private async readOut(): Promise<void> {
    for await (const line of lines(this.proc.stdout)) {
      if (!line.startsWith("{")) continue;
      let m: Msg;
      try {
        m = JSON.parse(line) as Msg;
      } catch {
        continue;
      }
      this.msgs.push(m);
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        if (this.waiters[i]!.ev === m.ev || m.ev === "error") this.waiters.splice(i, 1)[0]!.resolve(m);
      }
    }
    this.ended = true;
    for (const w of this.waiters.splice(0)) w.resolve({ ev: "error", message: `${this.label} exited` });
  }

  /** The first message `ev` (or an error message), or an error after `ms`. */
  async wait(ev: string, ms: number): Promise<Msg> {
    const seen = this.msgs.find((m) => m.ev === ev || m.ev === "error");
    let m: Msg;
    if (seen) m = seen;
    else if (this.ended) m = { ev: "error", message: `${this.label} exited` };
    else {
      let timer: ReturnType<typeof setTimeout> | undefined;
      m = await Promise.race([
        new Promise<Msg>((resolve) => this.waiters.push({ ev, resolve })),
        new Promise<Msg>((resolve) => (timer = setTimeout(() => resolve({ ev: "error", message: `${this.label}: no "${ev}" within ${ms} ms` }), ms))),
      ]);
      clearTimeout(timer);
    }
    if (m.ev === "error") throw new Error(`${String(m.message)}\n${this.label} stderr (tail):\n${this.stderr.slice(-1500)}`);
    return m;
  }

  async stop(): Promise<void> {
    this.proc.kill("SIGTERM");
    const t = setTimeout(() => this.proc.kill("SIGKILL"), 5000);
    await this.proc.exited;
    clearTimeout(t);
  }
}

// ---------------------------------------------------------------- sides

interface Side {
  name: "stack" | "kernel";
  /** Command prefix and flags for server and client of run number `n`. */
  server(n: number): string[];
  client(n: number): string[];
  serverIp: string;
  cleanup(n: number): void;
  teardown(): void;
  /** IP MTU of the next runs (1500 unless --jumbo). */
  mtu: number;
  /** Apply `mtu` to the link (kernel: the veth ends). */
  setMtu(mtu: number): void;
}

function run(cmd: string[]): { code: number; out: string } {
  const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  return { code: r.exitCode ?? -1, out: r.stdout.toString() + r.stderr.toString() };
}

function must(cmd: string[]): void {
  const r = run(cmd);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")}: ${r.out.trim()}`);
}

function kernelSide(): Side {
  const tag = `${process.pid}`;
  const nsS = `qsb-s-${tag}`;
  const nsC = `qsb-c-${tag}`;
  const ifS = `qsbs${tag}`.slice(0, 15);
  const ifC = `qsbc${tag}`.slice(0, 15);
  const teardown = () => {
    run(["ip", "netns", "del", nsS]);
    run(["ip", "netns", "del", nsC]);
  };
  onSignalTeardowns.push(teardown);
  try {
    must(["ip", "netns", "add", nsS]);
    must(["ip", "netns", "add", nsC]);
    must(["ip", "link", "add", ifS, "netns", nsS, "type", "veth", "peer", "name", ifC, "netns", nsC]);
    must(["ip", "-n", nsS, "addr", "add", "10.251.0.1/24", "dev", ifS]);
    must(["ip", "-n", nsC, "addr", "add", "10.251.0.2/24", "dev", ifC]);
    for (const [ns, i] of [[nsS, ifS], [nsC, ifC]] as const) {
      must(["ip", "-n", ns, "link", "set", i, "up"]);
      must(["ip", "-n", ns, "link", "set", "lo", "up"]);
    }
  } catch (e) {
    teardown();
    throw e;
  }
  return {
    name: "kernel",
    serverIp: "10.251.0.1",
    server: () => ["ip", "netns", "exec", nsS, BUN, PEER, "--impl", "kernel", "--ip", "10.251.0.1"],
    client: () => ["ip", "netns", "exec", nsC, BUN, PEER, "--impl", "kernel", "--ip", "10.251.0.2"],
    cleanup() {},
    teardown,
    mtu: 1500,
    setMtu(mtu: number) {
      this.mtu = mtu;
      must(["ip", "-n", nsS, "link", "set", ifS, "mtu", String(mtu)]);
      must(["ip", "-n", nsC, "link", "set", ifC, "mtu", String(mtu)]);
    },
  };
}

function hugeFlags(): string[] {
  const free = Number(sh("cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages") || 0);
  return free < 256 ? ["--no-huge"] : [];
}

/** Poll-loop flags for both stack peers. */
function loopFlags(): string[] {
  return [...(P.idleSpinUs >= 0 ? ["--idle-spin-us", String(P.idleSpinUs)] : []), ...(P.idleYield ? ["--idle-yield"] : [])];
}

function stackSide(): Side {
  const sock = (n: number) => `/tmp/qs-bench-tcp-${process.pid}-${n}.sock`;
  // Above 1500 memif's packet buffers (bsize) must hold a whole frame.
  const dev = (role: string, n: number, mtu: number) =>
    `net_memif0,role=${role},id=0,socket=${sock(n)},socket-abstract=no${mtu > 1500 ? ",bsize=16384" : ""}`;
  return {
    mtu: 1500,
    setMtu(mtu: number) {
      this.mtu = mtu;
    },
    name: "stack",
    serverIp: "10.250.0.1",
    server(n) {
      return [...BUN_STACK, PEER, "--impl", "stack", "--vdev", dev("server", n, this.mtu), ...(this.mtu !== 1500 ? ["--mtu", String(this.mtu)] : []), "--ip", "10.250.0.1/24", "--buf-kib", String(P.bufKib), ...loopFlags(), ...hugeFlags()];
    },
    client(n) {
      return [...BUN_STACK, PEER, "--impl", "stack", "--vdev", dev("client", n, this.mtu), ...(this.mtu !== 1500 ? ["--mtu", String(this.mtu)] : []), "--ip", "10.250.0.2/24", "--buf-kib", String(P.bufKib), ...loopFlags(), ...hugeFlags()];
    },
    cleanup: (n) => rmSync(sock(n), { force: true }),
    teardown() {},
  };
}

// ---------------------------------------------------------------- runs

let runNo = 0;

interface RunOut {
  server: Msg;
  client: Msg;
  serverStats?: Msg;
  clientStats?: Msg;
}

async function runPair(side: Side, workload: "bulk" | "rr", extra: string[]): Promise<RunOut> {
  const n = ++runNo;
  const common = ["--workload", workload, "--warmup", String(P.warmup), "--seconds", String(P.seconds), ...extra];
  const server = new Peer(`${side.name} server`, [...side.server(n), "--role", "server", ...common]);
  let client: Peer | null = null;
  try {
    await server.wait("ready", 30_000);
    client = new Peer(`${side.name} client`, [...side.client(n), "--role", "client", "--host", side.serverIp, ...common]);
    await client.wait("ready", 30_000);
    const budget = (P.warmup + P.seconds) * 1000 + 90_000;
    const c = await client.wait("result", budget);
    let s: Msg;
    if (workload === "bulk") s = await server.wait("result", 30_000);
    else {
      await server.stop();
      s = { ev: "result" };
    }
    await client.proc.exited;
    await server.proc.exited;
    return { server: s, client: c, serverStats: server.msgs.find((m) => m.ev === "stats"), clientStats: client.msgs.find((m) => m.ev === "stats") };
  } finally {
    if (client !== null) await client.stop();
    await server.stop();
    side.cleanup(n);
  }
}

interface Latency {
  count: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  meanUs: number;
}

/** The non-zero TCP counters and the transmit/drop counters of one stack process. */
function countersOf(stats: Msg | undefined): Record<string, number> | undefined {
  if (stats === undefined) return undefined;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries((stats.tcp ?? {}) as Record<string, number>)) if (v !== 0) out[k] = v;
  for (const [k, v] of Object.entries((stats.net ?? {}) as Record<string, number>)) if (v !== 0 && /^(tx|drop|rx)/.test(k)) out[`net.${k}`] = v;
  if (typeof stats.rounds === "number") out["loop.rounds"] = stats.rounds;
  if (typeof stats.cpuUs === "number") out["cpuUs"] = stats.cpuUs;
  return out;
}

/** The bulk sender's window samples (KiB, every 100 ms): in flight, peer window, cwnd, queued. */
function winOf(stats: Msg | undefined): number[][] | undefined {
  return Array.isArray(stats?.win) ? (stats.win as number[][]) : undefined;
}

interface SideResult {
  bulkGbps?: number;
  bulkSeconds?: number;
  /** The receiver's Gbit/s per 250 ms slice from the first byte, warm-up included (modes within a run). */
  bulkSliceGbps?: number[];
  /** Wall-clock ms of the first received byte (start of the first slice). */
  firstByteWallMs?: number;
  /** Stack only: the sender's [in flight, peer window, cwnd, send queue] in KiB every 100 ms. */
  bulkSenderWindowKiB?: number[][];
  /**
   * Stack only: CPU time (user + system, whole process life, start-up included) per byte the
   * sender queued, in ns, for client and server: less sensitive than Gbit/s to other work on the cores.
   */
  bulkCpuNsPerByte?: { client: number; server: number };
  /** The --jumbo bulk run: its MTU, throughput and (stack) CPU per byte. */
  bulkJumbo?: { mtu: number; gbps: number; cpuNsPerByte?: { client: number; server: number } };
  rrClosed?: { rate: number; latency: Latency; setupMs: number; unanswered: number };
  rrOpen?: { targetRate: number; rate: number; latency: Latency; unanswered: number };
  errors: string[];
  /** Stack only: counters of client and server per workload (what explains a figure). */
  counters?: Record<string, { client?: Record<string, number>; server?: Record<string, number> }>;
}

function keepCounters(side: Side, r: SideResult, name: string, o: RunOut): void {
  if (side.name !== "stack") return;
  r.counters ??= {};
  r.counters[name] = { client: countersOf(o.clientStats), server: countersOf(o.serverStats) };
}

async function bulk(side: Side, r: SideResult, mtu = 1500): Promise<void> {
  try {
    if (mtu !== 1500) side.setMtu(mtu);
    const o = await runPair(side, "bulk", []);
    const gbps = Number(o.server.gbps);
    const sent = Number(o.client.sent);
    const cc = Number(o.clientStats?.cpuUs);
    const sc = Number(o.serverStats?.cpuUs);
    const cpu = sent > 0 && cc > 0 && sc > 0 ? { client: (cc * 1000) / sent, server: (sc * 1000) / sent } : undefined;
    if (mtu !== 1500) {
      r.bulkJumbo = { mtu, gbps, cpuNsPerByte: cpu };
      keepCounters(side, r, `bulkMtu${mtu}`, o);
    } else {
      r.bulkGbps = gbps;
      r.bulkSeconds = Number(o.server.seconds);
      r.bulkSliceGbps = o.server.sliceGbps as number[] | undefined;
      r.firstByteWallMs = o.server.firstByteWallMs as number | undefined;
      r.bulkSenderWindowKiB = winOf(o.clientStats);
      r.bulkCpuNsPerByte = cpu;
      keepCounters(side, r, "bulk", o);
    }
  } catch (e) {
    r.errors.push(`bulk${mtu !== 1500 ? ` (MTU ${mtu})` : ""}: ${(e as Error).message}`);
  } finally {
    if (mtu !== 1500) side.setMtu(1500);
  }
}

async function rr(side: Side, r: SideResult, rate: number): Promise<void> {
  try {
    const o = await runPair(side, "rr", ["--conns", String(P.conns), "--size", String(P.size), "--rate", String(rate)]);
    const c = o.client as unknown as { rate: number; targetRate: number; latency: Latency; setupMs: number; unanswered: number };
    keepCounters(side, r, rate === 0 ? "rrClosed" : "rrOpen", o);
    if (rate === 0) r.rrClosed = { rate: c.rate, latency: c.latency, setupMs: c.setupMs, unanswered: c.unanswered };
    else r.rrOpen = { targetRate: c.targetRate, rate: c.rate, latency: c.latency, unanswered: c.unanswered };
  } catch (e) {
    r.errors.push(`rr ${rate === 0 ? "closed" : "open"}: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------- report

function fmt(v: number | undefined, digits = 0): string {
  return v === undefined || !Number.isFinite(v) ? "-" : v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function ratio(s: number | undefined, k: number | undefined, lowerIsBetter = false): string {
  if (s === undefined || k === undefined || s <= 0 || k <= 0) return "-";
  return `${(lowerIsBetter ? k / s : s / k).toFixed(2)}x`;
}

function lat(l: Latency | undefined): string {
  return l === undefined ? "-" : `${fmt(l.p50Us)} / ${fmt(l.p99Us)} / ${fmt(l.p999Us)} / ${fmt(l.maxUs)}`;
}

function table(res: Record<string, SideResult>, openRate: number): string {
  const k = res.kernel ?? { errors: [] };
  const s = res.stack ?? { errors: [] };
  const rows: [string, string, string, string][] = [
    ["workload", "kernel (veth)", "stack (memif)", "stack/kernel"],
    ["bulk, 1 connection, MTU 1500, Gbit/s", fmt(k.bulkGbps, 2), fmt(s.bulkGbps, 2), ratio(s.bulkGbps, k.bulkGbps)],
    ...(P.jumbo > 0
      ? [[`bulk, 1 connection, MTU ${P.jumbo} (jumbo), Gbit/s`, fmt(k.bulkJumbo?.gbps, 2), fmt(s.bulkJumbo?.gbps, 2), ratio(s.bulkJumbo?.gbps, k.bulkJumbo?.gbps)] as [string, string, string, string]]
      : []),
    [`rr closed loop, ${P.conns} conns, ${P.size} B, req/s`, fmt(k.rrClosed?.rate), fmt(s.rrClosed?.rate), ratio(s.rrClosed?.rate, k.rrClosed?.rate)],
    ["  latency p50/p99/p99.9/max us", lat(k.rrClosed?.latency), lat(s.rrClosed?.latency), `p99 ${ratio(s.rrClosed?.latency.p99Us, k.rrClosed?.latency.p99Us, true)}`],
    [`rr open loop at ${fmt(openRate)} req/s, achieved`, fmt(k.rrOpen?.rate), fmt(s.rrOpen?.rate), ratio(s.rrOpen?.rate, k.rrOpen?.rate)],
    ["  latency (CO-corrected) p50/p99/p99.9/max us", lat(k.rrOpen?.latency), lat(s.rrOpen?.latency), `p99 ${ratio(s.rrOpen?.latency.p99Us, k.rrOpen?.latency.p99Us, true)}`],
    ["  unanswered at the end (open loop)", fmt(k.rrOpen?.unanswered), fmt(s.rrOpen?.unanswered), ""],
  ];
  const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("   ");
  return [line(rows[0]!), w.map((n) => "-".repeat(n)).join("   "), ...rows.slice(1).map(line)].join("\n");
}

// ---------------------------------------------------------------- main

async function main(): Promise<number> {
  console.log(`bench/tcp  machine: ${machine.nproc} CPUs (${machine.cpu}), Linux ${machine.kernel}, Bun ${machine.bun}, commit ${machine.commit}`);
  if (machine.loadAvg1 > machine.nproc * 0.5) console.log(`  WARNING: load average ${machine.loadAvg1} on ${machine.nproc} CPUs: other processes compete for the cores; figures will be low and noisy`);
  console.log(`  params: warmup ${P.warmup} s, measure ${P.seconds} s, rr ${P.conns} connections x ${P.size} B, rr open-loop rate ${P.rrRate}, stack buffers ${P.bufKib} KiB`);
  const skip = process.getuid?.() !== 0 ? "not root (namespaces and DPDK vdevs need root)" : null;
  if (skip) {
    console.log(`bench/tcp: skipped: ${skip}`);
    if (P.json) writeFileSync(P.json, JSON.stringify({ bench: "tcp", machine, params: P, skipped: skip }, null, 2));
    return 0;
  }
  const sides: Side[] = [];
  const results: Record<string, SideResult> = {};
  try {
    if (P.only !== "stack") sides.push(kernelSide());
    if (P.only !== "kernel") {
      if (shimBuilt()) sides.push(stackSide());
      else results.stack = { errors: ["the DPDK shim is not built (run npm run setup)"] };
    }
    for (const side of sides) {
      const r: SideResult = { errors: [] };
      results[side.name] = r;
      if (P.workload !== "rr") {
        console.log(`  running ${side.name}: bulk ...`);
        await bulk(side, r);
        if (P.jumbo > 0) {
          console.log(`  running ${side.name}: bulk at MTU ${P.jumbo} ...`);
          await bulk(side, r, P.jumbo);
        }
      }
      if (P.workload !== "bulk") {
        console.log(`  running ${side.name}: request/response, closed loop ...`);
        await rr(side, r, 0);
      }
    }
    const closed = sides.map((s) => results[s.name]!.rrClosed?.rate ?? 0).filter((x) => x > 0);
    const openRate = P.workload === "bulk" ? 0 : P.rrRate === "auto" ? (closed.length > 0 ? Math.round(Math.min(...closed) / 2) : 0) : Number(P.rrRate);
    if (openRate > 0) {
      for (const side of sides) {
        console.log(`  running ${side.name}: request/response, open loop at ${openRate} req/s ...`);
        await rr(side, results[side.name]!, openRate);
      }
    }
    console.log("");
    console.log(table(results, openRate));
    for (const [name, r] of Object.entries(results)) for (const e of r.errors) console.log(`  ${name} failed: ${e.split("\n")[0]}`);
    const cpb = results.stack?.bulkCpuNsPerByte;
    if (cpb !== undefined) console.log(`  stack bulk CPU per byte sent: client ${cpb.client.toFixed(3)} ns, server ${cpb.server.toFixed(3)} ns (whole process, start-up included)`);
    const sl = results.stack?.bulkSliceGbps;
    if (sl !== undefined) console.log(`  stack bulk Gbit/s per 250 ms from the first byte: ${sl.map((x) => x.toFixed(1)).join(" ")}`);
    const cpj = results.stack?.bulkJumbo?.cpuNsPerByte;
    if (cpj !== undefined) console.log(`  stack bulk at MTU ${P.jumbo} CPU per byte sent: client ${cpj.client.toFixed(3)} ns, server ${cpj.server.toFixed(3)} ns`);
    for (const [w, c] of Object.entries(results.stack?.counters ?? {})) {
      const pick = (x: Record<string, number> | undefined) => (x === undefined ? "-" : `retransmits ${x.retransmits ?? 0}, RTOs ${x.rtoTimeouts ?? 0}, tx dropped ${x["net.txDeviceDropped"] ?? 0}`);
      console.log(`  stack ${w}: client ${pick(c.client)}; server ${pick(c.server)}`);
    }
    const out = {
      bench: "tcp",
      machine,
      params: { ...P, rrOpenRate: openRate, kernelLink: "veth between two namespaces, default offloads", stackLink: "net_memif between two processes" },
      results,
      ratios: {
        bulk: results.stack?.bulkGbps && results.kernel?.bulkGbps ? results.stack.bulkGbps / results.kernel.bulkGbps : null,
        bulkJumbo: results.stack?.bulkJumbo && results.kernel?.bulkJumbo ? results.stack.bulkJumbo.gbps / results.kernel.bulkJumbo.gbps : null,
        rrClosedRate: results.stack?.rrClosed && results.kernel?.rrClosed ? results.stack.rrClosed.rate / results.kernel.rrClosed.rate : null,
        rrOpenP99KernelOverStack: results.stack?.rrOpen && results.kernel?.rrOpen ? results.kernel.rrOpen.latency.p99Us / results.stack.rrOpen.latency.p99Us : null,
      },
      targets: { bulkGbps: 10, rrRateVsKernel: 3, note: "issue 3: bulk >= 10 Gbit/s; request/response >= 3x kernel at equal core count, lower p99" },
    };
    if (P.json) {
      writeFileSync(P.json, JSON.stringify(out, null, 2));
      console.log(`  wrote ${P.json}`);
    }
    return Object.values(results).some((r) => r.errors.length > 0) ? 1 : 0;
  } finally {
    for (const s of sides) s.teardown();
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`bench/tcp: ${(e as Error).message}`);
    process.exit(1);
  },
);
