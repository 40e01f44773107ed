/**
 * bench/iotep: QStack's IoT endpoint benchmark, our stack beside the kernel
 * baseline in one invocation.
 *
 *   bun run bench iotep [--conns N] [--epoch S] [--ratio R] [--duration S] [--json FILE]
 *
 * Our stack: iotepserver and mcc as two processes joined by net_memif, a
 * private redis-server, the server recording a pcap that the wire monitor
 * pairs (request -> reply at the server's rx/tx bursts, HCMonitor's view).
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
import { cpus, totalmem, release } from "node:os";
import { parseAppArgs, runMain } from "../apps/common";
import { decodeHistogram, latencyTable, textTable, writeResults, type NamedHistogram } from "../apps/iotep/results";
import { runIotep, type IotepRunResult } from "../apps/iotep/orchestrate";
import { splitArgs } from "../src/api/stack-config";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

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
    { name: "no-wire", type: "bool" as const, help: "do not record a pcap / run the wire monitor" },
    { name: "busy-poll", type: "bool" as const, help: "run both stack processes with --busy-poll" },
    {
      name: "stack-args",
      type: "string" as const,
      arg: "ARGS",
      default: "--idle-spin-us 0",
      help: "extra flags for both stack processes, quoted (the default stops the poll loops spinning between messages: server, generator and Redis share few cores)",
    },
    { name: "huge", type: "bool" as const, help: "use hugepages (default --no-huge)" },
    { name: "out", type: "string" as const, arg: "DIR", default: "bench-results/iotep", help: "directory for the report" },
    { name: "json", type: "string" as const, arg: "FILE", help: "write the results as JSON" },
    { name: "verbose", type: "bool" as const, help: "echo the processes' output" },
  ],
};

function commit(): string {
  const p = Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"], { cwd: join(import.meta.dir, "..") });
  return p.exitCode === 0 ? p.stdout.toString().trim() : "unknown";
}

function series(r: IotepRunResult, side: string): NamedHistogram[] {
  const out: NamedHistogram[] = [];
  const add = (name: string, b64: string | undefined): void => {
    if (b64 !== undefined) out.push({ name: `${side} ${name}`, h: decodeHistogram(b64) });
  };
  add("client request", r.client.histograms?.["request (client)"]);
  if (r.wire !== null) add("wire request", r.wire.histograms?.["request (wire)"]);
  add("server request", r.server.histograms?.request);
  add("server heartbeat", r.server.histograms?.heartbeat);
  return out;
}

runMain("bench iotep", async () => {
  const v = parseAppArgs(spec).values;
  const conns = v["conns"] as number;
  const kconns = (v["kernel-conns"] as number | undefined) ?? Math.min(conns, 100_000);
  const epochS = v["epoch"] as number;
  const common = {
    setupS: 0,
    waitS: v["wait"] as number,
    epochS,
    warmupS: v["warmup"] as number,
    durationS: (v["duration"] as number | undefined) ?? epochS,
    ratio: v["ratio"] as number,
    msgLen: v["length"] as number,
  };
  const setupFor = (c: number): number => (v["setup"] as number | undefined) ?? Math.max(2, Math.ceil(c / 4000));
  const machine = { cpu: cpus()[0]?.model ?? "?", cores: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30), kernel: release(), bun: Bun.version, commit: commit() };
  const params = { conns, kernelConns: kconns, ...common, perSecond: Math.ceil(conns / epochS), wire: v["no-wire"] !== true, busyPoll: v["busy-poll"] === true, stackArgs: (v["stack-args"] as string | undefined) ?? "" };
  console.log(`bench iotep: ${machine.cpu} x${machine.cores}, ${machine.memGiB} GiB, Linux ${machine.kernel}, Bun ${machine.bun}, commit ${machine.commit}`);
  console.log(`bench iotep: ${JSON.stringify(params)}`);
  const echo = v["verbose"] === true ? (l: string) => console.log(l) : undefined;
  const outDir = v["out"] as string;

  console.log(`bench iotep: our stack, ${conns} connections ...`);
  const ours = await runIotep({
    transport: "qstack",
    conns,
    ...common,
    setupS: setupFor(conns),
    wire: v["no-wire"] !== true,
    stackFlags: [...(v["busy-poll"] === true ? ["--busy-poll"] : []), ...splitArgs((v["stack-args"] as string | undefined) ?? "")],
    huge: v["huge"] === true,
    echo,
    outDir: join(outDir, "qstack"),
  });
  let kernel: IotepRunResult | null = null;
  if (kconns > 0) {
    console.log(`bench iotep: kernel sockets, ${kconns} connections ...`);
    kernel = await runIotep({ transport: "kernel", conns: kconns, ...common, setupS: setupFor(kconns), wire: false, echo, outDir: join(outDir, "kernel") });
  }

  const all = [...series(ours, "qstack"), ...(kernel ? series(kernel, "kernel") : [])];
  console.log("");
  console.log(textTable(latencyTable("iotep latency (ms)", all)));
  const p99 = (r: IotepRunResult | null, key: "request (client)"): number => r?.client.latencyUs?.[key]?.p99Us ?? 0;
  const ratio = kernel && p99(ours, "request (client)") > 0 ? p99(kernel, "request (client)") / p99(ours, "request (client)") : null;
  const count = (r: IotepRunResult) => ({
    connections: r.client.counters.connected,
    sent: r.client.counters.sent,
    requests: r.client.counters.sentRequests,
    replies: r.client.counters.replies,
    unanswered: r.client.counters.unanswered,
    serverFailed: r.server.counters.failedRequests + r.server.counters.failedHeartbeats,
    serverPeakRssMiB: Math.round((r.server.memory?.peakRssBytes ?? 0) / 2 ** 20),
    serverBytesPerConn: r.server.memory?.bytesPerConnection ?? null,
  });
  console.log("");
  console.log(`qstack: ${JSON.stringify(count(ours))}`);
  if (kernel) console.log(`kernel: ${JSON.stringify(count(kernel))}`);
  if (ratio !== null) console.log(`client request p99, kernel / ours: ${ratio.toFixed(2)}x (${kconns} vs ${conns} connections)`);
  const wireP99 = ours.wire?.latencyUs?.["request (wire)"]?.p99Us;
  console.log(
    `target: 1,000,000 connections with wire request p99 <= 1 ms; this run: ${ours.client.counters.connected} connections, wire p99 ${wireP99 !== undefined ? (wireP99 / 1000).toFixed(3) + " ms" : "not measured"}`,
  );

  const report = writeResults({
    dir: outDir,
    base: "iotep",
    title: `iotep: QStack for Bun (${conns} connections) vs kernel sockets (${kconns})`,
    subtitle: `${machine.cpu} x${machine.cores}, Bun ${machine.bun}, commit ${machine.commit}`,
    params: { ...params, ...machine },
    series: all,
    tables: [{ caption: "Counts", header: ["side", "connections", "sent", "requests", "replies", "unanswered", "server failed", "server peak RSS MiB", "server B/conn"], rows: [["qstack", ...Object.values(count(ours))], ...(kernel ? [["kernel", ...Object.values(count(kernel))]] : [])] }],
    notes: [
      "client request: round trip at the generator from the scheduled send time (coordinated omission corrected); wire request: request frame to reply frame at the server's rx/tx bursts (pcap); server: arrival to completion inside the server, per class.",
      "Heartbeats get no reply, so only the server sees their latency.",
    ],
    json: { machine, ours: { counts: count(ours), server: ours.server.counters }, kernel: kernel ? { counts: count(kernel), server: kernel.server.counters } : null, ratioKernelOverOursP99: ratio },
    cdfInfo: { connections: conns, kernel_connections: kconns },
  });
  const jsonOut = v["json"] as string | undefined;
  if (jsonOut !== undefined) writeFileSync(jsonOut, readFileSync(report.json, "utf8"));
  console.log(`bench iotep: report ${report.html}${jsonOut ? `, JSON ${jsonOut}` : ""}`);
  return 0;
});
