/**
 * iotepserver: QStack's IoT endpoint benchmark server (DESIGN.md "iotep
 * workload"). Serves fixed-length messages on --port; per message three Redis
 * commands keyed by the connection id; requests (byte 5 = 0x01) get the
 * 146-byte reply, heartbeats get nothing. Requests go first at every stage.
 *
 *   bun run iotepserver --vdev net_memif0,... --ip 10.0.0.1/24 --redis-socket /run/redis.sock
 *   bun run iotepserver --kernel --port 8080 --redis-socket /tmp/redis.sock     (Bun.listen baseline)
 *
 * --monitor DIR (our stack): the wire monitor's live mode, pairing request and
 * reply frames per flow at the server's rx/tx bursts as they happen
 * (apps/iotep/wire-live.ts); DIR gets monitor.json, cdf.txt and monitor.html
 * at exit, as `bun run monitor --read` writes them from a pcap.
 *
 * Ctrl+C (or SIGTERM, or --duration) stops accepting, lets the messages in
 * Redis finish (up to 2 s), closes connections and Redis, prints the final
 * counters, and writes --stats-json if asked.
 */
import { writeFileSync } from "node:fs";
import { ConfigError } from "../src/api/errors";
import { runtimeEnvNote } from "../src/api/runtime-env";
import { formatIpv4 } from "../src/wire/ip-addr";
import { TcpEpoll } from "../src/api/tcp-epoll";
import { onStopSignal, parseAppArgs, runMain } from "./common";
import { EpollServer } from "./iotep/epoll-server";
import { startIdStack, type IdStack } from "./iotep/id-stack";
import { heapStats } from "bun:jsc";
import { threadCpuClock } from "../ffi/thread-cpu";
import { GapWindow, RoundGaps, runQueueWaitUs, threadSliceSince } from "./iotep/round-gaps";
import { LiveWireTap } from "./iotep/wire-live";
import { writeWireReport } from "./iotep/wire-report";
import { formatSummary, summarize } from "./iotep/latency";
import { DEFAULT_MSG_LEN, MAX_MSG_LEN, MIN_MSG_LEN } from "./iotep/protocol";
import { encodeHistogram } from "./iotep/results";
import { IotepServer } from "./iotep/server";
import { SLOW_REDIS_US } from "./iotep/breakdown";
import { serveOnKernel, type ServedHandle } from "./iotep/server-transports";
import { RedisClusterStore, RedisDbStore, parseClusterNodes, type IotepStore } from "./iotep/store";
import { DEFAULT_HEARTBEAT_BATCH, RedisClusterScriptStore, RedisScriptStore } from "./iotep/store-script";

