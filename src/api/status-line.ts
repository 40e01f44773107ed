/**
 * A one-line live status on terminals: rates since the last refresh, open
 * connections and drops (with the top reason), redrawn in place with "\r" and
 * erase-to-end-of-line, cut to the terminal width. Off when the output is not
 * a terminal (CI, pipes, logs), so it never pollutes captured output.
 */
import type { NetCounters } from "../net/counters";
import type { Device } from "../net/device";
import type { TcpCounters } from "../tcp/counters";

export interface StatusSample {
  /** Wall-clock ms when taken. */
  atMs: number;
  linkUp: boolean;
  rxFrames: number;
  txFrames: number;
  rxBytes: number;
  drops: number;
  /** The drop reason with the largest count so far ("" when none). */
  topDrop: string;
  topDropCount: number;
  connections: number;
  synCookiesSent: number;
  challengeAcks: number;
  retransmits: number;
}

export interface StatusSources {
  net: NetCounters;
  tcp?: TcpCounters | null;
  device?: Device | null;
  connections?: () => number;
}

export function takeSample(src: StatusSources, atMs: number): StatusSample {
  const net = src.net as unknown as Record<string, number>;
  let drops = 0;
  let top = "";
  let topN = 0;
  for (const k of Object.keys(net)) {
    if (!k.startsWith("drop")) continue;
    const v = net[k]!;
    drops += v;
    if (v > topN) {
      topN = v;
      top = k.slice(4);
    }
  }
  const t = src.tcp;
  return {
    atMs,
    linkUp: src.device ? src.device.linkUp() : true,
    rxFrames: src.net.rxFrames,
    txFrames: src.net.txFrames,
    rxBytes: src.net.rxBytes,
    drops,
    topDrop: top,
    topDropCount: topN,
    connections: src.connections ? src.connections() : 0,
    synCookiesSent: t ? t.synCookiesSent : 0,
    challengeAcks: t ? t.challengeAcks : 0,
    retransmits: t ? t.retransmits : 0,
  };
}

/** 1234 -> "1.2k", 5_600_000 -> "5.6M". */
export function si(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return (v / 1e9).toFixed(1) + "G";
  if (a >= 1e6) return (v / 1e6).toFixed(1) + "M";
  if (a >= 1e3) return (v / 1e3).toFixed(1) + "k";
  return String(Math.round(v));
}

/** The status text for the interval prev -> cur (no control characters). */
export function formatStatus(prev: StatusSample | null, cur: StatusSample): string {
  const dt = prev ? (cur.atMs - prev.atMs) / 1000 : 0;
  const rate = (a: number, b: number) => (dt > 0 ? (a - b) / dt : 0);
  const rxPps = prev ? rate(cur.rxFrames, prev.rxFrames) : 0;
  const txPps = prev ? rate(cur.txFrames, prev.txFrames) : 0;
  const bps = prev ? rate(cur.rxBytes, prev.rxBytes) * 8 : 0;
  const dps = prev ? rate(cur.drops, prev.drops) : 0;
  let s = `${cur.linkUp ? "up" : "DOWN"} | rx ${si(rxPps)} pps ${si(bps)}b/s | tx ${si(txPps)} pps | conns ${cur.connections}`;
  s += ` | drops ${si(cur.drops)} (+${si(dps)}/s)`;
  if (cur.topDropCount > 0) s += ` top ${cur.topDrop} ${si(cur.topDropCount)}`;
  if (cur.synCookiesSent > 0) s += ` | syncookies ${si(cur.synCookiesSent)}`;
  if (cur.challengeAcks > 0) s += ` | challenge-acks ${si(cur.challengeAcks)}`;
  if (cur.retransmits > 0) s += ` | rexmit ${si(cur.retransmits)}`;
  return s;
}

export interface StatusOutput {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Redraws the status line every `intervalMs` on a terminal. */
export class StatusLine {
  private timer: ReturnType<typeof setInterval> | null = null;
  private prev: StatusSample | null = null;
  /** Lines drawn. */
  draws = 0;

  constructor(
    private readonly src: StatusSources,
    private readonly out: StatusOutput = process.stderr,
    private readonly intervalMs = 1000,
  ) {}

  /** True when the output is a terminal (otherwise the status line stays off). */
  get active(): boolean {
    return this.out.isTTY === true;
  }

  start(): boolean {
    if (!this.active || this.timer !== null) return false;
    this.prev = takeSample(this.src, Date.now());
    this.timer = setInterval(() => this.tick(Date.now()), this.intervalMs);
    (this.timer as { unref?: () => void }).unref?.();
    return true;
  }

  /** Draw one refresh at `nowMs` (the timer calls it; tests call it directly). */
  tick(nowMs: number): string {
    const cur = takeSample(this.src, nowMs);
    let line = formatStatus(this.prev, cur);
    this.prev = cur;
    const w = this.out.columns ?? 120;
    if (line.length > w - 1) line = line.slice(0, Math.max(0, w - 1));
    this.out.write("\r" + line + "\x1b[K");
    this.draws++;
    return line;
  }

  /** Stop and clear the line (so later log lines start clean). */
  stop(): void {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
      this.out.write("\r\x1b[K");
    }
  }
}
