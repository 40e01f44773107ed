/**
 * bench/split: the cost per message of the split-mode path (stack thread ->
 * event lane -> app Worker -> command lane -> stack thread) against run to
 * completion (the same echo handler called on the stack thread), in one run.
 *
 * The stack side here is the record protocol without TCP (TCP's work is the same
 * in both modes): it writes a Data record with a payload into the lane, the app
 * thread's echo handler copies it into a Send command, and the stack side reads it
 * back. Two cases each:
 *   throughput  messages kept in flight (up to the lane size): ns per message
 *   latency     one message at a time (the app thread sleeps between them, so each
 *               includes an Atomics wake): round trip p50/p99/p99.9/max
 *
 *   bun run bench split [--messages N] [--bytes B] [--seconds S] [--json FILE]
 */
import { writeFileSync } from "node:fs";
import { gitCommit, machineInfo, machineLine } from "./machine-info";
import { join } from "node:path";
import * as hdr from "hdr-histogram-js";
import { parseProgramArgs } from "../src/api/cli";
import { SplitApp } from "../src/sched/split/app-end";
import { Lane, RecordWriter, REC_WORDS, SplitEvent } from "../src/sched/split/channel";
import { createEchoHandler } from "../src/sched/split/echo-app";
import { startSplitApps } from "../src/sched/split/split";

// bench/priority imports this file: then its own command line is not ours (defaults).
const flags = parseProgramArgs({
  name: "bench split",
  usage: "bun run bench split [--messages N] [--bytes B] [--seconds S] [--json FILE]",
  about: "The split-mode path (stack thread -> lanes -> app Worker) against run to completion: ns per message and round-trip latency.",
  flags: [
    { name: "bytes", type: "int", arg: "B", default: 64, min: 1, help: "payload bytes per message" },
    { name: "seconds", type: "number", arg: "S", default: 2, min: 0.01, help: "seconds per throughput case" },
    { name: "messages", type: "int", arg: "N", default: 20_000, min: 1, help: "messages in each latency case" },
    { name: "json", type: "string", arg: "FILE", default: "", help: "write the results as JSON" },
  ],
}, import.meta.main ? process.argv.slice(2) : []).values;
const bytesPer = flags["bytes"] as number;
const seconds = flags["seconds"] as number;
const latencyN = flags["messages"] as number;
const jsonFile = flags["json"] as string;
const warmupS = 1;

interface StackSide {
  ev: Lane;
  cmd: Lane;
  w: RecordWriter;
  buf: Uint32Array;
}

function stackSide(ev: Lane, cmd: Lane): StackSide {
  return { ev, cmd, w: new RecordWriter(ev.records, 64), buf: new Uint32Array(64 * REC_WORDS) };
}

const payload = new Uint8Array(bytesPer).map((_, i) => i & 0xff);

/** Produce one Data record; false when the lane is full. */
function produce(s: StackSide, conn: number): boolean {
  if (!s.w.hasRoom()) return false;
  const pos = s.ev.bytes.reserve(bytesPer);
  if (pos < 0) return false;
  s.ev.bytes.u8.set(payload, pos & s.ev.bytes.mask);
  s.ev.bytes.commit(pos, bytesPer);
  s.w.put(SplitEvent.Data, 0, 0, conn, pos, bytesPer);
  return true;
}

/** Consume Send commands; returns how many (checks the length). */
function consume(s: StackSide): number {
  const n = s.cmd.records.popBatch(s.buf, s.buf.length) / REC_WORDS;
  if (n === 0) return 0;
  const k = (n - 1) * REC_WORDS;
  if (s.buf[k + 3] !== bytesPer) throw new Error("bad echo length");
  s.cmd.bytes.release((s.buf[k + 2]! + s.buf[k + 3]!) | 0);
  return n;
}

/** Keep the lane full for `ms`; returns messages echoed. */
function throughput(s: StackSide, ms: number, pump?: () => void): number {
  const end = performance.now() + ms;
  let done = 0;
  let k = 0;
  while ((k++ & 255) !== 0 || performance.now() < end) {
    for (let i = 0; i < 64 && produce(s, i); i++);
    s.w.flush();
    if (pump !== undefined) pump();
    done += consume(s);
  }
  return done;
}

function latency(s: StackSide, n: number, hist: hdr.Histogram | null, pump?: () => void): void {
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    produce(s, 0);
    s.w.flush();
    for (;;) {
      if (pump !== undefined) pump();
      if (consume(s) > 0) break;
    }
    if (hist !== null) hist.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
  }
}

