/**
 * What every app shares: flag parsing with --help, one-line configuration
 * errors with exit code 2, and a clean stop on SIGINT/SIGTERM.
 */
import { startIdlePoller, type IdlePoller } from "../src/api/idle-poller";
import { parseProgramArgs, STACK_FLAGS, type FlagSpec, type ParsedArgs } from "../src/api/cli";
import { ConfigError, EXIT_CONFIG } from "../src/api/errors";
import { openDevice } from "../src/api/open-device";
import { Stack } from "../src/api/stack";
import { classifierFromSpec } from "../src/api/classifier-spec";
import { Classifier, synLowClassifier } from "../src/sched/classifier";
import { SynAdmission, type SynAdmissionOptions } from "../src/sched/syn-admission";
import { prewarmFloodPaths } from "../src/api/prewarm";
import { checkCapacity, planCapacity, readMemoryInfo, regionMemory, type CapacityPlan } from "../src/api/capacity";
import { stackConfigFrom, type StackConfig } from "../src/api/stack-config";
import { TcpSockets } from "../src/api/tcp-sockets";
import type { TcpConfig } from "../src/tcp/config";
import { TcpState } from "../src/tcp/state";
import type { TcpLayer } from "../src/tcp/tcp-layer";
import { Logger } from "../src/api/log";
import { StackMetrics, startMetricsServer, type MetricsServer } from "../src/api/metrics";
import { StatusLine } from "../src/api/status-line";
import { formatIpv4 } from "../src/wire/ip-addr";
import { cpuFor, parseLayout, type ThreadLayout } from "../src/api/layout";
import type { MemoryProvider } from "../src/mem/carve";
import type { Device } from "../src/net/device";
import { pinThread } from "../src/sched/split/affinity";
import { cpuYieldFn } from "../ffi/cpu-yield";
import { allocRegion, freeRegion } from "../ffi/region";
import type { SynRetryMemory } from "../src/sched/syn-retry-filter";

export interface AppSpec {
  name: string;
  usage: string;
  about: string;
  flags: FlagSpec[];
  /** Include the common stack flags (default true). */
  stackFlags?: boolean;
}

/**
 * The app's flags (with the stack flags unless stackFlags is false): --help
 * prints the help and exits 0; a bad flag or value prints one line
 * `NAME: problem` and exits 2 (src/api/cli.ts parseProgramArgs).
 */
export function parseAppArgs(spec: AppSpec, argv = process.argv.slice(2)): ParsedArgs {
  const flags = spec.stackFlags === false ? spec.flags : [...STACK_FLAGS, ...spec.flags];
  return parseProgramArgs({ name: spec.name, usage: spec.usage, about: spec.about, flags }, argv);
}

/** Run an app's main; ConfigError -> one line on stderr and exit 2. */
export function runMain(name: string, main: () => Promise<number | void>): void {
  main().then(
    (code) => process.exit(typeof code === "number" ? code : 0),
    (e: unknown) => {
      if (e instanceof ConfigError) {
        console.error(`${name}: ${e.message}`);
        process.exit(EXIT_CONFIG);
      }
      const err = e as Error;
      console.error(`${name}: ${err?.message ?? String(e)}`);
      if (process.env.QSTACK_DEBUG) console.error(err?.stack);
      process.exit(1);
    },
  );
}

/** Resolve when SIGINT or SIGTERM arrives (once). */
export function onStopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const h = (sig: string) => {
      process.off("SIGINT", h);
      process.off("SIGTERM", h);
      resolve(sig);
    };
    process.on("SIGINT", h);
    process.on("SIGTERM", h);
  });
}

