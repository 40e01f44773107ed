/**
 * One SYN-flood run (issue 7), shared by test/dpdk/synflood.test.ts (short) and bench/synflood.ts
 * (full): the echo app over net_af_packet on a veth, a Bun client on kernel sockets in the
 * namespace holding N established connections that exchange a small message each at a fixed rate
 * (helpers/synflood-client.ts), and, in the client's "flood" phase, hping3 -S --rand-source from the
 * same namespace at the echo port (bounded with `timeout`). The stack gets --gw = the namespace's
 * address, so it really transmits the SYN-ACKs for the random sources (the namespace's kernel,
 * which does not forward, drops them).
 *
 * Counters are read live from the app's /metrics before and after the flood phase.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { AppProcess, BUN } from "../../helpers/app-process";
import { createVethNs, hasCommand, netnsSkipReason, type VethNs } from "./netns";
import { delta, moved, scrape as scrapeOnce } from "./scapy";
import { hugeFlags } from "./tcp-link";
import type { ClientReport } from "./synflood-client";

export const CLIENT = join(import.meta.dir, "synflood-client.ts");

export function synfloodSkipReason(): string | null {
  const r = netnsSkipReason();
  if (r !== null) return r;
  for (const c of ["hping3", "timeout"]) if (!hasCommand(c)) return `${c} not installed (apt-get install hping3)`;
  return null;
}

export interface SynfloodOptions {
  conns: number;
  /** Messages per second per connection. */
  hz: number;
  msgBytes: number;
  warmS: number;
  baseS: number;
  floodS: number;
  /** Second octet of the 10.X.0.0/24 link. */
  net: number;
  /** hping3 rate: "flood" (--flood) or an interval such as "u100" (-i u100). */
  hpingRate: string;
  /**
   * net_af_packet ring frames per direction (its devarg framecnt; the PMD's default is 512, ~8 ms
   * of a 60 k frame/s flood: a stack descheduled for longer loses established segments too).
   */
  framecnt?: number;
  /** Extra flags for the echo app (e.g. ["--syn-budget", "8"]). */
  appArgs?: string[];
  /**
   * Pin the echo app's stack thread to CPU `app` (--layout rtc@N) and the client and hping3 to
   * CPU `peers` (taskset), to see what CPU sharing costs. Default: nothing pinned.
   */
  pin?: { app: number; peers: number };
  /**
   * CPU scheduling of hping3 (the attacker): "normal" (same CFS class as everything else),
   * "idle" (SCHED_IDLE, `chrt --idle 0`: runs only on CPU time nobody else wants) or "nice"
   * (nice 19). In a real deployment the attacker is another machine and takes no CPU from the
   * server or its clients; on this 2-core box hping3 shares a core with the client. Default "normal".
   */
  hpingSched?: "normal" | "idle" | "nice";
  /**
   * CPU scheduling of the client (the legitimate peers): "normal" (CFS, nice 0) or "fifo"
   * (SCHED_FIFO priority 1, `chrt -f 1`: it runs as soon as an echo wakes it). In a real
   * deployment the clients are other machines; here they share a core with hping3 and with the
   * kernel's delivery of the flood's frames over the veth (softirq). Default "normal".
   */
  clientSched?: "normal" | "fifo";
  /** Write a CPU profile of the echo app (Bun's --cpu-prof-md) into this directory at its exit. */
  profileDir?: string;
  /** Log progress lines. */
  log?: (s: string) => void;
}

export interface SynfloodResult {
  client: ClientReport;
  /** Counter deltas over the flood phase (from /metrics). */
  floodDelta: Record<string, number>;
  /** Counter deltas over the setup and base phases. */
  baseDelta: Record<string, number>;
  synCookiesSent: number;
  synCookiesAccepted: number;
  /** hping3's own summary line ("N packets transmitted ..."), if it printed one. */
  hping: string;
  hpingSent: number;
  /** Frames the stack received during the flood phase (device counter). */
  rxFramesFlood: number;
  /** Bare SYNs the classifier shed during the flood phase (--syn-budget). */
  synShedFlood: number;
  /** The echo app's --stats JSON at exit. */
  stats: { net: Record<string, number>; tcp: Record<string, number>; dev: Record<string, number> } | null;
  appExit: number;
  /** CPU split over the base phase and over the flood (percent of one core; 2 cores = 200). */
  cpu: { base: CpuSplit | null; flood: CpuSplit | null };
}

