/**
 * `npm start`: the main job, QStack's iotep benchmark on an embedded default
 * sized for a small (2-core) machine:
 *
 *   - a private redis-server on a Unix socket (unless --redis-socket names a running one),
 *   - iotepserver and mcc as two processes on our stack joined by net_memif,
 *   - DEFAULT_CONNS persistent connections, one 200-byte message per connection per
 *     60 s epoch, 5 % of them requests (QStack's workload shape), a warm-up, then
 *     a measured window,
 *   - the wire monitor pairing request and reply frames live at the server's
 *     rx/tx bursts (iotepserver --monitor; --pcap-wire adds the pcap-based view beside it),
 *
 * then the per-class latency table (client, wire and in-server views) and the
 * report's path. Ctrl+C (or SIGTERM) stops every process and removes what the
 * run made. Hugepages are used when enough are free; otherwise --no-huge with
 * a one-line notice.
 *
 * Why the default: 100,000 connections is the example and the largest
 * count the kernel baseline here also reaches (bench iotep); with the 60 s epoch
 * that is ~1,700 messages/s (~85 requests/s), which a 2-core machine running
 * server, generator and Redis carries without queueing, and 25 s of setup +
 * 10 s warm-up + 30 s measured (~2,500 requests) finishes in about two minutes.
 * `bun run bench iotep --conns 1000000` is the full-size run.
 *
 *   npm start                                  the benchmark (as root, after setup)
 *   bun run scripts/start.ts --conns 20000     smaller / other parameters (--help)
 *   bun run scripts/start.ts --demo            the earlier veth/ping/nc demo
 */
import { hugepagesFree } from "../ffi/eal";
import { parseAppArgs } from "../apps/common";
import { DEFAULT_RT } from "../apps/iotep/bench-run";
import { parseRt } from "../apps/iotep/placement";
import { runIotepBench } from "../apps/iotep/bench-run";
import { IotepAborted } from "../apps/iotep/orchestrate";
import { planCapacity } from "../src/api/capacity";
import { openDevice } from "../src/api/open-device";
import { Stack } from "../src/api/stack";
import { stackConfigFrom } from "../src/api/stack-config";
import { TcpSockets } from "../src/api/tcp-sockets";
import { ConfigError } from "../src/api/errors";
import { createVethNs, isRoot, netnsSkipReason } from "./netns";

const STACK_IP = "10.231.0.1";
const PEER_IP = "10.231.0.2";

export const DEFAULT_CONNS = 100_000;

const spec = {
  name: "start",
  usage: "npm start  |  bun run scripts/start.ts [--conns N] [--epoch S] [--ratio R] [--warmup S] [--duration S] [--out DIR] [--demo]",
  about: "QStack for Bun's main job: the iotep benchmark (iotepserver + mcc over net_memif, Redis, wire monitor) on a small default.",
  stackFlags: false,
  flags: [
    { name: "demo", type: "bool" as const, help: "run the veth/ping/nc demo instead" },
    { name: "conns", type: "int" as const, arg: "N", default: DEFAULT_CONNS, min: 1, help: "connections" },
    { name: "epoch", type: "number" as const, arg: "S", default: 60, min: 0.001, help: "seconds between two messages of one connection" },
    { name: "ratio", type: "number" as const, arg: "R", default: 0.05, min: 0, max: 1, help: "fraction of requests" },
    { name: "setup", type: "number" as const, arg: "S", help: "seconds to open the connections (default conns / 4000, at least 2)" },
    { name: "warmup", type: "number" as const, arg: "S", default: 10, min: 0, help: "unmeasured sending first (JIT warm-up)" },
    { name: "duration", type: "number" as const, arg: "S", default: 30, min: 1, help: "measured seconds" },
    { name: "kernel-conns", type: "int" as const, arg: "N", default: 0, min: 0, help: "also run the kernel-socket baseline with N connections (bench iotep does by default)" },
    { name: "redis-socket", type: "string" as const, arg: "PATH", help: "use this running redis-server (Unix socket) instead of starting one" },
    { name: "redis-mode", type: "string" as const, arg: "MODE", help: "iotepserver's --redis-mode (script: one Lua script per message, the default; commands: GET/SET/GET)" },
    { name: "breakdown", type: "bool" as const, help: "iotepserver --breakdown: where requests' time goes inside the server" },
    { name: "pcap-wire", type: "bool" as const, help: "also record the server's pcap and pair it offline (the earlier wire view), beside the live one" },
    { name: "no-huge", type: "bool" as const, help: "do not use hugepages" },
    { name: "rt", type: "string" as const, arg: "LIST", default: DEFAULT_RT.join(",") || "none", help: "run redis-server, iotepserver and/or mcc under SCHED_FIFO 1 (as root): a comma list of redis, server, client, or none" },
    { name: "gc-timer", type: "bool" as const, help: "keep Bun's GC timer in iotepserver and mcc (default: started with BUN_GC_TIMER_DISABLE=1)" },
    { name: "no-idle-poller", type: "bool" as const, help: "do not keep the CPUs from halting during the run (default: build/qs-idle-poll at SCHED_IDLE)" },
    { name: "allocator-defaults", type: "bool" as const, help: "keep Bun's allocator defaults in iotepserver and mcc (default: started with MIMALLOC_PURGE_DELAY=-1 BUN_JSC_decommitUnusedMarkedBlockPages=false)" },
    { name: "out", type: "string" as const, arg: "DIR", default: "bench-results/start", help: "directory for the report" },
    { name: "verbose", type: "bool" as const, help: "echo the processes' output" },
  ],
};