export interface RunningStack {
  cfg: StackConfig;
  stack: Stack;
  /** The sockets API; undefined when StartOptions.transport built the TCP layer instead (split mode). */
  sockets: TcpSockets;
  /** The TCP layer the stack runs. */
  tcp: TcpLayer;
  /** The capacity the stack was sized for (--max-conns, --buf-mb) and the memory it took. */
  capacity: CapacityPlan;
  /** Bytes of stack memory regions taken (tables + buffers) and how many of them are hugepages. */
  regionBytes: number;
  hugeRegionBytes: number;
  /** Resolves when the poll loop has stopped. */
  loop: Promise<void>;
  /** Structured logger (--log-level, --log-format). */
  log: Logger;
  /** The Prometheus endpoint (--metrics-port), or null. */
  metrics: MetricsServer | null;
  /** The live status line (on terminals unless --status=false), or null. */
  status: StatusLine | null;
  /**
   * Graceful stop (--shutdown drain|reset, --shutdown-timeout-ms): stop accepting,
   * drain or reset the connections, stop the loop, flush the pcap, stop the
   * metrics endpoint and release the device. Idempotent.
   */
  shutdown(reason?: string): Promise<ShutdownReport>;
}

export interface ShutdownReport {
  mode: "drain" | "reset";
  /** Connections that finished cleanly (FIN exchanged, data acknowledged). */
  drained: number;
  /** Connections reset (reset mode, or left over when the drain timed out). */
  reset: number;
  timedOut: boolean;
  durationMs: number;
}

/** States in which a connection still has something to deliver or acknowledge. */
function busyState(s: number): boolean {
  return s === TcpState.Established || s === TcpState.CloseWait || s === TcpState.FinWait1 || s === TcpState.Closing ||
    s === TcpState.LastAck || s === TcpState.SynSent || s === TcpState.SynReceived;
}

/**
 * Stop accepting, then drain (half-close every open connection and wait until
 * each has its data and FIN acknowledged) or reset; connections still busy at
 * the deadline are reset. The poll loop keeps running meanwhile.
 */
export async function drainConnections(tcp: TcpLayer, mode: "drain" | "reset", timeoutMs: number): Promise<ShutdownReport> {
  const t0 = Date.now();
  for (let l = 0; l < tcp.cfg.maxListeners; l++) if (tcp.listeners.isOpen(l)) tcp.closeListener(l);
  const n = tcp.cfg.maxConnections;
  const open: number[] = [];
  for (let c = 0; c < n; c++) if (tcp.conns.isUsed(c) && busyState(tcp.state(c))) open.push(c);
  let reset = 0;
  let timedOut = false;
  if (mode === "drain") {
    for (const c of open) if (tcp.state(c) === TcpState.Established || tcp.state(c) === TcpState.CloseWait) tcp.shutdown(c);
    const deadline = t0 + timeoutMs;
    while (open.some((c) => tcp.conns.isUsed(c) && busyState(tcp.state(c)))) {
      if (Date.now() >= deadline) {
        timedOut = true;
        break;
      }
      await Bun.sleep(2);
    }
  }
  for (const c of open) {
    if (tcp.conns.isUsed(c) && busyState(tcp.state(c))) {
      tcp.abort(c);
      reset++;
    }
  }
  // Give the loop a round to put the last segments (FIN-ACKs, RSTs) on the wire.
  await Bun.sleep(5);
  return { mode, drained: open.length - reset, reset, timedOut, durationMs: Date.now() - t0 };
}

/** The --layout flag's value, parsed (ConfigError on a bad spec); "rtc" when the app does not take the flag. */
export function layoutFrom(values: ParsedArgs["values"]): ThreadLayout {
  const v = values["layout"];
  return parseLayout(typeof v === "string" ? v : "rtc");
}

export interface StartOptions {
  /** Build the TCP layer instead of the sockets API (split mode: a StackBridge). */
  transport?: (stack: Stack, tcp: TcpConfig, memory: MemoryProvider) => TcpLayer;
  /** Pin the stack thread to this CPU after the device is up (the layout's stack CPU); -1: leave it. */
  pinCpu?: number;
  /** Open the device instead of openDevice(cfg) (--layout stack=N: a queue of a shared port). */
  openDevice?: (cfg: StackConfig) => Promise<Device>;
}

/** The CPU the stack thread is pinned to under `layout`, or -1. */
export function stackCpu(layout: ThreadLayout): number {
  return layout.mode === "rtc" ? cpuFor(layout, 0) : cpuFor(layout.stack, 0);
}

