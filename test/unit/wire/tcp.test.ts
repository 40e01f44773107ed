import { describe, expect, test } from "bun:test";
import {
  TCP_ACK,
  TCP_CWR,
  TCP_ECE,
  TCP_FIN,
  TCP_HEADER_LEN,
  TCP_PSH,
  TCP_RST,
  TCP_SYN,
  TCP_URG,
  TcpOptions,
  TcpRepr,
  TcpView,
  parseTcpOptions,
  writeSynOptions,
  writeTcpHeader,
  writeTimestampOption,
} from "../../../src/wire/tcp";
import { Ipv4View } from "../../../src/wire/ipv4";
import { IP_A, IP_B, TCP_DATA_FRAME, TCP_RST_FRAME, TCP_SYNACK_FRAME, TCP_SYN_FRAME, place, toHex } from "./captures";

function tcpOf(hex: string) {
  const p = place(hex);
  const ip = new Ipv4View().reset(p.buf, p.dv, p.off + 14, p.len - 14);
  expect(ip.checkLen()).toBe(true);
  return { p, ip, tcp: new TcpView().reset(p.buf, p.dv, ip.payloadOff(), ip.payloadLen()) };
}

describe("flag constants (RFC 9293 3.1, RFC 3168 6.1)", () => {
  test("bit values", () => {
    expect([TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK, TCP_URG, TCP_ECE, TCP_CWR]).toEqual([1, 2, 4, 8, 16, 32, 64, 128]);
  });
});

describe("TcpView over captured Linux segments", () => {
  test("SYN: every getter", () => {
    const { p, tcp } = tcpOf(TCP_SYN_FRAME);
    expect(tcp.checkLen()).toBe(true);
    expect(tcp.srcPort()).toBe(53262);
    expect(tcp.dstPort()).toBe(5001);
    expect(tcp.seq()).toBe(0x0431a35f);
    expect(tcp.ack()).toBe(0);
    expect(tcp.dataOffset()).toBe(40);
    expect(tcp.flags()).toBe(TCP_SYN);
    expect(tcp.window()).toBe(64240);
    expect(tcp.checksum()).toBe(0xe7f8);
    expect(tcp.urgentPointer()).toBe(0);
    expect(tcp.optionsOff()).toBe(p.off + 34 + 20);
    expect(tcp.optionsLen()).toBe(20);
    expect(tcp.payloadOff()).toBe(p.off + 34 + 40);
    expect(tcp.payloadLen()).toBe(0);
    expect(tcp.verifyChecksum(IP_A, IP_B)).toBe(true);
  });

  test("SYN-ACK: seq/ack are int32, flags SYN|ACK", () => {
    const { tcp } = tcpOf(TCP_SYNACK_FRAME);
    const r = tcp.parseInto(new TcpRepr());
    expect(r.srcPort).toBe(5001);
    expect(r.dstPort).toBe(53262);
    expect(r.seq).toBe(0x361d03e3);
    expect(r.ack).toBe(0x0431a360);
    expect(r.flags).toBe(TCP_SYN | TCP_ACK);
    expect(r.window).toBe(65160);
    expect(r.checksum).toBe(0x210b);
    expect(r.dataOffset).toBe(40);
    expect(r.optionsLen).toBe(20);
    expect(r.payloadLen).toBe(0);
    expect(tcp.verifyChecksum(IP_B, IP_A)).toBe(true);
  });

  test("data segment: payload location and length", () => {
    const { p, tcp } = tcpOf(TCP_DATA_FRAME);
    expect(tcp.flags()).toBe(TCP_PSH | TCP_ACK);
    expect(tcp.dataOffset()).toBe(32);
    expect(tcp.optionsLen()).toBe(12);
    expect(tcp.payloadLen()).toBe(6);
    expect(new TextDecoder().decode(p.buf.subarray(tcp.payloadOff(), tcp.payloadOff() + 6))).toBe("world\n");
    expect(tcp.window()).toBe(63);
    expect(tcp.checksum()).toBe(0x0030);
    expect(tcp.verifyChecksum(IP_A, IP_B)).toBe(true);
    const o = new TcpOptions();
    expect(parseTcpOptions(p.buf, p.dv, tcp.optionsOff(), tcp.optionsLen(), o)).toBe(true);
    expect(o.tsPresent).toBe(true);
    expect(o.tsVal >>> 0).toBe(2873694725);
    expect(o.tsEcr).toBe(65111395);
  });

  test("RST|ACK: an ack above 2^31 reads as a negative int32", () => {
    const { tcp } = tcpOf(TCP_RST_FRAME);
    expect(tcp.flags()).toBe(TCP_RST | TCP_ACK);
    expect(tcp.seq()).toBe(0);
    expect(tcp.ack()).toBe(0xd7795335 | 0);
    expect(tcp.ack()).toBeLessThan(0);
    expect(tcp.dataOffset()).toBe(20);
    expect(tcp.optionsLen()).toBe(0);
    expect(tcp.window()).toBe(0);
    expect(tcp.verifyChecksum(IP_B, IP_A)).toBe(true);
  });

  test("verifyChecksum fails on any corrupted byte and on the wrong pseudo header", () => {
    const { p, tcp } = tcpOf(TCP_DATA_FRAME);
    for (let i = 0; i < tcp.len; i++) {
      p.buf[tcp.off + i]! ^= 0x04;
      expect(tcp.verifyChecksum(IP_A, IP_B)).toBe(false);
      p.buf[tcp.off + i]! ^= 0x04;
    }
    expect(tcp.verifyChecksum(IP_A, IP_B + 1)).toBe(false);
    expect(tcp.verifyChecksum(IP_A, IP_B)).toBe(true);
  });
});

