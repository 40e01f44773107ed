/**
 * echo: brings the stack up on a DPDK port, answers ARP and ICMP echo, and
 * (once TCP is attached) echoes TCP on --port.
 *
 *   bun run echo --vdev net_af_packet0,iface=veth0 --ip 10.0.0.1/24
 */
import { openDevice } from "../src/api/open-device";
import { Stack } from "../src/api/stack";
import { stackConfigFrom } from "../src/api/stack-config";
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
  const stack = new Stack(dev, { ip: cfg.ip, prefixLen: cfg.prefixLen, gateway: cfg.gateway });
  console.log(`echo: up on ${formatIpv4(cfg.ip)}/${cfg.prefixLen} mac ${formatMac(dev.caps.mac, 0)} dev ${dev.caps.name}`);
  const running = stack.run();
  const duration = args.values["duration"] as number | undefined;
  const reason = await Promise.race([
    onStopSignal(),
    duration !== undefined ? Bun.sleep(duration * 1000).then(() => "duration") : new Promise<string>(() => {}),
  ]);
  await stack.stop();
  await running;
  const c = stack.netif.counters;
  console.log(`echo: stopping (${reason}): ${c.rxFrames} frames in, ${c.icmpEchoReplies} echo replies, ${c.arpRepliesSent} ARP replies, ${c.totalDrops()} dropped`);
  if (args.values["stats"]) console.log(JSON.stringify({ net: c.snapshot(), dev: dev.stats() }));
  stack.close();
  return 0;
});