const spec = {
  name: "iotepserver",
  usage: "bun run iotepserver [stack flags | --kernel] [--port N] [-l LEN] [--redis-socket PATH | --redis HOST:PORT | --redis-cluster HOST:PORT,...]",
  about: "QStack's iotep benchmark server: fixed-length messages, three Redis commands each, 146-byte replies to requests (high priority first).",
  flags: [
    { name: "port", short: "p", type: "int" as const, arg: "N", default: 80, min: 0, max: 65535, help: "TCP port (0 with --kernel: any free port)" },
    { name: "ports", type: "int" as const, arg: "N", default: 1, min: 1, max: 1024, help: "listen on N consecutive ports from --port (more client connections per client address)" },
    { name: "length", short: "l", type: "int" as const, arg: "LEN", default: DEFAULT_MSG_LEN, min: MIN_MSG_LEN, max: MAX_MSG_LEN, help: "message length in bytes" },
    { name: "redis-socket", type: "string" as const, arg: "PATH", help: "local redis-server Unix socket" },
    { name: "redis", type: "string" as const, arg: "HOST:PORT", help: "redis-server over TCP (default 127.0.0.1:6379 when no other Redis flag is given)" },
    { name: "redis-cluster", type: "string" as const, arg: "HOST:PORT,...", help: "Redis Cluster seed nodes (ioredis Cluster client)" },
    { name: "redis-mode", type: "string" as const, arg: "MODE", default: "script", help: "script: one Lua script per message on one connection (one round trip); commands: GET/SET/GET per message, one connection per database" },
    { name: "redis-timeout-ms", type: "int" as const, arg: "MS", default: 2000, min: 1, help: "fail a Redis command after this long" },
    { name: "kernel", type: "bool" as const, help: "serve on Bun's kernel sockets (Bun.listen) instead of our stack: the baseline" },
    { name: "listen", type: "string" as const, arg: "ADDR", default: "0.0.0.0", help: "address to bind with --kernel" },
    { name: "smp", type: "int" as const, arg: "N", default: 1, min: 1, max: 64, help: "application threads; with --kernel, processes sharing the port (each holds at most ~20,000 sockets here)" },
    { name: "reuse-port", type: "bool" as const, help: "with --kernel: SO_REUSEPORT, so several server processes share the port" },
    { name: "key-base", type: "int" as const, arg: "N", default: 0, min: 0, help: "added to connection ids to form Redis keys (one range per process)" },
    { name: "slots", type: "int" as const, arg: "N", default: 512, min: 1, max: 1 << 20, help: "messages worked on in Redis at once" },
    { name: "heartbeat-slots", type: "int" as const, arg: "N", min: 1, help: "of those, at most N heartbeats (default 32, at most 3/4 of --slots): each one in flight is ahead of a later request in Redis" },
    {
      name: "heartbeat-batch",
      type: "int" as const,
      arg: "N",
      default: DEFAULT_HEARTBEAT_BATCH,
      min: 1,
      max: 1024,
      help: "script mode, standalone Redis: up to N heartbeats of one event-loop turn per script call (1: one call each); requests are never batched",
    },
    { name: "heartbeat-flush", type: "string" as const, arg: "WHEN", default: "tick", help: "tick: a heartbeat batch goes out in the same write as the turn's requests (after them); later: in a write of its own, after the next I/O poll" },
    {
      name: "request-connection",
      type: "string" as const,
      arg: "WHERE",
      default: "own",
      help: "script mode, standalone Redis: own = requests on a Redis connection of their own, each written at once (ioredis serves one auto-pipeline per connection at a time); shared = on the heartbeats' connection",
    },
    {
      name: "heartbeat-pipelining",
      type: "string" as const,
      arg: "MODE",
      default: "auto",
      help: "script mode, standalone Redis: auto = the heartbeats' connection auto-pipelined by ioredis; off = each heartbeat batch written at once (ioredis makes ~175 heap cells per auto-pipelined call, ~85 per direct one)",
    },
    { name: "queue", type: "int" as const, arg: "N", default: 65536, min: 1, help: "waiting messages per class before new ones are dropped" },
    { name: "duration", type: "number" as const, arg: "S", min: 0, help: "stop after S seconds (default: until Ctrl+C)" },
    { name: "warmup", type: "number" as const, arg: "S", default: 0, min: 0, help: "forget the in-server latency of the first S seconds after the first message (JIT warm-up)" },
    { name: "measure", type: "number" as const, arg: "S", min: 0, help: "length of the measured part after the warm-up (the poll-gap view of the measured part ends then; default: at the stop)" },
    { name: "gap-cpu", type: "bool" as const, help: "diagnosis: read the stack thread's CPU time every poll round (~1 us), so each of the measured part's longest poll gaps says how much of it the thread ran" },
    { name: "heap-stats", type: "bool" as const, help: "diagnosis: print the JS heap (size, cells, the commonest cell types; a walk of the heap, milliseconds) at the measured part's start and end; with BUN_JSC_logGC set, mark those points in the GC log on stderr" },
    { name: "status-interval", type: "number" as const, arg: "S", min: 0, help: "seconds between status lines (default 1 on a terminal, 10 otherwise; 0 = none)" },
    { name: "monitor", type: "string" as const, arg: "DIR", help: "our stack: live wire monitor (request -> reply at the rx/tx bursts); writes DIR/monitor.json, cdf.txt, monitor.html at exit" },
    {
      name: "redis-wait",
      type: "string" as const,
      arg: "HOW",
      default: "sleep",
      help: "our stack: sleep = the poll loop's idle sleeps as usual (Redis' reply wakes it); awake = it does not sleep while a request is in Redis (measured no better at 1 M: apps/iotep/epoll-server.ts)",
    },
    {
      name: "reply-yield",
      type: "string" as const,
      arg: "HOW",
      default: "round",
      help: "our stack: round = while a request is in Redis, let Bun read Redis' socket after every poll round (its reply waits one round at most); burst = only after up to the loop's burstsPerYield busy rounds (apps/iotep/epoll-server.ts)",
    },
    { name: "breakdown", type: "bool" as const, help: "record where requests' time goes (queue, wait until written to Redis' socket, Redis) and print it at exit" },
    { name: "stats-json", type: "string" as const, arg: "FILE", help: "write the final counters and latency summaries as JSON" },
  ],
};

