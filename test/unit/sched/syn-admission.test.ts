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
    const cl = new Classifier({ classes: 2, fn: synLowClassifier(), admission: new SynAdmission({ overloadStreak: 1, perBurst: 2, retry: null }) });
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

describe("retransmitted SYNs first (the shed-SYN filter)", () => {
  test("a shed SYN sent again (same source, ports, ISN) is admitted past the budget; a new SYN is not", () => {
    const cl = new Classifier({ classes: 2, fn: synLowClassifier(), admission: new SynAdmission({ overloadStreak: 1, perBurst: 0, retry: { blocks: 1 << 12 } }) });
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
    // A Bloom filter cannot remove a key: a third copy (a lost SYN-ACK) is admitted too, within
    // retryPerBurst per burst (the next test); the new SYNs around it are shed.
    shed.count = 0;
    fill(rx, new Array(32).fill(BARE_SYN), 100);
    rx.handle[0] = 5;
    rx.off[0] = slotOff(5);
    rx.len[0] = tcpFrame(5, BARE_SYN);
    const out3 = outs();
    cl.classifyBatch(mem, dv, rx, out3, shed, 3_000_000);
    expect(handles(out3[1]!)).toEqual([5]);
    expect(shed.count).toBe(31);
    expect(adm.retryAdmitted).toBe(2);
  });

  test("a different ISN from the same source and ports is not a retransmission", () => {
    const adm = new SynAdmission({ overloadStreak: 1, perBurst: 0, retry: { blocks: 1 << 12 } });
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
    const adm = new SynAdmission({ overloadStreak: 1, perBurst: 0, retry: { blocks: 1 << 12 }, retryPerBurst: 3 });
    adm.beginBurst(32, 32, 0);
    for (let i = 0; i < 32; i++) adm.admitSyn(0x0b000000 + i, 1024 + i, 7, i * 77);
    adm.beginBurst(32, 32, 1);
    let ok = 0;
    for (let i = 0; i < 32; i++) if (adm.admitSyn(0x0b000000 + i, 1024 + i, 7, i * 77)) ok++;
    expect(ok).toBe(3);
    expect(adm.shedBurst).toBe(32 + 29);
  });

  test("a retransmission shed again (retry budget spent) is remembered again, not counted as refused", () => {
    const adm = new SynAdmission({ overloadStreak: 1, perBurst: 0, retry: { blocks: 1 << 12 }, retryPerBurst: 0 });
    adm.beginBurst(32, 32, 0);
    expect(adm.admitSyn(0x0b000001, 40000, 7, 99)).toBe(false);
    adm.beginBurst(32, 32, 1_000_000);
    expect(adm.admitSyn(0x0b000001, 40000, 7, 99)).toBe(false);
    expect(adm.retryTableFull).toBe(0);
    expect(adm.retryAdmitted).toBe(0);
    expect(adm.retryFilter!.added).toBe(2);
  });
});

