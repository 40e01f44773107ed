/**
 * SYN flood shedding in the receive classifier (issue 7): bare SYNs in the low
 * class, established traffic in the high class, and SynAdmission's bounds (per
 * full burst, token-bucket rate on the injected clock) deciding which bare SYNs
 * reach TCP. Virtual time only.
 */
import { describe, expect, test } from "bun:test";
import { heapStats } from "bun:jsc";
import { Classifier, FrameInfo, isBareSyn, parseFrameInfo, synLowClassifier, byPort } from "../../../src/sched/classifier";
import { SynAdmission } from "../../../src/sched/syn-admission";
import { PacketBatch } from "../../../src/net/packet-batch";
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, writeEthernetHeader } from "../../../src/wire/ethernet";
import { writeIpv4Header } from "../../../src/wire/ipv4";
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, writeTcpHeader } from "../../../src/wire/tcp";

const MAC_A = new Uint8Array([2, 0, 0, 0, 0, 1]);
const MAC_B = new Uint8Array([2, 0, 0, 0, 0, 2]);
const IP_B = 0x0a000002;
const SLOT = 256;
const SLOTS = 256;
const mem = new Uint8Array(SLOT * SLOTS);
const dv = new DataView(mem.buffer);
const slotOff = (i: number): number => i * SLOT + 16;

/** A TCP frame in slot i from a distinct source: returns its length. */
function tcpFrame(i: number, flags: number, payload = 0, dstPort = 7): number {
  const off = slotOff(i);
  let p = off + writeEthernetHeader(mem, dv, off, MAC_B, MAC_A, ETHERTYPE_IPV4);
  p += writeIpv4Header(dv, p, 0, 40 + payload, i, true, 64, 6, (0x0b000000 + i) >>> 0, IP_B);
  writeTcpHeader(dv, p, 1024 + i, dstPort, i * 1000, flags & TCP_ACK ? 1 : 0, 20, flags, 512);
  mem.fill(0x61, p + 20, p + 20 + payload);
  return Math.max(60, 54 + payload);
}

function arpFrame(i: number): number {
  const off = slotOff(i);
  writeEthernetHeader(mem, dv, off, MAC_B, MAC_A, ETHERTYPE_ARP);
  mem.fill(0, off + 14, off + 42);
  return 60;
}

const BARE_SYN = TCP_SYN;
const DATA = TCP_ACK | TCP_PSH;

/** Fill `batch` from `kinds` (one frame per entry, slot = index + base). */
function fill(batch: PacketBatch, kinds: number[], base = 0): void {
  batch.count = 0;
  for (let i = 0; i < kinds.length; i++) {
    const k = kinds[i]!;
    const len = k === -1 ? arpFrame(base + i) : tcpFrame(base + i, k, k === DATA ? 32 : 0);
    batch.push(base + i, slotOff(base + i), len);
  }
}

function outs(): PacketBatch[] {
  return [new PacketBatch(32), new PacketBatch(32)];
}

/** Slots (handles) in a batch, in order. */
function handles(b: PacketBatch): number[] {
  return Array.from(b.handle.subarray(0, b.count));
}

