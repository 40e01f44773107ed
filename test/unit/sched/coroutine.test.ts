import { describe, expect, test } from "bun:test";
import { heapStats } from "bun:jsc";
import { CoState, PARK, SETPRIO, SLEEP, Scheduler, WAIT, YIELD, type Coroutine } from "../../../src/sched/coroutine";
import { DeadlineHeap } from "../../../src/sched/deadline-heap";
import { EPOLLET, EPOLLIN, EventPoll } from "../../../src/sched/event-poll";

/** A manual clock in integer microseconds. */
class ManualClock {
  t = 0;
  reads = 0;
  readonly now = (): number => {
    this.reads++;
    return this.t;
  };
}

function sched(clock: ManualClock, opts: Partial<ConstructorParameters<typeof Scheduler>[0]> = {}): Scheduler {
  return new Scheduler({ clock: clock.now, ...opts });
}

/** A coroutine that logs `name` at each step and yields, `steps` times. */
function* stepper(log: string[], name: string, steps: number): Coroutine {
  for (let i = 0; i < steps; i++) {
    log.push(name);
    yield YIELD;
  }
}

describe("Scheduler order", () => {
  test("higher classes run first; a yielding high coroutine keeps the CPU while it is ready", () => {
    const clk = new ManualClock();
    const s = sched(clk);
    const log: string[] = [];
    s.spawn(stepper(log, "L1", 2), 1);
    s.spawn(stepper(log, "H1", 2), 0);
    s.spawn(stepper(log, "L2", 2), 1);
    s.spawn(stepper(log, "H2", 2), 0);
    s.run(0);
    expect(log).toEqual(["H1", "H2", "H1", "H2", "L1", "L2", "L1", "L2"]);
    expect(s.live).toBe(0);
  });

  test("FIFO fairness within a class: yielders take turns, a newcomer joins the tail", () => {
    const clk = new ManualClock();
    const s = sched(clk, { classes: 4 });
    const log: string[] = [];
    s.spawn(stepper(log, "a", 3), 2);
    s.spawn(stepper(log, "b", 3), 2);
    s.spawn(function* (): Coroutine {
      log.push("c");
      s.spawn(stepper(log, "d", 2), 2);
      yield;
      log.push("c");
    }, 2);
    s.run(0);
    expect(log).toEqual(["a", "b", "c", "a", "b", "d", "c", "a", "b", "d"]);
  });

  test("a high coroutine woken by a low one runs before the remaining lows", () => {
    const clk = new ManualClock();
    const s = sched(clk);
    const log: string[] = [];
    const hi = s.spawn(function* (): Coroutine {
      for (;;) {
        const v = yield PARK;
        log.push(`H${v}`);
      }
    }, 0);
    s.spawn(function* (): Coroutine {
      log.push("L1");
      s.wake(hi, 7);
      yield;
      log.push("L1");
    }, 1);
    s.spawn(stepper(log, "L2", 2), 1);
    s.run(0);
    expect(log).toEqual(["L1", "H7", "L2", "L1", "L2"]);
    expect(s.state(hi)).toBe(CoState.Parked);
  });

  test("SETPRIO moves the coroutine to another class", () => {
    const clk = new ManualClock();
    const s = sched(clk);
    const log: string[] = [];
    s.spawn(function* (): Coroutine {
      log.push("x-low");
      yield SETPRIO(0);
      log.push("x-high");
      yield;
      log.push("x-high");
    }, 1);
    s.spawn(stepper(log, "y", 3), 1);
    s.run(0);
    expect(log).toEqual(["x-low", "x-high", "x-high", "y", "y", "y"]);
  });
});

