/**
 * What an iotep run leaves behind, from any mix of views (the client's
 * request round trips, the server's in-server latency per class, the wire
 * monitor's request -> reply latency): JSON, an HCMonitor-style cdf.txt and a
 * self-contained HTML report with the CDF plot. Histograms travel between
 * processes as HdrHistogram's compressed base64 so they can be merged and
 * plotted by whoever assembles the report (mcc, monitor, bench, npm start).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as hdr from "hdr-histogram-js";
import { cdfPoints, cdfText, summarize, type Histogram, type LatencySummary } from "./latency";
import { htmlReport, svgCdf, type ReportTable } from "./report";

export interface NamedHistogram {
  /** e.g. "client request", "server heartbeat", "wire request". */
  name: string;
  h: Histogram;
}

export function encodeHistogram(h: Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

export function decodeHistogram(s: string): Histogram {
  return hdr.decodeFromCompressedBase64(s, 32, false);
}

/** Add `from` into `into` (merging shards). */
export function mergeInto(into: Histogram, from: Histogram): void {
  into.add(from);
}

export function latencyTable(caption: string, hs: NamedHistogram[]): ReportTable {
  const f = (us: number): string => (us / 1000).toFixed(3);
  return {
    caption,
    header: ["series", "count", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "p99.99 ms", "max ms"],
    rows: hs.map(({ name, h }) => {
      const s: LatencySummary = summarize(h);
      return s.count === 0 ? [name, 0, "-", "-", "-", "-", "-", "-"] : [name, s.count, f(s.p50Us), f(s.p90Us), f(s.p99Us), f(s.p999Us), f(s.p9999Us), f(s.maxUs)];
    }),
  };
}

/** Render a table as aligned text for the terminal. */
export function textTable(t: ReportTable): string {
  const rows = [t.header, ...t.rows.map((r) => r.map(String))];
  const w = t.header.map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? "").length)));
  const line = (r: (string | number)[]): string => r.map((c, i) => (i === 0 ? String(c).padEnd(w[i]!) : String(c).padStart(w[i]!))).join("  ");
  return [t.caption, line(t.header), ...t.rows.map(line)].join("\n");
}

export interface WriteResultsInput {
  dir: string;
  /** Base name for the files: <base>.json, cdf.txt (or <base>-cdf.txt), <base>.html. */
  base: string;
  title: string;
  subtitle?: string;
  params: Record<string, string | number | boolean>;
  /** Series in the plot and cdf.txt (order = columns). */
  series: NamedHistogram[];
  /** Extra tables (counters). */
  tables?: ReportTable[];
  notes?: string[];
  /** Extra JSON fields. */
  json: Record<string, unknown>;
  /** Header fields of cdf.txt. */
  cdfInfo: Record<string, string | number>;
  /** Write the cdf as "cdf.txt" (HCMonitor's name) rather than "<base>-cdf.txt". */
  plainCdfName?: boolean;
}

export interface WrittenResults {
  json: string;
  cdf: string;
  html: string;
  cdfText: string;
}

export function writeResults(r: WriteResultsInput): WrittenResults {
  mkdirSync(r.dir, { recursive: true });
  const cdf = cdfText(r.series, r.cdfInfo);
  const svg = svgCdf(
    r.series.map((s) => ({ name: s.name, points: cdfPoints(s.h) })),
    { title: r.title },
  );
  const tables = [latencyTable("Latency", r.series), ...(r.tables ?? [])];
  const html = htmlReport({ title: r.title, subtitle: r.subtitle, params: r.params, tables, svg, notes: r.notes, cdfText: cdf });
  const paths = {
    json: join(r.dir, `${r.base}.json`),
    cdf: join(r.dir, r.plainCdfName ? "cdf.txt" : `${r.base}-cdf.txt`),
    html: join(r.dir, `${r.base}.html`),
  };
  const latency: Record<string, LatencySummary> = {};
  const histograms: Record<string, string> = {};
  for (const s of r.series) {
    latency[s.name] = summarize(s.h);
    histograms[s.name] = encodeHistogram(s.h);
  }
  writeFileSync(paths.json, JSON.stringify({ title: r.title, params: r.params, ...r.json, latencyUs: latency, histograms }, null, 2));
  writeFileSync(paths.cdf, cdf);
  writeFileSync(paths.html, html);
  return { ...paths, cdfText: cdf };
}
