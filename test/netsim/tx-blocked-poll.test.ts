/**
 * A stack whose device refuses frames (transmit ring full) asks to be polled
 * again TX_BLOCKED_RETRY_US later, not at once (src/api/stack.ts): retrying
 * at once makes the poll loop spin while nothing can go out, and a stack
 * thread at SCHED_FIFO spinning there takes the CPU the peer needs to drain
 * the ring (the 1 M iotep retransmission storm, issue 6). Frames still go out
 * once the ring drains, and nothing is lost or retransmitted.
 * Virtual time, two stacks over a PairDevice whose A->B ring (txRing) is narrowed at will.
 */
import { describe, expect, test } from "bun:test";
import type { FaultConfig } from "../../src/net/pair-device";
import type { TcpSocket } from "../../src/api/tcp-sockets";
import { TX_BLOCKED_RETRY_US } from "../../src/api/stack";
import { StackPair } from "../helpers/stack-pair";

const N = 50;
const BYTES = 200;

function setup(): { p: StackPair; ab: FaultConfig; socks: TcpSocket<number>[]; got: Int32Array } {
  const ab: FaultConfig = { delayUs: 100 };
  const p = new StackPair({ faults: ab, faultsBtoA: { delayUs: 100 }, tcp: { maxConnections: 256, synQueueSize: 256, defaultBacklog: 256 } });
  const got = new Int32Array(N);
  p.sb.listen({ port: 7, backlog: 256, socket: { data: (_s, d) => void (got[d[0]!] = got[d[0]!]! + d.length) } });
  const socks: TcpSocket<number>[] = [];
  for (let k = 0; k < N; k++) void p.sa.connect({ hostname: "10.0.0.2", port: 7, data: k, socket: { open: (s) => void socks.push(s) } });
  p.run(p.clock.nowUs + 1_000_000, () => socks.length === N);
  expect(socks.length).toBe(N);
  p.run(p.clock.nowUs + 10_000);
  return { p, ab, socks, got };
}

function writeAll(socks: TcpSocket<number>[]): void {
  for (const s of socks) {
    const b = new Uint8Array(BYTES);
    b[0] = s.data;
    expect(s.write(b)).toBe(BYTES);
  }
}

describe("stack: a device that refuses frames is retried after a pause, not in a spin", () => {
  test("after a round in which the device took nothing, pollAt() is TX_BLOCKED_RETRY_US away, though TCP has segments waiting", () => {
    const { p, ab, socks } = setup();
    ab.txRing = 0; // the device takes nothing: its ring is full
    writeAll(socks);
    const now = p.clock.nowUs;
    p.a.poll(now);
    expect(p.a.netif.tx.backlog()).toBeGreaterThan(0);
    // The interface itself wants to go again at once (its frames wait for the device) ...
    expect(p.a.netif.pollAt()).toBe(now);
    // ... but the stack, which knows the device refused, asks for a pause.
    expect(p.a.pollAt()).toBe(now + TX_BLOCKED_RETRY_US);
    expect(p.a.txBlockedRounds).toBe(1);
    // Still refused on the retry: another pause from that round.
    p.clock.nowUs = now + TX_BLOCKED_RETRY_US;
    p.a.poll(p.clock.nowUs);
    expect(p.a.pollAt()).toBe(p.clock.nowUs + TX_BLOCKED_RETRY_US);
  });

  test("once the device takes frames again the stack is polled at once, and every byte arrives with no retransmission", () => {
    const { p, ab, socks, got } = setup();
    const tcp = p.sa.tcp;
    const rtx0 = tcp.counters.retransmits;
    ab.txRing = 0;
    writeAll(socks);
    p.a.poll(p.clock.nowUs);
    expect(p.a.pollAt()).toBe(p.clock.nowUs + TX_BLOCKED_RETRY_US);
    ab.txRing = 16;
    p.clock.nowUs += TX_BLOCKED_RETRY_US;
    // This round the device takes 16 frames: not blocked, so no pause is asked for.
    expect(p.a.poll(p.clock.nowUs)).toBeGreaterThan(0);
    expect(p.a.pollAt()).toBeLessThan(p.clock.nowUs + TX_BLOCKED_RETRY_US);
    p.run(p.clock.nowUs + 1_000_000, () => got.every((n) => n === BYTES));
    expect(Array.from(got).filter((n) => n !== BYTES).length).toBe(0);
    expect(tcp.counters.retransmits - rtx0).toBe(0);
    expect(p.a.netif.tx.dropped).toBe(0);
  });

  test("a round with nothing refused leaves pollAt() to the interface and TCP (no pause)", () => {
    const { p, socks } = setup();
    writeAll(socks);
    p.a.poll(p.clock.nowUs);
    expect(p.a.txBlockedRounds).toBe(0);
    expect(p.a.pollAt()).toBe(Math.min(p.a.netif.pollAt(), p.sa.tcp.pollAt()));
  });
});
