/**
 * Command-line flags shared by every app (DESIGN.md "Contracts"), plus each
 * app's own, with `--help`, `--config FILE` (TOML; flags given on the command
 * line override it) and one-line errors: a bad flag or value raises a
 * ConfigError naming the flag and the fix; apps print it and exit 2.
 * parseProgramArgs does that for a whole program (apps, benches, scripts).
 */
import { readFileSync } from "node:fs";
import { ConfigError, EXIT_CONFIG } from "./errors";

export type FlagType = "string" | "int" | "number" | "bool" | "list";

export interface FlagSpec {
  /** Long name without dashes, e.g. "vdev". */
  name: string;
  /** Optional one-letter alias without the dash, e.g. "c". */
  short?: string;
  type: FlagType;
  help: string;
  /** Placeholder in --help, e.g. "DEVARGS". */
  arg?: string;
  default?: string | number | boolean | string[];
  /** Inclusive bounds for numbers. */
  min?: number;
  max?: number;
}

export type FlagValues = Record<string, string | number | boolean | string[] | undefined>;

export interface ParsedArgs {
  values: FlagValues;
  positionals: string[];
  help: boolean;
}

/** The stack flags every app takes. */
export const STACK_FLAGS: FlagSpec[] = [
  { name: "vdev", type: "list", arg: "DEVARGS", help: "DPDK virtual device, e.g. net_af_packet0,iface=veth0 (repeatable)" },
  { name: "pci", type: "list", arg: "ADDR", help: "DPDK PCI device address, e.g. 0000:01:00.0 (repeatable)" },
  { name: "eal", type: "string", arg: "ARGS", help: "extra DPDK EAL arguments, quoted as one string" },
  { name: "ip", type: "string", arg: "A.B.C.D/LEN", help: "interface address and prefix length" },
  { name: "gw", type: "string", arg: "A.B.C.D", help: "default gateway" },
  { name: "mac", type: "string", arg: "MAC", help: "override the port's MAC address" },
  { name: "no-huge", type: "bool", help: "run without hugepages (slower; for machines without them)" },
  { name: "mtu", type: "int", arg: "BYTES", default: 1500, min: 576, max: 9600, help: "IP MTU of the port; above 1500 jumbo frames (both ends must agree; memif needs bsize= of at least MTU + 14 in its devargs)" },
  { name: "queues", type: "int", arg: "N", default: 1, min: 1, max: 64, help: "rx/tx queues (RSS spreads flows over them)" },
  { name: "pcap", type: "string", arg: "FILE", help: "record every frame to a pcap file (Wireshark-readable)" },
  { name: "pcap-max-mb", type: "int", arg: "MB", min: 0, help: "make the pcap file a ring of at most MB megabytes" },
  { name: "classify", type: "string", arg: "SPEC", help: "priority classifier: iotep, port:P[,P], dscp:D[,D] or byte:OFFSET=VALUE (high class first)" },
  { name: "busy-poll", type: "bool", help: "poll without ever sleeping (a dedicated core; lowest latency)" },
  { name: "idle-yield", type: "bool", help: "while polling with nothing to do, yield the CPU after each empty round (sched_yield): a core shared with other work is not spun away" },
  { name: "idle-poller", type: "bool", help: "keep every CPU from halting while this runs (build/qs-idle-poll: SCHED_IDLE spinners; a VM's halted vCPUs can take milliseconds to resume)" },
  { name: "idle-spin-us", type: "int", arg: "US", default: 2000, min: 0, help: "keep polling this long after the last packet before sleeping" },
  { name: "syn-budget", type: "int", arg: "N", default: -1, min: -1, max: 4096, help: "SYN flood shedding: bare SYNs admitted per full receive burst once the stack is behind, the rest dropped before any TCP work (-1: off)" },
  { name: "syn-rate", type: "int", arg: "R", default: 0, min: 0, help: "SYN flood shedding: bare SYNs admitted per second (token bucket, 20 ms deep), the rest dropped (0: off)" },
  { name: "syn-prewarm", type: "int", arg: "N", default: 200_000, min: 0, max: 10_000_000, help: "with shedding on: run N bare SYNs through the flood paths on a private pair of stacks at start-up, so a first flood meets compiled code (0: off; ~0.4 s)" },
  { name: "max-conns", type: "int", arg: "N", min: 1, max: 100_000_000, help: "connections the stack holds at once (tables sized and checked against free memory at start; default 65536)" },
  { name: "buf-mb", type: "int", arg: "MB", min: 1, help: "send/receive buffer pool shared by all connections (default 32)" },
  { name: "huge-budget-mb", type: "int", arg: "MB", min: 1, help: "most hugepage memory the stack's tables and buffers may take (default: what is free)" },
  { name: "metrics-port", type: "int", arg: "N", min: 0, max: 65535, help: "serve Prometheus metrics on this kernel TCP port at /metrics (0: any free port)" },
  { name: "metrics-host", type: "string", arg: "ADDR", default: "127.0.0.1", help: "address the metrics port binds (0.0.0.0 for every interface)" },
  { name: "log-level", type: "string", arg: "LEVEL", default: "info", help: "log records at or above: error, warn, info or debug" },
  { name: "log-format", type: "string", arg: "FMT", default: "text", help: "log lines as text or json (one JSON object per line)" },
  { name: "status", type: "bool", default: true, help: "one-line live status on a terminal (--status=false turns it off)" },
  { name: "shutdown", type: "string", arg: "MODE", default: "drain", help: "on SIGINT/SIGTERM: drain (FIN, wait for data to be acknowledged) or reset (RST at once)" },
  { name: "shutdown-timeout-ms", type: "int", arg: "MS", default: 5000, min: 0, help: "longest a drain may take before the rest is reset" },
  { name: "config", type: "string", arg: "FILE", help: "read settings from a TOML file (flags override it)" },
];

