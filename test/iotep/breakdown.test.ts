/**
 * RequestBreakdown (iotepserver --breakdown): a request's time split into
 * queue (arrival -> Redis call), flush (call -> the nextTick when ioredis
 * writes) and redis (write -> last callback), on a manual clock and a
 * hand-run nextTick queue.
 */
import { expect, test } from "bun:test";
import { RequestBreakdown } from "../../apps/iotep/breakdown";

test("queue, flush and redis per request; one tick serves every call made before it", () => {
  let t = 0;
  const ticks: (() => void)[] = [];
  const b = new RequestBreakdown(4, () => t, (f) => void ticks.push(f));
  t = 1000;
  b.issued(0, 900); // queued 100 us
  t = 1050;
  b.issued(1, 1050); // no queueing
  expect(ticks.length).toBe(1);
  t = 1300;
  ticks.shift()!(); // ioredis' flush: 300 and 250 us after the calls
  t = 1800;
  b.done(1); // 500 us in Redis
  t = 2000;
  b.done(0); // 700 us
  expect(b.queue.totalCount).toBe(2);
  expect(b.queue.maxValue).toBe(100);
  expect(b.flush.minNonZeroValue).toBe(250);
  expect(b.flush.maxValue).toBe(300);
  expect(b.redis.minNonZeroValue).toBe(500);
  expect(b.redis.maxValue).toBe(700);
  // A request completing before its flush was seen (not possible with ioredis) records no Redis time.
  b.issued(2, 2000);
  b.done(2);
  expect(b.redis.totalCount).toBe(2);
});
