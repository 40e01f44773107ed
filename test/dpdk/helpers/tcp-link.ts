/**
 * Shared set-up for the TCP interop tests (test/dpdk/tcp-*.test.ts): a Linux
 * kernel in a network namespace, joined to a stack app either through
 * net_af_packet on a veth or through net_tap (the tap moved into the namespace
 * after the app has created it), offloads off on the kernel side (FACTS); a
 * 64 MiB test file with its sha256; and small process helpers.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppProcess } from "../../helpers/app-process";
import { createVethNs, must, netnsSkipReason, run, type VethNs } from "./netns";

export type LinkKind = "af_packet" | "tap";
export const LINK_KINDS: LinkKind[] = ["af_packet", "tap"];

/** Why the interop tests cannot run here, or null. */
export function interopSkipReason(): string | null {
  const r = netnsSkipReason();
  if (r !== null) return r;
  for (const c of ["curl", "nc", "nft", "sha256sum"]) if (Bun.which(c) === null) return `${c} not installed (run npm run setup)`;
  return null;
}

/** --no-huge when too few 2 MB hugepages are free for another DPDK process. */
export function hugeFlags(): string[] {
  const free = Number(run(["cat", "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"]).stdout.trim() || 0);
  return free < 128 ? ["--no-huge"] : [];
}

export interface KernelLink {
  readonly kind: LinkKind;
  readonly env: VethNs;
  /** The stack's address (without prefix) and the kernel's. */
  readonly stackIp: string;
  readonly kernelIp: string;
  /** The kernel's interface facing the stack, inside the namespace. */
  readonly kernelDev: string;
  /** The stack flags that open this link (--vdev ... --ip ... [--no-huge]). */
  readonly stackArgs: string[];
  /** Call once the app printed its start line: for net_tap, moves the tap into the namespace and configures it. */
  attach(): void;
  remove(): void;
}

/** A fresh link of `kind` on 10.<net>.0.0/24: stack .1, kernel .2. */
export function makeLink(kind: LinkKind, net: number): KernelLink {
  const stackIp = `10.${net}.0.1`;
  const kernelIp = `10.${net}.0.2`;
  if (kind === "af_packet") {
    const env = createVethNs({ tag: `tcp${net}`, nsAddr: `${kernelIp}/24` });
    return {
      kind,
      env,
      stackIp,
      kernelIp,
      kernelDev: env.nsIf,
      stackArgs: ["--vdev", `net_af_packet0,iface=${env.hostIf}`, "--ip", `${stackIp}/24`, ...hugeFlags()],
      attach() {},
      remove: () => env.remove(),
    };
  }
  const env = createVethNs({ tag: `tap${net}` });
  const tap = `qt${Math.floor(Math.random() * 36 ** 6).toString(36)}`;
  let attached = false;
  return {
    kind,
    env,
    stackIp,
    kernelIp,
    kernelDev: tap,
    stackArgs: ["--vdev", `net_tap0,iface=${tap}`, "--ip", `${stackIp}/24`, ...hugeFlags()],
    attach() {
      if (attached) return;
      attached = true;
      must(["ip", "link", "set", tap, "netns", env.ns]);
      must([...env.prefix, "ip", "addr", "add", `${kernelIp}/24`, "dev", tap]);
      must([...env.prefix, "sysctl", "-q", "-w", `net.ipv6.conf.${tap}.disable_ipv6=1`]);
      must([...env.prefix, "ip", "link", "set", tap, "up"]);
      // Some of these are fixed on a tap; what can be turned off is.
      run([...env.prefix, "ethtool", "-K", tap, "tx", "off", "tso", "off", "gso", "off", "gro", "off"]);
    },
    remove() {
      env.remove();
      // A tap never moved (the app failed early) goes away with its process.
      run(["ip", "link", "del", tap]);
    },
  };
}

// ---------------------------------------------------------------- test data

export const MiB = 1024 * 1024;

export interface TestFiles {
  dir: string;
  /** 64 MiB of pseudo-random bytes. */
  big: string;
  bigSha256: string;
  bigBytes: number;
  /** A small page for wrk. */
  small: string;
  remove(): void;
}

let files: TestFiles | null = null;

