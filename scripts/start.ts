/**
 * `npm start`: the main job on an embedded default. Until the iotep benchmark
 * lands, a self-contained demo: make a network namespace with a veth into it,
 * bring the stack up on the root end through DPDK's net_af_packet, let the
 * namespace's Linux kernel ping the stack and talk TCP to it, print what
 * happened, and clean up.
 */
import { hugepagesFree } from "../ffi/eal";
import { openDevice } from "../src/api/open-device";
import { Stack } from "../src/api/stack";
import { stackConfigFrom } from "../src/api/stack-config";
import { TcpSockets } from "../src/api/tcp-sockets";
import { ConfigError } from "../src/api/errors";
import { createVethNs, netnsSkipReason } from "./netns";

const STACK_IP = "10.231.0.1";
const PEER_IP = "10.231.0.2";

async function run(cmd: string[]): Promise<{ code: number; out: string }> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, out: out + err };
}

async function main(): Promise<number> {
  const why = netnsSkipReason();
  if (why !== null) {
    console.error(`start: the demo ${why}`);
    return 2;
  }
  const noHuge = hugepagesFree() === 0;
  if (noHuge) console.log("start: no free 2 MB hugepages; running with --no-huge");
  const env = createVethNs({ tag: "demo", nsAddr: `${PEER_IP}/24` });
  try {
    const ns = env.ns;
    const host = env.hostIf;
    console.log(`start: namespace ${ns} (${PEER_IP}) <-> veth ${host} <-> stack ${STACK_IP} over DPDK net_af_packet`);
    const cfg = stackConfigFrom({ vdev: [`net_af_packet0,iface=${host}`], ip: `${STACK_IP}/24`, "no-huge": noHuge });
    const dev = await openDevice(cfg);
    const stack = new Stack(dev, { ip: cfg.ip, prefixLen: cfg.prefixLen });
    const sockets = new TcpSockets(stack);
    let tcpBytes = 0;
    sockets.listen({
      port: 7,
      socket: {
        data(s, d) {
          tcpBytes += d.length;
          s.write(d);
        },
        end(s) {
          s.end();
        },
      },
    });
    const loop = stack.run();

    const ping = await run(["ip", "netns", "exec", ns, "ping", "-c", "20", "-i", "0.05", "-W", "1", STACK_IP]);
    const summary = ping.out.split("\n").filter((l) => /packets transmitted|rtt/.test(l));
    console.log(`start: ping from the namespace: ${summary.join("; ") || ping.out.trim()}`);

    const msg = "hello from the Linux kernel through QStack for Bun\n";
    const nc = await run(["ip", "netns", "exec", ns, "sh", "-c", `printf '%s' '${msg}' | timeout 5 nc -N ${STACK_IP} 7`]);
    const echoed = nc.out === msg;
    console.log(`start: TCP echo via kernel nc: ${echoed ? "echoed intact" : "FAILED: got " + JSON.stringify(nc.out)} (${tcpBytes} bytes)`);

    await stack.stop();
    await loop;
    const c = stack.netif.counters;
    console.log(`start: stack counters: ${c.rxFrames} frames in, ${c.icmpEchoReplies} echo replies, ${c.arpRepliesSent} ARP replies, ${c.totalDrops()} dropped`);
    stack.close();
    return ping.code === 0 && echoed ? 0 : 1;
  } finally {
    env.remove();
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`start: ${e instanceof ConfigError ? e.message : (e as Error).stack}`);
    process.exit(e instanceof ConfigError ? 2 : 1);
  },
);
