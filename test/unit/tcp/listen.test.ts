import { describe, expect, test } from "bun:test";
import { TcpEvent } from "../../../src/tcp/events";
import { TcpState } from "../../../src/tcp/state";
import {
  ACK, drain, established, Harness, LINUX_SYN_OPTS, listening, LOCAL_IP, Peer, REMOTE_IP, RST, SYN,
} from "../../helpers/tcp-fixtures";

describe("listen backlog and accept queue", () => {
  test("SYNs beyond the accept backlog are dropped (no SYN-ACK) and counted", () => {
    const h = new Harness();
    const l = listening(h, 2);
    for (let i = 0; i < 3; i++) {
      const p = new Peer(h, REMOTE_IP, 41000 + i);
      p.send(SYN, undefined, LINUX_SYN_OPTS);
      const sa = h.tx.take();
      if (i < 2) {
        expect(sa.length).toBe(1);
        p.ackAll(sa);
        p.send(ACK);
      } else {
        expect(sa.length).toBe(0);
      }
    }
    expect(h.tcp.counters.acceptQueueFull).toBe(1);
    expect(h.tcp.accept(l)).toBeGreaterThanOrEqual(0);
    expect(h.tcp.accept(l)).toBeGreaterThanOrEqual(0);
    expect(h.tcp.accept(l)).toBe(-1);
  });

  test("accept returns connections in arrival order and data sent before accept is readable", () => {
    const h = new Harness();
    const l = listening(h);
    const p1 = new Peer(h, REMOTE_IP, 41001);
    const p2 = new Peer(h, REMOTE_IP, 41002);
    for (const p of [p1, p2]) {
      p.send(SYN, undefined, LINUX_SYN_OPTS);
      p.ackAll(h.tx.take());
      p.send(ACK, "hello " + p.port);
    }
    const c1 = h.tcp.accept(l);
    const c2 = h.tcp.accept(l);
    expect(h.tcp.remotePort(c1)).toBe(41001);
    expect(h.tcp.remotePort(c2)).toBe(41002);
    expect(new TextDecoder().decode(drain(h, c2))).toBe("hello 41002");
  });

  test("closeListener resets connections waiting to be accepted", () => {
    const h = new Harness();
    const l = listening(h);
    const p = new Peer(h);
    p.send(SYN, undefined, LINUX_SYN_OPTS);
    p.ackAll(h.tx.take());
    p.send(ACK);
    h.tcp.closeListener(l);
    expect(h.tx.last().flags & RST).toBe(RST);
    expect(h.tcp.connectionsInUse()).toBe(0);
    p.send(SYN, undefined, LINUX_SYN_OPTS, { seq: 999 });
    expect(h.tx.last().flags & RST).toBe(RST);
  });
});

describe("SYN cookies (SYN queue full)", () => {
  test("round trip: a cookie SYN-ACK keeps no state; the ACK rebuilds the connection with MSS, wscale, SACK, timestamps", () => {
    const h = new Harness({ synQueueSize: 1 });
    const l = listening(h);
    const p0 = new Peer(h, REMOTE_IP, 41000);
    p0.send(SYN, undefined, LINUX_SYN_OPTS); // occupies the SYN queue
    h.tx.take();
    const inUse = h.tcp.connectionsInUse();
    const p = new Peer(h, REMOTE_IP, 42000);
    p.send(SYN, undefined, { mss: 1460, wscale: 6, sackOk: true });
    const sa = h.tx.take();
    expect(sa.length).toBe(1);
    expect(sa[0]!.flags).toBe(SYN | ACK);
    expect(h.tcp.connectionsInUse()).toBe(inUse);
    expect(h.tcp.counters.synCookiesSent).toBe(1);
    p.ackAll(sa);
    p.send(ACK, "via cookie", { ts: [p.ts + 1, sa[0]!.opts.tsVal] });
    expect(h.tcp.counters.synCookiesAccepted).toBe(1);
    expect(h.ev.has(TcpEvent.Accept, l)).toBe(true);
    const c = h.tcp.accept(l);
    expect(h.tcp.state(c)).toBe(TcpState.Established);
    expect(h.tcp.conns.sndWscale[c]).toBe(6);
    expect(h.tcp.mss(c)).toBe(1460 - 12);
    expect((h.tcp.conns.flags[c]! & 4) !== 0).toBe(true); // SACK
    expect(new TextDecoder().decode(drain(h, c))).toBe("via cookie");
  });

  test("a forged cookie ACK is answered with RST and creates nothing", () => {
    const h = new Harness({ synQueueSize: 1 });
    listening(h);
    const p = new Peer(h, REMOTE_IP, 42001);
    p.ack = 0x12345678;
    p.send(ACK, "forged");
    expect(h.tcp.connectionsInUse()).toBe(0);
    expect(h.tx.last().flags).toBe(RST);
    expect(h.tcp.counters.synCookiesRejected).toBe(1);
  });
});