/** 2 MB pages both stack processes need for `conns`: TCP tables and buffers, plus the mbuf pool and EAL. */
function hugepagesNeeded(conns: number): number {
  const cfg = stackConfigFrom({ vdev: ["net_null0"], ip: "10.0.0.1/24", "max-conns": conns + 1024 });
  const plan = planCapacity(cfg.capacity, { sndBufBytes: 16 * 1024, rcvBufBytes: 16 * 1024 });
  const perProcess = plan.totalBytes + 96 * 2 ** 20;
  return Math.ceil((2 * perProcess) / (2 * 2 ** 20));
}

async function bench(v: Record<string, unknown>): Promise<number> {
  const rt = parseRt(v["rt"] as string);
  if (!isRoot) throw new ConfigError("npm start runs DPDK (net_memif): run it as root");
  const conns = v["conns"] as number;
  let huge = v["no-huge"] !== true;
  if (huge) {
    const need = hugepagesNeeded(conns);
    const free = hugepagesFree();
    if (free < need) {
      console.log(`start: notice: ${free} free 2 MB hugepages, ${need} wanted for ${conns} connections; running with --no-huge`);
      huge = false;
    }
  }
  const ac = new AbortController();
  let signalled = "";
  const onSig = (sig: string): void => {
    if (signalled !== "") return;
    signalled = sig;
    console.log(`\nstart: ${sig}: stopping the processes and cleaning up ...`);
    ac.abort();
  };
  process.on("SIGINT", onSig);
  process.on("SIGTERM", onSig);
  try {
    const res = await runIotepBench({
      label: "start",
      conns,
      kernelConns: v["kernel-conns"] as number,
      epochS: v["epoch"] as number,
      ratio: v["ratio"] as number,
      msgLen: 200,
      setupS: v["setup"] as number | undefined,
      waitS: 1,
      warmupS: v["warmup"] as number,
      durationS: v["duration"] as number,
      wire: v["pcap-wire"] === true,
      liveWire: true,
      stackFlags: ["--idle-spin-us", "0"],
      serverFlags: [...(v["redis-mode"] !== undefined ? ["--redis-mode", v["redis-mode"] as string] : []), ...(v["breakdown"] === true ? ["--breakdown"] : [])],
      huge,
      outDir: v["out"] as string,
      redisSocket: v["redis-socket"] as string | undefined,
      echo: v["verbose"] === true ? (l: string) => console.log(l) : undefined,
      abort: ac.signal,
      rt,
      gcTimer: v["gc-timer"] === true,
      allocatorDefaults: v["allocator-defaults"] === true,
      idlePoller: v["no-idle-poller"] !== true,
    });
    console.log(`start: report ${res.report.html} (JSON ${res.report.json})`);
    const c = res.ours.client.counters;
    return c.connected > 0 && c.replies > 0 ? 0 : 1;
  } catch (e) {
    if (e instanceof IotepAborted) {
      console.log(`start: stopped (${signalled}); processes ended, temporary files removed`);
      return 130;
    }
    throw e;
  } finally {
    process.off("SIGINT", onSig);
    process.off("SIGTERM", onSig);
  }
}

async function run(cmd: string[]): Promise<{ code: number; out: string }> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  return { code: await p.exited, out: out + err };
}

/** The veth/ping/nc demo (`bun run scripts/start.ts --demo`). */
async function demo(): Promise<number> {
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

async function main(): Promise<number> {
  const v = parseAppArgs(spec).values;
  if (v["demo"] === true) return demo();
  return bench(v);
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`start: ${e instanceof ConfigError ? e.message : (e as Error).stack}`);
    process.exit(e instanceof ConfigError ? 2 : 1);
  },
);