/**
 * The part of bring-up every stack app shares: the flags' device, the capacity
 * plan checked against free memory, the region memory for TCP's tables, and a
 * Stack (not yet polling) with the classifier the flags name.
 */
export async function bringUpStack(values: ParsedArgs["values"], tcp: Partial<TcpConfig>, open: (cfg: StackConfig) => Promise<Device> = openDevice) {
  const cfg = stackConfigFrom(values);
  const plan = planCapacity(cfg.capacity, { mtu: cfg.mtu, ...tcp });
  const dev = await open(cfg);
  // Checked after EAL took its own hugepages, against what is left (src/api/capacity.ts).
  try {
    checkCapacity(plan, readMemoryInfo());
  } catch (e) {
    dev.close();
    throw e;
  }
  const mem = await regionMemory(cfg.noHuge);
  const stack = new Stack(dev, { ip: cfg.ip, prefixLen: cfg.prefixLen, gateway: cfg.gateway }, { busyPoll: cfg.busyPoll, idleSpinUs: cfg.idleSpinUs, yieldCpu: cfg.idleYield ? cpuYieldFn() : null });
  const spec = cfg.classify !== null ? classifierFromSpec(cfg.classify) : null;
  const synOptions: SynAdmissionOptions = { perBurst: (values["syn-budget"] as number | undefined) ?? -1, ratePerSec: (values["syn-rate"] as number | undefined) ?? 0 };
  // The stack's shed-SYN filter table on 2 MB pages (synRetryMemory); the JIT prewarm's private admission
  // (synOptions, src/api/prewarm.ts) gets a small heap table, dropped with it.
  const admission = new SynAdmission({ ...synOptions, retry: { memory: synRetryMemory(cfg.noHuge) } });
  // Shedding configured: its table is taken and faulted in now and kept, so a flood's first bursts do
  // not fault 32 pages (SynRetryFilter.reserve) and a machine short of memory says so at start.
  if (admission.active()) admission.retryFilter?.reserve();
  if (admission.active()) {
    // Bare SYNs in the lowest class, shed over the bounds (synFloodFlags).
    stack.setClassifier(new Classifier({ classes: 2, fn: synLowClassifier(1, 0, spec?.fn ?? null), admission }));
  } else if (spec !== null) stack.setClassifier(spec);
  let poller: IdlePoller | null = null;
  if (cfg.idlePoller) {
    const p = await startIdlePoller();
    if ("unavailable" in p) {
      dev.close();
      throw new ConfigError(`--idle-poller: ${p.unavailable}`);
    }
    poller = p;
  }
  return { cfg, plan, dev, mem, stack, admission, synOptions, poller };
}

/**
 * The shed-SYN filter's table (src/sched/syn-retry-filter.ts, 64 MiB, taken at
 * start-up when shedding is configured) on 2 MB pages: 32 page faults instead of
 * 16,384 (measured here: ~50 ms of page faults in the first 200,000 shed SYNs on
 * 4 KiB pages when the table was taken at the first shed SYN).
 */
function synRetryMemory(noHuge: boolean): SynRetryMemory {
  return { alloc: (bytes) => allocRegion("syn-retry", bytes, { huge: !noHuge }), free: freeRegion };
}