describe("synLowClassifier", () => {
  test("a bare SYN is low; SYN-ACK, ACK, data, FIN and RST are high (RFC 9293 3.10.7.2 third)", () => {
    const fn = synLowClassifier();
    const info = new FrameInfo();
    const cases: [number, number][] = [
      [TCP_SYN, 1],
      [TCP_SYN | TCP_ACK, 0],
      [TCP_ACK, 0],
      [DATA, 0],
      [TCP_FIN | TCP_ACK, 0],
      [TCP_RST, 0],
      [TCP_SYN | TCP_RST, 0],
    ];
    for (const [flags, cls] of cases) {
      const len = tcpFrame(0, flags);
      expect(parseFrameInfo(mem, dv, slotOff(0), len, info)).toBe(true);
      expect(isBareSyn(info)).toBe(cls === 1);
      expect(fn(mem, dv, info)).toBe(cls);
    }
  });

  test("with an inner rule: bare SYNs low, everything else as the inner rule says", () => {
    const fn = synLowClassifier(1, 0, byPort([{ port: 80, cls: 0 }], 1));
    const info = new FrameInfo();
    parseFrameInfo(mem, dv, slotOff(0), tcpFrame(0, TCP_SYN, 0, 80), info);
    expect(fn(mem, dv, info)).toBe(1);
    parseFrameInfo(mem, dv, slotOff(0), tcpFrame(0, DATA, 8, 80), info);
    expect(fn(mem, dv, info)).toBe(0);
    parseFrameInfo(mem, dv, slotOff(0), tcpFrame(0, DATA, 8, 81), info);
    expect(fn(mem, dv, info)).toBe(1);
  });
});

