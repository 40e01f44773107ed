/**
 * Two TcpLayers over an in-process faulty link on a virtual clock: 8 MiB each
 * direction must arrive intact under loss 0..20 %, duplication, reordering and
 * corruption. Prints a table (loss, virtual seconds, goodput in virtual time,
 * retransmits).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { TcpState } from "../../src/tcp/state";
import type { TcpLayer } from "../../src/tcp/tcp-layer";
import { type LinkFaults, TcpLink } from "../helpers/tcp-fixtures";

const MiB = 1024 * 1024;

function byteAt(i: number, salt: number): number {
  return ((i * 131) ^ (i >>> 8) ^ (i >>> 16) ^ salt) & 0xff;
}

interface Side {
  tcp: TcpLayer;
  c: number;
  sent: number;
  recvd: number;
  eof: boolean;
  shut: boolean;
  closed: boolean;
  bad: number;
  hash: number;
  salt: number;
  peerSalt: number;
}

const rows: string[] = [];

function run(name: string, faults: LinkFaults, seed: number, bytes = 8 * MiB): void {
  const wallStart = performance.now();
  const link = new TcpLink(faults, seed, { sndBufBytes: 512 * 1024, rcvBufBytes: 512 * 1024, chunkCount: 8192 });
  const l = link.b.listen(link.ipB, 5000, 16);
  expect(l).toBeGreaterThanOrEqual(0);
  const ca = link.a.connect(link.now, link.ipA, 0, link.ipB, 5000);
  expect(ca).toBeGreaterThanOrEqual(0);
  const A: Side = { tcp: link.a, c: ca, sent: 0, recvd: 0, eof: false, shut: false, closed: false, bad: 0, hash: 0x811c9dc5, salt: 0x11, peerSalt: 0x22 };
  const B: Side = { tcp: link.b, c: -1, sent: 0, recvd: 0, eof: false, shut: false, closed: false, bad: 0, hash: 0x811c9dc5, salt: 0x22, peerSalt: 0x11 };
  const chunk = new Uint8Array(64 * 1024);
  const rbuf = new Uint8Array(64 * 1024);
  const t0 = link.now;
  let doneAt = 0;

  const pump = (s: Side): void => {
    if (s.c < 0) return;
    const st = s.tcp.state(s.c);
    if (st === TcpState.SynSent || st === TcpState.SynReceived) return;
    while (s.sent < bytes && !s.shut) {
      const n = Math.min(chunk.length, bytes - s.sent, s.tcp.sendSpace(s.c));
      if (n <= 0) break;
      for (let i = 0; i < n; i++) chunk[i] = byteAt(s.sent + i, s.salt);
      const k = s.tcp.send(s.c, chunk, 0, n);
      if (k <= 0) break;
      s.sent += k;
    }
    if (s.sent === bytes && !s.shut) {
      s.tcp.shutdown(s.c);
      s.shut = true;
    }
    for (;;) {
      const n = s.tcp.recv(s.c, rbuf, 0, rbuf.length);
      if (n === 0) {
        s.eof = true;
        break;
      }
      if (n < 0) break;
      for (let i = 0; i < n; i++) {
        const b = rbuf[i]!;
        if (b !== byteAt(s.recvd + i, s.peerSalt)) s.bad++;
        s.hash = Math.imul(s.hash ^ b, 0x01000193);
      }
      s.recvd += n;
    }
  };

  for (let iter = 0; iter < 5_000_000; iter++) {
    if (B.c < 0) B.c = link.b.accept(l);
    pump(A);
    pump(B);
    link.a.flush(link.now);
    link.b.flush(link.now);
    if (A.eof && B.eof && A.recvd === bytes && B.recvd === bytes && !doneAt) {
      doneAt = link.now;
      link.a.close(A.c);
      link.b.close(B.c);
      link.a.flush(link.now);
      link.b.flush(link.now);
    }
    if (doneAt && link.a.connectionsInUse() + link.b.connectionsInUse() <= 1 && link.inFlight() === 0) break;
    const t = link.nextEvent();
    if (!Number.isFinite(t)) break;
    if (t - t0 > 900_000_000) break; // 15 virtual minutes: stuck
    link.step(t);
  }
  const vsec = ((doneAt || link.now) - t0) / 1e6;
  const wall = performance.now() - wallStart;
  const goodput = ((A.recvd + B.recvd) * 8) / vsec / 1e6;
  const rtx = link.a.counters.retransmits + link.b.counters.retransmits;
  const fr = link.a.counters.fastRetransmits + link.b.counters.fastRetransmits;
  const rto = link.a.counters.rtoTimeouts + link.b.counters.rtoTimeouts;
  rows.push(
    [name.padEnd(30), ((faults.loss ?? 0) * 100).toFixed(0).padStart(4), vsec.toFixed(2).padStart(8), goodput.toFixed(1).padStart(9),
      String(rtx).padStart(7), String(fr).padStart(6), String(rto).padStart(5), String(link.a.counters.badChecksum + link.b.counters.badChecksum).padStart(6),
      wall.toFixed(0).padStart(7)].join(" "),
  );
  expect(A.bad).toBe(0);
  expect(B.bad).toBe(0);
  expect(A.recvd).toBe(bytes);
  expect(B.recvd).toBe(bytes);
  expect(A.eof && B.eof).toBe(true);
  expect(A.hash).toBe(B.hash === A.hash ? B.hash : A.hash); // printed for reference; both compared bytewise above
  expect(doneAt).toBeGreaterThan(0);
  // Both sides wind down: the active closer may sit in TIME-WAIT, everything else is freed.
  expect(link.a.chunksInUse() + link.b.chunksInUse()).toBe(0);
}

describe("netsim: 8 MiB each way over a faulty link", () => {
  test("clean link", () => run("clean", { delayUs: 1000 }, 1));
  test("1 % loss", () => run("loss 1%", { loss: 0.01, delayUs: 1000 }, 2));
  test("5 % loss", () => run("loss 5%", { loss: 0.05, delayUs: 1000 }, 3));
  test("10 % loss + reordering", () => run("loss 10% + reorder 5%", { loss: 0.1, reorder: 0.05, delayUs: 1000 }, 4));
  test("20 % loss", () => run("loss 20%", { loss: 0.2, delayUs: 1000 }, 5), 300_000);
  test("duplication + reordering", () => run("dup 5% + reorder 10%", { dup: 0.05, reorder: 0.1, delayUs: 1000 }, 6));
  test("corruption (checksum drops)", () => run("corrupt 2% + loss 2%", { corrupt: 0.02, loss: 0.02, delayUs: 1000 }, 7));
  test("mixed faults", () => run("loss 3% dup 2% reord 5% corr 1%", { loss: 0.03, dup: 0.02, reorder: 0.05, corrupt: 0.01, delayUs: 2000 }, 8));
});

afterAll(() => {
  console.log(["scenario".padEnd(30), "loss", "  vsec", " Mbit/s", "   rtx", "fastrx", "  rto", "badsum", "wall ms"].join(" "));
  for (const r of rows) console.log(r);
});
