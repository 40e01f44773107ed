/**
 * What every app shares: flag parsing with --help, one-line configuration
 * errors with exit code 2, and a clean stop on SIGINT/SIGTERM.
 */
import { helpText, parseArgs, STACK_FLAGS, type FlagSpec, type ParsedArgs } from "../src/api/cli";
import { ConfigError, EXIT_CONFIG } from "../src/api/errors";

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
