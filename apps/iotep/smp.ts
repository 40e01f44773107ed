/**
 * --smp N with kernel sockets: N processes instead of N threads, because the
 * limit that matters there is the per-process open-file limit (20,000 here,
 * not raisable without CAP_SYS_RESOURCE). The parent runs the same program N
 * times with `--shard K/N` (mcc) or `--reuse-port --key-base` (iotepserver),
 * passes their output through with a prefix, forwards Ctrl+C, and merges
 * what they wrote: counters are summed, HDR histograms added.
 */
import { readFileSync } from "node:fs";
import { decodeHistogram, encodeHistogram } from "./results";
import { newLatencyHistogram, summarize, type Histogram } from "./latency";

export interface ShardProc {
  index: number;
  p: Bun.Subprocess<"ignore", "pipe", "pipe">;
  out: string;
  exited: Promise<number>;
}

/** Start `argv` (a bun script and its flags) once per shard k = first .. first+n-1, with `extra(k)` appended. Output lines are echoed as "[k] line". */
export function spawnShards(script: string, argv: string[], n: number, extra: (k: number) => string[], echo = true, first = 0): ShardProc[] {
  const procs: ShardProc[] = [];
  for (let k = first; k < first + n; k++) {
    const p = Bun.spawn([process.execPath, script, ...argv, ...extra(k)], { stdin: "ignore", stdout: "pipe", stderr: "pipe" }) as Bun.Subprocess<"ignore", "pipe", "pipe">;
    const sp: ShardProc = { index: k, p, out: "", exited: p.exited };
    const pump = async (s: ReadableStream<Uint8Array>, err: boolean): Promise<void> => {
      const dec = new TextDecoder();
      let partial = "";
      for await (const chunk of s) {
        const t = dec.decode(chunk, { stream: true });
        sp.out += t;
        partial += t;
        const lines = partial.split("\n");
        partial = lines.pop()!;
        if (echo) for (const l of lines) (err ? console.error : console.log)(`[${k}] ${l}`);
      }
    };
    void pump(p.stdout, false);
    void pump(p.stderr, true);
    procs.push(sp);
  }
  return procs;
}

/** Wait until every shard's output matches `re` (or one exits first: rejects). */
export async function waitAll(procs: ShardProc[], re: RegExp, ms: number): Promise<RegExpMatchArray[]> {
  const end = Date.now() + ms;
  const found: (RegExpMatchArray | null)[] = procs.map(() => null);
  for (;;) {
    for (let i = 0; i < procs.length; i++) {
      const sp = procs[i]!;
      if (found[i] === null) found[i] = sp.out.match(re);
      if (found[i] === null && sp.p.exitCode !== null) throw new Error(`shard ${sp.index} exited (${sp.p.exitCode}) before ${re}:\n${sp.out.slice(-2000)}`);
    }
    if (found.every((m) => m !== null)) return found as RegExpMatchArray[];
    if (Date.now() > end) throw new Error(`shards did not all print ${re} within ${ms} ms`);
    await Bun.sleep(20);
  }
}

export function signalAll(procs: ShardProc[], sig: "SIGINT" | "SIGTERM"): void {
  for (const sp of procs) if (sp.p.exitCode === null) sp.p.kill(sig);
}

/** Sum numeric fields of objects with the same shape. */
export function sumCounters(objs: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const o of objs) for (const [k, v] of Object.entries(o)) if (typeof v === "number") out[k] = (out[k] ?? 0) + v;
  return out;
}

/** Add the base64 histograms `key` of each JSON into one histogram. */
export function mergeHistograms(jsons: Record<string, any>[], pick: (j: Record<string, any>) => string | undefined): Histogram {
  const h = newLatencyHistogram();
  for (const j of jsons) {
    const b64 = pick(j);
    if (b64 !== undefined) h.add(decodeHistogram(b64));
  }
  return h;
}

export function readJson(path: string): Record<string, any> {
  return JSON.parse(readFileSync(path, "utf8"));
}

export { encodeHistogram, summarize };
