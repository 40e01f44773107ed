import { describe, expect, test } from "bun:test";
import { acceptable } from "../../../src/tcp/input";
import { TcpEvent } from "../../../src/tcp/events";
import { TcpState } from "../../../src/tcp/state";
import { ConnTable } from "../../../src/tcp/conn-table";
import { TcpLayer } from "../../../src/tcp/tcp-layer";
import { makeTcpConfig } from "../../../src/tcp/config";
import { ACK, drain, established, FIN, pattern, PSH, SYN, URG } from "../../helpers/tcp-fixtures";

describe("RFC 9293 3.10.7.4 segment acceptability", () => {
  test("the four cases of the acceptability table", () => {
    // len 0, wnd 0: only SEG.SEQ = RCV.NXT
    expect(acceptable(100, 0, 100, 0)).toBe(true);
    expect(acceptable(101, 0, 100, 0)).toBe(false);
    // len 0, wnd > 0: RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND
    expect(acceptable(100, 0, 100, 10)).toBe(true);
    expect(acceptable(109, 0, 100, 10)).toBe(true);
    expect(acceptable(110, 0, 100, 10)).toBe(false);
    expect(acceptable(99, 0, 100, 10)).toBe(false);
    // len > 0, wnd 0: never
    expect(acceptable(100, 5, 100, 0)).toBe(false);
    // len > 0, wnd > 0: first or last octet in the window
    expect(acceptable(95, 10, 100, 10)).toBe(true);
    expect(acceptable(109, 10, 100, 10)).toBe(true);
    expect(acceptable(90, 10, 100, 10)).toBe(false);
    expect(acceptable(110, 5, 100, 10)).toBe(false);
    // modular arithmetic across the wrap
    expect(acceptable(-5, 10, -22, 10)).toBe(false);
    expect(acceptable(-5, 10, -10, 10)).toBe(true);
    expect(acceptable(0x7ffffffe, 4, 0x7fffffff, 100)).toBe(true);
  });

  test("an unacceptable data segment is answered with an ACK and dropped", () => {
    const k = established();
    k.peer.send(ACK, "old", {}, { seq: (k.peer.seq - 100) | 0 });
    const a = k.h.tx.last();
    expect(a.flags).toBe(ACK);
    expect(a.ack).toBe(k.peer.seq);
    expect(k.h.tcp.recvAvailable(k.c)).toBe(0);
    expect(k.h.tcp.counters.outOfWindow).toBe(1);
  });

  test("a segment overlapping RCV.NXT is trimmed: only the new bytes are delivered", () => {
    const k = established();
    k.peer.send(ACK, "abcd");
    k.peer.send(ACK, "cdef", {}, { seq: (k.peer.seq - 2) | 0 });
    expect(new TextDecoder().decode(drain(k.h, k.c))).toBe("abcdef");
  });

  test("bad checksum is dropped and counted", () => {
    const k = established();
    k.peer.send(ACK, "data", {}, { corrupt: true });
    expect(k.h.tcp.recvAvailable(k.c)).toBe(0);
    expect(k.h.tcp.counters.badChecksum).toBe(1);
  });

  test("a SYN in a synchronized state draws a challenge ACK (RFC 5961 4.2)", () => {
    const k = established();
    k.peer.send(SYN, undefined, {}, { seq: (k.peer.seq + 10) | 0 });
    expect(k.h.tcp.state(k.c)).toBe(TcpState.Established);
    expect(k.h.tx.last().flags).toBe(ACK);
    expect(k.h.tcp.counters.challengeAcks).toBe(1);
  });

  test("an ACK for data not yet sent is answered with an ACK and dropped (RFC 9293; RFC 5961 5.2)", () => {
    const k = established();
    k.peer.send(ACK, "x", {}, { ack: (k.peer.ack + 5000) | 0 });
    expect(k.h.tcp.recvAvailable(k.c)).toBe(0);
    expect(k.h.tx.last().flags).toBe(ACK);
    expect(k.h.tcp.counters.ackTooNew).toBe(1);
  });

  test("blind data injection: an ACK below SND.UNA - MAX.SND.WND is dropped (RFC 5961 5.2)", () => {
    const k = established();
    k.peer.send(ACK, "inject", {}, { ack: (k.peer.ack - 0x20000000) | 0 });
    expect(k.h.tcp.recvAvailable(k.c)).toBe(0);
    expect(k.h.tcp.counters.badAck).toBe(1);
  });

  test("PAWS: a segment with an older timestamp is dropped and ACKed (RFC 7323 5.3)", () => {
    const k = established();
    k.peer.send(ACK, "new", { ts: [k.peer.ts + 10, 0] });
    k.h.tx.take();
    k.peer.send(ACK, "old", { ts: [k.peer.ts - 50, 0] });
    expect(k.h.tcp.counters.pawsRejected).toBe(1);
    expect(new TextDecoder().decode(drain(k.h, k.c))).toBe("new");
    expect(k.h.tx.last().flags).toBe(ACK);
  });

  test("urgent data is delivered inline without breaking the stream", () => {
    const k = established();
    k.peer.send(ACK | URG | PSH, "abc!", {}, { urg: 4 });
    k.peer.send(ACK, "def");
    expect(new TextDecoder().decode(drain(k.h, k.c))).toBe("abc!def");
    expect(k.h.tcp.counters.urgentSegments).toBe(1);
  });
});

