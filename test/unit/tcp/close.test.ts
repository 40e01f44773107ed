import { describe, expect, test } from "bun:test";
import { ECONNRESET } from "../../../src/tcp/errno";
import { TcpEvent } from "../../../src/tcp/events";
import { TcpState } from "../../../src/tcp/state";
import {
  ACK, closeWait, drain, established, FIN, finWait1, finWait2, Harness, listening, LINUX_SYN_OPTS, LOCAL_IP, Peer,
  REMOTE_IP, REMOTE_PORT, RST, SYN, timeWait,
} from "../../helpers/tcp-fixtures";

describe("RFC 9293 3.6 closing a connection", () => {
  test("active close: ESTABLISHED -FIN-> FIN-WAIT-1 -ACK-> FIN-WAIT-2 -FIN-> TIME-WAIT, ACK of the FIN", () => {
    const k = established();
    k.h.tcp.shutdown(k.c);
    expect(k.h.tcp.state(k.c)).toBe(TcpState.FinWait1);
    k.h.flush();
    const fin = k.h.tx.take()[0]!;
    expect(fin.flags & FIN).toBe(FIN);
    k.peer.ackAll([fin]);
    k.peer.send(ACK);
    expect(k.h.tcp.state(k.c)).toBe(TcpState.FinWait2);
    k.peer.send(FIN | ACK);
    expect(k.h.tcp.state(k.c)).toBe(TcpState.TimeWait);
    const a = k.h.tx.last();
    expect(a.flags).toBe(ACK);
    expect(a.ack).toBe(k.peer.seq);
  });

  test("TIME-WAIT lasts 2*MSL, then the connection is deleted", () => {
    const k = timeWait({ cfg: { timeWaitUs: 4_000_000 } });
    k.h.tcp.close(k.c);
    const t0 = k.h.now;
    k.h.runUntil(t0 + 3_900_000);
    expect(k.h.tcp.state(k.c)).toBe(TcpState.TimeWait);
    k.h.runUntil(t0 + 4_100_000);
    expect(k.h.tcp.connectionsInUse()).toBe(0);
  });

  test("a retransmitted FIN in TIME-WAIT is ACKed again and restarts the 2*MSL timer", () => {
    const k = timeWait({ cfg: { timeWaitUs: 4_000_000 } });
    k.h.tcp.close(k.c);
    k.h.advance(3_000_000);
    k.peer.send(FIN | ACK, undefined, {}, { seq: (k.peer.seq - 1) | 0 });
    expect(k.h.tx.last().flags).toBe(ACK);
    k.h.runUntil(k.h.now + 3_000_000);
    expect(k.h.tcp.state(k.c)).toBe(TcpState.TimeWait);
    k.h.runUntil(k.h.now + 1_100_000);
    expect(k.h.tcp.connectionsInUse()).toBe(0);
  });

  test("passive close: FIN -> CLOSE-WAIT (PeerFin, recv 0), close() -> LAST-ACK, ACK -> CLOSED and freed", () => {
    const k = established();
    k.peer.send(FIN | ACK);
    expect(k.h.tcp.state(k.c)).toBe(TcpState.CloseWait);
    expect(k.h.ev.has(TcpEvent.PeerFin, k.c)).toBe(true);
    expect(k.h.tcp.recv(k.c, new Uint8Array(4), 0, 4)).toBe(0);
    expect(k.h.tx.take().pop()!.ack).toBe(k.peer.seq); // the FIN is acknowledged at once
    k.h.tcp.close(k.c);
    expect(k.h.tcp.state(k.c)).toBe(TcpState.LastAck);
    k.h.flush();
    const fin = k.h.tx.take()[0]!;
    expect(fin.flags & FIN).toBe(FIN);
    k.peer.ackAll([fin]);
    k.peer.send(ACK);
    expect(k.h.tcp.connectionsInUse()).toBe(0);
  });

  test("simultaneous close: FIN-WAIT-1 receives FIN -> CLOSING, then ACK -> TIME-WAIT", () => {
    const k = finWait1();
    k.peer.send(FIN | ACK); // does not acknowledge our FIN
    expect(k.h.tcp.state(k.c)).toBe(TcpState.Closing);
    k.peer.ack = (k.peer.ack + 1) | 0;
    k.peer.send(ACK);
    expect(k.h.tcp.state(k.c)).toBe(TcpState.TimeWait);
  });

  test("FIN+ACK of our FIN in FIN-WAIT-1 goes straight to TIME-WAIT", () => {
    const k = finWait1();
    k.peer.ack = (k.peer.ack + 1) | 0;
    k.peer.send(FIN | ACK);
    expect(k.h.tcp.state(k.c)).toBe(TcpState.TimeWait);
  });

  test("half-close: after shutdown() we still receive data in FIN-WAIT-2", () => {
    const k = finWait2();
    k.peer.send(ACK, "still talking");
    expect(new TextDecoder().decode(drain(k.h, k.c))).toBe("still talking");
    expect(k.h.tcp.state(k.c)).toBe(TcpState.FinWait2);
  });

  test("half-close: in CLOSE-WAIT we can still send", () => {
    const k = closeWait();
    expect(k.h.tcp.send(k.c, new Uint8Array([1, 2, 3]), 0, 3)).toBe(3);
    k.h.flush();
    const s = k.h.tx.last();
    expect(s.payload.length).toBe(3);
  });

  test("the FIN follows queued data and send() after shutdown is EPIPE", () => {
    const k = established();
    k.h.tcp.send(k.c, new Uint8Array(100), 0, 100);
    k.h.tcp.shutdown(k.c);
    expect(k.h.tcp.send(k.c, new Uint8Array(1), 0, 1)).toBe(-32);
    k.h.flush();
    const segs = k.h.tx.take();
    const last = segs[segs.length - 1]!;
    expect(last.flags & FIN).toBe(FIN);
    expect(last.seq + last.payload.length).toBe((k.iss + 1 + 100) | 0);
  });

  test("FIN-WAIT-2 timeout after close() frees the connection", () => {
    const k = finWait2({ cfg: { finWait2TimeoutUs: 5_000_000 } });
    k.h.tcp.close(k.c);
    k.h.runUntil(k.h.now + 4_900_000);
    expect(k.h.tcp.state(k.c)).toBe(TcpState.FinWait2);
    k.h.runUntil(k.h.now + 200_000);
    expect(k.h.tcp.connectionsInUse()).toBe(0);
    expect(k.h.tcp.counters.finWait2Timeouts).toBe(1);
  });

  test("close() with unread data sends RST (RFC 2525 2.17)", () => {
    const k = established();
    k.peer.send(ACK, "unread");
    k.h.tx.take();
    k.h.tcp.close(k.c);
    const r = k.h.tx.last();
    expect(r.flags & RST).toBe(RST);
    expect(k.h.tcp.connectionsInUse()).toBe(0);
  });

  test("data arriving after close() (FIN-WAIT) resets the connection", () => {
    const k = established();
    k.h.tcp.close(k.c);
    k.h.flush();
    k.h.tx.take();
    k.peer.send(ACK, "late");
    expect(k.h.tx.last().flags & RST).toBe(RST);
    expect(k.h.tcp.connectionsInUse()).toBe(0);
  });

  test("abort() sends <SEQ=SND.NXT><CTL=RST> and frees the id", () => {
    const k = established();
    k.h.tcp.abort(k.c);
    const r = k.h.tx.last();
    expect(r.flags & RST).toBe(RST);
    expect(r.seq).toBe((k.iss + 1) | 0);
    expect(k.h.tcp.connectionsInUse()).toBe(0);
  });

  test("an out-of-order FIN is held until the gap is filled", () => {
    const k = established();
    const base = k.peer.seq;
    k.peer.send(FIN | ACK, "bbbb", {}, { seq: (base + 4) | 0 });
    expect(k.h.tcp.state(k.c)).toBe(TcpState.Established);
    k.peer.send(ACK, "aaaa", {}, { seq: base });
    expect(k.h.tcp.state(k.c)).toBe(TcpState.CloseWait);
    expect(new TextDecoder().decode(drain(k.h, k.c))).toBe("aaaabbbb");
    expect(k.h.tx.last().ack).toBe((base + 9) | 0);
  });
});

