/** RACK-TLP (RFC 8985, src/tcp/rack.ts): one behaviour per test, explicit times. */
import { describe, expect, test } from "bun:test";
import { ACK, established, pattern } from "../../helpers/tcp-fixtures";

function inFlight(n: number) {
  const k = established({ peerOpts: { mss: 1460, wscale: 7, sackOk: true } });
  const mss = k.h.tcp.mss(k.c);
  // An RTT sample of 10 ms first, so SRTT is known (PTO = 2 * SRTT, reo_wnd = SRTT / 4).
  k.h.tcp.send(k.c, pattern(mss), 0, mss);
  k.h.flush();
  const first = k.h.tx.take();
  k.h.advance(10_000);
  k.peer.ackAll(first);
  k.peer.send(ACK);
  k.h.tcp.send(k.c, pattern(n * mss), 0, n * mss);
  k.h.flush();
  const segs = k.h.tx.take();
  return { ...k, segs, mss };
}

describe("RFC 8985 7 tail loss probe", () => {
  test("with no ACK the probe timer fires at max(2 * SRTT, 10 ms) (not the RTO) and retransmits the last segment, and the first (deviation)", () => {
    const k = inFlight(4);
    const srtt = k.h.tcp.srttUs(k.c);
    expect(srtt).toBeGreaterThan(0);
    const t0 = k.h.now;
    k.h.runToNextTimer();
    expect(k.h.now - t0).toBeLessThanOrEqual(Math.max(2 * srtt, 10_000) + 1000);
    expect(k.h.now - t0).toBeLessThan(k.h.tcp.rtoUs(k.c));
    const p = k.h.tx.take();
    expect(p.map((x) => x.seq)).toEqual([k.segs[3]!.seq, k.segs[0]!.seq]);
    expect(k.h.tcp.counters.tlpProbes).toBe(1);
    expect(k.h.tcp.counters.rtoTimeouts).toBe(0);
    // After the probe the RTO runs (one probe per flight).
    const t1 = k.h.now;
    k.h.runToNextTimer();
    expect(k.h.tcp.counters.rtoTimeouts).toBe(1);
    expect(k.h.now - t1).toBeGreaterThanOrEqual(k.h.tcp.rtoUs(k.c) / 2 - 1000);
  });
});

describe("RFC 8985 7.2 one segment in flight: PTO += WCDelAckT (200 ms)", () => {
  /** One small segment in flight on a connection with SRTT known (10 ms). */
  function oneSegment() {
    const k = inFlight(0);
    k.h.tcp.send(k.c, pattern(200), 0, 200);
    k.h.flush();
    const seg = k.h.tx.take();
    expect(seg.length).toBe(1);
    return { ...k, seg: seg[0]! };
  }

  test("an ACK 60 ms late (a peer's 40 ms delayed ACK plus a busy host) draws no probe", () => {
    const k = oneSegment();
    k.h.advance(60_000);
    expect(k.h.tx.take().length).toBe(0);
    expect(k.h.tcp.counters.tlpProbes).toBe(0);
    k.peer.ackAll([k.seg]);
    k.peer.send(ACK);
    expect(k.h.tcp.counters.tlpProbes).toBe(0);
    expect(k.h.tcp.counters.retransmits).toBe(0);
  });

  test("with no ACK the lone segment is probed once, no earlier than 200 ms and no later than the RTO", () => {
    const k = oneSegment();
    const t0 = k.h.now;
    k.h.runToNextTimer();
    expect(k.h.now - t0).toBeGreaterThanOrEqual(200_000 - 1000);
    expect(k.h.now - t0).toBeLessThanOrEqual(k.h.tcp.rtoUs(k.c) + 1000);
    const p = k.h.tx.take();
    expect(p.map((x) => x.seq)).toEqual([k.seg.seq]);
    expect(k.h.tcp.counters.tlpProbes + k.h.tcp.counters.rtoTimeouts).toBe(1);
  });
});

