/**
 * bench/iotep: QStack's IoT endpoint benchmark, our stack beside the kernel
 * baseline in one invocation.
 *
 *   bun run bench iotep [--conns N] [--epoch S] [--ratio R] [--duration S] [--json FILE]
 *
 * Our stack: iotepserver and mcc as two processes joined by net_memif, a
 * private redis-server, the server pairing request and reply frames live at
 * its rx/tx bursts (iotepserver --monitor, HCMonitor's view; --pcap-wire also
 * records a pcap and pairs it offline).
 * Kernel baseline: the same server and generator logic on Bun's kernel
 * sockets over loopback, at --kernel-conns: several server and generator
 * processes (one process holds at most ~20,000 sockets here) and several
 * server ports (connect() slows as an ephemeral range fills). Both warm up
 * (unmeasured sending) before measuring.
 *
 * Prints the machine, commit and parameters, a table of latency percentiles
 * per side and view (client round trip, wire, in-server per class), the
 * kernel/ours p99 ratio and the distance to the target (1 M connections,
 * request p99 <= 1 ms at the wire); writes --json and an HTML report with the
 * CDF plot under --out.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseAppArgs, runMain } from "../apps/common";
import { DEFAULT_CLIENT_TICK_US, DEFAULT_PLACEMENT, DEFAULT_REDIS_NICE, DEFAULT_RT, runIotepBench } from "../apps/iotep/bench-run";
import { parsePlacement, parseRt } from "../apps/iotep/placement";
import { splitArgs } from "../src/api/stack-config";

const spec = {
  name: "bench iotep",
  usage: "bun run bench iotep [--conns N] [--kernel-conns N] [--epoch S] [--ratio R] [--warmup S] [--duration S] [--json FILE]",
  about: "iotep benchmark: our stack (net_memif, wire monitor) beside Bun's kernel sockets, same server and generator logic.",
  stackFlags: false,
  flags: [
    { name: "conns", type: "int" as const, arg: "N", default: 10_000, min: 1, help: "connections on our stack" },
    { name: "kernel-conns", type: "int" as const, arg: "N", min: 0, help: "connections for the kernel baseline (default min(conns, 100000); 0 skips it)" },
    { name: "epoch", type: "number" as const, arg: "S", default: 10, min: 0.001, help: "seconds between two messages of one connection (QStack: 60)" },
    { name: "ratio", type: "number" as const, arg: "R", default: 0.05, min: 0, max: 1, help: "fraction of requests" },
    { name: "length", short: "l", type: "int" as const, arg: "LEN", default: 200, min: 9, help: "message length" },
    { name: "setup", type: "number" as const, arg: "S", help: "seconds to open the connections (default conns / 4000, at least 2)" },
    { name: "wait", type: "number" as const, arg: "S", default: 1, min: 0, help: "pause between setup and sending" },
    { name: "warmup", type: "number" as const, arg: "S", default: 5, min: 0, help: "unmeasured sending before the measurement" },
    { name: "duration", type: "number" as const, arg: "S", help: "measured seconds (default one epoch)" },
    { name: "no-wire", type: "bool" as const, help: "no wire view (no live monitor in the server, no pcap)" },
    { name: "pcap-wire", type: "bool" as const, help: "also record the server's pcap and pair it offline, beside the live view" },
    { name: "breakdown", type: "bool" as const, help: "iotepserver --breakdown: where requests' time goes inside the server" },
    { name: "busy-poll", type: "bool" as const, help: "run both stack processes with --busy-poll" },
    {
      name: "stack-args",
      type: "string" as const,
      arg: "ARGS",
      default: "--idle-spin-us 0",
      help: "extra flags for both stack processes, quoted (the default stops the poll loops spinning between messages: server, generator and Redis share few cores)",
    },
    { name: "server-args", type: "string" as const, arg: "ARGS", help: "extra flags for iotepserver only, quoted" },
    { name: "client-args", type: "string" as const, arg: "ARGS", help: "extra flags for mcc only, quoted" },
    { name: "huge", type: "bool" as const, help: "use hugepages (default --no-huge)" },
    { name: "placement", type: "string" as const, arg: "P", default: DEFAULT_PLACEMENT, help: "split: iotepserver on CPU 0, redis-server and mcc on the others; none: all float (apps/iotep/placement.ts)" },
    { name: "gc-timer", type: "bool" as const, help: "keep Bun's GC timer in iotepserver and mcc (default: started with BUN_GC_TIMER_DISABLE=1: no timed Eden collection on the request path)" },
    { name: "no-idle-poller", type: "bool" as const, help: "do not keep the CPUs from halting during the runs (default: build/qs-idle-poll runs at SCHED_IDLE: src/api/idle-poller.ts)" },
    { name: "allocator-defaults", type: "bool" as const, help: "keep Bun's allocator defaults in iotepserver and mcc (default: started with MIMALLOC_PURGE_DELAY=-1 BUN_JSC_decommitUnusedMarkedBlockPages=false: src/api/runtime-env.ts)" },
    { name: "tick-us", type: "int" as const, arg: "US", default: DEFAULT_CLIENT_TICK_US, min: 0, help: "our stack's generator: send schedule quantum (mcc --tick-us; 0 = exact, spins a core)" },
    { name: "rt", type: "string" as const, arg: "LIST", default: DEFAULT_RT.join(",") || "none", help: "run redis-server, our iotepserver and/or our mcc under SCHED_FIFO 1 (chrt, as root): a comma list of redis, server, client, or none" },
    { name: "client-nice", type: "int" as const, arg: "N", default: 0, min: -20, max: 19, help: "nice value of our stack's mcc (0: unchanged)" },
    { name: "redis-nice", type: "int" as const, arg: "N", default: DEFAULT_REDIS_NICE, min: -20, max: 19, help: "nice value of our redis-server (0: unchanged)" },
    { name: "out", type: "string" as const, arg: "DIR", default: "bench-results/iotep", help: "directory for the report" },
    { name: "json", type: "string" as const, arg: "FILE", help: "write the results as JSON" },
    { name: "verbose", type: "bool" as const, help: "echo the processes' output" },
  ],
};

runMain("bench iotep", async () => {
  const v = parseAppArgs(spec).values;
  const conns = v["conns"] as number;
  const epochS = v["epoch"] as number;
  const res = await runIotepBench({
    label: "bench iotep",
    conns,
    kernelConns: (v["kernel-conns"] as number | undefined) ?? Math.min(conns, 100_000),
    epochS,
    ratio: v["ratio"] as number,
    msgLen: v["length"] as number,
    setupS: v["setup"] as number | undefined,
    waitS: v["wait"] as number,
    warmupS: v["warmup"] as number,
    durationS: (v["duration"] as number | undefined) ?? epochS,
    wire: v["no-wire"] !== true && v["pcap-wire"] === true,
    liveWire: v["no-wire"] !== true,
    stackFlags: [...(v["busy-poll"] === true ? ["--busy-poll"] : []), ...splitArgs((v["stack-args"] as string | undefined) ?? "")],
    serverFlags: [...(v["breakdown"] === true ? ["--breakdown"] : []), ...splitArgs((v["server-args"] as string | undefined) ?? "")],
    clientFlags: splitArgs((v["client-args"] as string | undefined) ?? ""),
    huge: v["huge"] === true,
    placement: parsePlacement(v["placement"] as string),
    redisNice: v["redis-nice"] as number,
    clientTickUs: v["tick-us"] as number,
    gcTimer: v["gc-timer"] === true,
    allocatorDefaults: v["allocator-defaults"] === true,
    idlePoller: v["no-idle-poller"] !== true,
    clientNice: v["client-nice"] as number,
    rt: parseRt(v["rt"] as string),
    outDir: v["out"] as string,
    echo: v["verbose"] === true ? (l: string) => console.log(l) : undefined,
  });
  const jsonOut = v["json"] as string | undefined;
  if (jsonOut !== undefined) writeFileSync(jsonOut, readFileSync(res.report.json, "utf8"));
  console.log(`bench iotep: report ${res.report.html}${jsonOut ? `, JSON ${jsonOut}` : ""}`);
  return 0;
});