describe("Scheduler budget (QStack: yield to the stack after 1,000 us without a poll, checked every 200 us)", () => {
  test("run returns to the stack once the budget is spent, and resumes the same FIFO order afterwards", () => {
    const clk = new ManualClock();
    const s = sched(clk, { budgetUs: 1000, checkEveryUs: 200 });
    const log: number[] = [];
    // Three endless workers; each step costs 10 us of (virtual) time.
    for (let w = 0; w < 3; w++) {
      s.spawn(function* (): Coroutine {
        for (;;) {
          log.push(w);
          clk.t += 10;
          yield;
        }
      }, 1);
    }
    s.stackPolled(0);
    clk.reads = 0;
    const steps = s.run(0);
    // Returned after the budget, at most one check period (plus one step) late.
    expect(clk.t).toBeGreaterThanOrEqual(1000);
    expect(clk.t).toBeLessThanOrEqual(1000 + 200 + 10);
    expect(steps).toBe(clk.t / 10);
    expect(s.budgetYields).toBe(1);
    // The clock was read about every 200 us, not per step (steps: >= 100).
    expect(clk.reads).toBeLessThan(20);
    expect(clk.reads).toBeGreaterThanOrEqual(5);
    // Strict round robin so far, and it continues where it stopped.
    for (let i = 0; i < log.length; i++) expect(log[i]).toBe(i % 3);
    const before = log.length;
    s.stackPolled(clk.t);
    const t0 = clk.t;
    s.run(clk.t);
    expect(clk.t - t0).toBeGreaterThanOrEqual(1000);
    expect(log[before]).toBe(before % 3);
  });

  test("lowBudgetUs: low-class work returns to the stack after the smaller budget, class 0 keeps the full one", () => {
    const clk = new ManualClock();
    const s = sched(clk, { budgetUs: 1000, lowBudgetUs: 200, checkEveryUs: 50 });
    const worker = (cls: number) =>
      s.spawn(function* (): Coroutine {
        for (;;) {
          clk.t += 10;
          yield;
        }
      }, cls);
    const low = worker(1);
    s.stackPolled(0);
    s.run(0);
    // Back to the stack after ~200 us (one check period late at most), not 1,000.
    expect(clk.t).toBeGreaterThanOrEqual(200);
    expect(clk.t).toBeLessThanOrEqual(200 + 50 + 10);
    expect(s.budgetYields).toBe(1);
    // A high-class coroutine runs on for the whole budget.
    s.kill(low);
    worker(0);
    const t0 = clk.t;
    s.stackPolled(t0);
    s.run(t0);
    expect(clk.t - t0).toBeGreaterThanOrEqual(1000);
    expect(clk.t - t0).toBeLessThanOrEqual(1000 + 50 + 10);
    expect(s.budgetYields).toBe(2);
  });

  test("when steps suddenly get slow the checks tighten at once (overshoot bounded by maxCheckSteps)", () => {
    const clk = new ManualClock();
    const s = sched(clk, { budgetUs: 1000, checkEveryUs: 200, maxCheckSteps: 64 });
    let cost = 1;
    s.spawn(function* (): Coroutine {
      for (;;) {
        clk.t += cost;
        yield;
      }
    }, 0);
    // Fast steps (1 us): the scheduler reads the clock only every 64 steps (the cap).
    s.stackPolled(0);
    s.run(0);
    expect(clk.t).toBeGreaterThanOrEqual(1000);
    expect(clk.t).toBeLessThanOrEqual(1000 + 64);
    // Steps become 100 us: the first check comes after at most 64 of them...
    cost = 100;
    let t0 = clk.t;
    s.stackPolled(t0);
    s.run(t0);
    expect(clk.t - t0).toBeLessThanOrEqual(64 * 100);
    // ...and from then on the clock is read about every 200 us.
    t0 = clk.t;
    s.stackPolled(t0);
    s.run(t0);
    expect(clk.t - t0).toBeGreaterThanOrEqual(1000);
    expect(clk.t - t0).toBeLessThanOrEqual(1000 + 200 + 100);
  });

  test("an idle scheduler returns at once; poll() marks the stack poll", () => {
    const clk = new ManualClock();
    const s = sched(clk);
    expect(s.run(5)).toBe(0);
    expect(s.pollAt()).toBe(Number.POSITIVE_INFINITY);
    let n = 0;
    s.spawn(function* (): Coroutine {
      for (;;) {
        n++;
        clk.t += 100;
        yield;
      }
    }, 0);
    clk.t = 5000;
    expect(s.pollAt()).toBe(5); // ready: now
    s.poll(5000);
    expect(clk.t).toBeGreaterThanOrEqual(6000);
    expect(n).toBeGreaterThanOrEqual(10);
  });
});

