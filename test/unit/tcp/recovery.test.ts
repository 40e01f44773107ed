import { describe, expect, test } from "bun:test";
import { ETIMEDOUT } from "../../../src/tcp/errno";
import { TcpEvent } from "../../../src/tcp/events";
import { TcpState } from "../../../src/tcp/state";
import { ACK, established, pattern, type Sent } from "../../helpers/tcp-fixtures";

const MSS = 1448;

/** Established with `n` full segments sent and captured. */
function inFlight(n: number, opts: Parameters<typeof established>[0] = {}) {
  const k = established({ peerOpts: { mss: 1460, wscale: 7, sackOk: true }, ...opts });
  const mss = k.h.tcp.mss(k.c);
  k.h.tcp.send(k.c, pattern(n * mss), 0, n * mss);
  k.h.flush();
  const segs = k.h.tx.take();
  return { ...k, segs, mss };
}

describe("RFC 6298 retransmission timer", () => {
  test("RTO fires after max(SRTT + 4 RTTVAR, minRto), retransmits the first segment, and backs off (5.5)", () => {
    // Without SACK: no tail loss probe (RFC 8985 7 needs SACK; rack.test.ts), the RTO alone.
    const k = inFlight(2, { cfg: { sack: false } });
    // The handshake took no time: SRTT 0, so RTO = minRtoUs = 200 ms.
    const t0 = k.h.now;
    k.h.runToNextTimer();
    const r1 = k.h.tx.take();
    expect(r1.length).toBe(1);
    expect(r1[0]!.seq).toBe(k.segs[0]!.seq);
    expect(k.h.now - t0).toBeGreaterThanOrEqual(200_000);
    expect(k.h.now - t0).toBeLessThan(202_000);
    const t1 = k.h.now;
    k.h.runToNextTimer();
    expect(k.h.now - t1).toBeGreaterThanOrEqual(400_000);
    expect(k.h.now - t1).toBeLessThan(402_000);
    expect(k.h.tcp.counters.rtoTimeouts).toBe(2);
    // RFC 5681 (4): cwnd is one segment after a timeout.
    expect(k.h.tcp.cwnd(k.c)).toBe(k.mss);
  });

  test("RTT samples follow (2.2)/(2.3); RTO is floored at minRtoUs (2.4)", () => {
    const k = inFlight(1, { cfg: { minRtoUs: 20_000 } });
    // First sample (the handshake) R = 0: SRTT 0, RTTVAR 0. Second R' = 10 ms:
    // RTTVAR = 3/4 * 0 + 1/4 * 10000 = 2500, SRTT = 7/8 * 0 + 1/8 * 10000 = 1250.
    k.h.advance(10_000);
    k.peer.ackAll(k.segs);
    k.peer.send(ACK);
    expect(k.h.tcp.srttUs(k.c)).toBe(1250);
    expect(k.h.tcp.rtt.rttvarUs(k.c)).toBe(2500);
    expect(1250 + 4 * 2500).toBeLessThan(20_000);
    expect(k.h.tcp.rtoUs(k.c)).toBe(20_000);
    const k2 = inFlight(1);
    expect(k2.h.tcp.rtoUs(k2.c)).toBe(200_000);
  });

  test("Karn: the ACK of a retransmitted segment gives no timed sample and keeps the backoff", () => {
    const k = inFlight(1, { useTs: false });
    k.h.runToNextTimer(); // RTO: retransmit, backoff 1
    const rtoBacked = k.h.tcp.rtoUs(k.c);
    k.h.advance(5_000);
    k.peer.ackAll(k.segs);
    k.peer.send(ACK);
    expect(k.h.tcp.srttUs(k.c)).toBe(0); // no sample: still none
    expect(k.h.tcp.rtoUs(k.c)).toBe(rtoBacked);
    // New data is timed and its ACK clears the backoff.
    k.h.tcp.send(k.c, pattern(100), 0, 100);
    k.h.flush();
    const s = k.h.tx.take();
    k.h.advance(3_000);
    k.peer.ackAll(s);
    k.peer.send(ACK);
    expect(k.h.tcp.srttUs(k.c)).toBeGreaterThan(0);
    expect(k.h.tcp.rtoUs(k.c)).toBe(200_000);
  });

  test("the timer is stopped when everything is acknowledged (5.2)", () => {
    const k = inFlight(1);
    k.peer.ackAll(k.segs);
    k.peer.send(ACK);
    expect(k.h.tcp.pollAt()).toBe(Number.POSITIVE_INFINITY);
  });

  test("after dataRetries timeouts the connection fails with ETIMEDOUT and an RST", () => {
    const k = inFlight(1, { cfg: { dataRetries: 3 } });
    for (let i = 0; i < 10 && k.h.tcp.state(k.c) !== TcpState.Closed; i++) k.h.runToNextTimer();
    expect(k.h.tcp.state(k.c)).toBe(TcpState.Closed);
    expect(k.h.ev.of(TcpEvent.Closed)[0]!.arg).toBe(-ETIMEDOUT);
    expect(k.h.tx.sent.some((s) => (s.flags & 0x04) !== 0)).toBe(true);
  });
});

