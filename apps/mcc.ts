/**
 * mcc: the iotep load generator with MCC's flags (QStack's client), on our
 * stack or, with --kernel, on Bun's kernel sockets (the baseline).
 *
 *   bun run mcc --vdev net_memif0,... --ip 10.0.0.2/24 --dest 10.0.0.1 -c 100000 -s 20 -e 60 -r 0.05
 *   bun run mcc --kernel --dest 127.0.0.1 --port 8080 -c 5000 -s 5 -e 10 --duration 20
 *
 * Opens -c connections over -s seconds (progress bar), waits -w seconds,
 * then sends -b messages per second (default c/e: each connection once per
 * epoch, staggered) for --duration seconds, a fraction -r of them requests.
 * Prints a live status line, then the latency table; writes mcc.json,
 * cdf.txt and mcc.html (the CDF plot) under --out.
 *
 * --smp N: on our stack, N application threads (Bun Workers) each run the
 * generator for connections i with i mod N = k, beside the one stack thread
 * (this thread: device, TCP, the poll loop), joined by shared-memory lanes
 * (apps/iotep/smp-lanes.ts); latency is timed in each app thread on its own
 * clock, and the output is merged (counters summed, HDR histograms added).
 * With --kernel, N processes (the open-file limit is per process).
 *
 * Only requests are answered, so the client sees request latency only; the
 * server's view of both classes (--stats-json of iotepserver) and the wire
 * view (monitor) complete the picture; bench/iotep puts them side by side.
 */
import { runtimeEnvNote } from "../src/api/runtime-env";
import { ConfigError } from "../src/api/errors";
import { monotonicUs } from "../src/api/clock";
import { formatIpv4, parseIpv4 } from "../src/wire/ip-addr";
import { cryptoRng } from "../src/net/seeded-rng";
import { TcpLayer } from "../src/tcp/tcp-layer";
import { onStopSignal, parseAppArgs, runMain } from "./common";
import { kernelClient, type ClientTransport } from "./iotep/client-transports";
import { IdClient } from "./iotep/id-client";
import { startIdStack, type IdStack } from "./iotep/id-stack";
import { Generator } from "./iotep/generator";
import { summarize } from "./iotep/latency";
import { DEFAULT_MSG_LEN, MAX_MSG_LEN, MIN_MSG_LEN } from "./iotep/protocol";
import { latencyTable, textTable, writeResults } from "./iotep/results";
import type { RouterThreadCounts } from "./iotep/smp-router";
import { LaneRouter } from "./iotep/smp-router";
import { GenThreads, mergeThreads } from "./iotep/smp-threads";
import { RoundGaps, threadSliceSince } from "./iotep/round-gaps";
import type { GenWorkerDone } from "./iotep/smp-worker";

