/**
 * Thread layout (issue 5, "Flexible thread allocation"): which threads run the
 * stack and which run the application, and the CPUs they are pinned to.
 *
 *   rtc                      run to completion: stack and app on one thread (default)
 *   rtc@2                    the same, pinned to CPU 2
 *   split:stack=1,app=2      one stack thread (the main thread: device queue, TCP) and two
 *                            app threads (Bun Workers) exchanging work over SPSC rings
 *   split:stack=1@0,app=2@1  ... stack pinned to CPU 0, both app threads to CPU 1
 *   split:stack=1@0,app=2@0-1 / app=2@1+3
 *                            a CPU list: items N or N-M joined by '+'; thread i of a role
 *                            is pinned to the i-th CPU of its list (cycling when the list
 *                            is shorter than the thread count)
 *   stack=2                  two stack threads, each run to completion with its own copy of the
 *                            app: the main thread and one Bun Worker, each owning one rx/tx queue
 *                            pair of the port, flows spread over the queues by the device (RSS or
 *                            the kernel's fanout hash; src/sched/multi/stack-threads.ts)
 *   stack=2@0-1              ... stack thread i pinned to the i-th CPU of the list
 *
 * Given as `--layout SPEC` (or `layout = "..."` in the --config file). A bad spec
 * is a ConfigError: one line naming the problem and the fix; apps exit 2.
 * Pinning uses sched_setaffinity (see src/sched/split/affinity.ts for how it is reached).
 */
import { ConfigError } from "./errors";
import type { FlagSpec } from "./cli";

export interface RoleLayout {
  /** Threads in the role. */
  count: number;
  /** CPUs to pin to (thread i -> cpus[i % cpus.length]), or null: not pinned. */
  cpus: number[] | null;
}

export type ThreadLayout =
  | { mode: "rtc"; cpus: number[] | null }
  | { mode: "split"; stack: RoleLayout; app: RoleLayout }
  /** N stack threads, each owning one queue pair and running the app to completion. */
  | { mode: "multi"; stack: RoleLayout };

/** The flag apps add to take a layout. */
export const LAYOUT_FLAG: FlagSpec = {
  name: "layout",
  type: "string",
  arg: "SPEC",
  default: "rtc",
  help: "threads: rtc (stack and app on one thread), stack=N (N stack threads, one queue each, app in each) or split:stack=1,app=N (app in N Workers over SPSC rings); pin with @CPUS, e.g. stack=2@0-1",
};

/** Most threads of one role. */
export const MAX_THREADS = 64;
/** Stack threads the split runner drives today (one device queue, on the main thread). */
export const MAX_STACK_THREADS = 1;
/** Stack threads of the multi layout (stack=N): one queue pair each. */
export const MAX_MULTI_STACK_THREADS = 16;

const HINT = 'expected rtc, rtc@CPUS, stack=N[@CPUS] or split:stack=N[@CPUS],app=N[@CPUS] (CPUS like 0, 1-3 or 0+2)';

function bad(spec: string, why: string): ConfigError {
  return new ConfigError(`--layout ${spec}: ${why}; ${HINT}`);
}

function parseInt10(s: string): number {
  return /^[0-9]{1,6}$/.test(s) ? Number(s) : -1;
}

/** "0", "1-3", "0+2+5-6" -> CPU numbers (duplicates kept out, order kept). */
function parseCpus(spec: string, text: string, cpuCount: number): number[] {
  if (text === "") throw bad(spec, "empty CPU list after @");
  const out: number[] = [];
  for (const item of text.split("+")) {
    const dash = item.indexOf("-");
    const lo = parseInt10(dash < 0 ? item : item.slice(0, dash));
    const hi = dash < 0 ? lo : parseInt10(item.slice(dash + 1));
    if (lo < 0 || hi < 0) throw bad(spec, `"${item}" is not a CPU number or range`);
    if (hi < lo) throw bad(spec, `CPU range ${item} runs backwards`);
    if (hi >= cpuCount) throw bad(spec, `CPU ${hi} does not exist (this machine has CPUs 0-${cpuCount - 1})`);
    for (let c = lo; c <= hi; c++) if (!out.includes(c)) out.push(c);
  }
  return out;
}