describe("shedding in classifyBatch (per full burst)", () => {
  test("a full burst: established segments all go on (first), bare SYNs over the budget are shed", () => {
    const cl = new Classifier({ classes: 2, fn: synLowClassifier(), admission: new SynAdmission({ overloadStreak: 1, perBurst: 4 }) });
    const rx = new PacketBatch(32);
    // 24 bare SYNs with 8 data segments spread among them.
    const kinds: number[] = [];
    for (let i = 0; i < 32; i++) kinds.push(i % 4 === 1 ? DATA : BARE_SYN);
    fill(rx, kinds);
    const out = outs();
    const shed = new PacketBatch(32);
    expect(cl.classifyBatch(mem, dv, rx, out, shed, 1_000)).toBe(0);
    expect(rx.count).toBe(0);
    expect(handles(out[0]!)).toEqual([1, 5, 9, 13, 17, 21, 25, 29]);
    // The first 4 SYNs in arrival order are admitted, the other 20 shed.
    expect(handles(out[1]!)).toEqual([0, 2, 3, 4]);
    expect(shed.count).toBe(20);
    expect(handles(shed)).toEqual(kinds.map((k, i) => (k === BARE_SYN ? i : -1)).filter((i) => i >= 0).slice(4));
    const adm = cl.admission!;
    expect(adm.shedBurst).toBe(20);
    expect(adm.admitted).toBe(4);
    expect(adm.fullBursts).toBe(1);
    expect(cl.counts[0]).toBe(8);
    expect(cl.counts[1]).toBe(4);
  });

  test("a burst that is not full is not bounded (no backlog: nothing to protect)", () => {
    const cl = new Classifier({ classes: 2, fn: synLowClassifier(), admission: new SynAdmission({ overloadStreak: 1, perBurst: 4 }) });
    const rx = new PacketBatch(32);
    fill(rx, new Array(31).fill(BARE_SYN));
    const out = outs();
    const shed = new PacketBatch(32);
    cl.classifyBatch(mem, dv, rx, out, shed, 0);
    expect(out[1]!.count).toBe(31);
    expect(shed.count).toBe(0);
    expect(cl.admission!.fullBursts).toBe(0);
  });

  test("a client opening 100 connections at once is not shed (3 full bursts); a sustained backlog is (overloadStreak 4)", () => {
    const adm = new SynAdmission({ perBurst: 4 });
    expect(adm.overloadStreak).toBe(4);
    const take = (n: number) => {
      let ok = 0;
      for (let i = 0; i < n; i++) if (adm.admit()) ok++;
      return ok;
    };
    let now = 0;
    // 100 SYNs: 32 + 32 + 32 + 4.
    for (const n of [32, 32, 32, 4]) {
      adm.beginBurst(n, 32, (now += 10));
      expect(take(n)).toBe(n);
    }
    // A flood: full bursts from here on; the 4th full one in a row is bounded.
    const admitted: number[] = [];
    for (let r = 0; r < 6; r++) {
      adm.beginBurst(32, 32, (now += 10));
      admitted.push(take(32));
    }
    expect(admitted).toEqual([32, 32, 32, 4, 4, 4]);
    // One burst that is not full ends the streak.
    adm.beginBurst(31, 32, (now += 10));
    expect(take(31)).toBe(31);
    adm.beginBurst(32, 32, (now += 10));
    expect(take(32)).toBe(32);
    expect(adm.fullBursts).toBe(3);
  });

  test("only bare SYNs are shed: ARP, SYN-ACKs and RSTs in a full burst all go on", () => {
    const cl = new Classifier({ classes: 2, fn: synLowClassifier(), admission: new SynAdmission({ overloadStreak: 1, perBurst: 0 }) });
    const rx = new PacketBatch(32);
    const kinds: number[] = [];
    for (let i = 0; i < 32; i++) kinds.push([BARE_SYN, -1, TCP_SYN | TCP_ACK, TCP_RST][i % 4]!);
    fill(rx, kinds);
    const out = outs();
    const shed = new PacketBatch(32);
    cl.classifyBatch(mem, dv, rx, out, shed, 0);
    expect(shed.count).toBe(8);
    for (const h of handles(shed)) expect(kinds[h]).toBe(BARE_SYN);
    // ARP is unparsed: the default (lowest) class, never shed even though the last parsed frame was a SYN.
    expect(out[0]!.count + out[1]!.count).toBe(24);
    expect(cl.unparsed).toBe(8);
  });

  test("without a shed batch (or without admission) nothing is shed: the existing API is unchanged", () => {
    const rx = new PacketBatch(32);
    fill(rx, new Array(32).fill(BARE_SYN));
    const withAdm = new Classifier({ classes: 2, fn: synLowClassifier(), admission: new SynAdmission({ overloadStreak: 1, perBurst: 0 }) });
    const out = outs();
    withAdm.classifyBatch(mem, dv, rx, out);
    expect(out[1]!.count).toBe(32);
    fill(rx, new Array(32).fill(BARE_SYN));
    const plain = new Classifier({ classes: 2, fn: synLowClassifier() });
    const out2 = outs();
    plain.classifyBatch(mem, dv, rx, out2, new PacketBatch(32), 0);
    expect(out2[1]!.count).toBe(32);
  });

  test("a flood and its end: shedding stops as soon as bursts are no longer full", () => {
    // The same 32 frames every round: without the retry table (they would count as retransmissions).
    const cl = new Classifier({ classes: 2, fn: synLowClassifier(), admission: new SynAdmission({ overloadStreak: 1, perBurst: 2, retrySlots: 0 }) });
    const adm = cl.admission!;
    const rx = new PacketBatch(32);
    const shed = new PacketBatch(32);
    let now = 0;
    for (let round = 0; round < 100; round++) {
      fill(rx, new Array(32).fill(BARE_SYN));
      const out = outs();
      cl.classifyBatch(mem, dv, rx, out, shed, (now += 10));
      expect(out[1]!.count).toBe(2);
      shed.count = 0;
    }
    expect(adm.shedBurst).toBe(3000);
    // After the flood: a few SYNs per round, all admitted.
    for (let round = 0; round < 10; round++) {
      fill(rx, [BARE_SYN, DATA, BARE_SYN]);
      const out = outs();
      cl.classifyBatch(mem, dv, rx, out, shed, (now += 10));
      expect(out[1]!.count).toBe(2);
      expect(shed.count).toBe(0);
    }
    expect(adm.shedBurst).toBe(3000);
  });
});

