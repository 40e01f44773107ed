import { describe, expect, test } from "bun:test";
import { heapStats } from "bun:jsc";
import {
  Classifier,
  FrameInfo,
  byDscp,
  byPayloadByte,
  byPort,
  iotepClassifier,
  parseFrameInfo,
  type ClassifyFn,
} from "../../../src/sched/classifier";
import { PacketBatch } from "../../../src/net/packet-batch";
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, writeEthernetHeader } from "../../../src/wire/ethernet";
import { Ipv4View, writeIpv4Header } from "../../../src/wire/ipv4";
import { TCP_ACK, TCP_PSH, writeTcpHeader } from "../../../src/wire/tcp";
import { UdpView } from "../../../src/wire/udp";

const MAC_A = new Uint8Array([2, 0, 0, 0, 0, 1]);
const MAC_B = new Uint8Array([2, 0, 0, 0, 0, 2]);
const IP_A = 0x0a000001;
const IP_B = 0x0a000002;

/** A packet memory of fixed slots, like an mbuf pool: frame i starts at i * SLOT + 64. */
const SLOT = 2048;
const mem = new Uint8Array(SLOT * 64);
const dv = new DataView(mem.buffer);
const slotOff = (i: number): number => i * SLOT + 64;

interface TcpFrame {
  doff?: number;
  payload?: number[] | Uint8Array;
  srcPort?: number;
  dstPort?: number;
  tos?: number;
  pad?: number;
}

/** Write an Ethernet + IPv4 + TCP frame at `off`; returns the frame length. Options are NOPs. */
function tcpFrame(off: number, f: TcpFrame = {}): number {
  const doff = f.doff ?? 20;
  const payload = f.payload ?? [];
  let p = off + writeEthernetHeader(mem, dv, off, MAC_B, MAC_A, ETHERTYPE_IPV4);
  const ipOff = p;
  const total = 20 + doff + payload.length;
  p += writeIpv4Header(dv, p, f.tos ?? 0, total, 1, true, 64, 6, IP_A, IP_B);
  writeTcpHeader(dv, p, f.srcPort ?? 40000, f.dstPort ?? 80, 1000, 2000, doff, TCP_ACK | TCP_PSH, 65535);
  mem.fill(1, p + 20, p + doff); // NOP options
  mem.set(payload, p + doff);
  const len = ipOff - off + total;
  // Ethernet minimum frame padding (the IPv4 total length excludes it).
  const padded = Math.max(len + (f.pad ?? 0), 60);
  mem.fill(0, off + len, off + padded);
  return padded;
}

function udpFrame(off: number, srcPort: number, dstPort: number, payload: number[]): number {
  let p = off + writeEthernetHeader(mem, dv, off, MAC_B, MAC_A, ETHERTYPE_IPV4);
  const total = 20 + 8 + payload.length;
  p += writeIpv4Header(dv, p, 0, total, 1, true, 64, 17, IP_A, IP_B);
  const u = new UdpView().reset(mem, dv, p, 8 + payload.length);
  u.setSrcPort(srcPort);
  u.setDstPort(dstPort);
  u.setLength(8 + payload.length);
  u.setChecksum(0);
  mem.set(payload, p + 8);
  return Math.max(14 + total, 60);
}

/** An iotep message: `len` bytes, byte 5/6 as given (request: 01 02, heartbeat: 00 02). */
function iotepPayload(len: number, b5: number, b6 = 0x02): Uint8Array {
  const m = new Uint8Array(len);
  m[5] = b5;
  m[6] = b6;
  return m;
}

function classOf(fn: ClassifyFn, off: number, len: number): number {
  const info = new FrameInfo();
  expect(parseFrameInfo(mem, dv, off, len, info)).toBe(true);
  return fn(mem, dv, info);
}