describe("TIME-WAIT reuse", () => {
  test("active open may reuse a TIME-WAIT 4-tuple after 1 s when timestamps were in use", () => {
    const k = established({ active: true });
    const port = k.h.tcp.localPort(k.c);
    k.h.tcp.shutdown(k.c);
    k.h.flush();
    k.peer.ackAll(k.h.tx.take());
    k.peer.send(FIN | ACK);
    expect(k.h.tcp.state(k.c)).toBe(TcpState.TimeWait);
    k.h.tcp.close(k.c);
    expect(k.h.tcp.connect(k.h.now, LOCAL_IP, port, REMOTE_IP, REMOTE_PORT)).toBe(-98);
    k.h.advance(1_100_000);
    const c2 = k.h.tcp.connect(k.h.now, LOCAL_IP, port, REMOTE_IP, REMOTE_PORT);
    expect(c2).toBeGreaterThanOrEqual(0);
    expect(k.h.tcp.state(c2)).toBe(TcpState.SynSent);
    expect(k.h.tcp.counters.timeWaitReused).toBe(1);
  });

  test("a SYN with a newer timestamp reopens a TIME-WAIT connection (RFC 6191)", () => {
    const h = new Harness();
    listening(h);
    const k = established({ h });
    h.tcp.close(k.c);
    h.flush();
    k.peer.ackAll(h.tx.take());
    k.peer.send(FIN | ACK);
    expect(h.tcp.state(k.c)).toBe(TcpState.TimeWait);
    const p2 = new Peer(h, REMOTE_IP, REMOTE_PORT);
    p2.ts = k.peer.ts + 100;
    p2.send(SYN, undefined, LINUX_SYN_OPTS);
    expect(h.tx.last().flags).toBe(SYN | ACK);
    expect(h.tcp.counters.timeWaitReused).toBe(1);
  });

  test("a SYN with an older timestamp in TIME-WAIT is answered with an ACK, no new connection", () => {
    const k = timeWait();
    k.h.tcp.close(k.c);
    const p2 = new Peer(k.h, REMOTE_IP, REMOTE_PORT);
    p2.ts = k.peer.ts - 100;
    p2.send(SYN, undefined, LINUX_SYN_OPTS);
    expect(k.h.tcp.state(k.c)).toBe(TcpState.TimeWait);
    expect(k.h.tx.last().flags & SYN).toBe(0);
  });
});

