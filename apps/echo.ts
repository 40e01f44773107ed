/**
 * echo: brings the stack up on a DPDK port, answers ARP and ICMP echo, and
 * (once TCP is attached) echoes TCP on --port.
 *
 *   bun run echo --vdev net_af_packet0,iface=veth0 --ip 10.0.0.1/24
 */
import { openDevice } from "../src/api/open-device";
import { Stack } from "../src/api/stack";
import { stackConfigFrom } from "../src/api/stack-config";
import { TcpSockets } from "../src/api/tcp-sockets";
import { formatIpv4 } from "../src/wire/ip-addr";
import { formatMac } from "../src/wire/mac";
import { onStopSignal, parseAppArgs, runMain } from "./common";

const spec = {
  name: "echo",
  usage: "bun run echo --vdev DEVARGS --ip A.B.C.D/LEN [--port N] [--duration S]",
  about: "Answers ARP and ping, and echoes TCP on --port.",
  flags: [
    { name: "port", short: "p", type: "int" as const, arg: "N", default: 7, min: 1, max: 65535, help: "TCP echo port" },
    { name: "duration", type: "number" as const, arg: "S", min: 0, help: "stop after S seconds (default: run until Ctrl+C)" },
    { name: "stats", type: "bool" as const, help: "print the counters as JSON when stopping" },
  ],
};

runMain("echo", async () => {
  const args = parseAppArgs(spec);
  const cfg = stackConfigFrom(args.values);
  const dev = await openDevice(cfg);
  const stack = new Stack(dev, { ip: cfg.ip, prefixLen: cfg.prefixLen, gateway: cfg.gateway }, { busyPoll: cfg.busyPoll, idleSpinUs: cfg.idleSpinUs });
  const sockets = new TcpSockets(stack);
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
      close(s) {
        pending.delete(s.id);
      },
      end(s) {
        s.end();
      },
    },
  });
  console.log(`echo: up on ${formatIpv4(cfg.ip)}/${cfg.prefixLen} mac ${formatMac(dev.caps.mac, 0)} dev ${dev.caps.name}, TCP echo on port ${port}`);
  const running = stack.run();
  const duration = args.values["duration"] as number | undefined;
  const reason = await Promise.race([
    onStopSignal(),
    duration !== undefined ? Bun.sleep(duration * 1000).then(() => "duration") : new Promise<string>(() => {}),
  ]);
  await stack.stop();
  await running;
  const c = stack.netif.counters;
  console.log(`echo: stopping (${reason}): ${c.rxFrames} frames in, ${c.icmpEchoReplies} echo replies, ${c.arpRepliesSent} ARP replies, ${accepted} TCP connections, ${echoedBytes} bytes echoed, ${c.totalDrops()} dropped`);
  if (args.values["stats"]) console.log(JSON.stringify({ net: c.snapshot(), tcp: { ...sockets.tcp.counters }, dev: dev.stats() }));
  stack.close();
  return 0;
});
