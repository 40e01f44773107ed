/**
 * The client side of the kernel-bypass SYN flood run (issue 7; helpers/synflood-memif.ts): one
 * process on our stack over net_memif (role=client) that
 *  - holds `conns` established connections to the target's echo port (bench/conns-stage.ts
 *    ConnGenerator: a 16-byte timestamped message per connection every 1/hz s, the echo's round
 *    trip timed from the message's SCHEDULED send time, so a late send is charged: no coordinated
 *    omission), their segments in transmit class 0;
 *  - in the phase named "flood", floods the target with bare SYNs from random sources
 *    (bench/synflood-gen.ts) in the lowest transmit class, as many as the memif ring takes each
 *    round (or `floodRate` per second), and after a quarter of the phase opens two new
 *    connections (class 0) and checks that each echoes: one from a FRESH source, the peer's
 *    primary address, which never opened a connection to the target (the held connections come
 *    from `genFirst`), and one from a KNOWN source, `genFirst` itself (port 60,000), whose
 *    handshakes completed during the set-up (the target's known-source admission,
 *    src/sched/syn-admission.ts, lets it past the SYN bounds; the fresh one gets in only by the
 *    bounds or its retransmission).
 * Talks JSON lines on stdout ({ev: "ready" | "connected" | "phase-pre" | "phase" | "phase-end" | "report"}).
 * Before each measured phase it says "phase-pre" and waits PRE_PHASE_MS unmeasured (no flood yet),
 * so the caller's counter scrape (an HTTP request the target answers on its poll thread) and the
 * caller's own work happen outside the measured window; every histogram is built before the warm-up,
 * so no phase starts with allocations here. After the report it waits for "quit" on stdin (the caller stops the target first, so neither
 * memif side reads a ring whose peer has gone: FACTS.md).
 *
 *   bun synflood-peer.ts '<json PeerOptions>'
 */
import * as hdr from "hdr-histogram-js";
import { planCapacity, regionMemory } from "../../../src/api/capacity";
import { parseArgs, STACK_FLAGS } from "../../../src/api/cli";
import { openDevice } from "../../../src/api/open-device";
import { Stack } from "../../../src/api/stack";
import { stackConfigFrom } from "../../../src/api/stack-config";
import { ARP_MISS } from "../../../src/net/arp-cache";
import type { PollStage } from "../../../src/sched/poll-loop";
import { TcpEvent } from "../../../src/tcp/events";
import { TcpLayer } from "../../../src/tcp/tcp-layer";
import { parseIpv4 } from "../../../src/wire/ip-addr";
import { ConnGenerator, MSG_BYTES } from "../../../bench/conns-stage";
import { SynFloodGen } from "../../../bench/synflood-gen";
import type { PhaseReport } from "./synflood-client";

export interface PeerOptions {
  sock: string;
  /** The target's address and echo port; our address (the target's gateway) and prefix length. */
  serverIp: string;
  port: number;
  peerIp: string;
  prefixLen: number;
  /** First of the connections' source addresses (64,512 ports each). */
  genFirst: string;
  conns: number;
  /** Messages per connection per second. */
  hz: number;
  /** Seconds to open the connections over. */
  setupS: number;
  phases: { name: string; seconds: number }[];
  /** Flood SYNs per second; 0: as many as the ring takes. */
  floodRate: number;
  /** Seconds of flood at the start of the "warm" phase (JIT warm-up of both sides' flood paths; not measured). */
  warmFloodS: number;
  /** The warm-up flood goes to another Ethernet address: the attacker's code warm, the target's flood paths cold. */
  warmFloodPeerOnly?: boolean;
  noHuge: boolean;
}

export interface PeerPhase extends PhaseReport {
  /** Flood frames handed to the device in this phase (queued minus still waiting in the batch). */
  floodFrames: number;
  /** Held connections that received an echo in this phase (all of them, when none starved). */
  answered: number;
  /** Gaps between two poll rounds of this process over 1 ms (a stall: GC, preemption), and the longest, us. */
  gapsOver1ms: number;
  /** p99 of each second of the phase, us (where in the phase the tail is). */
  p99PerSecondUs: number[];
  maxGapUs: number;
  /** This process's CPU over the phase, percent of one core. */
  cpuUser: number;
  cpuSys: number;
}

