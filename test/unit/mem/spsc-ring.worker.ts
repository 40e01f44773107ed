/**
 * Worker half of the SpscRing cross-thread test (test/unit/mem/spsc-ring.test.ts).
 * Message in: { role: "producer" | "consumer" | "waiter", sab, count, batch }.
 * Producer pushes 0, 1, ..., count-1; consumer checks order and sum and reports.
 */
import { SpscRing } from "../../../src/mem/spsc-ring";

declare const self: Worker;

self.onmessage = (e: MessageEvent) => {
  const { role, sab, count, batch } = e.data as { role: string; sab: SharedArrayBuffer; count: number; batch: number };
  const ring = SpscRing.attach(sab);
  if (role === "waiter") {
    // Announce, then sleep in waitNotEmpty with a long timeout: only a notify wakes us early.
    self.postMessage({ role: "ready" });
    const t = performance.now();
    const ok = ring.waitNotEmpty(10_000);
    self.postMessage({ role, ok, ms: performance.now() - t, value: ring.pop() });
    return;
  }
  const buf = new Uint32Array(batch);
  const t0 = performance.now();
  let waits = 0;
  if (role === "producer") {
    let next = 0;
    let spins = 0;
    while (next < count) {
      const b = count - next < batch ? count - next : batch;
      for (let i = 0; i < b; i++) buf[i] = next + i;
      const m = ring.pushBatch(buf, b);
      next += m;
      if (m === 0 && ++spins > 256) {
        spins = 0;
        waits++;
        ring.waitNotFull(5);
      }
    }
    self.postMessage({ role, ms: performance.now() - t0, waits });
  } else {
    let expected = 0;
    let sum = 0;
    let disorder = 0;
    let spins = 0;
    while (expected < count) {
      const m = ring.popBatch(buf, batch);
      for (let i = 0; i < m; i++) {
        const v = buf[i]!;
        if (v !== expected) disorder++;
        sum += v;
        expected++;
      }
      if (m === 0 && ++spins > 256) {
        spins = 0;
        waits++;
        ring.waitNotEmpty(5);
      }
    }
    self.postMessage({ role, ms: performance.now() - t0, waits, received: expected, sum, disorder });
  }
};