describe("the shed-SYN filter under a flood of 4 M distinct SYN/s (defaults, virtual time)", () => {
  // One full burst of 32 at a time, through the classifier's two-step path (prepare, prefetch, decide).
  const burst = (adm: SynAdmission, atUs: number, ip: Int32Array, sp: Int32Array, seq: Int32Array, n: number): number => {
    adm.beginBurst(32, 32, atUs);
    for (let i = 0; i < n; i++) adm.prepareSyn(ip[i]!, sp[i]!, 80, seq[i]!);
    adm.prefetch();
    let ok = 0;
    for (let i = 0; i < n; i++) if (adm.admitPrepared(i)) ok++;
    return ok;
  };

  test("every shed SYN's retransmission at +1.0 s and at +3 s is admitted; never-shed SYNs are not; memory only while shedding", () => {
    const adm = new SynAdmission({ overloadStreak: 1, perBurst: 0 });
    const f = adm.retryFilter!;
    expect(f.budgetBytes()).toBe(64 << 20);
    expect(f.bytes()).toBe(0); // nothing shed yet: no table
    let x = 20260501;
    const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) | 0);
    const ip = new Int32Array(32);
    const sp = new Int32Array(32);
    const seq = new Int32Array(32);
    const RATE = 4_000_000;
    const stepUs = (32 * 1e6) / RATE; // 8 us per burst of 32
    // Legitimate SYNs, each shed when first sent: 64 just before a generation boundary (the shortest
    // life), 64 just after it. Half retransmit at +1.0 s (RFC 6298 (2.1)); the other half's first
    // retransmission is lost on the way, so theirs arrives at +3 s (1 s, then 2 s more: (5.5)).
    const G = f.genUs;
    const legit: number[][] = [];
    for (let i = 0; i < 128; i++) {
      const at = i < 64 ? G - 1 - i : G + i;
      legit.push([at, 0x0b000000 + i, 30000 + i, rnd(), i & 1 ? 3_000_000 : 1_000_000]);
    }
    // Every send of a legit SYN, in time order: [time, index, first send?].
    const due = legit.map((l, i) => [l[0]!, i, 1]).concat(legit.map((l, i) => [l[0]! + l[4]!, i, 0])).sort((a, b) => a[0]! - b[0]!);
    let next = 0;
    let floodSyns = 0;
    let legitBack = 0;
    let legitShed = 0;
    const endUs = G + 128 + 3_000_000 + 1;
    for (let t = 0; t < endUs; t += stepUs) {
      const now = Math.round(t);
      // Legit SYNs due before this flood burst go in as bursts of one (in arrival order with the flood).
      while (next < due.length && due[next]![0]! <= now) {
        const [when, i, first] = due[next++]!;
        const l = legit[i!]!;
        ip[0] = l[1]!;
        sp[0] = l[2]!;
        seq[0] = l[3]!;
        if (burst(adm, when!, ip, sp, seq, 1) === 1) legitBack++;
        else if (first === 1) legitShed++;
      }
      for (let i = 0; i < 32; i++) {
        ip[i] = rnd();
        sp[i] = rnd() & 0xffff;
        seq[i] = rnd();
      }
      burst(adm, now, ip, sp, seq, 32);
      floodSyns += 32;
    }
    expect(next).toBe(256);
    expect(floodSyns).toBeGreaterThan(4.1 * RATE);
    expect(legitShed).toBe(128); // every first SYN shed (perBurst 0)
    expect(legitBack).toBe(128); // every retransmission admitted: +1.0 s and +3 s, before and after a boundary
    expect(adm.retryTableFull).toBe(0); // no line full at 4 M/s
    // Flood SYNs admitted as if retransmitted (false matches), against the arithmetic (syn-retry-filter.ts:
    // 6.0e-5 per lookup in steady state at 4 M/s; less while the filter fills in the first 4.4 s).
    const falseMatches = adm.retryAdmitted - 128;
    expect(falseMatches).toBeLessThan(6.0e-5 * floodSyns * 1.5);
    // Never-shed SYNs are not admitted by the retry path (they are shed: the bucket is empty).
    let fresh = 0;
    for (let b = 0; b < 100; b++) {
      for (let i = 0; i < 32; i++) {
        ip[i] = 0x0d000000 + b * 32 + i;
        sp[i] = 40000 + i;
        seq[i] = rnd();
      }
      fresh += burst(adm, endUs + b, ip, sp, seq, 32);
    }
    expect(fresh).toBe(0);
    // Memory: held while shedding, released 10 s after the last shed SYN (at the next burst).
    expect(f.bytes()).toBe(64 << 20);
    adm.beginBurst(0, 32, endUs + 100 + 9_000_000);
    expect(f.bytes()).toBe(64 << 20);
    adm.beginBurst(0, 32, endUs + 100 + 10_000_000);
    expect(f.bytes()).toBe(0);
    expect(f.releases).toBe(1);
    // Nothing is remembered any more; the next shed SYN allocates again.
    ip[0] = legit[0]![1]!;
    sp[0] = legit[0]![2]!;
    seq[0] = legit[0]![3]!;
    expect(burst(adm, endUs + 10_000_200, ip, sp, seq, 1)).toBe(0);
    expect(f.allocations).toBe(2);
  }, 30_000);

  test("no table while SYNs are admitted (no flood), nor without a bound", () => {
    const adm = new SynAdmission({ ratePerSec: 1000 });
    for (let i = 0; i < 50; i++) {
      adm.beginBurst(1, 32, i * 10_000);
      expect(adm.admitSyn(0x0b000000 + i, 1000, 80, i)).toBe(true);
    }
    expect(adm.retryFilter!.bytes()).toBe(0);
    expect(new SynAdmission({}).retryFilter).toBeNull();
    expect(new SynAdmission({ perBurst: 0, retry: null }).retryFilter).toBeNull();
  });
});

describe("known sources (addresses that completed a handshake lately)", () => {
  const KNOWN = 0x0a000063;
  test("a SYN from a known source is admitted past the bounds; from an unknown source it is shed", () => {
    const adm = new SynAdmission({ overloadStreak: 1, perBurst: 0, retry: null });
    adm.noteKnown(KNOWN, 1_000);
    adm.beginBurst(32, 32, 2_000);
    expect(adm.admitSyn(0x0b000001, 1000, 80, 1)).toBe(false);
    expect(adm.admitSyn(KNOWN, 1001, 80, 2)).toBe(true);
    expect(adm.knownAdmitted).toBe(1);
    expect(adm.admitted).toBe(1);
    expect(adm.shedBurst).toBe(1);
    expect(adm.knownNoted).toBe(1);
  });

  test("with the shed-SYN filter on too, and under the rate bound", () => {
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
    const adm = new SynAdmission({ overloadStreak: 1, perBurst: 0, retry: null, knownTtlUs: 1_000_000 });
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
    const adm = new SynAdmission({ overloadStreak: 1, perBurst: 0, retry: null, knownPerBurst: 2 });
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
    const adm = new SynAdmission({ overloadStreak: 1, perBurst: 0, retry: null, knownSlots: 1 });
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
