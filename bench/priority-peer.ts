/**
 * One process of bench/priority on real devices (EAL starts once per process):
 * the server (bench/priority-server.ts) or the load generator
 * (bench/priority-gen.ts), each on our stack over the device the stack flags
 * name (net_memif between the two). Talks JSON lines (bench/pps-ipc.ts):
 *
 *   server    -> {"ev":"ready"}; on the "stop" command (or SIGTERM) -> {"ev":"stats",...}, exit
 *   generator -> {"ev":"ready"}, {"ev":"connected"}, {"ev":"capacity"}, {"ev":"result"}, exit
 *
 * The generator first saturates the server briefly (2x its nominal rate
 * 1/W for --cap-s seconds, all low priority; also the JIT warm-up of both
 * sides) and counts replies per second once the queue has built up: the
 * measured capacity. Then it runs --bursts bursts of --burst-s seconds at
 * --rate messages/s (or --ratio x the measured capacity), each followed by
 * --quiet-s seconds of nothing, with a fraction --high of high-priority messages.
 *
 *   bun bench/priority-peer.ts --role server --vdev net_memif0,role=server,socket=/tmp/p.sock --ip 10.78.0.1/24 [--priority --classify iotep]
 *   bun bench/priority-peer.ts --role generator --vdev net_memif0,role=client,socket=/tmp/p.sock --ip 10.78.0.2/24 --host 10.78.0.1
 */
import { cpus } from "node:os";
import { parseAppArgs, startStack } from "../apps/common";
import { startIdStack } from "../apps/iotep/id-stack";
import { RoundGaps } from "../apps/iotep/round-gaps";
import { TcpEpoll } from "../src/api/tcp-epoll";
import { pinThread, threadId } from "../src/sched/split/affinity";
import { SCHED_OTHER, setThreadPolicy, threadPolicy } from "../ffi/sched-policy";
import { HelperThreadSweep, releaseHelperThreads } from "../src/sched/split/helper-threads";
import { raiseStackThread } from "../src/sched/split/stack-priority";
import { emit, emitFlushed, pollCommand } from "./pps-ipc";
import { microSleeper } from "../ffi/micro-sleep";
import { burstPlan, LoadGen, type GenConn } from "./priority-gen";
import { MSG, PriorityServer } from "./priority-server";
import { PriorityWireTap } from "./priority-wire";
import { HeapCensus, phaseMark } from "./priority-census";
import { GenHighTap, StallLog } from "./priority-tail";
import { RoundProbe } from "./priority-gaps";

