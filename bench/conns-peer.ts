/**
 * One side of bench/conns (a child process): our stack over net_memif, with a
 * ConnServer or ConnGenerator stage (bench/conns-stage.ts) on TcpLayer directly.
 * Talks JSON lines: writes {ev: ...} messages on stdout, reads commands on stdin.
 *
 *   bun bench/conns-peer.ts '<json options>'
 *
 * options: role ("server" | "generator"), sock (memif socket path), conns, setupS,
 * epochS, holdS, ips (generator address count), noHuge, bufMb, maxConns.
 * Server commands: "mem" (report memory), "stop". The generator runs its phases
 * by itself: ready -> setup -> established -> hold -> held (+ memory) -> close -> done.
 */
import { readFileSync } from "node:fs";
import { heapStats } from "bun:jsc";
import * as hdr from "hdr-histogram-js";
import { checkCapacity, planCapacity, readMemoryInfo, regionMemory } from "../src/api/capacity";
import { parseArgs, STACK_FLAGS } from "../src/api/cli";
import { ConfigError } from "../src/api/errors";
import { openDevice } from "../src/api/open-device";
import { Stack } from "../src/api/stack";
import { stackConfigFrom } from "../src/api/stack-config";
import { describeConn } from "../src/tcp/describe";
import { TcpLayer } from "../src/tcp/tcp-layer";
import { formatIpv4, parseIpv4 } from "../src/wire/ip-addr";
import { ConnGenerator, ConnServer, cpuUs } from "./conns-stage";

interface PeerOpts {
  role: "server" | "generator";
  sock: string;
  conns: number;
  setupS: number;
  epochS: number;
  holdS: number;
  /** Seconds the generator waits for every connection to close. */
  closeS?: number;
  ips: number;
  noHuge: boolean;
  bufMb: number;
  maxConns: number;
  /** Generator: most connections opening at once (default 2048; the server's SYN queue is 4096). */
  maxOpening?: number;
  /** Buffer chunk size (default 512 B). */
  chunkBytes?: number;
  /** Poll loop: spin without sleeping (default), rounds between yields to Bun's event loop, spin before sleeping. */
  busyPoll?: boolean;
  burstsPerYield?: number;
  idleSpinUs?: number;
}

export const SERVER_IP = "10.77.0.1";
export const GEN_IP = "10.77.0.2";
/** Generator source addresses: 10.77.1.0 + k. */
export const GEN_FIRST = "10.77.1.0";
export const PORT = 5001;
export const PORT_LO = 1024;
export const PORT_HI = 65535;

function emit(m: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(m) + "\n");
}

/** Resident memory by kind (kB fields of /proc/self/status, in bytes): anonymous, file-backed, shared (memif rings). */
function rssParts(): { anon: number; file: number; shmem: number; hugetlb: number } {
  let t = "";
  try {
    t = readFileSync("/proc/self/status", "utf8");
  } catch {
    /* not Linux */
  }
  const kb = (k: string): number => {
    const m = new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(t);
    return m ? Number(m[1]) * 1024 : 0;
  };
  return { anon: kb("RssAnon"), file: kb("RssFile"), shmem: kb("RssShmem"), hugetlb: kb("HugetlbPages") };
}

function memNow(): { rss: number; heap: number; heapObjects: number; rssParts: ReturnType<typeof rssParts> } {
  Bun.gc(true);
  const h = heapStats();
  return { rss: process.memoryUsage().rss, heap: h.heapSize, heapObjects: h.objectCount, rssParts: rssParts() };
}

