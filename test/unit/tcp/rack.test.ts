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
  test("with no ACK the probe timer fires at max(2 * SRTT, 10 ms) (not the RTO) and retransmits the last segment", () => {
    const k = inFlight(4);
    const srtt = k.h.tcp.srttUs(k.c);
    expect(srtt).toBeGreaterThan(0);
    const t0 = k.h.now;
    k.h.runToNextTimer();
    expect(k.h.now - t0).toBeLessThanOrEqual(Math.max(2 * srtt, 10_000) + 1000);
    expect(k.h.now - t0).toBeLessThan(k.h.tcp.rtoUs(k.c));
    const p = k.h.tx.take();
    expect(p.length).toBe(1);
    expect(p[0]!.seq).toBe(k.segs[3]!.seq);
    expect(k.h.tcp.counters.tlpProbes).toBe(1);
    expect(k.h.tcp.counters.rtoTimeouts).toBe(0);
    // After the probe the RTO runs (one probe per flight).
    const t1 = k.h.now;
    k.h.runToNextTimer();
    expect(k.h.tcp.counters.rtoTimeouts).toBe(1);
    expect(k.h.now - t1).toBeGreaterThanOrEqual(k.h.tcp.rtoUs(k.c) / 2 - 1000);
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

});
