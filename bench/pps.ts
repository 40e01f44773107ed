/**
 * bench/pps: packets per second through the receive path, TypeScript vs C.
 *
 * Two processes joined by net_memif: a C sender (qs_bench_send) floods 64-byte
 * Ethernet/IPv4/UDP frames; the receiver reflects each frame (parse Ethernet
 * and IPv4, demux on protocol, swap addresses, tx burst) either in TypeScript
 * over the stack's wire views or in C (qs_bench_reflect). Both sides run in
 * the same invocation, alternating per round after a warm-up; the table shows
 * each round and the medians, and the ratio TS/C (target >= 0.5).
 * A second, single-process variant (bench/pps-loop.ts) runs sender and
 * reflector bursts alternately on one thread: it needs one core instead of
 * two and its rate per CPU second stays meaningful on a busy machine.
 *
 *   bun bench/pps.ts [--seconds N] [--warmup N] [--rounds N] [--mode procs|loop|both]
 *                    [--no-huge|--huge] [--pin] [--json FILE]
 */
import { execSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { hugepagesFree } from "../ffi/eal";
import { exitConfigError, parseProgramArgs } from "../src/api/cli";
import { shimBuilt } from "../ffi/shim";
import { spawnProc, type Ev, type Proc } from "./pps-ipc";

interface Args {
  mode: "procs" | "loop" | "both";
  seconds: number;
  warmup: number;
  rounds: number;
  huge: boolean;
  pin: boolean;
  json: string | null;
}

/** A problem the user can fix (not root, no shim, no hugepages): one line, exit 2. */
function usage(msg: string): never {
  exitConfigError("bench pps", msg);
}

function parseArgs(argv: string[]): Args {
  const v = parseProgramArgs({
    name: "bench pps",
    usage: "bun run bench pps [--seconds N] [--warmup N] [--rounds N] [--mode procs|loop|both] [--no-huge|--huge] [--pin] [--json FILE]",
    about: "Packets per second through the receive path, TypeScript vs C reflect loop over net_memif (needs root).",
    flags: [
      { name: "seconds", type: "number", arg: "N", default: 4, min: 0.001, help: "seconds measured per round and side" },
      { name: "warmup", type: "number", arg: "N", default: 3, min: 0.001, help: "seconds of warm-up" },
      { name: "rounds", type: "int", arg: "N", default: 2, min: 1, help: "rounds (the sides alternate)" },
      { name: "mode", type: "string", arg: "procs|loop|both", default: "both", help: "two processes over memif, the single-process loop, or both" },
      { name: "no-huge", type: "bool", help: "no hugepages (default: hugepages when 64 are free)" },
      { name: "huge", type: "bool", help: "hugepages" },
      { name: "pin", type: "bool", help: "pin the reflector to CPU 0 and the sender to CPU 1" },
      { name: "json", type: "string", arg: "FILE", help: "write the results as JSON" },
    ],
  }, argv).values;
  const mode = v["mode"];
  if (mode !== "procs" && mode !== "loop" && mode !== "both") usage(`--mode ${String(mode)}: expected procs, loop or both`);
  const huge = v["huge"] === true ? true : v["no-huge"] === true ? false : hugepagesFree() >= 64;
  return {
    mode, seconds: v["seconds"] as number, warmup: v["warmup"] as number, rounds: v["rounds"] as number,
    huge, pin: v["pin"] === true, json: (v["json"] as string | undefined) ?? null,
  };
}

function sh(cmd: string): string {
  try {
    return execSync(cmd, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "";
  }
}

function machine(): Record<string, unknown> {
  const cpuinfo = (() => {
    try {
      return readFileSync("/proc/cpuinfo", "utf8");
    } catch {
      return "";
    }
  })();
  const model = /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1]?.trim() ?? "unknown";
  const root = join(import.meta.dir, "..");
  const commit = sh(`git -C ${root} rev-parse --short HEAD`);
  const dirty = sh(`git -C ${root} status --porcelain --untracked-files=no`) !== "";
  return {
    nproc: availableParallelism(),
    cpu: model,
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
    bun: Bun.version,
    dpdk: sh("pkg-config --modversion libdpdk") || "unknown",
    commit: commit ? commit + (dirty ? "+dirty" : "") : "unknown",
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const f2 = (x: number) => x.toFixed(2);

type Side = "ts" | "c";
type Round = Record<Side, Ev>;

/** Rounds alternate the order of the sides so drift does not favour one. */
async function rounds(p: Proc, args: Args): Promise<Round[]> {
  const out: Round[] = [];
  const budget = (args.warmup + args.seconds) * 2000 + 30_000;
  for (let r = 0; r < args.rounds; r++) {
    const order: Side[] = r % 2 === 0 ? ["ts", "c"] : ["c", "ts"];
    const got: Partial<Round> = {};
    for (const side of order) {
      p.send(`${side} ${args.warmup} ${args.seconds}`);
      got[side] = await p.next("result", budget);
    }
    out.push(got as Round);
  }
  return out;
}

/** Two processes: C sender (memif client) and the reflector under test (memif server). */
async function runProcs(args: Args, sock: string, mode: string, procs: Proc[]): Promise<{ rounds: Round[]; sender: Ev }> {
  const refl = spawnProc("reflector", join(import.meta.dir, "pps-reflector.ts"), [sock, mode, ...(args.pin ? ["0"] : [])]);
  procs.push(refl);
  const ro = await refl.next("open", 30_000);
  const send = spawnProc("sender", join(import.meta.dir, "pps-sender.ts"), [sock, mode, ...(args.pin ? ["1"] : [])]);
  procs.push(send);
  await send.next("open", 30_000);
  await Promise.all([refl.next("link", 20_000), send.next("link", 20_000)]);
  send.send(`send ${String(ro.mac)}`);
  await send.next("sending", 10_000);
  const rs = await rounds(refl, args);
  send.send("stop");
  const sender = await send.next("stopped", 10_000);
  // Clean shutdown: neither side is bursting now; the reflector closes, then the sender.
  refl.send("close");
  await refl.next("closed", 10_000);
  send.send("close");
  await send.next("closed", 10_000);
  await Promise.all([refl.exited(), send.exited()]);
  return { rounds: rs, sender };
}

/** One process, one thread: sender and reflector alternate bursts. */
async function runLoop(args: Args, sock: string, mode: string, procs: Proc[]): Promise<Round[]> {
  const loop = spawnProc("loop", join(import.meta.dir, "pps-loop.ts"), [sock, mode]);
  procs.push(loop);
  await loop.next("link", 30_000);
  const rs = await rounds(loop, args);
  loop.send("close");
  await loop.next("closed", 10_000);
  await loop.exited();
  return rs;
}

interface Summary {
  tsRxMpps: number;
  cRxMpps: number;
  ratio: number;
  tsRxMppsPerCpu: number;
  cRxMppsPerCpu: number;
  ratioPerCpu: number;
}

function summarize(rs: Round[]): Summary {
  const ts = median(rs.map((x) => x.ts.rxMpps as number));
  const c = median(rs.map((x) => x.c.rxMpps as number));
  const tsCpu = median(rs.map((x) => x.ts.rxMppsPerCpu as number));
  const cCpu = median(rs.map((x) => x.c.rxMppsPerCpu as number));
  return { tsRxMpps: ts, cRxMpps: c, ratio: ts / c, tsRxMppsPerCpu: tsCpu, cRxMppsPerCpu: cCpu, ratioPerCpu: tsCpu / cCpu };
}

function printRounds(title: string, rs: Round[], s: Summary): void {
  console.log("");
  console.log(title);
  console.log("round  side  rx Mpps  warm-up rx Mpps  CPU s  rx Mpps per CPU s");
  rs.forEach((x, i) => {
    for (const [name, e] of [["TS", x.ts], ["C", x.c]] as const) {
      console.log(
        `${String(i + 1).padEnd(7)}${name.padEnd(6)}${f2(e.rxMpps as number).padStart(7)}  ${f2(e.warmupRxMpps as number).padStart(15)}  ${f2(e.cpuSeconds as number).padStart(5)}  ${f2(e.rxMppsPerCpu as number).padStart(17)}`,
      );
    }
  });
  console.log(`median rx Mpps: TS ${f2(s.tsRxMpps)}, C ${f2(s.cRxMpps)}; ratio TS/C ${f2(s.ratio)} (target >= 0.5)`);
  console.log(`median rx Mpps per CPU second: TS ${f2(s.tsRxMppsPerCpu)}, C ${f2(s.cRxMppsPerCpu)}; ratio TS/C ${f2(s.ratioPerCpu)}`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) usage("needs root (DPDK vdevs)");
  if (!shimBuilt()) usage("the DPDK shim is not built: run npm run setup");
  if (args.huge && hugepagesFree() < 32) usage("not enough free 2 MB hugepages: run npm run setup, or pass --no-huge");
  const mach = machine();
  const sock = `/tmp/qs-pps-${process.pid}.sock`;
  const mode = args.huge ? "huge" : "nohuge";
  const procs: Proc[] = [];
  const cleanup = () => {
    for (const p of procs) p.kill();
    rmSync(sock, { force: true });
    rmSync(`${sock}.loop`, { force: true });
  };
  process.on("exit", cleanup);
  try {
    const params = {
      frameBytes: 64,
      burst: 32,
      link: "net_memif (copy mode)",
      mode: args.mode,
      seconds: args.seconds,
      warmup: args.warmup,
      rounds: args.rounds,
      hugepages: args.huge,
      pinned: args.pin,
    };
    console.log("bench/pps: reflect 64-byte Ethernet/IPv4/UDP frames over net_memif (rx -> parse -> demux on protocol -> swap -> tx)");
    console.log(`machine: nproc ${mach.nproc}, ${mach.cpu}, load ${(mach.loadavg as number[]).join(" ")}; bun ${mach.bun}; DPDK ${mach.dpdk}; commit ${mach.commit}`);
    console.log(`params: ${Object.entries(params).map(([k, v]) => `${k} ${v}`).join(", ")}`);
    if ((mach.loadavg as number[])[0]! > (mach.nproc as number) - 1.5) {
      console.log(`warning: load average ${(mach.loadavg as number[])[0]} on ${mach.nproc} CPUs: other processes compete with the pollers; the two-process figures suffer most`);
    }
    const result: Record<string, unknown> = { bench: "pps", machine: mach, params, target: 0.5 };
    if (args.mode !== "loop") {
      const p = await runProcs(args, sock, mode, procs);
      const s = summarize(p.rounds);
      printRounds("two processes: C sender -> reflector (TS or C), each on its own core when the machine is free", p.rounds, s);
      console.log(`sender (C): offered ${f2(p.sender.txMpps as number)} Mpps over ${f2(p.sender.seconds as number)} s`);
      result.procs = { rounds: p.rounds, median: s, sender: p.sender };
    }
    if (args.mode !== "procs") {
      const rs = await runLoop(args, `${sock}.loop`, mode, procs);
      const s = summarize(rs);
      printRounds("one process, one thread: C sender burst + reflect burst (TS or C) per iteration (sender cost in both)", rs, s);
      result.loop = { rounds: rs, median: s };
    }
    if (args.json) {
      writeFileSync(args.json, JSON.stringify(result, null, 2) + "\n");
      console.log(`wrote ${args.json}`);
    }
  } catch (e) {
    for (const p of procs) console.error(`--- ${p.name} stderr ---\n${(await Promise.race([p.stderr(), Bun.sleep(500).then(() => "")])).slice(-2000)}`);
    throw e;
  } finally {
    cleanup();
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`bench/pps failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