const spec = {
  name: "mcc",
  usage: "bun run mcc [stack flags | --kernel] --dest IP [-c N] [-s S] [-w S] [-e S] [-b N] [-l LEN] [-r R] [--duration S] [--smp N]",
  about: "iotep load generator (MCC's flags): many persistent connections, one message per connection per epoch, request latency in HDR histograms.",
  flags: [
    { name: "connections", short: "c", type: "int" as const, arg: "N", default: 1000, min: 1, max: 100_000_000, help: "concurrent connections" },
    { name: "setup", short: "s", type: "number" as const, arg: "S", default: 10, min: 0, help: "seconds over which the connections are opened" },
    { name: "wait", short: "w", type: "number" as const, arg: "S", default: 1, min: 0, help: "seconds to wait after the setup time before sending" },
    { name: "epoch", short: "e", type: "number" as const, arg: "S", default: 60, min: 0.001, help: "seconds between two messages of one connection" },
    { name: "block", short: "b", type: "int" as const, arg: "N", min: 1, help: "messages per second, i.e. connections per block (default c/e)" },
    { name: "length", short: "l", type: "int" as const, arg: "LEN", default: DEFAULT_MSG_LEN, min: MIN_MSG_LEN, max: MAX_MSG_LEN, help: "message length in bytes" },
    { name: "ratio", short: "r", type: "number" as const, arg: "R", default: 0.05, min: 0, max: 1, help: "fraction of messages that are requests (high priority)" },
    { name: "dest", type: "string" as const, arg: "IP", help: "server address (default 127.0.0.1 with --kernel)" },
    { name: "port", type: "int" as const, arg: "N", default: 80, min: 1, max: 65535, help: "server port" },
    { name: "ports", type: "int" as const, arg: "N", default: 1, min: 1, max: 1024, help: "spread connections over N server ports from --port (iotepserver --ports N)" },
    { name: "ips", type: "string" as const, arg: "N|A,B,..|A-B", help: "client source addresses: a count, a list or a range (our stack: consecutive, default as many from --ip as -c needs at 64,512 per address)" },
    { name: "duration", type: "number" as const, arg: "S", min: 0, help: "seconds of measured sending (default: one epoch)" },
    { name: "warmup", type: "number" as const, arg: "S", default: 0, min: 0, help: "seconds of sending before the measured part (not recorded; lets the JIT warm up)" },
    {
      name: "smp",
      type: "int" as const,
      arg: "N",
      default: 1,
      min: 1,
      max: 64,
      help: "application threads: on our stack N generator threads (Workers, connections i mod N) beside the one stack thread, joined by shared-memory lanes; with --kernel, N processes (each holds at most ~20,000 sockets here). Output is merged over them",
    },
    {
      name: "app-nice",
      type: "int" as const,
      arg: "N",
      default: 0,
      min: -20,
      max: 19,
      help: "our stack with --smp N: nice value of the app threads (the stack thread keeps the process's); positive favours the stack thread, whose ACKs and timers every connection waits on",
    },
    { name: "app-cpus", type: "string" as const, arg: "LIST", help: "our stack with --smp N: pin app thread k to the k-th CPU of LIST (e.g. 1 or 0,1; cycled)" },
    { name: "shard", type: "string" as const, arg: "K/N", help: "(internal) run shard K of N: connections i with i mod N = K" },
    { name: "kernel", type: "bool" as const, help: "use Bun's kernel sockets (Bun.connect) instead of our stack: the baseline" },
    { name: "out", type: "string" as const, arg: "DIR", default: "iotep-out", help: "directory for mcc.json, cdf.txt and mcc.html" },
    { name: "seed", type: "int" as const, arg: "N", default: 1, help: "seed of the request/heartbeat choice" },
    {
      name: "tick-us",
      type: "int" as const,
      arg: "US",
      min: 0,
      max: 1_000_000,
      help: "send schedule quantum: messages due within a tick go out together at its end, latency still counted from that scheduled time (default 0 = exact on our stack, 1000 with --kernel). Exact timing at thousands of messages/s keeps the poll loop spinning on a core; a tick of 1000 lets it sleep between ticks",
    },
    { name: "max-connecting", type: "int" as const, arg: "N", default: 1024, min: 1, help: "handshakes outstanding at once" },
    { name: "drain", type: "number" as const, arg: "S", default: 2, min: 0, help: "seconds to wait for outstanding replies after sending" },
    {
      name: "fifo",
      type: "bool" as const,
      help: "our stack: put this process's main (stack) thread under SCHED_FIFO 1 (chrt -p, as root) once the first connection is open; DPDK's control thread stays a normal task (see apps/iotep/placement.ts)",
    },
    { name: "status-interval", type: "number" as const, arg: "S", min: 0, help: "seconds between status lines (default 1 on a terminal, 10 otherwise; 0 = none)" },
  ],
};

/** --ips: "N" (N consecutive addresses from `base`), "A,B,C", or "A-B". */
export function parseIps(s: string, base: number): string[] {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n < 1 || n > 65536) throw new ConfigError(`--ips ${s}: a count must be 1..65536`);
    return Array.from({ length: n }, (_, k) => formatIpv4((base + k) >>> 0));
  }
  const range = /^([\d.]+)-([\d.]+)$/.exec(s);
  if (range !== null) {
    const a = parseIpv4(range[1]!);
    const b = parseIpv4(range[2]!);
    if (a === -1 || b === -1 || b >>> 0 < a >>> 0 || (b >>> 0) - (a >>> 0) > 65535) throw new ConfigError(`--ips ${s}: expected a range like 127.0.0.2-127.0.0.9`);
    return Array.from({ length: (b >>> 0) - (a >>> 0) + 1 }, (_, k) => formatIpv4(((a >>> 0) + k) >>> 0));
  }
  const list = s.split(",").map((x) => x.trim());
  for (const x of list) if (parseIpv4(x) === -1) throw new ConfigError(`--ips ${s}: "${x}" is not an IPv4 address`);
  return list;
}

