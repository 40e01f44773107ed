/**
 * The transfers the TCP interop tests run (test/dpdk/tcp-*.test.ts), each on a
 * fresh link (helpers/tcp-link.ts) and optionally with kernel-side loss and
 * duplication (helpers/nft.ts) and a capture (tcpdump in the namespace):
 *
 * - curlDownload: curl in the namespace GETs the 64 MiB file from `bun run httpd`.
 * - ncStackToKernel: `bun run nc HOST PORT < file` sends it to a kernel `nc -l`;
 *   the kernel nc never sends, and closes only after our FIN.
 * - ncKernelToStack: a kernel `nc -N` sends it to `bun run nc -l -p PORT`, whose
 *   stdin is empty: the stack half-closes right after the handshake and then
 *   receives all 64 MiB in FIN-WAIT-2 before the kernel's FIN.
 *
 * Each returns what the test asserts on (exit codes, size and sha256 of what
 * arrived, timing, fault counters) plus the processes' output for messages.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { applyKernelFaults, type KernelFaultCounters, type KernelFaults } from "./nft";
import {
  attachWhenStarted, execAsync, exitWithin, fileSize, makeLink, sha256File, startApp, testFiles, waitListening,
  type ExecResult, type KernelLink, type LinkKind,
} from "./tcp-link";
import type { VethNs } from "./netns";

export interface ScenarioOptions {
  faults?: { lossPct: number; dupPct: number };
  /** Record the transfer with tcpdump on the kernel's interface into this pcap file. */
  capture?: string;
  /** Give up after this long (default 120 s). */
  timeoutMs?: number;
}

export interface TransferResult {
  kind: LinkKind;
  /** Bytes and sha256 of what arrived. */
  bytes: number;
  sha256: string;
  /** Time from connection to completion, ms. */
  ms: number;
  /** Exit code of the stack app (null: killed after the timeout). */
  appCode: number | null;
  /** Exit code of the kernel-side program (curl / nc). */
  peerCode: number | null;
  /** curl's "%{http_code}" or "" for nc. */
  httpCode: string;
  faults: KernelFaultCounters | null;
  capture: CaptureResult | null;
  /** Output of both sides, for failure messages. */
  log: string;
}

export interface CaptureResult {
  code: number;
  /** tcpdump's summary ("N packets captured ... M packets dropped by kernel"). */
  summary: string;
}

interface Capture {
  stop(): Promise<CaptureResult>;
}

/** Start tcpdump in the namespace and wait until it is capturing. */
async function startCapture(env: VethNs, dev: string, file: string, filter: string): Promise<Capture> {
  const p = env.spawn(["tcpdump", "-i", dev, "-n", "-s", "0", "-B", "16384", "-U", "-Z", "root", "-w", file, filter]);
  let err = "";
  const dec = new TextDecoder();
  let listening!: () => void;
  const ready = new Promise<void>((r) => (listening = r));
  const reader = (async () => {
    for await (const chunk of p.stderr) {
      err += dec.decode(chunk, { stream: true });
      if (err.includes("listening on")) listening();
    }
  })();
  const up = await Promise.race([ready.then(() => true), p.exited.then(() => false), Bun.sleep(10_000).then(() => false)]);
  if (!up) {
    p.kill(9);
    throw new Error(`tcpdump did not start: ${err}`);
  }
  return {
    async stop() {
      p.kill("SIGINT");
      const code = await exitWithin(p, 10_000);
      await reader;
      return { code: code ?? -1, summary: err.trim() };
    },
  };
}

async function setUp(link: KernelLink, opts: ScenarioOptions, filter: string): Promise<{ faults: KernelFaults | null; capture: Capture | null }> {
  const faults = opts.faults ? applyKernelFaults(link.env.prefix, { dev: link.kernelDev, ...opts.faults }) : null;
  const capture = opts.capture ? await startCapture(link.env, link.kernelDev, opts.capture, filter) : null;
  return { faults, capture };
}

function describeRun(app: { stdout: string; stderr: string }, peer: ExecResult | null): string {
  const tail = (s: string) => (s.length > 3000 ? "..." + s.slice(-3000) : s);
  return `app stdout:\n${tail(app.stdout)}\napp stderr:\n${tail(app.stderr)}` + (peer ? `\npeer (${peer.code}) stdout:\n${tail(peer.stdout)}\npeer stderr:\n${tail(peer.stderr)}` : "");
}

