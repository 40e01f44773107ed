/**
 * Redis' own view of the run, read at the end through redis-cli on the Unix
 * socket: INFO commandstats (calls and usec_per_call of the message script,
 * i.e. the time Redis itself spends per message, excluding queueing and
 * waiting for a CPU) and LATENCY LATEST (events slower than the server's
 * latency-monitor-threshold, 1 ms in our redis-server). Null fields when
 * redis-cli is missing or Redis does not answer.
 */

export interface RedisStats {
  /** command -> calls and usec per call (e.g. evalsha). */
  commands: Record<string, { calls: number; usecPerCall: number }>;
  /** LATENCY LATEST rows: event, latest ms, max ms. */
  latency: { event: string; latestMs: number; maxMs: number }[];
}

function cli(socket: string, args: string[]): string | null {
  try {
    const p = Bun.spawnSync(["redis-cli", "-s", socket, ...args], { stdout: "pipe", stderr: "pipe" });
    return p.exitCode === 0 ? p.stdout.toString() : null;
  } catch {
    return null;
  }
}

/** Parse INFO commandstats: "cmdstat_evalsha:calls=53,usec=120,usec_per_call=2.26,...". */
export function parseCommandStats(text: string): RedisStats["commands"] {
  const out: RedisStats["commands"] = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^cmdstat_([^:]+):calls=(\d+),usec=\d+,usec_per_call=([\d.]+)/.exec(line);
    if (m !== null) out[m[1]!] = { calls: Number(m[2]), usecPerCall: Number(m[3]) };
  }
  return out;
}

/** Parse redis-cli's plain output of LATENCY LATEST (4 lines per event: name, time, latest, max). */
export function parseLatencyLatest(text: string): RedisStats["latency"] {
  const l = text.split(/\r?\n/).filter((x) => x.length > 0);
  const out: RedisStats["latency"] = [];
  for (let i = 0; i + 3 < l.length; i += 4) out.push({ event: l[i]!, latestMs: Number(l[i + 2]), maxMs: Number(l[i + 3]) });
  return out;
}

export function readRedisStats(socket: string): RedisStats | null {
  const info = cli(socket, ["INFO", "commandstats"]);
  if (info === null) return null;
  const lat = cli(socket, ["LATENCY", "LATEST"]);
  return { commands: parseCommandStats(info), latency: lat === null ? [] : parseLatencyLatest(lat) };
}

/** Clear the counters (CONFIG RESETSTAT, LATENCY RESET) at the start of the measured part. */
export function resetRedisStats(socket: string): void {
  cli(socket, ["CONFIG", "RESETSTAT"]);
  cli(socket, ["LATENCY", "RESET"]);
}
