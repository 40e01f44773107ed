import { describe, expect, test } from "bun:test";
import { PollLoop } from "../../src/sched/poll-loop";

describe("poll loop", () => {
  test("rounds pass the clock reading to every stage in order and sum their work", () => {
    const seen: string[] = [];
    const loop = new PollLoop({ clock: () => 5 });
    loop.add({ poll: (t) => (seen.push(`a${t}`), 2), pollAt: () => 100 });
    loop.add({ poll: (t) => (seen.push(`b${t}`), 1), pollAt: () => 50 });
    expect(loop.round(7)).toBe(3);
    expect(seen).toEqual(["a7", "b7"]);
    expect(loop.nextDeadline()).toBe(50);
  });

  test("add(stage, true) puts a stage before the others (a probe that marks the round's start)", () => {
    const seen: string[] = [];
    const loop = new PollLoop({ clock: () => 5 });
    loop.add({ poll: () => (seen.push("stack"), 0), pollAt: () => Number.POSITIVE_INFINITY });
    loop.add({ poll: () => (seen.push("probe"), 0), pollAt: () => Number.POSITIVE_INFINITY }, true);
    loop.round(1);
    expect(seen).toEqual(["probe", "stack"]);
  });

  test("runs of rounds are counted, with the clock at the end of each", async () => {
    let t = 0;
    const loop = new PollLoop({ busyPoll: true, burstsPerYield: 4, clock: () => (t += 10) });
    loop.add({ poll: () => 1, pollAt: () => Number.POSITIVE_INFINITY });
    const done = loop.run();
    await new Promise((r) => setTimeout(r, 5));
    await loop.stop();
    await done;
    expect(loop.runs).toBeGreaterThan(1);
    // Each run of 4 rounds reads the clock once per round and once at its end.
    expect(loop.rounds).toBeGreaterThanOrEqual(4 * (loop.runs - 1));
    expect(loop.runEndUs).toBeGreaterThan(0);
    expect(loop.runEndUs).toBeLessThanOrEqual(t);
  });

  test("a busy loop still lets Bun's event loop run timers and I/O, and stops on request", async () => {
    const loop = new PollLoop({ busyPoll: true });
    let rounds = 0;
    loop.add({ poll: () => (rounds++, 1), pollAt: () => Number.POSITIVE_INFINITY });
    const done = loop.run();
    const fired = await new Promise<boolean>((r) => setTimeout(() => r(true), 20));
    await loop.stop();
    await done;
    expect(fired).toBe(true);
    expect(rounds).toBeGreaterThan(100);
    const after = rounds;
    await Bun.sleep(5);
    expect(rounds).toBe(after);
  });

  test("an idle loop sleeps instead of spinning", async () => {
    const loop = new PollLoop({ idleSpinUs: 100, idleSleepMaxUs: 2000 });
    loop.add({ poll: () => 0, pollAt: () => Number.POSITIVE_INFINITY });
    const done = loop.run();
    await Bun.sleep(60);
    await loop.stop();
    await done;
    expect(loop.idleSleeps).toBeGreaterThan(5);
    // Sleeping 2 ms at a time, 60 ms of idling takes far fewer rounds than spinning would.
    expect(loop.rounds).toBeLessThan(20_000);
  });
});

describe("poll loop yieldSoon", () => {
  test("a stage that asks to yield gets Bun's next tick after its round, not after burstsPerYield rounds", async () => {
    const loop = new PollLoop({ busyPoll: true, burstsPerYield: 64 });
    let rounds = 0;
    let tickedAfterRound = -1;
    loop.add({
      poll: () => {
        rounds++;
        if (rounds === 3) {
          process.nextTick(() => void (tickedAfterRound = rounds));
          loop.yieldSoon();
        }
        return 1;
      },
      pollAt: () => Number.POSITIVE_INFINITY,
    });
    const done = loop.run();
    await new Promise((r) => setTimeout(r, 10));
    await loop.stop();
    await done;
    expect(tickedAfterRound).toBe(3);
    expect(loop.earlyYields).toBe(1);
  });
});

describe("poll loop wake", () => {
  test("wake() cuts an idle sleep short so work queued from outside runs at once", async () => {
    const loop = new PollLoop({ idleSpinUs: 0, idleSleepMaxUs: 200_000 });
    let pending = 0;
    let servedAt = 0;
    loop.add({
      poll: () => {
        if (pending === 0) return 0;
        pending = 0;
        servedAt = performance.now();
        return 1;
      },
      pollAt: () => Number.POSITIVE_INFINITY,
    });
    const done = loop.run();
    await Bun.sleep(30); // the loop is asleep now (up to 200 ms)
    const queuedAt = performance.now();
    pending = 1;
    loop.wake();
    await Bun.sleep(20);
    await loop.stop();
    await done;
    expect(servedAt).toBeGreaterThan(0);
    expect(servedAt - queuedAt).toBeLessThan(15);
    expect(loop.wakeups).toBeGreaterThan(0);
  });
});

describe("poll loop yieldCpu", () => {
  test("an empty round while spinning yields the CPU; a round with work does not", async () => {
    let n = 0;
    let yields = 0;
    let yieldsAtWork = -1;
    const loop = new PollLoop({ busyPoll: true, yieldCpu: () => void yields++ });
    // Work on odd rounds, none on even ones.
    loop.add({
      poll: () => {
        n++;
        if (n === 11) yieldsAtWork = yields;
        return n % 2;
      },
      pollAt: () => Number.POSITIVE_INFINITY,
    });
    const done = loop.run();
    await new Promise((r) => setTimeout(r, 5));
    await loop.stop();
    await done;
    // Rounds 2, 4, ..., 10 were empty before round 11 ran.
    expect(yieldsAtWork).toBe(5);
    expect(loop.cpuYields).toBe(yields);
    expect(Math.abs(yields - Math.floor(loop.rounds / 2))).toBeLessThanOrEqual(1);
  });

  test("without yieldCpu nothing is yielded", () => {
    const loop = new PollLoop({ clock: () => 0 });
    expect(loop.yieldCpu).toBeNull();
  });
});
