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
 * Such connections are listed here (F_POOL_WAIT, once each, oldest first) and
 * told Writable by flush() as chunks free, one waiter per free chunk; one that
 * is refused again is listed again at the end. The list has a fixed size; past
 * it the flag alone marks a waiter and the wake-up scans the table for them.
 */
import { F_APP_OWNED, F_POOL_WAIT, F_USED, F_WANT_WRITABLE } from "./conn-table";
import { TcpEvent } from "./events";
import type { TcpLayer } from "./tcp-layer";

export const POOL_WAIT_SLOTS = 4096;

export class PoolWaiters {
  /** A FIFO ring of waiting ids. */
  private readonly ids: Int32Array;
  private head = 0;
  private count = 0;
  /** Some waiter is flagged but not in the ring: the wake-up scans the table from scanFrom. */
  private overflow = false;
  private scanFrom = 0;

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
    const ids = this.ids;
    if (this.count < ids.length) ids[(this.head + this.count++) % ids.length] = c;
    else this.overflow = true;
  }

  /**
   * From flush(): tell Writable to as many waiters as the pool has free chunks,
   * oldest first (the others stay listed for the next flush). Waking every
   * waiter whenever one chunk frees made them all retry and fail again, round
   * after round (measured: 254 M refusals in one 1 M run, the generator on a
   * full core).
   */
  wake(t: TcpLayer): void {
    if (!this.pending) return;
    let budget = t.pool.available();
    if (budget === 0) return;
    const ids = this.ids;
    while (this.count > 0 && budget > 0) {
      const c = ids[this.head]!;
      this.head = (this.head + 1) % ids.length;
      this.count--;
      if (wakeOne(t, c)) budget--;
    }
    if (this.overflow && budget > 0) {
      const flags = t.conns.flags;
      const cap = t.conns.capacity;
      let c = this.scanFrom;
      let seen = 0;
      for (; seen < cap && budget > 0; seen++) {
        if ((flags[c]! & F_POOL_WAIT) !== 0 && wakeOne(t, c)) budget--;
        c = c + 1 === cap ? 0 : c + 1;
      }
      this.scanFrom = c;
      // A whole pass with chunks to spare: nobody is left outside the ring.
      if (seen === cap && budget > 0) this.overflow = false;
    }
  }
}

/** Tell c Writable if it still waits; returns whether it did. */
function wakeOne(t: TcpLayer, c: number): boolean {
  const flags = t.conns.flags;
  const f = flags[c]!;
  if ((f & F_POOL_WAIT) === 0) return false;
  flags[c] = f & ~(F_POOL_WAIT | F_WANT_WRITABLE);
  if ((f & (F_USED | F_APP_OWNED)) !== (F_USED | F_APP_OWNED)) return false;
  t.counters.sndPoolWakeups++;
  t.events.event(c, TcpEvent.Writable, t.sendSpace(c));
  return true;
}
