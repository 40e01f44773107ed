/**
 * Where a request's time goes inside the iotepserver (--breakdown), to find
 * the causes of the wire latency tail. Per request, in integer us:
 *
 *   queue:  arrival (the read in the poll round) -> its first Redis call
 *           (waiting for a slot or behind an earlier message of the connection);
 *   flush:  that call -> the write to Redis' socket that carries it (with a
 *           store that reports its writes: store.afterNextWrite; ioredis'
 *           auto-pipeline writes on setImmediate, and not before the
 *           connection's previous pipeline has all its replies), else the
 *           process.nextTick after the call;
 *   redis:  the write -> the last command's callback (Redis itself and Bun's
 *           event loop getting to the socket; all three commands in
 *           --redis-mode commands);
 *
 * and, from the wire: rx burst -> reply's tx burst minus these is what the
 * stack adds after the callback.
 *
 * With each request's Redis call the server passes how many other messages
 * were in Redis at that moment (sent earlier on the same connection, so Redis
 * runs them first): `ahead` is that count for every request, `aheadSlow` for
 * the requests whose Redis time exceeded SLOW_REDIS_US, and `redisAlone` the
 * Redis time of the requests that had nothing ahead. Whether the tail comes
 * from the pipeline (heartbeats ahead) or from elsewhere (Redis or the server
 * waiting for a CPU) shows in how they differ. Nothing is allocated per
 * request.
 */
import { newLatencyHistogram, recordUs, type Histogram } from "./latency";

/** A request's Redis time above this counts as slow for `aheadSlow`, us. */
export const SLOW_REDIS_US = 1000;

export class RequestBreakdown {
  readonly queue: Histogram = newLatencyHistogram();
  readonly flush: Histogram = newLatencyHistogram();
  readonly redis: Histogram = newLatencyHistogram();
  /** Messages in Redis when a request was sent (a count, not us). */
  readonly ahead: Histogram = newLatencyHistogram();
  readonly aheadSlow: Histogram = newLatencyHistogram();
  /** Redis time of requests sent with nothing ahead, us. */
  readonly redisAlone: Histogram = newLatencyHistogram();
  private readonly issueUs: Float64Array;
  private readonly aheadOf: Int32Array;
  private readonly flushUs: Float64Array;
  private readonly waiting: Int32Array;
  private nWaiting = 0;
  private tickScheduled = false;
  private readonly onTick: () => void;

  constructor(
    slots: number,
    private readonly clockUs: () => number,
    /** How to run code when the request is written (default: right after the current macrotask). */
    nextTick: (f: () => void) => void = process.nextTick,
  ) {
    this.issueUs = new Float64Array(slots);
    this.flushUs = new Float64Array(slots);
    this.waiting = new Int32Array(slots);
    this.aheadOf = new Int32Array(slots);
    const tick = (): void => {
      this.tickScheduled = false;
      const t = this.clockUs();
      const w = this.waiting;
      for (let i = 0; i < this.nWaiting; i++) {
        const s = w[i]!;
        this.flushUs[s] = t;
        recordUs(this.flush, t - this.issueUs[s]!);
      }
      this.nWaiting = 0;
    };
    this.onTick = () => nextTick(tick);
  }

  /** Slot `s` (a request that arrived at `arrivalUs`) made its first Redis call now, with `ahead` messages in Redis. */
  issued(s: number, arrivalUs: number, ahead = 0): void {
    const t = this.clockUs();
    this.issueUs[s] = t;
    this.flushUs[s] = -1;
    this.aheadOf[s] = ahead;
    recordUs(this.queue, t - arrivalUs);
    recordUs(this.ahead, ahead);
    // (A slot can be reissued before the tick only with a store that completes at once: then it is not timed.)
    if (this.nWaiting < this.waiting.length) this.waiting[this.nWaiting++] = s;
    if (!this.tickScheduled) {
      this.tickScheduled = true;
      this.onTick();
    }
  }

  /** Slot `s`'s request completed (its last callback ran). */
  done(s: number): void {
    const f = this.flushUs[s]!;
    if (f < 0) return;
    const us = this.clockUs() - f;
    recordUs(this.redis, us);
    if (this.aheadOf[s] === 0) recordUs(this.redisAlone, us);
    if (us > SLOW_REDIS_US) recordUs(this.aheadSlow, this.aheadOf[s]!);
  }

  reset(): void {
    this.queue.reset();
    this.flush.reset();
    this.redis.reset();
    this.ahead.reset();
    this.aheadSlow.reset();
    this.redisAlone.reset();
  }
}
