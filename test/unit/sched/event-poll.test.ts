import { describe, expect, test } from "bun:test";
import { heapStats } from "bun:jsc";
import {
  EBADF,
  EEXIST,
  EINVAL,
  ENOENT,
  EPOLLERR,
  EPOLLET,
  EPOLLHUP,
  EPOLLIN,
  EPOLLONESHOT,
  EPOLLOUT,
  EPOLLRDHUP,
  EventPoll,
} from "../../../src/sched/event-poll";

const HIGH = 0;
const LOW = 1;

/** Call wait and return [id, events] pairs. */
function waitAll(ep: EventPoll, max = 64, opts?: { highBatch?: number; lowBatch?: number }): [number, number][] {
  const out = new Int32Array(2 * max);
  const n = ep.wait(out, max, opts);
  const r: [number, number][] = [];
  for (let i = 0; i < n; i++) r.push([out[2 * i]!, out[2 * i + 1]!]);
  return r;
}

const ids = (pairs: [number, number][]): number[] => pairs.map((p) => p[0]);

describe("EventPoll ctl", () => {
  test("add, mod, del return 0 or the epoll_ctl(2) errno", () => {
    const ep = new EventPoll({ capacity: 8 });
    expect(ep.ctl("add", 3, EPOLLIN, LOW, 42)).toBe(0);
    expect(ep.ctl("add", 3, EPOLLIN, LOW)).toBe(-EEXIST);
    expect(ep.ctl("mod", 4, EPOLLIN, LOW)).toBe(-ENOENT);
    expect(ep.ctl("del", 4)).toBe(-ENOENT);
    expect(ep.ctl("add", 5, EPOLLIN, 2)).toBe(-EINVAL); // only classes 0..1
    expect(ep.ctl("add", 5, EPOLLIN, -1)).toBe(-EINVAL);
    expect(ep.ctl("bogus" as "add", 5, EPOLLIN, 0)).toBe(-EINVAL);
    expect(ep.userData(3)).toBe(42);
    expect(ep.has(3)).toBe(true);
    expect(ep.registered).toBe(1);
    expect(ep.ctl("del", 3)).toBe(0);
    expect(ep.has(3)).toBe(false);
    expect(ep.registered).toBe(0);
  });

  test("capacity limits: ids 0..capacity-1 only, every slot usable", () => {
    const ep = new EventPoll({ capacity: 4 });
    for (let i = 0; i < 4; i++) expect(ep.ctl("add", i, EPOLLIN, 0)).toBe(0);
    expect(ep.ctl("add", 4, EPOLLIN, 0)).toBe(-EBADF);
    expect(ep.ctl("add", -1, EPOLLIN, 0)).toBe(-EBADF);
    expect(ep.ctl("add", 1.5, EPOLLIN, 0)).toBe(-EBADF);
    expect(ep.registered).toBe(4);
    for (let i = 0; i < 4; i++) ep.notify(i, EPOLLIN);
    ep.notify(4, EPOLLIN); // out of range: ignored, not thrown
    expect(ep.ignored).toBe(1);
    expect(ids(waitAll(ep))).toEqual([0, 1, 2, 3]);
    expect(() => new EventPoll({ capacity: 0 })).toThrow(RangeError);
    expect(() => new EventPoll({ capacity: 4, classes: 9 })).toThrow(RangeError);
  });
});

