/**
 * bench/multiconnect: active opens per second from several stack threads
 * (--layout stack=N machinery) where the device's flow hash is unknown, with
 * stray-segment forwarding off (the code before src/sched/multi/segment-forward.ts:
 * ports not steered, a SYN-ACK reaching the other thread is answered with RST)
 * and on (ports partitioned by thread, stray segments forwarded), in one run.
 *
 *   bun run bench multiconnect [--dev afpacket|tap] [--threads N] [--par P] [--warmup S] [--seconds S] [--rounds R] [--json FILE]
 *
 * Client: test/dpdk/helpers/multi-connect-child.ts, N stack threads on one port
 * (net_af_packet qpairs=N on a veth, or a multi-queue net_tap moved into the
 * namespace); each keeps P connections in flight: connect, send 100 bytes, wait
 * for the echo, close (a step that takes over 3 s counts as a failure). Server:
 * Linux kernel sockets in a network namespace (bench/tcp-peer.ts --impl kernel
 * echo). Client and server share this machine's cores (nproc is printed). Each
 * round runs forward off then on (fresh namespace and process each); the table
 * shows every round, the median rate per mode and the ratio.
 * Needs root; hold /work/heavy.lock (or run nothing else) while it runs.
 */
import { gitCommit, machineInfo, machineLine } from "./machine-info";
import { join } from "node:path";
import { writeFileSync } from "node:fs";
import { parseProgramArgs } from "../src/api/cli";
import { startChild } from "../test/dpdk/helpers/child";
import type { ThreadResult } from "../test/dpdk/helpers/multi-connect-child";
import { createVethNs, must, run } from "../scripts/netns";
import { lines } from "../scripts/lines";

const flags = parseProgramArgs({
  name: "bench multiconnect",
  usage: "bun run bench multiconnect [--dev afpacket|tap] [--threads N] [--par P] [--warmup S] [--seconds S] [--rounds R] [--json FILE]",
  about: "Active opens per second from N stack threads, stray-segment forwarding off vs on, in one run. Needs root.",
  flags: [
    { name: "dev", type: "string", arg: "afpacket|tap", default: "afpacket", help: "the client's device kind" },
    { name: "threads", type: "int", arg: "N", default: 2, min: 2, max: 8, help: "stack threads" },
    { name: "par", type: "int", arg: "P", default: 8, min: 1, help: "connections in flight per stack thread" },
    { name: "warmup", type: "number", arg: "S", default: 2, min: 0, help: "seconds of warm-up per run (not counted)" },
    { name: "seconds", type: "number", arg: "S", default: 6, min: 0.5, help: "seconds measured per run" },
    { name: "rounds", type: "int", arg: "R", default: 3, min: 1, help: "rounds (each runs forward off then on)" },
    { name: "json", type: "string", arg: "FILE", default: "", help: "write the results as JSON" },
  ],
}).values;
const devKind = flags["dev"] as string;
const threads = flags["threads"] as number;
const par = flags["par"] as number;
const warmupS = flags["warmup"] as number;
const seconds = flags["seconds"] as number;
const rounds = flags["rounds"] as number;
const jsonFile = flags["json"] as string;
if (devKind !== "afpacket" && devKind !== "tap") {
  console.error("bench multiconnect: --dev afpacket|tap");
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error("bench multiconnect: needs root (namespaces, raw sockets)");
  process.exit(2);
}
const PEER = join(import.meta.dir, "tcp-peer.ts");

type Per = ThreadResult & { segSent: number; segInjected: number; segDropped: number };

interface Row {
  round: number;
  forward: boolean;
  rate: number;
  ok: number;
  failed: number;
  perThread: Per[];
}

async function one(round: number, forward: boolean): Promise<Row> {
  const net = `10.${240 + (forward ? 1 : 0)}.${round}`;
  const env = createVethNs({ tag: "bmconn", nsAddr: devKind === "afpacket" ? `${net}.2/24` : undefined });
  const tap = `qk${Math.floor(Math.random() * 1e6).toString(36)}`;
  const vdev = devKind === "afpacket" ? `net_af_packet0,iface=${env.hostIf},qpairs=${threads}` : `net_tap0,iface=${tap}`;
  const child = startChild("multi-connect-child.ts", [vdev, `${net}.1/24`, `${net}.2`, "0", forward ? "1" : "0", String(threads), String(par), String(seconds), String(warmupS)]);
  try {
    await child.waitEv("up", 30_000);
    if (devKind === "tap") {
      must(["ip", "link", "set", tap, "netns", env.ns]);
      must([...env.prefix, "ip", "addr", "add", `${net}.2/24`, "dev", tap]);
      must([...env.prefix, "ip", "link", "set", tap, "up"]);
      run([...env.prefix, "ethtool", "-K", tap, "tx", "off", "tso", "off", "gso", "off", "gro", "off"]);
    }
    const srv = env.spawn([process.execPath, PEER, "--impl", "kernel", "--role", "server", "--workload", "rr", "--ip", `${net}.2`, "--port", "7"]);
    for await (const l of lines(srv.stdout)) if (l.includes('"ev":"ready"')) break;
    child.send("go");
    const res = (await child.waitEv("result", (warmupS + seconds + 90) * 1000)) as unknown as { threads: Per[] };
    let ok = 0;
    let failed = 0;
    for (const t of res.threads) {
      ok += t.ok;
      failed += t.failed;
    }
    return { round, forward, rate: ok / seconds, ok, failed, perThread: res.threads };
  } finally {
    child.kill();
    env.remove();
  }
}

const commit = gitCommit();
console.log(machineLine(commit));
console.log(`bench multiconnect: dev ${devKind}, stack=${threads}, ${par} connections in flight per thread (connect, 100 B echoed, close), warm-up ${warmupS} s, ${seconds} s measured, ${rounds} rounds`);
const rows: Row[] = [];
for (let r = 0; r < rounds; r++) {
  for (const fwd of [false, true]) {
    const row = await one(r, fwd);
    rows.push(row);
    const per = row.perThread
      .map((t, i) => `#${i} ok ${t.ok} failed ${t.failed} p50 ${t.p50Us} us p99 ${t.p99Us} us rst ${t.rstsSent} seg-fwd ${t.segSent}/${t.segInjected}/${t.segDropped}`)
      .join("; ");
    console.log(`round ${r} forward ${fwd ? "on " : "off"} ${row.rate.toFixed(0).padStart(7)} conn/s  failed ${row.failed}  ${per}`);
  }
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const off = median(rows.filter((x) => !x.forward).map((x) => x.rate));
const on = median(rows.filter((x) => x.forward).map((x) => x.rate));
const failOff = rows.filter((x) => !x.forward).reduce((a, x) => a + x.failed, 0);
const failOn = rows.filter((x) => x.forward).reduce((a, x) => a + x.failed, 0);
console.log(`median: forward off ${off.toFixed(0)} conn/s (${failOff} failed in all rounds), forward on ${on.toFixed(0)} conn/s (${failOn} failed), ratio on/off ${(on / off).toFixed(2)}`);
if (jsonFile) {
  writeFileSync(jsonFile, JSON.stringify({ bench: "multiconnect", commit, machine: machineInfo(), bun: Bun.version,
    dev: devKind, threads, par, warmupS, seconds, rounds, rows, median: { off, on }, failed: { off: failOff, on: failOn } }, null, 2));
}
process.exit(0);