describe("parseFrameInfo", () => {
  for (const doff of [20, 32, 40]) {
    test(`TCP with a ${doff}-byte header: the payload starts after the real data offset (RFC 9293 3.1)`, () => {
      const off = slotOff(1);
      const payload = [9, 8, 7, 6, 5, 4, 3];
      const len = tcpFrame(off, { doff, payload, srcPort: 1234, dstPort: 5678, tos: 46 << 2 });
      const info = new FrameInfo();
      expect(parseFrameInfo(mem, dv, off, len, info)).toBe(true);
      expect(info.l3Off).toBe(off + 14);
      expect(info.l4Off).toBe(off + 34);
      expect(info.l4Proto).toBe(6);
      expect(info.srcIp).toBe(IP_A);
      expect(info.dstIp).toBe(IP_B);
      expect(info.srcPort).toBe(1234);
      expect(info.dstPort).toBe(5678);
      expect(info.dscp).toBe(46);
      expect(info.payloadOff).toBe(off + 34 + doff);
      expect(info.payloadLen).toBe(payload.length);
      expect(info.frameLen).toBe(len);
      expect(mem[info.payloadOff]).toBe(9);
    });
  }

  test("Ethernet padding is not payload: the length comes from the IPv4 Total Length", () => {
    const off = slotOff(2);
    const len = tcpFrame(off, { payload: [1, 2], pad: 10 });
    const info = new FrameInfo();
    expect(parseFrameInfo(mem, dv, off, len, info)).toBe(true);
    expect(info.payloadLen).toBe(2);
    expect(info.frameLen).toBe(len);
  });

  test("UDP: ports and the payload after the 8-byte header (RFC 768)", () => {
    const off = slotOff(3);
    const len = udpFrame(off, 53, 5353, [0xaa, 0xbb, 0xcc]);
    const info = new FrameInfo();
    expect(parseFrameInfo(mem, dv, off, len, info)).toBe(true);
    expect(info.l4Proto).toBe(17);
    expect(info.srcPort).toBe(53);
    expect(info.dstPort).toBe(5353);
    expect(info.payloadOff).toBe(off + 14 + 20 + 8);
    expect(info.payloadLen).toBe(3);
  });

  test("IPv4 options move the L4 header (real IHL)", () => {
    const off = slotOff(4);
    // Build by hand: IHL 6 (one 4-byte option word of NOPs).
    writeEthernetHeader(mem, dv, off, MAC_B, MAC_A, ETHERTYPE_IPV4);
    const ipOff = off + 14;
    writeIpv4Header(dv, ipOff, 0, 24 + 20 + 4, 1, true, 64, 6, IP_A, IP_B);
    // Shift: write TCP at +24 and set IHL 6.
    const v = new Ipv4View().reset(mem, dv, ipOff, 48);
    v.setIhl(6);
    mem.fill(1, ipOff + 20, ipOff + 24);
    writeTcpHeader(dv, ipOff + 24, 1, 2, 0, 0, 20, TCP_ACK, 1000);
    mem.set([4, 3, 2, 1], ipOff + 44);
    const info = new FrameInfo();
    expect(parseFrameInfo(mem, dv, off, 14 + 48, info)).toBe(true);
    expect(info.l4Off).toBe(ipOff + 24);
    expect(info.payloadOff).toBe(ipOff + 44);
    expect(info.payloadLen).toBe(4);
  });

  test("malformed and unclassifiable frames are rejected, never thrown on", () => {
    const info = new FrameInfo();
    const off = slotOff(5);
    const good = tcpFrame(off, { doff: 32, payload: [1, 2, 3] });
    expect(parseFrameInfo(mem, dv, off, 10, info)).toBe(false); // runt Ethernet
    expect(parseFrameInfo(mem, dv, off, 14 + 19, info)).toBe(false); // truncated IPv4
    expect(parseFrameInfo(mem, dv, off, 14 + 20 + 19, info)).toBe(false); // IPv4 total length > frame
    // TCP data offset beyond the segment (doff 60 on a 35-byte segment).
    mem[off + 34 + 12] = 15 << 4;
    expect(parseFrameInfo(mem, dv, off, good, info)).toBe(false);
    // TCP data offset below 20.
    mem[off + 34 + 12] = 4 << 4;
    expect(parseFrameInfo(mem, dv, off, good, info)).toBe(false);
    // Not IPv4 (ARP).
    tcpFrame(off);
    dv.setUint16(off + 12, ETHERTYPE_ARP);
    expect(parseFrameInfo(mem, dv, off, good, info)).toBe(false);
    // A fragment (MF set).
    const len = tcpFrame(off, { payload: [1] });
    new Ipv4View().reset(mem, dv, off + 14, len - 14).setMoreFragments(true);
    expect(parseFrameInfo(mem, dv, off, len, info)).toBe(false);
    // UDP length larger than the datagram.
    const ulen = udpFrame(off, 1, 2, [1, 2]);
    dv.setUint16(off + 34 + 4, 200);
    expect(parseFrameInfo(mem, dv, off, ulen, info)).toBe(false);
    // Random bytes never throw.
    for (let k = 0; k < 2000; k++) {
      const l = (k * 7) % 200;
      for (let i = 0; i < l; i++) mem[off + i] = (Math.random() * 256) | 0;
      if (k % 3 === 0) dv.setUint16(off + 12, ETHERTYPE_IPV4);
      if (k % 5 === 0) mem[off + 14] = 0x45;
      parseFrameInfo(mem, dv, off, l, info);
    }
  });
});

