/**
 * Observability: structured logs (levels, text and JSON lines), the live status
 * line (terminal only), and the Prometheus endpoint serving a stack's counters
 * (read over the kernel's loopback, as an operator would scrape it).
 */
import { describe, expect, test } from "bun:test";
import { Logger, parseLogLevel } from "../../src/api/log";
import { snakeCase, StackMetrics, startMetricsServer } from "../../src/api/metrics";
import { formatStatus, StatusLine, takeSample } from "../../src/api/status-line";
import { ConfigError } from "../../src/api/errors";
import { NetCounters } from "../../src/net/counters";
import { TcpCounters } from "../../src/tcp/counters";
import { StackPair } from "../helpers/stack-pair";

const T0 = Date.UTC(2024, 0, 2, 3, 4, 5, 678);

describe("structured logs", () => {
  test("records below the level are dropped; text lines carry level, message and fields", () => {
    const lines: string[] = [];
    const log = new Logger({ level: "warn", write: (l) => lines.push(l), now: () => T0 });
    log.info("hidden");
    log.debug("hidden");
    log.warn("link down", { dev: "net_memif0", peer: "gone away" });
    log.error("boom");
    expect(lines).toEqual([
      '2024-01-02T03:04:05.678Z WARN  link down dev=net_memif0 peer="gone away"',
      "2024-01-02T03:04:05.678Z ERROR boom",
    ]);
    expect(log.enabled("info")).toBe(false);
    log.setLevel("debug");
    expect(log.enabled("debug")).toBe(true);
  });

  test("JSON lines parse back with ts, level, msg and fields (base fields from child())", () => {
    const lines: string[] = [];
    const log = new Logger({ level: "info", format: "json", write: (l) => lines.push(l), now: () => T0 }).child({ app: "echo" });
    log.info("stopped", { drained: 3, reset: 0, timedOut: false });
    const rec = JSON.parse(lines[0]!);
    expect(rec).toEqual({ ts: "2024-01-02T03:04:05.678Z", level: "info", msg: "stopped", app: "echo", drained: 3, reset: 0, timedOut: false });
  });

  test("a bad level is a ConfigError naming the flag", () => {
    expect(() => parseLogLevel("loud")).toThrow(ConfigError);
    expect(() => parseLogLevel("loud")).toThrow(/--log-level loud: expected one of error, warn, info, debug/);
    expect(parseLogLevel("DEBUG")).toBe("debug");
  });
});

describe("status line", () => {
  test("rates over the interval, drops with the top reason, cut to the terminal width", () => {
    const net = new NetCounters();
    const tcp = new TcpCounters();
    const writes: string[] = [];
    const out = { isTTY: true, columns: 200, write: (s: string) => writes.push(s) };
    const st = new StatusLine({ net, tcp, connections: () => 42 }, out);
    expect(st.active).toBe(true);
    st.tick(1000);
    net.rxFrames += 20_000;
    net.txFrames += 10_000;
    net.rxBytes += 1_250_000;
    net.dropIpv4BadChecksum += 30;
    net.dropRuntFrame += 5;
    tcp.synCookiesSent = 7;
    const line = st.tick(3000);
    expect(line).toBe("up | rx 10.0k pps 5.0Mb/s | tx 5.0k pps | conns 42 | drops 35 (+18/s) top Ipv4BadChecksum 30 | syncookies 7");
    expect(writes[1]).toBe("\r" + line + "\x1b[K");
    const narrow = new StatusLine({ net }, { isTTY: true, columns: 20, write: () => {} });
    expect(narrow.tick(0).length).toBe(19);
  });

  test("stays off when the output is not a terminal", () => {
    const writes: string[] = [];
    const st = new StatusLine({ net: new NetCounters() }, { isTTY: false, write: (s: string) => writes.push(s) });
    expect(st.start()).toBe(false);
    st.stop();
    expect(writes.length).toBe(0);
  });

  test("formatStatus with no previous sample shows totals and zero rates", () => {
    const net = new NetCounters();
    net.dropNotForUs = 3;
    expect(formatStatus(null, takeSample({ net }, 0))).toBe("up | rx 0 pps 0b/s | tx 0 pps | conns 0 | drops 3 (+0/s) top NotForUs 3");
  });
});

describe("Prometheus endpoint", () => {
  test("serves every counter of a running stack, drops by reason, device stats and gauges", async () => {
    const p = new StackPair();
    p.sb.listen({ port: 7, socket: { data: (s, d) => void s.write(d) } });
    let got = 0;
    p.sa.connect({ hostname: "10.0.0.2", port: 7, socket: { open: (s) => void s.write("hello"), data: (_s, d) => void (got += d.length) } }).catch(() => {});
    p.run(p.clock.nowUs + 1_000_000, () => got === 5);
    expect(got).toBe(5);
    const b = p.b;
    const sm = new StackMetrics({
      net: b.netif.counters,
      tcp: p.sb.tcp.counters,
      device: p.devB,
      gauges: { tcp_connections: { help: "connections", value: () => p.sb.tcp.connectionsInUse() } },
    });
    const srv = startMetricsServer(sm, { port: 0, hostname: "127.0.0.1" });
    try {
      const res = await fetch(srv.url);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("text/plain");
      const text = await res.text();
      const value = (name: string) => {
        const m = new RegExp("^" + name.replace(/[{}"]/g, "\\$&") + " (\\d+)$", "m").exec(text);
        return m ? Number(m[1]) : NaN;
      };
      expect(value("qstack_net_rx_frames_total")).toBe(b.netif.counters.rxFrames);
      expect(b.netif.counters.rxFrames).toBeGreaterThan(0);
      expect(value("qstack_net_tcp_delivered_total")).toBe(b.netif.counters.tcpDelivered);
      expect(value('qstack_net_rx_drops_total{reason="ipv4_bad_checksum"}')).toBe(0);
      expect(value("qstack_tcp_passive_opens_total")).toBe(1);
      expect(value("qstack_tcp_segs_in_total")).toBe(p.sb.tcp.counters.segsIn);
      expect(value("qstack_device_ipackets_total")).toBe(p.devB.stats().ipackets);
      expect(value("qstack_link_up")).toBe(1);
      expect(value("qstack_tcp_connections")).toBe(1);
      // Values are read at scrape time: a new drop shows in the next scrape.
      b.netif.counters.dropIpv4BadChecksum += 2;
      p.devB.setLinkUp(false);
      const text2 = await (await fetch(srv.url)).text();
      expect(text2).toContain('qstack_net_rx_drops_total{reason="ipv4_bad_checksum"} 2');
      expect(text2).toContain("qstack_link_up 0");
      expect(srv.scrapes()).toBe(2);
      expect((await fetch(srv.url.replace("/metrics", "/nope"))).status).toBe(404);
    } finally {
      await srv.stop();
    }
  });

  test("metric names are snake case", () => {
    expect(snakeCase("dropIpv4BadChecksum")).toBe("drop_ipv4_bad_checksum");
    expect(snakeCase("rxNoBuf")).toBe("rx_no_buf");
  });
});
