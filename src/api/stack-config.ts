/**
 * Turns parsed stack flags into a validated StackConfig. Every problem is a
 * ConfigError with one line naming the flag and the fix.
 */
import { parseCidr, parseIpv4 } from "../wire/ip-addr";
import { parseMac } from "../wire/mac";
import type { FlagValues } from "./cli";
import { type Capacity, capacityFrom } from "./capacity";
import { classifierFromSpec } from "./classifier-spec";
import { ConfigError } from "./errors";
import { type LogFormat, type LogLevel, parseLogFormat, parseLogLevel } from "./log";

export interface StackConfig {
  vdevs: string[];
  pci: string[];
  eal: string[];
  ip: number;
  prefixLen: number;
  gateway: number;
  mac: Uint8Array | null;
  noHuge: boolean;
  /** --mtu: the port's IP MTU (TCP's MSS follows it). */
  mtu: number;
  queues: number;
  pcap: string | null;
  pcapMaxBytes: number;
  busyPoll: boolean;
  /** --idle-yield: sched_yield after each empty poll round (PollLoopOptions.yieldCpu). */
  idleYield: boolean;
  /** --idle-poller: run build/qs-idle-poll for the stack's life (src/api/idle-poller.ts). */
  idlePoller: boolean;
  idleSpinUs: number;
  /** --classify SPEC, or null. */
  classify: string | null;
  /** --max-conns, --buf-mb, --huge-budget-mb (src/api/capacity.ts). */
  capacity: Capacity;
  /** Operations: --metrics-port/--metrics-host, --log-level/--log-format, --status, --shutdown, --shutdown-timeout-ms. */
  ops: OpsConfig;
}

export interface OpsConfig {
  /** Kernel TCP port for /metrics, or null when off. */
  metricsPort: number | null;
  metricsHost: string;
  logLevel: LogLevel;
  logFormat: LogFormat;
  statusLine: boolean;
  shutdown: "drain" | "reset";
  shutdownTimeoutMs: number;
}

/** The operations part of the stack flags (defaults when absent). */
export function opsConfigFrom(v: FlagValues): OpsConfig {
  const mode = (v["shutdown"] as string | undefined) ?? "drain";
  if (mode !== "drain" && mode !== "reset") throw new ConfigError(`--shutdown ${mode}: expected drain or reset`);
  const host = (v["metrics-host"] as string | undefined) ?? "127.0.0.1";
  if (parseIpv4(host) === -1) throw new ConfigError(`--metrics-host ${host}: expected an IPv4 address like 127.0.0.1 or 0.0.0.0`);
  return {
    metricsPort: typeof v["metrics-port"] === "number" ? (v["metrics-port"] as number) : null,
    metricsHost: host,
    logLevel: parseLogLevel((v["log-level"] as string | undefined) ?? "info"),
    logFormat: parseLogFormat((v["log-format"] as string | undefined) ?? "text"),
    statusLine: v["status"] !== false,
    shutdown: mode,
    shutdownTimeoutMs: (v["shutdown-timeout-ms"] as number | undefined) ?? 5000,
  };
}

/** Split an --eal string into arguments (whitespace-separated; quotes group). */
export function splitArgs(s: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|'([^']*)'|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) out.push(m[1] ?? m[2] ?? m[3]!);
  return out;
}

export function stackConfigFrom(v: FlagValues, opts: { requireDevice?: boolean; defaultIp?: string } = {}): StackConfig {
  const vdevs = (v["vdev"] as string[] | undefined) ?? [];
  const pci = (v["pci"] as string[] | undefined) ?? [];
  if ((opts.requireDevice ?? true) && vdevs.length === 0 && pci.length === 0) {
    throw new ConfigError("no network device: pass --vdev DEVARGS (e.g. --vdev net_af_packet0,iface=veth0) or --pci ADDR");
  }
  for (const d of vdevs) {
    if (!/^net_[a-z_]+[0-9]*(,.*)?$/.test(d)) throw new ConfigError(`--vdev ${d}: expected DPDK devargs like net_af_packet0,iface=veth0 or net_tap0,iface=qs0`);
  }
  for (const p of pci) {
    if (!/^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/.test(p)) throw new ConfigError(`--pci ${p}: expected a PCI address like 0000:01:00.0`);
  }
  const ipArg = (v["ip"] as string | undefined) ?? opts.defaultIp;
  if (ipArg === undefined) throw new ConfigError("no address: pass --ip A.B.C.D/LEN (e.g. --ip 10.0.0.1/24)");
  const cidr = parseCidr(ipArg.includes("/") ? ipArg : ipArg + "/24");
  if (cidr === null) throw new ConfigError(`--ip ${ipArg}: expected an IPv4 address with prefix length like 10.0.0.1/24`);
  if (cidr.prefixLen < 1 || cidr.prefixLen > 32) throw new ConfigError(`--ip ${ipArg}: prefix length must be 1..32`);
  let gateway = 0;
  const gw = v["gw"] as string | undefined;
  if (gw !== undefined) {
    gateway = parseIpv4(gw);
    if (gateway === -1) throw new ConfigError(`--gw ${gw}: expected an IPv4 address like 10.0.0.254`);
  }
  let mac: Uint8Array | null = null;
  const macArg = v["mac"] as string | undefined;
  if (macArg !== undefined) {
    mac = parseMac(macArg);
    if (mac === null) throw new ConfigError(`--mac ${macArg}: expected a MAC address like 02:00:00:00:00:01`);
  }
  const pcapMb = (v["pcap-max-mb"] as number | undefined) ?? 0;
  if (typeof v["classify"] === "string") classifierFromSpec(v["classify"] as string);
  const capacity = capacityFrom(v);
  return {
    vdevs,
    pci,
    eal: typeof v["eal"] === "string" ? splitArgs(v["eal"] as string) : [],
    ip: cidr.ip >>> 0,
    prefixLen: cidr.prefixLen,
    gateway: gateway >>> 0,
    mac,
    noHuge: v["no-huge"] === true,
    mtu: (v["mtu"] as number | undefined) ?? 1500,
    queues: (v["queues"] as number | undefined) ?? 1,
    pcap: (v["pcap"] as string | undefined) ?? null,
    pcapMaxBytes: pcapMb * 1024 * 1024,
    busyPoll: v["busy-poll"] === true,
    idleYield: v["idle-yield"] === true,
    idlePoller: v["idle-poller"] === true,
    idleSpinUs: (v["idle-spin-us"] as number | undefined) ?? 2000,
    classify: (v["classify"] as string | undefined) ?? null,
    capacity,
    ops: opsConfigFrom(v),
  };
}
