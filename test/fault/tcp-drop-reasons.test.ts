/**
 * TCP segments dropped for a reason that used to go uncounted each move exactly one
 * named counter, and every segment ends in one outcome:
 * segsIn == segsAccepted + segmentDrops() (src/tcp/counters.ts).
 */
import { describe, expect, test } from "bun:test";
import { SEGMENT_DROP_REASONS, type TcpCounters } from "../../src/tcp/counters";
import { TcpState } from "../../src/tcp/state";
import { ACK, established, FIN, Harness, listening, Peer, RST, SYN, synSent } from "../helpers/tcp-fixtures";

function snap(c: TcpCounters): Record<string, number> {
  return { ...(c as unknown as Record<string, number>) };
}

/** The counters that moved, minus segsIn, rstsSent/segsOut and the like (transmit side). */
function moved(before: Record<string, number>, c: TcpCounters): Record<string, number> {
  const now = c as unknown as Record<string, number>;
  const out: Record<string, number> = {};
  for (const k of Object.keys(before)) {
    if (k === "segsIn" || k === "segsOut" || k === "rstsSent" || k === "bytesIn" || k === "challengeAcks") continue;
    if (now[k] !== before[k]) out[k] = now[k]! - before[k]!;
  }
  return out;
}

function balanced(c: TcpCounters): void {
  expect(c.segsAccepted + c.segmentDrops()).toBe(c.segsIn);
}

describe("TCP drops by named reason", () => {
  test("RFC 9293 3.10.7.4: a segment without ACK in ESTABLISHED -> noAckInSynchronized, connection unchanged", () => {
    const k = established();
    const c = k.h.tcp.counters;
    const b = snap(c);
    k.peer.send(0, "data");
    expect(moved(b, c)).toEqual({ noAckInSynchronized: 1 });
    expect(k.h.tcp.state(k.c)).toBe(TcpState.Established);
    expect(k.h.tx.sent.length).toBe(0);
    balanced(c);
  });

  test("RFC 9293 3.10.7.3: neither SYN nor RST in SYN-SENT -> nonSynInSynSent", () => {
    const k = synSent();
    const syn = k.h.tx.take()[0]!;
    const c = k.h.tcp.counters;
    const b = snap(c);
    k.peer.ack = (syn.seq + 1) | 0;
    k.peer.send(ACK, "x");
    expect(moved(b, c)).toEqual({ nonSynInSynSent: 1 });
    expect(k.h.tcp.state(k.c)).toBe(TcpState.SynSent);
    balanced(c);
  });

  test("RFC 9293 3.10.7.3: RST without ACK in SYN-SENT -> rstWithoutAckInSynSent, still SYN-SENT", () => {
    const k = synSent();
    const c = k.h.tcp.counters;
    const b = snap(c);
    k.peer.send(RST, undefined, {}, { seq: 0 });
    expect(moved(b, c)).toEqual({ rstWithoutAckInSynSent: 1 });
    expect(k.h.tcp.state(k.c)).toBe(TcpState.SynSent);
    balanced(c);
  });

  test("RFC 9293 3.10.7.2: RST, a bare segment and a stray ACK at a listener -> rstInListen, nonSynInListen, ackInListen", () => {
    const h = new Harness({ synCookies: true });
    listening(h);
    const p = new Peer(h);
    const c = h.tcp.counters;
    let b = snap(c);
    p.send(RST);
    expect(moved(b, c)).toEqual({ rstInListen: 1 });
    b = snap(c);
    p.send(FIN, "hello");
    expect(moved(b, c)).toEqual({ nonSynInListen: 1 });
    expect(h.tx.sent.length).toBe(0);
    b = snap(c);
    p.send(ACK, undefined, {}, { ack: 12345 });
    // Not a valid cookie: rejected, answered with RST.
    expect(moved(b, c)).toEqual({ ackInListen: 1, synCookiesRejected: 1 });
    expect(h.tx.last().flags & RST).toBe(RST);
    balanced(c);
  });

  test("RFC 5961 3.2 / 4.2: in-window RST off RCV.NXT and a SYN in ESTABLISHED -> rstNotExact, synInSynchronized", () => {
    const k = established();
    const c = k.h.tcp.counters;
    let b = snap(c);
    k.peer.send(RST, undefined, {}, { seq: (k.peer.seq + 100) | 0 });
    expect(moved(b, c)).toEqual({ rstNotExact: 1 });
    b = snap(c);
    k.peer.send(SYN, undefined, {}, { seq: (k.peer.seq + 100) | 0 });
    expect(moved(b, c)).toEqual({ synInSynchronized: 1 });
    expect(k.h.tcp.state(k.c)).toBe(TcpState.Established);
    balanced(c);
  });

  test("a full exchange balances: handshake, data, close", () => {
    const k = established();
    k.peer.send(ACK, "abc");
    k.peer.send(FIN | ACK);
    const c = k.h.tcp.counters;
    expect(c.segsAccepted).toBeGreaterThanOrEqual(4);
    expect(c.segmentDrops()).toBe(0);
    balanced(c);
  });

  test("every drop reason is a counter field", () => {
    const c = new Harness().tcp.counters as unknown as Record<string, unknown>;
    for (const k of SEGMENT_DROP_REASONS) expect(typeof c[k]).toBe("number");
  });
});