async function main(): Promise<void> {
  const o = JSON.parse(process.argv[2]!) as PeerOpts;
  const isServer = o.role === "server";
  const flags = [
    "--vdev", `net_memif0,role=${isServer ? "server" : "client"},id=0,socket=${o.sock},socket-abstract=no`,
    "--ip", `${isServer ? SERVER_IP : GEN_IP}/16`,
    "--max-conns", String(o.maxConns), "--buf-mb", String(o.bufMb),
  ];
  if (o.busyPoll !== false) flags.push("--busy-poll");
  if (o.noHuge) flags.push("--no-huge");
  const cfg = stackConfigFrom(parseArgs(flags, STACK_FLAGS).values);
  // Small buffers: a held connection carries one 16-byte message per epoch.
  // Small buffers and chunks: a held connection carries one 16-byte message per epoch.
  const plan = planCapacity(cfg.capacity, {
    noDelay: true, sndBufBytes: 16 * 1024, rcvBufBytes: 16 * 1024, chunkBytes: o.chunkBytes ?? 512, synQueueSize: 4096, timeWaitUs: 60_000_000,
  });
  const dev = await openDevice(cfg, { nbufs: 65535 });
  checkCapacity(plan, readMemoryInfo());
  const mem = await regionMemory(cfg.noHuge, plan);
  const stack = new Stack(dev, { ip: cfg.ip, prefixLen: cfg.prefixLen, gateway: 0 }, { busyPoll: o.busyPoll !== false, burstsPerYield: o.burstsPerYield, idleSpinUs: o.idleSpinUs });
  let ring: { event(c: number, k: number, a: number): void } = { event() {} };
  const sink = { event: (c: number, k: number, a: number) => ring.event(c, k, a) };
  const rng = () => (Math.random() * 4294967296) | 0;
  const t0 = performance.now();
  const tcp = new TcpLayer({ config: plan.tcp, tx: stack.netif.out, rng, nowUs: stack.loop.clock(), events: sink, memory: mem.provider });
  const buildMs = performance.now() - t0;
  stack.setTransport(tcp);
  const base = memNow();
  const common = {
    regionBytes: mem.bytes(),
    hugeBytes: mem.hugeBytes(),
    tableBytes: plan.tableBytes,
    bufferBytes: plan.bufferBytes,
    bytesPerConnPlan: plan.bytesPerConn,
    /** Bytes per connection of each stack table (TcpLayer.memoryPlan / maxConnections; tcp-chunks is the buffer pool). */
    perTable: tcp.bytesPerConnection(),
    buildMs,
    base,
  };
  const linkUp = (dev as unknown as { linkUp?: () => boolean }).linkUp?.bind(dev) ?? (() => true);
  const loop = stack.run();
  const clock = stack.loop.clock;

  if (isServer) {
    const srv = new ConnServer(tcp);
    srv.acceptTarget = o.conns;
    ring = srv.ring;
    stack.addAppStage(srv);
    srv.listen(parseIpv4(SERVER_IP), PORT);
    emit({ ev: "ready", ...common });
    const timer = setInterval(() => emit({ ev: "progress", accepted: srv.accepted, inUse: tcp.connectionsInUse(), messages: srv.messages }), 500);
    for await (const line of console) {
      const cmd = line.trim();
      if (cmd === "base") {
        // The idle baseline: listening, link up (the generator is connected), no connection yet.
        await Bun.sleep(500);
        emit({ ev: "base", base: memNow() });
      } else if (cmd === "mem") {
        emit({ ev: "mem", mem: memNow(), flowProbes: tcp.flows.probeStats(), cpuSetupUs: srv.cpuAtTargetUs >= 0 ? srv.cpuAtTargetUs - srv.cpuAtFirstUs : -1, accepted: srv.accepted, inUse: tcp.connectionsInUse(), chunks: tcp.chunksInUse() });
      } else if (cmd.startsWith("conn ")) {
        // Diagnostics: this side of a connection the generator could not close (by its 4-tuple, our view).
        const [lip, lport, rip, rport] = cmd.slice(5).split(" ").map(Number) as [number, number, number, number];
        const c = tcp.flows.lookup(lip | 0, lport, rip | 0, rport);
        emit({ ev: "conn", found: c >= 0, state: c >= 0 ? describeConn(tcp, c, clock()) : null, counters: { ...tcp.counters } });
      } else if (cmd === "stop") {
        clearInterval(timer);
        emit({
          ev: "done", accepted: srv.accepted, messages: srv.messages, peerClosed: srv.peerClosed, resets: srv.resets, inUse: tcp.connectionsInUse(),
          chunks: tcp.chunksInUse(), counters: { ...tcp.counters, txSent: stack.netif.tx.sent, txDropped: stack.netif.tx.dropped },
        });
        break;
      }
    }
    await stack.stop();
    await loop;
    return;
  }

  // Generator.
  const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  const epochUs = o.epochS * 1e6;
  const gen = new ConnGenerator(tcp, {
    conns: o.conns, setupS: o.setupS, epochS: o.epochS,
    firstIp: parseIpv4(GEN_FIRST), ipCount: o.ips, portLo: PORT_LO, portHi: PORT_HI,
    dstIp: parseIpv4(SERVER_IP), dstPort: PORT, maxOpening: o.maxOpening ?? 2048,
    // Corrected for coordinated omission: each connection is due once per epoch.
    onRtt: (us) => hist.recordValueWithExpectedInterval(Math.max(1, Math.round(us)), epochUs),
  });
  ring = gen.ring;
  stack.addAppStage(gen);
  stack.netif.addAddressRange(parseIpv4(GEN_FIRST), o.ips);
  const linkEnd = Date.now() + 10_000;
  while (!linkUp() && Date.now() < linkEnd) await Bun.sleep(5);
  // The idle baseline: link up, no connection yet.
  await Bun.sleep(500);
  emit({ ev: "ready", link: linkUp(), ...common, base: memNow(), firstIp: GEN_FIRST, lastIp: formatIpv4((parseIpv4(GEN_FIRST) + o.ips - 1) >>> 0) });
  const progress = (phase: string) =>
    emit({ ev: "progress", phase, opened: gen.opened, established: gen.established, failed: gen.failed, openErrors: gen.openErrors, sent: gen.sent, received: gen.received, cleanClosed: gen.cleanClosed });
  gen.startSetup(clock());
  const setupDeadline = Date.now() + (o.setupS + 30) * 1000;
  while (gen.established + gen.failed < o.conns && Date.now() < setupDeadline) {
    await Bun.sleep(250);
    progress("setup");
  }
  const setupUs = (gen.setupEndUs > 0 ? gen.setupEndUs : clock()) - gen.setupStartUs;
  const cpuSetupUs = (gen.setupEndCpuUs >= 0 ? gen.setupEndCpuUs : cpuUs()) - gen.setupStartCpuUs;
  emit({ ev: "established", established: gen.established, failed: gen.failed, openErrors: gen.openErrors, setupUs, cpuSetupUs, rate: gen.established / (setupUs / 1e6) });
  gen.startHold(clock());
  const holdEnd = Date.now() + o.holdS * 1000;
  while (Date.now() < holdEnd) {
    await Bun.sleep(250);
    progress("hold");
  }
  // Still-open connections at the end of the hold: "held".
  const held = gen.established - gen.resets;
  const genMem = memNow();
  emit({
    ev: "held", held, sent: gen.sent, received: gen.received, mem: genMem, inUse: tcp.connectionsInUse(), chunks: tcp.chunksInUse(),
    p50: hist.getValueAtPercentile(50), p99: hist.getValueAtPercentile(99), p999: hist.getValueAtPercentile(99.9), max: hist.maxValue, count: hist.totalCount,
  });
  // Wait for the parent's go to close (it measures the server first).
  for await (const line of console) if (line.trim() === "close") break;
  gen.startClose();
  const closeDeadline = Date.now() + (o.closeS ?? 60) * 1000;
  while (gen.cleanClosed + gen.resets < gen.established && Date.now() < closeDeadline) {
    await Bun.sleep(250);
    progress("close");
  }
  emit({
    ev: "done", stuck: gen.stuck(5, clock()), established: gen.established, cleanClosed: gen.cleanClosed, resets: gen.resets, failed: gen.failed, sent: gen.sent, received: gen.received,
    counters: { ...tcp.counters, txSent: stack.netif.tx.sent, txDropped: stack.netif.tx.dropped },
  });
  await stack.stop();
  await loop;
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    emit({ ev: "error", message: (e as Error).message, config: e instanceof ConfigError });
    process.exit(e instanceof ConfigError ? 2 : 1);
  },
);
