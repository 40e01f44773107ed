/**
 * Fuzz: random and truncated/mutated frames through every wire view.
 * Property: checkLen() never throws, and when it returns true every getter
 * returns an in-range integer without reading past off+len. The buffer ends
 * exactly at off+len, so a DataView read past the packet throws and a
 * Uint8Array read past it yields undefined (NaN/false in the result).
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ArpRepr, ArpView } from "../../src/wire/arp";
import { EthernetView } from "../../src/wire/ethernet";
import { IcmpRepr, IcmpView } from "../../src/wire/icmp";
import { Ipv4Repr, Ipv4View } from "../../src/wire/ipv4";
import { TcpOptions, TcpRepr, TcpView, parseTcpOptions } from "../../src/wire/tcp";
import { UdpView } from "../../src/wire/udp";
import {
  ARP_REQUEST_FRAME,
  ICMP_ECHO_REQUEST_FRAME,
  ICMP_PORT_UNREACH_FRAME,
  TCP_DATA_FRAME,
  TCP_RST_FRAME,
  TCP_SYN_FRAME,
  UDP_FRAME,
  hexBytes,
} from "../unit/wire/captures";

const RUNS = 10_000;

/** Packet bytes placed at `off` in a buffer that ends exactly where the packet ends. */
function exact(bytes: Uint8Array, off: number): { buf: Uint8Array; dv: DataView } {
  const buf = new Uint8Array(off + bytes.length);
  buf.fill(0xa5, 0, off);
  buf.set(bytes, off);
  return { buf, dv: new DataView(buf.buffer) };
}

function u(v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new Error("getter out of range: " + v);
}
function i32(v: number): void {
  if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new Error("not an int32: " + v);
}
function bool(v: boolean): void {
  if (v !== true && v !== false) throw new Error("not a boolean: " + v);
}
function within(first: number, n: number, off: number, len: number): void {
  if (!(first >= off && n >= 0 && first + n <= off + len)) throw new Error("range [" + first + ", +" + n + ") outside packet");
}

/** Captured L3/L4 payloads (without Ethernet) to truncate and mutate, so checkLen often passes. */
const SEEDS = [TCP_SYN_FRAME, TCP_DATA_FRAME, TCP_RST_FRAME, UDP_FRAME, ICMP_ECHO_REQUEST_FRAME, ICMP_PORT_UNREACH_FRAME, ARP_REQUEST_FRAME].map(hexBytes);

/**
 * Either random bytes, or a captured frame cut at a random layer (mostly the
 * view's own), often truncated and with a few bytes overwritten.
 */
function packetArb(layer: number): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 120 }),
    fc
      .record({
        seed: fc.integer({ min: 0, max: SEEDS.length - 1 }),
        layer: fc.constantFrom(0, 14, 34, layer, layer, layer),
        cut: fc.oneof(fc.constant(0), fc.nat({ max: 100 })),
        edits: fc.array(fc.tuple(fc.nat({ max: 99 }), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
      })
      .map(({ seed, layer, cut, edits }) => {
        const src = SEEDS[seed]!;
        const from = Math.min(layer, src.length);
        const b = src.slice(from, Math.max(from, src.length - (cut % (src.length - from + 1))));
        for (const [at, v] of edits) if (b.length > 0) b[at % b.length] = v;
        return b;
      }),
  );
}
const offArb = fc.integer({ min: 0, max: 9 });

function fuzzView(name: string, layer: number, check: (buf: Uint8Array, dv: DataView, off: number, len: number) => boolean): void {
  test(name + ": checkLen never throws; when true, getters stay in bounds", () => {
    let accepted = 0;
    fc.assert(
      fc.property(packetArb(layer), offArb, (bytes, off) => {
        const { buf, dv } = exact(bytes, off);
        if (check(buf, dv, off, bytes.length)) accepted++;
      }),
      { numRuns: RUNS },
    );
    // The generator must actually reach the accepted branch, or the property says nothing.
    expect(accepted).toBeGreaterThan(RUNS / 100);
  });
}

