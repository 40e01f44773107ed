/**
 * bench/multi: echo request/response rate with one stack thread vs several
 * (--layout stack=1 vs stack=N), on the same kind of device, in one run.
 *
 *   bun run bench multi [--threads N] [--dev afpacket|tap] [--conns C] [--size B]
 *                       [--warmup S] [--seconds S] [--rounds R] [--echo-args "FLAGS"] [--json FILE]
 *
 * Server: apps/echo.ts over net_af_packet (qpairs=N for N threads) on a veth, or
 * net_tap (N queues) moved into the namespace. Client: Linux kernel sockets in a
 * network namespace (bench/tcp-peer.ts --impl kernel --workload rr, closed loop:
 * one request of --size bytes in flight per connection). Each round runs stack=1
 * then stack=N (fresh namespace and process each); the table shows every round,
 * the median rate per layout and the ratio. Client and server share this
 * machine's cores (nproc is printed): on 2 cores the client competes with the
 * stack threads, so the gain from a second stack thread can be small or negative.
 * Needs root; hold /work/heavy.lock (or run nothing else) while it runs.
 */
import { gitCommit, machineInfo, machineLine } from "./machine-info";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { parseProgramArgs } from "../src/api/cli";
import { AppProcess } from "../test/helpers/app-process";
import { createVethNs, must, run } from "../scripts/netns";

const flags = parseProgramArgs({
  name: "bench multi",
  usage: "bun run bench multi [--threads N] [--dev afpacket|tap] [--conns C] [--size B] [--warmup S] [--seconds S] [--rounds R] [--echo-args \"FLAGS\"] [--json FILE]",
  about: "Echo request/response rate with one stack thread vs several (--layout stack=1 vs stack=N), in one run. Needs root.",
  flags: [
    { name: "threads", type: "int", arg: "N", default: 2, min: 1, help: "stack threads of the multi-thread layout" },
    { name: "dev", type: "string", arg: "afpacket|tap", default: "afpacket", help: "the server's device kind" },
    { name: "conns", type: "int", arg: "C", default: 200, min: 1, help: "client connections" },
    { name: "size", type: "int", arg: "B", default: 64, min: 1, help: "request bytes" },
    { name: "warmup", type: "number", arg: "S", default: 2, min: 0, help: "seconds of warm-up per run" },
    { name: "seconds", type: "number", arg: "S", default: 8, min: 0.1, help: "seconds measured per run" },
    { name: "rounds", type: "int", arg: "R", default: 2, min: 1, help: "rounds (each runs stack=1 then stack=N)" },
    { name: "echo-args", type: "string", arg: "FLAGS", default: "", help: "extra flags for both echo servers, e.g. \"--idle-spin-us 0\"" },
    { name: "json", type: "string", arg: "FILE", default: "", help: "write the results as JSON" },
  ],
}).values;
const threads = flags["threads"] as number;
const devKind = flags["dev"] as string;
const conns = flags["conns"] as number;
const size = flags["size"] as number;
const warmupS = flags["warmup"] as number;
const seconds = flags["seconds"] as number;
const rounds = flags["rounds"] as number;
const jsonFile = flags["json"] as string;
/** Extra flags for both echo servers, e.g. "--idle-spin-us 0". */
const echoArgs = (flags["echo-args"] as string).split(" ").filter((x) => x !== "");
if (devKind !== "afpacket" && devKind !== "tap") {
  console.error("bench multi: --dev afpacket|tap");
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error("bench multi: needs root (namespaces, raw sockets)");
  process.exit(2);
}
const noHuge = Number(run(["cat", "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"]).stdout.trim() || 0) < 64;
const PEER = join(import.meta.dir, "tcp-peer.ts");

interface Row {
  round: number;
  layout: string;
  rate: number;
  p50Us: number;
  p99Us: number;
  perThread: string;
}