function findSpec(specs: FlagSpec[], name: string): FlagSpec | undefined {
  for (const s of specs) if (s.name === name || s.short === name) return s;
  return undefined;
}

function convert(spec: FlagSpec, raw: string, where: string): string | number | boolean {
  if (spec.type === "int" || spec.type === "number") {
    const v = Number(raw);
    if (raw.trim() === "" || !Number.isFinite(v) || (spec.type === "int" && !Number.isInteger(v))) {
      throw new ConfigError(`${where}: expected ${spec.type === "int" ? "an integer" : "a number"}, got "${raw}"`);
    }
    if (spec.min !== undefined && v < spec.min) throw new ConfigError(`${where}: ${v} is below the minimum ${spec.min}`);
    if (spec.max !== undefined && v > spec.max) throw new ConfigError(`${where}: ${v} is above the maximum ${spec.max}`);
    return v;
  }
  if (spec.type === "bool") {
    if (raw === "true" || raw === "1" || raw === "yes") return true;
    if (raw === "false" || raw === "0" || raw === "no") return false;
    throw new ConfigError(`${where}: expected true or false, got "${raw}"`);
  }
  return raw;
}

/** Parse argv (without the runtime and script) against `specs`. Throws ConfigError. */
export function parseFlags(argv: string[], specs: FlagSpec[]): ParsedArgs {
  const values: FlagValues = {};
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a === "--help" || a === "-h") {
      help = true;
      continue;
    }
    if (!a.startsWith("-") || a === "-") {
      positionals.push(a);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      inline = eq >= 0 ? a.slice(eq + 1) : undefined;
    } else {
      name = a.slice(1, 2);
      inline = a.length > 2 ? a.slice(2) : undefined;
    }
    const spec = findSpec(specs, name);
    if (spec === undefined) throw new ConfigError(`unknown flag ${a.startsWith("--") ? "--" + name : "-" + name}: see --help for the flags this program takes`);
    const flag = a.startsWith("--") ? `--${name}` : `-${name}`;
    let raw: string;
    if (spec.type === "bool" && inline === undefined) {
      raw = "true";
    } else if (inline !== undefined) {
      raw = inline;
    } else {
      if (i + 1 >= argv.length) throw new ConfigError(`${flag} needs a value${spec.arg ? " (" + spec.arg + ")" : ""}`);
      raw = argv[++i]!;
    }
    if (spec.type === "list") {
      const prev = values[spec.name];
      values[spec.name] = Array.isArray(prev) ? [...prev, raw] : [raw];
    } else {
      values[spec.name] = convert(spec, raw, flag);
    }
  }
  return { values, positionals, help };
}

