/**
 * bench/priority on real devices: for each case (priority off, then on) a fresh
 * pair of processes on our stack joined by net_memif (bench/priority-peer.ts):
 * the server (PriorityServer, W us of CPU per message) and the load generator.
 * The first pair's measured capacity sets the burst rate of both cases, so
 * they see the same load; each pair also measures (and warms up on) its own.
 */
import { cpuTicks, stealBetween } from "../apps/iotep/cpu-sampler";
import { lowLatencyEnv } from "../src/api/runtime-env";
import { startIdlePoller, type IdlePoller } from "../src/api/idle-poller";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { spawnProc, type Ev, type Proc } from "./pps-ipc";
import { printThreads, ThreadSampler, type ThreadRow } from "./priority-threads";
import { gcLogSummary, type GcLogSummary } from "./priority-census";
import { SCHED_IDLE, setThreadPolicy } from "../ffi/sched-policy";
import { threadId } from "../src/sched/split/affinity";
import { sweepHelperThreads } from "../src/sched/split/helper-threads";

const PEER = join(import.meta.dir, "priority-peer.ts");
const SERVER_IP = "10.78.0.1";

export interface RealParams {
  conns: number;
  serviceUs: number;
  budgetUs: number;
  checkUs: number;
  lowBudgetUs: number;
  bursts: number;
  burstS: number;
  quietS: number;
  ratio: number;
  high: number;
  capS: number;
  /**
   * Unmeasured bursts, shaped like the measured ones, after the capacity phase:
   * the capacity phase sends only low-priority messages for ~1 s, so without
   * them the JIT was still compiling (FTL tier-ups, first high-priority paths:
   * ~150-280 compilations per process in the measured phase, BUN_JSC_reportCompileTimes)
   * on helper threads that took the stack threads' CPUs for up to a 4 ms tick.
   */
  warmupBursts: number;
  noHuge: boolean;
  busyPoll: boolean;
  genSpin: boolean;
  rxBursts: number;
  /** Pin the server to CPU 1 and the generator to CPU 0. */
  pin: boolean;
  /** Sample every thread on the machine every N ms during the bursts (0: off; bench/priority-threads.ts). */
  threadsMs: number;
  /** With pin: the runtime's helper threads at SCHED_IDLE ("idle") or left alone ("normal"). */
  helpers: "idle" | "normal";
  /** Both stack threads' nice and their own autogroups' nice (0: leave). */
  stackNice: number;
  /** Both stack threads' EEVDF slice, us (0: the kernel's default). */
  stackSliceUs: number;
  /**
   * Keep Bun's idle GC timer in the peers (false: BUN_GC_TIMER_DISABLE=1). Bun's
   * GarbageCollectionController starts an Eden collection every second while the
   * heap size changed since the last tick, however little was allocated: ~1 Eden
   * (1-5 ms pause) per second per process. JSC's own allocation-paced collections
   * stay on either way.
   */
  gcTimer: boolean;
  /** Keep Bun's allocator defaults in the peers (false: src/api/runtime-env.ts's mimalloc and JavaScriptCore settings). */
  allocatorDefaults: boolean;
  /** Keep the CPUs from halting during the runs (src/api/idle-poller.ts). */
  idlePoller: boolean;
}

export interface RealCase {
  priority: boolean;
  /** The hypervisor's steal during the measured bursts (apps/iotep/cpu-sampler.ts stealBetween), null where /proc/stat is missing. */
  steal: { share: number; ms: number } | null;
  capacity: number;
  connectMs: number;
  gen: Ev;
  server: Ev;
  /** Every thread's CPU and run-queue wait during the bursts (with threadsMs). */
  threads?: ThreadRow[];
  /** Per peer, from its BUN_JSC_logGC log (with QS_PRIO_PEER_LOGS and BUN_JSC_logGC). */
  gc?: Record<string, GcLogSummary>;
}