describe("Scheduler blocking", () => {
  test("wake of a parked coroutine passes a value; a wake before PARK is kept as a permit", () => {
    const clk = new ManualClock();
    const s = sched(clk);
    const got: number[] = [];
    const id = s.spawn(function* (): Coroutine {
      got.push(yield PARK);
      got.push(yield PARK);
      s.wake(s.currentId); // a wake while running: the next PARK does not block
      got.push(yield PARK);
    }, 0);
    expect(s.run(0)).toBe(1);
    expect(s.state(id)).toBe(CoState.Parked);
    expect(s.run(0)).toBe(0);
    expect(s.wake(id, 42)).toBe(true);
    expect(s.state(id)).toBe(CoState.Ready);
    s.run(0);
    expect(got).toEqual([42]);
    expect(s.wake(id)).toBe(true);
    s.run(0);
    expect(got).toEqual([42, 1, 1]);
    expect(s.state(id)).toBe(CoState.Free);
    expect(s.wake(id)).toBe(false);
  });

  test("SLEEP wakes at its deadline with 0; pollAt reports the deadline; wake ends it early", () => {
    const clk = new ManualClock();
    const s = sched(clk);
    const got: [string, number, number][] = [];
    s.spawn(function* (): Coroutine {
      const v = yield SLEEP(500);
      got.push(["a", v, clk.t]);
    }, 1);
    const b = s.spawn(function* (): Coroutine {
      const v = yield SLEEP(300);
      got.push(["b", v, clk.t]);
    }, 1);
    clk.t = 100;
    s.run(100);
    expect(s.pollAt()).toBe(400);
    clk.t = 399;
    s.run(399);
    expect(got).toEqual([]);
    clk.t = 400;
    s.run(400);
    expect(got).toEqual([["b", 0, 400]]);
    expect(s.pollAt()).toBe(600);
    const c = s.spawn(function* (): Coroutine {
      const v = yield SLEEP(10_000);
      got.push(["c", v, clk.t]);
    }, 0);
    s.run(400);
    expect(s.wake(c, 9)).toBe(true);
    clk.t = 450;
    s.run(450);
    expect(got[1]).toEqual(["c", 9, 450]);
    clk.t = 600;
    s.run(600);
    expect(got[2]).toEqual(["a", 0, 600]);
    expect(s.state(b)).toBe(CoState.Free);
  });

  test("sleepers due at the same time wake in the order they slept, by class", () => {
    const clk = new ManualClock();
    const s = sched(clk);
    const log: string[] = [];
    for (const [name, prio] of [["l1", 1], ["h1", 0], ["l2", 1], ["h2", 0]] as const) {
      s.spawn(function* (): Coroutine {
        yield SLEEP(50);
        log.push(name);
      }, prio);
    }
    s.run(0);
    s.run(50);
    expect(log).toEqual(["h1", "h2", "l1", "l2"]);
  });

  test("WAIT / signal: every waiter of the event wakes, in order, with the value", () => {
    const clk = new ManualClock();
    const s = sched(clk, { events: 16 });
    const got: string[] = [];
    for (const name of ["x", "y", "z"]) {
      s.spawn(function* (): Coroutine {
        const v = yield WAIT(name === "z" ? 4 : 3);
        got.push(`${name}${v}`);
      }, 0);
    }
    s.run(0);
    expect(s.signal(5)).toBe(0);
    expect(s.signal(3, 8)).toBe(2);
    s.run(0);
    expect(got).toEqual(["x8", "y8"]);
    expect(s.signal(4)).toBe(1);
    s.run(0);
    expect(got).toEqual(["x8", "y8", "z1"]);
  });

  test("a throwing coroutine or a bad command is removed and reported; the rest go on", () => {
    const clk = new ManualClock();
    const errors: number[] = [];
    const s = sched(clk, { events: 4, onError: (id) => errors.push(id) });
    const log: string[] = [];
    const bad = s.spawn(function* (): Coroutine {
      yield;
      throw new Error("boom");
    }, 0);
    const badCmd = s.spawn(function* (): Coroutine {
      yield WAIT(99); // no such event id
    }, 0);
    s.spawn(stepper(log, "ok", 3), 0);
    s.run(0);
    expect(errors.sort()).toEqual([bad, badCmd].sort());
    expect(log).toEqual(["ok", "ok", "ok"]);
    expect(s.live).toBe(0);
    expect(s.errors).toBe(2);
  });

  test("kill stops a blocked coroutine and runs its finally block", () => {
    const clk = new ManualClock();
    const s = sched(clk);
    let cleaned = false;
    const id = s.spawn(function* (): Coroutine {
      try {
        yield SLEEP(1e6);
      } finally {
        cleaned = true;
      }
    }, 0);
    s.run(0);
    expect(s.kill(id)).toBe(true);
    expect(cleaned).toBe(true);
    expect(s.state(id)).toBe(CoState.Free);
    expect(s.pollAt()).toBe(Number.POSITIVE_INFINITY);
  });

  test("ids are reused and the tables grow past the initial capacity", () => {
    const clk = new ManualClock();
    const s = sched(clk, { initialCapacity: 4 });
    const log: string[] = [];
    for (let i = 0; i < 1000; i++) s.spawn(stepper(log, "s", 2), i & 1);
    expect(s.live).toBe(1000);
    s.run(0);
    expect(log.length).toBe(2000);
    expect(s.live).toBe(0);
    const id = s.spawn(stepper(log, "t", 1), 0);
    expect(id).toBeLessThan(1000);
  });
});

