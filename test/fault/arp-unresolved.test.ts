/**
 * ARP under many unresolved next hops (found by the receive-path fuzz test:
 * SYNs from 100+ spoofed on-link sources left the retry pass stuck, so
 * pollAt() stayed in the past and the poll loop spun). Every next hop must be
 * retried, given up on after maxRequests, its held frames freed and counted.
 */
import { describe, expect, test } from "bun:test";
import { IPPROTO_UDP } from "../../src/net/l4-tx";
import { NetPair } from "../helpers/net-pair";

describe("ARP with many unresolved next hops", () => {
  test("200 silent on-link hosts: every held frame is dropped and counted, pollAt moves forward", () => {
    const p = new NetPair();
    const a = p.a.netif;
    const hosts = 200;
    for (let i = 0; i < hosts; i++) {
      const off = a.out.begin();
      expect(off).toBeGreaterThanOrEqual(0);
      a.out.commit(a.ip, (0x0a000000 | (20 + i)) >>> 0, IPPROTO_UDP, 8, 0);
    }
    expect(a.arp.pending()).toBe(hosts);
    // Virtual time: 3 requests 1 s apart, then give up. Event by event, bounded.
    let rounds = 0;
    let last = -1;
    while (a.arp.pending() > 0 && rounds < 1000) {
      const at = a.pollAt();
      expect(at).toBeGreaterThan(last);
      last = at;
      p.clock.nowUs = Math.max(p.clock.nowUs, at);
      p.settle();
      rounds++;
    }
    expect(a.arp.pending()).toBe(0);
    expect(a.counters.txArpUnresolved).toBe(hosts);
    expect(a.pollAt()).toBe(Number.POSITIVE_INFINITY);
    // No buffer leaked: after close every buffer is back in the pool.
    a.close();
    expect(p.a.dev.buffersFree()).toBe(p.a.dev.nbufs);
  });
});
