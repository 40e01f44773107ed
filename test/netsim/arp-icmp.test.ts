import { describe, expect, test } from "bun:test";
import { ETH_HEADER_LEN, ETHERTYPE_IPV4 } from "../../src/wire/ethernet";
import { NetInterface } from "../../src/net/interface";
import { IP_A, IP_B, NetPair } from "../helpers/net-pair";

class Pings {
  got: number[] = [];
  echoReply(_now: number, src: number, _id: number, seq: number, _len: number): void {
    if (src === IP_B) this.got.push(seq);
  }
}

describe("ARP and ICMP between two stacks over PairDevice", () => {
  test("a ping resolves the neighbour with ARP and is answered", () => {
    const p = new NetPair();
    const pings = new Pings();
    p.a.netif.icmp.echoSink = pings;
    p.a.netif.icmp.sendEchoRequest(0, IP_B, 7, 1, 56);
    // Held for ARP first.
    expect(p.a.netif.arp.pending()).toBe(1);
    p.run(10_000);
    expect(pings.got).toEqual([1]);
    expect(p.a.netif.counters.arpRequestsSent).toBe(1);
    expect(p.b.netif.counters.arpRepliesSent).toBe(1);
    expect(p.b.netif.counters.icmpEchoReplies).toBe(1);
    // B learned A from the request (RFC 826), so its reply needed no request of its own.
    expect(p.b.netif.counters.arpRequestsSent).toBe(0);
    expect(p.a.netif.arp.pending()).toBe(0);
  });

  test("200 pings with no loss, buffers all returned", () => {
    const p = new NetPair();
    const pings = new Pings();
    p.a.netif.icmp.echoSink = pings;
    const freeA = p.a.dev.buffersFree();
    const freeB = p.b.dev.buffersFree();
    for (let i = 0; i < 200; i++) {
      p.a.netif.icmp.sendEchoRequest(p.clock.nowUs, IP_B, 7, i, 56);
      p.run(p.clock.nowUs + 1000);
    }
    expect(pings.got.length).toBe(200);
    expect(p.a.netif.counters.totalDrops()).toBe(0);
    expect(p.b.netif.counters.totalDrops()).toBe(0);
    // Buffers cached in the tx refill pool are the only ones not back in the pool.
    p.a.netif.close();
    p.b.netif.close();
    expect(p.a.dev.buffersFree()).toBe(freeA);
    expect(p.b.dev.buffersFree()).toBe(freeB);
  });

  test("gratuitous ARP at start refreshes peers that know us and adds no entry elsewhere (RFC 826 merge, RFC 5227)", () => {
    const p = new NetPair();
    p.a.netif.start(0);
    p.run(1000);
    expect(p.a.netif.counters.arpGratuitousSent).toBe(1);
    expect(p.b.netif.arp.cache.has(IP_A, 1000)).toBe(false);
    // Once B knows A (from A's request), a later announcement keeps B's entry alive past its first expiry.
    p.a.netif.icmp.sendEchoRequest(p.clock.nowUs, IP_B, 1, 1, 8);
    p.run(2000);
    expect(p.b.netif.arp.cache.has(IP_A, 2000)).toBe(true);
    p.clock.nowUs = 50_000_000;
    p.a.netif.arp.announce();
    p.run(50_001_000);
    expect(p.b.netif.arp.cache.has(IP_A, 70_000_000)).toBe(true);
  });

  test("an unanswered next hop is given up after the retries, frames counted", () => {
    const p = new NetPair({ faults: { loss: 1 } });
    p.a.netif.icmp.sendEchoRequest(0, IP_B, 1, 1, 8);
    p.run(10_000_000);
    expect(p.a.netif.counters.arpRequestsSent).toBe(3);
    expect(p.a.netif.counters.txArpUnresolved).toBe(1);
    expect(p.a.netif.arp.pending()).toBe(0);
  });

  test("off-link destinations without a gateway are counted as no route", () => {
    const p = new NetPair();
    p.a.netif.icmp.sendEchoRequest(0, 0x0b000001, 1, 1, 8);
    expect(p.a.netif.counters.txNoRoute).toBe(1);
  });

  test("an unknown protocol is answered with protocol unreachable; a bad IPv4 checksum is dropped and counted", () => {
    const p = new NetPair();
    // Resolve first.
    p.a.netif.icmp.sendEchoRequest(0, IP_B, 1, 1, 8);
    p.run(5000);
    const errs = { n: 0, code: -1 };
    p.a.netif.icmp.errorSink = {
      icmpError(_now, type, code) {
        errs.n++;
        errs.code = code;
        expect(type).toBe(3);
      },
    };
    // Hand-build an IPv4 datagram with protocol 253 from A to B.
    const out = p.a.netif.out;
    const l4 = out.begin();
    expect(l4).toBeGreaterThan(0);
    for (let i = 0; i < 16; i++) out.mem[l4 + i] = i;
    out.commit(IP_A, IP_B, 253, 16, 1);
    p.run(p.clock.nowUs + 5000);
    expect(p.b.netif.counters.dropIpv4UnknownProtocol).toBe(1);
    expect(p.b.netif.counters.icmpUnreachableSent).toBe(1);
    expect(errs.n).toBe(1);
    expect(errs.code).toBe(2);
    // Now corrupt the header checksum of the next datagram before it leaves.
    const l4b = out.begin();
    out.commit(IP_A, IP_B, 253, 0, 1);
    const batch = p.a.netif.tx.batches[1]!;
    const off = batch.off[batch.count - 1]!;
    expect(out.dv.getUint16(off + 12)).toBe(ETHERTYPE_IPV4);
    out.mem[off + ETH_HEADER_LEN + 10] ^= 0xff;
    p.run(p.clock.nowUs + 5000);
    expect(l4b).toBeGreaterThan(0);
    expect(p.b.netif.counters.dropIpv4BadChecksum).toBe(1);
  });

  test("secondary address ranges answer ARP and ping from the asked address", () => {
    const p = new NetPair();
    p.b.netif.addAddressRange(0x0a000064, 10); // 10.0.0.100-109
    const got: number[] = [];
    p.a.netif.icmp.echoSink = { echoReply: (_n, src) => void got.push(src) };
    p.a.netif.icmp.sendEchoRequest(0, 0x0a000069, 1, 1, 8);
    p.a.netif.icmp.sendEchoRequest(0, 0x0a00006e, 1, 2, 8); // .110: not ours
    p.run(5_000_000);
    expect(got).toEqual([0x0a000069]);
    expect(p.a.netif.arp.cache.has(0x0a000069, p.clock.nowUs)).toBe(true);
    expect(p.a.netif.counters.txArpUnresolved).toBe(1);
    expect(p.b.netif.addrs.count()).toBe(11);
    expect(p.b.netif.addrs.at(3)).toBe(0x0a000066);
  });
});