describe("keepalive (RFC 1122 4.2.3.6)", () => {
  test("off by default: an idle connection sends nothing and keeps no timer", () => {
    const k = established();
    expect(k.h.tcp.pollAt()).toBe(Number.POSITIVE_INFINITY);
  });

  test("probes after the idle time, every interval, and gives up with ETIMEDOUT after keepProbes", () => {
    const k = established({ cfg: { keepIdleUs: 10_000_000, keepIntervalUs: 1_000_000, keepProbes: 3 } });
    k.h.tcp.setKeepAlive(k.c, true);
    const t0 = k.h.now;
    k.h.runToNextTimer();
    const p = k.h.tx.take();
    expect(p.length).toBe(1);
    expect(p[0]!.seq).toBe(k.iss); // SND.UNA - 1
    expect(k.h.now - t0).toBeGreaterThanOrEqual(10_000_000);
    // An answer resets the count.
    k.peer.send(ACK);
    for (let i = 0; i < 10 && k.h.tcp.state(k.c) === TcpState.Established; i++) k.h.runToNextTimer();
    expect(k.h.tcp.state(k.c)).toBe(TcpState.Closed);
    expect(k.h.tcp.counters.keepaliveProbes).toBe(4);
    expect(k.h.ev.of(TcpEvent.Closed)[0]!.arg).toBe(-110);
  });

  test("shares the connection's main timer id with retransmission: data in flight defers it, the final ACK re-arms it", () => {
    const k = established({ cfg: { keepIdleUs: 10_000_000, keepIntervalUs: 1_000_000, keepProbes: 3 } });
    k.h.tcp.setKeepAlive(k.c, true);
    k.h.advance(5_000_000);
    const data = new TextEncoder().encode("hello");
    expect(k.h.tcp.send(k.c, data, 0, data.length)).toBe(5);
    k.h.flush();
    const sent = k.h.tx.take();
    expect(sent.length).toBe(1);
    // The retransmission timer now holds the id: the next deadline is one RTO away, not the keepalive.
    expect(k.h.tcp.pollAt()).toBeLessThanOrEqual(k.h.now + k.h.tcp.rtoUs(k.c) + 1000);
    k.peer.ackAll(sent);
    k.h.advance(1000);
    k.peer.send(ACK);
    const tAck = k.h.now;
    // All acknowledged: keepalive again, keepIdle after the ACK; no retransmission happened.
    k.h.runToNextTimer();
    const p = k.h.tx.take();
    expect(p.length).toBe(1);
    expect(p[0]!.payload.length).toBe(0);
    expect(k.h.now - tAck).toBeGreaterThanOrEqual(10_000_000);
    expect(k.h.tcp.counters.keepaliveProbes).toBe(1);
    expect(k.h.tcp.counters.retransmits).toBe(0);
  });
});

describe("ICMP errors (RFC 1122 4.2.3.9, RFC 1191)", () => {
  function quoted(lip: number, rip: number, lport: number, rport: number, seq: number): { mem: Uint8Array; dv: DataView } {
    const mem = new Uint8Array(28);
    const dv = new DataView(mem.buffer);
    mem[0] = 0x45;
    mem[9] = 6;
    dv.setUint32(12, lip);
    dv.setUint32(16, rip);
    dv.setUint16(20, lport);
    dv.setUint16(22, rport);
    dv.setInt32(24, seq);
    return { mem, dv };
  }

  test("fragmentation needed lowers the MSS and resends smaller segments", () => {
    const k = established({ peerOpts: { mss: 1460 } });
    k.h.tcp.send(k.c, new Uint8Array(3000), 0, 3000);
    k.h.flush();
    const segs = k.h.tx.take();
    const q = quoted(LOCAL_IP, REMOTE_IP, 80, k.peer.port, segs[0]!.seq);
    k.h.tcp.icmpError(k.h.now, 3, 4, 1000, q.mem, q.dv, 0, 28);
    expect(k.h.tcp.mss(k.c)).toBe(960);
    const r = k.h.tx.take();
    expect(r.length).toBeGreaterThan(0);
    for (const s of r) expect(s.payload.length).toBeLessThanOrEqual(960);
    expect(k.h.tcp.counters.icmpMssLowered).toBe(1);
  });

  test("an ICMP error quoting a sequence number outside SND.UNA..SND.NXT is ignored", () => {
    const k = established({ peerOpts: { mss: 1460 } });
    k.h.tcp.send(k.c, new Uint8Array(1000), 0, 1000);
    k.h.flush();
    const q = quoted(LOCAL_IP, REMOTE_IP, 80, k.peer.port, (k.iss + 50_000) | 0);
    k.h.tcp.icmpError(k.h.now, 3, 4, 576, q.mem, q.dv, 0, 28);
    expect(k.h.tcp.mss(k.c)).toBe(1448);
    expect(k.h.tcp.counters.icmpIgnored).toBe(1);
  });

  test("port unreachable during SYN-SENT fails the connect with ECONNREFUSED", () => {
    const h = new Harness();
    const c = h.tcp.connect(h.now, LOCAL_IP, 5000, REMOTE_IP, 443);
    const syn = h.tx.last();
    const q = quoted(LOCAL_IP, REMOTE_IP, 5000, 443, syn.seq);
    h.tcp.icmpError(h.now, 3, 3, 0, q.mem, q.dv, 0, 28);
    expect(h.tcp.state(c)).toBe(TcpState.Closed);
    expect(h.ev.of(TcpEvent.Closed)[0]!.arg).toBe(-111);
  });
});
