/**
 * What stray-segment forwarding (src/sched/multi/segment-forward.ts) costs, in
 * one process, no devices: (1) the check every rx burst of a stack thread pays
 * (QueueDevice.rxBurst on an empty queue with the ARP exchange only, as before,
 * vs with the segment exchange too), and (2) one forwarded frame of 100 and
 * 1514 bytes: SegmentMailboxEnd.forward on one side plus take into a buffer on
 * the other. Best of 5 runs of each, after a warm-up (FACTS: the JIT).
 *
 *   bun bench/multi-fwd-cost.ts [--iters N]
 */
import { PacketBatch } from "../src/net/packet-batch";
import { ManualClock, PairDevice } from "../src/net/pair-device";
import { ArpMailboxEnd, createArpMailbox } from "../src/sched/multi/arp-mailbox";
import { QueueDevice } from "../src/sched/multi/queue-device";
import { createSegmentMailbox, SegmentMailboxEnd } from "../src/sched/multi/segment-mailbox";
import { parseProgramArgs } from "../src/api/cli";

const flags = parseProgramArgs({
  name: "multi-fwd-cost",
  usage: "bun bench/multi-fwd-cost.ts [--iters N]",
  about: "Per-burst and per-frame cost of stray-segment forwarding between stack threads.",
  flags: [{ name: "iters", type: "int", arg: "N", default: 2_000_000, min: 1000, help: "calls per timed run" }],
}).values;
const iters = flags["iters"] as number;

function best(f: () => void): number {
  f();
  let b = Infinity;
  for (let r = 0; r < 5; r++) {
    const t = Bun.nanoseconds();
    f();
    b = Math.min(b, (Bun.nanoseconds() - t) / iters);
  }
  return b;
}

const clock = new ManualClock();
const [, dev] = PairDevice.create({ clock });
const arp = createArpMailbox(2, 16);
const segs = createSegmentMailbox(2, 32768);
const before = new QueueDevice(dev, new ArpMailboxEnd(0, arp), 0, null);
const after = new QueueDevice(dev, new ArpMailboxEnd(0, arp), 0, new SegmentMailboxEnd(0, segs));
const batch = new PacketBatch(32);
const burst = (qd: QueueDevice) => () => {
  for (let i = 0; i < iters; i++) {
    batch.count = 0;
    qd.rxBurst(batch);
  }
};
// Both orders: the first one timed sees a call site with one shape only.
const nAfter1 = best(burst(after));
const nBefore = best(burst(before));
const nAfter = Math.min(nAfter1, best(burst(after)));
console.log(`empty rx burst, ARP exchange only (before): ${nBefore.toFixed(1)} ns; with the segment exchange (after): ${nAfter.toFixed(1)} ns; added ${(nAfter - nBefore).toFixed(1)} ns per burst`);

const from = new SegmentMailboxEnd(0, segs);
const to = new SegmentMailboxEnd(1, segs);
const mem = new Uint8Array(4096).map((_, i) => i & 0xff);
const dst = new Uint8Array(4096);
for (const len of [100, 1514]) {
  const ns = best(() => {
    for (let i = 0; i < iters; i++) {
      from.forward(mem, 2, len, 1);
      to.take(dst, 0, 2048);
    }
  });
  console.log(`one forwarded frame of ${len} B (forward + take): ${ns.toFixed(0)} ns`);
}
