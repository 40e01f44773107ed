/**
 * One kernel-bypass SYN flood run (issue 7), shared by test/dpdk/synflood-memif.test.ts (short)
 * and bench/synflood.ts (the default, --flood-source memif): the echo app (the stack under test,
 * with its SYN shedding flags) on net_memif (role=server), and a second process on our stack over
 * the same memif link (helpers/synflood-peer.ts) that holds N established connections echoing
 * small messages, and in its "flood" phase floods bare SYNs from random sources in its lowest
 * transmit class and opens one new connection. No kernel on the path: no veth, no softirq, no
 * hping3. The target's gateway is the peer, so its SYN-ACKs to the random sources really leave
 * (the peer drops them: not its addresses).
 *
 * Counters come from the echo app's /metrics in the peer's unmeasured pause before the base phase,
 * in the one before the flood, and after the flood; CPU per process from /proc over each phase.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AppProcess, BUN, ROOT } from "../../helpers/app-process";
import { lines } from "../../../scripts/lines";
import { shimBuilt } from "../../../ffi/shim";
import { delta, moved } from "./scapy";
import { machineTicks, procUserSys, scrapeRetry } from "./synflood";
import { hugeFlags } from "./tcp-link";
import type { PeerOptions, PeerReport } from "./synflood-peer";

export const PEER = join(import.meta.dir, "synflood-peer.ts");

export function synfloodMemifSkipReason(): string | null {
  if (!shimBuilt()) return "the DPDK shim is not built (run npm run setup)";
  if (process.getuid?.() !== 0) return "not root (DPDK vdevs need root here)";
  return null;
}

export interface MemifFloodOptions {
  conns: number;
  hz: number;
  warmS: number;
  baseS: number;
  floodS: number;
  /** Flood SYNs per second; 0: as many as the memif ring takes. */
  floodRate: number;
  /** Seconds of flood at the start of the warm phase (not measured; JIT warm-up of the flood paths). Default 0. */
  warmFloodS?: number;
  /** The peer's warm-up flood goes to another Ethernet address (the stack under test drops it before IP: its flood paths stay cold). */
  warmFloodPeerOnly?: boolean;
  /** Second octet of the 10.X.0.0/16 link. */
  net: number;
  /** Extra flags for the echo app (its SYN shedding: --syn-budget, --syn-rate). */
  appArgs?: string[];
  /**
   * Nice value of both processes (the stack under test and the peer); default 0. A deployment
   * gives the stack cores of its own; on a shared box a negative value keeps unrelated work
   * (nice 0) from preempting the two busy poll loops for scheduler slices of milliseconds.
   * With the kernel's autogroup scheduling on (/proc/sys/kernel/sched_autogroup_enabled), a
   * process's nice only weighs it against the other processes of its own session: each process
   * then runs in a session of its own (setsid) whose autogroup gets the same nice
   * (/proc/PID/autogroup), so work from other sessions (another shell's tsc at nice 19) weighs
   * against it as nice -10 against nice 0, not as one session against another.
   */
  nice?: number;
  log?: (s: string) => void;
}

/** CPU of the two processes over a phase, percent of one core (2 cores = 200). */
export interface MemifCpu {
  seconds: number;
  target: number;
  targetUser: number;
  targetSys: number;
  peer: number;
  peerUser: number;
  peerSys: number;
  /**
   * Time each process's main thread (the poll loop) was runnable but waiting for a CPU, ms over
   * the phase (/proc/PID/task/PID/schedstat): preemption by other work, the source of ms stalls.
   */
  targetWaitMs: number;
  peerWaitMs: number;
  /** Whole machine: irq+softirq, idle, and busy time of every other process (other work on the box). */
  softirq: number;
  idle: number;
  other: number;
}

export interface MemifFloodResult {
  peer: PeerReport;
  floodDelta: Record<string, number>;
  /** Frames the target received during the flood phase (its device counter). */
  rxFramesFlood: number;
  rxFramesBase: number;
  /** Seconds between the scrapes each counter delta spans (base: the base phase and the pause before the flood; flood: the flood phase and the scrape after it). */
  spanBaseS: number;
  spanFloodS: number;
  synShedFlood: number;
  /** Bare SYNs the target admitted past its SYN bounds in the flood phase: from known sources / as retransmissions of shed SYNs. */
  synKnownFlood: number;
  synRetryFlood: number;
  synCookiesSent: number;
  synCookiesAccepted: number;
  stats: { net: Record<string, number>; tcp: Record<string, number>; dev: Record<string, number> } | null;
  appExit: number;
  cpu: { base: MemifCpu | null; flood: MemifCpu | null };
}

