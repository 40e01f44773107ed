/**
 * Latency recording and the text forms of it, shared by mcc, iotepserver and
 * monitor: HDR histograms in integer microseconds (hdr-histogram-js, 3
 * significant digits, 1 us .. 1 h, growing as needed), a fixed-shape summary
 * (p50/p90/p99/p99.9/p99.99/max, never just the mean), and the HCMonitor
 * style cdf.txt: one row per quantile (0.10 .. 0.90, 0.95, 0.99, 0.999,
 * 0.9999, 1.0), latencies in milliseconds, one column per series.
 *
 * Coordinated omission: the generator measures each request from the time it
 * was SCHEDULED to be sent, not from when the (possibly late) send happened,
 * the correction wrk2 uses; so a stalled generator shows up as latency instead
 * of vanishing from the histogram. `recordCorrected` additionally back-fills
 * the samples a stall hid when a value exceeds the expected interval
 * (HdrHistogram's recordValueWithExpectedInterval), for callers that measure
 * from the actual send time.
 */
import * as hdr from "hdr-histogram-js";

export type Histogram = hdr.Histogram;

const MAX_US = 3600 * 1_000_000;

export function newLatencyHistogram(): Histogram {
  return hdr.build({
    bitBucketSize: 32,
    autoResize: true,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

/** Record `us` (clamped to 0 .. 1 h, rounded to an integer). */
export function recordUs(h: Histogram, us: number): void {
  const v = us <= 0 ? 0 : us >= MAX_US ? MAX_US : Math.round(us);
  h.recordValue(v);
}

/** Record with coordinated-omission back-fill for an expected interval between samples (both in us). */
export function recordCorrected(h: Histogram, us: number, expectedIntervalUs: number): void {
  const v = us <= 0 ? 0 : us >= MAX_US ? MAX_US : Math.round(us);
  if (expectedIntervalUs > 0) h.recordValueWithExpectedInterval(v, Math.round(expectedIntervalUs));
  else h.recordValue(v);
}

export interface LatencySummary {
  count: number;
  minUs: number;
  meanUs: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  p999Us: number;
  p9999Us: number;
  maxUs: number;
}

export function summarize(h: Histogram): LatencySummary {
  const n = h.totalCount;
  if (n === 0) return { count: 0, minUs: 0, meanUs: 0, p50Us: 0, p90Us: 0, p99Us: 0, p999Us: 0, p9999Us: 0, maxUs: 0 };
  return {
    count: n,
    minUs: h.minNonZeroValue === Number.MAX_SAFE_INTEGER ? 0 : h.minNonZeroValue,
    meanUs: Math.round(h.mean * 10) / 10,
    p50Us: h.getValueAtPercentile(50),
    p90Us: h.getValueAtPercentile(90),
    p99Us: h.getValueAtPercentile(99),
    p999Us: h.getValueAtPercentile(99.9),
    p9999Us: h.getValueAtPercentile(99.99),
    maxUs: h.maxValue,
  };
}

/** HCMonitor's quantiles. */
export const CDF_QUANTILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0];

export interface Series {
  name: string;
  h: Histogram;
}

function ms(us: number): string {
  return (us / 1000).toFixed(4);
}

/**
 * HCMonitor-style cdf.txt: a header (`key:value,...` from `info`), the
 * sample counts, then `quantile: v1; v2; ...` in ms, one column per series.
 * Series without samples print "-".
 */
export function cdfText(series: Series[], info: Record<string, string | number>): string {
  const lines: string[] = [];
  lines.push(
    Object.entries(info)
      .map(([k, v]) => `${k}:${v}`)
      .join(","),
  );
  lines.push(series.map((s) => `${s.name.replace(/\W+/g, "_")}_num:${s.h.totalCount}`).join(","));
  lines.push(`CDF(ms): ${series.map((s) => s.name.padStart(12)).join("; ")}`);
  for (const q of CDF_QUANTILES) {
    const label = q > 0.99 && q < 1 ? q.toFixed(4) : q.toFixed(2);
    const cols = series.map((s) => (s.h.totalCount > 0 ? ms(s.h.getValueAtPercentile(q * 100)) : "-").padStart(12));
    lines.push(`${label}: ${cols.join("; ")}`);
  }
  return lines.join("\n") + "\n";
}

/**
 * Points of the empirical CDF for plotting: [latencyUs, fraction] pairs,
 * sampled at quantiles dense near the tail (0 .. 99.99 % and the max).
 */
export function cdfPoints(h: Histogram, steps = 200): [number, number][] {
  const out: [number, number][] = [];
  if (h.totalCount === 0) return out;
  out.push([h.minNonZeroValue === Number.MAX_SAFE_INTEGER ? 0 : h.minNonZeroValue, 0]);
  for (let i = 1; i <= steps; i++) {
    // Spend half the points below p90 and half in the tail (p90 .. p99.99).
    const f = i / steps;
    const q = f <= 0.5 ? 0.9 * (f / 0.5) : 1 - 0.1 * Math.pow(0.001, (f - 0.5) / 0.5);
    out.push([h.getValueAtPercentile(q * 100), q]);
  }
  out.push([h.getValueAtPercentile(100), 1]);
  return out;
}

/** A one-line latency summary in ms, for status lines and tables. */
export function formatSummary(s: LatencySummary): string {
  if (s.count === 0) return "no samples";
  const f = (us: number): string => (us / 1000).toFixed(us < 10_000 ? 3 : 1);
  return `n=${s.count} p50=${f(s.p50Us)} p90=${f(s.p90Us)} p99=${f(s.p99Us)} p99.9=${f(s.p999Us)} max=${f(s.maxUs)} ms`;
}
