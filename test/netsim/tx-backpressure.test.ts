/**
 * Local transmit backpressure (src/net/tx-queues.ts full(), src/net/ipv4-output.ts begin(),
 * src/tcp/output.ts, src/tcp/timers.ts): when a class batch and the device ring are both full,
 * IPv4 output refuses new packets instead of dropping frames; TCP keeps the data, retries at
 * the next flush, and timers that expire while refused do not back off or count a timeout.
 * Virtual time, two stacks over a PairDevice whose A->B ring (txRing) is narrowed at will.
 */
import { describe, expect, test } from "bun:test";
import type { FaultConfig } from "../../src/net/pair-device";
import type { TcpSocket } from "../../src/api/tcp-sockets";
import { StackPair } from "../helpers/stack-pair";

const N = 200;
const BYTES = 16 * 1024;

function pattern(i: number, k: number): number {
  return (i * 131 + k * 7 + (i >> 8)) & 255;
}

/** N connections from A to B, established over a normal ring; B checks every byte it receives. */
function setup(): { p: StackPair; ab: FaultConfig; socks: TcpSocket<number>[]; got: Int32Array; bad: () => number } {
  const ab: FaultConfig = { delayUs: 100 };
  const p = new StackPair({ faults: ab, faultsBtoA: { delayUs: 100 }, tcp: { maxConnections: 1024, synQueueSize: 1024, defaultBacklog: 1024 } });
  const got = new Int32Array(N);
  let bad = 0;
  p.sb.listen({
    port: 7,
    backlog: 1024,
    socket: {
      data: (s, d) => {
        // The connection's index is in its first byte.
        const k = s.data as unknown as number;
        let at = got[k < 0 ? 0 : k]!;
        let idx = k;
        if (idx < 0) {
          idx = d[0]!;
          s.data = idx as never;
          at = 0;
        }
        for (let i = 0; i < d.length; i++) if (at + i > 0 && d[i] !== pattern(at + i, idx)) bad++;
        got[idx] = at + d.length;
      },
      open: (s) => void (s.data = -1 as never),
    },
  });
  const socks: TcpSocket<number>[] = [];
  for (let k = 0; k < N; k++) void p.sa.connect({ hostname: "10.0.0.2", port: 7, data: k, socket: { open: (s) => void socks.push(s) } });
  p.run(p.clock.nowUs + 1_000_000, () => socks.length === N);
  expect(socks.length).toBe(N);
  p.run(p.clock.nowUs + 10_000);
  return { p, ab, socks, got, bad: () => bad };
}

function writeAll(socks: TcpSocket<number>[]): void {
  for (const s of socks) {
    const k = s.data;
    const b = new Uint8Array(BYTES);
    b[0] = k;
    for (let i = 1; i < BYTES; i++) b[i] = pattern(i, k);
    expect(s.write(b)).toBe(BYTES);
  }
}

describe("local transmit backpressure: refuse, keep, retry", () => {
  test("a full batch and device ring refuse new frames (none dropped); the data goes out when the ring drains", () => {
    const { p, ab, socks, got, bad } = setup();
    const tcp = p.sa.tcp;
    const before = { rto: tcp.counters.rtoTimeouts, rtx: tcp.counters.retransmits };
    ab.txRing = 0; // the device takes nothing
    writeAll(socks); // ~N * 12 segments in one round: more than the 512-frame batch
    p.a.poll(p.clock.nowUs);
    const tx = p.a.netif.tx;
    expect(tx.dropped).toBe(0);
    expect(tx.refused).toBeGreaterThan(0);
    expect(tx.backlog()).toBe(512);
    // Next round, still refused: nothing dropped, the connections are still waiting (dirty).
    p.a.poll(p.clock.nowUs);
    expect(tx.dropped).toBe(0);
    expect(tcp.pollAt()).toBe(p.clock.nowUs);
    // The ring drains 16 frames per burst from now on.
    ab.txRing = 16;
    p.run(p.clock.nowUs + 2_000_000, () => got.every((n) => n === BYTES));
    expect(Array.from(got).filter((n) => n !== BYTES).length).toBe(0);
    expect(bad()).toBe(0);
    expect(tx.dropped).toBe(0);
    // Nothing was lost in the network: no timeout, no retransmission.
    expect(tcp.counters.rtoTimeouts - before.rto).toBe(0);
    expect(tcp.counters.retransmits - before.rtx).toBe(0);
  });

  test("retransmission timers that expire while transmission is refused neither back off nor count a timeout", () => {
    const { p, ab, socks, got, bad } = setup();
    const tcp = p.sa.tcp;
    const rto0 = tcp.rtoUs(socks[0]!.id);
    ab.txRing = 0;
    writeAll(socks);
    // 3 s of rounds every 10 ms with the device taking nothing: every RTO expires, several times.
    for (let i = 0; i < 300; i++) {
      p.clock.nowUs += 10_000;
      p.a.poll(p.clock.nowUs);
    }
    expect(tcp.counters.timersDeferred).toBeGreaterThan(0);
    expect(tcp.counters.rtoTimeouts).toBe(0);
    expect(tcp.rtoUs(socks[0]!.id)).toBe(rto0);
    expect(p.a.netif.tx.dropped).toBe(0);
    ab.txRing = undefined;
    p.run(p.clock.nowUs + 2_000_000, () => got.every((n) => n === BYTES));
    expect(Array.from(got).filter((n) => n !== BYTES).length).toBe(0);
    expect(bad()).toBe(0);
    expect(tcp.counters.rtoTimeouts).toBe(0);
  });

  test("SYNs refused by a full transmit path are sent later as first transmissions (no SYN timeout)", () => {
    const ab: FaultConfig = { delayUs: 100 };
    const p = new StackPair({ faults: ab, faultsBtoA: { delayUs: 100 }, tcp: { maxConnections: 2048, synQueueSize: 2048, defaultBacklog: 2048 } });
    p.sb.listen({ port: 7, backlog: 2048, socket: {} });
    let opened = 0;
    void p.sa.connect({ hostname: "10.0.0.2", port: 7, socket: { open: () => void opened++ } });
    p.run(p.clock.nowUs + 1_000_000, () => opened === 1);
    ab.txRing = 0;
    for (let i = 0; i < 600; i++) void p.sa.connect({ hostname: "10.0.0.2", port: 7, socket: { open: () => void opened++ } });
    p.a.poll(p.clock.nowUs);
    expect(p.a.netif.tx.dropped).toBe(0);
    expect(p.a.netif.tx.refused).toBeGreaterThan(0);
    p.clock.nowUs += 5_000;
    p.a.poll(p.clock.nowUs);
    ab.txRing = 16;
    p.run(p.clock.nowUs + 500_000, () => opened === 601);
    expect(opened).toBe(601);
    expect(p.sa.tcp.counters.rtoTimeouts).toBe(0);
    expect(p.a.netif.tx.dropped).toBe(0);
  });
});
