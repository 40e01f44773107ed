/**
 * One iotep benchmark run, shared by bench/iotep and `npm start`: our stack
 * (iotepserver and mcc as two processes over net_memif, the server's pcap
 * paired by the wire monitor) and, if asked, the kernel baseline with the
 * same server and generator logic on Bun's kernel sockets; then one latency
 * table per class and view, the counts, and an HTML/JSON report.
 */
import { cpus, release, totalmem } from "node:os";
import { join } from "node:path";
import { runIotep, type IotepRunResult } from "./orchestrate";
import { formatSchedWindow } from "./cpu-sampler";
import type { Placement, RtTarget } from "./placement";
import { decodeHistogram, latencyTable, textTable, writeResults, type NamedHistogram, type WrittenResults } from "./results";

export interface IotepBenchOptions {
  conns: number;
  /** Kernel baseline connections (0: none). */
  kernelConns: number;
  epochS: number;
  ratio: number;
  msgLen: number;
  /** Seconds to open the connections (default conns / 4000, at least 2). */
  setupS?: number;
  waitS: number;
  warmupS: number;
  durationS: number;
  wire: boolean;
  /** The live wire view (iotepserver --monitor). */
  liveWire?: boolean;
  /** Extra flags for both stack processes. */
  stackFlags: string[];
  serverFlags?: string[];
  clientFlags?: string[];
  huge: boolean;
  outDir: string;
  redisSocket?: string;
  echo?: (line: string) => void;
  abort?: AbortSignal;
  /** Prefix of the progress lines ("bench iotep", "start"). */
  label: string;
  /** CPU placement of our stack's processes (placement.ts; default DEFAULT_PLACEMENT). */
  placement?: Placement;
  /** nice for our redis-server (default DEFAULT_REDIS_NICE; 0: unchanged). */
  redisNice?: number;
  /** Our stack's generator's send quantum, us (default DEFAULT_CLIENT_TICK_US). */
  clientTickUs?: number;
  /** Keep Bun's GC timer in iotepserver and mcc (default: off, BUN_GC_TIMER_DISABLE=1; orchestrate.ts). */
  gcTimer?: boolean;
  /** Keep Bun's allocator defaults in iotepserver and mcc (orchestrate.ts). */
  allocatorDefaults?: boolean;
  /** Keep the CPUs from halting during the runs (src/api/idle-poller.ts; default true). */
  idlePoller?: boolean;
  /** nice for our stack's mcc (default 0). */
  clientNice?: number;
  /** Processes under SCHED_FIFO (placement.ts; default none). */
  rt?: RtTarget[];
}

/**
 * Our stack's generator sends on a 1 ms schedule quantum (mcc --tick-us 1000),
 * as the kernel baseline's generator already does: the messages due within a
 * millisecond go out together at its end (~17 at 1 M connections / 60 s),
 * latency still counted from that scheduled time. The generator stands in for
 * remote devices (QStack's MCC runs on another machine, and sends in blocks
 * itself: -b connections per block); timing each message to the microsecond
 * keeps its poll loop spinning, and on a small machine that core is taken
 * from the server and Redis under test. Measured at 1 M connections (bench
 * iotep --conns 1000000 --setup 15 --duration 30 --huge --breakdown, busy
 * machine): mcc 0.87 -> 0.19 of a core, the server's wait for a CPU in the
 * measured 30 s 10.8 -> 2.1 s, wire request p99 10.6 -> 3.8 ms.
 */
export const DEFAULT_CLIENT_TICK_US = 1000;

/**
 * No pinning by default: measured at 1 M connections on this 2-core machine
 * shared with other work (bench iotep --conns 1000000 --setup 15 --duration 30
 * --huge --breakdown --client-args "--tick-us 1000", load average 3-5 from
 * other jobs), "split" left the server waiting for CPU 0 76 % of the measured
 * time (other processes still run there, and a pinned thread cannot move to
 * the idle core) against 10 % floating; wire request p99 67 ms against 4 ms.
 * Pinning pays only where the cores are the server's alone (QStack's setup).
 */
export const DEFAULT_PLACEMENT: Placement = "none";

