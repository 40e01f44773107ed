/** Probe (diagnosis): heap objects allocated per message by the priority server + generator over a PairDevice. */
import { heapStats } from "bun:jsc";
import { enableNativeMem } from "../ffi/native-mem";
import { classifierFromSpec } from "../src/api/classifier-spec";
import { burstPlan, LoadGen, type GenConn } from "./priority-gen";
import { MSG, PriorityServer } from "./priority-server";
import { StackPair } from "../test/helpers/stack-pair";

if (process.env.PROBE_NATIVE === "1") enableNativeMem();
const priority = process.argv[2] !== "off";
const rateX = Number(process.argv[3] ?? "2");
const CONNS = 100, SERVICE_US = 100;
const p = new StackPair({ bApi: "epoll", classifyB: priority ? classifierFromSpec("iotep") : undefined, faults: { delayUs: 20 }, nbufs: 16384 });
const clock = () => p.clock.nowUs;
const ep = p.eb!;
const srv = new PriorityServer(ep, 80, { priority, serviceUs: SERVICE_US, budgetUs: 1000, lowBudgetUs: 200, checkEveryUs: 200, clock, spin: (us) => void (p.clock.nowUs += us), maxConnections: ep.listenerBase, queueMessages: 1 << 14 });
p.b.addAppStage(srv);
const gen = new LoadGen(clock, null, process.env.PROBE_OLD_WRITE === "1" ? null : p.sa.tcp);
p.a.addAppStage(gen);
for (let i = 0; i < CONNS; i++) {
  void p.sa.connect<GenConn>({ hostname: "10.0.0.2", port: 80, noDelay: true, zeroCopy: true, data: { part: new Uint8Array(MSG), len: 0 }, socket: { open: (s) => void gen.socks.push(s), data: (s, d) => gen.reply(s, d) } });
}
p.run(p.clock.nowUs + 2_000_000, () => gen.socks.length === CONNS);
function once(n: number): Record<string, number> {
  const plan = burstPlan(p.clock.nowUs + 1000, (rateX * 1e6) / SERVICE_US, 1, n / ((rateX * 1e6) / SERVICE_US), 0, 0.05, 3);
  gen.start(plan);
  Bun.gc(true);
  const a = heapStats().objectTypeCounts;
  p.run(p.clock.nowUs + 60_000_000, () => gen.finished);
  const b = heapStats().objectTypeCounts;
  const d: Record<string, number> = {};
  for (const k of Object.keys(b)) { const x = (b[k] ?? 0) - (a[k] ?? 0); if (x > 0) d[k] = x; }
  return d;
}
once(3000);
once(3000);
const N = 3000;
const d = once(N);
const rows = Object.entries(d).sort((x, y) => y[1] - x[1]).slice(0, 15).map(([k, v]) => `${k}=${v} (${(v / N).toFixed(2)}/msg)`);
console.log(`priority ${priority ? "on" : "off"} rate ${rateX}x, ${N} msgs, resumes ${srv.sched.resumes}:`, rows.join(", "));