describe("Scheduler async coroutines", () => {
  test("async coroutines are admitted in priority order and FIFO within a class", async () => {
    const clk = new ManualClock();
    const s = sched(clk);
    const log: string[] = [];
    const mk = (name: string) => async (co: { yield(): Promise<number> }) => {
      for (let i = 0; i < 2; i++) {
        log.push(name);
        await co.yield();
      }
    };
    s.spawnAsync(mk("L1"), 1);
    s.spawnAsync(mk("H1"), 0);
    s.spawnAsync(mk("L2"), 1);
    // First turns run inside run(), in priority order.
    s.run(0);
    expect(log).toEqual(["H1", "L1", "L2"]);
    // Second turns: run() resolves their promises in priority order; the code runs in microtasks.
    s.run(0);
    await Bun.sleep(0);
    expect(log).toEqual(["H1", "L1", "L2", "H1", "L1", "L2"]);
    s.run(0);
    await Bun.sleep(0);
    expect(s.live).toBe(0);
  });

  test("async sleep, park/wake and awaiting outside promises", async () => {
    const clk = new ManualClock();
    const s = sched(clk);
    const got: string[] = [];
    let external!: () => void;
    const id = s.spawnAsync(async (co) => {
      got.push(`slept ${await co.sleep(100)}`);
      await new Promise<void>((r) => (external = r)); // e.g. a Redis reply
      got.push("external");
      got.push(`woken ${await co.park()}`);
    }, 0);
    s.run(0);
    expect(s.state(id)).toBe(CoState.Sleeping);
    expect(s.pollAt()).toBe(100);
    clk.t = 100;
    s.run(100);
    await Bun.sleep(0);
    expect(got).toEqual(["slept 0"]);
    expect(s.state(id)).toBe(CoState.Outside);
    external();
    await Bun.sleep(0);
    expect(s.state(id)).toBe(CoState.Parked);
    s.wake(id, 5);
    s.run(100);
    await Bun.sleep(0);
    expect(got).toEqual(["slept 0", "external", "woken 5"]);
    expect(s.live).toBe(0);
  });

  test("asyncPerRun bounds the async turns admitted per run", () => {
    const clk = new ManualClock();
    const s = sched(clk, { asyncPerRun: 2 });
    let started = 0;
    for (let i = 0; i < 5; i++) {
      s.spawnAsync(async (co) => {
        started++;
        await co.park();
      }, 0);
    }
    expect(s.run(0)).toBe(2);
    expect(started).toBe(2);
    s.run(0);
    s.run(0);
    expect(started).toBe(5);
  });

  test("an async coroutine that throws is reported and removed", async () => {
    const clk = new ManualClock();
    const errors: unknown[] = [];
    const s = sched(clk, { onError: (_id, e) => errors.push(e) });
    s.spawnAsync(async (co) => {
      await co.yield();
      throw new Error("late");
    }, 0);
    s.run(0);
    s.run(0);
    await Bun.sleep(0);
    expect((errors[0] as Error).message).toBe("late");
    expect(s.live).toBe(0);
  });
});