function parseRole(spec: string, key: string, text: string, cpuCount: number): RoleLayout {
  const at = text.indexOf("@");
  const countText = at < 0 ? text : text.slice(0, at);
  const count = parseInt10(countText);
  if (count < 1 || count > MAX_THREADS) throw bad(spec, `${key}=${countText} is not a thread count from 1 to ${MAX_THREADS}`);
  return { count, cpus: at < 0 ? null : parseCpus(spec, text.slice(at + 1), cpuCount) };
}

/**
 * Parse and validate a layout spec. `cpuCount` is the number of CPUs pinning may
 * name (default: navigator.hardwareConcurrency). Throws ConfigError.
 */
export function parseLayout(spec: string, cpuCount = defaultCpuCount()): ThreadLayout {
  const s = spec.trim();
  if (s === "rtc") return { mode: "rtc", cpus: null };
  if (s.startsWith("rtc@")) return { mode: "rtc", cpus: parseCpus(spec, s.slice(4), cpuCount) };
  if (s.startsWith("stack=")) {
    if (s.includes(",")) throw bad(spec, "stack=N takes no other keys (each stack thread runs its own copy of the app)");
    const stack = parseRole(spec, "stack", s.slice(6), cpuCount);
    if (stack.count > MAX_MULTI_STACK_THREADS) throw bad(spec, `stack=${stack.count}: at most ${MAX_MULTI_STACK_THREADS} stack threads`);
    return { mode: "multi", stack };
  }
  if (!s.startsWith("split:")) throw bad(spec, "unknown mode");
  const body = s.slice(6);
  let stack: RoleLayout | null = null;
  let app: RoleLayout | null = null;
  for (const part of body.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) throw bad(spec, `"${part}" is not key=value`);
    const key = part.slice(0, eq);
    const val = part.slice(eq + 1);
    if (key === "stack") {
      if (stack !== null) throw bad(spec, "stack given twice");
      stack = parseRole(spec, key, val, cpuCount);
    } else if (key === "app") {
      if (app !== null) throw bad(spec, "app given twice");
      app = parseRole(spec, key, val, cpuCount);
    } else {
      throw bad(spec, `unknown key "${key}" (keys are stack and app)`);
    }
  }
  if (stack === null) throw bad(spec, "stack=N missing");
  if (app === null) throw bad(spec, "app=N missing");
  if (stack.count > MAX_STACK_THREADS) {
    throw new ConfigError(`--layout ${spec}: split mode drives one stack thread (stack=1); for several stack threads use --layout stack=${stack.count} (each runs its own copy of the app)`);
  }
  return { mode: "split", stack, app };
}

/** The CPU thread `i` of a role is pinned to, or -1 when the role is not pinned. */
export function cpuFor(role: RoleLayout | { cpus: number[] | null }, i: number): number {
  const c = role.cpus;
  return c === null || c.length === 0 ? -1 : c[i % c.length]!;
}

/** The layout as a spec string (parseLayout(formatLayout(l)) equals l). */
export function formatLayout(l: ThreadLayout): string {
  const cpus = (c: number[] | null): string => (c === null ? "" : "@" + c.join("+"));
  if (l.mode === "rtc") return "rtc" + cpus(l.cpus);
  if (l.mode === "multi") return `stack=${l.stack.count}${cpus(l.stack.cpus)}`;
  return `split:stack=${l.stack.count}${cpus(l.stack.cpus)},app=${l.app.count}${cpus(l.app.cpus)}`;
}

function defaultCpuCount(): number {
  const n = typeof navigator !== "undefined" ? navigator.hardwareConcurrency : 0;
  return n > 0 ? n : 1024;
}
