import { describe, expect, test } from "bun:test";
import { IPV4_HEADER_LEN, Ipv4Repr, Ipv4View, writeIpv4Header } from "../../../src/wire/ipv4";
import { ICMP_ECHO_REPLY_FRAME, ICMP_ECHO_REQUEST_FRAME, ICMP_PORT_UNREACH_FRAME, IP_A, IP_B, TCP_SYN_FRAME, place, toHex } from "./captures";

function ipOf(hex: string) {
  const p = place(hex);
  return { p, ip: new Ipv4View().reset(p.buf, p.dv, p.off + 14, p.len - 14) };
}

describe("Ipv4View over captured packets", () => {
  test("ping request: every field", () => {
    const { p, ip } = ipOf(ICMP_ECHO_REQUEST_FRAME);
    expect(ip.checkLen()).toBe(true);
    expect(ip.version()).toBe(4);
    expect(ip.ihl()).toBe(5);
    expect(ip.headerLen()).toBe(20);
    expect(ip.tos()).toBe(0);
    expect(ip.dscp()).toBe(0);
    expect(ip.ecn()).toBe(0);
    expect(ip.totalLength()).toBe(84);
    expect(ip.identification()).toBe(0xa131);
    expect(ip.dontFragment()).toBe(true);
    expect(ip.moreFragments()).toBe(false);
    expect(ip.fragmentOffset()).toBe(0);
    expect(ip.isFragment()).toBe(false);
    expect(ip.ttl()).toBe(64);
    expect(ip.protocol()).toBe(1);
    expect(ip.headerChecksum()).toBe(0x84db);
    expect(ip.srcIp()).toBe(IP_A);
    expect(ip.dstIp()).toBe(IP_B);
    expect(ip.hasOptions()).toBe(false);
    expect(ip.verifyChecksum()).toBe(true);
    expect(ip.payloadOff()).toBe(p.off + 34);
    expect(ip.payloadLen()).toBe(64);
    expect(ip.optionsOff()).toBe(p.off + 34);
  });

  test("port unreachable from the kernel: DSCP CS6 (TOS c0), DF clear", () => {
    const { ip } = ipOf(ICMP_PORT_UNREACH_FRAME);
    expect(ip.checkLen()).toBe(true);
    expect(ip.tos()).toBe(0xc0);
    expect(ip.dscp()).toBe(48);
    expect(ip.ecn()).toBe(0);
    expect(ip.dontFragment()).toBe(false);
    expect(ip.identification()).toBe(0x02c6);
    expect(ip.verifyChecksum()).toBe(true);
  });

  test("parseInto fills the fixed-shape repr", () => {
    const { p, ip } = ipOf(TCP_SYN_FRAME);
    const r = ip.parseInto(new Ipv4Repr());
    expect(r.headerLen).toBe(20);
    expect(r.totalLength).toBe(60);
    expect(r.identification).toBe(0x7653);
    expect(r.dontFragment).toBe(true);
    expect(r.moreFragments).toBe(false);
    expect(r.fragmentOffset).toBe(0);
    expect(r.ttl).toBe(64);
    expect(r.protocol).toBe(6);
    expect(r.srcIp).toBe(IP_A);
    expect(r.dstIp).toBe(IP_B);
    expect(r.payloadOff).toBe(p.off + 34);
    expect(r.payloadLen).toBe(40);
    expect(r.dscp).toBe(0);
    expect(r.ecn).toBe(0);
  });

  test("a corrupted header fails verifyChecksum, every byte position", () => {
    const { p, ip } = ipOf(ICMP_ECHO_REPLY_FRAME);
    for (let i = 0; i < 20; i++) {
      p.buf[ip.off + i]! ^= 0x10;
      expect(ip.verifyChecksum()).toBe(false);
      p.buf[ip.off + i]! ^= 0x10;
    }
    expect(ip.verifyChecksum()).toBe(true);
  });
});

describe("checkLen (RFC 1122 3.2.1)", () => {
  test("rejects short, wrong version, small IHL, header past len, bad total length", () => {
    const { p, ip } = ipOf(ICMP_ECHO_REQUEST_FRAME);
    const o = ip.off;
    const L = 84;
    expect(ip.reset(p.buf, p.dv, o, 19).checkLen()).toBe(false);
    expect(ip.reset(p.buf, p.dv, o, 83).checkLen()).toBe(false); // totalLength 84 > len
    ip.reset(p.buf, p.dv, o, L);
    p.buf[o] = 0x65;
    expect(ip.checkLen()).toBe(false); // version 6
    p.buf[o] = 0x44;
    expect(ip.checkLen()).toBe(false); // IHL 4
    p.buf[o] = 0x4f;
    expect(ip.reset(p.buf, p.dv, o, 40).checkLen()).toBe(false); // 60-byte header, 40 bytes
    p.buf[o] = 0x45;
    p.dv.setUint16(o + 2, 19);
    expect(ip.reset(p.buf, p.dv, o, L).checkLen()).toBe(false); // totalLength < headerLen
    p.dv.setUint16(o + 2, 84);
    expect(ip.checkLen()).toBe(true);
  });

  test("link-layer padding: len above totalLength is fine and payloadLen ignores it", () => {
    const { p, ip } = ipOf(ICMP_ECHO_REQUEST_FRAME);
    ip.reset(p.buf, p.dv, ip.off, 84 + 10);
    expect(ip.checkLen()).toBe(true);
    expect(ip.payloadLen()).toBe(64);
  });
});

