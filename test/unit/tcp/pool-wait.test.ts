import { describe, expect, test } from "bun:test";
import { TcpEvent } from "../../../src/tcp/events";
import { ACK, drain, established, pattern } from "../../helpers/tcp-fixtures";

describe("a send cut short by the empty buffer pool (pool-wait.ts)", () => {
  const ways = [
    ["send", (k: ReturnType<typeof established>, n: number) => k.h.tcp.send(k.c, pattern(n), 0, n)],
    ["sendAhead (message mode)", (k: ReturnType<typeof established>, n: number) => k.h.tcp.sendAhead(k.c, pattern(n), 0, n)],
  ] as const;
  for (const [name, send] of ways) {
    test(`${name}: Writable follows when a chunk frees, though the connection has nothing in flight`, () => {
      // Four 1 KiB chunks shared by both directions; the peer's unread data takes them all.
      const k = established({ cfg: { chunkBytes: 1024, chunkCount: 4, sndBufBytes: 8192, rcvBufBytes: 8192 } });
      for (let i = 0; i < 4; i++) k.peer.send(ACK, pattern(1000));
      expect(k.h.tcp.pool.available()).toBe(0);
      expect(k.h.tcp.sendQueued(k.c)).toBe(0);
      // Room in the connection's own buffer, none in the pool: nothing queued, the application waits for Writable.
      expect(send(k, 200)).toBe(0);
      expect(k.h.tcp.counters.sndPoolWaits).toBe(1);
      expect(send(k, 200)).toBe(0);
      expect(k.h.tcp.counters.sndPoolWaits).toBe(1);
      k.h.ev.clear();
      k.h.flush();
      expect(k.h.ev.has(TcpEvent.Writable, k.c)).toBe(false);
      // No ACK of ours will ever come (nothing was sent): reading frees the chunks, the next flush says Writable.
      expect(drain(k.h, k.c).length).toBe(4000);
      expect(k.h.tcp.pool.available()).toBe(4);
      k.h.flush();
      expect(k.h.ev.has(TcpEvent.Writable, k.c)).toBe(true);
      expect(k.h.tcp.counters.sndPoolWakeups).toBe(1);
      expect(send(k, 200)).toBe(200);
      // Told once: another flush says nothing more.
      k.h.ev.clear();
      k.h.flush();
      expect(k.h.ev.has(TcpEvent.Writable, k.c)).toBe(false);
    });
  }
});

describe("waking pool waiters", () => {
  test("one waiter per free chunk per flush, oldest first; the rest wait for the next", async () => {
    const { PoolWaiters } = await import("../../../src/tcp/pool-wait");
    const k = established({ cfg: { chunkBytes: 1024, chunkCount: 4 } });
    const t = k.h.tcp;
    // Fake waiters on free ids (not application-owned: not told, but they do not take budget either) plus ours.
    const w = new PoolWaiters(8);
    w.add(t, k.c);
    expect(w.pending).toBe(true);
    // Pool full of chunks taken: no wake-up.
    const taken: number[] = [];
    while (t.pool.available() > 0) taken.push(t.pool.alloc());
    k.h.ev.clear();
    w.wake(t);
    expect(k.h.ev.has(TcpEvent.Writable, k.c)).toBe(false);
    expect(w.pending).toBe(true);
    t.pool.free(taken.pop()!);
    w.wake(t);
    expect(k.h.ev.has(TcpEvent.Writable, k.c)).toBe(true);
    expect(w.pending).toBe(false);
    for (const x of taken) t.pool.free(x);
  });
});
