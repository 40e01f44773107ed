/**
 * Transmit priority of TCP segments (src/tcp/priority.ts): each segment leaves
 * in the higher of the connection's class and the class of the segment being
 * processed; follow mode takes the class of the last data segment received.
 */
import { describe, expect, test } from "bun:test";
import { NO_RX_CLASS } from "../../../src/tcp/priority";
import { ACK, established, type Harness, pattern, PSH, RST, REMOTE_IP, LOCAL_IP } from "../../helpers/tcp-fixtures";

/** Record the class of each committed segment, index-aligned with h.tx.sent. */
function classes(h: Harness): number[] {
  const out: number[] = [];
  const tx = h.tx;
  const orig = tx.commit.bind(tx);
  tx.commit = (s: number, d: number, p: number, l: number, prio: number) => {
    out.push(prio);
    orig(s, d, p, l, prio);
  };
  return out;
}

describe("transmit priority class", () => {
  test("data of a connection leaves in the lowest class by default, in its own class once set", () => {
    const k = established();
    const cls = classes(k.h);
    expect(k.h.tcp.priority(k.c)).toBe(7);
    k.h.tcp.send(k.c, pattern(100), 0, 100);
    k.h.flush();
    expect(cls).toEqual([7]);
    k.h.tcp.setPriority(k.c, 0);
    expect(k.h.tcp.priority(k.c)).toBe(0);
    k.h.tcp.send(k.c, pattern(100), 0, 100);
    k.h.tcp.setNoDelay(k.c, true);
    k.h.flush();
    expect(cls).toEqual([7, 0]);
  });

  test("an immediate ACK to a high-class segment leaves in its class; to a low one in the connection's", () => {
    const k = established();
    const cls = classes(k.h);
    // Out of order data is ACKed at once (RFC 5681 4.2), during input.
    k.h.tcp.rxClass = 0;
    k.peer.send(ACK | PSH, "x", {}, { seq: (k.peer.seq + 10) | 0 });
    k.h.tcp.rxClass = NO_RX_CLASS;
    expect(k.h.tx.sent.length).toBe(1);
    expect(cls).toEqual([0]);
    k.peer.send(ACK | PSH, "y", {}, { seq: (k.peer.seq + 20) | 0 });
    expect(cls).toEqual([0, 7]);
  });

  test("follow mode: the connection takes the class of the last data segment received", () => {
    const k = established();
    const cls = classes(k.h);
    k.h.tcp.setPriorityFollowsRx(k.c, true);
    k.h.tcp.rxClass = 1;
    k.peer.send(ACK | PSH, "request");
    k.h.tcp.rxClass = NO_RX_CLASS;
    expect(k.h.tcp.priority(k.c)).toBe(1);
    k.h.tcp.send(k.c, pattern(10), 0, 10);
    k.h.flush();
    expect(cls[cls.length - 1]).toBe(1);
    // A lowest-class data segment brings it back down; a pure ACK does not count.
    k.h.tcp.rxClass = 0;
    k.peer.send(ACK);
    k.h.tcp.rxClass = NO_RX_CLASS;
    expect(k.h.tcp.priority(k.c)).toBe(1);
    k.peer.send(ACK | PSH, "low");
    expect(k.h.tcp.priority(k.c)).toBe(7);
  });

  test("config priorityFollowsRx applies to every connection; without it the class stays", () => {
    const on = established({ cfg: { priorityFollowsRx: true } });
    on.h.tcp.rxClass = 0;
    on.peer.send(ACK | PSH, "hi");
    expect(on.h.tcp.priority(on.c)).toBe(0);
    const off = established();
    off.h.tcp.rxClass = 0;
    off.peer.send(ACK | PSH, "hi");
    expect(off.h.tcp.priority(off.c)).toBe(7);
  });

  test("a RST answering a high-class segment for no connection leaves in that class", () => {
    const k = established();
    const cls = classes(k.h);
    k.h.tcp.rxClass = 0;
    k.h.inject(ACK, 1, 1, {}, "zz", 65535, REMOTE_IP, 5555, LOCAL_IP, 4444);
    k.h.tcp.rxClass = NO_RX_CLASS;
    expect(k.h.tx.last().flags & RST).toBe(RST);
    expect(cls).toEqual([0]);
    k.h.inject(ACK, 1, 1, {}, "zz", 65535, REMOTE_IP, 5555, LOCAL_IP, 4444);
    expect(cls).toEqual([0, 7]);
  });

  test("classes are clamped to 0..7 and a reused id starts in the lowest class", () => {
    const k = established();
    k.h.tcp.setPriority(k.c, -3);
    expect(k.h.tcp.priority(k.c)).toBe(0);
    k.h.tcp.setPriority(k.c, 99);
    expect(k.h.tcp.priority(k.c)).toBe(7);
    k.h.tcp.setPriority(k.c, 2);
    k.h.tcp.abort(k.c);
    const c2 = k.h.tcp.conns.alloc();
    expect(c2).toBe(k.c);
    expect(k.h.tcp.priority(c2)).toBe(7);
  });
});