/** Whether the kernel schedules by autogroup (one group per session), where nice weighs only within a session. */
export function autogroupOn(): boolean {
  try {
    return readFileSync("/proc/sys/kernel/sched_autogroup_enabled", "utf8").trim() === "1";
  } catch {
    return false;
  }
}

/**
 * Give the autogroup of `pid` (its own session, started by setsid) the nice value `nice`, so
 * --nice weighs the process against other sessions' work too (see MemifFloodOptions.nice).
 */
async function niceAutogroup(pid: number, nice: number, log: (s: string) => void): Promise<void> {
  if (nice === 0 || !autogroupOn()) return;
  try {
    // Only once setsid has run (the process leads its own session): before, its autogroup is ours.
    const end = performance.now() + 5000;
    while (Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[3]) !== pid) {
      if (performance.now() > end) throw new Error("not a session leader after 5 s");
      await Bun.sleep(2);
    }
    writeFileSync(`/proc/${pid}/autogroup`, String(nice));
    log(`scheduling: process ${pid} in ${readFileSync(`/proc/${pid}/autogroup`, "utf8").trim()}`);
  } catch (e) {
    log(`note: could not set the autogroup nice of ${pid} (${(e as Error).message}); other sessions' work weighs against it as nice 0`);
  }
}

/** Run-queue wait of a process's main thread so far, ns (0 if gone). */
function waitNs(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").split(" ")[1]);
  } catch {
    return 0;
  }
}

class Sampler {
  private w0: [number, number] = [0, 0];
  private t0 = 0;
  private a0: [number, number] = [0, 0];
  private b0: [number, number] = [0, 0];
  private m0: number[] = [];
  constructor(private readonly a: number, private readonly b: number) {}
  start(): void {
    this.t0 = performance.now();
    this.a0 = procUserSys(this.a);
    this.b0 = procUserSys(this.b);
    this.m0 = machineTicks();
    this.w0 = [waitNs(this.a), waitNs(this.b)];
  }
  stop(): MemifCpu {
    const sec = (performance.now() - this.t0) / 1000;
    const a1 = procUserSys(this.a);
    const b1 = procUserSys(this.b);
    const m1 = machineTicks();
    const pct = (t: number) => Math.round((t / 100 / sec) * 1000) / 10;
    const all = m1[3]! - this.m0[3]!;
    const machine = (i: number) => Math.round(((m1[i]! - this.m0[i]!) / all) * 2000) / 10;
    const tu = a1[0] - this.a0[0];
    const ts = a1[1] - this.a0[1];
    const pu = b1[0] - this.b0[0];
    const ps = b1[1] - this.b0[1];
    return {
      seconds: Math.round(sec * 10) / 10, target: pct(tu + ts), targetUser: pct(tu), targetSys: pct(ts),
      peer: pct(pu + ps), peerUser: pct(pu), peerSys: pct(ps), softirq: machine(1), idle: machine(2),
      targetWaitMs: Math.round((waitNs(this.a) - this.w0[0]) / 1e5) / 10, peerWaitMs: Math.round((waitNs(this.b) - this.w0[1]) / 1e5) / 10,
      other: Math.round((machine(0) - pct(tu + ts) - pct(pu + ps)) * 10) / 10,
    };
  }
}