describe("writing IPv4", () => {
  test("writeIpv4Header reproduces the captured ping header including its checksum", () => {
    const { p, ip } = ipOf(ICMP_ECHO_REQUEST_FRAME);
    const buf = new Uint8Array(64).fill(0x77);
    const dv = new DataView(buf.buffer);
    expect(writeIpv4Header(dv, 9, 0, 84, 0xa131, true, 64, 1, IP_A, IP_B)).toBe(IPV4_HEADER_LEN);
    expect(toHex(buf, 9, 20)).toBe(toHex(p.buf, ip.off, 20));
  });

  test("writeIpv4Header with TOS and DF clear reproduces the kernel's ICMP error header", () => {
    const { p, ip } = ipOf(ICMP_PORT_UNREACH_FRAME);
    const buf = new Uint8Array(20);
    writeIpv4Header(new DataView(buf.buffer), 0, 0xc0, 58, 0x02c6, false, 64, 1, IP_B, IP_A);
    expect(toHex(buf, 0, 20)).toBe(toHex(p.buf, ip.off, 20));
  });

  test("setters then fillChecksum reproduce the captured reply header", () => {
    const { p, ip: want } = ipOf(ICMP_ECHO_REPLY_FRAME);
    const buf = new Uint8Array(20).fill(0xff);
    const v = new Ipv4View().reset(buf, new DataView(buf.buffer), 0, 20);
    v.setVersion(4);
    v.setIhl(5);
    v.setDscp(0);
    v.setEcn(0);
    v.setTotalLength(84);
    v.setIdentification(0x021c);
    v.setFlags(0);
    expect(v.flags()).toBe(0);
    v.setDontFragment(true);
    expect(v.flags()).toBe(2);
    v.setDontFragment(false);
    v.setMoreFragments(false);
    v.setFragmentOffset(0);
    v.setTtl(64);
    v.setProtocol(1);
    v.setSrcIp(IP_B);
    v.setDstIp(IP_A);
    v.fillChecksum();
    expect(toHex(buf, 0, 20)).toBe(toHex(p.buf, want.off, 20));
    expect(v.headerChecksum()).toBe(0x63f1);
  });

  test("fragment fields, DSCP/ECN split and options", () => {
    const buf = new Uint8Array(64);
    const dv = new DataView(buf.buffer);
    writeIpv4Header(dv, 0, 0, 44, 1, false, 1, 17, IP_A, IP_B);
    const v = new Ipv4View().reset(buf, dv, 0, 44);
    v.setMoreFragments(true);
    v.setFragmentOffset(185); // 1480 bytes
    expect(v.isFragment()).toBe(true);
    expect(v.moreFragments()).toBe(true);
    expect(v.fragmentOffset()).toBe(185);
    v.setDontFragment(true);
    expect(v.dontFragment()).toBe(true);
    expect(v.moreFragments()).toBe(true);
    v.setMoreFragments(false);
    expect(v.isFragment()).toBe(true); // offset still non-zero
    v.setFragmentOffset(0);
    expect(v.isFragment()).toBe(false);
    expect(v.dontFragment()).toBe(true);
    v.setDscp(46);
    v.setEcn(3);
    expect(v.tos()).toBe(0xbb);
    expect(v.dscp()).toBe(46);
    expect(v.ecn()).toBe(3);
    v.setTos(0x02);
    expect(v.ecn()).toBe(2);
    // IHL 6 with a Router Alert option (RFC 2113)
    v.setHeaderLen(24);
    dv.setUint32(20, 0x94040000);
    v.fillChecksum();
    expect(v.checkLen()).toBe(true);
    expect(v.hasOptions()).toBe(true);
    expect(v.ihl()).toBe(6);
    expect(v.payloadOff()).toBe(24);
    expect(v.payloadLen()).toBe(20);
    expect(v.verifyChecksum()).toBe(true);
    buf[22] ^= 1; // the option is covered by the checksum
    expect(v.verifyChecksum()).toBe(false);
    expect(v.version()).toBe(4);
  });

  test("uint32 addresses above 2^31 are written and read back as uint32", () => {
    const buf = new Uint8Array(20);
    const dv = new DataView(buf.buffer);
    writeIpv4Header(dv, 0, 0, 20, 0, true, 64, 6, 0xc0a80001, 0xffffffff | 0);
    const v = new Ipv4View().reset(buf, dv, 0, 20);
    expect(v.srcIp()).toBe(0xc0a80001);
    expect(v.dstIp()).toBe(0xffffffff);
    expect(v.verifyChecksum()).toBe(true);
  });
});
