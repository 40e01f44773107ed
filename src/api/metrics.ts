/**
 * Prometheus metrics (prom-client) for a running stack, served on a kernel-side
 * HTTP port (Bun.serve; `--metrics-port N`): every NetCounters field (drops as
 * one counter with a `reason` label), every TcpCounters field, the device's
 * statistics, link state, and gauges the app adds (connections, buffer
 * chunks). Values are read from the stack's plain counters at scrape time, so
 * the per-packet path never touches prom-client.
 *
 *   qstack_net_rx_frames_total, qstack_net_rx_drops_total{reason="ipv4_bad_checksum"},
 *   qstack_tcp_challenge_acks_total, qstack_device_imissed_total, qstack_link_up, ...
 */
import { Counter, Gauge, Registry } from "prom-client";
import type { NetCounters } from "../net/counters";
import type { Device, DeviceStats } from "../net/device";
import type { TcpCounters } from "../tcp/counters";

export interface GaugeSource {
  help: string;
  value: () => number;
}

export interface MetricsSources {
  net: NetCounters;
  tcp?: TcpCounters | null;
  device?: Device | null;
  /** Extra gauges by metric name suffix (e.g. "tcp_connections"). */
  gauges?: Record<string, GaugeSource>;
}

/** camelCase -> snake_case ("dropIpv4BadChecksum" -> "drop_ipv4_bad_checksum"). */
export function snakeCase(s: string): string {
  return s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
}

function numericKeys(o: object): string[] {
  return Object.keys(o).filter((k) => typeof (o as Record<string, unknown>)[k] === "number");
}

export class StackMetrics {
  readonly registry = new Registry();
  readonly prefix: string;

  constructor(
    private readonly src: MetricsSources,
    opts: { prefix?: string } = {},
  ) {
    this.prefix = opts.prefix ?? "qstack";
    const p = this.prefix;
    const reg = [this.registry];
    const net = src.net as unknown as Record<string, number>;
    const dropKeys: string[] = [];
    for (const k of numericKeys(src.net)) {
      if (k.startsWith("drop")) {
        dropKeys.push(k);
        continue;
      }
      new Counter({
        name: `${p}_net_${snakeCase(k)}_total`,
        help: `network layer: ${k}`,
        registers: reg,
        collect() {
          this.reset();
          this.inc(net[k]!);
        },
      });
    }
    new Counter({
      name: `${p}_net_rx_drops_total`,
      help: "received frames dropped, by reason (every received frame is one drop or one acceptance)",
      labelNames: ["reason"],
      registers: reg,
      collect() {
        this.reset();
        for (const k of dropKeys) this.inc({ reason: snakeCase(k.slice(4)) }, net[k]!);
      },
    });
    if (src.tcp) {
      const tcp = src.tcp as unknown as Record<string, number>;
      for (const k of numericKeys(src.tcp)) {
        new Counter({
          name: `${p}_tcp_${snakeCase(k)}_total`,
          help: `TCP: ${k}`,
          registers: reg,
          collect() {
            this.reset();
            this.inc(tcp[k]!);
          },
        });
      }
    }
    const dev = src.device;
    if (dev) {
      let stats: DeviceStats | null = null;
      const keys: (keyof DeviceStats)[] = ["ipackets", "opackets", "ibytes", "obytes", "imissed", "ierrors", "oerrors", "rxNoBuf"];
      for (const k of keys) {
        new Counter({
          name: `${p}_device_${snakeCase(k)}_total`,
          help: `device (${dev.caps.name}): ${k}`,
          registers: reg,
          collect() {
            // One stats() call per scrape: the first device counter collected refreshes it.
            if (k === "ipackets" || stats === null) stats = dev.stats();
            this.reset();
            this.inc(Math.max(0, stats[k]));
          },
        });
      }
      new Gauge({
        name: `${p}_link_up`,
        help: "1 while the device reports link up (a memif peer connected, a veth with carrier)",
        registers: reg,
        collect() {
          this.set(dev.linkUp() ? 1 : 0);
        },
      });
    }
    for (const [name, g] of Object.entries(src.gauges ?? {})) {
      new Gauge({
        name: `${p}_${name}`,
        help: g.help,
        registers: reg,
        collect() {
          this.set(g.value());
        },
      });
    }
  }

  /** The exposition text (what GET /metrics returns). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

export interface MetricsServer {
  readonly port: number;
  readonly url: string;
  /** Scrapes served. */
  readonly scrapes: () => number;
  stop(): Promise<void>;
}

/**
 * Serve `metrics` on http://hostname:port/metrics from the kernel's network
 * stack (not ours): operators scrape it over the management interface.
 * Port 0 picks a free port.
 */
export function startMetricsServer(metrics: StackMetrics, opts: { port: number; hostname?: string }): MetricsServer {
  let scrapes = 0;
  const server = Bun.serve({
    port: opts.port,
    hostname: opts.hostname ?? "0.0.0.0",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/metrics") {
        scrapes++;
        return new Response(await metrics.text(), { headers: { "content-type": metrics.contentType } });
      }
      if (path === "/" || path === "/healthz") return new Response("ok\n");
      return new Response("not found: try /metrics\n", { status: 404 });
    },
  });
  const host = opts.hostname && opts.hostname !== "0.0.0.0" ? opts.hostname : "127.0.0.1";
  return {
    port: server.port!,
    url: `http://${host}:${server.port}/metrics`,
    scrapes: () => scrapes,
    async stop() {
      await server.stop(true);
    },
  };
}