const spec = {
  name: "priority-peer",
  usage: "bun bench/priority-peer.ts --role server|generator [flags]",
  about: "One process of bench/priority on real devices (see bench/priority.ts).",
  flags: [
    { name: "role", type: "string" as const, arg: "server|generator", default: "server", help: "which process" },
    { name: "port", type: "int" as const, arg: "N", default: 7000, min: 1, max: 65535, help: "TCP port" },
    { name: "host", type: "string" as const, arg: "A.B.C.D", help: "server address (generator)" },
    { name: "priority", type: "bool" as const, help: "server: message mode, two queues, SEND_AHEAD high replies (give --classify iotep too)" },
    { name: "service-us", type: "int" as const, arg: "US", default: 100, min: 1, help: "server: CPU per message" },
    { name: "budget-us", type: "int" as const, arg: "US", default: 1000, min: 1, help: "server: Scheduler budget" },
    { name: "low-budget-us", type: "int" as const, arg: "US", default: 0, min: 0, help: "server: Scheduler budget while only low-priority work runs (0: the budget)" },
    { name: "check-us", type: "int" as const, arg: "US", default: 200, min: 1, help: "server: Scheduler clock-check interval" },
    { name: "pin", type: "int" as const, arg: "CPU", default: -1, min: -1, help: "pin this process's stack thread to CPU (-1: leave it to the kernel)" },
    { name: "helpers", type: "string" as const, arg: "idle|normal", default: "idle", help: "with --pin: the runtime's helper threads (JIT, GC) at SCHED_IDLE (src/sched/split/helper-threads.ts) or left alone" },
    { name: "stack-nice", type: "int" as const, arg: "N", default: 0, min: -20, max: 19, help: "the stack thread's nice, and its own session's autogroup nice (0: leave; src/sched/split/stack-priority.ts)" },
    { name: "stack-slice-us", type: "int" as const, arg: "US", default: 0, min: 0, max: 100000, help: "the stack thread's EEVDF slice (sched_setattr; 0: the kernel's default; Linux 6.12+)" },
    { name: "rx-bursts", type: "int" as const, arg: "N", default: 16, min: 1, help: "most rx bursts per poll round (Stack.rxBurstsPerRound)" },
    { name: "conns", type: "int" as const, arg: "N", default: 2000, min: 1, help: "generator: connections" },
    { name: "cap-s", type: "number" as const, arg: "S", default: 1, min: 0.3, help: "generator: seconds of saturation to measure capacity" },
    { name: "warmup-bursts", type: "int" as const, arg: "N", default: 2, min: 0, help: "generator: unmeasured bursts like the measured ones after the capacity phase (JIT warm-up of every path)" },
    { name: "rate", type: "number" as const, arg: "R", default: 0, min: 0, help: "generator: messages/s in a burst (0: --ratio x measured capacity)" },
    { name: "ratio", type: "number" as const, arg: "X", default: 2, min: 0.1, help: "generator: burst rate / measured capacity" },
    { name: "bursts", type: "int" as const, arg: "B", default: 3, min: 1, help: "generator: bursts" },
    { name: "burst-s", type: "number" as const, arg: "S", default: 1, min: 0.05, help: "generator: burst length" },
    { name: "quiet-s", type: "number" as const, arg: "S", default: 1.5, min: 0, help: "generator: quiet after each burst" },
    { name: "high", type: "number" as const, arg: "F", default: 0.05, min: 0, max: 1, help: "generator: fraction of high-priority messages" },
    { name: "gen-spin", type: "bool" as const, help: "generator: spin between sends instead of sleeping (microSleeper)" },
    { name: "seed", type: "int" as const, arg: "N", default: 5, help: "generator: seed of the high/low draw" },
  ],
};

const TCP = { sndBufBytes: 64 * 1024, rcvBufBytes: 64 * 1024, synQueueSize: 4096, defaultBacklog: 65535 };

/** Non-zero TCP counters, the device's statistics and the interface's drop counters (what explains a tail). */
function counters(tcp: { counters: object }, stack: { dev: { stats(): object }; netif: { counters: { snapshot(): object } } }): Record<string, unknown> {
  const nz = (o: object) => Object.fromEntries(Object.entries(o).filter(([, x]) => typeof x === "number" && x !== 0));
  const net = Object.fromEntries(Object.entries(stack.netif.counters.snapshot()).filter(([k, x]) => typeof x === "number" && x !== 0 && /drop|refus|full|miss/i.test(k)));
  return { tcp: nz(tcp.counters), dev: nz(stack.dev.stats()), net };
}

/**
 * --pin: the stack thread on its CPU, and (--helpers idle) the runtime's
 * helper threads on idle time only, swept every second from the measured
 * phase on (startHelperSweep). Before it they run at normal priority (main()
 * also releases the ones started before it, which inherited the quiet
 * orchestrator's SCHED_IDLE), so the JIT finishes tiering up the hot paths
 * during the warm-up: with them at
 * SCHED_IDLE from the start, each peer still compiled 40-83 functions with
 * the FTL in the measured phase (BUN_JSC_reportCompileTimes=1 with
 * QS_PRIO_PEER_LOGS), among them the stack's emitSegment, append and
 * advanceNxt, whose compiler threads then took the CPU from the other peer's
 * stack thread (perf sched: ~18 ms of the generator's wake-up delays in one
 * run were the server's JIT thread).
 */