/**
 * Merge a TOML config file under the flags given on the command line. Keys are
 * flag names; tables are flattened with a dash (`[tcp] min-rto-ms` is
 * `--tcp-min-rto-ms`).
 */
export function mergeConfigFile(path: string, parsed: ParsedArgs, specs: FlagSpec[]): void {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new ConfigError(`--config ${path}: cannot read the file; check the path`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = Bun.TOML.parse(text) as Record<string, unknown>;
  } catch (e) {
    throw new ConfigError(`--config ${path}: not valid TOML (${(e as Error).message.split("\n")[0]})`);
  }
  const flat: Record<string, unknown> = {};
  const walk = (obj: Record<string, unknown>, prefix: string): void => {
    for (const [k, v] of Object.entries(obj)) {
      const key = prefix ? `${prefix}-${k}` : k;
      if (v !== null && typeof v === "object" && !Array.isArray(v)) walk(v as Record<string, unknown>, key);
      else flat[key] = v;
    }
  };
  walk(doc, "");
  for (const [k, v] of Object.entries(flat)) {
    const spec = findSpec(specs, k);
    if (spec === undefined || spec.name !== k) throw new ConfigError(`--config ${path}: unknown setting "${k}"; settings are the long flag names`);
    if (parsed.values[k] !== undefined) continue;
    const where = `--config ${path}: ${k}`;
    if (spec.type === "list") {
      const arr = Array.isArray(v) ? v : [v];
      parsed.values[k] = arr.map((x) => String(x));
    } else {
      parsed.values[k] = convert(spec, String(v), where);
    }
  }
}

/** Fill defaults for flags not given. */
export function applyDefaults(parsed: ParsedArgs, specs: FlagSpec[]): void {
  for (const s of specs) {
    if (parsed.values[s.name] === undefined && s.default !== undefined) parsed.values[s.name] = s.default;
  }
}

/** Full parse: flags, then --config, then defaults. */
export function parseArgs(argv: string[], specs: FlagSpec[]): ParsedArgs {
  const parsed = parseFlags(argv, specs);
  const cfg = parsed.values["config"];
  if (typeof cfg === "string") mergeConfigFile(cfg, parsed, specs);
  applyDefaults(parsed, specs);
  return parsed;
}

/** The --help text. */
export function helpText(usage: string, about: string, specs: FlagSpec[]): string {
  const lines = [`usage: ${usage}`, "", about, "", "flags:"];
  const rows = specs.map((s) => {
    const names = (s.short ? `-${s.short}, ` : "    ") + `--${s.name}` + (s.type === "bool" ? "" : ` ${s.arg ?? s.type.toUpperCase()}`);
    const def = s.default !== undefined && s.type !== "bool" ? ` (default ${Array.isArray(s.default) ? s.default.join(",") : s.default})` : "";
    return [names, s.help + def] as const;
  });
  const w = Math.max(...rows.map((r) => r[0].length)) + 2;
  for (const [n, h] of rows) lines.push(`  ${n.padEnd(w)}${h}`);
  lines.push(`  ${"-h, --help".padEnd(w)}show this help`);
  return lines.join("\n");
}

/** A program's name (the prefix of its error lines, e.g. "bench tcp"), its --help text and its flags. */
export interface ProgramSpec {
  name: string;
  usage: string;
  about: string;
  flags: FlagSpec[];
}

/** Print `NAME: message` as one line on stderr and exit 2 (a problem the user can fix). */
export function exitConfigError(name: string, message: string): never {
  console.error(`${name}: ${message}`);
  process.exit(EXIT_CONFIG);
}

/**
 * Parse a program's command line (flags, --config, defaults). --help prints the
 * help on stdout and exits 0; an unknown flag, a missing or bad value or a bad
 * --config file prints one line naming the program on stderr and exits 2.
 */
export function parseProgramArgs(spec: ProgramSpec, argv: string[] = process.argv.slice(2)): ParsedArgs {
  let parsed: ParsedArgs;
  try {
    parsed = parseArgs(argv, spec.flags);
  } catch (e) {
    if (e instanceof ConfigError) exitConfigError(spec.name, e.message);
    throw e;
  }
  if (parsed.help) {
    console.log(helpText(spec.usage, spec.about, spec.flags));
    process.exit(0);
  }
  return parsed;
}
