/**
 * Allocation guard (STYLE.md "Tests"): run the per-packet wire operations many
 * times after a full GC and check the live heap object count stays flat, i.e.
 * nothing is retained per packet (a growing cache, a view per buffer...).
 * Limit: JSC exposes no allocation counter that sees short-lived garbage
 * (heapStats, heapSize and memoryUsage only move at a collection; measured),
 * so temporaries are kept out by the STYLE.md rules, not by this test.
 */
import { expect, test } from "bun:test";
import { heapStats } from "bun:jsc";
import { checksumPartial, internetChecksum } from "../../../src/wire/checksum";
import { EthernetView } from "../../../src/wire/ethernet";
import { Ipv4Repr, Ipv4View, writeIpv4Header } from "../../../src/wire/ipv4";
import { TcpOptions, TcpRepr, TcpView, parseTcpOptions, writeSynOptions } from "../../../src/wire/tcp";
import { seqAdd, seqInWindow, seqLt } from "../../../src/wire/seq";
import { TCP_SYN_FRAME, place } from "./captures";

test("receive-and-reply path over views allocates nothing per packet", () => {
  const p = place(TCP_SYN_FRAME, 64);
  const eth = new EthernetView();
  const ip = new Ipv4View();
  const tcp = new TcpView();
  const ipRepr = new Ipv4Repr();
  const tcpRepr = new TcpRepr();
  const opts = new TcpOptions();
  const big = new Uint8Array(4096);
  let sink = 0;

  const round = (): void => {
    eth.reset(p.buf, p.dv, p.off, p.len);
    if (!eth.checkLen()) throw new Error("eth");
    ip.reset(p.buf, p.dv, eth.payloadOff(), eth.payloadLen());
    if (!ip.checkLen() || !ip.verifyChecksum()) throw new Error("ip");
    ip.parseInto(ipRepr);
    tcp.reset(p.buf, p.dv, ipRepr.payloadOff, ipRepr.payloadLen);
    if (!tcp.checkLen() || !tcp.verifyChecksum(ipRepr.srcIp, ipRepr.dstIp)) throw new Error("tcp");
    tcp.parseInto(tcpRepr);
    parseTcpOptions(p.buf, p.dv, tcpRepr.optionsOff, tcpRepr.optionsLen, opts);
    sink += opts.mss + (seqLt(tcpRepr.seq, seqAdd(tcpRepr.seq, 1)) ? 1 : 0) + (seqInWindow(tcpRepr.ack, 0, 10) ? 1 : 0);
    // reply in place
    eth.swapMacs();
    writeIpv4Header(p.dv, ip.off, 0, 60, 1, true, 64, 6, ipRepr.dstIp, ipRepr.srcIp);
    writeSynOptions(p.dv, tcp.optionsOff(), 1460, 7, true, true, 1, opts.tsVal);
    tcp.fillChecksum(ipRepr.dstIp, ipRepr.srcIp);
    writeIpv4Header(p.dv, ip.off, 0, 60, 1, true, 64, 6, ipRepr.srcIp, ipRepr.dstIp);
    tcp.fillChecksum(ipRepr.srcIp, ipRepr.dstIp);
    eth.swapMacs();
    sink += internetChecksum(big, 1, 1460) + checksumPartial(big, 2, 1460, 0);
  };

  for (let i = 0; i < 20000; i++) round(); // warm up (JIT tiers allocate while compiling)
  Bun.gc(true);
  const before = heapStats().objectCount;
  for (let i = 0; i < 200000; i++) round();
  Bun.gc(true);
  const after = heapStats().objectCount;
  console.log(`wire alloc guard: ${after - before} objects after 200000 rounds (sink ${sink & 1})`);
  expect(after - before).toBeLessThan(200);
});
