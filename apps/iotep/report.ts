/**
 * The iotep report: an SVG plot of latency CDFs (one line per series, e.g.
 * high vs low priority) and a small self-contained HTML page around it
 * (parameters, tables, the plot, cdf.txt). No scripts, no external files.
 *
 * The plot follows HdrHistogram's percentile plots: x is latency on a log
 * scale (ms), y is the percentile on a "nines" scale (-log10(1 - F): 0 %,
 * 90 %, 99 %, 99.9 %, 99.99 %), so the tail that matters is as tall as the
 * body.
 */

export interface PlotSeries {
  name: string;
  /** [latencyUs, cumulative fraction 0..1] in increasing order. */
  points: [number, number][];
  color?: string;
}

/** Matplotlib's tab10: distinct hues for up to ten series. */
const COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
const MAX_NINES = 4.5;

export function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function nines(f: number): number {
  if (f <= 0) return 0;
  const y = -Math.log10(Math.max(1 - f, Math.pow(10, -MAX_NINES)));
  return y > MAX_NINES ? MAX_NINES : y;
}

function fmtMs(ms: number): string {
  if (ms >= 1000) return `${ms / 1000}s`;
  if (ms >= 1) return `${ms}ms`;
  return `${Math.round(ms * 1000)}us`;
}

/** An SVG CDF plot of the series (series without points are listed in the legend as "no samples"). */
export function svgCdf(series: PlotSeries[], opts: { width?: number; height?: number; title?: string } = {}): string {
  const W = opts.width ?? 920;
  const H = opts.height ?? 420;
  const L = 70;
  // The legend sits right of the plot.
  const R = 220;
  const T = opts.title ? 40 : 20;
  const B = 50;
  const pw = W - L - R;
  const ph = H - T - B;
  // x range: from the lowest 1st percentile (a few near-zero samples must not stretch the axis) to the highest max.
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of series) {
    for (const [us, f] of s.points) {
      const ms = Math.max(us, 1) / 1000;
      if (f >= 0.01 && us >= 1 && ms < lo) lo = ms;
      if (ms > hi) hi = ms;
    }
  }
  if (!Number.isFinite(lo)) {
    lo = 0.01;
    hi = 10;
  }
  const d0 = Math.floor(Math.log10(lo));
  let d1 = Math.ceil(Math.log10(hi));
  if (d1 <= d0) d1 = d0 + 1;
  const x = (ms: number): number => L + ((Math.log10(Math.max(ms, Math.pow(10, d0))) - d0) / (d1 - d0)) * pw;
  const y = (f: number): number => T + ph - (nines(f) / MAX_NINES) * ph;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`);
  if (opts.title) out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${escapeHtml(opts.title)}</text>`);
  // Grid and axes.
  for (let d = d0; d <= d1; d++) {
    const xx = x(Math.pow(10, d));
    out.push(`<line x1="${xx.toFixed(1)}" y1="${T}" x2="${xx.toFixed(1)}" y2="${T + ph}" stroke="#ddd"/>`);
    out.push(`<text x="${xx.toFixed(1)}" y="${T + ph + 16}" text-anchor="middle">${fmtMs(Math.pow(10, d))}</text>`);
  }
  const yt: [number, string][] = [
    [0, "0%"],
    [0.9, "90%"],
    [0.99, "99%"],
    [0.999, "99.9%"],
    [0.9999, "99.99%"],
  ];
  for (const [f, label] of yt) {
    const yy = y(f);
    out.push(`<line x1="${L}" y1="${yy.toFixed(1)}" x2="${L + pw}" y2="${yy.toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${L - 6}" y="${(yy + 4).toFixed(1)}" text-anchor="end">${label}</text>`);
  }
  out.push(`<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${L + pw / 2}" y="${H - 12}" text-anchor="middle">latency (log scale)</text>`);
  out.push(`<text x="16" y="${T + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${T + ph / 2})">percentile</text>`);
  // Lines.
  series.forEach((s, k) => {
    const color = s.color ?? COLORS[k % COLORS.length]!;
    if (s.points.length > 0) {
      const pts = s.points.map(([us, f]) => `${x(Math.max(us, 1) / 1000).toFixed(1)},${y(f).toFixed(1)}`).join(" ");
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts}"/>`);
    }
    const ly = T + 14 + k * 18;
    const lx = L + pw + 14;
    out.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 24}" y2="${ly - 4}" stroke="${color}" stroke-width="3"/>`);
    out.push(`<text x="${lx + 30}" y="${ly}">${escapeHtml(s.name)}${s.points.length === 0 ? " (no samples)" : ""}</text>`);
  });
  out.push("</svg>");
  return out.join("\n");
}

export interface ReportTable {
  caption: string;
  header: string[];
  rows: (string | number)[][];
}

export interface ReportInput {
  title: string;
  subtitle?: string;
  params: Record<string, string | number | boolean>;
  tables: ReportTable[];
  svg: string;
  notes?: string[];
  cdfText?: string;
}

/** A self-contained HTML page (inline CSS and SVG). */
export function htmlReport(r: ReportInput): string {
  const p = Object.entries(r.params)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(String(v))}</td></tr>`)
    .join("");
  const tables = r.tables
    .map(
      (t) =>
        `<table><caption>${escapeHtml(t.caption)}</caption><tr>${t.header.map((h) => `<th>${escapeHtml(h)}</th>`).join("")}</tr>` +
        t.rows.map((row) => `<tr>${row.map((c) => `<td>${escapeHtml(String(c))}</td>`).join("")}</tr>`).join("") +
        "</table>",
    )
    .join("\n");
  const notes = (r.notes ?? []).map((n) => `<li>${escapeHtml(n)}</li>`).join("");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(r.title)}</title>
<style>
body{font-family:sans-serif;margin:2em;max-width:60em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f4f4f4}caption{text-align:left;font-weight:bold;padding:.3em 0}pre{background:#f8f8f8;padding:1em;overflow:auto}
</style></head><body>
<h1>${escapeHtml(r.title)}</h1>
${r.subtitle ? `<p>${escapeHtml(r.subtitle)}</p>` : ""}
<table><caption>Parameters</caption>${p}</table>
${tables}
<figure>${r.svg}</figure>
${notes ? `<ul>${notes}</ul>` : ""}
${r.cdfText ? `<h2>cdf.txt</h2><pre>${escapeHtml(r.cdfText)}</pre>` : ""}
</body></html>
`;
}