describe("RFC 5681 / RFC 6582 fast retransmit and NewReno", () => {
  function dupAcks(k: ReturnType<typeof inFlight>, n: number, sack?: [number, number][]): void {
    for (let i = 0; i < n; i++) k.peer.send(ACK, undefined, sack ? { sack: [sack[Math.min(i, sack.length - 1)]!] } : {});
  }

  test("three duplicate ACKs trigger one fast retransmit of SND.UNA (no SACK)", () => {
    const k = inFlight(6, { peerOpts: { mss: 1460 }, cfg: { cc: "newreno" } });
    k.peer.ack = k.segs[0]!.seq; // nothing acknowledged
    dupAcks(k, 2);
    // RFC 3042: each of the first two dup ACKs may release one new segment (none queued here).
    expect(k.h.tx.take().filter((s: Sent) => s.seq === k.segs[0]!.seq).length).toBe(0);
    dupAcks(k, 1);
    const r = k.h.tx.take();
    expect(r.length).toBe(1);
    expect(r[0]!.seq).toBe(k.segs[0]!.seq);
    expect(k.h.tcp.counters.fastRetransmits).toBe(1);
    // ssthresh = FlightSize / 2
    expect(k.h.tcp.cc.ssthresh(k.c)).toBe(3 * k.mss);
  });

  test("RFC 5827: with one segment outstanding a duplicate ACK (a late delayed ACK) is no loss signal", () => {
    // Request/response traffic: one small request out, the peer's pure ACK for older data arrives.
    const k = established({ peerOpts: { mss: 1460, wscale: 7, sackOk: true } });
    k.h.tcp.send(k.c, pattern(64), 0, 64);
    k.h.flush();
    const segs = k.h.tx.take();
    expect(segs.length).toBe(1);
    k.peer.ack = segs[0]!.seq;
    dupAcks(k as unknown as ReturnType<typeof inFlight>, 2);
    expect(k.h.tx.take().length).toBe(0);
    expect(k.h.tcp.counters.fastRetransmits).toBe(0);
  });

  test("RFC 5827: with two segments out and SACK, one SACKed duplicate ACK retransmits the first", () => {
    const k = inFlight(2);
    k.peer.ack = k.segs[0]!.seq;
    const s1 = k.segs[1]!;
    dupAcks(k, 1, [[s1.seq, (s1.seq + s1.payload.length) | 0]]);
    const r = k.h.tx.take();
    expect(r.some((s: Sent) => s.seq === k.segs[0]!.seq)).toBe(true);
  });

  test("NewReno: a partial ACK retransmits the next hole at once (RFC 6582 3.2 step 5)", () => {
    const k = inFlight(6, { peerOpts: { mss: 1460 } });
    k.peer.ack = k.segs[0]!.seq;
    dupAcks(k, 3);
    k.h.tx.take();
    // Segments 0 and 3 were lost: the retransmission of 0 fills up to 3.
    k.peer.ack = k.segs[3]!.seq;
    k.peer.send(ACK);
    const r = k.h.tx.take();
    expect(r.some((s) => s.seq === k.segs[3]!.seq)).toBe(true);
    expect(k.h.tcp.counters.partialAcks).toBe(1);
    // The full ACK ends recovery: cwnd = ssthresh.
    k.peer.ackAll(k.segs);
    k.peer.send(ACK);
    expect(k.h.tcp.cwnd(k.c)).toBe(k.h.tcp.cc.ssthresh(k.c));
  });

  test("limited transmit sends new data on the first two duplicate ACKs (RFC 3042)", () => {
    const k = inFlight(10, { peerOpts: { mss: 1460 } });
    k.h.tcp.send(k.c, pattern(10 * k.mss), 0, 10 * k.mss);
    k.h.flush();
    k.h.tx.take();
    k.peer.ack = k.segs[0]!.seq;
    dupAcks(k, 2);
    const s = k.h.tx.take();
    expect(s.length).toBe(2);
    expect(s[0]!.seq).toBe((k.segs[9]!.seq + k.mss) | 0);
  });
});