function makeStore(v: Record<string, unknown>): IotepStore {
  const sock = v["redis-socket"] as string | undefined;
  const tcp = v["redis"] as string | undefined;
  const cluster = v["redis-cluster"] as string | undefined;
  const given = [sock, tcp, cluster].filter((x) => x !== undefined).length;
  if (given > 1) throw new ConfigError("give only one of --redis-socket, --redis and --redis-cluster");
  const opts = { commandTimeoutMs: v["redis-timeout-ms"] as number };
  const mode = v["redis-mode"] as string;
  if (mode !== "script" && mode !== "commands") throw new ConfigError(`--redis-mode ${mode}: expected script or commands`);
  const script = mode === "script";
  if (cluster !== undefined) {
    const nodes = parseClusterNodes(cluster);
    if (nodes === null) throw new ConfigError(`--redis-cluster ${cluster}: expected HOST:PORT[,HOST:PORT...] like 127.0.0.1:7000,127.0.0.1:7001`);
    return script ? new RedisClusterScriptStore(nodes, opts) : new RedisClusterStore(nodes, opts);
  }
  const t = sock ?? tcp ?? "127.0.0.1:6379";
  if (sock === undefined && !/^[^:\s]+:\d{1,5}$/.test(t)) throw new ConfigError(`--redis ${t}: expected HOST:PORT like 127.0.0.1:6379`);
  const flush = v["heartbeat-flush"] as string;
  if (flush !== "tick" && flush !== "later") throw new ConfigError(`--heartbeat-flush ${flush}: expected tick or later`);
  const reqConn = v["request-connection"] as string;
  if (reqConn !== "own" && reqConn !== "shared") throw new ConfigError(`--request-connection ${reqConn}: expected own or shared`);
  const pipelining = v["heartbeat-pipelining"] as string;
  if (pipelining !== "auto" && pipelining !== "off") throw new ConfigError(`--heartbeat-pipelining ${pipelining}: expected auto or off`);
  return script
    ? new RedisScriptStore(t, { ...opts, heartbeatBatch: v["heartbeat-batch"] as number, heartbeatFlush: flush, requestConnection: reqConn, heartbeatPipelining: pipelining === "auto" })
    : new RedisDbStore(t, opts);
}

