import { describe, expect, test } from "bun:test";
import { COOKIE_PERIOD_US, MSS_TABLE, SynCookieRepr, decodeCookie, encodeCookie, mssIndex, tsClock } from "../../../src/tcp/syn-cookie";

const SECRET = new Uint32Array([0x11111111, 0x22222222, 0x33333333, 0x44444444]);
const LIP = 0xc0a80001; // 192.168.0.1
const RIP = 0xc0a80002;
const LPORT = 80;
const RPORT = 51000;
const PEER_ISN = 0x7ffffff0 | 0;
const NOW = 1_000 * COOKIE_PERIOD_US + 5_000_000; // 5 s into a counter period

const enc = new SynCookieRepr();
const dec = new SynCookieRepr();

function make(nowUs: number, mss: number, wscale: number, sackOk: boolean, tsOk: boolean): SynCookieRepr {
  encodeCookie(enc, SECRET, LIP, LPORT, RIP, RPORT, PEER_ISN, nowUs, mss, wscale, sackOk, tsOk);
  return enc;
}
function check(nowUs: number, ackNumber: number, tsEcr: number): boolean {
  return decodeCookie(SECRET, LIP, LPORT, RIP, RPORT, PEER_ISN, ackNumber, tsEcr, nowUs, dec);
}

describe("SYN cookie round trip", () => {
  test("without timestamps only the MSS survives", () => {
    const c = make(NOW, 1460, 7, true, false);
    expect(c.tsVal).toBe(0);
    expect(check(NOW + 1000, (c.isn + 1) | 0, -1)).toBe(true);
    expect(dec.isn).toBe(c.isn);
    expect(dec.mss).toBe(1460);
    expect(dec.wscale).toBe(-1);
    expect(dec.sackOk).toBe(false);
    expect(dec.tsOk).toBe(false);
  });

  test("with timestamps, window scale and SACK-permitted come back in TSecr", () => {
    const c = make(NOW, 1460, 7, true, true);
    expect(check(NOW + 1000, (c.isn + 1) | 0, c.tsVal)).toBe(true);
    expect(dec.mss).toBe(1460);
    expect(dec.wscale).toBe(7);
    expect(dec.sackOk).toBe(true);
    expect(dec.tsOk).toBe(true);
  });

  test("with timestamps: no window scaling, no SACK", () => {
    const c = make(NOW, 1300, -1, false, true);
    expect(check(NOW, (c.isn + 1) | 0, c.tsVal)).toBe(true);
    expect(dec.mss).toBe(1300);
    expect(dec.wscale).toBe(-1);
    expect(dec.sackOk).toBe(false);
  });

  test("window shifts 0..14 survive; larger ones are 14 (RFC 7323 2.3)", () => {
    for (let w = 0; w <= 14; w++) {
      const c = make(NOW, 1460, w, false, true);
      expect(check(NOW, (c.isn + 1) | 0, c.tsVal)).toBe(true);
      expect(dec.wscale).toBe(w);
    }
    const c = make(NOW, 1460, 15, false, true);
    expect(check(NOW, (c.isn + 1) | 0, c.tsVal)).toBe(true);
    expect(dec.wscale).toBe(14);
  });

  test("each MSS table entry survives; other values round down to an entry", () => {
    for (const m of MSS_TABLE) {
      const c = make(NOW, m, -1, false, false);
      expect(check(NOW, (c.isn + 1) | 0, -1)).toBe(true);
      expect(dec.mss).toBe(m);
    }
    expect(mssIndex(1459)).toBe(2); // 1440
    expect(mssIndex(9000)).toBe(3); // 1460
    expect(mssIndex(400)).toBe(0); // 536
    const c = make(NOW, 1399, -1, false, false);
    expect(check(NOW, (c.isn + 1) | 0, -1)).toBe(true);
    expect(dec.mss).toBe(1300);
  });

  test("the TSval is our clock with its low 6 bits replaced, never ahead of it", () => {
    for (const now of [NOW, NOW + 63_000, NOW + 1_000, NOW + 31_000]) {
      const c = make(now, 1460, 9, true, true);
      const ts = tsClock(now);
      expect(((ts - c.tsVal) | 0) >= 0).toBe(true);
      expect(((ts - c.tsVal) | 0) < 64).toBe(true);
      expect(c.tsVal & 0x3f).toBe(9 | 0x10);
    }
  });

  test("an explicit tsNow replaces the default clock", () => {
    encodeCookie(enc, SECRET, LIP, LPORT, RIP, RPORT, PEER_ISN, NOW, 1460, 2, false, true, 0x12345678);
    expect(enc.tsVal).toBe((0x12345678 & ~0x3f) | 2);
  });
});

describe("SYN cookie validation", () => {
  test("accepted within the same and the next 64-s period", () => {
    const start = 1_000 * COOKIE_PERIOD_US + COOKIE_PERIOD_US - 1; // last us of a period
    const c = make(start, 1460, -1, false, false);
    expect(check(start + 1, (c.isn + 1) | 0, -1)).toBe(true); // next period
    expect(check(start + COOKIE_PERIOD_US, (c.isn + 1) | 0, -1)).toBe(true); // still next period
  });

  test("aged cookies are rejected (two periods on)", () => {
    const start = 1_000 * COOKIE_PERIOD_US;
    const c = make(start, 1460, -1, false, false);
    expect(check(start + 2 * COOKIE_PERIOD_US - 1, (c.isn + 1) | 0, -1)).toBe(true);
    expect(check(start + 2 * COOKIE_PERIOD_US, (c.isn + 1) | 0, -1)).toBe(false);
    expect(check(start + 300 * COOKIE_PERIOD_US, (c.isn + 1) | 0, -1)).toBe(false);
  });

  test("cookies from the future are rejected", () => {
    const c = make(NOW + COOKIE_PERIOD_US, 1460, -1, false, false);
    expect(check(NOW, (c.isn + 1) | 0, -1)).toBe(false);
  });

  test("a cookie is bound to the 4-tuple, the peer ISN and the secret", () => {
    const c = make(NOW, 1460, -1, false, false);
    const ack = (c.isn + 1) | 0;
    expect(decodeCookie(SECRET, LIP, LPORT, RIP, RPORT + 1, PEER_ISN, ack, -1, NOW, dec)).toBe(false);
    expect(decodeCookie(SECRET, LIP, LPORT + 1, RIP, RPORT, PEER_ISN, ack, -1, NOW, dec)).toBe(false);
    expect(decodeCookie(SECRET, LIP, LPORT, RIP + 1, RPORT, PEER_ISN, ack, -1, NOW, dec)).toBe(false);
    expect(decodeCookie(SECRET, LIP + 1, LPORT, RIP, RPORT, PEER_ISN, ack, -1, NOW, dec)).toBe(false);
    expect(decodeCookie(SECRET, LIP, LPORT, RIP, RPORT, (PEER_ISN + 1) | 0, ack, -1, NOW, dec)).toBe(false);
    const other = new Uint32Array([0x11111111, 0x22222222, 0x33333333, 0x44444445]);
    expect(decodeCookie(other, LIP, LPORT, RIP, RPORT, PEER_ISN, ack, -1, NOW, dec)).toBe(false);
    expect(check(NOW, (ack + 1) | 0, -1)).toBe(false);
  });

  test("100,000 blind forgeries are all rejected", () => {
    let seed = 99;
    let accepted = 0;
    for (let i = 0; i < 100_000; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) | 0;
      if (check(NOW, seed, -1)) accepted++;
    }
    expect(accepted).toBe(0);
  });
});
