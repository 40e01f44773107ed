/**
 * Scapy from a network namespace against a stack app, for test/dpdk/hostile-*.test.ts.
 *
 * The namespace's own kernel answers scapy's handshakes with RST (it has no socket for them):
 * dropKernelRsts() adds an nftables table in the namespace that drops the kernel's outgoing RSTs
 * and returns the function that removes it. Scapy sends through AF_PACKET, which the inet output
 * hook does not see, so the RSTs scapy crafts still go out.
 *
 * The stack's counters are read live from its Prometheus endpoint (--metrics-port) with scrape().
 */
import { join } from "node:path";
import { PYTHON, run, type VethNs } from "./netns";

export const HOSTILE_PY = join(import.meta.dir, "hostile.py");

/** Why scapy scenarios cannot run here, or null. */
export function scapySkipReason(): string | null {
  const r = run([PYTHON, "-c", "import scapy.all"], { timeoutMs: 30_000 });
  if (r.code !== 0) return `python3-scapy not importable by ${PYTHON} (apt-get install python3-scapy)`;
  if (Bun.which("nft") === null) return "nft not installed (apt-get install nftables)";
  return null;
}

/** Drop every TCP RST the namespace's kernel sends; returns the function that removes the rule. */
export function dropKernelRsts(env: VethNs): () => void {
  const table = "qs_hostile_rst";
  const script = `table inet ${table} {\n  chain out {\n    type filter hook output priority 0; policy accept;\n    tcp flags & rst == rst drop\n  }\n}\n`;
  const r = run([...env.prefix, "nft", "-f", "-"], { input: script });
  if (r.code !== 0) throw new Error(`nft: ${r.stderr.trim()}`);
  return () => {
    run([...env.prefix, "nft", "delete", "table", "inet", table]);
  };
}

/** Run one scenario of hostile.py in the namespace; resolves with its JSON result. */
export async function scapyScenario(
  env: VethNs, stackIp: string, myIp: string, scenario: string, extra: string[] = [], timeoutMs = 60_000,
): Promise<Record<string, unknown>> {
  const p = env.spawn([PYTHON, HOSTILE_PY, env.nsIf, stackIp, myIp, scenario, ...extra]);
  const timer = setTimeout(() => p.kill(9), timeoutMs);
  const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text()]);
  await p.exited;
  clearTimeout(timer);
  const line = out.trim().split("\n").pop() ?? "";
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new Error(`hostile.py ${scenario}: no JSON (exit ${p.exitCode}); stdout: ${out.slice(-2000)} stderr: ${err.slice(-2000)}`);
  }
}

/** Counters from a Prometheus text page: "name" or "name{labels}" -> value. */
export async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(url)).text();
  const m = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const sp = line.lastIndexOf(" ");
    m.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return m;
}

/** after - before for one series (missing = 0). */
export function delta(before: Map<string, number>, after: Map<string, number>, key: string): number {
  return (after.get(key) ?? 0) - (before.get(key) ?? 0);
}

/** Series that moved between two scrapes (for the test log). */
export function moved(before: Map<string, number>, after: Map<string, number>, filter = /_total/): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of after) {
    if (!filter.test(k)) continue;
    const d = v - (before.get(k) ?? 0);
    if (d !== 0) out[k.replace(/^qstack_/, "")] = d;
  }
  return out;
}