runMain("iotepserver", async () => {
  const args = parseAppArgs(spec);
  const v = args.values;
  const kernel = v["kernel"] === true;
  const msgLen = v["length"] as number;
  const port = v["port"] as number;
  if (!kernel && port === 0) throw new ConfigError("--port 0 is only for --kernel; give the port to serve on our stack");
  const smp = v["smp"] as number;
  if (smp > 1 && !kernel) throw new ConfigError("--smp: our stack runs one application thread for now; use --smp with --kernel");
  if (smp > 1) return runShards(smp, v);
  const monitorDir = v["monitor"] as string | undefined;
  if (monitorDir !== undefined && kernel) throw new ConfigError("--monitor needs our stack (the kernel's bursts are not visible): drop --kernel");
  const redisWait = v["redis-wait"] as string;
  if (redisWait !== "awake" && redisWait !== "sleep") throw new ConfigError(`--redis-wait ${redisWait}: expected awake or sleep`);
  const replyYield = v["reply-yield"] as string;
  if (replyYield !== "round" && replyYield !== "burst") throw new ConfigError(`--reply-yield ${replyYield}: expected round or burst`);
  const store = makeStore(v);
  let rs: IdStack | null = null;
  let ep: TcpEpoll | null = null;
  const server = new IotepServer({
    msgLen,
    store,
    slots: v["slots"] as number,
    heartbeatSlots: v["heartbeat-slots"] as number | undefined,
    queueCapacity: v["queue"] as number,
    keyBase: v["key-base"] as number,
    breakdown: v["breakdown"] === true,
  });
  let served: ServedHandle;
  let gaps: RoundGaps | null = null;
  let live: LiveWireTap | null = null;
  let where: string;
  if (kernel) {
    const h = serveOnKernel(server, v["listen"] as string, port, { reusePort: v["reuse-port"] === true, ports: v["ports"] as number });
    server.sink = h;
    served = h;
    where = `kernel sockets ${v["listen"]}:${h.port}${(v["ports"] as number) > 1 && port !== 0 ? `-${h.port + (v["ports"] as number) - 1}` : ""}`;
  } else {
    // QStack's classification (payload byte 5 == 0x01 -> high) unless told otherwise.
    if (v["classify"] === undefined) v["classify"] = "iotep";
    // This app prints its own status line; the stack's generic one only if asked for (--status).
    if (!process.argv.some((a) => a === "--status" || a.startsWith("--status="))) v["status"] = false;
    rs = await startIdStack(v, { sndBufBytes: 16 * 1024, rcvBufBytes: 16 * 1024, defaultBacklog: 65535 });
    ep = new TcpEpoll(rs.stack, rs.plan.tcp);
    const h = new EpollServer(server, ep, rs.stack, port, v["ports"] as number);
    h.awakeForRequests = redisWait === "awake";
    h.yieldForReplies = replyYield === "round";
    // Gaps between poll rounds (sleeps, GC pauses, long rounds, waiting for a CPU) for the stats.
    gaps = new RoundGaps(rs.stack.loop, v["gap-cpu"] === true ? threadCpuClock() : null);
    rs.stack.addAppStage(gaps);
    if (monitorDir !== undefined) {
      live = new LiveWireTap(
        // Tables sized for every connection the stack can hold (--max-conns): no growth during the run.
        { serverPort: port, serverPorts: v["ports"] as number, msgLen, warmupUs: (v["warmup"] as number) * 1e6, expectedFlows: ep.listenerBase },
        rs.stack.dev.mem,
        rs.stack.dev.dv,
        rs.stack.loop.clock,
      );
      rs.stack.netif.setBurstTap(live);
    }
    rs.run();
    server.sink = h;
    served = h;
    where = `our stack ${formatIpv4(rs.cfg.ip)}:${port}${(v["ports"] as number) > 1 ? `-${port + (v["ports"] as number) - 1}` : ""} dev ${rs.stack.dev.caps.name}, classify ${v["classify"]}, poll loop ${redisWait === "awake" ? "awake" : "may sleep"} while a request is in Redis`;
  }
  const runQueueAtStart = runQueueWaitUs();
  const ready = await store.waitReady(3000);
  console.log(`iotepserver: listening on ${where}, ${msgLen}-byte messages, ${store.describe()}${ready ? "" : " (not reachable yet; retrying, messages fail until it is)"}`);
  const envNote = rs !== null ? runtimeEnvNote("iotepserver") : null;
  if (envNote !== null) console.log(envNote);

  // Warm-up: clear the in-server histograms S seconds after the first message; the poll-gap
  // view of the measured part starts then too (at the first message without a warm-up).
  const warmupS = v["warmup"] as number;
  const heapPoint = (name: string): void => {
    if (process.env["BUN_JSC_logGC"] !== undefined) process.stderr.write(`[iotep phase ${name}]\n`);
    if (v["heap-stats"] !== true) return;
    const h = heapStats();
    const top = Object.entries(h.objectTypeCounts)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 10)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ");
    console.log(`iotepserver: heap at ${name}: ${(h.heapSize / 2 ** 20).toFixed(1)} MiB, ${h.objectCount} cells (${top}); extra memory ${(h.extraMemorySize / 2 ** 20).toFixed(1)} MiB`);
  };
  let endTimer: ReturnType<typeof setTimeout> | null = null;
  const watch = setInterval(() => {
    if (server.counters.messages === 0) return;
    clearInterval(watch);
    setTimeout(
      () => {
        if (warmupS > 0) {
          server.latencyHigh.reset();
          server.latencyLow.reset();
          server.breakdown?.reset();
        }
        heapPoint("measured-start");
        if (rs !== null) gaps?.beginWindow(rs.stack.loop.clock());
        // The client's shutdown (1 M FINs or RSTs in a burst) is not part of the measured view.
        const measureS = v["measure"] as number | undefined;
        if (measureS !== undefined)
          endTimer = setTimeout(() => {
            endTimer = null;
            if (rs !== null) gaps?.endWindow(rs.stack.loop.clock());
            heapPoint("measured-end");
          }, measureS * 1000);
      },
      warmupS * 1000,
    );
  }, 10);

  // Status line.
  const tty = process.stdout.isTTY === true;
  const every = (v["status-interval"] as number | undefined) ?? (tty ? 1 : 10);
  let last = { ...server.counters };
  let lastT = performance.now();
  let lastRounds = rs?.stack.loop.rounds ?? 0;
  // Per status line, what our stack did since the previous one (did it stop acknowledging? duplicates in?).
  let extra = "";
  let lastTcp = ep !== null ? { ...ep.tcp.counters } : null;
  let lastGapMax = 0;
  const threadSlice = threadSliceSince(() => (rs !== null ? rs.stack.loop.idleSleeps : 0));
  let lastDev = rs !== null ? rs.stack.dev.stats() : null;
  const stackDelta = (e: TcpEpoll): string => {
    const t = e.tcp.counters;
    const p = lastTcp!;
    const dev = rs!.stack.dev.stats();
    const g = gaps!.maxUs;
    const s =
      `${threadSlice()}; segs in ${t.segsIn - p.segsIn}, out ${t.segsOut - p.segsOut}, delayed ACKs ${t.delayedAcks - p.delayedAcks}, dup/out-of-window in ${t.outOfWindow - p.outOfWindow}, ` +
      `rcvBufFull ${t.rcvBufFull - p.rcvBufFull}, RTOs ${t.rtoTimeouts - p.rtoTimeouts}, TLPs ${t.tlpProbes - p.tlpProbes}, txNoBuf ${t.txNoBuf - p.txNoBuf}, ` +
      `dev imissed ${dev.imissed - lastDev!.imissed}, rxNoBuf ${dev.rxNoBuf - lastDev!.rxNoBuf}, oerrors ${dev.oerrors - lastDev!.oerrors}; pool free ${e.tcp.pool.available()}/${e.tcp.cfg.chunkCount}` +
      (g > lastGapMax ? `; new longest poll gap ${(g / 1000).toFixed(1)} ms` : "");
    lastGapMax = g;
    lastTcp = { ...t };
    lastDev = dev;
    return s;
  };
  const status = (): string => {
    const c = server.counters;
    const now = performance.now();
    const dt = Math.max(1e-3, (now - lastT) / 1000);
    const rate = (a: number, b: number): string => ((a - b) / dt).toFixed(0);
    const s =
      `conns ${served.openConnections} | msg/s ${rate(c.messages, last.messages)} (req ${rate(c.requests, last.requests)}) | ` +
      `replies ${c.replies} | failed ${c.failedRequests + c.failedHeartbeats} | in redis ${server.inFlight} | queued ${server.queuedRequests}/${server.queuedHeartbeats} | ` +
      `redis ${store.connected ? "up" : "DOWN"} | req p99 ${(server.latencyHigh.getValueAtPercentile(99) / 1000).toFixed(3)} ms` +
      (rs !== null ? ` | poll rounds/s ${rate(rs.stack.loop.rounds, lastRounds)}` : "");
    if (rs !== null) lastRounds = rs.stack.loop.rounds;
    if (ep !== null) extra = ` | ${stackDelta(ep)}`;
    
    last = { ...c };
    lastT = now;
    return s + extra;
  };
  // Peak memory and connections (sampled each second) for the per-connection cost.
  let peakRss = process.memoryUsage.rss();
  let peakConns = 0;
  const sampler = setInterval(() => {
    const r = process.memoryUsage.rss();
    if (r > peakRss) peakRss = r;
    if (served.openConnections > peakConns) peakConns = served.openConnections;
  }, 1000);
  const idleRss = peakRss;
  const timer =
    every > 0
      ? setInterval(() => {
          if (tty) process.stdout.write(`\r\x1b[K${status()}`);
          else console.log(`iotepserver: ${status()}`);
        }, every * 1000)
      : null;

  const duration = v["duration"] as number | undefined;
  const reason = await Promise.race([onStopSignal(), duration !== undefined ? Bun.sleep(duration * 1000).then(() => "duration") : new Promise<string>(() => {})]);
  if (timer !== null) clearInterval(timer);
  clearInterval(sampler);
  if (tty && every > 0) process.stdout.write("\n");
  clearInterval(watch);
  if (endTimer !== null) {
    clearTimeout(endTimer);
    heapPoint("measured-end");
  }
  if (rs !== null) gaps?.endWindow(rs.stack.loop.clock());
  served.stopListening();
  const drained = await server.whenIdle(2000);
  served.closeAll();
  await store.close();
  if (rs !== null) {
    // Let the FINs go out before the device closes.
    await Bun.sleep(50);
    await rs.shutdown(ep!.tcp);
  }
  const c = server.counters;
  const hi = summarize(server.latencyHigh);
  const lo = summarize(server.latencyLow);
  console.log(
    `iotepserver: stopped (${reason}${drained ? "" : ", gave up waiting for Redis"}): ${c.accepted} connections, ${c.messages} messages ` +
      `(${c.requests} requests, ${c.heartbeats} heartbeats, ${c.other} other), ${c.replies} replies, ` +
      `failed ${c.failedRequests} requests + ${c.failedHeartbeats} heartbeats (${c.dropped} dropped, ${c.redisErrors} Redis errors), ${c.repliesLost} replies lost`,
  );
  if (store instanceof RedisScriptStore && store.batchCalls > 0) {
    console.log(`iotepserver: heartbeats in batches: ${store.batchedMessages} in ${store.batchCalls} script calls (${(store.batchedMessages / store.batchCalls).toFixed(1)} per call)`);
  }
  console.log(`iotepserver: in-server latency  requests: ${formatSummary(hi)}`);
  console.log(`iotepserver: in-server latency heartbeats: ${formatSummary(lo)}`);
  const bd = server.breakdown;
  if (bd !== null) {
    console.log(`iotepserver: requests: queue (arrival -> Redis call): ${formatSummary(summarize(bd.queue))}`);
    console.log(`iotepserver: requests: written (Redis call -> the socket write carrying it): ${formatSummary(summarize(bd.flush))}`);
    console.log(`iotepserver: requests: redis (write -> last callback): ${formatSummary(summarize(bd.redis))}`);
    console.log(`iotepserver: requests: redis with nothing ahead: ${formatSummary(summarize(bd.redisAlone))}`);
    const n = (x: ReturnType<typeof summarize>): string => `n=${x.count} p50=${x.p50Us} p99=${x.p99Us} max=${x.maxUs}`;
    console.log(`iotepserver: requests: messages in Redis ahead of one (a count): all ${n(summarize(bd.ahead))}; slow ones (Redis > ${SLOW_REDIS_US} us) ${n(summarize(bd.aheadSlow))}`);
  }
  const runQueueUs = runQueueWaitUs() - runQueueAtStart;
  if (gaps !== null) {
    const g = gaps.summary();
    console.log(
      `iotepserver: gaps between poll rounds: p50 ${g.p50Us} us, p99 ${g.p99Us} us, max ${(g.maxGapUs / 1000).toFixed(1)} ms, ${g.over2ms} over 2 ms, ${g.over10ms} over 10 ms; ` +
        `${g.stalls} stalls (over 2 ms, no idle sleep) totalling ${g.stallMs} ms, ${g.stallRunQueueMs} ms of it waiting for a CPU; ` +
        `${rs!.stack.loop.rounds} rounds, ${rs!.stack.loop.idleSleeps} idle sleeps, ${rs!.stack.loop.wakeups} cut short by replies; main thread waited ${(runQueueUs / 1000).toFixed(0)} ms for a CPU in all`,
    );
    const w = gaps.window?.summary();
    if (w !== undefined) {
      console.log(
        `iotepserver: gaps between poll rounds, measured part only (${w.windowS} s from the warm-up's end to the stop): p50 ${w.p50Us} us, p99 ${w.p99Us} us, p99.9 ${w.p999Us} us, ` +
          `max ${(w.maxGapUs / 1000).toFixed(1)} ms (${w.maxAtS} s in), ${w.over2ms} over 2 ms, ${w.over10ms} over 10 ms; ${w.stalls} stalls totalling ${w.stallMs} ms, ${w.stallRunQueueMs} ms of it waiting for a CPU`,
      );
      const top = gaps.window!.top().map(GapWindow.describe);
      console.log(`iotepserver: longest poll gaps of the measured part (window start = clock ${Math.round(gaps.window!.startUs)} us): ${top.join(", ")}`);
    }
  }
  if (live !== null) {
    writeWireReport({
      pairer: live.pairer,
      dir: monitorDir!,
      source: "live rx/tx bursts",
      params: { port, msgLen, rxBursts: live.rxBursts, txBursts: live.txBursts },
      log: (l) => console.log(l.replace(/^monitor: /, "iotepserver: monitor: ")),
    });
  }
  const statsFile = v["stats-json"] as string | undefined;
  if (statsFile !== undefined) {
    writeFileSync(
      statsFile,
      JSON.stringify(
        {
          transport: kernel ? "kernel" : "qstack",
          msgLen,
          counters: { ...c },
          heartbeatBatches: store instanceof RedisScriptStore ? { calls: store.batchCalls, messages: store.batchedMessages } : undefined,
          memory: { idleRssBytes: idleRss, peakRssBytes: peakRss, peakConnections: peakConns, bytesPerConnection: peakConns > 0 ? Math.round((peakRss - idleRss) / peakConns) : null },
          latencyUs: { request: hi, heartbeat: lo },
          breakdownUs:
            bd !== null
              ? { queue: summarize(bd.queue), flush: summarize(bd.flush), redis: summarize(bd.redis), redisAlone: summarize(bd.redisAlone), ahead: summarize(bd.ahead), aheadSlow: summarize(bd.aheadSlow) }
              : undefined,
          histograms: { request: encodeHistogram(server.latencyHigh), heartbeat: encodeHistogram(server.latencyLow) },
          stack:
            rs !== null
              ? {
                  net: rs.stack.netif.counters.snapshot(),
                  tcp: { ...ep!.tcp.counters },
                  pollGaps: { ...gaps!.summary(), maxUs: gaps!.maxUs },
                  pollGapsMeasured: gaps!.window?.summary(),
                  runQueueWaitMs: Math.round(runQueueUs / 1000),
                  rounds: rs.stack.loop.rounds,
                  idleSleeps: rs.stack.loop.idleSleeps,
                  wakeups: rs.stack.loop.wakeups,
                }
              : undefined,
        },
        null,
        2,
      ),
    );
  }
  return 0;
});

