/**
 * Child for multi-stack-connect.test.ts and bench/multi-connect.ts: two or more
 * stack threads (--layout stack=N machinery of src/sched/multi) on one port,
 * each making active opens to a kernel echo server once the parent says "go".
 * Each connection sends 100 bytes and must get them back within 3 s.
 * With forward=1 every thread calls keepActiveOpensHome (ports partitioned by
 * thread, stray segments forwarded to their owner: segment-forward.ts); with
 * forward=0 active opens are not steered (the code before it). Run as the main
 * script it is stack thread 0; as a Worker module its export connectApp is a
 * stack thread i >= 1.
 *
 *   bun multi-connect-child.ts VDEV IP/LEN PEER COUNT [FORWARD=1] [THREADS=2] [PAR=1] [SECONDS=0] [WARMUP=0]
 *
 * COUNT connections per thread one after another (PAR = 1, SECONDS = 0), or,
 * with SECONDS > 0, PAR connections in flight per thread for WARMUP + SECONDS
 * seconds, counting those started after the warm-up (COUNT ignored): the
 * connect-heavy figure of bench/multiconnect.ts.
 */
import { openDevice } from "../../../src/api/open-device";
import { parseAppArgs, startStack, type RunningStack } from "../../../apps/common";
import { createArpMailbox } from "../../../src/sched/multi/arp-mailbox";
import { portOf, threadZeroDevice } from "../../../src/sched/multi/multi-device";
import type { QueueDevice } from "../../../src/sched/multi/queue-device";
import { keepActiveOpensHome } from "../../../src/sched/multi/segment-forward";
import { createSegmentMailbox } from "../../../src/sched/multi/segment-mailbox";
import { startStackThreads, type StackThreadApp } from "../../../src/sched/multi/stack-threads";
import { emit, nextCommand } from "./child";

interface Args {
  values: Record<string, unknown>;
  peer: string;
  count: number;
  forward: boolean;
  par: number;
  seconds: number;
  warmup: number;
  go: SharedArrayBuffer;
}

/** Connections that echoed and that failed; with SECONDS, the time of a good one (connect to echo) p50/p99 in us. */
interface Counts {
  ok: number;
  failed: number;
  p50Us?: number;
  p99Us?: number;
}

/** One thread's result: connections that echoed, that failed; TCP's stray forwards and RSTs. */
export interface ThreadResult extends Counts {
  steering: string;
  strayForwarded: number;
  rstsSent: number;
}

/** One connection: connect, send 100 bytes, wait for them back (3 s each step), close. */
async function oneConnection(rs: RunningStack, peer: string, msg: Uint8Array): Promise<boolean> {
  let got = 0;
  let done!: () => void;
  const echoed = new Promise<void>((r) => (done = r));
  try {
    const s = await Promise.race([
      rs.sockets.connect({
        hostname: peer, port: 7,
        socket: {
          data(_s, d) {
            got += d.length;
            if (got >= 100) done();
          },
        },
      }),
      Bun.sleep(3000).then(() => null),
    ]);
    if (s === null) return false;
    s.write(msg);
    const r = await Promise.race([echoed.then(() => true), Bun.sleep(3000).then(() => false)]);
    s.end();
    return r;
  } catch {
    return false;
  }
}

/** `par` loops of connections for `warmup` + `seconds` seconds; counts those started after the warm-up. */
async function connectFor(rs: RunningStack, peer: string, par: number, seconds: number, warmup: number): Promise<Counts> {
  const msg = new Uint8Array(100).fill(0x61);
  const from = performance.now() + warmup * 1000;
  const end = from + seconds * 1000;
  let ok = 0;
  let failed = 0;
  const times: number[] = [];
  const loop = async () => {
    for (let t = performance.now(); t < end; t = performance.now()) {
      const good = await oneConnection(rs, peer, msg);
      if (t < from) continue;
      if (good) {
        ok++;
        times.push(performance.now() - t);
      } else failed++;
    }
  };
  const loops: Promise<void>[] = [];
  for (let i = 0; i < par; i++) loops.push(loop());
  await Promise.all(loops);
  times.sort((x, y) => x - y);
  const pct = (q: number) => (times.length === 0 ? -1 : Math.round(times[Math.min(times.length - 1, Math.floor(q * times.length))]! * 1000));
  return { ok, failed, p50Us: pct(0.5), p99Us: pct(0.99) };
}

