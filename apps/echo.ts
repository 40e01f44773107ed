/**
 * echo: brings the stack up on a DPDK port, answers ARP and ICMP echo, and
 * echoes TCP on --port (with backpressure). With --ping HOST it also pings a
 * neighbour from the stack (resolving its MAC with ARP) and reports the replies.
 *
 *   bun run echo --vdev net_af_packet0,iface=veth0 --ip 10.0.0.1/24
 *
 * With --layout split:stack=1,app=N the echo runs in N app threads (Bun Workers)
 * fed over SPSC rings by the stack thread (src/sched/split/split.ts).
 * With --layout stack=N it runs N stack threads, one queue pair each, every one
 * with its own echo (src/sched/multi/stack-threads.ts); e.g.
 *   bun run echo --vdev net_af_packet0,iface=veth0,qpairs=2 --ip 10.0.0.1/24 --layout stack=2
 */
import { ConfigError } from "../src/api/errors";
import type { EchoReplySink } from "../src/net/icmp";
import { formatIpv4, parseIpv4 } from "../src/wire/ip-addr";
import { formatMac } from "../src/wire/mac";
import { formatLayout, LAYOUT_FLAG, cpuFor } from "../src/api/layout";
import { cryptoRng } from "../src/net/seeded-rng";
import { startSplitApps, type SplitApps } from "../src/sched/split/split";
import { StackBridge } from "../src/sched/split/stack-bridge";
import { layoutFrom, onStopSignal, parseAppArgs, runMain, stackCpu, startStack } from "./common";
import { serveEcho, type EchoThreadArgs, type EchoThreadCounts } from "./echo-serve";
import { openDevice } from "../src/api/open-device";
import { createArpMailbox } from "../src/sched/multi/arp-mailbox";
import { checkMultiQueueDevargs, portOf, threadZeroDevice } from "../src/sched/multi/multi-device";
import type { QueueDevice } from "../src/sched/multi/queue-device";
import { keepActiveOpensHome } from "../src/sched/multi/segment-forward";
import { createSegmentMailbox } from "../src/sched/multi/segment-mailbox";
import { allowedCpus } from "../src/sched/split/affinity";
import { startStackThreads, type StackThreadReport, type StackThreads } from "../src/sched/multi/stack-threads";

const spec = {
  name: "echo",
  usage: "bun run echo --vdev DEVARGS --ip A.B.C.D/LEN [--port N] [--duration S] [--ping HOST] [--layout SPEC]",
  about: "Answers ARP and ping, and echoes TCP on --port.",
  flags: [
    { name: "port", short: "p", type: "int" as const, arg: "N", default: 7, min: 1, max: 65535, help: "TCP echo port" },
    { name: "duration", type: "number" as const, arg: "S", min: 0, help: "stop after S seconds (default: run until Ctrl+C)" },
    { name: "stats", type: "bool" as const, help: "print the counters as JSON when stopping" },
    { name: "ping", type: "string" as const, arg: "HOST", help: "ping HOST from the stack at start (once per 100 ms)" },
    { name: "ping-count", type: "int" as const, arg: "N", default: 3, min: 1, help: "echo requests to send with --ping" },
    LAYOUT_FLAG,
  ],
};

