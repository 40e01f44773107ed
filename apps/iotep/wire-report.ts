/**
 * The wire monitor's output, for both of its modes (a pcap read by
 * apps/monitor.ts, live bursts in iotepserver --monitor): the latency table
 * and counters on stdout, and monitor.json, cdf.txt (HCMonitor style) and
 * monitor.html with the CDF plot in `dir`.
 */
import { latencyTable, textTable, writeResults, type WrittenResults } from "./results";
import type { WirePairer } from "./wire-pairing";

export interface WireReportInput {
  pairer: WirePairer;
  dir: string;
  /** What was paired: "server.pcap" or "live rx/tx bursts". */
  source: string;
  params: Record<string, string | number | boolean>;
  /** Extra words for the counters line (e.g. "(file truncated)"). */
  note?: string;
  log?: (line: string) => void;
}

export function writeWireReport(r: WireReportInput): WrittenResults {
  const log = r.log ?? ((l: string) => console.log(l));
  const c = r.pairer.counters;
  const outstanding = r.pairer.outstanding();
  const series = [{ name: "request (wire)", h: r.pairer.latencyHigh }];
  log(textTable(latencyTable(`monitor: request -> reply at the server's wire, ${r.source} (ms)`, series)));
  log(
    `monitor: ${c.frames} frames${r.note ?? ""}, ${c.flows} flows, ${c.requests} requests, ${c.heartbeats} heartbeats, ${c.otherMessages} other, ` +
      `${c.replies} replies, ${c.paired} paired, ${c.unpairedReplies} unpaired replies, ${outstanding} requests unanswered, ${c.retransmissions} retransmitted segments`,
  );
  const out = writeResults({
    dir: r.dir,
    base: "monitor",
    title: `iotep wire view: ${r.source}`,
    params: r.params,
    series,
    tables: [{ caption: "Counters", header: [...Object.keys(c), "unanswered"], rows: [[...Object.values(c), outstanding]] }],
    notes: [
      "Latency is the time between the frame carrying a request's first byte and the frame carrying its reply, both as timestamped at the server's rx/tx bursts.",
      "Heartbeats get no reply, so the wire shows request latency only.",
    ],
    json: { source: r.source, counters: { ...c }, unanswered: outstanding },
    cdfInfo: { connections: c.flows, req_retrans: c.retransmissions, requests: c.requests, paired: c.paired },
    plainCdfName: true,
  });
  log(`monitor: wrote ${out.json}, ${out.cdf}, ${out.html}`);
  return out;
}