describe("sending and receiving data", () => {
  test("data both ways; send() returns bytes queued, Readable events, ACK advances and frees the buffer", () => {
    const k = established();
    const data = pattern(3000);
    expect(k.h.tcp.send(k.c, data, 0, 3000)).toBe(3000);
    k.h.flush();
    const segs = k.h.tx.take();
    expect(segs.length).toBe(3);
    const got = new Uint8Array(segs.reduce((a, s) => a + s.payload.length, 0));
    let o = 0;
    for (const s of segs) {
      got.set(s.payload, o);
      o += s.payload.length;
    }
    expect(Buffer.from(got).equals(Buffer.from(data))).toBe(true);
    expect(k.h.tcp.sendQueued(k.c)).toBe(3000);
    k.peer.ackAll(segs);
    k.peer.send(ACK, "reply");
    expect(k.h.tcp.sendQueued(k.c)).toBe(0);
    expect(k.h.ev.has(TcpEvent.Readable, k.c)).toBe(true);
    expect(new TextDecoder().decode(drain(k.h, k.c))).toBe("reply");
    expect(k.h.tcp.recv(k.c, new Uint8Array(4), 0, 4)).toBe(-11);
  });

  test("send() returns 0 when the buffer is full and Writable follows the ACK", () => {
    const k = established({ cfg: { sndBufBytes: 4096 } });
    expect(k.h.tcp.send(k.c, pattern(5000), 0, 5000)).toBe(4096);
    expect(k.h.tcp.send(k.c, pattern(10), 0, 10)).toBe(0);
    k.h.flush();
    k.peer.ackAll(k.h.tx.take());
    k.peer.send(ACK);
    expect(k.h.ev.has(TcpEvent.Writable, k.c)).toBe(true);
    expect(k.h.tcp.sendSpace(k.c)).toBeGreaterThan(0);
  });

  test("an idle connection holds no buffer chunks", () => {
    const k = established();
    k.h.tcp.send(k.c, pattern(3000), 0, 3000);
    k.h.flush();
    k.peer.ackAll(k.h.tx.take());
    k.peer.send(ACK, "xyz");
    drain(k.h, k.c);
    k.h.flush();
    k.peer.ackAll(k.h.tx.take());
    k.peer.send(ACK);
    expect(k.h.tcp.sendQueued(k.c)).toBe(0);
    expect(k.h.tcp.chunksInUse()).toBe(0);
  });

  test("delayed ACK: one segment is ACKed after delAckUs, not before (RFC 9293 3.8.6.3)", () => {
    const k = established();
    k.peer.send(ACK | PSH, pattern(100));
    expect(k.h.tx.sent.length).toBe(0);
    k.h.advance(39_000);
    expect(k.h.tx.sent.length).toBe(0);
    k.h.runToNextTimer();
    const a = k.h.tx.take();
    expect(a.length).toBe(1);
    expect(a[0]!.ack).toBe(k.peer.seq);
    expect(k.h.now - 1_000_000_000).toBeLessThanOrEqual(41_000);
  });

  test("delayed ACK: every second full-sized segment is ACKed at once (RFC 5681 4.2)", () => {
    const k = established();
    k.peer.send(ACK, pattern(1448));
    expect(k.h.tx.sent.length).toBe(0);
    k.peer.send(ACK, pattern(1448));
    expect(k.h.tx.sent.length).toBe(1);
    expect(k.h.tx.last().ack).toBe(k.peer.seq);
  });

  test("an out-of-order segment is ACKed at once with a SACK block (RFC 5681 4.2, RFC 2018 4)", () => {
    const k = established();
    const base = k.peer.seq;
    k.peer.send(ACK, pattern(500), {}, { seq: (base + 1000) | 0 });
    const a = k.h.tx.last();
    expect(a.ack).toBe(base);
    expect(a.opts.sackCount).toBe(1);
    expect(a.opts.sackLeft[0]).toBe((base + 1000) | 0);
    expect(a.opts.sackRight[0]).toBe((base + 1500) | 0);
    k.peer.send(ACK, pattern(200), {}, { seq: (base + 2000) | 0 });
    const b = k.h.tx.last();
    expect(b.opts.sackCount).toBe(2);
    expect(b.opts.sackLeft[0]).toBe((base + 2000) | 0); // most recent first
    // fill the gap: immediate ACK covering everything contiguous
    k.peer.send(ACK, pattern(1000), {}, { seq: base });
    const c = k.h.tx.last();
    expect(c.ack).toBe((base + 1500) | 0);
    expect(c.opts.sackCount).toBe(1);
  });

  test("Nagle (Minshall): the tail of a bulk write goes out; a second small segment waits (RFC 896)", () => {
    const k = established();
    k.h.tcp.send(k.c, pattern(10), 0, 10);
    k.h.flush();
    expect(k.h.tx.take().length).toBe(1);
    k.h.tcp.send(k.c, pattern(10), 0, 10);
    k.h.flush();
    expect(k.h.tx.take().length).toBe(0);
    k.peer.ack = (k.peer.ack + 10) | 0;
    k.peer.send(ACK);
    const s = k.h.tx.take();
    expect(s.length).toBe(1);
    expect(s[0]!.payload.length).toBe(10);
  });

  test("NODELAY sends small segments at once", () => {
    const k = established();
    k.h.tcp.setNoDelay(k.c, true);
    k.h.tcp.send(k.c, pattern(10), 0, 10);
    k.h.flush();
    k.h.tcp.send(k.c, pattern(10), 0, 10);
    k.h.flush();
    expect(k.h.tx.take().length).toBe(2);
  });

  test("window scaling: the peer's window is shifted; ours is advertised shifted (RFC 7323 2.3)", () => {
    const k = established({ peerOpts: { mss: 1460, wscale: 2 } });
    k.peer.send(ACK, undefined, {}, { wnd: 1000 });
    expect(k.h.tcp.conns.sndWnd[k.c]).toBe(4000);
    k.h.tcp.send(k.c, pattern(10000), 0, 10000);
    k.h.flush();
    const segs = k.h.tx.take();
    const total = segs.reduce((a, s) => a + s.payload.length, 0);
    expect(total).toBeGreaterThan(2000); // more than the unscaled 1000
    expect(total).toBeLessThanOrEqual(4000);
    const shift = k.h.tcp.rcvWscale;
    expect(shift).toBeGreaterThan(0);
    expect(segs[0]!.wnd).toBe(Math.min(0xffff, k.h.cfg.rcvBufBytes >> shift));
  });

  test("receiver SWS avoidance: the window is not reopened by less than one MSS (RFC 9293 3.8.6.2.2)", () => {
    const k = established({ cfg: { rcvBufBytes: 8192 }, peerOpts: { mss: 1460 } });
    k.peer.send(ACK, pattern(1448));
    k.peer.send(ACK, pattern(1448));
    const adv1 = k.h.tx.take().pop()!;
    // read 100 bytes: the right edge could move by 100: not worth an update, and not advertised
    k.h.tcp.recv(k.c, new Uint8Array(100), 0, 100);
    k.h.flush();
    expect(k.h.tx.take().length).toBe(0);
    k.peer.send(ACK, pattern(10));
    k.h.advance(50_000);
    const adv2 = k.h.tx.last();
    expect((adv2.ack + adv2.wnd) | 0).toBe((adv1.ack + adv1.wnd) | 0);
  });

  test("window update after the application reads a closed window", () => {
    const k = established({ cfg: { rcvBufBytes: 4096 }, peerOpts: { mss: 1460 } });
    k.peer.send(ACK, pattern(1448));
    k.peer.send(ACK, pattern(1448));
    k.peer.send(ACK, pattern(1200));
    k.h.advance(50_000);
    expect(k.h.tx.last().wnd).toBe(0);
    k.h.tx.take();
    drain(k.h, k.c);
    k.h.flush();
    const u = k.h.tx.take();
    expect(u.length).toBe(1);
    expect(u[0]!.wnd).toBeGreaterThan(0);
  });

  test("a zero-window probe is answered at once with RCV.NXT and the current window (RFC 9293 3.8.6.1)", () => {
    const k = established({ cfg: { rcvBufBytes: 4096 }, peerOpts: { mss: 1460 } });
    k.peer.send(ACK, pattern(1448));
    k.peer.send(ACK, pattern(1448));
    k.peer.send(ACK, pattern(1200));
    k.h.advance(50_000);
    const full = k.h.tx.take().pop()!;
    expect(full.wnd).toBe(0);
    // The probe: one byte at RCV.NXT into the closed window. It is not accepted, but it is answered.
    k.peer.send(ACK | PSH, pattern(1), {}, { seq: full.ack });
    let r = k.h.tx.take();
    expect(r.length).toBe(1);
    expect(r[0]!.ack).toBe(full.ack);
    expect(r[0]!.wnd).toBe(0);
    // The application reads everything; the window update it triggers is lost on the way.
    drain(k.h, k.c);
    k.h.flush();
    expect(k.h.tx.take().length).toBe(1);
    // The next probe is answered with the open window (the byte is accepted now).
    k.peer.send(ACK | PSH, pattern(1), {}, { seq: full.ack });
    k.h.advance(50_000);
    r = k.h.tx.take();
    expect(r.length).toBe(1);
    expect(r[0]!.ack).toBe((full.ack + 1) | 0);
    expect(r[0]!.wnd).toBeGreaterThan(0);
  });

  test("text beyond the right edge of the window is trimmed and answered with an ACK at once", () => {
    const k = established({ cfg: { rcvBufBytes: 2048 }, peerOpts: { mss: 1460 } });
    k.peer.send(ACK, pattern(1460));
    k.h.tx.take();
    k.peer.send(ACK | PSH, pattern(1000));
    const r = k.h.tx.take();
    expect(r.length).toBe(1); // not delayed: the sender must learn the edge
    expect(r[0]!.ack).toBe((k.peer.seq - 1000 + 588) | 0);
  });

  test("zero window: persist timer probes with backoff and resumes when the window opens (RFC 9293 3.8.6.1)", () => {
    const k = established();
    k.peer.send(ACK, undefined, {}, { wnd: 0 });
    k.h.tcp.send(k.c, pattern(3000), 0, 3000);
    k.h.flush();
    expect(k.h.tx.take().length).toBe(0);
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      k.h.runToNextTimer();
      const p = k.h.tx.take();
      expect(p.length).toBe(1);
      expect(p[0]!.payload.length).toBe(1);
      expect(p[0]!.seq).toBe((k.iss + 1) | 0); // the same first byte each time
      times.push(k.h.now);
      k.peer.send(ACK, undefined, {}, { wnd: 0 }); // still closed: the probe is not accepted
    }
    expect(times[2]! - times[1]!).toBeGreaterThan(times[1]! - times[0]!);
    expect(k.h.tcp.state(k.c)).toBe(TcpState.Established);
    k.peer.send(ACK, undefined, {}, { wnd: 65535 });
    const s = k.h.tx.take();
    expect(s.reduce((a, x) => a + x.payload.length, 0)).toBeGreaterThanOrEqual(2999);
    expect(k.h.tcp.counters.persistProbes).toBe(3);
  });

  test("persist: the probe interval backs off to maxRtoUs (60 s) and stays there; probing never gives up", () => {
    const k = established();
    k.peer.send(ACK, undefined, {}, { wnd: 0 });
    k.h.tcp.send(k.c, pattern(100), 0, 100);
    k.h.flush();
    let last = k.h.now;
    const gaps: number[] = [];
    for (let i = 0; i < 14; i++) {
      expect(k.h.runToNextTimer()).toBe(true);
      expect(k.h.tx.take().length).toBe(1);
      gaps.push(k.h.now - last);
      last = k.h.now;
      k.peer.send(ACK, undefined, {}, { wnd: 0 });
    }
    expect(Math.max(...gaps)).toBeLessThanOrEqual(60_000_000 + 2_000);
    expect(gaps[gaps.length - 1]!).toBeGreaterThanOrEqual(60_000_000);
    expect(k.h.tcp.state(k.c)).toBe(TcpState.Established);
  });

  test("sender SWS avoidance: no small segment into a small window while data is in flight", () => {
    const k = established({ peerOpts: { mss: 1460 } });
    k.peer.send(ACK, undefined, {}, { wnd: 2000 });
    k.h.tcp.send(k.c, pattern(10000), 0, 10000);
    k.h.flush();
    const s = k.h.tx.take();
    expect(s.length).toBe(1); // 1448 fits; the remaining 552 < max(SND.WND)/2 = 1000 waits
    expect(s[0]!.payload.length).toBe(1448);
  });

  test("the stack never sends more than the peer's window", () => {
    const k = established({ peerOpts: { mss: 1460 } });
    k.peer.send(ACK, undefined, {}, { wnd: 5000 });
    k.h.tcp.send(k.c, pattern(20000), 0, 20000);
    k.h.flush();
    const total = k.h.tx.take().reduce((a, x) => a + x.payload.length, 0);
    expect(total).toBeLessThanOrEqual(5000);
  });

  test("initial window is 10 segments (RFC 6928)", () => {
    const k = established({ peerOpts: { mss: 1460 } });
    k.h.tcp.send(k.c, pattern(100000), 0, 100000);
    k.h.flush();
    expect(k.h.tx.take().length).toBe(10);
  });

  test("FIN carried on the last data segment once shutdown() is queued behind it", () => {
    const k = established();
    k.h.tcp.send(k.c, pattern(100), 0, 100);
    k.h.tcp.shutdown(k.c);
    k.h.flush();
    const s = k.h.tx.take();
    expect(s.length).toBe(1);
    expect(s[0]!.flags & FIN).toBe(FIN);
    expect(s[0]!.payload.length).toBe(100);
  });
});