function pin(v: Record<string, unknown>): HelperThreadSweep | null {
  const nice = v["stack-nice"] as number;
  const slice = v["stack-slice-us"] as number;
  if (nice !== 0 || slice > 0) {
    const r = raiseStackThread(nice, slice);
    if (r.errors.length > 0) throw new Error(`--stack-nice ${nice} --stack-slice-us ${slice}: ${r.errors.join("; ")}`);
  }
  const cpu = v["pin"] as number;
  if (cpu < 0) return null;
  const why = pinThread(cpu);
  if (why !== null) throw new Error(`--pin ${cpu}: ${why}`);
  if (v["helpers"] === "normal") return null;
  if (v["helpers"] !== "idle") throw new Error(`--helpers ${String(v["helpers"])}: expected idle or normal`);
  // Helpers may run on every CPU: one the runtime started from the pinned thread inherited its single CPU.
  return new HelperThreadSweep(cpus().map((_, i) => i));
}

const sweepsStarted = new Set<HelperThreadSweep>();

/** The measured phase starts: helper threads to SCHED_IDLE from now on (--helpers idle); once per sweep. */
function startHelperSweep(sweep: HelperThreadSweep | null, stack: { addAppStage(s: HelperThreadSweep): void }): void {
  if (sweep === null || sweepsStarted.has(sweep)) return;
  sweepsStarted.add(sweep);
  stack.addAppStage(sweep);
}

function sweepStats(s: HelperThreadSweep | null): Record<string, unknown> | null {
  return s === null ? null : { sweeps: s.sweeps, changed: s.changed, errors: s.errors };
}

async function waitFor(cond: () => boolean, ms: number, step = 20): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) return false;
    await Bun.sleep(step);
  }
  return true;
}

/** Census windows of 50 ms every 100 ms (QS_PRIO_CENSUS=1, bench/priority-census.ts). */
function censusTimer(c: HeapCensus, messages: () => number): { stop(who: string): void } {
  let open = false;
  const t = setInterval(() => {
    if (open) c.close(messages());
    else c.open(messages());
    open = !open;
  }, 50);
  return {
    stop(who: string) {
      clearInterval(t);
      c.report(who);
    },
  };
}

async function server(v: Record<string, unknown>): Promise<void> {
  const priority = v["priority"] === true;
  const rs = await startIdStack(v as never, TCP);
  const ep = new TcpEpoll(rs.stack, rs.plan.tcp);
  // While saturated a round lasts about one Scheduler budget: drain the rx ring then, not one burst.
  rs.stack.rxBurstsPerRound = v["rx-bursts"] as number;
  const clock = rs.stack.loop.clock;
  // Where a long gap between rounds went (bench/priority-gaps.ts): its first stage before every other app stage.
  const probe = new RoundProbe(rs.stack.loop, clock, rs.stack.netif.counters);
  rs.stack.loop.add(probe.start, true);
  rs.stack.addAppStage(probe.first);
  const sweep = pin(v);
  const srv = new PriorityServer(ep, v["port"] as number, {
    priority,
    serviceUs: v["service-us"] as number,
    budgetUs: v["budget-us"] as number,
    checkEveryUs: v["check-us"] as number,
    lowBudgetUs: (v["low-budget-us"] as number) > 0 ? (v["low-budget-us"] as number) : (v["budget-us"] as number),
    clock,
    maxConnections: ep.listenerBase,
    probe,
  });
  rs.stack.addAppStage(srv);
  // The wire view: rx burst -> the reply's tx burst, per class (installed before any connection, for the ISNs).
  const wire = new PriorityWireTap(v["port"] as number, rs.stack.dev.mem, rs.stack.dev.dv, clock);
  rs.stack.netif.setBurstTap(wire);
  // The time between the starts of poll rounds: how often the stack receives while the app spins.
  let gaps = new RoundGaps(rs.stack.loop);
  rs.stack.addAppStage({ poll: (now) => gaps.poll(now), pollAt: () => Number.POSITIVE_INFINITY });
  const stallLog = new StallLog(rs.stack.loop, 1000, 4000, probe);
  rs.stack.addAppStage(stallLog);
  rs.stack.addAppStage(probe.last);
  rs.run();
  emit("ready", { priority, classes: rs.stack.classes });
  let stop = false;
  let census: { stop(who: string): void } | null = null;
  process.on("SIGTERM", () => (stop = true));
  for (;;) {
    const cmd = pollCommand();
    if (stop || cmd === "stop") break;
    if (cmd === "reset") {
      // The measured phase starts: forget the capacity phase.
      phaseMark("measured");
      startHelperSweep(sweep, rs.stack);
      if (census === null && HeapCensus.enabled()) census = censusTimer(new HeapCensus(), () => srv.served);
      srv.resetStats();
      wire.reset();
      stallLog.reset();
      gaps = new RoundGaps(rs.stack.loop);
    }
    await Bun.sleep(10);
  }
  phaseMark("end");
  census?.stop("server");
  const m = priority ? ep.tcp.messages() : null;
  await emitFlushed("stats", {
    ...srv.stats(),
    rounds: rs.stack.loop.rounds,
    wire: wire.summary(),
    helperSweep: sweepStats(sweep),
    roundGaps: gaps.summary(),
    stallLog: stallLog.rows(),
    express: m === null ? null : { in: m.expressIn, full: m.expressFull, ahead: m.aheadIn },
    tcp: { retransmits: ep.tcp.counters.retransmits, rtoTimeouts: ep.tcp.counters.rtoTimeouts, fastRetransmits: ep.tcp.counters.fastRetransmits },
    counters: counters(ep.tcp, rs.stack),
  });
  await rs.shutdown(null);
}