describe("built-in rules", () => {
  test("byPort: destination port first, then source port, else the default", () => {
    const fn = byPort([{ port: 80, cls: 0 }, { port: 6379, cls: 2 }, { port: 80, cls: 3 }], 1);
    const off = slotOff(6);
    expect(classOf(fn, off, tcpFrame(off, { dstPort: 80, srcPort: 6379 }))).toBe(0);
    expect(classOf(fn, off, tcpFrame(off, { dstPort: 50000, srcPort: 6379 }))).toBe(2);
    expect(classOf(fn, off, tcpFrame(off, { dstPort: 50000, srcPort: 50001 }))).toBe(1);
    expect(classOf(fn, off, udpFrame(off, 9, 80, []))).toBe(0);
    expect(() => byPort([{ port: 70000, cls: 0 }], 1)).toThrow(RangeError);
    expect(() => byPort([{ port: 80, cls: 8 }], 1)).toThrow(RangeError);
  });

  test("byDscp: EF (46) high, CS1 (8) lowest, others default", () => {
    const fn = byDscp([{ dscp: 46, cls: 0 }, { dscp: 8, cls: 3 }], 1);
    const off = slotOff(7);
    expect(classOf(fn, off, tcpFrame(off, { tos: (46 << 2) | 1 }))).toBe(0); // ECN bits ignored
    expect(classOf(fn, off, tcpFrame(off, { tos: 8 << 2 }))).toBe(3);
    expect(classOf(fn, off, tcpFrame(off, { tos: 0 }))).toBe(1);
    expect(() => byDscp([{ dscp: 64, cls: 0 }], 1)).toThrow(RangeError);
  });

  test("byPayloadByte: byte at an offset of the real payload, with an optional length floor", () => {
    const fn = byPayloadByte(3, 0x7f, 0, 1);
    const off = slotOff(8);
    for (const doff of [20, 32, 40]) {
      expect(classOf(fn, off, tcpFrame(off, { doff, payload: [0, 0, 0, 0x7f] }))).toBe(0);
      expect(classOf(fn, off, tcpFrame(off, { doff, payload: [0, 0, 0, 0x7e] }))).toBe(1);
      // Payload too short to have byte 3: the header byte there must not count.
      expect(classOf(fn, off, tcpFrame(off, { doff, payload: [0, 0, 0x7f] }))).toBe(1);
    }
    const floor = byPayloadByte(0, 5, 2, 0, 100);
    expect(classOf(floor, off, tcpFrame(off, { payload: [5] }))).toBe(0); // 60-byte frame: not > 100
    expect(classOf(floor, off, tcpFrame(off, { payload: new Uint8Array(70).fill(5) }))).toBe(2);
    expect(classOf(byPayloadByte(1, 0xbb, 0, 1), off, udpFrame(off, 1, 2, [0xaa, 0xbb]))).toBe(0);
  });

  test("iotepClassifier: request (byte 5 = 0x01) in a frame > 80 bytes is high, whatever the TCP header length", () => {
    const fn = iotepClassifier();
    const off = slotOff(9);
    for (const doff of [20, 32, 40]) {
      expect(classOf(fn, off, tcpFrame(off, { doff, payload: iotepPayload(200, 0x01) }))).toBe(0);
      expect(classOf(fn, off, tcpFrame(off, { doff, payload: iotepPayload(200, 0x00) }))).toBe(1); // heartbeat
    }
    // Frame length threshold: exactly 80 is low, 81 is high (14 + 20 + 20 + payload).
    expect(classOf(fn, off, tcpFrame(off, { payload: iotepPayload(26, 0x01) }))).toBe(1);
    expect(classOf(fn, off, tcpFrame(off, { payload: iotepPayload(27, 0x01) }))).toBe(0);
    // QStack's fixed 32-byte assumption would read byte 5 at header offset 37; with a
    // 20-byte header that is payload byte 17. Put 0x01 there only: must be low.
    const p = iotepPayload(200, 0x00);
    p[17] = 0x01;
    expect(classOf(fn, off, tcpFrame(off, { doff: 20, payload: p }))).toBe(1);
    // UDP with the same bytes is not an iotep request.
    expect(classOf(fn, off, udpFrame(off, 1, 2, Array.from(iotepPayload(200, 0x01))))).toBe(1);
  });
});

