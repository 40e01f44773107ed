/**
 * What every app shares: flag parsing with --help, one-line configuration
 * errors with exit code 2, and a clean stop on SIGINT/SIGTERM.
 */
import { helpText, parseArgs, STACK_FLAGS, type FlagSpec, type ParsedArgs } from "../src/api/cli";
import { ConfigError, EXIT_CONFIG } from "../src/api/errors";
import { openDevice } from "../src/api/open-device";
import { Stack } from "../src/api/stack";
import { classifierFromSpec } from "../src/api/classifier-spec";
import { checkCapacity, planCapacity, readMemoryInfo, regionMemory, type CapacityPlan } from "../src/api/capacity";
import { stackConfigFrom, type StackConfig } from "../src/api/stack-config";
import { TcpSockets } from "../src/api/tcp-sockets";
import type { TcpConfig } from "../src/tcp/config";

export interface AppSpec {
  name: string;
  usage: string;
  about: string;
  flags: FlagSpec[];
  /** Include the common stack flags (default true). */
  stackFlags?: boolean;
}

export function parseAppArgs(spec: AppSpec, argv = process.argv.slice(2)): ParsedArgs {
  const specs = spec.stackFlags === false ? spec.flags : [...STACK_FLAGS, ...spec.flags];
  const parsed = parseArgs(argv, specs);
  if (parsed.help) {
    console.log(helpText(spec.usage, spec.about, specs));
    process.exit(0);
  }
  return parsed;
}

/** Run an app's main; ConfigError -> one line on stderr and exit 2. */
export function runMain(name: string, main: () => Promise<number | void>): void {
  main().then(
    (code) => process.exit(typeof code === "number" ? code : 0),
    (e: unknown) => {
      if (e instanceof ConfigError) {
        console.error(`${name}: ${e.message}`);
        process.exit(EXIT_CONFIG);
      }
      const err = e as Error;
      console.error(`${name}: ${err?.message ?? String(e)}`);
      if (process.env.QSTACK_DEBUG) console.error(err?.stack);
      process.exit(1);
    },
  );
}

/** Resolve when SIGINT or SIGTERM arrives (once). */
export function onStopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const h = (sig: string) => {
      process.off("SIGINT", h);
      process.off("SIGTERM", h);
      resolve(sig);
    };
    process.on("SIGINT", h);
    process.on("SIGTERM", h);
  });
}

export interface RunningStack {
  cfg: StackConfig;
  stack: Stack;
  sockets: TcpSockets;
  /** The capacity the stack was sized for (--max-conns, --buf-mb) and the memory it took. */
  capacity: CapacityPlan;
  /** Bytes of stack memory regions taken (tables + buffers) and how many of them are hugepages. */
  regionBytes: number;
  hugeRegionBytes: number;
  /** Resolves when the poll loop has stopped. */
  loop: Promise<void>;
  /** Stop the loop and release the device. */
  shutdown(): Promise<void>;
}

/** Open the device the flags name, bring the stack and TCP up, and start polling. */
export async function startStack(values: ParsedArgs["values"], tcp: Partial<TcpConfig> = {}): Promise<RunningStack> {
  const cfg = stackConfigFrom(values);
  const plan = planCapacity(cfg.capacity, tcp);
  const dev = await openDevice(cfg);
  // Checked after EAL took its own hugepages, against what is left (src/api/capacity.ts).
  try {
    checkCapacity(plan, readMemoryInfo());
  } catch (e) {
    dev.close();
    throw e;
  }
  const mem = await regionMemory(cfg.noHuge);
  const stack = new Stack(dev, { ip: cfg.ip, prefixLen: cfg.prefixLen, gateway: cfg.gateway }, { busyPoll: cfg.busyPoll, idleSpinUs: cfg.idleSpinUs });
  if (cfg.classify !== null) stack.setClassifier(classifierFromSpec(cfg.classify));
  const sockets = new TcpSockets(stack, plan.tcp, { memory: mem.provider });
  const loop = stack.run();
  let closed = false;
  return {
    cfg,
    stack,
    sockets,
    capacity: plan,
    regionBytes: mem.bytes(),
    hugeRegionBytes: mem.hugeBytes(),
    loop,
    async shutdown() {
      if (closed) return;
      closed = true;
      await stack.stop();
      await loop;
      stack.close();
    },
  };
}