describe("wire views under random input", () => {
  const eth = new EthernetView();
  fuzzView("EthernetView", 0, (buf, dv, off, len) => {
    if (!eth.reset(buf, dv, off, len).checkLen()) return false;
    const out = new Uint8Array(12);
    u(eth.etherType(), 0xffff);
    bool(eth.isBroadcast());
    bool(eth.isMulticast());
    bool(eth.dstMacEquals(out));
    eth.copyDst(out, 0);
    eth.copySrc(out, 6);
    for (let i = 0; i < 12; i++) u(out[i]!, 255);
    within(eth.payloadOff(), eth.payloadLen(), off, len);
    return true;
  });

  const arp = new ArpView();
  const arpRepr = new ArpRepr();
  fuzzView("ArpView", 14, (buf, dv, off, len) => {
    if (!arp.reset(buf, dv, off, len).checkLen()) return false;
    u(arp.hardwareType(), 0xffff);
    u(arp.protocolType(), 0xffff);
    u(arp.hlen(), 255);
    u(arp.plen(), 255);
    u(arp.operation(), 0xffff);
    u(arp.senderIp(), 0xffffffff);
    u(arp.targetIp(), 0xffffffff);
    bool(arp.isEthernetIpv4());
    within(arp.senderMacOff(), 6, off, len);
    within(arp.targetMacOff(), 6, off, len);
    arp.parseInto(arpRepr);
    u(arpRepr.senderIp, 0xffffffff);
    return true;
  });

  const ip = new Ipv4View();
  const ipRepr = new Ipv4Repr();
  fuzzView("Ipv4View", 14, (buf, dv, off, len) => {
    if (!ip.reset(buf, dv, off, len).checkLen()) return false;
    u(ip.version(), 15);
    u(ip.ihl(), 15);
    u(ip.headerLen(), 60);
    u(ip.tos(), 255);
    u(ip.dscp(), 63);
    u(ip.ecn(), 3);
    u(ip.totalLength(), len);
    u(ip.identification(), 0xffff);
    u(ip.flags(), 7);
    bool(ip.dontFragment());
    bool(ip.moreFragments());
    u(ip.fragmentOffset(), 0x1fff);
    bool(ip.isFragment());
    u(ip.ttl(), 255);
    u(ip.protocol(), 255);
    u(ip.headerChecksum(), 0xffff);
    u(ip.srcIp(), 0xffffffff);
    u(ip.dstIp(), 0xffffffff);
    bool(ip.hasOptions());
    bool(ip.verifyChecksum());
    within(ip.off, ip.headerLen(), off, len);
    within(ip.payloadOff(), ip.payloadLen(), off, len);
    ip.parseInto(ipRepr);
    within(ipRepr.payloadOff, ipRepr.payloadLen, off, len);
    return true;
  });

  const icmp = new IcmpView();
  const icmpRepr = new IcmpRepr();
  fuzzView("IcmpView", 34, (buf, dv, off, len) => {
    if (!icmp.reset(buf, dv, off, len).checkLen()) return false;
    u(icmp.type(), 255);
    u(icmp.code(), 255);
    u(icmp.checksum(), 0xffff);
    bool(icmp.verifyChecksum());
    u(icmp.identifier(), 0xffff);
    u(icmp.sequence(), 0xffff);
    u(icmp.restOfHeader(), 0xffffffff);
    u(icmp.nextHopMtu(), 0xffff);
    within(icmp.payloadOff(), icmp.payloadLen(), off, len);
    icmp.parseInto(icmpRepr);
    within(icmpRepr.payloadOff, icmpRepr.payloadLen, off, len);
    return true;
  });

  const tcp = new TcpView();
  const tcpRepr = new TcpRepr();
  const opts = new TcpOptions();
  fuzzView("TcpView", 34, (buf, dv, off, len) => {
    if (!tcp.reset(buf, dv, off, len).checkLen()) return false;
    u(tcp.srcPort(), 0xffff);
    u(tcp.dstPort(), 0xffff);
    i32(tcp.seq());
    i32(tcp.ack());
    u(tcp.dataOffset(), 60);
    u(tcp.flags(), 255);
    u(tcp.window(), 0xffff);
    u(tcp.checksum(), 0xffff);
    u(tcp.urgentPointer(), 0xffff);
    bool(tcp.verifyChecksum(0x0a4d0001, 0x0a4d0002));
    within(tcp.optionsOff(), tcp.optionsLen(), off, len);
    within(tcp.payloadOff(), tcp.payloadLen(), off, len);
    u(tcp.optionsLen(), 40);
    bool(parseTcpOptions(buf, dv, tcp.optionsOff(), tcp.optionsLen(), opts));
    tcp.parseInto(tcpRepr);
    within(tcpRepr.payloadOff, tcpRepr.payloadLen, off, len);
    return true;
  });

  const udp = new UdpView();
  fuzzView("UdpView", 34, (buf, dv, off, len) => {
    if (!udp.reset(buf, dv, off, len).checkLen()) return false;
    u(udp.srcPort(), 0xffff);
    u(udp.dstPort(), 0xffff);
    u(udp.length(), len);
    u(udp.checksum(), 0xffff);
    bool(udp.verifyChecksum(1, 2));
    within(udp.payloadOff(), udp.payloadLen(), off, len);
    return true;
  });
});