/** What the status line and the results read: one Generator, or the app threads' merged view (--smp N on our stack). */
type GenView = Pick<Generator, "counters" | "phase" | "openConnections" | "connectingNow" | "shardConns" | "perSecond">;

/** --app-cpus: "1", "0,1", "0-1" -> CPU numbers (empty when absent). */
export function parseCpuList(s: string | undefined): number[] {
  if (s === undefined) return [];
  const out: number[] = [];
  for (const part of s.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (m === null) throw new ConfigError(`--app-cpus ${s}: expected CPU numbers like 1 or 0,1 or 0-1`);
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    if (b < a || b > 1023) throw new ConfigError(`--app-cpus ${s}: bad range ${part}`);
    for (let k = a; k <= b; k++) out.push(k);
  }
  return out;
}

/** Per app thread, for mcc.json: its counters and loop figures beside what the stack thread's router did for it. */
function threadsJson(threads: GenWorkerDone[], router: RouterThreadCounts[] | null): Record<string, unknown>[] {
  return threads.map((t) => ({
    index: t.index,
    counters: t.counters,
    events: t.events,
    fullWaits: t.fullWaits,
    sleeps: t.sleeps,
    passes: t.passes,
    cpus: t.cpus,
    pinError: t.pinError,
    router: router?.[t.index] ?? null,
  }));
}

/** Ask ARP for `dst`'s next hop (once a second) until it answers or `timeoutMs` passes; true when resolved. */
async function resolveNextHop(rs: IdStack, dst: number, timeoutMs: number): Promise<boolean> {
  const netif = rs.stack.netif;
  const hop = netif.out.nextHop(dst);
  if (hop === -1) return false;
  const end = performance.now() + timeoutMs;
  let askAt = 0;
  while (!netif.arp.cache.has(hop, rs.stack.loop.clock())) {
    const now = performance.now();
    if (now >= end) return false;
    if (now >= askAt) {
      netif.arp.sendRequest(hop);
      rs.stack.loop.wake();
      askAt = now + 1000;
    }
    await Bun.sleep(1);
  }
  return true;
}

function bar(done: number, total: number, width = 30): string {
  const f = total > 0 ? done / total : 1;
  const n = Math.round(f * width);
  return `[${"#".repeat(n)}${".".repeat(width - n)}] ${(f * 100).toFixed(0).padStart(3)}%`;
}

