/**
 * bench/conns (issue 4): how many TCP connections our stack holds, and at what
 * cost, against the Linux kernel.
 *
 *   bun bench/conns.ts -c N -s S -e E [--hold H] [--opening N] [--busy-poll] [--no-huge] [--buf-mb MB]
 *                      [--chunk-bytes B] [--no-kernel] [--json FILE]
 *
 * A generator and a server, two processes on our stack over net_memif
 * (bench/conns-peer.ts, bench/conns-stage.ts: TcpLayer driven by connection id,
 * no JS object per connection), open N connections over S seconds from
 * ceil(N / 64512) local addresses (ports 1024-65535 of each), hold them for H
 * seconds (default max(2E, 5)) with a 16-byte message per connection every E
 * seconds (echoed; round trip in an HDR histogram corrected for coordinated
 * omission), then half-close them all and count clean closes.
 *
 * Reports: connections established and held, setup rate, memory per connection
 * on each side = (stack regions (hugepages: tables for --max-conns = N, and the
 * buffer pool) + JS heap growth + RSS growth over the idle baseline taken after
 * the stack started) / N, message p50/p99/max. Then the Linux baseline on kernel
 * sockets over loopback with as many connections as one process may hold (the
 * open-file hard limit, printed; one process per side): setup rate, kernel slab
 * growth per connection, p99.
 */
import { readFileSync, rmSync } from "node:fs";
import { execSync } from "node:child_process";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { parseProgramArgs } from "../src/api/cli";
import { lines } from "../scripts/lines";

const flags = parseProgramArgs({
  name: "bench conns",
  usage: "bun run bench conns -c N -s S -e E [--hold H] [--opening N] [--busy-poll] [--no-huge] [--buf-mb MB] [--chunk-bytes B] [--no-kernel] [--json FILE]",
  about: "How many TCP connections our stack holds, and at what cost, against the Linux kernel (issue 4).",
  flags: [
    { name: "connections", short: "c", type: "int", arg: "N", default: 100_000, min: 1, max: 100_000_000, help: "connections" },
    { name: "setup", short: "s", type: "number", arg: "S", default: 2, min: 0, help: "seconds to open them over" },
    { name: "epoch", short: "e", type: "number", arg: "E", default: 2, min: 0.01, help: "seconds between two messages of one connection" },
    { name: "hold", type: "number", arg: "H", min: 0, help: "seconds to hold (default max(2E, 5))" },
    { name: "close-s", type: "number", arg: "S", min: 1, default: 60, help: "seconds to wait for every connection to close" },
    { name: "opening", type: "int", arg: "N", default: 2048, min: 1, help: "most connections the generator has opening at once (SYN sent, not established)" },
    { name: "busy-poll", type: "bool", help: "both peers spin instead of sleeping when idle" },
    { name: "buf-mb", type: "int", arg: "MB", default: 4, min: 1, help: "buffer pool per stack (fixed, not per connection: 4 MB of 512 B chunks holds 8192 messages in flight)" },
    { name: "chunk-bytes", type: "int", arg: "B", default: 512, min: 64, help: "buffer chunk size" },
    { name: "no-huge", type: "bool", help: "stack memory in normal pages" },
    { name: "no-kernel", type: "bool", help: "skip the Linux kernel baseline" },
    { name: "kernel-conns", type: "int", arg: "N", min: 1, help: "kernel baseline connections (default: the open-file limit minus 100)" },
    { name: "json", type: "string", arg: "FILE", help: "write the results as JSON" },
  ],
}).values;

const N = flags["connections"] as number;
const S = flags["setup"] as number;
const E = flags["epoch"] as number;
const H = (flags["hold"] as number | undefined) ?? Math.max(2 * E, 5);
const CLOSE_S = flags["close-s"] as number;
const BUF_MB = flags["buf-mb"] as number;
const OPENING = flags["opening"] as number;
/**
 * Poll loops of both peers: by default they sleep when idle (after 200 us of spinning), since the
 * generator and the server share the cores here and a spinning peer takes CPU from the other one
 * (1 M connections, -s 2: 166 k conn/s vs 123 k busy-polling, same machine state); --busy-poll spins.
 * QS_CONNS_LOOP='{"burstsPerYield":...}' overrides for experiments.
 */