describe("retransmitted SYNs first (the shed-SYN table)", () => {
  test("a shed SYN sent again (same source, ports, ISN) is admitted past the budget; a new SYN is not", () => {
    const cl = new Classifier({ classes: 2, fn: synLowClassifier(), admission: new SynAdmission({ overloadStreak: 1, perBurst: 0, retrySlots: 1 << 12 }) });
    const adm = cl.admission!;
    const rx = new PacketBatch(32);
    const shed = new PacketBatch(32);
    fill(rx, new Array(32).fill(BARE_SYN)); // slots 0..31: all shed
    cl.classifyBatch(mem, dv, rx, outs(), shed, 0);
    expect(shed.count).toBe(32);
    shed.count = 0;
    // A later full burst: slot 5's SYN again (its retransmission) among 31 new SYNs (slots 32..62).
    rx.count = 0;
    for (let i = 0; i < 32; i++) {
      const slot = i === 10 ? 5 : 32 + i;
      rx.push(slot, slotOff(slot), tcpFrame(slot, BARE_SYN));
    }
    const out = outs();
    cl.classifyBatch(mem, dv, rx, out, shed, 1_000_000);
    expect(handles(out[1]!)).toEqual([5]);
    expect(shed.count).toBe(31);
    expect(adm.retryAdmitted).toBe(1);
    expect(adm.admitted).toBe(1);
    // Its tag was used up: a third copy is shed like any SYN.
    shed.count = 0;
    fill(rx, new Array(32).fill(BARE_SYN), 100);
    rx.handle[0] = 5;
    rx.off[0] = slotOff(5);
    rx.len[0] = tcpFrame(5, BARE_SYN);
    cl.classifyBatch(mem, dv, rx, outs(), shed, 2_000_000);
    expect(shed.count).toBe(32);
  });

  test("a different ISN from the same source and ports is not a retransmission", () => {
    const adm = new SynAdmission({ overloadStreak: 1, perBurst: 0, retrySlots: 1 << 12 });
    adm.beginBurst(32, 32, 0);
    expect(adm.admitSyn(0x0b000001, 40000, 7, 1000)).toBe(false);
    adm.beginBurst(32, 32, 1);
    expect(adm.admitSyn(0x0b000001, 40000, 7, 1001)).toBe(false);
    expect(adm.admitSyn(0x0b000001, 40001, 7, 1000)).toBe(false);
    expect(adm.admitSyn(0x0b000002, 40000, 7, 1000)).toBe(false);
    expect(adm.admitSyn(0x0b000001, 40000, 7, 1000)).toBe(true);
    expect(adm.retryAdmitted).toBe(1);
  });

  test("at most retryPerBurst retransmissions per burst get past the bounds (an attacker repeating SYNs gains little)", () => {
    const adm = new SynAdmission({ overloadStreak: 1, perBurst: 0, retrySlots: 1 << 12, retryPerBurst: 3 });
    adm.beginBurst(32, 32, 0);
    for (let i = 0; i < 32; i++) adm.admitSyn(0x0b000000 + i, 1024 + i, 7, i * 77);
    adm.beginBurst(32, 32, 1);
    let ok = 0;
    for (let i = 0; i < 32; i++) if (adm.admitSyn(0x0b000000 + i, 1024 + i, 7, i * 77)) ok++;
    expect(ok).toBe(3);
    expect(adm.shedBurst).toBe(32 + 29);
  });

  test("over a flood of distinct spoofed SYNs, a retransmission 1 s later still finds its tag (100,000 shed/s)", () => {
    const adm = new SynAdmission({ overloadStreak: 1, perBurst: 0 });
    expect(adm.retrySlots).toBe(1 << 23);
    let x = 12345;
    const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) | 0);
    // The legitimate SYNs at t = 0, each shed.
    const legit: number[][] = [];
    for (let k = 0; k < 200; k++) legit.push([rnd(), 30000 + k, 80, rnd()]);
    adm.beginBurst(32, 32, 0);
    for (const [ip, sp, dp, seq] of legit) expect(adm.admitSyn(ip!, sp!, dp!, seq!)).toBe(false);
    // 1 s of flood: 100,000 spoofed SYNs in full bursts, all shed.
    for (let b = 0; b < 100_000 / 32; b++) {
      adm.beginBurst(32, 32, 1 + b * 320);
      for (let i = 0; i < 32; i++) adm.admitSyn(rnd(), rnd() & 0xffff, 80, rnd());
    }
    // The retransmissions, one per burst.
    let back = 0;
    for (const [ip, sp, dp, seq] of legit) {
      adm.beginBurst(32, 32, 1_000_000);
      if (adm.admitSyn(ip!, sp!, dp!, seq!)) back++;
    }
    expect(back / legit.length).toBeGreaterThan(0.85); // exp(-100,000 / 2^20) = 0.91
  });
});