/** curl in the namespace downloads the 64 MiB file from `bun run httpd`. */
export async function curlDownload(kind: LinkKind, net: number, opts: ScenarioOptions = {}): Promise<TransferResult> {
  const f = testFiles();
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const link = makeLink(kind, net);
  const out = join(f.dir, `curl-${kind}-${net}.out`);
  const port = 8080;
  const app = startApp("httpd", [...link.stackArgs, "--root", f.dir, "--port", String(port)]);
  let faults: KernelFaults | null = null;
  try {
    await app.waitFor(/httpd: serving/);
    link.attach();
    const s = await setUp(link, opts, `tcp port ${port}`);
    faults = s.faults;
    const url = `http://${link.stackIp}:${port}/big.bin`;
    const r = await execAsync([...link.env.prefix, "curl", "-sS", "--max-time", String(Math.ceil(timeoutMs / 1000)), "-o", out, "-w", "%{http_code}", url], timeoutMs + 10_000);
    const capture = s.capture ? await s.capture.stop() : null;
    const counters = faults ? faults.counters() : null;
    const appCode = await app.stop();
    return {
      kind, bytes: fileSize(out), sha256: sha256File(out), ms: r.ms, appCode, peerCode: r.code, httpCode: r.stdout.trim(),
      faults: counters, capture, log: describeRun(app, r),
    };
  } finally {
    await app.stop();
    faults?.remove();
    link.remove();
    rmSync(out, { force: true });
  }
}

/** `bun run nc KERNEL PORT < big` sends the 64 MiB file to a kernel `nc -l -p PORT`. */
export async function ncStackToKernel(kind: LinkKind, net: number, opts: ScenarioOptions = {}): Promise<TransferResult> {
  const f = testFiles();
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const link = makeLink(kind, net);
  const out = join(f.dir, `nc-s2k-${kind}-${net}.out`);
  const port = 9000;
  let faults: KernelFaults | null = null;
  let app: ReturnType<typeof startApp> | null = null;
  try {
    const kernel = link.env.spawn(["sh", "-c", `exec nc -l -p ${port} > "${out}"`]);
    const kOut = new Response(kernel.stdout).text();
    const kErr = new Response(kernel.stderr).text();
    await waitListening(link.env, port);
    // A net_tap link can be attached only once the stack is up; its faults and
    // capture start right after that (the handshake may or may not see them).
    let s = kind === "tap" ? null : await setUp(link, opts, `tcp port ${port}`);
    faults = s?.faults ?? null;
    app = startApp("nc", [...link.stackArgs, link.kernelIp, String(port)], { stdinFile: f.big });
    if (s === null) {
      await attachWhenStarted(link);
      s = await setUp(link, opts, `tcp port ${port}`);
      faults = s.faults;
    }
    await app.waitFor(/nc: connected/, 30_000);
    const t0 = performance.now();
    const appCode = await exitWithin(app.proc, timeoutMs);
    const peerCode = await exitWithin(kernel, 10_000);
    const ms = performance.now() - t0;
    const capture = s.capture ? await s.capture.stop() : null;
    const counters = faults ? faults.counters() : null;
    const peer: ExecResult = { code: peerCode ?? -1, stdout: await kOut, stderr: await kErr, ms };
    await Bun.sleep(20); // let AppProcess's readers drain
    return { kind, bytes: fileSize(out), sha256: sha256File(out), ms, appCode, peerCode, httpCode: "", faults: counters, capture, log: describeRun(app, peer) };
  } finally {
    if (app !== null) await app.stop();
    faults?.remove();
    link.remove();
    rmSync(out, { force: true });
  }
}

/**
 * A kernel `nc -N STACK PORT < big` sends the 64 MiB file to `bun run nc -l -p PORT`
 * with empty stdin (the stack sends its FIN first and keeps receiving).
 */
export async function ncKernelToStack(kind: LinkKind, net: number, opts: ScenarioOptions = {}): Promise<TransferResult> {
  const f = testFiles();
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const link = makeLink(kind, net);
  const out = join(f.dir, `nc-k2s-${kind}-${net}.out`);
  const port = 9001;
  const app = startApp("nc", [...link.stackArgs, "-l", "-p", String(port)], { stdoutFile: out });
  let faults: KernelFaults | null = null;
  try {
    await app.waitFor(/nc: listening/);
    link.attach();
    const s = await setUp(link, opts, `tcp port ${port}`);
    faults = s.faults;
    const peerP = execAsync([...link.env.prefix, "sh", "-c", `exec nc -N ${link.stackIp} ${port} < "${f.big}"`], timeoutMs);
    await app.waitFor(/nc: connected/, 30_000);
    const t0 = performance.now();
    const appCode = await exitWithin(app.proc, timeoutMs);
    const ms = performance.now() - t0;
    const peer = await peerP;
    const capture = s.capture ? await s.capture.stop() : null;
    const counters = faults ? faults.counters() : null;
    await Bun.sleep(20);
    return { kind, bytes: fileSize(out), sha256: sha256File(out), ms, appCode, peerCode: peer.code, httpCode: "", faults: counters, capture, log: describeRun(app, peer) };
  } finally {
    await app.stop();
    faults?.remove();
    link.remove();
    rmSync(out, { force: true });
  }
}
