/**
 * bench/pps: packets per second through the receive path, TypeScript vs C.
 *
 * Two processes joined by net_memif: a C sender (qs_bench_send) floods 64-byte
 * Ethernet/IPv4/UDP frames; the receiver reflects each frame (parse Ethernet
 * and IPv4, demux on protocol, swap addresses, tx burst) either in TypeScript
 * over the stack's wire views or in C (qs_bench_reflect). Both sides run in
 * the same invocation, alternating per round after a warm-up; the table shows
 * each round and the medians, and the ratio TS/C (target >= 0.5).
 *
 *   bun bench/pps.ts [--seconds N] [--warmup N] [--rounds N] [--no-huge|--huge] [--pin] [--json FILE]
 */
import { execSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg } from "node:os";
import { join } from "node:path";
import { hugepagesFree } from "../ffi/eal";
import { shimBuilt } from "../ffi/shim";
import { spawnProc, type Ev, type Proc } from "./pps-ipc";

interface Args {
  seconds: number;
  warmup: number;
  rounds: number;
  huge: boolean;
  pin: boolean;
  json: string | null;
}

function usage(msg: string): never {
  console.error(`${msg}\nusage: bun bench/pps.ts [--seconds N] [--warmup N] [--rounds N] [--no-huge|--huge] [--pin] [--json FILE]`);
  process.exit(2);
}

function parseArgs(argv: string[]): Args {
  const a: Args = { seconds: 5, warmup: 3, rounds: 2, huge: hugepagesFree() >= 64, pin: false, json: null };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const num = () => {
      const v = Number(argv[++i]);
      if (!(v > 0)) usage(`${k} needs a positive number`);
      return v;
    };
    if (k === "--seconds") a.seconds = num();
    else if (k === "--warmup") a.warmup = num();
    else if (k === "--rounds") a.rounds = Math.floor(num());
    else if (k === "--no-huge") a.huge = false;
    else if (k === "--huge") a.huge = true;
    else if (k === "--pin") a.pin = true;
    else if (k === "--json") a.json = argv[++i] ?? usage("--json needs a file name");
    else if (k === "--help" || k === "-h") usage("bench/pps: TypeScript vs C reflect loop over net_memif");
    else usage(`unknown argument ${k}`);
  }
  return a;
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

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) usage("bench/pps needs root (DPDK vdevs)");
  if (!shimBuilt()) usage("the DPDK shim is not built: run npm run setup");
  if (args.huge && hugepagesFree() < 32) usage("not enough free 2 MB hugepages: run npm run setup, or pass --no-huge");
  const mach = machine();
  const sock = `/tmp/qs-pps-${process.pid}.sock`;
  const mode = args.huge ? "huge" : "nohuge";
  const procs: Proc[] = [];
  const cleanup = () => {
    for (const p of procs) p.kill();
    rmSync(sock, { force: true });
  };
  process.on("exit", cleanup);
  try {
    const refl = spawnProc("reflector", join(import.meta.dir, "pps-reflector.ts"), [sock, mode, ...(args.pin ? ["0"] : [])]);
    procs.push(refl);
    const ro = await refl.next("open", 30_000);
    const send = spawnProc("sender", join(import.meta.dir, "pps-sender.ts"), [sock, mode, ...(args.pin ? ["1"] : [])]);
    procs.push(send);
    await send.next("open", 30_000);
    await Promise.all([refl.next("link", 20_000), send.next("link", 20_000)]);
    send.send(`send ${String(ro.mac)}`);
    await send.next("sending", 10_000);

    const rounds: { ts: Ev; c: Ev }[] = [];
    const budget = (args.warmup + args.seconds) * 1000 + 30_000;
    for (let r = 0; r < args.rounds; r++) {
      const order = r % 2 === 0 ? (["ts", "c"] as const) : (["c", "ts"] as const);
      const got: Partial<Record<"ts" | "c", Ev>> = {};
      for (const side of order) {
        refl.send(`${side} ${args.warmup} ${args.seconds}`);
        got[side] = await refl.next("result", budget);
      }
      rounds.push({ ts: got.ts!, c: got.c! });
    }
    send.send("stop");
    const sent = await send.next("stopped", 10_000);
    // Clean shutdown: neither side is bursting now; the reflector closes, then the sender.
    refl.send("close");
    await refl.next("closed", 10_000);
    send.send("close");
    await send.next("closed", 10_000);
    await Promise.all([refl.exited(), send.exited()]);

    const tsM = median(rounds.map((x) => x.ts.rxMpps as number));
    const cM = median(rounds.map((x) => x.c.rxMpps as number));
    const ratio = tsM / cM;
    const tsCpu = median(rounds.map((x) => x.ts.rxMppsPerCpu as number));
    const cCpu = median(rounds.map((x) => x.c.rxMppsPerCpu as number));
    const params = { frameBytes: 64, burst: 32, link: "net_memif (copy mode)", seconds: args.seconds, warmup: args.warmup, rounds: args.rounds, hugepages: args.huge, pinned: args.pin };
    console.log("bench/pps: reflect 64-byte Ethernet/IPv4/UDP frames over net_memif (rx -> parse -> demux -> swap -> tx)");
    console.log(`machine: nproc ${mach.nproc}, ${mach.cpu}, load ${(mach.loadavg as number[]).join(" ")}; bun ${mach.bun}; DPDK ${mach.dpdk}; commit ${mach.commit}`);
    console.log(`params: ${Object.entries(params).map(([k, v]) => `${k} ${v}`).join(", ")}`);
    console.log("");
    console.log("round  side  rx Mpps  tx Mpps  drops      warm-up rx Mpps  CPU s  rx Mpps per CPU s");
    rounds.forEach((x, i) => {
      for (const [name, e] of [["TS", x.ts], ["C", x.c]] as const) {
        console.log(
          `${String(i + 1).padEnd(7)}${name.padEnd(6)}${f2(e.rxMpps as number).padStart(7)}  ${f2(e.txMpps as number).padStart(7)}  ${String(e.drop).padEnd(11)}${f2(e.warmupRxMpps as number).padStart(15)}  ${f2(e.cpuSeconds as number).padStart(5)}  ${f2(e.rxMppsPerCpu as number).padStart(17)}`,
        );
      }
    });
    console.log("");
    console.log(`median rx Mpps: TS ${f2(tsM)}, C ${f2(cM)}; ratio TS/C ${f2(ratio)} (target >= 0.5)`);
    console.log(`median rx Mpps per CPU second: TS ${f2(tsCpu)}, C ${f2(cCpu)}; ratio ${f2(tsCpu / cCpu)}`);
    if ((mach.loadavg as number[])[0]! > (mach.nproc as number) - 1.5) {
      console.log(`warning: load average ${(mach.loadavg as number[])[0]} on ${mach.nproc} CPUs at start: other processes compete with the two pollers, figures are low and noisy`);
    }
    console.log(`sender (C): offered ${f2(sent.txMpps as number)} Mpps over ${f2(sent.seconds as number)} s, ${sent.nobuf} empty-pool rounds`);
    if (args.json) {
      writeFileSync(
        args.json,
        JSON.stringify({ bench: "pps", machine: mach, params, rounds, median: { tsRxMpps: tsM, cRxMpps: cM, tsRxMppsPerCpu: tsCpu, cRxMppsPerCpu: cCpu }, ratio, ratioPerCpu: tsCpu / cCpu, target: 0.5, sender: sent }, null, 2) + "\n",
      );
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
