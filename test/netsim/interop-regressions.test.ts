/**
 * Regressions found by the Linux interop tests and bench/tcp, reproduced in
 * virtual time over PairDevice (test/helpers/stack-pair.ts).
 *
 * Transmit accounting (src/net/interface.ts, src/net/tx-queues.ts): when a
 * priority class's batch (512 frames) is full, TxQueues.enqueue() first tries
 * to transmit it and, if the device ring is still full, frees the frame and
 * counts it in tx.dropped. NetInterface.flush() copies only the sent/dropped
 * deltas that happen *inside* flush() into the interface counters, so frames
 * sent or dropped by enqueue()'s own transmit attempt never reach
 * counters.txFrames / counters.txDeviceDropped. Seen in bench/tcp over memif:
 * ~1,800 segments vanished from the sender's counters (segsOut - device
 * opackets) while the link itself lost nothing, and the only trace was the
 * retransmissions they caused.
 */
import { describe, expect, test } from "bun:test";
import type { FaultConfig } from "../../src/net/pair-device";
import { StackPair } from "../helpers/stack-pair";

/** A pair whose A->B device ring can be narrowed after ARP has resolved. */
function pairWithRing(): { p: StackPair; ab: FaultConfig } {
  const ab: FaultConfig = { delayUs: 100 };
  const p = new StackPair({ faults: ab, faultsBtoA: { delayUs: 100 }, tcp: { maxConnections: 2048, synQueueSize: 2048, defaultBacklog: 2048 } });
  p.sb.listen({ port: 7, backlog: 2048, socket: {} });
  let up = false;
  void p.sa.connect({ hostname: "10.0.0.2", port: 7, socket: { open: () => void (up = true) } });
  p.run(p.clock.nowUs + 1_000_000, () => up);
  expect(up).toBe(true);
  return { p, ab };
}

/** Open `n` connections from A in one poll round: n SYNs reach the transmit queue at once. */
function synBurst(p: StackPair, n: number): void {
  for (let i = 0; i < n; i++) void p.sa.connect({ hostname: "10.0.0.2", port: 7, socket: {} }).catch(() => {});
  p.a.poll(p.clock.nowUs);
}

describe("transmit accounting when the device ring is full", () => {
  test("with the batch and the device ring both full, new frames are refused (not dropped) and txDeviceDropped stays equal to tx.dropped", () => {
    const { p, ab } = pairWithRing();
    ab.txRing = 0; // the device takes nothing: its ring is full
    const before = p.a.netif.counters.txDeviceDropped;
    synBurst(p, 600);
    // 600 SYNs into a 512-frame batch: IPv4 output refuses the rest (tx-backpressure.test.ts).
    expect(p.a.netif.tx.refused).toBeGreaterThan(0);
    expect(p.a.netif.tx.dropped).toBe(0);
    expect(p.a.netif.counters.txDeviceDropped - before).toBe(p.a.netif.tx.dropped);
  });

  test("frames sent by the transmit queue's own flush (batch full) are counted in txFrames", () => {
    const { p, ab } = pairWithRing();
    ab.txRing = 16; // a small ring: the burst goes out 16 frames per txBurst
    synBurst(p, 600);
    ab.txRing = undefined;
    p.run(p.clock.nowUs + 50_000);
    expect(p.a.netif.tx.dropped).toBe(0);
    expect(p.a.netif.counters.txFrames).toBe(p.devA.stats().opackets);
  });
});