describe("RFC 8985 6.2 RACK time-based loss detection", () => {
  test("one SACK above a hole (fewer than DupThresh) starts recovery once the reordering window passed", () => {
    const k = inFlight(3);
    const s = k.segs;
    const end = (i: number) => (s[i]!.seq + s[i]!.payload.length) | 0;
    k.peer.ack = s[0]!.seq;
    // Segment 0 lost; 1 arrives: one duplicate ACK only, RFC 6675 alone would wait for the RTO.
    k.peer.send(ACK, undefined, { sack: [[s[1]!.seq, end(1)]] });
    expect(k.h.tx.take().filter((x) => x.seq === s[0]!.seq).length).toBe(0);
    // A reordering window (SRTT / 4) later, segment 2's SACK arrives: 0 is lost by time.
    k.h.advance(k.h.tcp.srttUs(k.c));
    k.peer.send(ACK, undefined, { sack: [[s[1]!.seq, end(2)]] });
    const r = k.h.tx.take().filter((x) => x.seq === s[0]!.seq);
    expect(r.length).toBe(1);
    expect(k.h.tcp.counters.rtoTimeouts).toBe(0);
  });

  test("a lone SACK with no later ACK: the probe timer finds the loss and retransmits the hole, not the tail", () => {
    const k = inFlight(3);
    const s = k.segs;
    const end = (i: number) => (s[i]!.seq + s[i]!.payload.length) | 0;
    k.peer.ack = s[0]!.seq;
    k.peer.send(ACK, undefined, { sack: [[s[1]!.seq, end(2)]] });
    k.h.tx.take();
    k.h.runToNextTimer();
    const r = k.h.tx.take();
    expect(r.filter((x) => x.seq === s[0]!.seq).length).toBe(1);
    expect(k.h.tcp.counters.rackTimeoutLosses).toBe(1);
    expect(k.h.tcp.counters.rtoTimeouts).toBe(0);
  });

  test("the reordering timer (6.3): a lone SACK with no later ACK resends the hole one reordering window later, before the probe timeout", () => {
    const k = inFlight(3);
    const s = k.segs;
    const end = (i: number) => (s[i]!.seq + s[i]!.payload.length) | 0;
    const srtt = k.h.tcp.srttUs(k.c);
    k.peer.ack = s[0]!.seq;
    k.peer.send(ACK, undefined, { sack: [[s[1]!.seq, end(1)]] });
    expect(k.h.tx.take().length).toBe(0);
    const t0 = k.h.now;
    k.h.runToNextTimer();
    expect(k.h.tx.take().map((x) => x.seq)).toEqual([s[0]!.seq]);
    // reo_wnd = SRTT / 4 (one 1 ms wheel tick of rounding), well before PTO = 2 * SRTT.
    expect(k.h.now - t0).toBeGreaterThanOrEqual(srtt / 4);
    expect(k.h.now - t0).toBeLessThanOrEqual(srtt / 4 + 1000);
    expect(k.h.tcp.counters.tlpProbes).toBe(0);
    expect(k.h.tcp.counters.rtoTimeouts).toBe(0);
  });
});