/**
 * SCHED_FIFO 1 for iotepserver and redis-server by default (as root; --rt none
 * turns it off): the stack thread and its Redis are on every request's path
 * and, on a few cores shared with other work, their wait for a CPU is the 1 M
 * tail's main cause. Neither spins (the server runs with --idle-spin-us 0,
 * Redis sleeps in epoll) and RT throttling leaves normal tasks their share.
 * Measured (bench iotep --conns 1000000 --setup 60 --epoch 60 --kernel-conns 0
 * --huge --breakdown, this 2-core machine shared with other jobs): without it
 * (earlier session) the server waited for a CPU 7-41 % of the measured time,
 * wire request p99 2.3-73 ms; with it 0.2-0.3 %, wire p99 1.32, 1.25, 1.25 ms
 * in three runs, no message lost.
 * It was off for a while because runs with it lost messages (14,442 in one):
 * mcc, left with less CPU, fell behind on ACKs, its stack's shared buffer pool
 * ran out, and a send cut short by an empty pool was never told Writable (a
 * TCP bug, fixed in src/tcp/pool-wait.ts; mcc.json now reports the pool).
 * --rt redis,server,client (mcc's main thread FIFO too: mcc --fifo) avoids the
 * pool running out (no refusals, RTOs 0-75) but the three then share the
 * CPUs at one priority: wire p99 1.65, 1.59, 1.93 ms in three runs, the
 * server waiting 0.9-1.2 %; so mcc stays a normal task.
 * The server runs as `chrt -f -R 1` (placement.ts): only its main thread is
 * FIFO, the threads it starts are normal. With requests on their own Redis
 * connection (store-script.ts), same command, three runs each: every server
 * thread FIFO, wire request p99 0.989, 0.910, 1.083 ms, redis-server waiting
 * 0.6-1.0 % for a CPU; main thread only, 0.701, 0.816, 0.699 ms, Redis
 * waiting 0.0 %. The price: the server's helper threads now wait for a CPU
 * behind mcc, and gaps over 10 ms between poll rounds rose from 34-39 to
 * 74-92 per run (the longest 793 ms).
 */
export const DEFAULT_RT: RtTarget[] = ["redis", "server"];
export const DEFAULT_REDIS_NICE = 0;

export interface IotepBenchResult {
  ours: IotepRunResult;
  kernel: IotepRunResult | null;
  report: WrittenResults;
  /** Wire request p99 of our stack, us (undefined without the wire view). */
  wireP99Us: number | undefined;
}

export function machineInfo(): { cpu: string; cores: number; memGiB: number; kernel: string; bun: string; commit: string } {
  const p = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: join(import.meta.dir, "..", "..") });
  const commit = p.exitCode === 0 ? p.stdout.toString().trim() : "unknown";
  return { cpu: cpus()[0]?.model ?? "?", cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), kernel: release(), bun: Bun.version, commit };
}

function series(r: IotepRunResult, side: string): NamedHistogram[] {
  const out: NamedHistogram[] = [];
  const add = (name: string, b64: string | undefined): void => {
    if (b64 !== undefined) out.push({ name: `${side} ${name}`, h: decodeHistogram(b64) });
  };
  add("client request", r.client.histograms?.["request (client)"]);
  if (r.wire !== null) add(r.wireLive !== null ? "wire request (pcap)" : "wire request", r.wire.histograms?.["request (wire)"]);
  if (r.wireLive !== null) add(r.wire !== null ? "wire request (live)" : "wire request", r.wireLive.histograms?.["request (wire)"]);
  add("server request", r.server.histograms?.request);
  add("server heartbeat", r.server.histograms?.heartbeat);
  return out;
}

/** One line of mcc's end-of-run stack report (mcc.json stack.atEnd / afterShutdown). */
function mccStackLine(s: Record<string, any>): string {
  const t = s.tcp ?? {};
  const q = s.txQueues ?? {};
  return (
    `${s.sendQueuedBytes} bytes in send buffers on ${s.connsWithQueued} connections, ${s.pendingWriteBytes} waiting to enter them; ` +
    (s.pool != null ? `buffer pool ${s.pool.available}/${s.pool.chunks} chunks free, ${s.pool.allocFailures} refusals, ${t.sndPoolWaits} sends cut short, ${t.sndPoolWakeups} woken; ` : "") +
    `retransmits ${t.retransmits} (RTOs ${t.rtoTimeouts}), connection timeouts ${t.connTimeouts}, resets ${t.resets} (RSTs in ${t.rstsReceived}, out ${t.rstsSent}); ` +
    `tx dropped ${q.dropped}, refused ${q.refused}, deferred ${q.deferred}` +
    (s.device != null ? `; device oerrors ${s.device.oerrors}, imissed ${s.device.imissed}, rxNoBuf ${s.device.rxNoBuf}` : "")
  );
}