describe("ARP cache eviction while frames wait", () => {
  test("traffic past the mapping's lifetime is never held: the stale entry keeps working while one refresh request goes out", () => {
    const p = new NetPair();
    const pings = new Pings();
    p.a.netif.icmp.echoSink = pings;
    const lifetimeUs = p.a.netif.arp.cache.lifetimeUs;
    let held = 0;
    let n = 0;
    // Ping every 100 ms for the lifetime plus 5 s (virtual time).
    for (let t = 0; t <= lifetimeUs + 5_000_000; t += 100_000) {
      p.a.netif.icmp.sendEchoRequest(t, IP_B, 7, n++, 56);
      if (t > 0) held += p.a.netif.arp.pending();
      p.run(t + 100_000);
    }
    expect(pings.got.length).toBe(n);
    expect(held).toBe(0);
    // Only the very first ping waited for ARP, on either side.
    expect(p.a.netif.counters.txArpHeld + p.b.netif.counters.txArpHeld).toBe(1);
    // A's first resolution and one refresh by whichever side's entry went stale first (B's: it
    // learned A from A's request, earlier; A learns B back from that request, RFC 826 merge).
    expect(p.a.netif.counters.arpRequestsSent + p.b.netif.counters.arpRequestsSent).toBe(2);
    expect(p.b.netif.arp.pending()).toBe(0);
    expect(p.a.netif.counters.totalDrops()).toBe(0);
  });

  test("frames held for an evicted next hop are still retried and then dropped and counted", () => {
    const p = new NetPair({ faults: { loss: 1 } });
    // A tiny cache: resolving many other addresses evicts the first one's entry.
    const arp = p.a.netif.arp;
    p.a.netif.icmp.sendEchoRequest(0, IP_B, 1, 1, 8);
    for (let i = 0; i < 200; i++) arp.cache.learn(0x0a000010 + i, new Uint8Array(6), 0, 0);
    expect(arp.pending()).toBe(1);
    p.run(10_000_000);
    expect(arp.pending()).toBe(0);
    expect(p.a.netif.counters.txArpUnresolved).toBe(1);
    p.a.netif.close();
    expect(p.a.dev.buffersFree()).toBe(p.a.dev.nbufs);
  });
});

describe("transmit backpressure", () => {
  test("frames a full device ring cannot take are retried next round, in order, none lost", () => {
    const p = new NetPair({ faults: { delayUs: 50, txRing: 4 } });
    const got: number[] = [];
    p.a.netif.icmp.echoSink = { echoReply: (_n, _src, _id, seq) => void got.push(seq) };
    // Resolve first, then a burst of 100 requests in one round.
    p.a.netif.icmp.sendEchoRequest(0, IP_B, 1, 1000, 8);
    p.run(10_000);
    for (let i = 0; i < 100; i++) p.a.netif.icmp.sendEchoRequest(p.clock.nowUs, IP_B, 1, i, 8);
    p.run(p.clock.nowUs + 100_000);
    expect(got.slice(1)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(p.a.dev.txRingFull).toBeGreaterThan(0);
    expect(p.a.netif.tx.deferred).toBeGreaterThan(0);
    expect(p.a.netif.counters.txDeviceDropped).toBe(0);
  });
});

describe("default gateway (RFC 1122 3.3.1.1)", () => {
  test("off-link destinations go to the gateway's MAC; on-link ones directly", () => {
    const p = new NetPair();
    // Rebuild A with B as its default gateway.
    p.a.netif = new NetInterface(p.a.dev, { ip: IP_A, prefixLen: 24, gateway: IP_B });
    p.a.netif.icmp.sendEchoRequest(0, 0x08080808, 1, 1, 8); // 8.8.8.8: off-link
    p.run(10_000);
    // A resolved the gateway (B) and sent the datagram to B's MAC; B is not 8.8.8.8 and drops it by reason.
    expect(p.a.netif.arp.cache.has(IP_B, p.clock.nowUs)).toBe(true);
    expect(p.a.netif.arp.cache.has(0x08080808, p.clock.nowUs)).toBe(false);
    expect(p.b.netif.counters.dropIpv4NotForUs).toBe(1);
    expect(p.a.netif.counters.txNoRoute).toBe(0);
  });
});