describe("Classifier", () => {
  test("classifyBatch moves descriptors into per-class batches in order and empties the input", () => {
    const cl = new Classifier({ classes: 2, fn: iotepClassifier() });
    const batch = new PacketBatch(32);
    const want: number[] = [];
    for (let i = 0; i < 12; i++) {
      const off = slotOff(10 + i);
      const high = i % 3 === 0;
      const len = tcpFrame(off, { doff: 32, payload: iotepPayload(200, high ? 1 : 0) });
      batch.push(1000 + i, off, len);
      want.push(high ? 0 : 1);
    }
    // An ARP frame and a runt go to the default class (lowest).
    const arpOff = slotOff(30);
    tcpFrame(arpOff);
    dv.setUint16(arpOff + 12, ETHERTYPE_ARP);
    batch.push(2000, arpOff, 60);
    batch.push(2001, slotOff(31), 8);
    const out = [new PacketBatch(32), new PacketBatch(32)];
    expect(cl.classifyBatch(mem, dv, batch, out)).toBe(0);
    expect(batch.count).toBe(0);
    const hi = Array.from(out[0]!.handle.subarray(0, out[0]!.count));
    const lo = Array.from(out[1]!.handle.subarray(0, out[1]!.count));
    expect(hi).toEqual([1000, 1003, 1006, 1009]);
    expect(lo).toEqual([1001, 1002, 1004, 1005, 1007, 1008, 1010, 1011, 2000, 2001]);
    expect(out[0]!.off[1]).toBe(slotOff(13));
    expect(out[1]!.len[9]).toBe(8);
    expect(Array.from(cl.counts)).toEqual([4, 10]);
    expect(cl.unparsed).toBe(2);
  });

  test("defaultClass and out-of-range answers", () => {
    const cl = new Classifier({ classes: 4, fn: () => 7, defaultClass: 2 });
    const off = slotOff(40);
    const len = tcpFrame(off);
    expect(cl.classify(mem, dv, off, len)).toBe(2);
    expect(cl.badClass).toBe(1);
    const neg = new Classifier({ classes: 4, fn: () => -1 });
    expect(neg.classify(mem, dv, off, len)).toBe(3);
    const frac = new Classifier({ classes: 4, fn: () => 0.5 });
    expect(frac.classify(mem, dv, off, len)).toBe(3);
    expect(() => new Classifier({ classes: 9, fn: () => 0 })).toThrow(RangeError);
    expect(() => new Classifier({ classes: 2, fn: () => 0, defaultClass: 2 })).toThrow(RangeError);
  });

  test("a full output batch leaves the rest in the input, in order, and says how many", () => {
    const cl = new Classifier({ classes: 2, fn: () => 0 });
    const batch = new PacketBatch(8);
    for (let i = 0; i < 5; i++) batch.push(i, slotOff(41), tcpFrame(slotOff(41)));
    const out = [new PacketBatch(3), new PacketBatch(3)];
    expect(cl.classifyBatch(mem, dv, batch, out)).toBe(2);
    expect(batch.count).toBe(2);
    expect([batch.handle[0], batch.handle[1]]).toEqual([3, 4]);
    expect(out[0]!.count).toBe(3);
    expect(cl.overflow).toBe(2);
  });

  test("classifyBatch allocates nothing per frame", () => {
    const rules: [string, ClassifyFn][] = [
      ["iotep", iotepClassifier()],
      ["port", byPort([{ port: 80, cls: 0 }], 1)],
      ["dscp", byDscp([{ dscp: 46, cls: 0 }], 1)],
    ];
    const frames: [number, number][] = [];
    for (let i = 0; i < 32; i++) {
      const off = slotOff(i);
      frames.push([off, i % 4 === 0 ? udpFrame(off, 1, 80, [1, 2, 3]) : tcpFrame(off, { doff: 20 + 4 * (i % 6), payload: iotepPayload(100, i & 1) })]);
    }
    for (const [name, fn] of rules) {
      const cl = new Classifier({ classes: 2, fn });
      const batch = new PacketBatch(32);
      const out = [new PacketBatch(32), new PacketBatch(32)];
      const round = (): void => {
        for (let k = 0; k < 200; k++) {
          for (let i = 0; i < 32; i++) batch.push(i, frames[i]![0], frames[i]![1]);
          cl.classifyBatch(mem, dv, batch, out);
          out[0]!.count = 0;
          out[1]!.count = 0;
        }
      };
      for (let k = 0; k < 10; k++) round(); // warm up (JIT tiers allocate while compiling)
      Bun.gc(true);
      const before = heapStats().objectCount;
      for (let k = 0; k < 20; k++) round();
      Bun.gc(true);
      const after = heapStats().objectCount;
      console.log(`classifier allocation guard (${name}): heap objects ${before} -> ${after} over 128,000 frames`);
      expect(after - before).toBeLessThan(50);
      expect(cl.counts[0]! + cl.counts[1]!).toBe(30 * 200 * 32);
    }
  });
});