describe("connection table", () => {
  test("bytes per connection (printed) and a fixed capacity with free-list reuse", () => {
    const k = established();
    const b = k.h.tcp.bytesPerConnection();
    expect(b.total).toBeGreaterThan(0);
    // At scale the fixed parts (wheel sentinels, side-table minimums) vanish: issue 4's target is <= 256 B.
    const n = 1 << 20;
    const big = TcpLayer.memoryBytes(makeTcpConfig({ maxConnections: n }));
    const parts = TcpLayer.memoryPlan(makeTcpConfig({ maxConnections: n })).filter((p) => p.perConnection).map((p) => `${p.name} ${(p.bytes / n).toFixed(1)}`);
    console.log("TCP stack bytes per connection at 2^20 (buffers excluded):", (big.tables / n).toFixed(1), "=", parts.join(", "));
    expect(ConnTable.bytesPerConn()).toBeLessThanOrEqual(113); // + 1 B priority class and message-mode bits (issue 5)
    expect(big.tables / n).toBeLessThanOrEqual(256);
    const t = new ConnTable(2);
    const a = t.alloc();
    const c = t.alloc();
    expect(t.alloc()).toBe(-1);
    t.free(a);
    expect(t.alloc()).toBe(a);
    expect(c).not.toBe(a);
  });
});