describe("RFC 8985 6.2 lost retransmissions, 6.3 reordering timer and the probe in recovery", () => {
  /**
   * Segments 0..3 out, 0 lost, 1 and 2 SACKed (three duplicate ACKs): recovery; 0 is retransmitted
   * at once. With `extra`, that many new segments are queued before the third ACK, which SACKs 3 too
   * (so cwnd - pipe lets new data follow the retransmission).
   */
  function recovery(extra = 0) {
    const k = inFlight(4);
    const s = k.segs;
    const end = (i: number) => (s[i]!.seq + s[i]!.payload.length) | 0;
    k.peer.ack = s[0]!.seq;
    k.peer.send(ACK, undefined, { sack: [[s[1]!.seq, end(1)]] });
    k.peer.send(ACK, undefined, { sack: [[s[1]!.seq, end(2)]] });
    if (extra > 0) k.h.tcp.send(k.c, pattern(extra * k.mss), 0, extra * k.mss);
    k.peer.send(ACK, undefined, { sack: [[s[1]!.seq, end(extra > 0 ? 3 : 2)]] });
    const all = k.h.tx.take();
    const at = all.findIndex((x) => x.seq === s[0]!.seq);
    expect(at).toBeGreaterThanOrEqual(0);
    expect(k.h.tcp.counters.fastRetransmits).toBe(1);
    // What went out with and after the retransmission (limited transmit may send new data before it).
    return { ...k, end, out: all.slice(at), t0: k.h.now };
  }

  test("a retransmission is lost when data sent after it is SACKed and SRTT + reo_wnd passed; the timer finds it with no later ACK", () => {
    const k = recovery(4);
    const s = k.segs;
    // New data went out after the retransmission (cwnd - pipe allowed it).
    const fresh = k.out.slice(1).filter((x) => ((x.seq - k.end(3)) | 0) >= 0);
    expect(fresh.length).toBeGreaterThan(0);
    const n = fresh[0]!;
    // One RTT later that new segment is SACKed; segment 0's retransmission is not: too early to call it lost.
    k.h.advance(k.h.tcp.srttUs(k.c));
    k.peer.send(ACK, undefined, { sack: [[s[1]!.seq, k.end(3)], [n.seq, (n.seq + n.payload.length) | 0]] });
    expect(k.h.tx.take().filter((x) => x.seq === s[0]!.seq).length).toBe(0);
    expect(k.h.tcp.counters.rackLostRetransmits).toBe(0);
    // No further ACK: the reordering timer fires at retransmission + SRTT + SRTT / 4 and resends it.
    k.h.runToNextTimer();
    const srtt = k.h.tcp.srttUs(k.c);
    expect(k.h.now - k.t0).toBeGreaterThanOrEqual(srtt + (srtt >> 2));
    expect(k.h.now - k.t0).toBeLessThanOrEqual(srtt + (srtt >> 2) + 1000);
    expect(k.h.tx.take().filter((x) => x.seq === s[0]!.seq).length).toBe(1);
    expect(k.h.tcp.counters.rackLostRetransmits).toBe(1);
    expect(k.h.tcp.counters.rtoTimeouts).toBe(0);
  });

  test("recovery that cannot send probes at the probe timeout with the highest un-SACKed segment (rescue), not the RTO", () => {
    const k = recovery();
    const s = k.segs;
    // cwnd - pipe is below one segment (0 resent and 3 in flight): nothing more goes out.
    expect(k.out.length).toBe(1);
    let probe: number[] = [];
    for (let i = 0; i < 4 && probe.length === 0; i++) {
      k.h.runToNextTimer();
      probe = k.h.tx.take().map((x) => x.seq);
    }
    // The rescue, then the first hole again (deviation: one lost probe must not leave it to the RTO).
    expect(probe).toEqual([s[3]!.seq, s[0]!.seq]);
    expect(k.h.now - k.t0).toBeLessThan(k.h.tcp.rtoUs(k.c));
    expect(k.h.tcp.counters.tlpProbes).toBe(1);
    expect(k.h.tcp.counters.rtoTimeouts).toBe(0);
  });

  test("the probe's SACK shows the pass's retransmission lost: the hole is resent at once", () => {
    const k = recovery();
    const s = k.segs;
    for (let i = 0; i < 4 && k.h.tcp.counters.tlpProbes === 0; i++) k.h.runToNextTimer();
    k.h.tx.take();
    k.h.advance(k.h.tcp.srttUs(k.c));
    k.peer.send(ACK, undefined, { sack: [[s[1]!.seq, k.end(3)]] });
    expect(k.h.tx.take().filter((x) => x.seq === s[0]!.seq).length).toBe(1);
    expect(k.h.tcp.counters.rackLostRetransmits).toBe(1);
    expect(k.h.tcp.counters.rtoTimeouts).toBe(0);
  });

  test("one probe per flight in recovery: with no answer the RTO fires next", () => {
    const k = recovery();
    for (let i = 0; i < 4 && k.h.tcp.counters.tlpProbes === 0; i++) k.h.runToNextTimer();
    k.h.tx.take();
    const t1 = k.h.now;
    k.h.runToNextTimer();
    expect(k.h.tcp.counters.tlpProbes).toBe(1);
    expect(k.h.tcp.counters.rtoTimeouts).toBe(1);
    expect(k.h.now - t1).toBeGreaterThanOrEqual(k.h.tcp.rtoUs(k.c) / 2 - 1000);
  });
});

