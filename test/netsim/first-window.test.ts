/**
 * The rare stall of bench/conns at 100,000 connections (issue 3), in virtual time: two TcpLayers
 * with bench/conns' settings (16 KiB buffers, NODELAY) run its exchange -- connect, a 16-byte
 * message echoed, half-close by the opener, close by the acceptor on the peer's FIN -- with the
 * initial sequence numbers forced to the values that broke it.
 *
 * The first window of a connection was measured against an unset RCV.ADV (output.ts
 * advertiseWindow): a SYN-ACK offered a zero window when the opener's ISS + 1 lay within
 * RCV.BUFF below 2^31 (16 Ki of 4 Gi values: about 0.4 connections per 100 k run). The opener's
 * data then waited on the persist timer, and its zero-window probes were never answered (a probe
 * at RCV.NXT was processed for its ACK and its byte dropped without a reply), while the acceptor,
 * having nothing to read, had no reason to send a window update: the opener sat in FIN-WAIT-1 with
 * the message unsent and a one-byte probe outstanding, for ever (before the fix this test saw 9
 * probes in two minutes and no close). The opener's first ACK had the same fault when the
 * acceptor's ISS + 1 lay within RCV.BUFF above -2^31; its next segment healed that one.
 */
import { describe, expect, test } from "bun:test";
import { TcpEvent } from "../../src/tcp/events";
import { TcpState } from "../../src/tcp/state";
import type { TcpLayer } from "../../src/tcp/tcp-layer";
import { TcpLink } from "../helpers/tcp-fixtures";

const PORT = 7000;

function forceIsn(t: TcpLayer, iss: number): void {
  (t.isn as unknown as { isn: () => number }).isn = () => iss;
}

/** bench/conns' exchange over a clean link; returns what each side saw. */
function exchange(issA: number, issB: number): { echoed: number; aState: number; bState: number; aClosed: boolean; bClosed: boolean; probes: number } {
  const link = new TcpLink({ delayUs: 100 }, 3, { sndBufBytes: 16 * 1024, rcvBufBytes: 16 * 1024, noDelay: true, timeWaitUs: 1_000_000 });
  forceIsn(link.a, issA);
  forceIsn(link.b, issB);
  const l = link.b.listen(link.ipB, PORT, 16);
  const c = link.a.connect(link.now, link.ipA, 40000, link.ipB, PORT);
  const run = (untilUs: number, done: () => boolean) => {
    for (let i = 0; i < 200_000 && !done(); i++) {
      const t = link.nextEvent();
      if (!Number.isFinite(t) || t > untilUs) break;
      link.step(t);
    }
  };
  run(link.now + 1_000_000, () => link.evA.has(TcpEvent.Connected, c) && link.evB.has(TcpEvent.Accept, l));
  const s = link.b.accept(l);
  expect(s).toBeGreaterThanOrEqual(0);
  const msg = new Uint8Array(16).fill(0x5a);
  expect(link.a.send(c, msg, 0, 16)).toBe(16);
  link.a.shutdown(c);
  link.a.flush(link.now);
  const buf = new Uint8Array(64);
  let echoed = 0;
  let bClosed = false;
  const end = link.now + 120_000_000; // two minutes: bench/conns waits 60 s
  for (let i = 0; i < 200_000; i++) {
    // The acceptor echoes what it reads and closes on the peer's FIN (bench/conns-stage.ts ConnServer).
    for (;;) {
      const n = link.b.recv(s, buf, 0, buf.length);
      if (n <= 0) break;
      link.b.send(s, buf, 0, n);
    }
    if (!bClosed && link.evB.has(TcpEvent.PeerFin, s)) {
      link.b.close(s);
      bClosed = true;
    }
    for (;;) {
      const n = link.a.recv(c, buf, 0, buf.length);
      if (n <= 0) break;
      echoed += n;
    }
    if ((link.evA.has(TcpEvent.Closed, c) || link.a.state(c) === TcpState.TimeWait) && link.b.state(s) === TcpState.Closed) break;
    const t = link.nextEvent();
    if (!Number.isFinite(t) || t > end) break;
    link.step(t);
  }
  return {
    echoed, aState: link.a.state(c), bState: link.b.state(s), aClosed: link.evA.has(TcpEvent.Closed, c) || link.a.state(c) === TcpState.TimeWait,
    bClosed, probes: link.a.counters.persistProbes + link.b.counters.persistProbes,
  };
}

describe("the first window of a connection (bench/conns' rare zero-window stall)", () => {
  const cases: [string, number, number][] = [
    ["ordinary sequence numbers", 0x10000000, 0x20000000],
    ["the opener's ISS + 1 just below 2^31 (the SYN-ACK's window)", 0x7fffff00, 0x20000000],
    ["the acceptor's ISS + 1 just above -2^31 (the opener's first ACK's window)", 0x10000000, -0x80000000],
    ["both", 0x7fffbfff, -0x7fffff00],
  ];
  for (const [name, issA, issB] of cases) {
    test(`${name}: the message is echoed and both sides close without probing`, () => {
      const r = exchange(issA, issB);
      expect(r).toEqual({ echoed: 16, aState: TcpState.TimeWait, bState: TcpState.Closed, aClosed: true, bClosed: true, probes: 0 });
    });
  }
});
