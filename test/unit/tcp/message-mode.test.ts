/**
 * Message mode (src/tcp/message-mode.ts), in virtual time against a scripted
 * peer: express delivery order, the byte-stream default, send-ahead.
 */
import { describe, expect, test } from "bun:test";
import { NO_RX_CLASS } from "../../../src/tcp/priority";
import { ACK, type Conn, established, PSH, type Sent } from "../../helpers/tcp-fixtures";

const dec = new TextDecoder();

function recvStr(k: Conn, max = 65536): string {
  const buf = new Uint8Array(max);
  const n = k.h.tcp.recv(k.c, buf, 0, max);
  return n > 0 ? dec.decode(buf.subarray(0, n)) : `<${n}>`;
}

/** The peer sends `text` as one segment classified `cls` by the stack (NO_RX_CLASS = lowest). */
function arrive(k: Conn, text: string, cls: number, seq?: number): void {
  k.h.tcp.rxClass = cls;
  k.peer.send(ACK | PSH, text, {}, seq === undefined ? {} : { seq });
  k.h.tcp.rxClass = NO_RX_CLASS;
}

describe("message mode: receive", () => {
  test("byte-stream default: a high segment stays behind earlier low bytes", () => {
    const k = established();
    arrive(k, "low1", NO_RX_CLASS);
    arrive(k, "HIGH", 0);
    arrive(k, "low2", NO_RX_CLASS);
    expect(recvStr(k)).toBe("low1HIGHlow2");
    expect(k.h.tcp.lastRecvClass).toBe(-1);
  });

  test("a high segment is delivered before earlier low data still unread, one message per recv", () => {
    const k = established();
    k.h.tcp.setMessageMode(k.c, true);
    arrive(k, "low1", NO_RX_CLASS);
    arrive(k, "HIGH-A", 0);
    arrive(k, "low2", NO_RX_CLASS);
    arrive(k, "HIGH-B", 1);
    expect(k.h.tcp.recvAvailable(k.c)).toBe(20);
    expect(k.h.tcp.nextMessageBytes(k.c)).toBe(6);
    expect(recvStr(k)).toBe("HIGH-A");
    expect(k.h.tcp.lastRecvClass).toBe(0);
    expect(recvStr(k)).toBe("HIGH-B");
    expect(k.h.tcp.lastRecvClass).toBe(1);
    expect(recvStr(k)).toBe("low1low2");
    expect(k.h.tcp.lastRecvClass).toBe(-1);
    expect(recvStr(k)).toBe("<-11>"); // EAGAIN
  });

  test("every byte is acknowledged in sequence (express bytes are part of the stream's sequence space)", () => {
    const k = established();
    k.h.tcp.setMessageMode(k.c, true);
    const start = k.peer.seq;
    arrive(k, "low1", NO_RX_CLASS);
    arrive(k, "HIGH", 0);
    arrive(k, "low2", NO_RX_CLASS);
    k.h.runUntil(k.h.now + 100_000); // delayed ACK
    expect(k.h.tx.last().ack).toBe((start + 12) | 0);
  });

  test("express bytes count against the advertised window until read", () => {
    const k = established({ cfg: { rcvBufBytes: 2000, windowScaling: false } });
    k.h.tcp.setMessageMode(k.c, true);
    arrive(k, "x".repeat(1200), 0);
    k.h.runUntil(k.h.now + 100_000);
    const w1 = k.h.tx.last().wnd;
    expect(w1).toBeLessThanOrEqual(2000 - 1200);
    expect(recvStr(k).length).toBe(1200);
    k.h.runUntil(k.h.now + 100_000);
    expect(k.h.tx.last().wnd).toBeGreaterThan(w1);
  });

  test("a short destination takes the message's first bytes and drops the rest (datagram-like)", () => {
    const k = established();
    k.h.tcp.setMessageMode(k.c, true);
    arrive(k, "0123456789", 0);
    arrive(k, "tail", NO_RX_CLASS);
    expect(recvStr(k, 4)).toBe("0123");
    expect(recvStr(k)).toBe("tail");
  });

  test("a high segment that arrives out of order joins the byte stream", () => {
    const k = established();
    k.h.tcp.setMessageMode(k.c, true);
    const s0 = k.peer.seq;
    arrive(k, "HIGH", 0, (s0 + 4) | 0);
    k.peer.seq = s0;
    arrive(k, "low1", NO_RX_CLASS);
    expect(recvStr(k)).toBe("low1HIGH");
  });

  test("a full express store falls back to the stream; a reset frees the slots", () => {
    const k = established({ cfg: { expressSlots: 2 } });
    k.h.tcp.setMessageMode(k.c, true);
    arrive(k, "low", NO_RX_CLASS);
    arrive(k, "H1", 0);
    arrive(k, "H2", 0);
    arrive(k, "H3", 0);
    expect(k.h.tcp.messages().expressFull).toBe(1);
    expect(recvStr(k)).toBe("H1");
    expect(recvStr(k)).toBe("H2");
    expect(recvStr(k)).toBe("lowH3");
    arrive(k, "H4", 0);
    arrive(k, "H5", 0);
    k.h.tcp.abort(k.c);
    const k2 = established({ h: k.h, peerPort: 40001 });
    k2.h.tcp.setMessageMode(k2.c, true);
    arrive(k2, "M1", 0);
    arrive(k2, "M2", 0);
    expect(k.h.tcp.messages().expressFull).toBe(1);
    expect(recvStr(k2)).toBe("M1");
  });
});