describe("Scheduler with EventPoll", () => {
  test("a coroutine event loop: parks on an event id when nothing is ready, onReady wakes it, high events first", () => {
    const clk = new ManualClock();
    const s = sched(clk, { events: 4 });
    const EP_READY = 0;
    const ep = new EventPoll({ capacity: 64, onReady: () => s.signal(EP_READY) });
    const handled: number[] = [];
    let parks = 0;
    const loop = s.spawn(function* (): Coroutine {
      const out = new Int32Array(16);
      for (;;) {
        const n = ep.wait(out, 8, { lowBatch: 1 });
        if (n === 0) {
          parks++;
          yield WAIT(EP_READY);
          continue;
        }
        for (let i = 0; i < n; i++) handled.push(out[2 * i]!);
        yield; // let other coroutines (and, on budget, the stack) run between batches
      }
    }, 0);
    for (let id = 0; id < 6; id++) ep.ctl("add", id, EPOLLIN | EPOLLET, id < 2 ? 0 : 1);
    s.run(0);
    expect(parks).toBe(1);
    expect(s.state(loop)).toBe(CoState.Waiting);
    // The stack delivers: lows first, then highs (all in one receive phase).
    for (const id of [2, 3, 4, 0, 5, 1]) ep.notify(id, EPOLLIN);
    expect(s.state(loop)).toBe(CoState.Ready);
    s.run(0);
    expect(handled).toEqual([0, 1, 2, 3, 4, 5]);
    expect(parks).toBe(2);
  });
});

describe("Scheduler allocation", () => {
  test("steady-state scheduling keeps the heap flat", () => {
    const clk = new ManualClock();
    const s = sched(clk, { events: 8 });
    const ids: number[] = [];
    for (let i = 0; i < 64; i++) {
      ids.push(
        s.spawn(function* (): Coroutine {
          for (;;) {
            yield;
            yield SLEEP(1);
            yield WAIT(i & 7);
            yield PARK;
          }
        }, i & 1),
      );
    }
    const round = (): void => {
      for (let k = 0; k < 100; k++) {
        clk.t += 2;
        s.run(clk.t);
        clk.t += 2;
        s.run(clk.t);
        for (let e = 0; e < 8; e++) s.signal(e);
        s.run(clk.t);
        for (let i = 0; i < ids.length; i++) s.wake(ids[i]!);
        s.run(clk.t);
      }
    };
    round();
    Bun.gc(true);
    const before = heapStats().objectCount;
    for (let k = 0; k < 20; k++) round();
    Bun.gc(true);
    const after = heapStats().objectCount;
    console.log(`Scheduler allocation guard: heap objects ${before} -> ${after} over ${s.resumes} resumes`);
    expect(after - before).toBeLessThan(50);
    expect(s.resumes).toBeGreaterThan(20 * 100 * 64 * 3);
  });
});

describe("DeadlineHeap", () => {
  test("pops in deadline order, ties in insertion order, removes anywhere (against a sorted model)", () => {
    const h = new DeadlineHeap(8);
    h.grow(300);
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    const model = new Map<number, [number, number]>();
    let seq = 0;
    for (let step = 0; step < 20000; step++) {
      const id = rnd(300);
      const op = rnd(3);
      if (op === 0 && !h.has(id)) {
        const d = rnd(50);
        h.insert(id, d);
        model.set(id, [d, seq++]);
      } else if (op === 1) {
        h.remove(id);
        model.delete(id);
      } else if (h.size > 0) {
        let best = -1;
        for (const [k, v] of model) {
          const b = best < 0 ? null : model.get(best)!;
          if (b === null || v[0] < b[0] || (v[0] === b[0] && v[1] < b[1])) best = k;
        }
        expect(h.minDeadline()).toBe(model.get(best)![0]);
        expect(h.popMin()).toBe(best);
        model.delete(best);
      }
      expect(h.size).toBe(model.size);
    }
  });
});
