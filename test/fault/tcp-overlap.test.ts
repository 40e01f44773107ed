/**
 * Overlapping and conflicting retransmissions (issue 7): the receiver keeps the first copy
 * of every byte it holds, in order or out of order (RFC 9293 3.10.7.4 allows either copy;
 * we keep the first, as Linux does, so data once acknowledged or SACKed never changes),
 * and the stream the app reads is made of the first data.
 */
import { describe, expect, test } from "bun:test";
import { ACK, drain, established } from "../helpers/tcp-fixtures";

const td = new TextDecoder();

describe("overlapping and conflicting segments", () => {
  test("out-of-order data held, a conflicting copy of it ignored, then the gap filled: first copies win", () => {
    const k = established();
    const s0 = k.peer.seq;
    k.peer.send(ACK, "BBBBBBBBBB", {}, { seq: s0 + 10 });
    k.peer.send(ACK, "XXXXXXXXXX", {}, { seq: s0 + 10 });
    k.peer.send(ACK, "AAAAAAAAAA", {}, { seq: s0 });
    expect(td.decode(drain(k.h, k.c))).toBe("AAAAAAAAAABBBBBBBBBB");
  });

  test("a retransmission overlapping held data and extending it keeps the held bytes and adds the new ones", () => {
    const k = established();
    const s0 = k.peer.seq;
    k.peer.send(ACK, "BBBBBBBBBB", {}, { seq: s0 + 10 });
    k.peer.send(ACK, "AAAAAAAAAA", {}, { seq: s0 });
    k.peer.send(ACK, "YYYYYYYYYYYYYYYCCCCC", {}, { seq: s0 + 5 });
    k.peer.send(ACK, "ZZZZZ", {}, { seq: s0 });
    expect(td.decode(drain(k.h, k.c))).toBe("AAAAAAAAAABBBBBBBBBBCCCCC");
  });

  test("out of order, then the in-order segment: the stream is exact", () => {
    const k = established();
    const s0 = k.peer.seq;
    k.peer.send(ACK, "BBBBBBBBBB", {}, { seq: s0 + 10 });
    k.peer.send(ACK, "AAAAAAAAAA", {}, { seq: s0 });
    expect(td.decode(drain(k.h, k.c))).toBe("AAAAAAAAAABBBBBBBBBB");
  });

  test("two held out-of-order ranges with a conflicting copy spanning both and the gap between", () => {
    const k = established();
    const s0 = k.peer.seq;
    k.peer.send(ACK, "cccc", {}, { seq: s0 + 4 });
    k.peer.send(ACK, "eeee", {}, { seq: s0 + 12 });
    k.peer.send(ACK, "XXXXXXXXXXXXXXXX", {}, { seq: s0 + 4 });
    k.peer.send(ACK, "aaaa", {}, { seq: s0 });
    expect(td.decode(drain(k.h, k.c))).toBe("aaaaccccXXXXeeeeXXXX");
  });
});