describe("after an RTO (RTO recovery): a probe, and lost retransmissions found by RACK (deviations, rack.ts)", () => {
  /** Recovery as above, its retransmission and probe lost, then the RTO: the go-back resends 0 (cwnd 1 segment). */
  function afterRto(extra: number) {
    const k = inFlight(4);
    const s = k.segs;
    const end = (i: number) => (s[i]!.seq + s[i]!.payload.length) | 0;
    k.peer.ack = s[0]!.seq;
    k.peer.send(ACK, undefined, { sack: [[s[1]!.seq, end(1)]] });
    k.peer.send(ACK, undefined, { sack: [[s[1]!.seq, end(2)]] });
    k.peer.send(ACK, undefined, { sack: [[s[1]!.seq, end(2)]] });
    if (extra > 0) k.h.tcp.send(k.c, pattern(extra * k.mss), 0, extra * k.mss);
    for (let i = 0; i < 6 && k.h.tcp.counters.rtoTimeouts === 0; i++) {
      k.h.tx.take();
      k.h.runToNextTimer();
    }
    expect(k.h.tcp.counters.rtoTimeouts).toBe(1);
    const goBack = k.h.tx.take();
    expect(goBack.map((x) => x.seq)).toEqual([s[0]!.seq]);
    return { ...k, end, tRto: k.h.now };
  }

  test("the go-back's retransmission unanswered: the probe timeout resends it, before the backed-off RTO", () => {
    const k = afterRto(0);
    const probes = k.h.tcp.counters.tlpProbes;
    k.h.runToNextTimer();
    expect(k.h.tx.take().map((x) => x.seq)).toEqual([k.segs[0]!.seq]);
    expect(k.h.tcp.counters.tlpProbes).toBe(probes + 1);
    expect(k.h.tcp.counters.rtoTimeouts).toBe(1);
    expect(k.h.now - k.tRto).toBeLessThanOrEqual(Math.max(2 * k.h.tcp.srttUs(k.c), 10_000) + 1000);
  });

  test("data the go-back sent after a hole's retransmission is SACKed: SRTT + reo_wnd later the hole is resent, no second RTO", () => {
    const k = afterRto(2);
    const s = k.segs;
    const srtt = k.h.tcp.srttUs(k.c);
    // Segment 0 arrives: the ACK covers 0-2; the go-back goes on with hole 3 and then new data.
    k.h.advance(srtt >> 1);
    k.peer.ack = k.end(2);
    k.peer.send(ACK);
    const t1 = k.h.now;
    const out = k.h.tx.take();
    expect(out[0]!.seq).toBe(s[3]!.seq);
    const later = out.find((x) => ((x.seq - k.end(3)) | 0) >= 0);
    expect(later).toBeDefined();
    // 3's retransmission is lost; the new segment sent after it is SACKed one RTT later: too early to call 3 lost.
    k.h.advance(srtt);
    k.peer.send(ACK, undefined, { sack: [[later!.seq, (later!.seq + later!.payload.length) | 0]] });
    expect(k.h.tx.take().filter((x) => x.seq === s[3]!.seq).length).toBe(0);
    k.h.runToNextTimer();
    expect(k.h.tx.take().filter((x) => x.seq === s[3]!.seq).length).toBe(1);
    expect(k.h.now - t1).toBeGreaterThanOrEqual(srtt + (srtt >> 2));
    expect(k.h.now - t1).toBeLessThanOrEqual(srtt + (srtt >> 2) + 1000);
    expect(k.h.tcp.counters.rackLostRetransmits).toBe(1);
    expect(k.h.tcp.counters.rtoTimeouts).toBe(1);
  });
});
