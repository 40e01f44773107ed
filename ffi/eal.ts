/**
 * DPDK EAL start-up, once per process (FACTS "EAL arguments that work here").
 *
 * With 2 MB hugepages:  --in-memory --no-telemetry [--no-pci --iova-mode=va] -l 0 --vdev=...
 * Without hugepages:    --no-huge --no-shconf -m MB --no-telemetry ...
 * (--in-memory together with --no-huge is rejected by EAL.) IOVA-as-VA is asked
 * for when no PCI device is used, so the mbuf pool is one chunk.
 * The calling thread is unpinned after init (the shim restores its CPU mask).
 */
import { existsSync, readFileSync } from "node:fs";
import { ConfigError } from "../src/api/errors";
import { checkLayout } from "./layout";
import { check, cstr, lastError, shim } from "./shim";

export interface EalOptions {
  /** --vdev devargs, e.g. "net_af_packet0,iface=veth0" or "net_memif0,role=server,socket=/tmp/m.sock". */
  vdevs: string[];
  /** PCI addresses to use (-a); none means --no-pci. */
  pci: string[];
  /** Extra EAL arguments, appended last (they win). */
  extra: string[];
  /** Run without hugepages (--no-huge --no-shconf -m memMb). */
  noHuge: boolean;
  /** Memory for --no-huge, in MB (default 512). */
  memMb?: number;
  /** --lcores value; default "-l 0". */
  lcores?: string;
  /** Keep EAL's pinning of the calling thread to its lcore (default false: unpin). */
  keepAffinity?: boolean;
  /** EAL log level (default "notice"). */
  logLevel?: string;
  /**
   * Do not install the shim's burst guard (c-shim/qs_guard.c), which keeps PMD
   * control callbacks (memif connect/disconnect) from running during a burst.
   */
  noGuard?: boolean;
}

export interface GuardStats {
  /** PMD interrupt callbacks registered through the guard. */
  wrapped: number;
  /** Guarded callback runs so far. */
  calls: number;
  installed: boolean;
}

/** Counters of the shim's burst guard. */
export function guardStats(): GuardStats {
  const out = new Float64Array(3);
  shim().qs_guard_stats(out);
  return { wrapped: out[0]!, calls: out[1]!, installed: out[2] === 1 };
}

const HUGE_DIR = "/sys/kernel/mm/hugepages/hugepages-2048kB";

/** Free 2 MB hugepages on this machine (0 when none are reserved or the kernel has none). */
export function hugepagesFree(): number {
  try {
    return Number.parseInt(readFileSync(`${HUGE_DIR}/free_hugepages`, "utf8").trim(), 10) || 0;
  } catch {
    return 0;
  }
}

/** The EAL argv (without argv[0]) initEal would use; exported for tests and --help output. */
export function ealArgs(opts: EalOptions): string[] {
  const a: string[] = [];
  if (opts.noHuge) a.push("--no-huge", "--no-shconf", "-m", String(opts.memMb ?? 512));
  else a.push("--in-memory");
  a.push("--no-telemetry");
  if (opts.pci.length === 0) a.push("--no-pci", "--iova-mode=va");
  for (const p of opts.pci) a.push("-a", p);
  if (opts.lcores !== undefined) a.push("--lcores", opts.lcores);
  else a.push("-l", "0");
  a.push(`--log-level=${opts.logLevel ?? "notice"}`);
  for (const v of opts.vdevs) a.push(`--vdev=${v}`);
  a.push(...opts.extra);
  return a;
}

/** Value of `key=` in a devargs string ("net_af_packet0,iface=veth0" -> iface -> "veth0"). */
export function devargValue(devargs: string, key: string): string | undefined {
  for (const part of devargs.split(",").slice(1)) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq) === key) return part.slice(eq + 1);
  }
  return undefined;
}

/** Checks made before EAL starts, so common mistakes give one clear line instead of EAL's log. */
export function precheck(opts: EalOptions, freeHugepages: number = hugepagesFree()): void {
  if (!opts.noHuge && freeHugepages === 0) {
    throw new ConfigError("no 2 MB hugepages are reserved: run npm run setup, or pass --no-huge");
  }
  for (const v of opts.vdevs) {
    const driver = v.split(",")[0]!;
    const iface = devargValue(v, "iface");
    if (iface !== undefined && (driver.startsWith("net_af_packet") || driver.startsWith("net_af_xdp"))) {
      if (!existsSync(`/sys/class/net/${iface}`)) {
        throw new ConfigError(`network interface ${iface} does not exist (from --vdev ${v}): create it or fix the name`);
      }
    }
  }
  if ((opts.vdevs.length > 0 || opts.pci.length > 0) && process.getuid?.() !== 0) {
    throw new ConfigError("DPDK needs root here (raw sockets, hugepages): run as root");
  }
}

let initialised = false;

/** True once initEal has succeeded in this process. */
export function ealReady(): boolean {
  return initialised;
}

/**
 * Start the EAL (once per process). A later call does not restart it: it only
 * attaches the vdevs it names that are not ports yet (hot-plug).
 * Throws ConfigError (one line, with the fix) for problems the user can fix.
 */
export function initEal(opts: EalOptions): void {
  const lib = shim();
  checkLayout();
  if (initialised) {
    for (const v of opts.vdevs) attachVdev(v);
    return;
  }
  precheck(opts);
  const argv = ["qstack", ...ealArgs(opts)];
  const flags = (opts.keepAffinity ? 1 : 0) | (opts.noGuard ? 2 : 0);
  const ret = lib.qs_eal_init(cstr(argv.join("\0")), argv.length, flags);
  if (ret < 0) {
    const msg = lastError();
    if (!opts.noHuge && /memory|hugepage/i.test(msg)) {
      throw new ConfigError(`DPDK could not get hugepage memory (${msg}): run npm run setup, or pass --no-huge`);
    }
    throw new ConfigError(`DPDK EAL start failed (${msg}) with arguments: ${argv.slice(1).join(" ")}`);
  }
  initialised = true;
}

/** Attach a vdev after EAL start unless a port with its name exists. Returns the port id. */
export function attachVdev(devargs: string): number {
  const lib = shim();
  const name = devargs.split(",")[0]!;
  const port = lib.qs_port_by_name(cstr(name));
  if (port >= 0) return port;
  const ret = lib.qs_dev_probe(cstr(devargs));
  if (ret < 0) throw new ConfigError(`cannot attach DPDK device ${devargs}: ${lastError()}`);
  return check(lib.qs_port_by_name(cstr(name)), `port ${name}`);
}
