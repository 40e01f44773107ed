/**
 * echo: brings the stack up on a DPDK port, answers ARP and ICMP echo, and
 * echoes TCP on --port (with backpressure). With --ping HOST it also pings a
 * neighbour from the stack (resolving its MAC with ARP) and reports the replies.
 *
 *   bun run echo --vdev net_af_packet0,iface=veth0 --ip 10.0.0.1/24
 */
import { ConfigError } from "../src/api/errors";
import type { EchoReplySink } from "../src/net/icmp";
import { formatIpv4, parseIpv4 } from "../src/wire/ip-addr";
import { formatMac } from "../src/wire/mac";
import { onStopSignal, parseAppArgs, runMain, startStack } from "./common";

const spec = {
  name: "echo",
  usage: "bun run echo --vdev DEVARGS --ip A.B.C.D/LEN [--port N] [--duration S] [--ping HOST]",
  about: "Answers ARP and ping, and echoes TCP on --port.",
  flags: [
    { name: "port", short: "p", type: "int" as const, arg: "N", default: 7, min: 1, max: 65535, help: "TCP echo port" },
    { name: "duration", type: "number" as const, arg: "S", min: 0, help: "stop after S seconds (default: run until Ctrl+C)" },
    { name: "stats", type: "bool" as const, help: "print the counters as JSON when stopping" },
    { name: "ping", type: "string" as const, arg: "HOST", help: "ping HOST from the stack at start (once per 100 ms)" },
    { name: "ping-count", type: "int" as const, arg: "N", default: 3, min: 1, help: "echo requests to send with --ping" },
  ],
};

runMain("echo", async () => {
  const args = parseAppArgs(spec);
  const pingArg = args.values["ping"] as string | undefined;
  const pingIp = pingArg === undefined ? -1 : parseIpv4(pingArg);
  if (pingArg !== undefined && pingIp === -1) throw new ConfigError(`--ping ${pingArg}: expected an IPv4 address`);
  const rs = await startStack(args.values);
  const { stack, sockets, cfg } = rs;
  const dev = stack.dev;
  const port = args.values["port"] as number;
  let accepted = 0;
  let echoedBytes = 0;
  const pending = new Map<number, Uint8Array>();
  sockets.listen({
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
  console.log(`echo: up on ${formatIpv4(cfg.ip)}/${cfg.prefixLen} mac ${formatMac(dev.caps.mac, 0)} dev ${dev.caps.name}, TCP echo on port ${port}`);

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
  const c = stack.netif.counters;
  console.log(`echo: stopping (${reason}): ${c.rxFrames} frames in, ${c.icmpEchoReplies} echo replies, ${c.arpRepliesSent} ARP replies, ${accepted} TCP connections, ${echoedBytes} bytes echoed, ${c.totalDrops()} dropped`);
  if (args.values["stats"]) console.log(JSON.stringify({ net: c.snapshot(), tcp: { ...sockets.tcp.counters }, dev: dev.stats() }));
  await rs.shutdown();
  return 0;
});
