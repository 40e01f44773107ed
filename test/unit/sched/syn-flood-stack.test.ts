/**
 * A SYN flood against a whole stack in virtual time (issue 7): established
 * connections echo while bursts of spoofed bare SYNs arrive in the same receive
 * bursts. With the SYN classifier and a per-burst budget, every established
 * segment is processed (no retransmission is needed), the excess SYNs are shed
 * before TCP and counted, and after the flood a new connection opens at once.
 */
import { describe, expect, test } from "bun:test";
import type { TcpSocket } from "../../../src/api/tcp-sockets";
import { PacketBatch } from "../../../src/net/packet-batch";
import { Classifier, synLowClassifier } from "../../../src/sched/classifier";
import { SynAdmission } from "../../../src/sched/syn-admission";
import { ETHERTYPE_IPV4, writeEthernetHeader } from "../../../src/wire/ethernet";
import { writeIpv4Header } from "../../../src/wire/ipv4";
import { TCP_SYN, TcpView, writeTcpHeader } from "../../../src/wire/tcp";
import { IP_B, StackPair } from "../../helpers/stack-pair";

const CONNS = 8;
const tcpView = new TcpView();
let spoofed = 0;

/** Put `n` bare SYNs from spoofed off-subnet sources to B:7 on A's wire (A's stack never sees them). */
function injectSyns(p: StackPair, n: number): void {
  const dev = p.devA;
  const b = new PacketBatch(n);
  expect(dev.alloc(b, n)).toBe(n);
  for (let i = 0; i < n; i++) {
    const off = b.off[i]!;
    const src = (0x0b000000 + ++spoofed) >>> 0;
    let q = off + writeEthernetHeader(dev.mem, dev.dv, off, p.devB.caps.mac, dev.caps.mac, ETHERTYPE_IPV4);
    q += writeIpv4Header(dev.dv, q, 0, 40, spoofed & 0xffff, false, 64, 6, src, IP_B);
    writeTcpHeader(dev.dv, q, 1024 + (spoofed % 60000), 7, spoofed * 7919, 0, 20, TCP_SYN, 512);
    tcpView.reset(dev.mem, dev.dv, q, 20).fillChecksum(src, IP_B);
    b.len[i] = 60;
  }
  expect(dev.txBurst(b)).toBe(n);
}

function setup(admission: SynAdmission | null, wire: ((p: StackPair) => void) | null = null) {
  const p = new StackPair({ faults: { delayUs: 100 }, tcp: { synQueueSize: 4 } });
  if (wire !== null) wire(p);
  p.sb.listen({ port: 7, backlog: 64, socket: { data: (s, d) => void s.write(d) } });
  const socks: TcpSocket<undefined>[] = [];
  const echoed = new Array<number>(CONNS).fill(0);
  for (let i = 0; i < CONNS; i++) {
    void p.sa.connect({
      hostname: "10.0.0.2", port: 7, noDelay: true,
      socket: { open: (s) => void (socks[i] = s), data: (_s, d) => void (echoed[i]! += d.length) },
    });
  }
  p.run(p.clock.nowUs + 50_000, () => socks.filter((s) => s !== undefined).length === CONNS);
  p.run(p.clock.nowUs + 10_000);
  expect(socks.filter((s) => s !== undefined).length).toBe(CONNS);
  // The flood defence from here on (the connections above opened without it).
  if (admission !== null) p.b.setClassifier(new Classifier({ classes: 2, fn: synLowClassifier(), admission }));
  return { p, socks, echoed };
}

/** setup() with B's TCP telling `adm` about completed passive opens from the start (apps/common.ts wiring). */
function setupKnown(adm: SynAdmission) {
  return setup(adm, (p) => {
    p.sb.tcp.onPassiveOpen = (ip, nowUs) => adm.noteKnown(ip, nowUs);
  });
}

/** 40 SYNs, one 16-byte message on every connection, 40 SYNs: all on the wire at the same instant. */
function floodWithTraffic(p: StackPair, socks: TcpSocket<undefined>[]): void {
  injectSyns(p, 40);
  for (const s of socks) s.write("0123456789abcdef");
  p.a.poll(p.clock.nowUs); // A's segments go out between the two halves of the flood
  injectSyns(p, 40);
}

