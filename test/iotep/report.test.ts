/** cdf.txt, the SVG CDF plot and the HTML report. */
import { describe, expect, test } from "bun:test";
import { CDF_QUANTILES, cdfPoints, cdfText, newLatencyHistogram, recordUs, summarize } from "../../apps/iotep/latency";
import { htmlReport, svgCdf } from "../../apps/iotep/report";
import { decodeHistogram, encodeHistogram } from "../../apps/iotep/results";

function hist(values: number[]) {
  const h = newLatencyHistogram();
  for (const v of values) recordUs(h, v);
  return h;
}

describe("latency text and plot", () => {
  const high = hist(Array.from({ length: 1000 }, (_, i) => 100 + i)); // 100 .. 1099 us
  const low = hist(Array.from({ length: 1000 }, (_, i) => 1000 + 10 * i)); // 1 .. 11 ms

  test("cdf.txt: header, counts, one row per HCMonitor quantile in ms, a column per series", () => {
    const t = cdfText([{ name: "high", h: high }, { name: "low", h: low }, { name: "none", h: newLatencyHistogram() }], { connections: 5 });
    const lines = t.trim().split("\n");
    expect(lines[0]).toBe("connections:5");
    expect(lines[1]).toBe("high_num:1000,low_num:1000,none_num:0");
    const rows = lines.filter((l) => /^[01]\.\d+:/.test(l));
    expect(rows.length).toBe(CDF_QUANTILES.length);
    const median = rows.find((l) => l.startsWith("0.50:"))!.split(/[:;]/).map((x) => x.trim());
    expect(Number(median[1])).toBeCloseTo(0.599, 2);
    expect(Number(median[2])).toBeCloseTo(5.99, 1);
    expect(median[3]).toBe("-");
    expect(rows[rows.length - 1]!.startsWith("1.00:")).toBe(true);
  });

  test("CDF points rise monotonically from the minimum to the maximum", () => {
    const pts = cdfPoints(high);
    expect(pts[0]![1]).toBe(0);
    expect(pts[pts.length - 1]![1]).toBe(1);
    for (let i = 1; i < pts.length; i++) {
      expect(pts[i]![0]).toBeGreaterThanOrEqual(pts[i - 1]![0]);
      expect(pts[i]![1]).toBeGreaterThanOrEqual(pts[i - 1]![1]);
    }
  });

  test("SVG: one line per series with samples, a legend entry for each, names escaped", () => {
    const svg = svgCdf([
      { name: "high <req>", points: cdfPoints(high) },
      { name: "low", points: cdfPoints(low) },
      { name: "empty", points: [] },
    ]);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.match(/<polyline /g)!.length).toBe(2);
    expect(svg).toContain("high &lt;req&gt;");
    expect(svg).toContain("empty (no samples)");
    expect(svg).not.toContain("NaN");
    // Axis ticks cover both series: 100 us .. 100 ms decades.
    expect(svg).toContain(">100us<");
    expect(svg).toContain(">10ms<");
  });

  test("HTML report is self-contained: inline SVG, no scripts or external resources", () => {
    const html = htmlReport({ title: "t", params: { a: 1 }, tables: [{ caption: "c", header: ["x"], rows: [[1]] }], svg: svgCdf([{ name: "h", points: cdfPoints(high) }]), cdfText: "x" });
    expect(html).toContain("<svg");
    expect(html).not.toMatch(/<script|<link|src=|href=/);
  });

  test("histograms survive the trip through base64 (merging shards and processes)", () => {
    const back = decodeHistogram(encodeHistogram(high));
    expect(summarize(back)).toEqual(summarize(high));
  });
});