const LOOP = { busyPoll: flags["busy-poll"] === true, idleSpinUs: 200, ...(JSON.parse(process.env.QS_CONNS_LOOP ?? "{}") as Record<string, unknown>) };
const NO_HUGE = flags["no-huge"] === true;
const IPS = Math.ceil(N / 64512);
const ROOT = join(import.meta.dir, "..");
const TTY = process.stdout.isTTY === true;

function sh(cmd: string): string {
  try {
    return execSync(cmd, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "";
  }
}

function meminfoKb(key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(readFileSync("/proc/meminfo", "utf8"));
  return m ? Number(m[1]) : 0;
}

const machine = {
  nproc: availableParallelism(),
  cpu: /model name\s*:\s*(.*)/.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1]?.trim() ?? "unknown",
  memGiB: Math.round(meminfoKb("MemTotal") / 1048576),
  loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
  bun: Bun.version,
  dpdk: sh("pkg-config --modversion libdpdk") || "unknown",
  commit: (sh(`git -C ${ROOT} rev-parse --short HEAD`) || "unknown") + (sh(`git -C ${ROOT} status --porcelain --untracked-files=no`) ? "+dirty" : ""),
  hugepages: { total: meminfoKb("HugePages_Total"), free: meminfoKb("HugePages_Free") },
};

type Msg = Record<string, any> & { ev?: string };

