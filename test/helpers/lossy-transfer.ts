/**
 * One bulk transfer from a to b over a seeded lossy TcpLink (1 ms each way), for the netsim
 * loss tests: the sender writes a known pattern, the receiver reads and checks every byte.
 * Returns the link (its counters) and the virtual seconds it took; asserts the data arrived
 * intact. Stops early (and the assertion fails) past `limitUs` of virtual time.
 */
import { expect } from "bun:test";
import type { TcpConfig } from "../../src/tcp/config";
import { TcpState } from "../../src/tcp/state";
import { TcpLink } from "./tcp-fixtures";

export function lossyTransfer(loss: number, seed: number, bytes: number, limitUs: number, cfg: Partial<TcpConfig> = {}): { link: TcpLink; vsec: number } {
  const link = new TcpLink({ loss, delayUs: 1000 }, seed, { sndBufBytes: 256 * 1024, rcvBufBytes: 256 * 1024, chunkCount: 4096, ...cfg });
  const l = link.b.listen(link.ipB, 5001, 4);
  const c = link.a.connect(link.now, link.ipA, 0, link.ipB, 5001);
  const chunk = new Uint8Array(64 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 7) & 0xff;
  const rbuf = new Uint8Array(64 * 1024);
  let s = -1;
  let sent = 0;
  let got = 0;
  let bad = 0;
  const t0 = link.now;
  for (let iter = 0; iter < 4_000_000 && got < bytes; iter++) {
    if (s < 0) s = link.b.accept(l);
    if (link.a.state(c) === TcpState.Established) {
      while (sent < bytes) {
        const n = link.a.send(c, chunk, sent % chunk.length, Math.min(chunk.length - (sent % chunk.length), bytes - sent));
        if (n <= 0) break;
        sent += n;
      }
    }
    if (s >= 0) {
      for (;;) {
        const n = link.b.recv(s, rbuf, 0, rbuf.length);
        if (n <= 0) break;
        for (let i = 0; i < n; i++) if (rbuf[i] !== (((got + i) % chunk.length) * 7 & 0xff)) bad++;
        got += n;
      }
    }
    link.a.flush(link.now);
    link.b.flush(link.now);
    const t = link.nextEvent();
    if (!Number.isFinite(t) || t - t0 > limitUs) break;
    link.step(t);
  }
  expect(bad).toBe(0);
  expect(got).toBe(bytes);
  return { link, vsec: (link.now - t0) / 1e6 };
}