describe("the shed-SYN table holds a tag for retryHoldUs", () => {
  test("16-bit tags: under a steady flood a shed SYN is remembered with share (S/F) / (H + S/F) (scaled: 2^14 slots, 6,644 shed/s ~ 2^23 at 3.4 M/s)", () => {
    const S = 1 << 14;
    const F = 6644; // S/F = 2.47 s, as 2^23 slots at 3.4 M shed SYN/s: expected share 2.47 / (2.36 + 2.47) = 0.51 (hold 9 epochs)
    const adm = new SynAdmission({ overloadStreak: 1, perBurst: 0, retrySlots: S });
    let x = 987;
    const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) | 0);
    const stepUs = 1e6 / F;
    const legit: number[][] = [];
    const sentAt: number[] = [];
    // 12 s of flood; from 6 s to 10 s (steady state), one legitimate SYN in every 20 flood SYNs, each
    // retransmitted 1 s later (RFC 6298 (2.1)) in the same flood.
    let back = 0;
    let next = 0;
    for (let i = 0; i < 12 * F; i++) {
      const t = Math.round(i * stepUs);
      adm.beginBurst(32, 32, t);
      if (next < legit.length && sentAt[next]! + 1_000_000 <= t) {
        const [ip, sp, dp, seq] = legit[next++]!;
        if (adm.admitSyn(ip!, sp!, dp!, seq!)) back++;
      }
      if (t >= 6_000_000 && t < 10_000_000 && i % 20 === 0) {
        const l = [rnd(), 40000 + (legit.length & 0x3fff), 80, rnd()];
        legit.push(l);
        sentAt.push(t);
        expect(adm.admitSyn(l[0]!, l[1]!, l[2]!, l[3]!)).toBe(false);
      } else adm.admitSyn(rnd(), rnd() & 0xffff, 80, rnd());
    }
    expect(next).toBe(legit.length);
    expect(legit.length).toBeGreaterThan(1000);
    const share = back / legit.length;
    expect(share).toBeGreaterThan(0.45);
    expect(share).toBeLessThan(0.6);
  });


  // A tiny table (16 slots) so a flood fills it: each slot is written by the first shed SYN that maps to it.
  const flood = (adm: SynAdmission, atUs: number, n: number, seed: number) => {
    adm.beginBurst(32, 32, atUs);
    for (let i = 0; i < n; i++) adm.admitSyn(0x0c000000 + seed * 100_000 + i, 1024 + (i & 0x7fff), 7, i * 31 + seed);
  };

  test("a newer shed SYN does not overwrite a held tag: the retransmission 2 s later is still admitted", () => {
    const adm = new SynAdmission({ overloadStreak: 1, perBurst: 0, retrySlots: 16 });
    adm.beginBurst(32, 32, 0);
    expect(adm.admitSyn(0x0b000001, 40000, 7, 1234)).toBe(false);
    // 2 s of flood (many SYNs per slot), the last of it 10 ms before the retransmission.
    for (let t = 1; t <= 2_000_000; t += 250_000) flood(adm, t, 200, t);
    flood(adm, 1_990_000, 200, 7);
    expect(adm.retryTableFull).toBeGreaterThan(0);
    adm.beginBurst(32, 32, 2_000_000);
    expect(adm.admitSyn(0x0b000001, 40000, 7, 1234)).toBe(true);
    expect(adm.retryAdmitted).toBe(1);
  });

  test("after the hold, a slot takes a newer shed SYN (the old tag is gone)", () => {
    const adm = new SynAdmission({ overloadStreak: 1, perBurst: 0, retrySlots: 16, retryHoldUs: 1_000_000 });
    adm.beginBurst(32, 32, 0);
    expect(adm.admitSyn(0x0b000001, 40000, 7, 1234)).toBe(false);
    // Flood after the hold: every slot is rewritten.
    flood(adm, 1_500_000, 2000, 3);
    // (A flood SYN meeting a held slot matches its 11-bit tag with probability 1/2047: a few may be admitted.)
    const during = adm.retryAdmitted;
    expect(during).toBeLessThan(5);
    adm.beginBurst(32, 32, 1_600_000);
    expect(adm.admitSyn(0x0b000001, 40000, 7, 1234)).toBe(false);
    expect(adm.retryAdmitted).toBe(during);
  });

  test("a retransmission shed again (retry budget spent) keeps its own slot (not counted as a full table)", () => {
    const adm = new SynAdmission({ overloadStreak: 1, perBurst: 0, retrySlots: 1 << 12, retryPerBurst: 0 });
    adm.beginBurst(32, 32, 0);
    expect(adm.admitSyn(0x0b000001, 40000, 7, 99)).toBe(false);
    adm.beginBurst(32, 32, 1_000_000);
    expect(adm.admitSyn(0x0b000001, 40000, 7, 99)).toBe(false);
    expect(adm.retryTableFull).toBe(0);
    expect(adm.retryAdmitted).toBe(0);
  });

  test("retryHoldUs out of range is a RangeError", () => {
    expect(() => new SynAdmission({ perBurst: 0, retryHoldUs: -1 })).toThrow(RangeError);
    expect(() => new SynAdmission({ perBurst: 0, retryHoldUs: 60_000_000 })).toThrow(RangeError);
  });
});