class Peer {
  readonly proc: Bun.Subprocess<"pipe", "pipe", "pipe">;
  readonly msgs: Msg[] = [];
  private waiters: (() => void)[] = [];
  onMsg: (m: Msg) => void = () => {};
  constructor(script: string, args: string[]) {
    // QS_CONNS_PROF=DIR: each peer writes a CPU profile (and its markdown summary) into DIR on exit.
    const prof = process.env.QS_CONNS_PROF ? ["--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${process.env.QS_CONNS_PROF}`] : [];
    this.proc = Bun.spawn([process.execPath, ...prof, join(import.meta.dir, script), ...args], { stdin: "pipe", stdout: "pipe", stderr: "pipe", cwd: ROOT });
    void this.read();
  }
  private async read(): Promise<void> {
    for await (const line of lines(this.proc.stdout)) {
      if (!line.startsWith("{")) continue;
      try {
        const m = JSON.parse(line) as Msg;
        this.msgs.push(m);
        this.onMsg(m);
      } catch {
        /* not ours */
      }
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    }
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  async wait(ev: string, timeoutMs: number): Promise<Msg> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      // Each message answers one wait (a command like "mem" may be asked again).
      let i = this.msgs.findIndex((x) => x.ev === ev);
      if (i < 0) i = this.msgs.findIndex((x) => x.ev === "error");
      if (i >= 0) {
        const m = this.msgs.splice(i, 1)[0]!;
        if (m.ev === "error") throw new Error(`${ev}: peer failed: ${m.message}`);
        return m;
      }
      if (Date.now() > end || this.proc.exitCode !== null) {
        const err = await new Response(this.proc.stderr).text().catch(() => "");
        throw new Error(`timed out waiting for ${ev} (exit ${this.proc.exitCode}); stderr tail: ${err.split("\n").slice(-5).join(" | ")}`);
      }
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }
  send(cmd: string): void {
    this.proc.stdin.write(cmd + "\n");
    this.proc.stdin.flush();
  }
}

function bar(frac: number, width = 30): string {
  const k = Math.max(0, Math.min(width, Math.round(frac * width)));
  return "[" + "#".repeat(k) + ".".repeat(width - k) + "]";
}

let lastLine = 0;
function showProgress(m: Msg): void {
  const now = Date.now();
  if (!TTY && now - lastLine < 2000) return;
  lastLine = now;
  const frac = m.phase === "setup" ? m.established / N : m.phase === "close" ? m.cleanClosed / N : 1;
  const text = `${m.phase.padEnd(5)} ${bar(frac)} opened ${m.opened} established ${m.established} failed ${m.failed} msgs ${m.sent}/${m.received} closed ${m.cleanClosed}`;
  if (TTY) process.stdout.write("\r" + text + "   ");
  else console.log(text);
}

function fmtB(n: number): string {
  return n >= 2 ** 30 ? (n / 2 ** 30).toFixed(2) + " GiB" : (n / 2 ** 20).toFixed(1) + " MiB";
}

interface SideMem {
  regions: number;
  hugeRegions: number;
  tables: number;
  heapGrowth: number;
  rssGrowth: number;
  perConn: number;
  perConnTables: number;
  /** Growth over the baseline of resident memory by kind (anonymous, file, shared), bytes. */
  rssGrowthParts: Record<string, number>;
  /** The issue's wording summed: (regions + JS heap growth + RSS growth) / N; counts the heap twice (it is resident memory too). */
  perConnHeapTwice: number;
}

/**
 * Memory per connection of one side: its stack regions (hugepages: the tables and
 * the buffer pool) plus the growth of its resident memory over the idle baseline
 * (link up, no connection), divided by N. The JS heap lives in resident memory,
 * so its growth is part of the RSS growth (shown apart, not added again).
 */
function sideMem(ready: Msg, base: Msg["mem"], after: Msg["mem"], n: number): SideMem {
  const heapGrowth = Math.max(0, after.heap - base.heap);
  const rssGrowth = Math.max(0, after.rss - base.rss);
  return {
    regions: ready.regionBytes,
    hugeRegions: ready.hugeBytes,
    tables: ready.tableBytes,
    heapGrowth,
    rssGrowth,
    perConn: (ready.regionBytes + rssGrowth) / n,
    perConnTables: (ready.tableBytes + rssGrowth) / n,
    rssGrowthParts: Object.fromEntries(Object.keys(after.rssParts ?? {}).map((k) => [k, after.rssParts[k] - (base.rssParts?.[k] ?? 0)])),
    perConnHeapTwice: (ready.regionBytes + heapGrowth + rssGrowth) / n,
  };
}

async function runStack(): Promise<Record<string, unknown>> {
  const sock = `/tmp/qs-conns-${process.pid}.sock`;
  const base = { sock, conns: N, setupS: S, epochS: E, holdS: H, closeS: CLOSE_S, ips: IPS, noHuge: NO_HUGE, bufMb: BUF_MB, chunkBytes: flags["chunk-bytes"] as number, maxConns: N, maxOpening: OPENING, ...LOOP };
  const server = new Peer("conns-peer.ts", [JSON.stringify({ ...base, role: "server" })]);
  let gen: Peer | null = null;
  try {
    const sReady = await server.wait("ready", 120_000);
    console.log(`server: stack up in ${sReady.buildMs.toFixed(0)} ms; regions ${fmtB(sReady.regionBytes)} (${fmtB(sReady.hugeBytes)} hugepages): tables ${fmtB(sReady.tableBytes)} = ${sReady.bytesPerConnPlan.toFixed(1)} B/conn, buffers ${fmtB(sReady.bufferBytes)}`);
    gen = new Peer("conns-peer.ts", [JSON.stringify({ ...base, role: "generator" })]);
    gen.onMsg = (m) => m.ev === "progress" && showProgress(m);
    const gReady = await gen.wait("ready", 120_000);
    server.send("base");
    const sBase = await server.wait("base", 30_000);
    console.log(`generator: stack up in ${gReady.buildMs.toFixed(0)} ms; link ${gReady.link ? "up" : "DOWN"}; source addresses ${gReady.firstIp} - ${gReady.lastIp}`);
    const est = await gen.wait("established", (S + 60) * 1000 + N / 10);
    if (TTY) process.stdout.write("\n");
    console.log(`established ${est.established} of ${N} in ${(est.setupUs / 1e6).toFixed(2)} s: ${Math.round(est.rate)} conn/s (failed ${est.failed}, open errors ${est.openErrors}); generator CPU ${(est.cpuSetupUs / 1e6).toFixed(2)} s`);
    const held = await gen.wait("held", (H + 60) * 1000);
    if (TTY) process.stdout.write("\n");
    server.send("mem");
    const sMem = await server.wait("mem", 60_000);
    gen.send("close");
    const gDone = await gen.wait("done", (CLOSE_S + 60) * 1000);
    if (TTY) process.stdout.write("\n");
    // Diagnostics: the server's side of each connection the generator could not close.
    const stuckServer: unknown[] = [];
    for (const g of (gDone.stuck ?? []) as { tuple: number[] }[]) {
      const [lip, lport, rip, rport] = g.tuple;
      server.send(`conn ${rip} ${rport} ${lip} ${lport}`);
      stuckServer.push((await server.wait("conn", 30_000)).state);
    }
    for (let i = 0; i < stuckServer.length; i++) {
      console.log(`stuck connection ${i}: generator ${JSON.stringify(gDone.stuck[i])}`);
      console.log(`stuck connection ${i}: server    ${JSON.stringify(stuckServer[i])}`);
    }
    // The server leaves LAST-ACK when the generator's last ACKs arrive: give them
    // a moment (bounded) before counting what is still in use.
    const settleEnd = Date.now() + 10_000;
    for (;;) {
      server.send("mem");
      const m = await server.wait("mem", 30_000);
      if (m.inUse === 0 || Date.now() > settleEnd) break;
      await Bun.sleep(200);
    }
    server.send("stop");
    const sDone = await server.wait("done", 30_000);
    const sm = sideMem(sReady, sBase.base, sMem.mem, N);
    const gm = sideMem(gReady, gReady.base, held.mem, N);
    return {
      connections: N, established: est.established, held: held.held, failed: est.failed, setupSeconds: est.setupUs / 1e6, setupRate: est.rate,
      // CPU each process used during the setup (process CPU time, user + system): the generator from its
      // first connect to its last Connected event, the server from its first to its N-th accept.
      setupCpu: {
        generatorS: est.cpuSetupUs / 1e6,
        serverS: sMem.cpuSetupUs >= 0 ? sMem.cpuSetupUs / 1e6 : null,
        serverConnPerCpuS: sMem.cpuSetupUs > 0 ? est.established / (sMem.cpuSetupUs / 1e6) : null,
      },
      messages: { sent: held.sent, echoed: held.received, p50Us: held.p50, p99Us: held.p99, p999Us: held.p999, maxUs: held.max },
      closedCleanly: gDone.cleanClosed, resets: gDone.resets + sDone.resets, serverAccepted: sDone.accepted, serverInUseAfterClose: sDone.inUse,
      server: { perTable: sReady.perTable, mem: sm, flowProbes: sMem.flowProbes, chunksHeld: sMem.chunks, inUse: sMem.inUse }, generator: { mem: gm, chunksHeld: held.chunks, inUse: held.inUse },
      counters: { generator: gDone.counters, server: sDone.counters },
      stuckClosing: gDone.stuck,
      stuckClosingServer: stuckServer,
    };
  } finally {
    for (const p of [gen, server]) if (p && p.proc.exitCode === null) setTimeout(() => p.proc.kill(), 5000);
    await Promise.all([gen?.proc.exited, server.proc.exited].filter(Boolean));
    rmSync(sock, { force: true });
  }
}

async function runKernel(): Promise<Record<string, unknown>> {
  const limit = Number(sh("sh -c 'ulimit -Hn'")) || 20000;
  const n = (flags["kernel-conns"] as number | undefined) ?? Math.min(N, limit - 100);
  const port = 40000 + (process.pid % 10000);
  const slab0 = meminfoKb("Slab");
  const server = new Peer("conns-kernel.ts", ["server", String(port)]);
  await server.wait("ready", 10_000);
  const sBase = server.msgs.find((m) => m.ev === "ready")!.base;
  const client = new Peer("conns-kernel.ts", ["client", String(port), String(n), String(Math.max(S * (n / N), 0.5)), String(E), String(Math.min(H, 10))]);
  const est = await client.wait("established", 120_000);
  const held = await client.wait("held", 120_000);
  const slab1 = meminfoKb("Slab");
  server.send("mem");
  const sMem = await server.wait("mem", 10_000);
  server.send("stop");
  await Promise.all([client.proc.exited, server.proc.exited]);
  const slabPerConn = ((slab1 - slab0) * 1024) / n;
  return {
    openFileHardLimit: limit, connections: n, established: est.established, failed: est.failed, setupRate: est.rate,
    kernelSlabPerConnection: slabPerConn,
    serverProcessPerConnection: (Math.max(0, sMem.mem.rss - sBase.rss) + Math.max(0, sMem.mem.heap - sBase.heap)) / n,
    clientProcessPerConnection: (Math.max(0, held.mem.rss - held.base.rss) + Math.max(0, held.mem.heap - held.base.heap)) / n,
    messages: { sent: held.sent, echoed: held.received, p50Us: held.p50, p99Us: held.p99, maxUs: held.max },
  };
}

console.log(`bench conns: -c ${N} -s ${S} -e ${E} hold ${H} s, ${IPS} source address(es), buffers ${BUF_MB} MB per stack, ${NO_HUGE ? "no hugepages" : "hugepages"}`);
console.log(`machine: nproc ${machine.nproc}, ${machine.cpu}, ${machine.memGiB} GiB, load ${machine.loadavg.join(" ")}; hugepages ${machine.hugepages.free}/${machine.hugepages.total} free; bun ${machine.bun}; DPDK ${machine.dpdk}; commit ${machine.commit}`);
const stack = await runStack();
const kernel = flags["no-kernel"] === true ? null : await runKernel().catch((e: Error) => ({ error: e.message }));

const st = stack as any;
const row = (k: string, a: string, b: string) => console.log(`  ${k.padEnd(34)}${a.padStart(16)}${b.padStart(18)}`);
console.log("");
row("", "our stack", "Linux kernel");
const kn = kernel as any;
row("connections asked", String(N), kn?.connections !== undefined ? String(kn.connections) : "-");
row("established", String(st.established), kn?.established !== undefined ? String(kn.established) : "-");
row("held at the end of the hold", String(st.held), kn?.established !== undefined ? String(kn.established) : "-");
row("setup rate (conn/s)", Math.round(st.setupRate).toLocaleString("en"), kn?.setupRate ? Math.round(kn.setupRate).toLocaleString("en") : "-");
row("setup CPU s: server / generator", `${st.setupCpu.serverS?.toFixed(2) ?? "-"} / ${st.setupCpu.generatorS.toFixed(2)}`, "-");
row("conn/s per server CPU-second", st.setupCpu.serverConnPerCpuS ? Math.round(st.setupCpu.serverConnPerCpuS).toLocaleString("en") : "-", "-");
row("server memory per conn (B)", st.server.mem.perConn.toFixed(0), kn?.kernelSlabPerConnection !== undefined ? `${((kn.kernelSlabPerConnection / 2) + kn.serverProcessPerConnection).toFixed(0)}*` : "-");
row("  of which tables only (B)", st.server.mem.perConnTables.toFixed(0), "");
row("generator memory per conn (B)", st.generator.mem.perConn.toFixed(0), kn?.kernelSlabPerConnection !== undefined ? `${((kn.kernelSlabPerConnection / 2) + kn.clientProcessPerConnection).toFixed(0)}*` : "-");
row("message p50 / p99 (us)", `${st.messages.p50Us} / ${st.messages.p99Us}`, kn?.messages ? `${kn.messages.p50Us} / ${kn.messages.p99Us}` : "-");
row("messages sent / echoed", `${st.messages.sent} / ${st.messages.echoed}`, kn?.messages ? `${kn.messages.sent} / ${kn.messages.echoed}` : "-");
row("closed cleanly", String(st.closedCleanly), "-");
const tparts = st.server.perTable.parts as Record<string, number>;
console.log(`  server tables, B per connection: ${Object.keys(tparts).map((k) => `${k.replace("tcp-", "")} ${tparts[k]!.toFixed(1)}`).join(", ")}; buffer pool ${st.server.perTable.bufferPool.toFixed(1)}`);
console.log(`  server: regions ${fmtB(st.server.mem.regions)} (hugepages ${fmtB(st.server.mem.hugeRegions)}), heap +${fmtB(st.server.mem.heapGrowth)}, RSS +${fmtB(st.server.mem.rssGrowth)}; generator: regions ${fmtB(st.generator.mem.regions)}, heap +${fmtB(st.generator.mem.heapGrowth)}, RSS +${fmtB(st.generator.mem.rssGrowth)}`);
if (kn?.openFileHardLimit) {
  console.log(`  * kernel: per-process open-file hard limit ${kn.openFileHardLimit} (cannot be raised here), so ${kn.connections} connections, one process per side, over loopback;`);
  console.log(`    kernel slab growth ${kn.kernelSlabPerConnection.toFixed(0)} B per connection (both sockets; half counted per side) + the process's RSS/heap growth per connection.`);
} else if (kn?.error) {
  console.log(`  kernel baseline failed: ${kn.error}`);
}
const json = flags["json"] as string | undefined;
if (json) {
  await Bun.write(json, JSON.stringify({ bench: "conns", machine, params: { connections: N, setupS: S, epochS: E, holdS: H, bufMb: BUF_MB, chunkBytes: flags["chunk-bytes"], maxOpening: OPENING, loop: LOOP, noHuge: NO_HUGE, sourceAddresses: IPS }, stack, kernel, targets: { bytesPerConn: 256, setupRate: 100_000 } }, null, 2) + "\n");
  console.log(`wrote ${json}`);
}
process.exit(st.established === N && st.closedCleanly === N ? 0 : 1);