function runThread(rs: RunningStack, a: Args): Promise<Counts> {
  return a.seconds > 0 ? connectFor(rs, a.peer, a.par, a.seconds, a.warmup) : connectAll(rs, a.peer, a.count);
}

/** The thread's result, read once it has stopped (closing segments are counted too). */
function result(rs: RunningStack, r: Counts, steering: string): ThreadResult {
  return { ...r, steering, strayForwarded: rs.tcp.counters.strayForwarded, rstsSent: rs.tcp.counters.rstsSent };
}

/** Connect `count` times in turn. */
async function connectAll(rs: RunningStack, peer: string, count: number): Promise<{ ok: number; failed: number }> {
  const msg = new Uint8Array(100).fill(0x61);
  let ok = 0;
  let failed = 0;
  for (let i = 0; i < count; i++) {
    if (await oneConnection(rs, peer, msg)) ok++;
    else failed++;
  }
  return { ok, failed };
}

export const connectApp: StackThreadApp = async (ctx) => {
  const a = ctx.args as Args;
  const rs = await startStack(a.values as never, {}, { openDevice: () => Promise.resolve(ctx.device) });
  const steering = a.forward ? keepActiveOpensHome(rs.tcp, ctx.device) : "none";
  ctx.ready();
  const flag = new Int32Array(a.go);
  while (Atomics.load(flag, 0) === 0) await Bun.sleep(5);
  const res = await runThread(rs, a);
  await ctx.stopped;
  const out = result(rs, res, steering);
  await rs.shutdown("stop");
  return out;
};

if (Bun.isMainThread && import.meta.main) {
  const [vdev, ip, peer, count, fwd, nthreads, par, seconds, warmup] = process.argv.slice(2);
  const threads = Number(nthreads ?? 2);
  const spec = { name: "multi-connect-child", usage: "", about: "", flags: [] };
  const values = parseAppArgs(spec, ["--vdev", vdev!, "--ip", ip!, "--queues", String(threads), "--status=false"]).values as Record<string, unknown>;
  const args: Args = {
    values, peer: peer!, count: Number(count), forward: (fwd ?? "1") === "1", par: Number(par ?? 1), seconds: Number(seconds ?? 0), warmup: Number(warmup ?? 0),
    go: new SharedArrayBuffer(4),
  };
  const mailbox = createArpMailbox(threads);
  const segments = args.forward ? createSegmentMailbox(threads) : null;
  const rs = await startStack(values as never, {}, { openDevice: async (c) => threadZeroDevice(await openDevice(c), mailbox, segments) });
  const qd = rs.stack.dev as unknown as QueueDevice;
  const steering = args.forward ? keepActiveOpensHome(rs.tcp, qd) : "none";
  const st = await startStackThreads({
    threads, port: portOf(qd.inner), maxBurst: rs.stack.dev.caps.maxBurst, mailbox, segments,
    module: import.meta.path, export: "connectApp", args,
  });
  emit("up");
  await nextCommand(60_000);
  Atomics.store(new Int32Array(args.go), 0, 1);
  const ownRes = await runThread(rs, args);
  // Let the last connections' closing segments (and their forwards) settle before the counters are read.
  await Bun.sleep(500);
  const reps = await st.stop(60_000);
  st.terminate();
  const own = result(rs, ownRes, steering);
  const per = [{ ...own, segSent: qd.segments?.sent ?? 0, segInjected: qd.segInjected, segDropped: qd.segments?.dropped ?? 0 }];
  for (const r of reps) per.push({ ...(r.app as ThreadResult), segSent: r.segSent, segInjected: r.segInjected, segDropped: r.segDropped });
  emit("result", { threads: per });
  await rs.shutdown();
  process.exit(0);
}
