/**
 * Network namespaces and veth pairs for integration tests, made and removed by
 * the test that uses them.
 *
 *   const env = createVethNs({ tag: "shim", nsAddr: "10.201.0.2/24" });
 *   // DPDK opens env.hostIf (e.g. net_af_packet0,iface=<hostIf>); Linux runs in env.ns.
 *   env.exec(["ping", "-c", "1", "10.201.0.1"]);
 *   afterAll(() => env.remove());     // or removeAllVethNs()
 *
 * Names carry a random suffix (interfaces <= 15 chars) and the namespace name
 * carries the creating pid, so sweepStaleVethNs() can remove leftovers of
 * crashed runs without touching those of live test processes. Offloads are
 * turned off on both ends (FACTS: otherwise AF_PACKET sees unfinished
 * checksums and 64 KB GSO frames) and IPv6 is off by default so the link
 * carries only the frames a test causes.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";

export const isRoot = process.getuid?.() === 0;

/** Debian's python3 (scapy lives there; the pyenv python3 on PATH may lack it). */
export const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a command to completion; never throws on a non-zero exit. */
export function run(cmd: string[], opts: { input?: string; timeoutMs?: number } = {}): RunResult {
  const r = Bun.spawnSync(cmd, {
    stdin: opts.input !== undefined ? new TextEncoder().encode(opts.input) : "ignore",
    stdout: "pipe",
    stderr: "pipe",
    timeout: opts.timeoutMs ?? 30_000,
  });
  return { code: r.exitCode ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** Run a command and throw with its stderr when it fails. */
export function must(cmd: string[]): string {
  const r = run(cmd);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** True when `name` is an executable on PATH. */
export function hasCommand(name: string): boolean {
  return Bun.which(name) !== null;
}

/** A reason to skip DPDK/netns tests, or null when they can run. */
export function netnsSkipReason(): string | null {
  if (process.platform !== "linux") return "not Linux";
  if (!isRoot) return "not root (network namespaces and raw sockets need root)";
  for (const c of ["ip", "ethtool"]) if (!hasCommand(c)) return `${c} not installed (run npm run setup)`;
  return null;
}

export interface VethNsOptions {
  /** Short label for the namespace name (letters/digits). */
  tag?: string;
  /** Address with prefix for the namespace end, e.g. "10.201.0.2/24" (none if omitted). */
  nsAddr?: string;
  /** Address with prefix for the host end (none by default: DPDK owns the host end). */
  hostAddr?: string;
  /** Keep IPv6 on (default off on both ends). */
  ipv6?: boolean;
  /** Leave offloads as the kernel sets them (default: turned off on both ends). */
  keepOffloads?: boolean;
  mtu?: number;
}

export interface VethNs {
  /** Namespace name. */
  readonly ns: string;
  /** veth end left in the root namespace (open it with DPDK). */
  readonly hostIf: string;
  /** veth end inside the namespace. */
  readonly nsIf: string;
  readonly hostMac: string;
  readonly nsMac: string;
  /** nsAddr without the prefix length, or "" when none. */
  readonly nsIp: string;
  /** Run a command inside the namespace to completion. */
  exec(cmd: string[], opts?: { input?: string; timeoutMs?: number }): RunResult;
  /** Start a command inside the namespace; the caller kills it (remove() does too). */
  spawn(cmd: string[], opts?: { stdin?: "pipe" | "ignore" }): Bun.Subprocess<"pipe" | "ignore", "pipe", "pipe">;
  /** The argv prefix that runs something inside the namespace. */
  readonly prefix: string[];
  /** Delete the namespace (and with it both veth ends). Idempotent. */
  remove(): void;
}

const live = new Set<VethNs>();
let exitHookInstalled = false;

function suffix(): string {
  return randomBytes(3).toString("hex");
}

function macOf(ifname: string, ns?: string): string {
  const cmd = ns ? ["ip", "-n", ns, "-o", "link", "show", ifname] : ["ip", "-o", "link", "show", ifname];
  const m = /link\/ether ([0-9a-f:]{17})/.exec(must(cmd));
  if (!m) throw new Error(`no MAC for ${ifname}`);
  return m[1]!;
}

/** Create a namespace with one veth pair, one end inside it. */
export function createVethNs(opts: VethNsOptions = {}): VethNs {
  const sfx = suffix();
  const tag = (opts.tag ?? "t").replace(/[^a-z0-9]/gi, "").slice(0, 12) || "t";
  const ns = `qs-${tag}-${process.pid}-${sfx}`;
  const hostIf = `qs${sfx}h`;
  const nsIf = `qs${sfx}n`;
  const subs: Bun.Subprocess[] = [];
  let removed = false;
  const remove = () => {
    if (removed) return;
    removed = true;
    for (const p of subs) {
      try {
        p.kill(9);
      } catch {
        // already gone
      }
    }
    run(["ip", "netns", "del", ns]);
    run(["ip", "link", "del", hostIf]);
    live.delete(env);
  };
  const prefix = ["ip", "netns", "exec", ns];
  const env: VethNs = {
    ns,
    hostIf,
    nsIf,
    hostMac: "",
    nsMac: "",
    nsIp: opts.nsAddr ? opts.nsAddr.split("/")[0]! : "",
    prefix,
    exec: (cmd, o) => run([...prefix, ...cmd], o),
    spawn: (cmd, o) => {
      const p = Bun.spawn([...prefix, ...cmd], { stdin: o?.stdin ?? "ignore", stdout: "pipe", stderr: "pipe" });
      subs.push(p);
      return p as Bun.Subprocess<"pipe" | "ignore", "pipe", "pipe">;
    },
    remove,
  };
  live.add(env);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on("exit", removeAllVethNs);
  }
  try {
    must(["ip", "netns", "add", ns]);
    must(["ip", "link", "add", hostIf, "type", "veth", "peer", "name", nsIf]);
    must(["ip", "link", "set", nsIf, "netns", ns]);
    if (!opts.ipv6) {
      run(["sysctl", "-q", "-w", `net.ipv6.conf.${hostIf}.disable_ipv6=1`]);
      run([...prefix, "sysctl", "-q", "-w", `net.ipv6.conf.${nsIf}.disable_ipv6=1`]);
    }
    if (opts.mtu) {
      must(["ip", "link", "set", hostIf, "mtu", String(opts.mtu)]);
      must(["ip", "-n", ns, "link", "set", nsIf, "mtu", String(opts.mtu)]);
    }
    if (opts.hostAddr) must(["ip", "addr", "add", opts.hostAddr, "dev", hostIf]);
    if (opts.nsAddr) must(["ip", "-n", ns, "addr", "add", opts.nsAddr, "dev", nsIf]);
    must(["ip", "link", "set", hostIf, "up"]);
    must(["ip", "-n", ns, "link", "set", nsIf, "up"]);
    must(["ip", "-n", ns, "link", "set", "lo", "up"]);
    if (!opts.keepOffloads) {
      const off = ["tx", "off", "tso", "off", "gso", "off", "gro", "off"];
      must(["ethtool", "-K", hostIf, ...off]);
      must([...prefix, "ethtool", "-K", nsIf, ...off]);
    }
    (env as { hostMac: string }).hostMac = macOf(hostIf);
    (env as { nsMac: string }).nsMac = macOf(nsIf, ns);
  } catch (e) {
    remove();
    throw e;
  }
  return env;
}

/** Remove every namespace this process created (call from afterAll; also runs at exit). */
export function removeAllVethNs(): void {
  for (const e of [...live]) e.remove();
}

/** Remove namespaces left by test processes that no longer exist. Returns how many. */
export function sweepStaleVethNs(): number {
  let n = 0;
  let names: string[] = [];
  try {
    names = readdirSync("/run/netns");
  } catch {
    return 0;
  }
  for (const name of names) {
    const m = /^qs-[a-z0-9]+-(\d+)-[0-9a-f]{6}$/i.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processAlive(pid)) continue;
    if (run(["ip", "netns", "del", name]).code === 0) n++;
  }
  return n;
}

function processAlive(pid: number): boolean {
  try {
    readFileSync(`/proc/${pid}/stat`);
    return true;
  } catch {
    return false;
  }
}
