/**
 * Parsers for the output of the kernel-side tools the TCP interop tests judge
 * by: wrk's summary and tshark's expert-info table (`-q -z expert`).
 */

export interface WrkSummary {
  requests: number;
  seconds: number;
  /** Socket errors by kind; all zero when wrk printed no "Socket errors" line. */
  socketErrors: { connect: number; read: number; write: number; timeout: number };
  /** wrk's "Non-2xx or 3xx responses" (0 when absent). */
  non2xx3xx: number;
  requestsPerSec: number;
}

/** Parse wrk's report; null when it has no "N requests in S" line (wrk failed). */
export function parseWrk(out: string): WrkSummary | null {
  const req = /(\d+) requests in ([\d.]+)(m?s)/.exec(out);
  if (req === null) return null;
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  return {
    requests: Number(req[1]),
    seconds: Number(req[2]) / (req[3] === "ms" ? 1000 : 1),
    socketErrors: se ? { connect: Number(se[1]), read: Number(se[2]), write: Number(se[3]), timeout: Number(se[4]) } : { connect: 0, read: 0, write: 0, timeout: 0 },
    non2xx3xx: non ? Number(non[1]) : 0,
    requestsPerSec: rps ? Number(rps[1]) : 0,
  };
}

export interface ExpertSummary {
  errors: number;
  warnings: number;
  notes: number;
  chats: number;
  /** The table rows under "Errors", for messages. */
  errorRows: string[];
}

/**
 * Parse `tshark -q -z expert` output. Sections look like
 *   "Errors (3)" / "=============" / header / rows..., then "Warns (N)", "Notes (N)", "Chats (N)".
 * A missing section counts 0. Returns null when the output has no expert table at all.
 */
export function parseExpert(out: string): ExpertSummary | null {
  if (!/Expert Information|\b(Errors|Warns|Notes|Chats) \(\d+\)/.test(out)) return null;
  const count = (name: string): number => {
    const m = new RegExp(`^${name} \\((\\d+)\\)`, "m").exec(out);
    return m ? Number(m[1]) : 0;
  };
  const errorRows: string[] = [];
  const lines = out.split("\n");
  let inErrors = false;
  for (const line of lines) {
    if (/^Errors \(\d+\)/.test(line)) {
      inErrors = true;
      continue;
    }
    if (/^(Warns|Notes|Chats|Comments) \(\d+\)/.test(line)) inErrors = false;
    if (inErrors && line.trim() !== "" && !/^=+$/.test(line.trim()) && !/Frequency\s+Group/.test(line)) errorRows.push(line.trim());
  }
  return { errors: count("Errors"), warnings: count("Warns"), notes: count("Notes"), chats: count("Chats"), errorRows };
}