export async function runSynfloodMemif(o: MemifFloodOptions): Promise<MemifFloodResult> {
  const log = o.log ?? (() => {});
  const serverIp = `10.${o.net}.0.1`;
  const peerIp = `10.${o.net}.0.2`;
  const sock = `/tmp/qs-synflood-${process.pid}-${o.net}.sock`;
  let app: AppProcess | null = null;
  let peer: Bun.Subprocess<"pipe", "pipe", "pipe"> | null = null;
  try {
    rmSync(sock, { force: true });
    const maxConns = Math.max(4096, o.conns * 2 + 1024);
    const nicePrefix = (o.nice ?? 0) !== 0 ? [...(autogroupOn() ? ["setsid"] : []), "nice", "-n", String(o.nice)] : [];
    app = new AppProcess("echo", [
      "--vdev", `net_memif0,role=server,id=0,socket=${sock},socket-abstract=no`, "--ip", `${serverIp}/16`, "--gw", peerIp, ...hugeFlags(),
      "--max-conns", String(maxConns), "--metrics-port", "0", "--log-format", "json", "--status=false", "--stats",
      ...(o.appArgs ?? []),
    ], { prefix: nicePrefix });
    await niceAutogroup(app.proc.pid, o.nice ?? 0, log);
    await app.waitFor(/echo: up on/, 30_000);
    const url = JSON.parse((await app.waitFor(/\{[^\n]*"metrics endpoint up"[^\n]*\}/))[0]).url as string;
    const phases = [{ name: "warm", seconds: o.warmS }, { name: "base", seconds: o.baseS }, { name: "flood", seconds: o.floodS }];
    const popts: PeerOptions = {
      sock, serverIp, port: 7, peerIp, prefixLen: 16, genFirst: `10.${o.net}.1.0`, conns: o.conns, hz: o.hz,
      setupS: Math.max(1, o.conns / 10_000), phases, floodRate: o.floodRate, warmFloodS: o.warmFloodS ?? 0, warmFloodPeerOnly: o.warmFloodPeerOnly, noHuge: hugeFlags().length > 0,
    };
    peer = Bun.spawn([...nicePrefix, BUN, PEER, JSON.stringify(popts)], { stdin: "pipe", stdout: "pipe", stderr: "pipe", cwd: ROOT });
    await niceAutogroup(peer.pid, o.nice ?? 0, log);
    const peerErr = new Response(peer.stderr).text();
    const sampler = new Sampler(app.proc.pid, peer.pid);
    let baseCpu: MemifCpu | null = null;
    let floodCpu: MemifCpu | null = null;
    let sBase: Map<string, number> | null = null;
    let sFlood: Map<string, number> | null = null;
    let sEnd: Map<string, number> | null = null;
    let report: PeerReport | null = null;
    let tBase = 0;
    let tFlood = 0;
    let tEnd = 0;
    let lastErr = "";
    const deadline = setTimeout(() => peer?.kill(9), (90 + o.warmS + o.baseS + o.floodS) * 1000 + o.conns * 5);
    for await (const line of lines(peer.stdout)) {
      if (!line.startsWith("{")) continue;
      const m = JSON.parse(line) as { ev: string; name?: string; message?: string };
      if (m.ev !== "report") log(`peer: ${line}`);
      // Scrapes in the peer's unmeasured pause before each measured phase ("phase-pre") and after the
      // flood; the CPU sampled over each measured phase itself.
      if (m.ev === "phase-pre" && m.name === "base") {
        sBase = await scrapeRetry(url);
        tBase = performance.now();
      } else if (m.ev === "phase-pre" && m.name === "flood") {
        sFlood = await scrapeRetry(url);
        tFlood = performance.now();
      } else if (m.ev === "phase" && (m.name === "base" || m.name === "flood")) {
        sampler.start();
      } else if (m.ev === "phase-end" && m.name === "base") {
        baseCpu = sampler.stop();
      } else if (m.ev === "phase-end" && m.name === "flood") {
        floodCpu = sampler.stop();
        sEnd = await scrapeRetry(url);
        tEnd = performance.now();
      } else if (m.ev === "report") {
        report = m as unknown as PeerReport;
        break;
      } else if (m.ev === "error") {
        lastErr = m.message ?? "";
      }
    }
    clearTimeout(deadline);
    if (report === null || sBase === null || sFlood === null || sEnd === null) {
      throw new Error(`peer ended without a report: ${lastErr} ${(await peerErr).slice(-2000)}`);
    }
    // The target first (the peer still polls the link), then the peer.
    await app.stop(15_000);
    peer.stdin.write("quit\n");
    peer.stdin.end();
    const peerExit = await Promise.race([peer.exited, Bun.sleep(10_000).then(() => -1)]);
    if (peerExit === -1) peer.kill(9);
    const statsLine = app.stdout.split("\n").find((l) => l.startsWith("{\"net\""));
    return {
      peer: report,
      floodDelta: moved(sFlood, sEnd),
      rxFramesFlood: delta(sFlood, sEnd, "qstack_net_rx_frames_total"),
      rxFramesBase: delta(sBase, sFlood, "qstack_net_rx_frames_total"),
      spanBaseS: (tFlood - tBase) / 1000,
      spanFloodS: (tEnd - tFlood) / 1000,
      synShedFlood: delta(sFlood, sEnd, `qstack_net_rx_drops_total{reason="syn_shed"}`),
      synKnownFlood: delta(sFlood, sEnd, "qstack_syn_admitted_known"),
      synRetryFlood: delta(sFlood, sEnd, "qstack_syn_admitted_retry"),
      synCookiesSent: delta(sFlood, sEnd, "qstack_tcp_syn_cookies_sent_total"),
      synCookiesAccepted: delta(sFlood, sEnd, "qstack_tcp_syn_cookies_accepted_total"),
      stats: statsLine ? JSON.parse(statsLine) : null,
      appExit: app.proc.exitCode ?? -1,
      cpu: { base: baseCpu, flood: floodCpu },
    };
  } finally {
    if (peer !== null && peer.exitCode === null) peer.kill(9);
    if (app !== null && app.proc.exitCode === null) {
      await app.stop(10_000);
      if (app.proc.exitCode === null) app.proc.kill(9);
    }
    if (existsSync(sock)) rmSync(sock, { force: true });
  }
}
