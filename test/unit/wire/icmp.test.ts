import { describe, expect, test } from "bun:test";
import {
  ICMP_CODE_FRAGMENTATION_NEEDED,
  ICMP_CODE_PORT_UNREACHABLE,
  ICMP_CODE_PROTOCOL_UNREACHABLE,
  ICMP_DEST_UNREACHABLE,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_HEADER_LEN,
  ICMP_TIME_EXCEEDED,
  IcmpRepr,
  IcmpView,
} from "../../../src/wire/icmp";
import { Ipv4View } from "../../../src/wire/ipv4";
import { UdpView } from "../../../src/wire/udp";
import { ICMP_ECHO_REPLY_FRAME, ICMP_ECHO_REQUEST_FRAME, ICMP_PORT_UNREACH_FRAME, IP_A, place, toHex } from "./captures";

function icmpOf(hex: string) {
  const p = place(hex);
  const ip = new Ipv4View().reset(p.buf, p.dv, p.off + 14, p.len - 14);
  expect(ip.checkLen()).toBe(true);
  return { p, ip, icmp: new IcmpView().reset(p.buf, p.dv, ip.payloadOff(), ip.payloadLen()) };
}

describe("constants", () => {
  test("RFC 792 / RFC 1191 numbers", () => {
    expect([ICMP_ECHO_REPLY, ICMP_DEST_UNREACHABLE, ICMP_ECHO_REQUEST, ICMP_TIME_EXCEEDED]).toEqual([0, 3, 8, 11]);
    expect([ICMP_CODE_PROTOCOL_UNREACHABLE, ICMP_CODE_PORT_UNREACHABLE, ICMP_CODE_FRAGMENTATION_NEEDED]).toEqual([2, 3, 4]);
  });
});

describe("IcmpView over captured Linux messages", () => {
  test("echo request from ping", () => {
    const { p, icmp } = icmpOf(ICMP_ECHO_REQUEST_FRAME);
    expect(icmp.checkLen()).toBe(true);
    expect(icmp.type()).toBe(ICMP_ECHO_REQUEST);
    expect(icmp.code()).toBe(0);
    expect(icmp.checksum()).toBe(0x840e);
    expect(icmp.verifyChecksum()).toBe(true);
    expect(icmp.identifier()).toBe(0x25c0);
    expect(icmp.sequence()).toBe(1);
    expect(icmp.restOfHeader()).toBe(0x25c00001);
    expect(icmp.payloadOff()).toBe(p.off + 14 + 20 + 8);
    expect(icmp.payloadLen()).toBe(56);
    expect(p.buf[icmp.payloadOff() + 16]).toBe(0x10);
  });

  test("turning the request into the reply in place: type 0 and fillChecksum give the kernel's bytes", () => {
    const req = icmpOf(ICMP_ECHO_REQUEST_FRAME);
    const rep = icmpOf(ICMP_ECHO_REPLY_FRAME);
    req.icmp.setType(ICMP_ECHO_REPLY);
    req.icmp.fillChecksum();
    expect(req.icmp.checksum()).toBe(0x8c0e);
    expect(toHex(req.p.buf, req.icmp.off, 64)).toBe(toHex(rep.p.buf, rep.icmp.off, 64));
  });

  test("port unreachable quoting the offending datagram (RFC 792)", () => {
    const { p, icmp } = icmpOf(ICMP_PORT_UNREACH_FRAME);
    const r = icmp.parseInto(new IcmpRepr());
    expect(r.type).toBe(ICMP_DEST_UNREACHABLE);
    expect(r.code).toBe(ICMP_CODE_PORT_UNREACHABLE);
    expect(r.checksum).toBe(0x11b5);
    expect(r.restOfHeader).toBe(0);
    expect(icmp.verifyChecksum()).toBe(true);
    const quoted = new Ipv4View().reset(p.buf, p.dv, r.payloadOff, r.payloadLen);
    expect(quoted.checkLen()).toBe(true);
    expect(quoted.srcIp()).toBe(IP_A);
    expect(quoted.protocol()).toBe(17);
    const udp = new UdpView().reset(p.buf, p.dv, quoted.payloadOff(), quoted.payloadLen());
    expect(udp.dstPort()).toBe(5003);
  });

  test("a flipped bit anywhere in the message fails verifyChecksum", () => {
    const { p, icmp } = icmpOf(ICMP_ECHO_REQUEST_FRAME);
    for (let i = 0; i < icmp.len; i += 7) {
      p.buf[icmp.off + i]! ^= 0x80;
      expect(icmp.verifyChecksum()).toBe(false);
      p.buf[icmp.off + i]! ^= 0x80;
    }
  });

  test("checkLen needs 8 bytes", () => {
    const { p, icmp } = icmpOf(ICMP_ECHO_REQUEST_FRAME);
    expect(icmp.reset(p.buf, p.dv, icmp.off, 7).checkLen()).toBe(false);
    expect(icmp.reset(p.buf, p.dv, icmp.off, ICMP_HEADER_LEN).checkLen()).toBe(true);
  });
});

describe("writing ICMP errors", () => {
  test("fragmentation needed carries the next-hop MTU in bytes 6-7 (RFC 1191 4)", () => {
    const buf = new Uint8Array(8 + 28 + 1);
    const v = new IcmpView().reset(buf, new DataView(buf.buffer), 1, 36);
    v.setType(ICMP_DEST_UNREACHABLE);
    v.setCode(ICMP_CODE_FRAGMENTATION_NEEDED);
    v.setRestOfHeader(0);
    v.setNextHopMtu(1400);
    for (let i = 0; i < 28; i++) buf[9 + i] = i;
    v.fillChecksum();
    expect(toHex(buf, 1, 8).substring(0, 4)).toBe("0304");
    expect(v.nextHopMtu()).toBe(1400);
    expect(v.restOfHeader()).toBe(1400);
    expect(v.verifyChecksum()).toBe(true);
  });

  test("identifier/sequence setters and setChecksum", () => {
    const buf = new Uint8Array(8);
    const v = new IcmpView().reset(buf, new DataView(buf.buffer), 0, 8);
    v.setType(ICMP_ECHO_REQUEST);
    v.setIdentifier(0xbeef);
    v.setSequence(0xfffe);
    v.setChecksum(0x1234);
    expect(toHex(buf, 0, 8)).toBe("08001234beeffffe");
    v.fillChecksum();
    expect(v.verifyChecksum()).toBe(true);
  });
});