describe("RST processing in synchronized states", () => {
  test("RST at exactly RCV.NXT resets an ESTABLISHED connection: ECONNRESET", () => {
    const k = established();
    k.peer.send(RST);
    expect(k.h.tcp.state(k.c)).toBe(TcpState.Closed);
    const e = k.h.ev.of(TcpEvent.Closed);
    expect(e[0]!.arg).toBe(-ECONNRESET);
    expect(k.h.tcp.recv(k.c, new Uint8Array(1), 0, 1)).toBe(-ECONNRESET);
    expect(k.h.tcp.send(k.c, new Uint8Array(1), 0, 1)).toBe(-ECONNRESET);
    k.h.tcp.close(k.c);
    expect(k.h.tcp.connectionsInUse()).toBe(0);
  });

  test("RST in window but not at RCV.NXT draws a challenge ACK (RFC 5961 3.2)", () => {
    const k = established();
    k.peer.send(RST, undefined, {}, { seq: (k.peer.seq + 1000) | 0 });
    expect(k.h.tcp.state(k.c)).toBe(TcpState.Established);
    const a = k.h.tx.last();
    expect(a.flags).toBe(ACK);
    expect(a.ack).toBe(k.peer.seq);
    expect(k.h.tcp.counters.challengeAcks).toBe(1);
  });

  test("RST outside the window is dropped silently", () => {
    const k = established();
    k.peer.send(RST, undefined, {}, { seq: (k.peer.seq + 0x40000000) | 0 });
    expect(k.h.tcp.state(k.c)).toBe(TcpState.Established);
    expect(k.h.tx.sent.length).toBe(0);
  });

  test("RST in LAST-ACK closes without error", () => {
    const k = closeWait();
    k.h.tcp.close(k.c);
    k.h.flush();
    k.peer.send(RST);
    expect(k.h.tcp.connectionsInUse()).toBe(0);
  });

  test("RST before accept() removes the connection from the accept queue", () => {
    const h = new Harness();
    const l = listening(h);
    const p = new Peer(h);
    p.send(SYN, undefined, LINUX_SYN_OPTS);
    p.ackAll();
    p.send(ACK);
    p.send(RST);
    expect(h.tcp.accept(l)).toBe(-1);
    expect(h.tcp.connectionsInUse()).toBe(0);
  });

  test("challenge ACKs are rate limited (RFC 5961 7)", () => {
    const k = established({ cfg: { challengeAckLimit: 3 } });
    for (let i = 0; i < 10; i++) k.peer.send(RST, undefined, {}, { seq: (k.peer.seq + 100 + i) | 0 });
    expect(k.h.tcp.counters.challengeAcks).toBe(3);
    expect(k.h.tcp.counters.challengeAcksLimited).toBe(7);
    k.h.advance(1_000_001);
    k.peer.send(RST, undefined, {}, { seq: (k.peer.seq + 100) | 0 });
    expect(k.h.tcp.counters.challengeAcks).toBe(4);
  });
});
