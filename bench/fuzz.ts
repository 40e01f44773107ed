/**
 * Hostile-traffic benchmark: millions of random and mutated frames (the
 * receive-path fuzz generator, test/fuzz/receive-path-frames.ts) into a full
 * stack with a listener and two established connections, in virtual time.
 * Prints the receive rate (NetInterface.receive alone, and end to end with both
 * stacks answering), drops by reason and TCP counters, and checks the exact
 * accounting (rxFrames == drops + accepted) and that the sentinel connection
 * still echoes intact at the end.
 *
 *   bun run bench fuzz [--frames N] [--warmup N] [--seed S] [--json FILE]
 */
import fc from "fast-check";
import { gitCommit, machineInfo, machineLine } from "./machine-info";
import { parseProgramArgs } from "../src/api/cli";
import { ConnHarness } from "../test/fuzz/receive-path-harness";
import { encodeFrame, type FrameSpec } from "../test/fuzz/receive-path-frames";

const flags = parseProgramArgs({
  name: "bench fuzz",
  usage: "bun run bench fuzz [--frames N] [--warmup N] [--seed S] [--json FILE]",
  about: "Millions of random and mutated frames into a full stack in virtual time: receive rate, drops by reason, exact accounting.",
  flags: [
    { name: "frames", type: "int", arg: "N", default: 2_000_000, min: 1, help: "frames timed" },
    { name: "warmup", type: "int", arg: "N", default: 200_000, min: 0, help: "frames before timing (JIT warm-up)" },
    { name: "seed", type: "int", arg: "S", default: 1, help: "fast-check seed of the frame pool" },
    { name: "json", type: "string", arg: "FILE", default: "", help: "write the results as JSON" },
  ],
}).values;
const frames = flags["frames"] as number;
const warmup = flags["warmup"] as number;
const seed = flags["seed"] as number;
const jsonFile = flags["json"] as string;
const POOL = 8192;
const BURST = 32;

const h = new ConnHarness(seed);
h.setUp();
const specs: FrameSpec[] = fc.sample(h.arb, { numRuns: POOL, seed });
const pool: Uint8Array[] = [];
const scratch = new Uint8Array(2048);
const sdv = new DataView(scratch.buffer);

/** Encode the pool against the connections' current sequence numbers. */
function encodePool(round: number): void {
  h.refresh();
  pool.length = 0;
  for (let i = 0; i < specs.length; i++) {
    const n = encodeFrame(specs[i]!, h.ctx, scratch, sdv, (i + round * 7) & 0xffff);
    pool.push(scratch.slice(0, n));
  }
}

const dev = h.p.devB;
const netif = h.p.b.netif;
const batch = h.batch;
const base = h.accountingBefore();

/** Inject `n` frames; returns [receive ns, total ns]. */
function run(n: number, startAt: number): [number, number] {
  let rxNs = 0;
  const t0 = Bun.nanoseconds();
  let k = startAt;
  for (let done = 0; done < n; done += BURST) {
    if ((k & 0xffff) < BURST) encodePool(k >>> 16);
    batch.count = 0;
    const got = dev.alloc(batch, BURST);
    for (let i = 0; i < got; i++) {
      const f = pool[k++ % POOL]!;
      dev.mem.set(f, batch.off[i]!);
      batch.len[i] = f.length;
    }
    const r0 = Bun.nanoseconds();
    netif.receive(h.p.clock.nowUs, batch);
    rxNs += Bun.nanoseconds() - r0;
    h.p.clock.nowUs += 50;
    h.p.settle();
  }
  return [rxNs, Bun.nanoseconds() - t0];
}

run(warmup, 0);
const [rxNs, totalNs] = run(frames, warmup);
const acc = h.checkAccounting(base);
h.p.run(h.p.clock.nowUs + 3_000_000);
const sentinelOk = h.echo(h.sentinel, 65536, 5);
const fresh = h.connect();
const freshOk = fresh !== null && h.echo(fresh, 65536, 6);

const commit = gitCommit();
const result = {
  bench: "fuzz",
  machine: { ...machineInfo(), bun: Bun.version },
  commit,
  params: { frames, warmup, seed, pool: POOL, burst: BURST },
  receiveFramesPerSec: Math.round(frames / (rxNs / 1e9)),
  endToEndFramesPerSec: Math.round(frames / (totalNs / 1e9)),
  nsPerFrameReceive: +(rxNs / frames).toFixed(1),
  accounting: acc,
  dropsByReason: h.dropsByReason(base),
  tcp: h.tcpSummary(),
  sentinelEchoIntact: sentinelOk,
  freshConnectionEchoIntact: freshOk,
};

console.log(`fuzz bench  ${machineLine(commit)}`);
console.log(`params: ${frames} frames (+${warmup} warm-up), seed ${seed}, pool ${POOL} specs re-encoded every 65536 frames, bursts of ${BURST}`);
console.log("");
console.log("metric                         value");
console.log(`receive() only, frames/s       ${result.receiveFramesPerSec.toLocaleString("en")}  (${result.nsPerFrameReceive} ns/frame)`);
console.log(`end to end (both stacks), /s   ${result.endToEndFramesPerSec.toLocaleString("en")}`);
console.log(`accounted                      ${acc.frames} = ${acc.drops} drops + ${acc.arp} arp + ${acc.icmp} icmp + ${acc.tcp} tcp`);
console.log(`sentinel / fresh echo intact   ${sentinelOk} / ${freshOk}`);
console.log("");
console.log("drops by reason:");
for (const [k, v] of Object.entries(result.dropsByReason).sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(28)} ${v}`);
console.log("tcp counters:");
for (const [k, v] of Object.entries(result.tcp)) console.log(`  ${k.padEnd(28)} ${v}`);
if (jsonFile) await Bun.write(jsonFile, JSON.stringify(result, null, 2));
process.exit(sentinelOk && freshOk ? 0 : 1);