describe("EventPoll priority", () => {
  test("wait returns higher classes first, FIFO within a class", () => {
    const ep = new EventPoll({ capacity: 16, classes: 3 });
    for (let i = 0; i < 9; i++) ep.ctl("add", i, EPOLLIN | EPOLLET, i % 3);
    // Notify in id order: classes 0,1,2,0,1,2,...
    for (let i = 8; i >= 0; i--) ep.notify(i, EPOLLIN);
    expect(ids(waitAll(ep))).toEqual([6, 3, 0, 7, 4, 1, 8, 5, 2]);
    expect(Array.from(ep.reported)).toEqual([3, 3, 3]);
  });

  test("highBatch and lowBatch bound each call; leftovers come in the next call, still high first", () => {
    const ep = new EventPoll({ capacity: 32 });
    for (let i = 0; i < 10; i++) ep.ctl("add", i, EPOLLIN | EPOLLET, i < 5 ? HIGH : LOW);
    for (let i = 0; i < 10; i++) ep.notify(i, EPOLLIN);
    // 2 highs then 1 low per call: lows get a share even while highs remain.
    expect(ids(waitAll(ep, 64, { highBatch: 2, lowBatch: 1 }))).toEqual([0, 1, 5]);
    expect(ids(waitAll(ep, 64, { highBatch: 2, lowBatch: 1 }))).toEqual([2, 3, 6]);
    expect(ids(waitAll(ep, 64, { highBatch: 2, lowBatch: 1 }))).toEqual([4, 7]);
    expect(ids(waitAll(ep, 2))).toEqual([8, 9]);
    expect(waitAll(ep)).toEqual([]);
  });

  test("re-check: a high event produced while lows are handed out comes before the remaining lows (pull hook)", () => {
    // The pull hook stands for a ring filled concurrently by a stack Worker:
    // on its 2nd call (the re-check before the 2nd low event) a high event lands.
    let pulls = 0;
    const ep: EventPoll = new EventPoll({
      capacity: 16,
      pull: (e) => {
        pulls++;
        if (pulls === 2) e.notify(9, EPOLLIN);
      },
    });
    ep.ctl("add", 9, EPOLLIN | EPOLLET, HIGH);
    for (let i = 1; i <= 4; i++) ep.ctl("add", i, EPOLLIN | EPOLLET, LOW);
    for (let i = 1; i <= 4; i++) ep.notify(i, EPOLLIN);
    expect(ids(waitAll(ep))).toEqual([1, 9, 2, 3, 4]);
    // Called at the start and before each low event but the first (which follows the start).
    expect(pulls).toBe(5);
  });

  test("re-check across calls: with lowBatch 1 a high notified while the app handles a low comes next", () => {
    const ep = new EventPoll({ capacity: 16 });
    ep.ctl("add", 0, EPOLLIN | EPOLLET, HIGH);
    for (let i = 1; i <= 3; i++) {
      ep.ctl("add", i, EPOLLIN | EPOLLET, LOW);
      ep.notify(i, EPOLLIN);
    }
    const order: number[] = [];
    for (let round = 0; round < 10; round++) {
      const got = ids(waitAll(ep, 16, { lowBatch: 1 }));
      if (got.length === 0) break;
      for (const id of got) {
        order.push(id);
        if (id === 1) ep.notify(0, EPOLLIN); // the stack ran while low event 1 was handled
      }
    }
    expect(order).toEqual([1, 0, 2, 3]);
  });

  test("per-event class: a notify may carry its packet's class; a queued id moves up, never down", () => {
    const ep = new EventPoll({ capacity: 8 });
    for (const i of [1, 2, 3]) ep.ctl("add", i, EPOLLIN, LOW);
    ep.ctl("add", 4, EPOLLIN, HIGH);
    ep.notify(1, EPOLLIN);
    ep.notify(2, EPOLLIN);
    ep.notify(3, EPOLLIN, HIGH); // a request arrived on a low-registered connection
    ep.notify(4, EPOLLIN, LOW); // a heartbeat on a high-registered one
    expect(ep.queuedClass(3)).toBe(HIGH);
    expect(ep.queuedClass(4)).toBe(LOW);
    ep.notify(2, EPOLLIN, HIGH); // queued low, now a high event: moves up (to the tail of high)
    ep.notify(3, EPOLLIN, LOW); // queued high: stays high
    expect(ep.queuedClass(2)).toBe(HIGH);
    expect(ep.queuedClass(3)).toBe(HIGH);
    ep.notify(5, EPOLLIN, 7); // unregistered: ignored
    expect(ids(waitAll(ep, 2))).toEqual([3, 2]);
    // Level-triggered ids go back to their registered class after the report.
    expect(ep.queuedClass(3)).toBe(LOW);
    expect(ep.queuedClass(2)).toBe(LOW);
    expect(ids(waitAll(ep))).toEqual([1, 4, 3, 2]);
    // A class beyond the last is the last.
    ep.clear(1, EPOLLIN);
    ep.notify(1, EPOLLIN, 99);
    expect(ep.queuedClass(1)).toBe(LOW);
  });

  test("per-event class during a wait: a reported id raised by a notify comes back in the higher class", () => {
    let pulls = 0;
    const ep = new EventPoll({
      capacity: 8,
      pull: (e) => {
        if (++pulls === 2) e.notify(1, EPOLLIN, HIGH);
      },
    });
    for (const i of [1, 2]) {
      ep.ctl("add", i, EPOLLIN, LOW);
      ep.notify(i, EPOLLIN);
    }
    expect(ids(waitAll(ep))).toEqual([1, 2]);
    expect(ep.queuedClass(1)).toBe(HIGH);
    expect(ep.queuedClass(2)).toBe(LOW);
  });

  test("mod moves a queued id to its new class", () => {
    const ep = new EventPoll({ capacity: 8 });
    ep.ctl("add", 1, EPOLLIN, LOW);
    ep.ctl("add", 2, EPOLLIN, LOW);
    ep.notify(1, EPOLLIN);
    ep.notify(2, EPOLLIN);
    expect(ep.ctl("mod", 2, EPOLLIN, HIGH)).toBe(0);
    expect(ep.prioOf(2)).toBe(HIGH);
    expect(ids(waitAll(ep))).toEqual([2, 1]);
  });
});