const TCP = "qstack_tcp_";

/** CPU time (utime + stime, clock ticks) of a process and its threads, 0 if gone. */
function procTicks(pid: number | undefined): number {
  if (pid === undefined || pid <= 0) return 0;
  try {
    const st = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]); // fields 14 and 15 of proc(5)
  } catch {
    return 0;
  }
}

/** [utime, stime] (clock ticks) of a process and its threads, [0, 0] if gone. */
export function procUserSys(pid: number | undefined): [number, number] {
  if (pid === undefined || pid <= 0) return [0, 0];
  try {
    const st = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = st.slice(st.lastIndexOf(")") + 2).split(" ");
    return [Number(f[11]), Number(f[12])];
  } catch {
    return [0, 0];
  }
}

/** The kernel's softirq threads (ksoftirqd/N): softirq work deferred out of interrupt context runs there. */
function ksoftirqdPids(): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, "utf8").startsWith("ksoftirqd/")) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

/** The children of a process (e.g. hping3 under `timeout`). */
function childPids(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter((x) => x !== "").map(Number);
  } catch {
    return [];
  }
}

/** Whole-machine CPU ticks from /proc/stat: [busy (user+nice+system), softirq+irq, idle (+iowait), total]. */
export function machineTicks(): number[] {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = f as [number, number, number, number, number, number, number, number];
  return [user + nice + system, irq + softirq, idle + iowait, user + nice + system + idle + iowait + irq + softirq + (steal ?? 0)];
}

/** Share of the whole machine (percent of ONE core; 200 = both cores) each party used over a phase. */
export interface CpuSplit {
  seconds: number;
  app: number;
  /** The app's share split into user and system (kernel: af_packet sendto, poll) time. */
  appUser: number;
  appSys: number;
  client: number;
  hping: number;
  /** Kernel interrupt + softirq time on all CPUs (veth delivery, af_packet ring fill). */
  softirq: number;
  /** The part of it run by the ksoftirqd threads (CFS, nice 0: they compete with processes for CPU). */
  ksoftirqd: number;
  idle: number;
}

class CpuSampler {
  private t0 = 0;
  private a0: number[] = [];
  private m0: number[] = [];
  private us0: [number, number] = [0, 0];
  private k0 = 0;
  private readonly kpids = ksoftirqdPids();
  constructor(private readonly pids: () => (number | undefined)[]) {}
  private ksoft(): number {
    let t = 0;
    for (const p of this.kpids) t += procTicks(p);
    return t;
  }
  private read(): number[] {
    return this.pids().map((p) => procTicks(p));
  }
  start(): void {
    this.t0 = performance.now();
    this.a0 = this.read();
    this.us0 = procUserSys(this.pids()[0]);
    this.k0 = this.ksoft();
    this.m0 = machineTicks();
  }
  /**
   * Percent of one core per party since start(). `last` holds each party's latest ticks seen
   * while it ran (index 0 the client, 1 hping3), for one that exits before stop().
   */
  stop(last: number[] = []): CpuSplit {
    const sec = (performance.now() - this.t0) / 1000;
    const a1 = this.read();
    const us1 = procUserSys(this.pids()[0]);
    const k1 = this.ksoft();
    const m1 = machineTicks();
    const hz = 100; // USER_HZ
    const pct = (ticks: number) => Math.round((ticks / hz / sec) * 1000) / 10;
    // A process that has exited already reads 0: not measured (NaN, null in JSON).
    const d = a1.map((v, i) => (v > 0 ? v - (this.a0[i] ?? 0) : i >= 1 && (last[i - 1] ?? 0) > 0 ? last[i - 1]! - (this.a0[i] ?? 0) : Number.NaN));
    const allTicks = m1[3]! - this.m0[3]!;
    const machine = (i: number) => Math.round(((m1[i]! - this.m0[i]!) / allTicks) * 2000) / 10;
    return { seconds: Math.round(sec * 10) / 10, app: pct(d[0]!), appUser: pct(us1[0] - this.us0[0]), appSys: pct(us1[1] - this.us0[1]), client: pct(d[1]!), hping: pct(last[1] ?? d[2] ?? 0), softirq: machine(1), ksoftirqd: pct(k1 - this.k0), idle: machine(2) };
  }
}

