import { describe, expect, test } from "bun:test";
import { ARP_LEN, ARP_REPLY, ARP_REQUEST, ArpRepr, ArpView, writeArp } from "../../../src/wire/arp";
import { formatMac, parseMac } from "../../../src/wire/mac";
import { ARP_REPLY_FRAME, ARP_REQUEST_FRAME, IP_A, IP_B, MAC_A, MAC_B, place, toHex } from "./captures";

function arpOf(hex: string) {
  const p = place(hex);
  return { p, arp: new ArpView().reset(p.buf, p.dv, p.off + 14, p.len - 14) };
}

describe("ArpView over a captured Linux request and reply", () => {
  test("request: every field", () => {
    const { p, arp } = arpOf(ARP_REQUEST_FRAME);
    expect(arp.checkLen()).toBe(true);
    expect(arp.hardwareType()).toBe(1);
    expect(arp.protocolType()).toBe(0x0800);
    expect(arp.hlen()).toBe(6);
    expect(arp.plen()).toBe(4);
    expect(arp.isEthernetIpv4()).toBe(true);
    expect(arp.operation()).toBe(ARP_REQUEST);
    expect(formatMac(p.buf, arp.senderMacOff())).toBe(MAC_A);
    expect(arp.senderIp()).toBe(IP_A);
    expect(formatMac(p.buf, arp.targetMacOff())).toBe("00:00:00:00:00:00");
    expect(arp.targetIp()).toBe(IP_B);
  });

  test("reply: parseInto fills the fixed-shape repr", () => {
    const { p, arp } = arpOf(ARP_REPLY_FRAME);
    const r = arp.parseInto(new ArpRepr());
    expect(r.operation).toBe(ARP_REPLY);
    expect(formatMac(p.buf, r.senderMacOff)).toBe(MAC_B);
    expect(r.senderIp).toBe(IP_B);
    expect(formatMac(p.buf, r.targetMacOff)).toBe(MAC_A);
    expect(r.targetIp).toBe(IP_A);
  });

  test("isEthernetIpv4 rejects other hardware/protocol shapes", () => {
    const { p, arp } = arpOf(ARP_REQUEST_FRAME);
    arp.setHardwareType(6);
    expect(arp.isEthernetIpv4()).toBe(false);
    arp.setHardwareType(1);
    arp.setProtocolType(0x86dd);
    expect(arp.isEthernetIpv4()).toBe(false);
    arp.setProtocolType(0x0800);
    arp.setHlen(8);
    expect(arp.isEthernetIpv4()).toBe(false);
    arp.setHlen(6);
    arp.setPlen(16);
    expect(arp.isEthernetIpv4()).toBe(false);
    arp.setPlen(4);
    expect(arp.isEthernetIpv4()).toBe(true);
    expect(p.len).toBe(42);
  });

  test("checkLen needs 28 bytes", () => {
    const { p, arp } = arpOf(ARP_REQUEST_FRAME);
    expect(arp.reset(p.buf, p.dv, p.off + 14, 27).checkLen()).toBe(false);
    expect(arp.reset(p.buf, p.dv, p.off + 14, ARP_LEN).checkLen()).toBe(true);
  });
});

describe("writing ARP", () => {
  test("writeArp reproduces the captured request", () => {
    const { p } = arpOf(ARP_REQUEST_FRAME);
    const buf = new Uint8Array(33).fill(0x55);
    const n = writeArp(buf, new DataView(buf.buffer), 5, ARP_REQUEST, parseMac(MAC_A)!, IP_A, new Uint8Array(6), IP_B);
    expect(n).toBe(ARP_LEN);
    expect(toHex(buf, 5, 28)).toBe(toHex(p.buf, p.off + 14, 28));
  });

  test("writeArp builds the captured reply in place over the request", () => {
    const req = arpOf(ARP_REQUEST_FRAME);
    const rep = arpOf(ARP_REPLY_FRAME);
    const a = req.arp;
    const senderIp = a.senderIp();
    writeArp(req.p.buf, req.p.dv, a.off, ARP_REPLY, parseMac(MAC_B)!, a.targetIp(), req.p.buf, senderIp, 0, a.senderMacOff());
    expect(toHex(req.p.buf, a.off, 28)).toBe(toHex(rep.p.buf, rep.p.off + 14, 28));
  });

  test("setters reproduce the captured reply", () => {
    const rep = arpOf(ARP_REPLY_FRAME);
    const buf = new Uint8Array(28);
    const v = new ArpView().reset(buf, new DataView(buf.buffer), 0, 28);
    v.setHardwareType(1);
    v.setProtocolType(0x0800);
    v.setHlen(6);
    v.setPlen(4);
    v.setOperation(ARP_REPLY);
    v.setSenderMac(parseMac(MAC_B)!);
    v.setSenderIp(IP_B);
    v.setTargetMacFrom(parseMac(MAC_A)!, 0);
    v.setTargetIp(IP_A);
    expect(toHex(buf, 0, 28)).toBe(toHex(rep.p.buf, rep.p.off + 14, 28));
    v.setSenderMacFrom(rep.p.buf, rep.arp.targetMacOff());
    v.setTargetMac(parseMac(MAC_B)!);
    expect(formatMac(buf, v.senderMacOff())).toBe(MAC_A);
    expect(formatMac(buf, v.targetMacOff())).toBe(MAC_B);
  });
});