describe("EventPoll triggering", () => {
  test("level-triggered: reported on every wait until cleared, round robin within a class", () => {
    const ep = new EventPoll({ capacity: 8 });
    for (const i of [1, 2, 3]) {
      ep.ctl("add", i, EPOLLIN, LOW);
      ep.notify(i, EPOLLIN);
    }
    expect(ids(waitAll(ep, 2))).toEqual([1, 2]);
    // 3 was not reached: it comes first now, and 1, 2 are behind it.
    expect(ids(waitAll(ep, 2))).toEqual([3, 1]);
    ep.clear(2, EPOLLIN);
    expect(ids(waitAll(ep))).toEqual([3, 1]);
    ep.clear(1, EPOLLIN);
    ep.clear(3, EPOLLIN);
    expect(waitAll(ep)).toEqual([]);
  });

  test("a level-triggered id is reported at most once per call", () => {
    const ep = new EventPoll({ capacity: 4 });
    ep.ctl("add", 0, EPOLLIN, HIGH);
    ep.notify(0, EPOLLIN);
    expect(waitAll(ep, 8)).toEqual([[0, EPOLLIN]]);
    expect(waitAll(ep, 8)).toEqual([[0, EPOLLIN]]);
  });

  test("edge-triggered: reported once per notify", () => {
    const ep = new EventPoll({ capacity: 8 });
    ep.ctl("add", 1, EPOLLIN | EPOLLOUT | EPOLLET, LOW);
    ep.notify(1, EPOLLIN);
    ep.notify(1, EPOLLIN); // two edges before a wait: one report (as Linux)
    expect(waitAll(ep)).toEqual([[1, EPOLLIN]]);
    expect(waitAll(ep)).toEqual([]);
    ep.notify(1, EPOLLOUT);
    expect(waitAll(ep)).toEqual([[1, EPOLLOUT]]);
    expect(waitAll(ep)).toEqual([]);
  });

  test("the readiness hook re-checks level-triggered ids before reporting them", () => {
    const level = new Int32Array(8);
    const ep = new EventPoll({ capacity: 8, readiness: (id) => level[id]! });
    level[1] = EPOLLIN;
    ep.ctl("add", 1, EPOLLIN, LOW); // ready at add: queued at once (as Linux polls on EPOLL_CTL_ADD)
    ep.ctl("add", 2, EPOLLIN, LOW);
    expect(waitAll(ep)).toEqual([[1, EPOLLIN]]);
    expect(waitAll(ep)).toEqual([[1, EPOLLIN]]);
    level[1] = 0; // the app drained it; nobody called clear
    level[2] = EPOLLIN;
    ep.notify(2, EPOLLIN);
    expect(waitAll(ep)).toEqual([[2, EPOLLIN]]);
  });

  test("EPOLLERR and EPOLLHUP are reported without being asked for; others only when asked", () => {
    const ep = new EventPoll({ capacity: 8 });
    ep.ctl("add", 1, EPOLLIN | EPOLLET, LOW);
    ep.notify(1, EPOLLOUT); // not of interest
    expect(waitAll(ep)).toEqual([]);
    ep.notify(1, EPOLLERR | EPOLLHUP | EPOLLRDHUP);
    expect(waitAll(ep)).toEqual([[1, EPOLLERR | EPOLLHUP]]);
    ep.ctl("add", 2, EPOLLIN | EPOLLRDHUP | EPOLLET, LOW);
    ep.notify(2, EPOLLIN | EPOLLRDHUP);
    expect(waitAll(ep)).toEqual([[2, EPOLLIN | EPOLLRDHUP]]);
  });

  test("EPOLLONESHOT disarms after one report until mod", () => {
    const ep = new EventPoll({ capacity: 8 });
    ep.ctl("add", 1, EPOLLIN | EPOLLONESHOT, LOW);
    ep.notify(1, EPOLLIN);
    expect(ids(waitAll(ep))).toEqual([1]);
    ep.notify(1, EPOLLIN | EPOLLHUP);
    expect(waitAll(ep)).toEqual([]);
    ep.ctl("mod", 1, EPOLLIN | EPOLLONESHOT, LOW);
    expect(waitAll(ep)).toEqual([[1, EPOLLIN | EPOLLHUP]]);
    expect(waitAll(ep)).toEqual([]);
  });

  test("del while ready: the id leaves the ready list and the others keep their order", () => {
    const ep = new EventPoll({ capacity: 8 });
    for (const i of [1, 2, 3, 4]) {
      ep.ctl("add", i, EPOLLIN | EPOLLET, i === 4 ? HIGH : LOW);
      ep.notify(i, EPOLLIN);
    }
    expect(ep.readyCount()).toBe(4);
    ep.ctl("del", 2);
    ep.ctl("del", 4);
    expect(ep.readyCount()).toBe(2);
    expect(ep.readyCount(HIGH)).toBe(0);
    expect(ids(waitAll(ep))).toEqual([1, 3]);
    // Re-adding starts clean: the old readiness is gone.
    ep.ctl("add", 2, EPOLLIN, LOW);
    expect(waitAll(ep)).toEqual([]);
  });

  test("del from inside the pull hook during a wait (the id was just reported)", () => {
    let pulls = 0;
    const ep = new EventPoll({
      capacity: 8,
      pull: (e) => {
        if (++pulls === 2) e.ctl("del", 1);
      },
    });
    for (const i of [1, 2]) {
      ep.ctl("add", i, EPOLLIN, LOW);
      ep.notify(i, EPOLLIN);
    }
    expect(ids(waitAll(ep))).toEqual([1, 2]);
    expect(ids(waitAll(ep))).toEqual([2]); // level-triggered 2 stays, deleted 1 does not come back
  });
});