describe("RFC 6675 SACK-based recovery", () => {
  test("SACK blocks above a hole trigger a retransmission of exactly the hole", () => {
    const k = inFlight(8);
    const s = k.segs;
    k.peer.ack = s[0]!.seq;
    const end = (i: number) => (s[i]!.seq + s[i]!.payload.length) | 0;
    k.peer.send(ACK, undefined, { sack: [[s[1]!.seq, end(1)]] });
    k.peer.send(ACK, undefined, { sack: [[s[1]!.seq, end(2)]] });
    k.peer.send(ACK, undefined, { sack: [[s[1]!.seq, end(3)]] });
    const r = k.h.tx.take().filter((x) => x.seq === s[0]!.seq);
    expect(r.length).toBe(1);
    expect(k.h.tcp.counters.sackRecoveries).toBe(1);
  });

  test("two holes: after the first is repaired the second is resent without waiting for an RTO", () => {
    const k = inFlight(10);
    const s = k.segs;
    const end = (i: number) => (s[i]!.seq + s[i]!.payload.length) | 0;
    k.peer.ack = s[0]!.seq;
    // 0 and 4 lost; 1-3 and 5-9 arrive.
    k.peer.send(ACK, undefined, { sack: [[s[1]!.seq, end(1)]] });
    k.peer.send(ACK, undefined, { sack: [[s[1]!.seq, end(2)]] });
    k.peer.send(ACK, undefined, { sack: [[s[1]!.seq, end(3)]] });
    for (let i = 5; i < 10; i++) k.peer.send(ACK, undefined, { sack: [[s[5]!.seq, end(i)], [s[1]!.seq, end(3)]] });
    const r = k.h.tx.take();
    expect(r.some((x) => x.seq === s[0]!.seq)).toBe(true);
    expect(r.some((x) => x.seq === s[4]!.seq)).toBe(true);
    expect(k.h.tcp.counters.rtoTimeouts).toBe(0);
    // never resend what was SACKed
    expect(r.some((x) => x.seq === s[2]!.seq || x.seq === s[6]!.seq)).toBe(false);
  });

  /**
   * Ten segments out; 0, 3, 4 and 7 lost; the receiver holds 1-2, 5-6 and 8-9 and says so; the fast
   * retransmissions are lost too, so the RTO fires. Then a receiver that ACKs and SACKs what it holds
   * answers every segment. Returns the segment indices sent after the RTO, in order.
   */
  /** Run timers until the RTO fires; what goes out before it (a recovery probe, rack.ts) is lost. */
  function runToRto(k: ReturnType<typeof inFlight>): void {
    const before = k.h.tcp.counters.rtoTimeouts;
    for (let i = 0; i < 4 && k.h.tcp.counters.rtoTimeouts === before; i++) {
      k.h.tx.take();
      k.h.runToNextTimer();
    }
  }

  function holesThenRto(sackAfterRto: boolean): { resent: number[]; k: ReturnType<typeof inFlight> } {
    const k = inFlight(10, { cfg: { sackAfterRto } });
    const s = k.segs;
    expect(s.length).toBe(10);
    const have = [false, true, true, false, false, true, true, false, true, true];
    const end = (i: number) => (s[i]!.seq + s[i]!.payload.length) | 0;
    const reply = (): void => {
      let first = have.indexOf(false);
      if (first < 0) first = 10;
      const blocks: [number, number][] = [];
      for (let i = first; i < 10; i++) {
        if (!have[i] || (i > 0 && have[i - 1] && i !== first)) continue;
        let j = i;
        while (j + 1 < 10 && have[j + 1]) j++;
        blocks.push([s[i]!.seq, end(j)]);
      }
      k.peer.ack = first < 10 ? s[first]!.seq : end(9);
      k.peer.send(ACK, undefined, blocks.length > 0 ? { sack: blocks.slice(0, 3) } : {});
    };
    reply();
    reply();
    reply();
    k.h.tx.take(); // the fast retransmissions: lost
    const rtoBefore = k.h.tcp.counters.rtoTimeouts;
    runToRto(k);
    expect(k.h.tcp.counters.rtoTimeouts).toBe(rtoBefore + 1);
    const resent: number[] = [];
    for (let round = 0; round < 20 && have.includes(false); round++) {
      const out = k.h.tx.take().filter((x) => x.payload.length > 0);
      if (out.length === 0) {
        k.h.runToNextTimer();
        continue;
      }
      for (const x of out) {
        const i = s.findIndex((y) => y.seq === x.seq);
        resent.push(i);
        if (i >= 0) have[i] = true;
        reply();
      }
    }
    expect(have.includes(false)).toBe(false);
    return { resent, k };
  }

  test("after an RTO the scoreboard is kept: only the holes are resent, in order (RFC 6675 5.1)", () => {
    const { resent, k } = holesThenRto(true);
    expect(resent).toEqual([0, 3, 4, 7]);
    expect(k.h.tcp.counters.rtoTimeouts).toBe(1);
    expect(k.h.tcp.counters.rtoSackKept).toBe(1);
  });

  test("with sackAfterRto off the RTO goes back N and resends SACKed segments too (RFC 2018 8)", () => {
    const { resent } = holesThenRto(false);
    expect(resent.some((i) => i === 8 || i === 9)).toBe(true);
  });

  test("a receiver that reneged (its ACK stops at the left edge of a SACKed range) makes the RTO forget the scoreboard", () => {
    const k = inFlight(4);
    const s = k.segs;
    const end = (i: number) => (s[i]!.seq + s[i]!.payload.length) | 0;
    k.peer.ack = s[0]!.seq;
    k.peer.send(ACK, undefined, { sack: [[s[1]!.seq, end(3)]] });
    k.peer.send(ACK, undefined, { sack: [[s[1]!.seq, end(3)]] });
    k.h.tx.take();
    // The ACK covers segment 0 and stops where the SACKed data starts: the receiver dropped it.
    k.peer.ack = s[1]!.seq;
    k.peer.send(ACK);
    k.h.tx.take();
    expect(k.h.tcp.sack.isSacked(k.c, s[1]!.seq)).toBe(true);
    runToRto(k);
    expect(k.h.tcp.counters.rtoTimeouts).toBe(1);
    expect(k.h.tcp.counters.rtoSackKept).toBe(0);
    expect(k.h.tcp.sack.count(k.c)).toBe(0);
    const r = k.h.tx.take();
    expect(r[0]!.seq).toBe(s[1]!.seq); // the "SACKed" segment is resent
  });

  test("in SACK recovery new data is bounded by cwnd - pipe, not SND.UNA + cwnd (RFC 6675 5 (C) rule 2)", () => {
    const k = inFlight(10);
    const s = k.segs;
    const end = (i: number) => (s[i]!.seq + s[i]!.payload.length) | 0;
    k.h.tcp.send(k.c, pattern(20 * k.mss), 0, 20 * k.mss);
    k.peer.ack = s[0]!.seq;
    // Segment 0 lost, 1-9 arrive: recovery; pipe is about one segment while the flight is ten.
    for (let i = 1; i < 10; i++) k.peer.send(ACK, undefined, { sack: [[s[1]!.seq, end(i)]] });
    const out = k.h.tx.take();
    expect(out.some((x) => x.seq === s[0]!.seq)).toBe(true);
    const fresh = out.filter((x) => ((x.seq - end(9)) | 0) >= 0);
    expect(fresh.length).toBeGreaterThan(0);
  });
});