describe("checkLen", () => {
  test("len >= 20 and 20 <= data offset <= len", () => {
    const { p, tcp } = tcpOf(TCP_SYN_FRAME);
    const o = tcp.off;
    expect(tcp.reset(p.buf, p.dv, o, 19).checkLen()).toBe(false);
    expect(tcp.reset(p.buf, p.dv, o, 39).checkLen()).toBe(false); // data offset 40 > len
    expect(tcp.reset(p.buf, p.dv, o, 40).checkLen()).toBe(true);
    p.buf[o + 12] = 0x40; // data offset 16
    expect(tcp.checkLen()).toBe(false);
    p.buf[o + 12] = 0x00;
    expect(tcp.checkLen()).toBe(false);
    p.buf[o + 12] = 0xf0; // 60 > 40
    expect(tcp.checkLen()).toBe(false);
    p.buf[o + 12] = 0x50;
    expect(tcp.checkLen()).toBe(true);
  });
});

describe("writing TCP", () => {
  test("writeTcpHeader + writeSynOptions + fillChecksum reproduce Linux's SYN byte for byte", () => {
    const { p, tcp: want } = tcpOf(TCP_SYN_FRAME);
    const buf = new Uint8Array(100).fill(0xcc);
    const dv = new DataView(buf.buffer);
    const off = 11;
    expect(writeTcpHeader(dv, off, 53262, 5001, 0x0431a35f, 0, 40, TCP_SYN, 64240)).toBe(TCP_HEADER_LEN);
    expect(writeSynOptions(dv, off + 20, 1460, 10, true, true, 2873694725 | 0, 0)).toBe(20);
    const v = new TcpView().reset(buf, dv, off, 40);
    v.fillChecksum(IP_A, IP_B);
    expect(toHex(buf, off, 40)).toBe(toHex(p.buf, want.off, 40));
  });

  test("setters + timestamp option + payload reproduce the data segment", () => {
    const { p, tcp: want } = tcpOf(TCP_DATA_FRAME);
    const buf = new Uint8Array(38).fill(0xcc);
    const dv = new DataView(buf.buffer);
    const v = new TcpView().reset(buf, dv, 0, 38);
    v.setSrcPort(53262);
    v.setDstPort(5001);
    v.setSeq(0x0431a360);
    v.setAck(0x361d03e4);
    v.setDataOffset(32);
    v.setFlags(TCP_PSH | TCP_ACK);
    v.setWindow(63);
    v.setUrgentPointer(0);
    writeTimestampOption(dv, 20, 2873694725, 65111395);
    buf.set(new TextEncoder().encode("world\n"), 32);
    v.fillChecksum(IP_A, IP_B);
    expect(v.checksum()).toBe(0x0030);
    expect(toHex(buf, 0, 38)).toBe(toHex(p.buf, want.off, 38));
    v.setChecksum(0xffff);
    expect(v.verifyChecksum(IP_A, IP_B)).toBe(false);
  });

  test("seq/ack setters accept int32 and uint32 alike", () => {
    const buf = new Uint8Array(20);
    const v = new TcpView().reset(buf, new DataView(buf.buffer), 0, 20);
    v.setSeq(0xfffffffe);
    v.setAck(-2);
    expect(v.seq()).toBe(-2);
    expect(v.ack()).toBe(-2);
    expect(toHex(buf, 4, 8)).toBe("fffffffefffffffe");
  });

  test("fillChecksum over an odd-length payload at an odd offset", () => {
    const buf = new Uint8Array(200);
    const dv = new DataView(buf.buffer);
    writeTcpHeader(dv, 33, 1, 2, 3, 4, 20, TCP_ACK, 1000);
    for (let i = 0; i < 101; i++) buf[53 + i] = (i * 37) & 0xff;
    const v = new TcpView().reset(buf, dv, 33, 121);
    v.fillChecksum(0xc0a80001, 0x0a000001);
    expect(v.verifyChecksum(0xc0a80001, 0x0a000001)).toBe(true);
    buf[153]! ^= 1; // last (odd) payload byte
    expect(v.verifyChecksum(0xc0a80001, 0x0a000001)).toBe(false);
  });
});