export interface PeerReport {
  ev: "report";
  connected: number;
  /** Connections reset or failed after set-up. */
  errors: number;
  phases: PeerPhase[];
  /** The new connection from a fresh source (the peer's primary address: no earlier handshake with the target). */
  newConn: { ok: boolean; ms: number; error?: string } | null;
  /** The new connection from a known source (`genFirst`, the held connections' address). */
  newConnKnown: { ok: boolean; ms: number; error?: string } | null;
  /** Flood frames queued / left in the batch at the end / rounds without a free buffer. */
  flood: { queued: number; backlog: number; noBuffer: number; seconds: number; warmFrames: number };
  tcp: Record<string, number>;
  tx: { sent: number; dropped: number; refused: number; deferred: number };
}

/** Unmeasured pause before each measured phase, for the caller's scrape (see the file comment). */
export const PRE_PHASE_MS = 500;

function emit(m: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(m) + "\n");
}

/** One new connection during the flood: connect (class 0), send a message, wait for its echo. */
class FreshConn implements PollStage {
  c = -1;
  private startUs = 0;
  private got = 0;
  result: { ok: boolean; ms: number; error?: string } | null = null;
  private readonly msg = new Uint8Array(MSG_BYTES).fill(0x5a);
  private readonly buf = new Uint8Array(64);
  constructor(private readonly tcp: TcpLayer) {}

  open(nowUs: number, lip: number, lport: number, rip: number, rport: number): void {
    this.startUs = nowUs;
    this.c = this.tcp.connect(nowUs, lip, lport, rip, rport);
    if (this.c < 0) this.result = { ok: false, ms: 0, error: `connect failed (${this.c})` };
    else this.tcp.setPriority(this.c, 0);
  }

  event(c: number, kind: number, arg: number, nowUs: number): void {
    if (this.result !== null) return;
    if (kind === TcpEvent.Connected) {
      this.tcp.send(c, this.msg, 0, MSG_BYTES);
    } else if (kind === TcpEvent.Readable) {
      for (;;) {
        const n = this.tcp.recv(c, this.buf, 0, this.buf.length);
        if (n <= 0) break;
        this.got += n;
      }
      if (this.got >= MSG_BYTES) {
        this.result = { ok: true, ms: (nowUs - this.startUs) / 1000 };
        this.tcp.shutdown(c);
      }
    } else if (kind === TcpEvent.Closed) {
      this.result = { ok: false, ms: (nowUs - this.startUs) / 1000, error: `closed (${arg})` };
    }
  }

  timeout(nowUs: number): void {
    if (this.result === null) this.result = { ok: false, ms: (nowUs - this.startUs) / 1000, error: "no echo before the end of the flood" };
  }

  poll(_nowUs: number): number {
    return 0;
  }

  pollAt(): number {
    return Number.POSITIVE_INFINITY;
  }
}

/** Gaps between consecutive poll rounds (this process's own stalls). */
class GapMeter implements PollStage {
  private last = -1;
  over1ms = 0;
  maxUs = 0;
  reset(): void {
    this.over1ms = 0;
    this.maxUs = 0;
    this.last = -1;
  }
  poll(nowUs: number): number {
    if (this.last >= 0) {
      const g = nowUs - this.last;
      if (g > 1000) this.over1ms++;
      if (g > this.maxUs) this.maxUs = g;
    }
    this.last = nowUs;
    return 0;
  }
  pollAt(): number {
    return Number.POSITIVE_INFINITY;
  }
}

function cpuPct(u0: NodeJS.CpuUsage, t0: number): { cpuUser: number; cpuSys: number } {
  const u = process.cpuUsage(u0);
  const wall = (performance.now() - t0) * 1000;
  return { cpuUser: Math.round((u.user / wall) * 1000) / 10, cpuSys: Math.round((u.system / wall) * 1000) / 10 };
}