/**
 * --smp N with --kernel: N server processes sharing the port (SO_REUSEPORT),
 * each keying Redis from its own range (--key-base k * 10^7); the parent
 * forwards Ctrl+C, then sums their counters and merges their histograms.
 */
async function runShards(n: number, v: Record<string, unknown>): Promise<number> {
  const { spawnShards, waitAll, signalAll, sumCounters, mergeHistograms, readJson } = await import("./iotep/smp");
  const { mkdtempSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "iotepserver-smp-"));
  const argv = process.argv.slice(2);
  const extra = (port: number) => (k: number) => ["--smp", "1", "--reuse-port", "--port", String(port), "--key-base", String(k * 10_000_000), "--stats-json", join(dir, `${k}.json`)];
  let port = v["port"] as number;
  const procs = [];
  const re = /iotepserver: listening on kernel sockets [^\s]+:(\d+)/;
  if (port === 0) {
    // The first process picks the port; the others join it.
    const first = spawnShards(import.meta.path, argv, 1, extra(0));
    port = Number((await waitAll(first, re, 30_000))[0]![1]);
    procs.push(...first, ...spawnShards(import.meta.path, argv, n - 1, extra(port), true, 1));
  } else {
    procs.push(...spawnShards(import.meta.path, argv, n, extra(port)));
  }
  await waitAll(procs, re, 30_000);
  console.log(`iotepserver: listening on kernel sockets ${v["listen"]}:${port} (${n} processes, SO_REUSEPORT)`);
  const duration = v["duration"] as number | undefined;
  const reason = await Promise.race([onStopSignal(), duration !== undefined ? Bun.sleep(duration * 1000).then(() => "duration") : new Promise<string>(() => {})]);
  signalAll(procs, "SIGTERM");
  const codes = await Promise.all(procs.map((p) => p.exited));
  const jsons = procs.map((p) => readJson(join(dir, `${p.index}.json`)));
  rmSync(dir, { recursive: true, force: true });
  const counters = sumCounters(jsons.map((j) => j.counters));
  const hi = mergeHistograms(jsons, (j) => j.histograms?.request);
  const lo = mergeHistograms(jsons, (j) => j.histograms?.heartbeat);
  console.log(`iotepserver: stopped (${reason}), ${n} processes: ${JSON.stringify(counters)}`);
  console.log(`iotepserver: in-server latency  requests: ${formatSummary(summarize(hi))}`);
  console.log(`iotepserver: in-server latency heartbeats: ${formatSummary(summarize(lo))}`);
  const statsFile = v["stats-json"] as string | undefined;
  if (statsFile !== undefined) {
    const mem = jsons.map((j) => j.memory ?? {});
    writeFileSync(
      statsFile,
      JSON.stringify(
        {
          transport: "kernel",
          processes: n,
          msgLen: v["length"],
          counters,
          latencyUs: { request: summarize(hi), heartbeat: summarize(lo) },
          histograms: { request: encodeHistogram(hi), heartbeat: encodeHistogram(lo) },
          memory: { peakRssBytes: mem.reduce((a, m) => a + (m.peakRssBytes ?? 0), 0), peakConnections: mem.reduce((a, m) => a + (m.peakConnections ?? 0), 0), bytesPerConnection: null },
        },
        null,
        2,
      ),
    );
  }
  return codes.every((c) => c === 0) ? 0 : 1;
}
