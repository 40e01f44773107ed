/**
 * echo: brings the stack up on a DPDK port, answers ARP and ICMP echo, and
 * echoes TCP on --port (with backpressure). With --ping HOST it also pings a
 * neighbour from the stack (resolving its MAC with ARP) and reports the replies.
 *
 *   bun run echo --vdev net_af_packet0,iface=veth0 --ip 10.0.0.1/24
 *
 * With --layout split:stack=1,app=N the echo runs in N app threads (Bun Workers)
 * fed over SPSC rings by the stack thread (src/sched/split/split.ts).
 */
import { ConfigError } from "../src/api/errors";
import type { EchoReplySink } from "../src/net/icmp";
import { formatIpv4, parseIpv4 } from "../src/wire/ip-addr";
import { formatMac } from "../src/wire/mac";
import { formatLayout, LAYOUT_FLAG, cpuFor } from "../src/api/layout";
import { cryptoRng } from "../src/net/seeded-rng";
import { startSplitApps, type SplitApps } from "../src/sched/split/split";
import { StackBridge } from "../src/sched/split/stack-bridge";
import { layoutFrom, onStopSignal, parseAppArgs, runMain, stackCpu, startStack, synFloodFlags } from "./common";

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
    ...synFloodFlags(-1, 0),
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
  const rs = await startStack(args.values, {}, {
    pinCpu: stackCpu(layout),
    transport: lanes === undefined ? undefined : (st, tcp, memory) => {
      bridge = new StackBridge(st, lanes, { tcp, rng: cryptoRng(), memory });
      return bridge.tcp;
    },
  });
  const { stack, sockets, cfg } = rs;
  const dev = stack.dev;
  const pending = new Map<number, Uint8Array>();
  if (bridge !== null) {
    const l = (bridge as StackBridge).listen(0, port, 1024);
    if (l < 0) throw new Error(`listen on port ${port} failed (${l})`);
  } else sockets.listen({
    port,
    backlog: 1024,
    socket: {
      open() {
        accepted++;
      },
      data(s, data) {
        // Echo back with backpressure: what the send buffer cannot take waits,
        // and reading pauses (TCP's window closes) until the peer drains it.
        const n = Math.max(0, s.write(data));
        echoedBytes += n;
        if (n < data.length) {
          pending.set(s.id, data.subarray(n));
          s.pause();
        }
      },
      drain(s) {
        const rest = pending.get(s.id);
        if (rest === undefined) return;
        const n = Math.max(0, s.write(rest));
        echoedBytes += n;
        if (n < rest.length) {
          pending.set(s.id, rest.subarray(n));
        } else {
          pending.delete(s.id);
          s.resume();
        }
      },
      end(s) {
        s.end();
      },
      close(s) {
        pending.delete(s.id);
      },
    },
  });
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
  const c = stack.netif.counters;
  console.log(`echo: stopping (${reason}): ${c.rxFrames} frames in, ${c.icmpEchoReplies} echo replies, ${c.arpRepliesSent} ARP replies, ${accepted} TCP connections, ${echoedBytes} bytes echoed, ${c.totalDrops()} dropped`);
  if (args.values["stats"]) console.log(JSON.stringify({ net: c.snapshot(), tcp: { ...rs.tcp.counters }, dev: dev.stats() }));
  await rs.shutdown();
  return 0;
});