describe("SYN flood in virtual time", () => {
  test("established segments in flooded bursts are all processed; SYNs over the per-burst budget are shed and counted", () => {
    const adm = new SynAdmission({ overloadStreak: 1, perBurst: 4 });
    const { p, socks, echoed } = setup(adm);
    const retransmitsA = p.sa.tcp.counters.retransmits;
    const tb = p.sb.tcp.counters;
    const answered0 = tb.synCookiesSent + tb.passiveOpens;
    const admitted0 = adm.admitted;
    const t0 = p.clock.nowUs;
    floodWithTraffic(p, socks);
    p.run(t0 + 100_000, () => echoed.every((n) => n === 16));
    // Every echo came back in one round trip (2 x 100 us plus processing), without a retransmission.
    expect(echoed).toEqual(new Array(CONNS).fill(16));
    expect(p.clock.nowUs - t0).toBeLessThan(1_000);
    expect(p.sa.tcp.counters.retransmits).toBe(retransmitsA);
    // B's receive bursts: 32 SYNs (full: 4 admitted, 28 shed); 8 SYNs + 8 segments + 16 SYNs
    // (full: 4 admitted, 20 shed); the last 24 SYNs (not full: all admitted).
    expect(adm.fullBursts).toBe(2);
    expect(adm.shedBurst).toBe(48);
    expect(adm.admitted - admitted0).toBe(32);
    const nb = p.b.netif.counters;
    expect(nb.dropSynShed).toBe(48);
    // Shed frames stay in the receive accounting (one drop reason each).
    expect(nb.rxFrames).toBe(nb.totalDrops() + nb.arpAccepted + nb.icmpAccepted + nb.tcpDelivered);
    // Each admitted SYN was answered (a half-open connection or a SYN cookie), no other.
    expect(tb.synCookiesSent + tb.passiveOpens - answered0).toBe(32);
    expect(tb.synCookiesSent).toBeGreaterThan(0);
  });

  test("after the flood the shedding stops: a new connection opens on its first SYN", () => {
    const adm = new SynAdmission({ overloadStreak: 1, perBurst: 4 });
    const { p, socks } = setup(adm);
    floodWithTraffic(p, socks);
    p.run(p.clock.nowUs + 5_000);
    const shed = adm.shed();
    expect(shed).toBe(48);
    let opened = -1;
    const t0 = p.clock.nowUs;
    void p.sa.connect({ hostname: "10.0.0.2", port: 7, socket: { open: () => void (opened = p.clock.nowUs) } });
    p.run(t0 + 3_000_000, () => opened >= 0);
    expect(opened).toBeGreaterThanOrEqual(0);
    expect(opened - t0).toBeLessThan(1_000); // not after a SYN retransmission (1 s)
    expect(adm.shed()).toBe(shed);
  });

  for (const retry of [true, false]) {
    test(`a client whose SYN is shed under a sustained flood gets in ${retry ? "on its first retransmission (the shed-SYN filter)" : "only by luck without the shed-SYN filter"}`, () => {
      // 16 spoofed SYNs per ms (16,000/s) against 1,000 admitted per second: each ms the first flood SYN takes the token.
      const adm = new SynAdmission({ ratePerSec: 1000, burst: 1, retry: retry ? { blocks: 1 << 12 } : null });
      const { p } = setup(adm);
      let opened = -1;
      const t0 = p.clock.nowUs;
      for (let ms = 0; ms < 1_300; ms++) {
        injectSyns(p, 16);
        if (ms === 0) {
          void p.sa.connect({ hostname: "10.0.0.2", port: 7, socket: { open: () => void (opened = p.clock.nowUs) } });
          p.a.poll(p.clock.nowUs);
        }
        p.run(t0 + (ms + 1) * 1000);
      }
      expect(adm.shedRate).toBeGreaterThan(15 * 1_200);
      if (retry) {
        // The SYN at 0 was shed; its retransmission (RTO 1 s, RFC 6298 2.1) was admitted.
        expect(opened).toBeGreaterThan(t0 + 1_000_000);
        expect(opened).toBeLessThan(t0 + 1_010_000);
        // Its retransmission, plus any flood SYN falsely matching the filter (syn-retry-filter.ts).
        expect(adm.retryAdmitted).toBeGreaterThanOrEqual(1);
        expect(adm.retryAdmitted).toBeLessThan(1 + 12);
      } else {
        expect(opened).toBe(-1);
        expect(adm.retryAdmitted).toBe(0);
      }
    });
  }

  test("known source: a client that completed a handshake before gets in on its first SYN under the flood (TCP's onPassiveOpen hook)", () => {
    const adm = new SynAdmission({ ratePerSec: 1000, burst: 1, retry: null });
    const { p } = setupKnown(adm);
    expect(adm.knownNoted).toBe(CONNS);
    let opened = -1;
    const t0 = p.clock.nowUs;
    for (let ms = 0; ms < 50; ms++) {
      injectSyns(p, 16);
      if (ms === 10) {
        void p.sa.connect({ hostname: "10.0.0.2", port: 7, socket: { open: () => void (opened = p.clock.nowUs) } });
        p.a.poll(p.clock.nowUs);
      }
      p.run(t0 + (ms + 1) * 1000);
    }
    expect(adm.shedRate).toBeGreaterThan(15 * 40);
    expect(opened).toBeGreaterThan(t0);
    expect(opened - t0).toBeLessThan(13_000); // its first SYN, not a retransmission 1 s later
    expect(adm.knownAdmitted).toBe(1);
    expect(adm.knownNoted).toBe(CONNS + 1);
  });

  test("without the classifier every flood SYN reaches TCP (the cost the shedding avoids)", () => {
    const { p, socks, echoed } = setup(null);
    const tb = p.sb.tcp.counters;
    const answered0 = tb.synCookiesSent + tb.passiveOpens;
    floodWithTraffic(p, socks);
    p.run(p.clock.nowUs + 100_000, () => echoed.every((n) => n === 16));
    expect(echoed).toEqual(new Array(CONNS).fill(16));
    expect(p.b.netif.counters.dropSynShed).toBe(0);
    expect(tb.synCookiesSent + tb.passiveOpens - answered0).toBe(80);
  });
});
