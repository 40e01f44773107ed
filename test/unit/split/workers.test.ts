/**
 * The split-mode record protocol with both ends in Workers: a stand-in stack
 * Worker produces Data events and checks the echoes; the real app thread body
 * (app-worker.ts, started by startSplitApps) runs the echo handler. Lanes are
 * small so both sides hit full lanes and wait on each other.
 */
import { expect, test } from "bun:test";
import { join } from "node:path";
import { startSplitApps } from "../../../src/sched/split/split";

test("20,000 messages through small lanes between two Workers come back in order, intact, and the app thread stops", async () => {
  const apps = await startSplitApps({
    count: 1,
    module: join(import.meta.dir, "../../../src/sched/split/echo-app.ts"),
    export: "echoApp",
    laneRecords: 64,
    laneBytes: 1 << 14,
    idleWaitMs: 20,
  });
  const stack = new Worker(join(import.meta.dir, "helpers/fake-stack-worker.ts"));
  try {
    const l = apps.lanes[0]!;
    const res = await new Promise<{ produced: number; checked: number; bad: number; laneFull: number; sendBytes: number; ms: number }>((resolve, reject) => {
      stack.onmessage = (e) => resolve(e.data);
      stack.onerror = (e) => reject(new Error(e.message));
      stack.postMessage({ events: l.events.share(), commands: l.commands.share(), messages: 20_000 });
    });
    expect(res.bad).toBe(0);
    expect(res.checked).toBe(20_000);
    expect(res.laneFull).toBeGreaterThan(0);
    const [rep] = await apps.finished(5000);
    expect(rep!.events).toBe(20_001); // every Data plus the Stop
    expect(rep!.commands).toBe(20_000);
    expect((rep!.counts as { echoedBytes: number }).echoedBytes).toBe(res.sendBytes);
  } finally {
    stack.terminate();
    apps.terminate();
  }
}, 30_000);