/** The shared test files (made once per test process). */
export function testFiles(): TestFiles {
  if (files !== null) return files;
  const dir = mkdtempSync(join(tmpdir(), "qs-tcp-"));
  const bigBytes = 64 * MiB;
  const data = new Uint8Array(bigBytes);
  const w = new Uint32Array(data.buffer);
  // xorshift128: incompressible enough, fast, and reproducible.
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = (process.pid * 2654435761) | 0;
  for (let i = 0; i < w.length; i++) {
    const t = a ^ (a << 11);
    a = b;
    b = c;
    c = d;
    d = d ^ (d >>> 19) ^ t ^ (t >>> 8);
    w[i] = d;
  }
  const big = join(dir, "big.bin");
  writeFileSync(big, data);
  const small = join(dir, "hello.txt");
  writeFileSync(small, "hello from qstack-bun httpd\n".repeat(16));
  const bigSha256 = new Bun.CryptoHasher("sha256").update(data).digest("hex");
  files = {
    dir,
    big,
    bigSha256,
    bigBytes,
    small,
    remove() {
      rmSync(dir, { recursive: true, force: true });
      files = null;
    },
  };
  return files;
}

/** sha256 of a file, hex ("" when it cannot be read). */
export function sha256File(path: string): string {
  const r = run(["sha256sum", path], { timeoutMs: 60_000 });
  return r.code === 0 ? r.stdout.split(/\s+/)[0]! : "";
}

/** Bytes in a file (-1 when missing). */
export function fileSize(path: string): number {
  const f = Bun.file(path);
  return f.size ?? -1;
}

// ---------------------------------------------------------------- processes

/**
 * Start an app with stdin from `stdinFile` and/or stdout to `stdoutFile`
 * (through `sh -c 'exec ...'`, so 64 MiB never passes through this process).
 * stderr and any stdout not redirected are collected by AppProcess as usual.
 */
export function startApp(app: string, args: string[], io: { stdinFile?: string; stdoutFile?: string } = {}): AppProcess {
  if (io.stdinFile === undefined && io.stdoutFile === undefined) return new AppProcess(app, args);
  const redir = (io.stdinFile !== undefined ? ' < "$QS_IN"' : "") + (io.stdoutFile !== undefined ? ' > "$QS_OUT"' : "");
  return new AppProcess(app, args, {
    prefix: ["sh", "-c", `exec "$@"${redir}`, "sh"],
    env: { QS_IN: io.stdinFile ?? "", QS_OUT: io.stdoutFile ?? "" },
  });
}

/** Wait for a process to exit, killing it after `ms`. Resolves with its exit code, or null on timeout. */
export async function exitWithin(p: { exited: Promise<number>; kill(sig?: number | NodeJS.Signals): void }, ms: number): Promise<number | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<null>((r) => (timer = setTimeout(() => r(null), ms)));
  const code = await Promise.race([p.exited, t]);
  clearTimeout(timer);
  if (code === null) {
    p.kill("SIGKILL");
    await p.exited;
  }
  return code;
}

/** Poll until a TCP port is listening inside the namespace (kernel sockets). */
export async function waitListening(env: VethNs, port: number, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const r = env.exec(["ss", "-Hltn", `sport = :${port}`]);
    if (r.stdout.includes(`:${port}`)) return;
    if (Date.now() > end) throw new Error(`nothing listening on port ${port} in ${env.ns} after ${ms} ms`);
    await Bun.sleep(20);
  }
}

/** Format a rate line for the test log. */
export function rateLine(what: string, bytes: number, ms: number): string {
  const s = ms / 1000;
  return `${what}: ${(bytes / MiB).toFixed(0)} MiB in ${s.toFixed(2)} s = ${((bytes * 8) / s / 1e6).toFixed(0)} Mbit/s`;
}

/**
 * For a net_tap link whose app does not print a start line (nc connecting):
 * wait until the PMD has started the tap (flags UP and PROMISC, set at port
 * start), then attach it. Frames the stack sent before are lost and retried.
 */
export async function attachWhenStarted(link: KernelLink, ms = 20_000): Promise<void> {
  if (link.kind !== "tap") return;
  const end = Date.now() + ms;
  for (;;) {
    const r = run(["ip", "-o", "link", "show", link.kernelDev]);
    const flags = /<([^>]*)>/.exec(r.stdout)?.[1]?.split(",") ?? [];
    if (flags.includes("UP") && flags.includes("PROMISC")) break;
    if (Date.now() > end) throw new Error(`tap ${link.kernelDev} not started after ${ms} ms`);
    await Bun.sleep(10);
  }
  link.attach();
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run a command without blocking this process's event loop; kill it after `timeoutMs`. */
export async function execAsync(cmd: string[], timeoutMs: number): Promise<ExecResult> {
  const t0 = performance.now();
  const p = Bun.spawn(cmd, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const out = new Response(p.stdout).text();
  const err = new Response(p.stderr).text();
  const code = await exitWithin(p, timeoutMs);
  return { code: code ?? -1, stdout: await out, stderr: (await err) + (code === null ? `\n(killed after ${timeoutMs} ms)` : ""), ms: performance.now() - t0 };
}

/** Remove the shared test files if this process made them. */
export function removeTestFiles(): void {
  if (files !== null) files.remove();
}
