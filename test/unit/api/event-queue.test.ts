import { describe, expect, test } from "bun:test";
import { EventQueue, PriorityEventQueues } from "../../../src/api/event-queue";

describe("event queues", () => {
  test("FIFO order survives growth past the initial capacity", () => {
    const q = new EventQueue(16);
    const out = new Int32Array(3);
    for (let i = 0; i < 10; i++) q.event(i, 1, -i);
    for (let i = 0; i < 5; i++) expect(q.pop(out)).toBe(true);
    for (let i = 10; i < 100; i++) q.event(i, 2, -i);
    const got: number[] = [];
    while (q.pop(out)) {
      got.push(out[0]!);
      expect(out[2]).toBe(-out[0]!);
    }
    expect(got).toEqual(Array.from({ length: 95 }, (_, i) => i + 5));
    expect(q.size).toBe(0);
  });

  test("a high event raised while lows are pending comes out before the remaining lows", () => {
    let cls = 1;
    const q = new PriorityEventQueues(2, () => cls);
    const out = new Int32Array(3);
    q.event(1, 2, 0);
    q.event(2, 2, 0);
    q.event(3, 2, 0);
    expect(q.pop(out)).toBe(true);
    expect(out[0]).toBe(1);
    cls = 0;
    q.event(9, 2, 0);
    const rest: number[] = [];
    while (q.pop(out)) rest.push(out[0]!);
    expect(rest).toEqual([9, 2, 3]);
    expect(Array.from(q.delivered)).toEqual([1, 3]);
  });

  test("an out-of-range class files under the lowest class", () => {
    const q = new PriorityEventQueues(3, () => 7);
    q.event(5, 1, 0);
    expect(q.queues[2]!.size).toBe(1);
  });
});