describe("EventPoll waitAsync and onReady", () => {
  test("waitAsync resolves at once when something is ready, else when notify makes it ready", async () => {
    let readyCalls = 0;
    const ep = new EventPoll({ capacity: 8, onReady: () => readyCalls++ });
    ep.ctl("add", 1, EPOLLIN | EPOLLET, HIGH);
    ep.ctl("add", 2, EPOLLIN | EPOLLET, LOW);
    const out = new Int32Array(16);
    ep.notify(2, EPOLLIN);
    expect(readyCalls).toBe(1);
    expect(await ep.waitAsync(out, 8)).toBe(1);
    expect(out[0]).toBe(2);
    const p = ep.waitAsync(out, 8);
    let settled = false;
    void p.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    ep.notify(2, EPOLLIN);
    ep.notify(1, EPOLLIN);
    expect(await p).toBe(2);
    expect([out[0], out[2]]).toEqual([1, 2]);
    expect(readyCalls).toBe(2); // once per transition from nothing ready
  });

  test("waitAsync times out with 0", async () => {
    const ep = new EventPoll({ capacity: 8 });
    ep.ctl("add", 1, EPOLLIN, HIGH);
    const out = new Int32Array(16);
    expect(await ep.waitAsync(out, 8, undefined, 5)).toBe(0);
    expect(await ep.waitAsync(out, 8, undefined, 0)).toBe(0);
  });
});

describe("EventPoll allocation", () => {
  test("notify / wait / clear / ctl allocate nothing", () => {
    const cap = 1024;
    const ep = new EventPoll({ capacity: cap, classes: 4 });
    for (let i = 0; i < cap; i++) ep.ctl("add", i, i % 2 === 0 ? EPOLLIN | EPOLLET : EPOLLIN, i & 3);
    const out = new Int32Array(128);
    const round = (): void => {
      for (let k = 0; k < 50; k++) {
        for (let i = 0; i < cap; i += 3) ep.notify(i, EPOLLIN, i % 5 === 0 ? 0 : -1);
        while (ep.wait(out, 64, { highBatch: 16, lowBatch: 8 }) > 0) {
          for (let i = 0; i < 64; i++) ep.clear(out[2 * i]!, EPOLLIN);
        }
        ep.ctl("del", k);
        ep.ctl("add", k, EPOLLIN, k & 3);
      }
    };
    round();
    Bun.gc(true);
    const before = heapStats().objectCount;
    for (let k = 0; k < 20; k++) round();
    Bun.gc(true);
    const after = heapStats().objectCount;
    console.log(`EventPoll allocation guard: heap objects ${before} -> ${after}`);
    expect(after - before).toBeLessThan(50);
    expect(ep.readyCount()).toBe(0);
  });
});
