/**
 * Active opens under RSS: with the port's Toeplitz key and redirection table
 * known, every ephemeral port TCP picks on stack thread q maps the returning
 * flow (peer -> us) back to queue q; ports the app names are not filtered.
 */
import { expect, test } from "bun:test";
import { makeTcpConfig } from "../../../src/tcp/config";
import { TcpLayer } from "../../../src/tcp/tcp-layer";
import { steerActiveOpens } from "../../../src/sched/multi/rss-ports";
import { MS_RSS_KEY, rssQueue, toeplitzIpv4Ports } from "../../../src/sched/multi/toeplitz";
import { NullTx, seededRng } from "../../helpers/tcp-fixtures";
import { EADDRINUSE } from "../../../src/tcp/errno";

const LOCAL = 0x0a000001;
const REMOTE = 0x0a000002;
const RETA = Array.from({ length: 128 }, (_, i) => i % 4);

function layer(): TcpLayer {
  const cfg = makeTcpConfig({ maxConnections: 256, chunkCount: 256 });
  return new TcpLayer({ config: cfg, tx: new NullTx(), rng: seededRng(7), nowUs: 0, events: { event() {} } });
}

test("every ephemeral port picked on queue q brings the flow back to queue q", () => {
  for (const q of [0, 3]) {
    const tcp = layer();
    const probe = steerActiveOpens(tcp, { key: MS_RSS_KEY, reta: RETA }, q);
    for (let i = 0; i < 100; i++) {
      const c = tcp.connect(0, LOCAL, 0, REMOTE, 80);
      expect(c).toBeGreaterThanOrEqual(0);
      const lport = tcp.conns.localPort[c]!;
      expect(rssQueue(toeplitzIpv4Ports(MS_RSS_KEY, REMOTE, LOCAL, 80, lport), RETA)).toBe(q);
    }
    // About three candidates in four map elsewhere with four queues.
    expect(probe.otherQueue).toBeGreaterThan(100);
  }
});

test("without steering, picked ports spread over all queues (the filter is what keeps them)", () => {
  const tcp = layer();
  const seen = new Set<number>();
  for (let i = 0; i < 100; i++) {
    const c = tcp.connect(0, LOCAL, 0, REMOTE, 80);
    seen.add(rssQueue(toeplitzIpv4Ports(MS_RSS_KEY, REMOTE, LOCAL, 80, tcp.conns.localPort[c]!), RETA));
  }
  expect(seen.size).toBe(4);
});

test("a port the application names is used when its flow maps here, refused (EADDRINUSE) when it maps elsewhere", () => {
  const tcp = layer();
  steerActiveOpens(tcp, { key: MS_RSS_KEY, reta: RETA }, 0);
  let mine = 40000;
  while (rssQueue(toeplitzIpv4Ports(MS_RSS_KEY, REMOTE, LOCAL, 80, mine), RETA) !== 0) mine++;
  let other = 40000;
  while (rssQueue(toeplitzIpv4Ports(MS_RSS_KEY, REMOTE, LOCAL, 80, other), RETA) === 0) other++;
  const c = tcp.connect(0, LOCAL, mine, REMOTE, 80);
  expect(c).toBeGreaterThanOrEqual(0);
  expect(tcp.conns.localPort[c]).toBe(mine);
  expect(tcp.connect(0, LOCAL, other, REMOTE, 80)).toBe(-EADDRINUSE);
});
