import { describe, expect, test } from "bun:test";
import { Ipv4View } from "../../../src/wire/ipv4";
import { UDP_HEADER_LEN, UdpView } from "../../../src/wire/udp";
import { IP_A, IP_B, UDP_FRAME, place, toHex } from "./captures";

function udpOf(hex: string) {
  const p = place(hex);
  const ip = new Ipv4View().reset(p.buf, p.dv, p.off + 14, p.len - 14);
  expect(ip.checkLen()).toBe(true);
  return { p, udp: new UdpView().reset(p.buf, p.dv, ip.payloadOff(), ip.payloadLen()) };
}

describe("UdpView over a captured datagram", () => {
  test("every getter and the checksum", () => {
    const { p, udp } = udpOf(UDP_FRAME);
    expect(udp.checkLen()).toBe(true);
    expect(udp.srcPort()).toBe(48513);
    expect(udp.dstPort()).toBe(5003);
    expect(udp.length()).toBe(10);
    expect(udp.checksum()).toBe(0xa226);
    expect(udp.payloadLen()).toBe(2);
    expect(p.buf[udp.payloadOff()]).toBe(0x78);
    expect(udp.verifyChecksum(IP_A, IP_B)).toBe(true);
    p.buf[udp.payloadOff()]! ^= 1;
    expect(udp.verifyChecksum(IP_A, IP_B)).toBe(false);
  });

  test("checksum 0 means none (RFC 768)", () => {
    const { p, udp } = udpOf(UDP_FRAME);
    udp.setChecksum(0);
    p.buf[udp.payloadOff()]! ^= 1;
    expect(udp.verifyChecksum(IP_A, IP_B)).toBe(true);
  });

  test("checkLen: 8 <= Length <= len", () => {
    const { p, udp } = udpOf(UDP_FRAME);
    expect(udp.reset(p.buf, p.dv, udp.off, 7).checkLen()).toBe(false);
    expect(udp.reset(p.buf, p.dv, udp.off, 9).checkLen()).toBe(false);
    udp.reset(p.buf, p.dv, udp.off, 10);
    udp.setLength(7);
    expect(udp.checkLen()).toBe(false);
    udp.setLength(UDP_HEADER_LEN);
    expect(udp.checkLen()).toBe(true);
  });

  test("setters + fillChecksum reproduce the captured bytes; a computed 0 goes out as ffff", () => {
    const { p, udp: want } = udpOf(UDP_FRAME);
    const buf = new Uint8Array(11);
    const u = new UdpView().reset(buf, new DataView(buf.buffer), 1, 10);
    u.setSrcPort(48513);
    u.setDstPort(5003);
    u.setLength(10);
    buf[9] = 0x78;
    buf[10] = 0x0a;
    u.fillChecksum(IP_A, IP_B);
    expect(toHex(buf, 1, 10)).toBe(toHex(p.buf, want.off, 10));
    // With payload 0 the field holds c = ~S; a payload word of c makes the sum S + ~S = ffff,
    // whose complement 0 must go out as ffff.
    buf[9] = 0;
    buf[10] = 0;
    u.fillChecksum(IP_A, IP_B);
    const c = u.checksum();
    buf[9] = c >>> 8;
    buf[10] = c & 0xff;
    u.fillChecksum(IP_A, IP_B);
    expect(u.checksum()).toBe(0xffff);
    expect(u.verifyChecksum(IP_A, IP_B)).toBe(true);
  });
});