describe("known sources (addresses that completed a handshake lately)", () => {
  const KNOWN = 0x0a000063;
  test("a SYN from a known source is admitted past the bounds; from an unknown source it is shed", () => {
    const adm = new SynAdmission({ overloadStreak: 1, perBurst: 0, retrySlots: 0 });
    adm.noteKnown(KNOWN, 1_000);
    adm.beginBurst(32, 32, 2_000);
    expect(adm.admitSyn(0x0b000001, 1000, 80, 1)).toBe(false);
    expect(adm.admitSyn(KNOWN, 1001, 80, 2)).toBe(true);
    expect(adm.knownAdmitted).toBe(1);
    expect(adm.admitted).toBe(1);
    expect(adm.shedBurst).toBe(1);
    expect(adm.knownNoted).toBe(1);
  });

  test("with the shed-SYN table on too, and under the rate bound", () => {
    const adm = new SynAdmission({ ratePerSec: 1000, burst: 1 });
    adm.noteKnown(KNOWN, 0);
    adm.beginBurst(4, 32, 10);
    expect(adm.admitSyn(0x0b000001, 1000, 80, 1)).toBe(true); // the bucket's one token
    expect(adm.admitSyn(0x0b000002, 1000, 80, 2)).toBe(false);
    expect(adm.admitSyn(KNOWN, 1001, 80, 3)).toBe(true);
    expect(adm.knownAdmitted).toBe(1);
    expect(adm.shedRate).toBe(1);
  });

  test("not counted as known while the bounds admit anyway", () => {
    const adm = new SynAdmission({ ratePerSec: 1000, burst: 4 });
    adm.noteKnown(KNOWN, 0);
    adm.beginBurst(4, 32, 10);
    expect(adm.admitSyn(KNOWN, 1001, 80, 3)).toBe(true);
    expect(adm.knownAdmitted).toBe(0);
    expect(adm.admitted).toBe(1);
  });

  test("an address stops being known knownTtlUs after its last handshake", () => {
    const adm = new SynAdmission({ overloadStreak: 1, perBurst: 0, retrySlots: 0, knownTtlUs: 1_000_000 });
    adm.noteKnown(KNOWN, 500_000);
    adm.beginBurst(32, 32, 1_499_999);
    expect(adm.isKnown(KNOWN)).toBe(true);
    expect(adm.admitSyn(KNOWN, 1001, 80, 3)).toBe(true);
    adm.beginBurst(32, 32, 1_500_000);
    expect(adm.isKnown(KNOWN)).toBe(false);
    expect(adm.admitSyn(KNOWN, 1002, 80, 4)).toBe(false);
    // A new handshake renews it.
    adm.noteKnown(KNOWN, 1_600_000);
    adm.beginBurst(32, 32, 2_000_000);
    expect(adm.admitSyn(KNOWN, 1003, 80, 5)).toBe(true);
    expect(adm.knownAdmitted).toBe(2);
  });

  test("at most knownPerBurst known-source SYNs per burst get past the bounds (spoofing a known address gains little)", () => {
    const adm = new SynAdmission({ overloadStreak: 1, perBurst: 0, retrySlots: 0, knownPerBurst: 2 });
    adm.noteKnown(KNOWN, 0);
    for (let b = 0; b < 3; b++) {
      adm.beginBurst(32, 32, 100 + b);
      let ok = 0;
      for (let i = 0; i < 10; i++) if (adm.admitSyn(KNOWN, 2000 + i, 80, b * 100 + i)) ok++;
      expect(ok).toBe(2);
    }
    expect(adm.knownAdmitted).toBe(6);
    expect(adm.shedBurst).toBe(24);
  });

  test("a colliding newer address takes the slot (direct-mapped, bounded); knownSlots 0 turns it off", () => {
    const adm = new SynAdmission({ overloadStreak: 1, perBurst: 0, retrySlots: 0, knownSlots: 1 });
    adm.noteKnown(KNOWN, 0);
    adm.noteKnown(KNOWN + 1, 0);
    adm.beginBurst(32, 32, 10);
    expect(adm.isKnown(KNOWN)).toBe(false);
    expect(adm.isKnown(KNOWN + 1)).toBe(true);
    const off = new SynAdmission({ overloadStreak: 1, perBurst: 0, knownSlots: 0 });
    off.noteKnown(KNOWN, 0);
    off.beginBurst(32, 32, 10);
    expect(off.admitSyn(KNOWN, 1, 80, 1)).toBe(false);
    expect(() => new SynAdmission({ perBurst: 0, knownSlots: 3 })).toThrow(RangeError);
  });
});