/** Open the device the flags name, bring the stack and TCP up, and start polling. */
export async function startStack(values: ParsedArgs["values"], tcp: Partial<TcpConfig> = {}, opts: StartOptions = {}): Promise<RunningStack> {
  const { cfg, plan, dev, mem, stack, admission, synOptions, poller } = await bringUpStack(values, tcp, opts.openDevice);
  // EAL may have pinned this thread (-l 0); the layout's CPU, if any, is set after it.
  if (opts.pinCpu !== undefined && opts.pinCpu >= 0) {
    const why = pinThread(opts.pinCpu);
    if (why !== null) throw new ConfigError(`--layout: cannot pin the stack thread to CPU ${opts.pinCpu} (${why})`);
  }
  const sockets = opts.transport === undefined ? new TcpSockets(stack, plan.tcp, { memory: mem.provider }) : (undefined as unknown as TcpSockets);
  const tcpLayer = opts.transport === undefined ? sockets.tcp : opts.transport(stack, plan.tcp, mem.provider);
  // Known sources (syn-admission.ts): completed passive opens let their addresses past the SYN bounds later.
  if (admission.active()) tcpLayer.onPassiveOpen = (ip, nowUs) => admission.noteKnown(ip, nowUs);
  const ops = cfg.ops;
  const log = new Logger({ level: ops.logLevel, format: ops.logFormat });
  const prewarm = (values["syn-prewarm"] as number | undefined) ?? 0;
  if (admission.active() && prewarm > 0) {
    // Before the loop runs: a first flood meets compiled shed and cookie paths (src/api/prewarm.ts).
    // Its filter: 2^12 blocks (1 MiB of heap; the same code as the stack's 64 MiB one, faulted in far faster).
    const r = prewarmFloodPaths({ tcp: plan.tcp, admission: { ...synOptions, retry: { blocks: 1 << 12 } }, syns: prewarm });
    log.info("SYN flood paths warmed", { syns: r.syns, shed: r.shed, cookies: r.cookies, retry: r.retry, known: r.known, ms: r.ms });
  }
  const loop = stack.run();
  let metrics: MetricsServer | null = null;
  if (ops.metricsPort !== null) {
    const sm = new StackMetrics({
      net: stack.netif.counters,
      tcp: tcpLayer.counters,
      device: dev,
      gauges: {
        tcp_connections: { help: "TCP connections allocated (any state)", value: () => tcpLayer.connectionsInUse() },
        tcp_buffer_chunks_in_use: { help: "send/receive buffer chunks held", value: () => tcpLayer.chunksInUse() },
        arp_pending_frames: { help: "frames waiting for ARP resolution", value: () => stack.netif.arp.pending() },
        // SYN admission under a flood (syn-admission.ts): bare SYNs let past the bounds, by reason (monotonic).
        ...(admission.active()
          ? {
              syn_admitted_known: { help: "bare SYNs admitted past the flood bounds: source completed a handshake lately", value: () => admission.knownAdmitted },
              syn_admitted_retry: { help: "bare SYNs admitted past the flood bounds: retransmission of a shed SYN", value: () => admission.retryAdmitted },
            }
          : {}),
      },
    });
    metrics = startMetricsServer(sm, { port: ops.metricsPort, hostname: ops.metricsHost });
    log.info("metrics endpoint up", { url: metrics.url });
  }
  let status: StatusLine | null = null;
  if (ops.statusLine && process.stderr.isTTY) {
    status = new StatusLine({ net: stack.netif.counters, tcp: tcpLayer.counters, device: dev, connections: () => tcpLayer.connectionsInUse() });
    status.start();
  }
  log.debug("stack up", { dev: dev.caps.name, ip: formatIpv4(cfg.ip), prefixLen: cfg.prefixLen, maxConns: plan.tcp.maxConnections });
  let closing: Promise<ShutdownReport> | null = null;
  return {
    cfg,
    stack,
    sockets,
    tcp: tcpLayer,
    capacity: plan,
    regionBytes: mem.bytes(),
    hugeRegionBytes: mem.hugeBytes(),
    loop,
    log,
    metrics,
    status,
    shutdown(reason = "shutdown") {
      if (closing !== null) return closing;
      closing = (async () => {
        status?.stop();
        log.info("stopping", { reason, mode: ops.shutdown, timeoutMs: ops.shutdownTimeoutMs });
        const rep = await drainConnections(tcpLayer, ops.shutdown, ops.shutdownTimeoutMs);
        await stack.stop();
        await loop;
        const c = stack.netif.counters;
        // Closing the device flushes the pcap file and releases the DPDK port.
        stack.close();
        if (metrics !== null) await metrics.stop();
        await poller?.stop();
        log.info("stopped", {
          reason, mode: rep.mode, drained: rep.drained, reset: rep.reset, timedOut: rep.timedOut, ms: rep.durationMs,
          rxFrames: c.rxFrames, txFrames: c.txFrames, drops: c.totalDrops(),
        });
        return rep;
      })();
      return closing;
    },
  };
}