/** scrape() with retries: a pooled keep-alive connection the server has closed fails once with ECONNRESET. */
export async function scrapeRetry(url: string): Promise<Map<string, number>> {
  for (let i = 0; ; i++) {
    try {
      return await scrapeOnce(url);
    } catch (e) {
      if (i >= 4) throw e;
      await Bun.sleep(100);
    }
  }
}

/** Run the whole scenario and clean up (namespace, processes) whatever happens. */
export async function runSynflood(o: SynfloodOptions): Promise<SynfloodResult> {
  const log = o.log ?? (() => {});
  const stackIp = `10.${o.net}.0.1`;
  const nsIp = `10.${o.net}.0.2`;
  let env: VethNs | null = null;
  let app: AppProcess | null = null;
  let client: Bun.Subprocess<"ignore", "pipe", "pipe"> | null = null;
  let hping: Bun.Subprocess<"ignore", "pipe", "pipe"> | null = null;
  const taskset = o.pin !== undefined ? ["taskset", "-c", String(o.pin.peers)] : [];
  try {
    env = createVethNs({ tag: `syn${o.net}`, nsAddr: `${nsIp}/24` });
    // Many short-lived half-open entries and N established ones: room for both.
    const maxConns = Math.max(4096, o.conns * 2 + 1024);
    app = new AppProcess("echo", [
      "--vdev", `net_af_packet0,iface=${env.hostIf}${o.framecnt !== undefined ? `,framecnt=${o.framecnt}` : ""}`, "--ip", `${stackIp}/24`, "--gw", nsIp, ...hugeFlags(),
      "--max-conns", String(maxConns), "--metrics-port", "0", "--log-format", "json", "--status=false", "--stats",
      ...(o.appArgs ?? []),
      ...(o.pin !== undefined ? ["--layout", `rtc@${o.pin.app}`] : []),
    ], o.profileDir === undefined ? {} : { env: { BUN_OPTIONS: `--cpu-prof-md --cpu-prof-dir=${o.profileDir}` } });
    await app.waitFor(/echo: up on/, 30_000);
    const url = JSON.parse((await app.waitFor(/\{[^\n]*"metrics endpoint up"[^\n]*\}/))[0]).url as string;
    const s0 = await scrapeRetry(url);

    const phases = `warm:${o.warmS},base:${o.baseS},flood:${o.floodS}`;
    client = Bun.spawn([...env.prefix, ...taskset, ...(o.clientSched === "fifo" ? ["chrt", "-f", "1"] : []), BUN, CLIENT, "--dest", stackIp, "--port", "7", "--conns", String(o.conns),
      "--hz", String(o.hz), "--msg", String(o.msgBytes), "--phases", phases], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const clientErr = new Response(client.stderr).text();
    let outText = "";
    let floodSeen: () => void = () => {};
    const floodStarted = new Promise<void>((r) => (floodSeen = r));
    let baseSeen: () => void = () => {};
    const baseStarted = new Promise<void>((r) => (baseSeen = r));
    const sampler = new CpuSampler(() => [app?.proc.pid, client?.pid]);
    let baseCpu: CpuSplit | null = null;
    void baseStarted.then(() => sampler.start());
    const reader = (async () => {
      const dec = new TextDecoder();
      for await (const chunk of client!.stdout) {
        const s = dec.decode(chunk, { stream: true });
        outText += s;
        for (const line of s.split("\n")) if (line.startsWith("connected") || line.startsWith("phase")) log(`client: ${line}`);
        if (outText.includes("phase base")) baseSeen();
        if (outText.includes("phase flood")) floodSeen();
      }
    })();
    const clientTimeout = setTimeout(() => client?.kill(9), (60 + o.warmS + o.baseS + o.floodS) * 1000 + o.conns * 20);
    const exitedEarly = client.exited.then(() => "exited" as const);
    if ((await Promise.race([floodStarted.then(() => "flood" as const), exitedEarly])) !== "flood") {
      await reader;
      throw new Error(`client ended before the flood phase: ${outText.slice(-1000)} ${(await clientErr).slice(-2000)}`);
    }
    baseCpu = sampler.stop();
    const s1 = await scrapeRetry(url);
    const rate = o.hpingRate === "flood" ? ["--flood"] : ["-i", o.hpingRate];
    const sched = o.hpingSched === "idle" ? ["chrt", "--idle", "0"] : o.hpingSched === "nice" ? ["nice", "-n", "19"] : [];
    hping = Bun.spawn([...env.prefix, ...taskset, ...sched, "timeout", "-s", "INT", String(o.floodS), "hping3", "-q", "-S", "-p", "7", ...rate, "--rand-source", stackIp],
      { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    log(`${sched.length > 0 ? `${sched.join(" ")} ` : ""}hping3 ${rate.join(" ")} --rand-source -S -p 7 ${stackIp} for ${o.floodS} s`);
    const floodSampler = new CpuSampler(() => [app?.proc.pid, client?.pid]);
    floodSampler.start();
    // hping3 runs under `timeout`: sample its CPU time just before the end of the phase.
    let hpingPid: number | undefined;
    let hpingTicks = 0;
    let clientTicks = 0;
    const hpingWatch = setInterval(() => {
      hpingPid ??= childPids(hping?.pid)[0];
      const t = procTicks(hpingPid);
      if (t > 0) hpingTicks = t;
      const c = procTicks(client?.pid);
      if (c > 0) clientTicks = c;
    }, 200);
    const [hOut, hErr] = await Promise.all([new Response(hping.stdout).text(), new Response(hping.stderr).text()]);
    clearInterval(hpingWatch);
    const floodCpu = floodSampler.stop([clientTicks, hpingTicks]);
    await hping.exited;
    const s2 = await scrapeRetry(url);
    await client.exited;
    clearTimeout(clientTimeout);
    await reader;
    const last = outText.trim().split("\n").pop() ?? "";
    let report: ClientReport;
    try {
      report = JSON.parse(last) as ClientReport;
    } catch {
      throw new Error(`client: no report (exit ${client.exitCode}): ${outText.slice(-1000)} ${(await clientErr).slice(-2000)}`);
    }
    const hLine = /(\d+) packets transmitted[^\n]*/.exec(hOut + hErr);
    await app.stop(15_000);
    const statsLine = app.stdout.split("\n").find((l) => l.startsWith("{\"net\""));
    return {
      client: report,
      floodDelta: moved(s1, s2),
      baseDelta: moved(s0, s1),
      synCookiesSent: delta(s1, s2, `${TCP}syn_cookies_sent_total`),
      synCookiesAccepted: delta(s1, s2, `${TCP}syn_cookies_accepted_total`),
      hping: hLine?.[0] ?? (hOut + hErr).trim().slice(-300),
      hpingSent: hLine ? Number(hLine[1]) : -1,
      rxFramesFlood: delta(s1, s2, "qstack_net_rx_frames_total"),
      synShedFlood: delta(s1, s2, `qstack_net_rx_drops_total{reason="syn_shed"}`),
      stats: statsLine ? JSON.parse(statsLine) : null,
      appExit: app.proc.exitCode ?? -1,
      cpu: { base: baseCpu, flood: floodCpu },
    };
  } finally {
    if (hping !== null && hping.exitCode === null) hping.kill(9);
    if (client !== null && client.exitCode === null) client.kill(9);
    if (app !== null && app.proc.exitCode === null) {
      await app.stop(10_000);
      if (app.proc.exitCode === null) app.proc.kill(9);
    }
    env?.remove();
  }
}