async function main(): Promise<void> {
  const o = JSON.parse(process.argv[2]!) as PeerOptions;
  const flags = [
    "--vdev", `net_memif0,role=client,id=0,socket=${o.sock},socket-abstract=no`,
    "--ip", `${o.peerIp}/${o.prefixLen}`, "--max-conns", String(o.conns + 1024), "--buf-mb", "8",
  ];
  if (o.noHuge) flags.push("--no-huge");
  const cfg = stackConfigFrom(parseArgs(flags, STACK_FLAGS).values);
  const plan = planCapacity(cfg.capacity, { noDelay: true, sndBufBytes: 16 * 1024, rcvBufBytes: 16 * 1024, chunkBytes: 512, synQueueSize: 4096 });
  const dev = await openDevice(cfg, { nbufs: 65535 });
  const mem = await regionMemory(cfg.noHuge, plan);
  // Two transmit classes: the connections' segments in 0, the flood in 1 (the lowest).
  const stack = new Stack(dev, { ip: cfg.ip, prefixLen: cfg.prefixLen, gateway: 0, classes: 2 }, { idleSpinUs: 2000 });
  /** Per connection id: got an echo in the current phase. */
  const answered = new Uint8Array(plan.tcp.maxConnections);
  let answeredN = 0;
  const fresh = { stage: null as FreshConn | null, known: null as FreshConn | null };
  let gen: ConnGenerator | null = null;
  let tcp: TcpLayer | null = null;
  const clock = stack.loop.clock;
  const sink = {
    event(c: number, k: number, a: number): void {
      const f = fresh.stage;
      if (f !== null && c === f.c) {
        f.event(c, k, a, clock());
        return;
      }
      const kn = fresh.known;
      if (kn !== null && c === kn.c) {
        kn.event(c, k, a, clock());
        return;
      }
      // The held connections' segments leave in class 0, ahead of the flood.
      if (k === TcpEvent.Connected) tcp!.setPriority(c, 0);
      else if (k === TcpEvent.Readable && answered[c] === 0) {
        answered[c] = 1;
        answeredN++;
      }
      gen!.ring.event(c, k, a);
    },
  };
  const rng = () => (Math.random() * 4294967296) | 0;
  tcp = new TcpLayer({ config: plan.tcp, tx: stack.netif.out, rng, nowUs: clock(), events: sink, memory: mem.provider });
  stack.setTransport(tcp);
  let hist: hdr.Histogram | null = null;
  /** One histogram per second of the current phase. */
  let secHists: hdr.Histogram[] = [];
  let phaseStartUs = 0;
  const newHist = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  const serverIp = parseIpv4(o.serverIp);
  const epochS = 1 / o.hz;
  gen = new ConnGenerator(tcp, {
    conns: o.conns, setupS: o.setupS, epochS, firstIp: parseIpv4(o.genFirst), ipCount: Math.ceil(o.conns / 64512),
    portLo: 1024, portHi: 65535, dstIp: serverIp, dstPort: o.port, maxOpening: 2048, stampScheduled: true,
    onRtt: (us) => {
      if (hist === null) return;
      const v = Math.max(1, Math.round(us));
      hist.recordValue(v);
      const sec = Math.floor((clock() - phaseStartUs) / 1e6);
      if (sec >= 0 && sec < secHists.length) secHists[sec]!.recordValue(v);
    },
  });
  stack.addAppStage(gen);
  const gaps = new GapMeter();
  stack.addAppStage(gaps);
  stack.netif.addAddressRange(parseIpv4(o.genFirst), Math.ceil(o.conns / 64512));
  const loop = stack.run();
  const linkEnd = Date.now() + 15_000;
  while (!dev.linkUp() && Date.now() < linkEnd) await Bun.sleep(5);
  if (!dev.linkUp()) throw new Error("memif link did not come up");
  emit({ ev: "ready" });
  gen.startSetup(clock());
  const setupEnd = Date.now() + (o.setupS + 30) * 1000;
  while (gen.established + gen.failed < o.conns && Date.now() < setupEnd) await Bun.sleep(50);
  emit({ ev: "connected", connected: gen.established, failed: gen.failed, openErrors: gen.openErrors });
  const connected = gen.established;

  // The flood: to the target's MAC (resolved by the set-up), from ours.
  const dstMac = new Uint8Array(6);
  if (stack.netif.arp.cache.lookup(serverIp, clock(), dstMac, 0) === ARP_MISS) throw new Error("target's MAC not resolved after set-up");
  const flood = new SynFloodGen(dev, stack.netif.tx, { dstIp: serverIp, dstPort: o.port, srcMac: dev.caps.mac, dstMac, ratePerSec: o.floodRate, cls: 1 });
  stack.addAppStage(flood);
  const freshStage = new FreshConn(tcp);
  const knownStage = new FreshConn(tcp);
  // The known-source attempt's port, above the held connections' (ConnGenerator takes portLo up).
  const KNOWN_PORT = 60_000;
  if (o.conns > KNOWN_PORT - 1024) throw new Error(`synflood peer: --conns ${o.conns} would reach port ${KNOWN_PORT} of ${o.genFirst}`);

  // Every measured phase's histograms now, before the warm-up (not at the phase's start).
  const hists = o.phases.map((ph) => (ph.name === "warm" ? null : { all: newHist(), perSecond: Array.from({ length: Math.ceil(ph.seconds) }, newHist) }));
  gen.startHold(clock());
  const phases: PeerPhase[] = [];
  let warmFlood = 0;
  for (let pi = 0; pi < o.phases.length; pi++) {
    const ph = o.phases[pi]!;
    const isFlood = ph.name === "flood";
    const hh = hists[pi]!;
    if (hh !== null) {
      // The caller scrapes the target's counters now; the phase starts after it, unmeasured until then.
      emit({ ev: "phase-pre", name: ph.name });
      await Bun.sleep(PRE_PHASE_MS);
    }
    hist = hh === null ? null : hh.all;
    secHists = hh === null ? [] : hh.perSecond;
    phaseStartUs = clock();
    const recv0 = gen.received;
    const u0 = process.cpuUsage();
    const t0 = performance.now();
    const q0 = flood.queued;
    answered.fill(0);
    answeredN = 0;
    gaps.reset();
    emit({ ev: "phase", name: ph.name });
    if (isFlood) flood.start(clock());
    const end = t0 + ph.seconds * 1000;
    if (ph.name === "warm" && o.warmFloodS > 0) {
      // At the start of the warm-up, so the rest of it lets the JIT settle before the base phase.
      flood.misaddressed = o.warmFloodPeerOnly === true;
      flood.start(clock());
      await Bun.sleep(Math.min(o.warmFloodS, ph.seconds) * 1000);
      flood.stop(clock());
      flood.misaddressed = false;
      warmFlood = flood.queued - q0 - flood.backlog();
    }
    if (isFlood) {
      await Bun.sleep((ph.seconds * 1000) / 4);
      fresh.stage = freshStage;
      freshStage.open(clock(), parseIpv4(o.peerIp), 40_000, serverIp, o.port);
      fresh.known = knownStage;
      knownStage.open(clock(), parseIpv4(o.genFirst), KNOWN_PORT, serverIp, o.port);
      while ((freshStage.result === null || knownStage.result === null) && performance.now() < end - 100) await Bun.sleep(5);
    }
    const left = end - performance.now();
    if (left > 0) await Bun.sleep(left);
    if (isFlood) {
      flood.stop(clock());
      freshStage.timeout(clock());
      knownStage.timeout(clock());
    }
    const cpu = cpuPct(u0, t0);
    const h = hist;
    if (h !== null) {
      phases.push({
        name: ph.name, seconds: ph.seconds, messages: gen.received - recv0,
        p50Us: h.getValueAtPercentile(50), p99Us: h.getValueAtPercentile(99), p999Us: h.getValueAtPercentile(99.9), maxUs: h.maxValue,
        floodFrames: flood.queued - q0 - (isFlood ? flood.backlog() : 0), answered: answeredN, gapsOver1ms: gaps.over1ms, p99PerSecondUs: secHists.map((x) => x.getValueAtPercentile(99)), maxGapUs: Math.round(gaps.maxUs), ...cpu,
      });
    }
    emit({ ev: "phase-end", name: ph.name });
  }
  hist = null;
  const tx = stack.netif.tx;
  const report: PeerReport = {
    ev: "report", connected, errors: gen.resets + gen.failed, phases, newConn: freshStage.result, newConnKnown: knownStage.result,
    flood: { queued: flood.queued, backlog: flood.backlog(), noBuffer: flood.noBuffer, seconds: (flood.stopUs - flood.startUs) / 1e6, warmFrames: warmFlood },
    tcp: { ...tcp.counters }, tx: { sent: tx.sent, dropped: tx.dropped, refused: tx.refused, deferred: tx.deferred },
  };
  emit(report as unknown as Record<string, unknown>);
  for await (const line of console) if (line.trim() === "quit") break;
  await stack.stop();
  await loop;
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    emit({ ev: "error", message: String((e as Error).stack ?? e) });
    process.exit(1);
  },
);