runMain("mcc", async () => {
  const args = parseAppArgs(spec);
  const v = args.values;
  const kernel = v["kernel"] === true;
  const c = v["connections"] as number;
  const epochS = v["epoch"] as number;
  const durationS = (v["duration"] as number | undefined) ?? epochS;
  const msgLen = v["length"] as number;
  const port = v["port"] as number;
  const nports = v["ports"] as number;
  if (port + nports - 1 > 65535) throw new ConfigError(`--port ${port} --ports ${nports}: the ports run past 65535`);
  const smp = v["smp"] as number;
  if (smp > c) throw new ConfigError(`--smp ${smp}: more ${kernel ? "processes" : "threads"} than connections (-c ${c})`);
  const shardArg = v["shard"] as string | undefined;
  if (smp > 1 && shardArg !== undefined) throw new ConfigError(`--smp ${smp} with --shard ${shardArg}: --shard runs one shard of a --kernel --smp run; pass one or the other`);
  const appCpus = parseCpuList(v["app-cpus"] as string | undefined);
  if (appCpus.length > 0 && (kernel || smp < 2)) throw new ConfigError("--app-cpus pins the app threads of --smp N (N >= 2) on our stack; drop it, or add --smp N without --kernel");
  if ((v["app-nice"] as number) !== 0 && (kernel || smp < 2)) throw new ConfigError("--app-nice sets the app threads of --smp N (N >= 2) on our stack; drop it, or add --smp N without --kernel");
  if (smp > 1 && kernel) return runShards(smp, v["out"] as string);
  let shard: { index: number; count: number } | undefined;
  if (shardArg !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(shardArg);
    if (m === null || Number(m[1]) >= Number(m[2])) throw new ConfigError(`--shard ${shardArg}: expected K/N with K < N`);
    shard = { index: Number(m[1]), count: Number(m[2]) };
  }
  const dest = (v["dest"] as string | undefined) ?? (kernel ? "127.0.0.1" : undefined);
  if (dest === undefined) throw new ConfigError("no server address: pass --dest A.B.C.D (the iotepserver's IP)");
  if (parseIpv4(dest) === -1) throw new ConfigError(`--dest ${dest}: expected an IPv4 address`);
  const ipsArg = v["ips"] as string | undefined;

  let rs: IdStack | null = null;
  let tcp: TcpLayer | null = null;
  let transport: ClientTransport;
  let idClient: IdClient | null = null;
  let gaps: RoundGaps | null = null;
  let where: string;
  if (kernel) {
    const ips = ipsArg === undefined ? [] : parseIps(ipsArg, parseIpv4("127.0.0.2") >>> 0);
    if (c > 19_000 && ips.length === 0) console.log("mcc: note: one kernel process holds at most ~20,000 sockets here (open-file limit) and ~28,000 ports per source address");
    transport = kernelClient(dest, port, nports, ips);
    where = `kernel sockets${ips.length > 0 ? ` from ${ips.length} source address(es)` : ""}`;
  } else {
    // --max-conns (a stack flag) wins; else room for every connection.
    if (v["max-conns"] === undefined) v["max-conns"] = c + 1024;
    rs = await startIdStack(v, { sndBufBytes: 16 * 1024, rcvBufBytes: 16 * 1024 });
    // Source addresses: --ips, or as many consecutive addresses from --ip as the
    // connections need (ports 1024-65535 of each, explicit, to one server port).
    const perIp = 65535 - 1024 + 1;
    const ips = ipsArg !== undefined ? parseIps(ipsArg, rs.cfg.ip) : parseIps(String(Math.ceil(c / perIp)), rs.cfg.ip);
    const first = parseIpv4(ips[0]!) >>> 0;
    for (let k = 1; k < ips.length; k++) if (parseIpv4(ips[k]!) >>> 0 !== first + k) throw new ConfigError(`--ips ${ipsArg}: our stack takes consecutive addresses (a count or a range)`);
    if (c > perIp * ips.length) throw new ConfigError(`-c ${c}: ${ips.length} source address(es) x ${perIp} ports give at most ${perIp * ips.length} connections; raise --ips`);
    const mask = rs.cfg.prefixLen === 0 ? 0 : (~0 << (32 - rs.cfg.prefixLen)) >>> 0;
    const last = (first + ips.length - 1) >>> 0;
    if (((first & mask) >>> 0) !== ((rs.cfg.ip & mask) >>> 0) || ((last & mask) >>> 0) !== ((rs.cfg.ip & mask) >>> 0)) {
      throw new ConfigError(`source addresses ${ips[0]}..${ips[ips.length - 1]} leave the subnet of --ip ${formatIpv4(rs.cfg.ip)}/${rs.cfg.prefixLen}: widen --ip's prefix`);
    }
    const client = new IdClient({
      conns: c, firstIp: first | 0, ipCount: ips.length, portLo: 1024, portHi: 65535,
      dstIp: parseIpv4(dest), dstPort: port, ports: nports, clockUs: monotonicUs,
    });
    tcp = new TcpLayer({ config: rs.plan.tcp, tx: rs.stack.netif.out, rng: cryptoRng(), nowUs: rs.stack.loop.clock(), events: client.ring, memory: rs.memory });
    rs.stack.setTransport(tcp);
    client.attach(tcp);
    idClient = client;
    rs.stack.netif.addAddressRange(first | 0, ips.length);
    // Gaps between the stack thread's poll rounds (sleeps, GC, long rounds, waiting for a CPU), for the summary.
    gaps = new RoundGaps(rs.stack.loop);
    rs.stack.addAppStage(gaps);
    // With --smp N the router below polls the client (and forwards its events to the app threads).
    if (smp === 1) rs.stack.addAppStage(client);
    transport = client;
    where = `our stack ${ips.length > 1 ? `${ips[0]}-${ips[ips.length - 1]}` : ips[0]} dev ${rs.stack.dev.caps.name}`;
  }
  const genOpts = {
    conns: c,
    setupS: v["setup"] as number,
    waitS: v["wait"] as number,
    epochS,
    perSecond: v["block"] as number | undefined,
    msgLen,
    ratio: v["ratio"] as number,
    durationS,
    warmupS: v["warmup"] as number,
    drainS: v["drain"] as number,
    maxConnecting: v["max-connecting"] as number,
    tickUs: (v["tick-us"] as number | undefined) ?? (kernel ? 1000 : 0),
    seed: v["seed"] as number,
  };
  // Our view when the run ends (before the closes) and after shutdown: where unanswered messages went.
  let atEnd: ReturnType<typeof stackEnd> | null = null;
  let routerCounts: RouterThreadCounts[] | null = null;
  // --smp N on our stack: N app threads run the generator's shards, this thread runs the stack (apps/iotep/smp-*.ts).
  let threads: GenThreads | null = null;
  let gen: Generator | null = null;
  if (smp > 1) {
    threads = await GenThreads.start({ count: smp, gen: genOpts, cpus: appCpus, nice: v["app-nice"] as number });
    const router = new LaneRouter(idClient!, threads.lanes, () => rs!.stack.loop.wake());
    idClient!.bind(router);
    rs!.stack.addAppStage(router);
    router.onFirstFinish = () => (atEnd = stackEnd(rs!, tcp!, idClient!, true));
    routerCounts = router.counts;
    const pins = threads.started.map((t, k) => `${k}: CPUs ${t.cpus || "?"}${t.pinError !== null ? ` (pin/nice failed: ${t.pinError})` : ""}`);
    if ((v["app-nice"] as number) !== 0) pins.push(`nice ${v["app-nice"]}`);
    where += `; ${smp} app threads (${pins.join(", ")})`;
  } else {
    gen = new Generator({ ...genOpts, shard }, transport);
    transport.bind(gen);
    if (rs !== null) gen.onFinish = () => (atEnd = stackEnd(rs!, tcp!, idClient!, true));
  }
  const view: GenView = threads ?? gen!;
  const live = (): { p50Us: number; p99Us: number } => (threads !== null ? threads.liveRequest() : summarize(gen!.rttHigh));
  console.log(
    `mcc: ${c} connections to ${dest}:${port} over ${v["setup"]} s via ${where}; then ${view.perSecond} messages/s (${msgLen} bytes, ${((v["ratio"] as number) * 100).toFixed(1)} % requests) for ${durationS} s${(v["warmup"] as number) > 0 ? ` after ${v["warmup"]} s of warm-up` : ""}`,
  );

  if (rs !== null) {
    const envNote = runtimeEnvNote("mcc");
    if (envNote !== null) console.log(envNote);
    // The server's next hop resolved before the first SYN: otherwise the first burst of SYNs (up to
    // --max-connecting, from every app thread at once with --smp) waits in ARP's hold queue, and what
    // overflows it is dropped and retransmitted a second later.
    rs.run();
    if (!(await resolveNextHop(rs, parseIpv4(dest), 3000))) console.log(`mcc: no ARP answer for ${dest}'s next hop within 3 s; connecting anyway`);
  }
  // Drive the generator: a poll stage on our stack (timed by the loop), a timer with kernel sockets.
  const t0 = monotonicUs();
  let finished!: () => void;
  const done = new Promise<void>((r) => (finished = r));
  let threadReports: GenWorkerDone[] | null = null;
  let threadError: unknown = null;
  if (threads !== null) {
    threads.finished().then(
      (r) => ((threadReports = r), finished()),
      (e) => ((threadError = e), finished()),
    );
    threads.go();
    rs!.run();
  } else if (rs !== null) {
    const gen1 = gen!;
    gen1.start(t0);
    let nextAt = t0;
    rs.stack.addAppStage({
      poll(nowUs) {
        if (nowUs < nextAt) return 0;
        nextAt = gen1.tick(nowUs);
        if (nextAt === Number.POSITIVE_INFINITY) finished();
        return 1;
      },
      pollAt() {
        return nextAt;
      },
    });
    rs.run();
  } else {
    const gen1 = gen!;
    gen1.start(t0);
    const step = (): void => {
      const now = monotonicUs();
      const next = gen1.tick(now);
      if (next === Number.POSITIVE_INFINITY) return finished();
      setTimeout(step, Math.max(0, (next - monotonicUs()) / 1000));
    };
    step();
  }

  // Progress while connecting, then a live status line.
  const tty = process.stdout.isTTY === true;
  const every = (v["status-interval"] as number | undefined) ?? (tty ? 1 : 10);
  let lastDecile = -1;
  // Per status line, what our stack did since the previous one (how a retransmission storm starts and feeds itself).
  let lastTcp = tcp !== null ? { ...tcp.counters } : null;
  let lastGapMax = 0;
  const threadSlice = threadSliceSince(() => (rs !== null ? rs.stack.loop.idleSleeps : 0));
  const stackDelta = (): string => {
    const t = tcp!.counters;
    const p = lastTcp!;
    const d = (k: "rtoTimeouts" | "tlpProbes" | "retransmits" | "outOfWindow" | "sndPoolWaits" | "segsIn" | "delayedAcks"): number => t[k] - p[k];
    const g = gaps!.maxUs;
    const s =
      `${threadSlice()}; RTOs ${d("rtoTimeouts")}, TLPs ${d("tlpProbes")}, rtx ${d("retransmits")}, segs in ${d("segsIn")}, dup/out-of-window in ${d("outOfWindow")}, ` +
      `sends cut short ${d("sndPoolWaits")}, dev imissed ${rs!.stack.dev.stats().imissed}; pool free ${tcp!.pool.available()}/${tcp!.cfg.chunkCount}${g > lastGapMax ? `; new longest poll gap ${(g / 1000).toFixed(1)} ms` : ""}`;
    lastGapMax = g;
    lastTcp = { ...t };
    return s;
  };
  let last = { ...view.counters };
  let lastT = performance.now();
  const show = (): void => {
    const ct = view.counters;
    let line: string;
    if (view.phase === "connecting") {
      const settled = ct.connected + ct.connectFailed;
      line = `connecting ${bar(settled, view.shardConns)} ${ct.connected}/${view.shardConns} open, ${ct.connectFailed} failed, ${view.connectingNow} in handshake`;
      if (!tty) {
        const dec = Math.floor((settled / view.shardConns) * 10);
        if (dec === lastDecile) return;
        lastDecile = dec;
      }
    } else {
      const now = performance.now();
      const dt = Math.max(1e-3, (now - lastT) / 1000);
      const r = live();
      line =
        `${view.phase} | open ${view.openConnections} | sent/s ${((ct.sent - last.sent) / dt).toFixed(0)} (req ${((ct.sentRequests - last.sentRequests) / dt).toFixed(0)}) | ` +
        `replies ${ct.replies} | unanswered ${ct.unanswered} | skipped ${ct.skipped} | req p50 ${(r.p50Us / 1000).toFixed(3)} p99 ${(r.p99Us / 1000).toFixed(3)} ms${threads !== null ? " (worst thread)" : ""}` +
        (tcp !== null ? ` | RTOs ${tcp.counters.rtoTimeouts}${gaps !== null ? `, longest poll gap ${(gaps.maxUs / 1000).toFixed(1)} ms` : ""}` : "");
      if (tcp !== null) line += ` | ${stackDelta()}`;
      last = { ...ct };
      lastT = now;
    }
    if (tty) process.stdout.write(`\r\x1b[K${line}`);
    else console.log(`mcc: ${line}`);
  };
  let lastShown = 0;
  let setupReported = false;
  // --fifo: only once the link works (a connection is open), and only the main thread (tid = pid).
  let fifoPending = v["fifo"] === true && rs !== null;
  const progressTimer = setInterval(() => {
    const now = performance.now();
    if (fifoPending && view.counters.connected > 0) {
      fifoPending = false;
      const r = Bun.spawnSync(["chrt", "-f", "-p", "1", String(process.pid)], { stdout: "ignore", stderr: "pipe" });
      console.log(r.exitCode === 0 ? "mcc: main thread now at SCHED_FIFO 1" : `mcc: --fifo: chrt failed: ${r.stderr.toString().trim()}`);
    }
    if (view.phase === "connecting") show();
    else if (!setupReported && tcp !== null) {
      // The end of the connect phase: how the handshakes went (retransmissions here are not the measured part's).
      setupReported = true;
      const t = tcp.counters;
      console.log(`mcc: our stack after the connect phase: retransmits ${t.retransmits} (RTOs ${t.rtoTimeouts}), connection timeouts ${t.connTimeouts}, resets ${t.resets}`);
    }
    else if (every > 0 && now - lastShown >= every * 1000 - 100) {
      lastShown = now;
      show();
    }
  }, tty ? 250 : 1000);
  const stop = onStopSignal().then((sig) => sig);
  const reason = await Promise.race([done.then(() => "done"), stop]);
  clearInterval(progressTimer);
  if (tty) process.stdout.write("\n");
  if (reason !== "done") {
    console.log(`mcc: ${reason}: stopping early`);
    if (threads !== null) {
      threads.stop();
      await done;
    } else gen!.tick(Number.MAX_SAFE_INTEGER);
  }
  threads?.terminate();
  if (threadError !== null) throw threadError;
  // Let the closes go out.
  await Bun.sleep(100);
  const shutdown = rs !== null ? await rs.shutdown(tcp) : null;
  const stack = rs !== null ? { atEnd, afterShutdown: { ...stackEnd(rs, tcp!, idClient!, false), shutdown } } : undefined;
  if (atEnd !== null) console.log(`mcc: our stack when the run ended: ${stackLine(atEnd)}`);
  if (stack !== undefined) console.log(`mcc: our stack after shutdown: ${stackLine(stack.afterShutdown)}; shutdown ${JSON.stringify(shutdown)}`);
  const roundGaps = gaps !== null ? { ...gaps.summary(), maxUs: gaps.maxUs } : null;
  if (roundGaps !== null) {
    console.log(
      `mcc: stack thread: gaps between poll rounds p50 ${roundGaps.p50Us} us, p99 ${roundGaps.p99Us} us, max ${(roundGaps.maxGapUs / 1000).toFixed(1)} ms, ${roundGaps.over2ms} over 2 ms, ${roundGaps.over10ms} over 10 ms; ` +
        `${roundGaps.stalls} stalls (over 2 ms, no idle sleep) totalling ${roundGaps.stallMs} ms, ${roundGaps.stallRunQueueMs} ms of it waiting for a CPU; loop woken early ${rs!.stack.loop.wakeups} times`,
    );
  }

  const merged = threadReports !== null ? mergeThreads(threadReports) : null;
  const ct = merged?.counters ?? gen!.counters;
  const series = [{ name: "request (client)", h: merged?.rttHigh ?? gen!.rttHigh }];
  const table = latencyTable("mcc: request round trip at the client (from the scheduled send time, ms)", series);
  console.log(textTable(table));
  const lag = summarize(merged?.sendLag ?? gen!.sendLag);
  console.log(
    `mcc: ${ct.connected}/${c} connected (${ct.connectFailed} failed, ${ct.closedEarly} closed early); sent ${ct.sent} (${ct.sentRequests} requests, ${ct.sentHeartbeats} heartbeats; ${ct.skipped} skipped, ${ct.sendFailed} failed); ` +
      `${ct.replies} replies, ${ct.unanswered} requests unanswered, ${ct.badReplies} bad replies; generator lag p99 ${(lag.p99Us / 1000).toFixed(3)} ms`,
  );
  const params = {
    transport: kernel ? "kernel" : "qstack",
    connections: c,
    setupS: v["setup"] as number,
    waitS: v["wait"] as number,
    epochS,
    perSecond: view.perSecond,
    ...(threads !== null ? { appThreads: smp } : {}),
    msgLen,
    ratio: v["ratio"] as number,
    durationS,
    warmupS: v["warmup"] as number,
    dest: `${dest}:${port}${nports > 1 ? `-${port + nports - 1}` : ""}`,
  };
  const out = writeResults({
    dir: v["out"] as string,
    base: "mcc",
    title: `iotep client view: ${c} connections, ${view.perSecond} msg/s, ${kernel ? "kernel sockets" : "QStack for Bun"}${threads !== null ? `, ${smp} app threads` : ""}`,
    params,
    series,
    tables: [{ caption: "Counters", header: Object.keys(ct), rows: [Object.values(ct)] }],
    notes: [
      "Latency is measured from each request's scheduled send time (coordinated omission corrected); heartbeats get no reply, so the client sees requests only.",
      `Generator send lag: p50 ${(lag.p50Us / 1000).toFixed(3)} ms, p99 ${(lag.p99Us / 1000).toFixed(3)} ms, max ${(lag.maxUs / 1000).toFixed(3)} ms.`,
    ],
    json: { counters: { ...ct }, sendLagUs: lag, reason, stack, roundGaps, ...(merged !== null ? { threads: threadsJson(merged.threads, routerCounts) } : {}) },
    cdfInfo: { connections: ct.connected, requests: ct.sentRequests, replies: ct.replies, unanswered: ct.unanswered },
    plainCdfName: true,
  });
  console.log(`mcc: wrote ${out.json}, ${out.cdf}, ${out.html}`);
  return ct.connected === 0 ? 1 : 0;
});