async function one(round: number, n: number): Promise<Row> {
  const net = `10.${230 + n}.${round}`;
  const env = createVethNs({ tag: "bmulti", nsAddr: devKind === "afpacket" ? `${net}.2/24` : undefined });
  const tap = `qb${Math.floor(Math.random() * 1e6).toString(36)}`;
  const vdev = devKind === "afpacket" ? `net_af_packet0,iface=${env.hostIf}${n > 1 ? `,qpairs=${n}` : ""}` : `net_tap0,iface=${tap}`;
  const app = new AppProcess("echo", ["--vdev", vdev, "--ip", `${net}.1/24`, "--layout", `stack=${n}`, "--max-conns", "4096", ...echoArgs, ...(noHuge ? ["--no-huge"] : [])]);
  try {
    await app.waitFor(/echo: up on/, 30_000);
    if (devKind === "tap") {
      must(["ip", "link", "set", tap, "netns", env.ns]);
      must([...env.prefix, "ip", "addr", "add", `${net}.2/24`, "dev", tap]);
      must([...env.prefix, "ip", "link", "set", tap, "up"]);
      run([...env.prefix, "ethtool", "-K", tap, "tx", "off", "tso", "off", "gso", "off", "gro", "off"]);
    }
    const r = env.exec([process.execPath, PEER, "--impl", "kernel", "--role", "client", "--workload", "rr", "--ip", `${net}.2`, "--host", `${net}.1`, "--port", "7",
      "--conns", String(conns), "--size", String(size), "--warmup", String(warmupS), "--seconds", String(seconds)], { timeoutMs: (warmupS + seconds + 60) * 1000 });
    const line = r.stdout.split("\n").find((l) => l.includes('"ev":"result"'));
    if (line === undefined) throw new Error(`client gave no result: ${r.stdout.slice(-500)} ${r.stderr.slice(-500)}`);
    const res = JSON.parse(line) as { rate: number; latency: { p50Us: number; p99Us: number } };
    await app.stop();
    const per = /echo: stack threads: (.*)/.exec(app.stdout)?.[1] ?? "";
    return { round, layout: `stack=${n}`, rate: res.rate, p50Us: res.latency.p50Us, p99Us: res.latency.p99Us, perThread: per.replace(/ bytes \d+| arp-fwd \S+| icmp \d+| cpus [0-9,-]+/g, "") };
  } finally {
    await app.stop();
    env.remove();
  }
}

const commit = gitCommit();
console.log(machineLine(commit));
console.log(`bench multi: dev ${devKind}, stack=1 vs stack=${threads}, ${conns} connections, ${size}-byte requests closed loop, warm-up ${warmupS} s, ${seconds} s measured, ${rounds} rounds, echo flags "${echoArgs.join(" ")}"`);
const rows: Row[] = [];
for (let r = 0; r < rounds; r++) {
  for (const n of [1, threads]) {
    const row = await one(r, n);
    rows.push(row);
    console.log(`round ${r} ${row.layout.padEnd(8)} ${row.rate.toFixed(0).padStart(8)} req/s  p50 ${row.p50Us} us  p99 ${row.p99Us} us  ${row.perThread}`);
  }
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const m1 = median(rows.filter((x) => x.layout === "stack=1").map((x) => x.rate));
const mN = median(rows.filter((x) => x.layout === `stack=${threads}`).map((x) => x.rate));
console.log(`median: stack=1 ${m1.toFixed(0)} req/s, stack=${threads} ${mN.toFixed(0)} req/s, ratio stack=${threads}/stack=1 ${(mN / m1).toFixed(2)}`);
if (jsonFile) {
  writeFileSync(jsonFile, JSON.stringify({ bench: "multi", commit, machine: machineInfo(), bun: Bun.version,
    dev: devKind, echoArgs, threads, conns, size, warmupS, seconds, rows, median: { stack1: m1, stackN: mN }, ratio: mN / m1 }, null, 2));
}
process.exit(0);