/** Payload bytes the peer would reassemble from `sent` (in sequence order from `iss + 1`). */
function stream(sent: Sent[], iss: number): string {
  const bySeq = new Map<number, string>();
  for (const s of sent) if (s.payload.length > 0) bySeq.set((s.seq - iss - 1) | 0, dec.decode(s.payload));
  let out = "";
  for (;;) {
    const p = bySeq.get(out.length);
    if (p === undefined) return out;
    out += p;
  }
}

describe("message mode: send-ahead", () => {
  test("a send-ahead message goes out before unsent low data, alone in its segment and in its class", () => {
    const k = established({ cfg: { sndBufBytes: 65536 } });
    const h = k.h;
    const classes: number[] = [];
    const orig = h.tx.commit.bind(h.tx);
    h.tx.commit = (s: number, d: number, p: number, l: number, prio: number) => {
      classes.push(prio);
      orig(s, d, p, l, prio);
    };
    k.peer.wnd = 16; // x 128 (window scale 7): only part of the low data can go now
    k.peer.send(ACK);
    const low = "L".repeat(5000);
    expect(h.tcp.send(k.c, new TextEncoder().encode(low), 0, 5000)).toBe(5000);
    h.flush();
    const first = h.tx.sent.slice();
    const sentLow = first.reduce((n, s) => n + s.payload.length, 0);
    expect(sentLow).toBeLessThan(5000);
    expect(h.tcp.sendAhead(k.c, new TextEncoder().encode("HIGH-1"), 0, 6, 0)).toBe(6);
    expect(h.tcp.sendAhead(k.c, new TextEncoder().encode("HIGH-2"), 0, 6, 0)).toBe(6);
    k.peer.ackAll();
    k.peer.wnd = 512;
    k.peer.send(ACK);
    h.flush();
    const after = h.tx.sent.slice(first.length).filter((s) => s.payload.length > 0);
    const afterCls = classes.slice(first.length).filter((_, i) => h.tx.sent[first.length + i]!.payload.length > 0);
    expect(dec.decode(after[0]!.payload)).toBe("HIGH-1");
    expect(dec.decode(after[1]!.payload)).toBe("HIGH-2");
    expect(afterCls[0]).toBe(0);
    expect(afterCls[1]).toBe(0);
    expect(afterCls[2]).toBe(7);
    // The peer's byte stream: the low bytes already sent, both messages, then the rest of the low bytes.
    // Nagle holds the last small low segment until the messages are acknowledged.
    k.peer.ackAll();
    k.peer.send(ACK);
    h.flush();
    const got = stream(h.tx.sent, k.iss);
    const want = "L".repeat(sentLow) + "HIGH-1HIGH-2" + "L".repeat(5000 - sentLow);
    expect(got).toBe("L".repeat(sentLow) + "HIGH-1HIGH-2" + "L".repeat(5000 - sentLow));
  });

  test("with nothing unsent the message is appended and not held by Nagle", () => {
    const k = established();
    const h = k.h;
    h.tcp.send(k.c, new TextEncoder().encode("small"), 0, 5);
    h.flush();
    expect(h.tx.sent.length).toBe(1);
    // Nagle would hold a second small segment while "small" is unacknowledged.
    h.tcp.send(k.c, new TextEncoder().encode("held"), 0, 4);
    h.flush();
    expect(h.tx.sent.length).toBe(1);
    expect(h.tcp.sendAhead(k.c, new TextEncoder().encode("URGENT"), 0, 6, 0)).toBe(6);
    h.flush();
    expect(dec.decode(h.tx.last().payload)).toBe("URGENT");
  });

  test("send-ahead refuses what does not fit whole and after shutdown", () => {
    const k = established({ cfg: { sndBufBytes: 100 } });
    const h = k.h;
    expect(h.tcp.send(k.c, new Uint8Array(90), 0, 90)).toBe(90);
    expect(h.tcp.sendAhead(k.c, new Uint8Array(20), 0, 20, 0)).toBe(0);
    expect(h.tcp.sendAhead(k.c, new Uint8Array(10), 0, 10, 0)).toBe(10);
    h.tcp.shutdown(k.c);
    expect(h.tcp.sendAhead(k.c, new Uint8Array(1), 0, 1, 0)).toBeLessThan(0);
  });
});