/** Our stack's counters that tell whether sent bytes can have been lost (or are late), and its send backlog. */
function stackEnd(rs: IdStack, tcp: TcpLayer, client: IdClient, withDevice: boolean) {
  const t = tcp.counters;
  const tx = rs.stack.netif.tx;
  return {
    ...client.backlog(),
    connections: tcp.connectionsInUse(),
    pool: { chunks: tcp.cfg.chunkCount, available: tcp.pool.available(), allocFailures: tcp.pool.allocFailures },
    tcp: { ...t },
    net: rs.stack.netif.counters.snapshot(),
    txQueues: { sent: tx.sent, dropped: tx.dropped, refused: tx.refused, deferred: tx.deferred, queued: tx.queued },
    device: withDevice ? rs.stack.dev.stats() : null,
  };
}

function stackLine(s: ReturnType<typeof stackEnd>): string {
  const t = s.tcp;
  return (
    `${s.sendQueuedBytes} bytes in send buffers on ${s.connsWithQueued} connections, ${s.pendingWriteBytes} waiting to enter them; ` +
    `buffer pool ${s.pool.available}/${s.pool.chunks} chunks free, ${s.pool.allocFailures} refusals, ${t.sndPoolWaits} sends cut short, ${t.sndPoolWakeups} woken; ` +
    `retransmits ${t.retransmits} (RTOs ${t.rtoTimeouts}), connection timeouts ${t.connTimeouts}, resets ${t.resets} (RSTs in ${t.rstsReceived}, out ${t.rstsSent}); ` +
    `tx dropped ${s.txQueues.dropped}, refused ${s.txQueues.refused}, deferred ${s.txQueues.deferred}` +
    (s.device !== null ? `; device oerrors ${s.device.oerrors}, imissed ${s.device.imissed}, rxNoBuf ${s.device.rxNoBuf}` : "")
  );
}

