/**
 * ARP across stack threads (--layout stack=N): a neighbour's ARP packet that
 * reaches thread 0's queue is forwarded over the SPSC mailbox to thread 1, whose
 * QueueDevice hands it to its own interface as an ARP reply: thread 1 learns the
 * neighbour, releases the frame it held for it, and sends no second reply.
 */
import { expect, test } from "bun:test";
import { NetInterface } from "../../../src/net/interface";
import { PacketBatch } from "../../../src/net/packet-batch";
import { ManualClock, PairDevice } from "../../../src/net/pair-device";
import { ARP_HIT } from "../../../src/net/arp-cache";
import { ArpMailboxEnd, createArpMailbox } from "../../../src/sched/multi/arp-mailbox";
import { QueueDevice } from "../../../src/sched/multi/queue-device";
import { parseIpv4 } from "../../../src/wire/ip-addr";

const OUR_MAC = new Uint8Array([2, 0, 0, 0, 0, 0x10]);
const PEER_IP = parseIpv4("10.9.0.2");
const OUR_IP = parseIpv4("10.9.0.1");

function poll(netif: NetInterface, dev: QueueDevice | PairDevice, now: number): number {
  const b = new PacketBatch(32);
  const n = dev.rxBurst(b);
  netif.receive(now, b);
  netif.service(now);
  netif.flush();
  return n;
}

test("an ARP request on thread 0's queue teaches thread 1 the neighbour; only thread 0 replies", () => {
  const clock = new ManualClock();
  // The wire: peer <-> thread 0's queue. Thread 1's queue is a second link the peer never uses.
  const [peerDev, q0] = PairDevice.create({ clock, macB: OUR_MAC });
  const [, q1] = PairDevice.create({ clock, macB: OUR_MAC });
  const share = createArpMailbox(2, 16);
  const t0 = new QueueDevice(q0, new ArpMailboxEnd(0, share), 0);
  const t1 = new QueueDevice(q1, new ArpMailboxEnd(1, share), 1);
  const peer = new NetInterface(peerDev, { ip: PEER_IP, prefixLen: 24 });
  const n0 = new NetInterface(t0, { ip: OUR_IP, prefixLen: 24 });
  const n1 = new NetInterface(t1, { ip: OUR_IP, prefixLen: 24 });

  // Thread 1 wants to reach the peer first: its echo request waits for ARP.
  n1.icmp.sendEchoRequest(0, PEER_IP >>> 0, 7, 1, 8);
  n1.flush();
  expect(n1.arp.pending()).toBe(1);

  // The peer asks for our address; the request reaches thread 0 only.
  expect(peer.arp.sendRequest(OUR_IP >>> 0)).toBe(true);
  peer.flush();
  expect(poll(n0, t0, 10)).toBe(1);
  expect(n0.counters.arpRepliesSent).toBe(1);
  expect(t0.mailbox!.sent).toBe(1);

  // Thread 1 takes the forwarded copy: learns the peer, releases its held frame, does not reply.
  expect(poll(n1, t1, 20)).toBe(1);
  expect(t1.arpInjected).toBe(1);
  const mac = new Uint8Array(6);
  expect(n1.arp.cache.lookup(PEER_IP, 20, mac, 0)).toBe(ARP_HIT);
  expect(Array.from(mac)).toEqual(Array.from(peerDev.caps.mac));
  expect(n1.counters.arpRepliesSent).toBe(0);
  expect(n1.arp.pending()).toBe(0);

  // Nothing more in the mailbox: a second poll injects nothing.
  expect(poll(n1, t1, 30)).toBe(0);
  expect(t1.mailbox!.received).toBe(1);
});

test("a full mailbox ring drops the copy and counts it", () => {
  const share = createArpMailbox(2, 2);
  const end0 = new ArpMailboxEnd(0, share);
  const pkt = new Uint8Array(28);
  for (let i = 0; i < 3; i++) end0.forward(pkt, 0);
  expect(end0.sent).toBe(2);
  expect(end0.dropped).toBe(1);
  const end1 = new ArpMailboxEnd(1, share);
  const out = new Uint8Array(28);
  expect(end1.take(out, 0)).toBe(true);
  expect(end1.take(out, 0)).toBe(true);
  expect(end1.take(out, 0)).toBe(false);
});
