import { describe, expect, test } from "bun:test";
import {
  ETH_HEADER_LEN,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  ETHERTYPE_VLAN,
  EthernetView,
  writeEthernetHeader,
} from "../../../src/wire/ethernet";
import { BROADCAST_MAC, formatMac, parseMac } from "../../../src/wire/mac";
import { ARP_REQUEST_FRAME, MAC_A, MAC_B, TCP_SYN_FRAME, place, toHex } from "./captures";

describe("EthernetView over captured frames", () => {
  test("ARP request: broadcast destination, sender source, type 0806", () => {
    const p = place(ARP_REQUEST_FRAME);
    const eth = new EthernetView().reset(p.buf, p.dv, p.off, p.len);
    expect(eth.checkLen()).toBe(true);
    expect(eth.isBroadcast()).toBe(true);
    expect(eth.isMulticast()).toBe(true);
    expect(eth.dstMacEquals(BROADCAST_MAC)).toBe(true);
    expect(eth.srcMacEquals(parseMac(MAC_A)!)).toBe(true);
    expect(formatMac(p.buf, eth.srcOff())).toBe(MAC_A);
    expect(eth.etherType()).toBe(ETHERTYPE_ARP);
    expect(eth.payloadOff()).toBe(p.off + 14);
    expect(eth.payloadLen()).toBe(28);
  });

  test("TCP SYN: unicast destination, type 0800", () => {
    const p = place(TCP_SYN_FRAME);
    const eth = new EthernetView().reset(p.buf, p.dv, p.off, p.len);
    expect(eth.isBroadcast()).toBe(false);
    expect(eth.isMulticast()).toBe(false);
    expect(eth.dstMacEquals(parseMac(MAC_B)!)).toBe(true);
    expect(eth.dstMacEquals(parseMac(MAC_A)!)).toBe(false);
    expect(eth.etherType()).toBe(ETHERTYPE_IPV4);
    const out = new Uint8Array(12);
    eth.copyDst(out, 0);
    eth.copySrc(out, 6);
    expect(formatMac(out, 0)).toBe(MAC_B);
    expect(formatMac(out, 6)).toBe(MAC_A);
  });
});

describe("checkLen", () => {
  test("needs 14 bytes", () => {
    const p = place(TCP_SYN_FRAME);
    const eth = new EthernetView();
    expect(eth.reset(p.buf, p.dv, p.off, 13).checkLen()).toBe(false);
    expect(eth.reset(p.buf, p.dv, p.off, 14).checkLen()).toBe(true);
    expect(eth.reset(p.buf, p.dv, p.off, 0).checkLen()).toBe(false);
  });
});

describe("writing", () => {
  test("setters reproduce the captured header byte for byte", () => {
    const p = place(ARP_REQUEST_FRAME);
    const buf = new Uint8Array(40);
    const eth = new EthernetView().reset(buf, new DataView(buf.buffer), 3, 20);
    eth.setDst(BROADCAST_MAC);
    eth.setSrc(parseMac(MAC_A)!);
    eth.setEtherType(ETHERTYPE_ARP);
    expect(toHex(buf, 3, ETH_HEADER_LEN)).toBe(toHex(p.buf, p.off, ETH_HEADER_LEN));
  });

  test("setDstFrom/setSrcFrom copy from another buffer; swapMacs reflects", () => {
    const p = place(TCP_SYN_FRAME);
    const rx = new EthernetView().reset(p.buf, p.dv, p.off, p.len);
    const buf = new Uint8Array(14);
    const tx = new EthernetView().reset(buf, new DataView(buf.buffer), 0, 14);
    tx.setDstFrom(p.buf, rx.srcOff());
    tx.setSrcFrom(p.buf, rx.dstOff());
    tx.setEtherType(ETHERTYPE_VLAN);
    expect(formatMac(buf, 0)).toBe(MAC_A);
    expect(formatMac(buf, 6)).toBe(MAC_B);
    expect(tx.etherType()).toBe(0x8100);
    tx.swapMacs();
    expect(formatMac(buf, 0)).toBe(MAC_B);
    expect(formatMac(buf, 6)).toBe(MAC_A);
  });

  test("writeEthernetHeader", () => {
    const p = place(TCP_SYN_FRAME);
    const buf = new Uint8Array(20);
    expect(writeEthernetHeader(buf, new DataView(buf.buffer), 1, parseMac(MAC_B)!, parseMac(MAC_A)!, ETHERTYPE_IPV4)).toBe(14);
    expect(toHex(buf, 1, 14)).toBe(toHex(p.buf, p.off, 14));
  });
});
