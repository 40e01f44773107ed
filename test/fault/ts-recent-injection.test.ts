/**
 * Blind injection against TS.Recent (found by the receive-path fuzz test): a
 * segment that RFC 5961 says to drop (a SYN in window, 4.2; an ACK beyond
 * SND.NXT, 5.2) must not move TS.Recent (RFC 7323 4.3). If it did, a spoofed
 * TSval far ahead would make PAWS reject every real segment afterwards and
 * freeze the connection. Linux updates ts_recent only once the ACK is accepted.
 */
import { describe, expect, test } from "bun:test";
import { ACK, drain, established, SYN } from "../helpers/tcp-fixtures";

const FAR = 0x30000000;

describe("TS.Recent is not moved by segments RFC 5961 drops", () => {
  test("a SYN at RCV.NXT with a TSval far ahead: challenge ACK, data still flows", () => {
    const k = established();
    const before = k.h.tcp.counters.challengeAcks;
    k.peer.send(SYN | ACK, undefined, { ts: [(k.peer.ts + FAR) | 0, 0] }, { seq: k.peer.seq });
    expect(k.h.tcp.counters.challengeAcks).toBe(before + 1);
    k.peer.send(ACK, "after");
    expect(k.h.tcp.counters.pawsRejected).toBe(0);
    expect(new TextDecoder().decode(drain(k.h, k.c))).toBe("after");
  });

  test("an ACK beyond SND.NXT with a TSval far ahead: dropped, data still flows", () => {
    const k = established();
    k.peer.send(ACK, undefined, { ts: [(k.peer.ts + FAR) | 0, 0] }, { seq: k.peer.seq, ack: (k.peer.ack + 0x100000) | 0 });
    expect(k.h.tcp.counters.ackTooNew).toBe(1);
    k.peer.send(ACK, "after");
    expect(k.h.tcp.counters.pawsRejected).toBe(0);
    expect(new TextDecoder().decode(drain(k.h, k.c))).toBe("after");
  });

  test("a valid segment still advances TS.Recent (PAWS keeps working)", () => {
    const k = established();
    k.peer.send(ACK, "new", { ts: [k.peer.ts + 10, 0] });
    k.peer.send(ACK, "old", { ts: [k.peer.ts - 50, 0] });
    expect(k.h.tcp.counters.pawsRejected).toBe(1);
    expect(new TextDecoder().decode(drain(k.h, k.c))).toBe("new");
  });
});
