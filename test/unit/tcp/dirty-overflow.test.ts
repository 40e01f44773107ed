/**
 * The dirty list (connections with output pending until the next flush) has
 * dirtySlots(maxConnections) entries, at most 65536; connections marked past it
 * are found by a scan of the connection table. Here the list holds 2 entries.
 */
import { expect, test } from "bun:test";
import { makeTcpConfig } from "../../../src/tcp/config";
import { dirtySlots, TcpLayer } from "../../../src/tcp/tcp-layer";
import type { L4Tx } from "../../../src/net/l4-tx";
import { seededRng } from "../../helpers/tcp-fixtures";

const sink = { event(): void {} };

/** Segments queued in place (at most `slots` until deliver()); deliver() hands them to the peer. */
class QueueTx implements L4Tx {
  readonly mem = new Uint8Array(2048 * 64);
  readonly dv = new DataView(this.mem.buffer);
  readonly maxL4Bytes = 1480;
  readonly lens = new Int32Array(64);
  readonly srcs = new Int32Array(64);
  readonly dsts = new Int32Array(64);
  count = 0;
  peer: TcpLayer | null = null;
  constructor(public slots = 64) {}
  begin(): number {
    return this.count < this.slots ? this.count * 2048 : -1;
  }
  commit(src: number, dst: number, _p: number, len: number, _prio: number): void {
    this.lens[this.count] = len;
    this.srcs[this.count] = src;
    this.dsts[this.count] = dst;
    this.count++;
  }
  abort(): void {}
  deliver(now: number): number {
    const n = this.count;
    for (let i = 0; i < n; i++) this.peer!.input(now, this.mem, this.dv, i * 2048, this.lens[i]!, this.srcs[i]!, this.dsts[i]!);
    this.count = 0;
    return n;
  }
}

function pair(conns: number, txSlots: number, dirtyCap = 2) {
  const cfg = makeTcpConfig({ maxConnections: 16, chunkCount: 256, noDelay: true });
  const ta = new QueueTx();
  const tb = new QueueTx();
  const a = new TcpLayer({ config: cfg, tx: ta, rng: seededRng(1), nowUs: 0, events: sink, dirtyCap });
  const b = new TcpLayer({ config: cfg, tx: tb, rng: seededRng(2), nowUs: 0, events: sink });
  ta.peer = b;
  tb.peer = a;
  const settle = (now: number): void => {
    for (let k = 0; k < 100; k++) {
      a.flush(now);
      b.flush(now);
      if (ta.deliver(now) + tb.deliver(now) === 0) break;
    }
  };
  const lb = b.listen(0x0a000002, 80, 16);
  const ca: number[] = [];
  for (let i = 0; i < conns; i++) ca.push(a.connect(0, 0x0a000001, 5000 + i, 0x0a000002, 80));
  settle(0);
  const cb: number[] = [];
  for (let i = 0; i < conns; i++) cb.push(b.accept(lb));
  expect(cb.every((c) => c >= 0)).toBe(true);
  ta.slots = txSlots;
  let now = 1000;
  /**
   * Up to `max` rounds 10 us apart (A flushes, never more than txSlots segments
   * at once; B takes them and flushes), ending early once `want` went out;
   * returns the segments delivered.
   */
  const rounds = (max: number, want = Number.POSITIVE_INFINITY): number => {
    let delivered = 0;
    for (let round = 0; round < max && delivered < want; round++) {
      a.flush(now);
      expect(ta.count).toBeLessThanOrEqual(txSlots);
      delivered += ta.deliver(now);
      b.flush(now);
      now += 10;
    }
    return delivered;
  };
  return { a, b, ta, tb, ca, cb, settle, rounds, now: () => now };
}

test("dirtySlots: one per connection up to 65536", () => {
  expect(dirtySlots(1000)).toBe(1000);
  expect(dirtySlots(10_000_000)).toBe(65536);
});

test("connections marked past a full dirty list are all flushed (table scan)", () => {
  const { a, b, ta, ca, cb } = pair(10, 64);
  const msg = new Uint8Array(100).fill(7);
  for (const c of ca) expect(a.send(c, msg, 0, 100)).toBe(100);
  expect(a.pollAt()).toBe(a.nowUs); // output pending
  a.flush(1000);
  expect(ta.count).toBe(10); // every connection sent its segment in one flush
  ta.deliver(1000);
  const buf = new Uint8Array(200);
  for (const c of cb) expect(b.recv(c, buf, 0, 200)).toBe(100);
});

test("a refused transmit stops the scan; later flushes go on where it stopped until every connection has sent", () => {
  const { a, b, ca, cb, rounds, now } = pair(10, 3);
  const msg = new Uint8Array(100).fill(9);
  for (const c of ca) expect(a.send(c, msg, 0, 100)).toBe(100);
  expect(rounds(20, 10)).toBe(10);
  const buf = new Uint8Array(200);
  for (const c of cb) expect(b.recv(c, buf, 0, 200)).toBe(100);
  expect(a.pollAt()).toBeGreaterThan(now()); // nothing pending any more (only timers)
});

test("flushes cut short by refusals serve every marked connection once as the dirty list wraps around (a ring)", () => {
  // 7 list slots, 2 transmit slots per flush: every flush leaves the list's rest for the next.
  const { a, b, ca, cb, rounds, now } = pair(6, 2, 7);
  const buf = new Uint8Array(400);
  for (let wave = 0; wave < 4; wave++) {
    // Marked in a different order each wave, so the ring's start moves around it.
    const marks = ca.map((_, i) => (i + wave) % ca.length);
    for (const i of marks) expect(a.send(ca[i]!, new Uint8Array([wave, i]), 0, 2)).toBe(2);
    // One segment per connection (none lost, none twice), each with its own bytes.
    expect(rounds(10)).toBe(6);
    for (const i of marks) {
      expect(b.recv(cb[i]!, buf, 0, 400)).toBe(2);
      expect([buf[0], buf[1]]).toEqual([wave, i]);
    }
  }
  expect(a.pollAt()).toBeGreaterThan(now());
});