export interface Row {
  case: string;
  nsPerMessage?: number;
  p50Us?: number;
  p99Us?: number;
  p999Us?: number;
  maxUs?: number;
}

function hist(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000, numberOfSignificantValueDigits: 3 });
}

/**
 * The four measurements (run to completion and split, in flight and one at a
 * time); bench/priority imports this for the ring figures.
 */
export async function splitRows(): Promise<Row[]> {
  const rows: Row[] = [];

  // Run to completion: the echo handler on this thread, pumped between produce and consume.
  {
    const ev = Lane.create(4096, 1 << 22);
    const cmd = Lane.create(4096, 1 << 22);
    const s = stackSide(ev, cmd);
    const app = new SplitApp(Lane.attach(ev.share()), Lane.attach(cmd.share()), createEchoHandler());
    const pump = () => {
      while (app.pollOnce() > 0);
    };
    throughput(s, warmupS * 1000, pump);
    const t0 = performance.now();
    const n = throughput(s, seconds * 1000, pump);
    rows.push({ case: "rtc: records on one thread", nsPerMessage: ((performance.now() - t0) * 1e6) / n });
    latency(s, 2000, null, pump);
    const h = hist();
    latency(s, latencyN, h, pump);
    rows.push({ case: "rtc: records on one thread, 1 at a time", p50Us: h.getValueAtPercentile(50), p99Us: h.getValueAtPercentile(99), p999Us: h.getValueAtPercentile(99.9), maxUs: h.maxValue });
  }

  // Split: the echo handler in a Worker.
  {
    const apps = await startSplitApps({ count: 1, module: join(import.meta.dir, "../src/sched/split/echo-app.ts"), export: "echoApp", laneRecords: 4096, laneBytes: 1 << 22 });
    try {
      const l = apps.lanes[0]!;
      const s = stackSide(l.events, l.commands);
      throughput(s, warmupS * 1000);
      const t0 = performance.now();
      const n = throughput(s, seconds * 1000);
      rows.push({ case: "split: app in a Worker", nsPerMessage: ((performance.now() - t0) * 1e6) / n });
      latency(s, 2000, null);
      const h = hist();
      latency(s, latencyN, h);
      rows.push({ case: "split: app in a Worker, 1 at a time", p50Us: h.getValueAtPercentile(50), p99Us: h.getValueAtPercentile(99), p999Us: h.getValueAtPercentile(99.9), maxUs: h.maxValue });
      s.w.put(SplitEvent.Stop, 0, 0, 0, 0, 0);
      s.w.flush();
      await apps.finished(5000);
    } finally {
      apps.terminate();
    }
  }
  return rows;
}

async function main(): Promise<void> {
  const commit = gitCommit();
  const cpu = machineInfo();
  console.log(machineLine(commit));
  console.log(`parameters: ${bytesPer} B messages, ${warmupS} s warm-up + ${seconds} s throughput, ${latencyN} one-at-a-time round trips per mode`);
  const rows = await splitRows();

  console.log("");
  console.log(`  ${"case".padEnd(40)} ${"ns/msg".padStart(9)} ${"p50 us".padStart(8)} ${"p99 us".padStart(8)} ${"p99.9 us".padStart(9)} ${"max us".padStart(8)}`);
  const f = (v: number | undefined, w: number, d = 0) => (v === undefined ? "" : v.toFixed(d)).padStart(w);
  for (const r of rows) console.log(`  ${r.case.padEnd(40)} ${f(r.nsPerMessage, 9, 1)} ${f(r.p50Us, 8)} ${f(r.p99Us, 8)} ${f(r.p999Us, 9)} ${f(r.maxUs, 8)}`);
  const ratio = rows[2]!.nsPerMessage! / rows[0]!.nsPerMessage!;
  const latRatio = rows[3]!.p50Us! / rows[1]!.p50Us!;
  console.log("");
  console.log(`split / rtc: ${ratio.toFixed(2)}x per message in flight, ${latRatio.toFixed(1)}x one-at-a-time p50 round trip (the Worker wakes each time)`);
  if (jsonFile !== "") {
    writeFileSync(jsonFile, JSON.stringify({ bench: "split", commit, machine: cpu, bun: Bun.version, bytes: bytesPer, seconds, warmupS, messages: latencyN, rows, ratio, latRatio }, null, 2));
    console.log(`wrote ${jsonFile}`);
  }
}

if (import.meta.main) await main();