/**
 * --smp N with --kernel: run this program N times as shards (each its own
 * process, so each has its own open-file limit), then merge their results.
 */
async function runShards(n: number, outDir: string): Promise<number> {
  const { spawnShards, signalAll, sumCounters, mergeHistograms, readJson } = await import("./iotep/smp");
  const { join } = await import("node:path");
  console.log(`mcc: ${n} processes (--smp ${n}); their output is prefixed [k]`);
  const procs = spawnShards(import.meta.path, process.argv.slice(2), n, (k) => ["--smp", "1", "--shard", `${k}/${n}`, "--out", join(outDir, `shard-${k}`), "--status-interval", "0"]);
  const stop = onStopSignal().then((sig) => signalAll(procs, sig === "SIGINT" ? "SIGINT" : "SIGTERM"));
  void stop;
  const codes = await Promise.all(procs.map((p) => p.exited));
  const jsons = procs.map((p) => readJson(join(outDir, `shard-${p.index}`, "mcc.json")));
  const counters = sumCounters(jsons.map((j) => j.counters));
  const h = mergeHistograms(jsons, (j) => j.histograms?.["request (client)"]);
  const series = [{ name: "request (client)", h }];
  console.log(textTable(latencyTable(`mcc: request round trip at the client, ${n} processes (from the scheduled send time, ms)`, series)));
  console.log(`mcc: ${JSON.stringify(counters)}`);
  const out = writeResults({
    dir: outDir,
    base: "mcc",
    title: `iotep client view: ${jsons[0]!.params.connections} connections, ${jsons[0]!.params.perSecond} msg/s, kernel sockets, ${n} processes`,
    params: { ...jsons[0]!.params, processes: n },
    series,
    tables: [{ caption: "Counters (all processes)", header: Object.keys(counters), rows: [Object.values(counters)] }],
    notes: ["Latency is measured from each request's scheduled send time (coordinated omission corrected); heartbeats get no reply, so the client sees requests only."],
    json: { counters, shards: n, sendLagUs: jsons.map((j) => j.sendLagUs) },
    cdfInfo: { connections: counters.connected ?? 0, requests: counters.sentRequests ?? 0, replies: counters.replies ?? 0, unanswered: counters.unanswered ?? 0 },
    plainCdfName: true,
  });
  console.log(`mcc: wrote ${out.json}, ${out.cdf}, ${out.html}`);
  return codes.every((c) => c === 0) ? 0 : 1;
}