/** Stack flags both processes share: no hugepages when too few are free (as bench/tcp decides). */
function hugeFlags(p: RealParams): string[] {
  if (p.noHuge) return ["--no-huge"];
  let free = 0;
  try {
    free = Number(readFileSync("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "utf8"));
  } catch {
    // no hugepage support: normal pages
  }
  return free < 256 ? ["--no-huge"] : [];
}

let pairNo = 0;

async function runPair(p: RealParams, priority: boolean, rate: number, log: (s: string) => void): Promise<RealCase> {
  const n = ++pairNo;
  const sock = `/tmp/qs-bench-prio-${process.pid}-${n}.sock`;
  const dev = (role: string) => `net_memif0,role=${role},id=0,socket=${sock},socket-abstract=no`;
  const common = ["--stack-nice", String(p.stackNice), "--stack-slice-us", String(p.stackSliceUs), "--max-conns", String(Math.max(4096, p.conns + 64)), "--buf-mb", "64", "--service-us", String(p.serviceUs), "--rx-bursts", String(p.rxBursts), ...hugeFlags(p), ...(p.busyPoll ? ["--busy-poll"] : [])];
  const procs: Proc[] = [];
  const env = lowLatencyEnv({ gcTimer: p.gcTimer, allocatorDefaults: p.allocatorDefaults });
  try {
    const sArgs = ["--role", "server", "--vdev", dev("server"), "--ip", `${SERVER_IP}/24`, "--budget-us", String(p.budgetUs), "--check-us", String(p.checkUs), "--low-budget-us", String(p.lowBudgetUs), ...common];
    if (priority) sArgs.push("--priority", "--classify", "iotep");
    if (p.pin) sArgs.push("--pin", "1", "--helpers", p.helpers);
    const server = spawnProc(`server (priority ${priority ? "on" : "off"})`, PEER, sArgs, env);
    procs.push(server);
    await server.next("ready", 60_000);
    const gArgs = [
      "--role", "generator", "--vdev", dev("client"), "--ip", "10.78.0.2/24", "--host", SERVER_IP, "--conns", String(p.conns),
      "--cap-s", String(p.capS), "--warmup-bursts", String(p.warmupBursts), "--rate", String(rate), "--ratio", String(p.ratio), "--bursts", String(p.bursts),
      "--burst-s", String(p.burstS), "--quiet-s", String(p.quietS), "--high", String(p.high), ...(p.genSpin ? ["--gen-spin"] : []), ...(p.pin ? ["--pin", "0", "--helpers", p.helpers] : []), ...common,
    ];
    const gen = spawnProc("generator", PEER, gArgs, env);
    procs.push(gen);
    await gen.next("ready", 60_000);
    const conn = await gen.next("connected", 90_000);
    log(`    ${p.conns} connections in ${Number(conn.setupMs).toFixed(0)} ms`);
    const cap = await gen.next("capacity", 60_000 + p.capS * 3000 + p.warmupBursts * (p.burstS + p.quietS) * 1000);
    server.send("reset");
    log(`    measured capacity ${cap.capacity} messages/s (nominal ${cap.nominal})`);
    const budget = (p.bursts * (p.burstS + p.quietS) + 90) * 1000;
    const sampler = p.threadsMs > 0 ? new ThreadSampler(p.threadsMs) : null;
    sampler?.start();
    const ticks0 = cpuTicks();
    const res = await gen.next("result", budget);
    const steal = stealBetween(ticks0, cpuTicks());
    sampler?.stop();
    if (steal !== null) log(`    the hypervisor's steal during the bursts: ${(steal.share * 100).toFixed(2)} % of the CPU time (${steal.ms} ms over both CPUs)`);
    const threads = sampler === null ? undefined : printThreads(`threads during the bursts (priority ${priority ? "on" : "off"})`, sampler, log);
    server.send("stop");
    const st = await server.next("stats", 30_000);
    await Promise.all(procs.map((x) => x.exited()));
    const logDir = process.env["QS_PRIO_PEER_LOGS"];
    let gc: Record<string, GcLogSummary> | undefined;
    if (logDir !== undefined && logDir !== "") {
      // Diagnosis (e.g. with BUN_JSC_logGC=1 in the environment): each peer's stderr to a file,
      // and its collections in the measured phase (the peers mark it in the log).
      for (const x of procs) {
        const who = x.name.split(" ")[0]!;
        const text = await x.stderr();
        await Bun.write(join(logDir, `${priority ? "on" : "off"}-${who}.log`), text);
        const g = gcLogSummary(text);
        if (g !== null) {
          (gc ??= {})[who] = g;
          const m = g.measured;
          log(`    ${who} GC (BUN_JSC_logGC) in the measured phase: ${m.eden} eden, ${m.full} full, pauses ${m.pauses} total ${m.pauseMs.toFixed(1)} ms max ${m.maxPauseMs.toFixed(1)} ms; whole run ${g.run.eden} eden, ${g.run.full} full, ${g.run.pauseMs.toFixed(1)} ms`);
          if (g.census !== null) log(`    ${g.census}`);
        }
      }
    }
    return { priority, capacity: Number(cap.capacity), connectMs: Number(conn.setupMs), gen: res, server: st, threads, gc, steal };
  } catch (e) {
    const tails = await Promise.all(
      procs.map(async (x) => {
        x.kill();
        return `${x.name} stderr (tail): ${(await x.stderr()).slice(-800)}`;
      }),
    );
    throw new Error(`${(e as Error).message}\n${tails.join("\n")}`);
  } finally {
    for (const x of procs) x.kill();
    rmSync(sock, { force: true });
  }
}

/**
 * With --pin and --helpers idle, this process (the orchestrator: it only reads the
 * peers' events) runs on idle time too, all its threads at SCHED_IDLE. The peers
 * it spawns inherit SCHED_IDLE (the kernel's reset-on-fork flag resets only
 * real-time policies): each sets its own thread back to SCHED_OTHER first thing
 * (bench/priority-peer.ts).
 */
function quietOrchestrator(): string[] {
  const e = setThreadPolicy(threadId(), SCHED_IDLE);
  return [...(e === null ? [] : [e]), ...sweepHelperThreads(null).errors];
}

/** Priority off, then on, at the same burst rate (ratio x the first pair's measured capacity). */
export async function runReal(p: RealParams, log: (s: string) => void = console.log): Promise<{ capacity: number; rate: number; off: RealCase; on: RealCase }> {
  if (p.pin && p.helpers === "idle") {
    const errs = quietOrchestrator();
    if (errs.length > 0) log(`  (orchestrator stays at normal priority: ${errs.join("; ")})`);
  }
  let poller: IdlePoller | null = null;
  if (p.idlePoller) {
    const r = await startIdlePoller();
    if ("unavailable" in r) log(`  idle poller: not running (${r.unavailable})`);
    else poller = r;
  }
  try {
    log("  priority off: server and generator processes over net_memif ...");
    const off = await runPair(p, false, 0, log);
    const rate = Number(off.gen.rate);
    log(`  priority on: the same at ${rate.toFixed(0)} messages/s in bursts ...`);
    const on = await runPair(p, true, rate, log);
    return { capacity: off.capacity, rate, off, on };
  } finally {
    await poller?.stop();
  }
}
