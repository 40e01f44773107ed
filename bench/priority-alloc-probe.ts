/**
 * Heap cells allocated per message by bench/priority's server app and load
 * generator, both stacks in one process over a PairDevice in virtual time
 * (issue 5: the GC pauses in the high-priority tail). After a warm-up, the
 * JSC cell counts by type (bun:jsc heapStats, which counts cells allocated
 * since the last collection) are taken around a run of N messages; a run in
 * which a collection happened (some type's count fell) is flagged `collected`.
 *
 *   bun bench/priority-alloc-probe.ts [on|off] [rate x nominal capacity, default 2]
 *   PROBE_NATIVE=1: the shim's native copies installed, as on a DPDK device (needs the shim built)
 *   PROBE_OLD_WRITE=1: the generator writes through TcpSocket.write (a view per copy)
 *
 * The figures include the test device (PairDevice copies each frame with
 * slice(): ~2 Uint8Array per message) and the stack; the app's own share is
 * read from the difference between variants.
 */
import { heapStats } from "bun:jsc";
import { classifierFromSpec } from "../src/api/classifier-spec";
import { burstPlan, LoadGen, type GenConn } from "./priority-gen";
import { MSG, PriorityServer } from "./priority-server";
import { StackPair } from "../test/helpers/stack-pair";

export interface AllocProbe {
  /** Cells per message by type (positive deltas only). */
  perMessage: Record<string, number>;
  messages: number;
  /** Scheduler resumes per message in the measured run. */
  resumesPerMessage: number;
  /** True when a collection ran during the measured run (the counts are then a lower bound). */
  collected: boolean;
}

export function probeAlloc(priority: boolean, rateX = 2, n = 3000, opts: { oldWrite?: boolean } = {}): AllocProbe {
  const CONNS = 100;
  const SERVICE_US = 100;
  const p = new StackPair({ bApi: "epoll", classifyB: priority ? classifierFromSpec("iotep") : undefined, faults: { delayUs: 20 }, nbufs: 16384 });
  const clock = () => p.clock.nowUs;
  const ep = p.eb!;
  const srv = new PriorityServer(ep, 80, {
    priority, serviceUs: SERVICE_US, budgetUs: 1000, lowBudgetUs: 200, checkEveryUs: 200, clock,
    spin: (us) => void (p.clock.nowUs += us), maxConnections: ep.listenerBase, queueMessages: 1 << 14,
  });
  p.b.addAppStage(srv);
  const gen = new LoadGen(clock, null, opts.oldWrite === true ? null : p.sa.tcp);
  p.a.addAppStage(gen);
  for (let i = 0; i < CONNS; i++) {
    void p.sa.connect<GenConn>({
      hostname: "10.0.0.2", port: 80, noDelay: true, zeroCopy: true, data: { part: new Uint8Array(MSG), len: 0 },
      socket: { open: (s) => void gen.socks.push(s), data: (s, d) => gen.reply(s, d) },
    });
  }
  p.run(p.clock.nowUs + 2_000_000, () => gen.socks.length === CONNS);
  if (gen.socks.length !== CONNS) throw new Error("connections did not open");
  const rate = (rateX * 1e6) / SERVICE_US;
  const once = (count: number): AllocProbe => {
    gen.start(burstPlan(p.clock.nowUs + 1000, rate, 1, count / rate, 0, 0.05, 3));
    const r0 = srv.sched.resumes;
    Bun.gc(true);
    const a = heapStats().objectTypeCounts;
    p.run(p.clock.nowUs + 60_000_000, () => gen.finished);
    const b = heapStats().objectTypeCounts;
    if (gen.replies !== count) throw new Error(`${gen.replies} of ${count} replies`);
    const perMessage: Record<string, number> = {};
    let collected = false;
    for (const k of Object.keys(a)) if ((b[k] ?? 0) < a[k]!) collected = true;
    for (const k of Object.keys(b)) {
      const d = b[k]! - (a[k] ?? 0);
      if (d > 0) perMessage[k] = d / count;
    }
    return { perMessage, messages: count, resumesPerMessage: (srv.sched.resumes - r0) / count, collected };
  };
  once(n); // warm-up: JIT, histogram buckets, queue chunks
  once(n);
  return once(n);
}

if (import.meta.main) {
  if (process.env["PROBE_NATIVE"] === "1") (await import("../ffi/native-mem")).enableNativeMem();
  const priority = process.argv[2] !== "off";
  const rateX = Number(process.argv[3] ?? "2");
  const r = probeAlloc(priority, rateX, 3000, { oldWrite: process.env["PROBE_OLD_WRITE"] === "1" });
  const rows = Object.entries(r.perMessage).sort((x, y) => y[1] - x[1]).slice(0, 10).map(([k, v]) => `${k} ${v.toFixed(2)}`);
  console.log(`priority ${priority ? "on" : "off"}, ${rateX}x nominal capacity, ${r.messages} messages, ${r.resumesPerMessage.toFixed(2)} resumes/message${r.collected ? " (a collection ran: lower bound)" : ""}; cells per message: ${rows.join(", ")}`);
}