async function generator(v: Record<string, unknown>): Promise<void> {
  const host = v["host"] as string | undefined;
  if (host === undefined) throw new Error("--host is required for the generator");
  const rs = await startStack(v as never, TCP);
  rs.stack.rxBurstsPerRound = v["rx-bursts"] as number;
  const clock = rs.stack.loop.clock;
  const sweep = pin(v);
  const probe = new RoundProbe(rs.stack.loop, clock, rs.stack.netif.counters);
  rs.stack.loop.add(probe.start, true);
  rs.stack.addAppStage(probe.first);
  const gen = new LoadGen(clock, v["gen-spin"] === true ? null : microSleeper(), rs.sockets.tcp);
  rs.stack.addAppStage(gen);
  const gaps = new RoundGaps(rs.stack.loop);
  rs.stack.addAppStage(gaps);
  const stallLog = new StallLog(rs.stack.loop, 1000, 4000, probe);
  rs.stack.addAppStage(stallLog);
  rs.stack.addAppStage(probe.last);
  const tap = new GenHighTap(v["port"] as number, rs.stack.dev.mem, rs.stack.dev.dv, clock);
  rs.stack.netif.setBurstTap(tap);
  const dev = rs.stack.dev as { linkUp?: () => boolean };
  if (!(await waitFor(() => dev.linkUp?.() ?? true, 20_000, 5))) throw new Error("link not up after 20 s");
  emit("ready");

  const conns = v["conns"] as number;
  const t0 = clock();
  let failed = 0;
  // In batches, so the server's SYN queue and the device rings are not flooded (no SYN retransmits).
  for (let i = 0; i < conns; i++) {
    rs.sockets
      .connect<GenConn>({
        hostname: host, port: v["port"] as number, noDelay: true, zeroCopy: true, data: { part: new Uint8Array(MSG), len: 0 },
        socket: { open: (s) => void gen.socks.push(s), data: (s, d) => gen.reply(s, d) },
      })
      .catch(() => void failed++);
    if ((i + 1) % 128 === 0) await waitFor(() => gen.socks.length + failed >= i + 1, 10_000, 1);
  }
  await waitFor(() => gen.socks.length + failed >= conns, 60_000);
  if (gen.socks.length < conns) throw new Error(`only ${gen.socks.length} of ${conns} connections opened (${failed} failed)`);
  emit("connected", { conns, setupMs: (clock() - t0) / 1000 });

  // Capacity (and warm-up): closed loop with 200 messages in flight (the server saturated, no backlog
  // to drain), replies per second counted after the first 30 %.
  const serviceUs = v["service-us"] as number;
  const capS = v["cap-s"] as number;
  const cs = clock() + 20_000;
  gen.winFrom = cs + 0.3 * capS * 1e6;
  gen.winTo = cs + capS * 1e6;
  gen.startClosed(200, gen.winTo);
  await waitFor(() => gen.finished, capS * 1000 + 30_000);
  const capacity = Math.round(gen.inWindow / (0.7 * capS));

  const rate = (v["rate"] as number) > 0 ? (v["rate"] as number) : (v["ratio"] as number) * capacity;
  const bursts = v["bursts"] as number;
  const burstS = v["burst-s"] as number;
  const quietS = v["quiet-s"] as number;
  // Warm-up: bursts like the measured ones (both classes, the same rate), not counted, so the
  // JIT has compiled and tiered up every path of both processes before the measured phase.
  const warm = v["warmup-bursts"] as number;
  if (warm > 0) {
    gen.start(burstPlan(clock() + 20_000, rate, warm, burstS, quietS, v["high"] as number, (v["seed"] as number) + 1));
    await waitFor(() => gen.finished, warm * (burstS + quietS) * 1000 + 20_000);
  }
  emit("capacity", { capacity, nominal: Math.round(1e6 / serviceUs), warmupBursts: warm });

  // The orchestrator resets the server's statistics meanwhile.
  const ls = clock() + 250_000;
  const plan = burstPlan(ls, rate, bursts, burstS, quietS, v["high"] as number, v["seed"] as number);
  const gaps0 = gaps.summary();
  startHelperSweep(sweep, rs.stack);
  gen.start(plan);
  stallLog.reset();
  tap.stamps.reset();
  phaseMark("measured");
  const census = HeapCensus.enabled() ? censusTimer(new HeapCensus(), () => gen.replies) : null;
  const planS = bursts * (burstS + quietS);
  const done = await waitFor(() => gen.finished, planS * 1000 + 20_000);
  phaseMark("end");
  census?.stop("generator");
  const wallS = (clock() - ls) / 1e6;
  await emitFlushed("result", {
    // When the last reply came (wall us): the gaps after it (connections closing, the server's
    // statistics) are outside the measured traffic (bench/priority-gaps.ts gapReport).
    endWallUs: gen.lastReplyWallUs,
    rate, messages: gen.total, sleptMs: Math.round(gen.sleptUs / 1000), sleeper: v["gen-spin"] !== true, highMessages: plan.high.reduce((a, b) => a + b, 0), finished: done, wallS, ...gen.results(),
    unanswered: gen.total - gen.replies, leftovers: gen.leftovers(rs.tcp), roundGaps: gaps.summary(), roundGapsBeforeLoad: gaps0,
    slowHigh: gen.slow.rows(), slowHighOver: gen.slow.over, stallLog: stallLog.rows(),
    slowHighWire: tap.stamps.pick(gen.slow.rows().map((r) => r[6]!)),
    tcp: { retransmits: rs.tcp.counters.retransmits, rtoTimeouts: rs.tcp.counters.rtoTimeouts, fastRetransmits: rs.tcp.counters.fastRetransmits },
    counters: counters(rs.tcp, rs.stack),
    helperSweep: sweepStats(sweep),
  });
  await rs.shutdown();
}

async function main(): Promise<void> {
  // A stack thread runs at SCHED_OTHER whatever its parent ran at (a quiet orchestrator is SCHED_IDLE,
  // bench/priority-real.ts); threads started from here on (EAL's) inherit it.
  const why = setThreadPolicy(threadId(), SCHED_OTHER);
  if (why !== null && threadPolicy(threadId()) !== SCHED_OTHER) throw new Error(`cannot run at SCHED_OTHER: ${why}`);
  // The runtime's helper threads started before this line inherited the parent's policy too: back to
  // SCHED_OTHER for the warm-up (the measured phase's sweep puts them at SCHED_IDLE: startHelperSweep).
  releaseHelperThreads();
  const v = parseAppArgs(spec).values as Record<string, unknown>;
  if (v["role"] === "server") await server(v);
  else if (v["role"] === "generator") await generator(v);
  else throw new Error(`--role ${String(v["role"])}: expected server or generator`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    emit("error", { message: (e as Error)?.message ?? String(e) });
    process.exit(1);
  },
);
