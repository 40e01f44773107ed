/**
 * Writers refused for want of buffer chunks. send() queues bytes in chunks of
 * one pool shared by every connection's send and receive buffers (memory-plan.ts
 * sizes it below the sum of the buffers). When the pool is empty, send()
 * accepts fewer bytes than the connection's own buffer has room for and the
 * application waits for Writable, as it does for a full buffer. But Writable
 * used to come only from an ACK of this connection's data (ack.ts), and a
 * connection with nothing in flight gets none: its bytes then waited forever
 * (bench iotep, mcc at 1 M connections: 14,442 messages of 200 bytes stranded
 * in the generator when the run ended, every send buffer empty).
 *
 * Such connections are listed here (F_POOL_WAIT, once each) and told Writable
 * at the first flush() that finds the pool with a free chunk again; one that
 * is refused again is listed again. The list has a fixed size; past it the
 * flag alone marks a waiter and the wake-up scans the table (rare: it takes
 * that many refused writers at once).
 */
import { F_APP_OWNED, F_POOL_WAIT, F_USED, F_WANT_WRITABLE } from "./conn-table";
import { TcpEvent } from "./events";
import type { TcpLayer } from "./tcp-layer";

export const POOL_WAIT_SLOTS = 4096;

export class PoolWaiters {
  private readonly ids: Int32Array;
  private count = 0;
  private overflow = false;

  constructor(maxConnections: number) {
    this.ids = new Int32Array(Math.min(maxConnections, POOL_WAIT_SLOTS));
  }

  /** Anyone waiting? */
  get pending(): boolean {
    return this.count > 0 || this.overflow;
  }

  /** Connection c's send was cut short by the empty pool. */
  add(t: TcpLayer, c: number): void {
    const flags = t.conns.flags;
    const f = flags[c]!;
    if ((f & F_POOL_WAIT) !== 0) return;
    flags[c] = f | F_POOL_WAIT | F_WANT_WRITABLE;
    t.counters.sndPoolWaits++;
    if (this.count < this.ids.length) this.ids[this.count++] = c;
    else this.overflow = true;
  }

  /** Tell the waiters Writable if the pool has a chunk again (from flush()). */
  wake(t: TcpLayer): void {
    if (!this.pending || t.pool.available() === 0) return;
    const ids = this.ids;
    const n = this.count;
    this.count = 0;
    for (let i = 0; i < n; i++) wakeOne(t, ids[i]!);
    if (this.overflow) {
      this.overflow = false;
      const flags = t.conns.flags;
      for (let c = 0; c < t.conns.capacity; c++) if ((flags[c]! & F_POOL_WAIT) !== 0) wakeOne(t, c);
    }
  }
}

function wakeOne(t: TcpLayer, c: number): void {
  const flags = t.conns.flags;
  const f = flags[c]!;
  if ((f & F_POOL_WAIT) === 0) return;
  flags[c] = f & ~(F_POOL_WAIT | F_WANT_WRITABLE);
  if ((f & (F_USED | F_APP_OWNED)) !== (F_USED | F_APP_OWNED)) return;
  t.counters.sndPoolWakeups++;
  t.events.event(c, TcpEvent.Writable, t.sendSpace(c));
}
