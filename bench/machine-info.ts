/**
 * What every benchmark prints first and stores in its JSON: the commit it ran
 * and the machine it ran on (README figures are quoted with both).
 */
import { cpus, hostname, loadavg } from "node:os";

/** The short commit of the checkout, or "unknown" outside a git checkout. */
export function gitCommit(): string {
  try {
    return Bun.spawnSync(["git", "rev-parse", "--short", "HEAD"]).stdout.toString().trim() || "unknown";
  } catch {
    return "unknown";
  }
}

/** Host, CPUs and model, for the JSON. */
export function machineInfo(): { host: string; cpus: number; model: string | undefined } {
  const cpu = cpus();
  return { host: hostname(), cpus: cpu.length, model: cpu[0]?.model };
}

/** The first line of a benchmark's output. */
export function machineLine(commit: string): string {
  const m = machineInfo();
  return `machine: ${m.host}, ${m.cpus} x ${m.model ?? "?"}; load ${loadavg().map((x) => x.toFixed(2)).join(" ")}; bun ${Bun.version}; commit ${commit}`;
}