runMain("echo", async () => {
  const args = parseAppArgs(spec);
  const pingArg = args.values["ping"] as string | undefined;
  const pingIp = pingArg === undefined ? -1 : parseIpv4(pingArg);
  if (pingArg !== undefined && pingIp === -1) throw new ConfigError(`--ping ${pingArg}: expected an IPv4 address`);
  const layout = layoutFrom(args.values);
  const port = args.values["port"] as number;
  let accepted = 0;
  let echoedBytes = 0;
  // Split mode: the app threads first (a bad handler or pin fails before the device opens).
  let split: SplitApps | null = null;
  let bridge: StackBridge | null = null;
  if (layout.mode === "split") {
    const role = layout.app;
    split = await startSplitApps({
      count: role.count,
      module: new URL("../src/sched/split/echo-app.ts", import.meta.url).pathname,
      export: "echoApp",
      cpuFor: (i) => cpuFor(role, i),
    });
    for (const [i, st] of split.started.entries()) {
      if (st.pinError !== null) {
        split.terminate();
        throw new ConfigError(`--layout: cannot pin app thread ${i} (${st.pinError})`);
      }
    }
  }
  const lanes = split?.lanes;
  // --layout stack=N: this thread is stack thread 0 on queue 0 of a port opened with N queue pairs.
  const multi = layout.mode === "multi" ? layout.stack : null;
  const mailbox = multi === null ? null : createArpMailbox(multi.count);
  const segments = multi === null ? null : createSegmentMailbox(multi.count);
  if (multi !== null) {
    args.values["queues"] = multi.count;
    for (const v of args.values["vdev"] as string[] ?? []) checkMultiQueueDevargs(v, multi.count);
  }
  // Several stack threads: a segment may reach a thread that does not own its connection (TcpConfig.strayRst).
  const rs = await startStack(args.values, multi !== null ? { strayRst: false } : {}, {
    pinCpu: stackCpu(layout),
    openDevice: mailbox === null ? undefined : async (c) => threadZeroDevice(await openDevice(c), mailbox, segments),
    transport: lanes === undefined ? undefined : (st, tcp, memory) => {
      bridge = new StackBridge(st, lanes, { tcp, rng: cryptoRng(), memory });
      return bridge.tcp;
    },
  });
  const { stack, sockets, cfg } = rs;
  const dev = stack.dev;
  const counts = { accepted: 0, echoedBytes: 0 };
  if (bridge !== null) {
    const l = (bridge as StackBridge).listen(0, port, 1024);
    if (l < 0) throw new Error(`listen on port ${port} failed (${l})`);
  } else serveEcho(sockets, port, counts);
  let threads: StackThreads | null = null;
  if (multi !== null && mailbox !== null && multi.count > 1) {
    const qd = dev as QueueDevice;
    const inner = qd.inner;
    const steered = keepActiveOpensHome(rs.tcp, qd);
    console.log(`echo: ${multi.count} stack threads; RSS hash ${steered === "rss" ? "known (Toeplitz): active opens keep to their queue" : "not reported by the device: ports partitioned by thread, stray segments forwarded to their owner"}`);
    // One metrics endpoint (this thread's) and one status line: the other threads leave them out.
    const threadArgs: EchoThreadArgs = { values: { ...args.values, "metrics-port": undefined, status: false }, port };
    try {
      threads = await startStackThreads({
        threads: multi.count, port: portOf(inner), maxBurst: dev.caps.maxBurst, mailbox, segments,
        module: new URL("./echo-serve.ts", import.meta.url).pathname, export: "echoStackThread", args: threadArgs,
        cpuFor: (i) => cpuFor(multi, i),
      });
    } catch (e) {
      await rs.shutdown();
      throw e;
    }
  }
  console.log(`echo: up on ${formatIpv4(cfg.ip)}/${cfg.prefixLen} mac ${formatMac(dev.caps.mac, 0)} dev ${dev.caps.name}, TCP echo on port ${port}, layout ${formatLayout(layout)}`);

  if (pingIp !== -1) {
    const count = args.values["ping-count"] as number;
    const replies = new Set<number>();
    const sink: EchoReplySink = {
      echoReply(_now, src, id, seq) {
        if (src === pingIp >>> 0 && id === 0x5153) replies.add(seq);
      },
    };
    stack.netif.icmp.echoSink = sink;
    for (let i = 0; i < count; i++) {
      stack.netif.icmp.sendEchoRequest(stack.loop.clock(), pingIp >>> 0, 0x5153, i, 56);
      await Bun.sleep(100);
    }
    await Bun.sleep(200);
    const mac = new Uint8Array(6);
    const known = stack.netif.arp.cache.lookup(pingIp, stack.loop.clock(), mac, 0);
    console.log(`echo: ping ${formatIpv4(pingIp)}: ${replies.size}/${count} replies, neighbour mac ${known ? formatMac(mac, 0) : "unresolved"}`);
  }

  const duration = args.values["duration"] as number | undefined;
  const reason = await Promise.race([
    onStopSignal(),
    duration !== undefined ? Bun.sleep(duration * 1000).then(() => "duration") : new Promise<string>(() => {}),
  ]);
  if (split !== null && bridge !== null) {
    // Stop the app threads after the work already queued for them, then count what they echoed.
    const b = bridge as StackBridge;
    b.requestStop();
    try {
      const reps = await split.finished(5000);
      for (const r of reps) {
        const k = r.counts as { opened: number; echoedBytes: number };
        accepted += k.opened;
        echoedBytes += k.echoedBytes;
      }
      console.log(`echo: split app threads: ${reps.map((r) => `#${r.index} events ${r.events} commands ${r.commands} cpus ${r.cpus}`).join("; ")}; stack: records ${b.delivered}, commands ${b.commandsDone}, send stalls ${b.sendStalls}, lane full ${b.laneFull}`);
    } finally {
      split.terminate();
    }
  }
  if (threads !== null) {
    // Stop stack threads 1..N-1 (they drain and release their lcores) before this thread closes the port.
    const t = threads as StackThreads;
    let reps: StackThreadReport[] = [];
    try {
      reps = await t.stop();
    } finally {
      t.terminate();
    }
    const own = stack.dev as QueueDevice;
    const c0 = stack.netif.counters;
    const parts = [`#0 connections ${counts.accepted} bytes ${counts.echoedBytes} rx ${own.rxFrames} rst ${rs.tcp.counters.rstsSent} stray ${rs.tcp.counters.strayDropped} seg-fwd ${own.segments?.sent ?? 0}/${own.segInjected}/${own.segments?.dropped ?? 0} icmp ${c0.icmpEchoReplies} arp-fwd ${own.mailbox?.sent ?? 0}/${own.mailbox?.received ?? 0} cpus ${allowedCpus()}`];
    for (const r of reps) {
      const k = r.app as EchoThreadCounts;
      accepted += k.accepted;
      echoedBytes += k.echoedBytes;
      parts.push(`#${r.index} connections ${k.accepted} bytes ${k.echoedBytes} rx ${r.rxFrames} rst ${k.rstsSent} stray ${k.strayDropped} seg-fwd ${r.segSent}/${r.segInjected}/${r.segDropped} icmp ${k.icmpEchoReplies} arp-fwd ${r.arpSent}/${r.arpReceived} cpus ${r.cpus}`);
    }
    console.log(`echo: stack threads: ${parts.join("; ")}`);
  }
  accepted += counts.accepted;
  echoedBytes += counts.echoedBytes;
  const c = stack.netif.counters;
  console.log(`echo: stopping (${reason}): ${c.rxFrames} frames in, ${c.icmpEchoReplies} echo replies, ${c.arpRepliesSent} ARP replies, ${accepted} TCP connections, ${echoedBytes} bytes echoed, ${c.totalDrops()} dropped`);
  if (args.values["stats"]) console.log(JSON.stringify({ net: c.snapshot(), tcp: { ...rs.tcp.counters }, dev: dev.stats() }));
  await rs.shutdown();
  return 0;
});