function counts(r: IotepRunResult) {
  return {
    connections: r.client.counters.connected,
    sent: r.client.counters.sent,
    requests: r.client.counters.sentRequests,
    replies: r.client.counters.replies,
    unanswered: r.client.counters.unanswered,
    serverMessages: r.server.counters.messages,
    serverFailed: r.server.counters.failedRequests + r.server.counters.failedHeartbeats,
    serverPeakRssMiB: Math.round((r.server.memory?.peakRssBytes ?? 0) / 2 ** 20),
    serverBytesPerConn: r.server.memory?.bytesPerConnection ?? null,
  };
}

export async function runIotepBench(o: IotepBenchOptions): Promise<IotepBenchResult> {
  const machine = machineInfo();
  const setupFor = (c: number): number => o.setupS ?? Math.max(2, Math.ceil(c / 4000));
  const common = { gcTimer: o.gcTimer === true, allocatorDefaults: o.allocatorDefaults === true, idlePoller: o.idlePoller !== false, waitS: o.waitS, epochS: o.epochS, warmupS: o.warmupS, durationS: o.durationS, ratio: o.ratio, msgLen: o.msgLen, redisSocket: o.redisSocket, abort: o.abort, echo: o.echo };
  const params = { conns: o.conns, kernelConns: o.kernelConns, waitS: o.waitS, epochS: o.epochS, warmupS: o.warmupS, durationS: o.durationS, ratio: o.ratio, msgLen: o.msgLen, setupS: setupFor(o.conns), perSecond: Math.ceil(o.conns / o.epochS), wire: o.wire, liveWire: o.liveWire === true, huge: o.huge, stackArgs: o.stackFlags.join(" "), placement: o.placement ?? DEFAULT_PLACEMENT, redisNice: o.redisNice ?? DEFAULT_REDIS_NICE, clientTickUs: o.clientTickUs ?? DEFAULT_CLIENT_TICK_US, clientNice: o.clientNice ?? 0, rt: (o.rt ?? DEFAULT_RT).join(",") || "none", gcTimer: o.gcTimer === true, allocatorDefaults: o.allocatorDefaults === true, idlePoller: o.idlePoller !== false };
  console.log(`${o.label}: ${machine.cpu} x${machine.cores}, ${machine.memGiB} GiB, Linux ${machine.kernel}, Bun ${machine.bun}, commit ${machine.commit}`);
  console.log(`${o.label}: ${JSON.stringify(params)}`);
  if ((o.rt ?? DEFAULT_RT).join(",") === DEFAULT_RT.join(",") && DEFAULT_RT.length > 0) {
    console.log(`${o.label}: redis-server and iotepserver run at SCHED_FIFO 1 (default, as root): they are on every request's path and would otherwise wait for a CPU behind other work; --rt none turns it off`);
  }
  console.log(`${o.label}: our stack, ${o.conns} connections (setup ${setupFor(o.conns)} s, wait ${o.waitS} s, warm-up ${o.warmupS} s, measured ${o.durationS} s) ...`);
  const ours = await runIotep({
    transport: "qstack",
    conns: o.conns,
    ...common,
    setupS: setupFor(o.conns),
    wire: o.wire,
    liveWire: o.liveWire,
    stackFlags: o.stackFlags,
    serverFlags: o.serverFlags,
    clientFlags: o.clientFlags,
    huge: o.huge,
    outDir: join(o.outDir, "qstack"),
    placement: o.placement ?? DEFAULT_PLACEMENT,
    redisNice: o.redisNice ?? DEFAULT_REDIS_NICE,
    clientTickUs: o.clientTickUs ?? DEFAULT_CLIENT_TICK_US,
    clientNice: o.clientNice ?? 0,
    rt: o.rt ?? DEFAULT_RT,
  });
  let kernel: IotepRunResult | null = null;
  if (o.kernelConns > 0) {
    console.log(`${o.label}: kernel sockets, ${o.kernelConns} connections ...`);
    kernel = await runIotep({ transport: "kernel", conns: o.kernelConns, ...common, setupS: setupFor(o.kernelConns), wire: false, outDir: join(o.outDir, "kernel") });
  }

  const all = [...series(ours, "qstack"), ...(kernel ? series(kernel, "kernel") : [])];
  console.log("");
  console.log(textTable(latencyTable("iotep latency (ms)", all)));
  const p99 = (r: IotepRunResult | null): number => r?.client.latencyUs?.["request (client)"]?.p99Us ?? 0;
  const ratio = kernel && p99(ours) > 0 ? p99(kernel) / p99(ours) : null;
  console.log("");
  console.log(`qstack: ${JSON.stringify(counts(ours))}`);
  if (kernel) console.log(`kernel: ${JSON.stringify(counts(kernel))}`);
  const gaps = ours.server.stack?.pollGaps;
  if (gaps !== undefined) {
    console.log(
      `qstack server: gaps between poll rounds p99 ${gaps.p99Us} us, max ${(gaps.maxUs / 1000).toFixed(1)} ms, ${gaps.over2ms} over 2 ms, ${gaps.over10ms} over 10 ms; ` +
        `${gaps.stalls ?? "?"} stalls without an idle sleep totalling ${gaps.stallMs ?? "?"} ms (${gaps.stallRunQueueMs ?? "?"} ms waiting for a CPU); main thread waited ${ours.server.stack?.runQueueWaitMs ?? "?"} ms for a CPU in all (whole process: setup and shutdown included)`,
    );
  }
  const mg = ours.server.stack?.pollGapsMeasured;
  if (mg !== undefined) {
    console.log(
      `qstack server, measured part only (${mg.windowS} s): gaps between poll rounds p99 ${mg.p99Us} us, p99.9 ${mg.p999Us} us, max ${(mg.maxGapUs / 1000).toFixed(1)} ms (${mg.maxAtS} s in), ` +
        `${mg.over2ms} over 2 ms, ${mg.over10ms} over 10 ms; ${mg.stalls} stalls without an idle sleep totalling ${mg.stallMs} ms (${mg.stallRunQueueMs} ms waiting for a CPU)`,
    );
  }
  const bd = ours.server.breakdownUs;
  if (bd !== undefined) {
    const f = (x: { p50Us: number; p99Us: number; p999Us: number }): string => `p50 ${(x.p50Us / 1000).toFixed(3)} p99 ${(x.p99Us / 1000).toFixed(3)} p99.9 ${(x.p999Us / 1000).toFixed(3)} ms`;
    console.log(`qstack server requests: queue ${f(bd.queue)}; wait until written to Redis' socket ${f(bd.flush)}; Redis ${f(bd.redis)}`);
    if (bd.ahead !== undefined) {
      const n = (x: { count: number; p50Us: number; p99Us: number; maxUs: number }): string => `n=${x.count} p50 ${x.p50Us} p99 ${x.p99Us} max ${x.maxUs}`;
      console.log(`qstack server requests: Redis with nothing ahead ${f(bd.redisAlone)}; messages in Redis ahead of a request: all ${n(bd.ahead)}, slow ones (Redis > 1 ms) ${n(bd.aheadSlow)}`);
    }
  }
  // mcc's own stack at the end of the run (mcc.ts stackEnd): are unanswered messages late (still queued) or lost?
  const cs = ours.client.stack;
  if (cs?.atEnd != null) console.log(`qstack mcc stack when the run ended: ${mccStackLine(cs.atEnd)}`);
  if (cs?.afterShutdown != null) console.log(`qstack mcc stack after shutdown: ${mccStackLine(cs.afterShutdown)}; ${JSON.stringify(cs.afterShutdown.shutdown)}`);
  const st = ours.server.stack?.tcp;
  if (st !== undefined) console.log(`qstack server stack: retransmits ${st.retransmits} (RTOs ${st.rtoTimeouts}), resets ${st.resets} (RSTs in ${st.rstsReceived}, out ${st.rstsSent}), rcvBufFull ${st.rcvBufFull}, outOfWindow ${st.outOfWindow}; tx dropped ${ours.server.stack?.net?.txDeviceDropped}`);
  console.log(`qstack: ${ours.placement}`);
  if (ours.sched !== null) {
    for (const l of formatSchedWindow(ours.sched.measured)) console.log(`qstack measured part, ${l}`);
    const steal = ours.sched.measuredSteal;
    const poller = ours.idlePollerCpus > 0 ? `idle poller on ${ours.idlePollerCpus} CPUs` : "no idle poller";
    if (steal !== null) console.log(`qstack measured part, the hypervisor's steal: ${(steal.share * 100).toFixed(2)} % of the CPU time (${steal.ms} ms over all CPUs; ${poller})`);
    for (const l of formatSchedWindow(ours.sched.setup)) console.log(`qstack setup, ${l}`);
  }
  const rs = ours.redisStats;
  if (rs !== null) {
    const cmds = Object.entries(rs.commands)
      .filter(([, x]) => x.calls >= 10)
      .map(([k, x]) => `${k} ${x.calls} calls ${x.usecPerCall} us/call`)
      .join(", ");
    const lat = rs.latency.map((e) => `${e.event} latest ${e.latestMs} ms max ${e.maxMs} ms`).join(", ");
    console.log(`qstack redis-server (measured part): ${cmds || "no commands"}; events over 1 ms: ${lat || "none"}`);
  }
  if (ratio !== null) console.log(`client request p99, kernel / ours: ${ratio.toFixed(2)}x (${o.kernelConns} vs ${o.conns} connections)`);
  // The live view when there is one (no pcap writing in the server's path), else the pcap's.
  const wireP99Us = (ours.wireLive ?? ours.wire)?.latencyUs?.["request (wire)"]?.p99Us as number | undefined;
  if (ours.wire !== null && ours.wireLive !== null) {
    const a = ours.wire.counters;
    const b = ours.wireLive.counters;
    console.log(`wire views: pcap ${a.requests} requests, ${a.replies} replies, ${a.paired} paired; live ${b.requests} requests, ${b.replies} replies, ${b.paired} paired`);
  }
  console.log(
    `target: 1,000,000 connections with wire request p99 <= 1 ms; this run: ${ours.client.counters.connected} connections, wire p99 ${wireP99Us !== undefined ? (wireP99Us / 1000).toFixed(3) + " ms" : "not measured"}`,
  );
  const report = writeResults({
    dir: o.outDir,
    base: "iotep",
    title: `iotep: QStack for Bun (${o.conns} connections)${kernel ? ` vs kernel sockets (${o.kernelConns})` : ""}`,
    subtitle: `${machine.cpu} x${machine.cores}, Bun ${machine.bun}, commit ${machine.commit}`,
    params: { ...params, ...machine },
    series: all,
    tables: [
      {
        caption: "Counts",
        header: ["side", "connections", "sent", "requests", "replies", "unanswered", "server failed", "server peak RSS MiB", "server B/conn"],
        rows: [["qstack", ...Object.values(counts(ours))], ...(kernel ? [["kernel", ...Object.values(counts(kernel))]] : [])],
      },
    ],
    notes: [
      "client request: round trip at the generator from the scheduled send time (coordinated omission corrected); wire request: request frame to reply frame at the server's rx/tx bursts (pcap: from the recorded capture; live: paired inside the server as the bursts happen); server: arrival to completion inside the server, per class.",
      "Heartbeats get no reply, so only the server sees their latency.",
    ],
    json: {
      machine,
      ours: {
        counts: counts(ours),
        server: ours.server.counters,
        serverStack: ours.server.stack ?? null,
        wireP99Us: wireP99Us ?? null,
        wireCounters: { pcap: ours.wire?.counters ?? null, live: ours.wireLive?.counters ?? null },
        breakdownUs: ours.server.breakdownUs ?? null,
        placement: ours.placement,
        sched: ours.sched,
        redis: ours.redisStats,
      },
      kernel: kernel ? { counts: counts(kernel), server: kernel.server.counters } : null,
      ratioKernelOverOursP99: ratio,
    },
    cdfInfo: { connections: o.conns, kernel_connections: o.kernelConns },
  });
  return { ours, kernel, report, wireP99Us };
}