describe("SynAdmission rate bound (token bucket, injected microseconds)", () => {
  test("at most `burst` at once, then ratePerSec: 1,000/s admits one SYN per ms", () => {
    const a = new SynAdmission({ ratePerSec: 1000, burst: 10 });
    a.beginBurst(32, 32, 1_000_000);
    let ok = 0;
    for (let i = 0; i < 32; i++) if (a.admit()) ok++;
    expect(ok).toBe(10);
    expect(a.shedRate).toBe(22);
    // 5 ms later: 5 tokens.
    a.beginBurst(8, 32, 1_005_000);
    ok = 0;
    for (let i = 0; i < 8; i++) if (a.admit()) ok++;
    expect(ok).toBe(5);
    // Half a millisecond: half a token, none admitted; another half: one.
    a.beginBurst(1, 32, 1_005_500);
    expect(a.admit()).toBe(false);
    a.beginBurst(1, 32, 1_006_000);
    expect(a.admit()).toBe(true);
  });

  test("over a long flood the admitted count follows the rate, and the bucket refills when it stops", () => {
    const a = new SynAdmission({ ratePerSec: 20_000 });
    expect(a.burst).toBe(400); // 20 ms of the rate
    let now = 0;
    // 1 s of a 200,000 SYN/s flood in 20-SYN bursts every 100 us.
    for (let r = 0; r < 10_000; r++) {
      a.beginBurst(20, 32, (now += 100));
      for (let i = 0; i < 20; i++) a.admit();
    }
    expect(a.admitted).toBeGreaterThanOrEqual(20_000);
    expect(a.admitted).toBeLessThanOrEqual(20_000 + 400);
    expect(a.shedRate).toBe(200_000 - a.admitted);
    // Quiet for 20 ms: a full bucket again.
    a.beginBurst(0, 32, (now += 20_000));
    const before = a.admitted;
    a.beginBurst(32, 32, now);
    for (let i = 0; i < 500; i++) a.admit();
    expect(a.admitted - before).toBe(400);
  });

  test("a clock that does not move adds no tokens; bad options are refused", () => {
    const a = new SynAdmission({ ratePerSec: 100, burst: 1 });
    a.beginBurst(1, 32, 50);
    expect(a.admit()).toBe(true);
    a.beginBurst(1, 32, 50);
    a.beginBurst(1, 32, 40); // time going backwards is ignored
    expect(a.admit()).toBe(false);
    expect(() => new SynAdmission({ perBurst: 1.5 })).toThrow(RangeError);
    expect(() => new SynAdmission({ perBurst: 1, overloadStreak: 0 })).toThrow(RangeError);
    expect(() => new SynAdmission({ ratePerSec: -1 })).toThrow(RangeError);
    expect(() => new SynAdmission({ ratePerSec: 10, burst: 0 })).toThrow(RangeError);
    expect(new SynAdmission({}).active()).toBe(false);
  });

  test("both bounds: the per-burst budget and the bucket each shed, counted apart", () => {
    const a = new SynAdmission({ overloadStreak: 1, perBurst: 8, ratePerSec: 1000, burst: 5 });
    a.beginBurst(32, 32, 0);
    let ok = 0;
    for (let i = 0; i < 32; i++) if (a.admit()) ok++;
    expect(ok).toBe(5);
    expect(a.shedRate).toBe(27);
    a.beginBurst(32, 32, 100_000); // bucket full again (5): the budget (8) does not bind
    ok = 0;
    for (let i = 0; i < 32; i++) if (a.admit()) ok++;
    expect(ok).toBe(5);
    const b = new SynAdmission({ overloadStreak: 1, perBurst: 2, ratePerSec: 1000, burst: 50 });
    b.beginBurst(32, 32, 0);
    for (let i = 0; i < 32; i++) b.admit();
    expect(b.admitted).toBe(2);
    expect(b.shedBurst).toBe(30);
    expect(b.shedRate).toBe(0);
  });
});

test("classifyBatch with shedding allocates nothing per burst", () => {
  const cl = new Classifier({ classes: 2, fn: synLowClassifier(), admission: new SynAdmission({ overloadStreak: 1, perBurst: 4, ratePerSec: 10_000 }) });
  const rx = new PacketBatch(32);
  const out = outs();
  const shed = new PacketBatch(32);
  const kinds: number[] = [];
  for (let i = 0; i < 32; i++) kinds.push(i % 3 === 0 ? DATA : BARE_SYN);
  fill(rx, kinds);
  const lens = Array.from(rx.len.subarray(0, 32));
  const run = (n: number) => {
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < 32; i++) rx.push(i, slotOff(i), lens[i]!);
      cl.classifyBatch(mem, dv, rx, out, shed, r * 50);
      out[0]!.count = 0;
      out[1]!.count = 0;
      shed.count = 0;
    }
  };
  run(2000);
  Bun.gc(true);
  const before = heapStats().objectCount;
  run(20_000);
  Bun.gc(true);
  expect(heapStats().objectCount - before).toBeLessThan(50);
  expect(cl.admission!.shed()).toBeGreaterThan(0);
});
