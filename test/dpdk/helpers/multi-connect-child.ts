/**
 * Child for multi-stack-connect.test.ts: two stack threads (--layout stack=2
 * machinery of src/sched/multi) on one port, each making `count` active opens
 * to a kernel echo server once the parent says "go". Prints, per thread, how
 * many connections echoed 100 bytes back within 3 s each. Run as the main
 * script it is stack thread 0; as a Worker module its export connectApp is
 * stack thread 1.
 *
 *   bun multi-connect-child.ts VDEV IP/LEN PEER COUNT
 */
import { openDevice } from "../../../src/api/open-device";
import { parseAppArgs, startStack, type RunningStack } from "../../../apps/common";
import { createArpMailbox } from "../../../src/sched/multi/arp-mailbox";
import { portOf, threadZeroDevice } from "../../../src/sched/multi/multi-device";
import { startStackThreads, type StackThreadApp } from "../../../src/sched/multi/stack-threads";
import { emit, nextCommand } from "./child";

interface Args {
  values: Record<string, unknown>;
  peer: string;
  count: number;
  go: SharedArrayBuffer;
}

/** Connect `count` times in turn; each sends 100 bytes and must get them back within 3 s. */
async function connectAll(rs: RunningStack, peer: string, count: number): Promise<{ ok: number; failed: number }> {
  let ok = 0;
  let failed = 0;
  const msg = new Uint8Array(100).fill(0x61);
  for (let i = 0; i < count; i++) {
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
      if (s === null) throw new Error("connect timed out");
      s.write(msg);
      const r = await Promise.race([echoed.then(() => true), Bun.sleep(3000).then(() => false)]);
      s.end();
      if (r) ok++;
      else failed++;
    } catch {
      failed++;
    }
  }
  return { ok, failed };
}

export const connectApp: StackThreadApp = async (ctx) => {
  const a = ctx.args as Args;
  const rs = await startStack(a.values as never, {}, { openDevice: () => Promise.resolve(ctx.device) });
  ctx.ready();
  const flag = new Int32Array(a.go);
  while (Atomics.load(flag, 0) === 0) await Bun.sleep(5);
  const res = await connectAll(rs, a.peer, a.count);
  await ctx.stopped;
  await rs.shutdown("stop");
  return res;
};

if (Bun.isMainThread && import.meta.main) {
  const [vdev, ip, peer, count] = process.argv.slice(2);
  const spec = { name: "multi-connect-child", usage: "", about: "", flags: [] };
  const values = parseAppArgs(spec, ["--vdev", vdev!, "--ip", ip!, "--queues", "2", "--status=false"]).values as Record<string, unknown>;
  const mailbox = createArpMailbox(2);
  const rs = await startStack(values as never, {}, { openDevice: async (c) => threadZeroDevice(await openDevice(c), mailbox) });
  const inner = (rs.stack.dev as unknown as { inner: import("../../../src/net/device").Device }).inner;
  const go = new SharedArrayBuffer(4);
  const threads = await startStackThreads({
    threads: 2, port: portOf(inner), maxBurst: rs.stack.dev.caps.maxBurst, mailbox,
    module: import.meta.path, export: "connectApp", args: { values, peer, count: Number(count), go } satisfies Args,
  });
  emit("up");
  await nextCommand(60_000);
  Atomics.store(new Int32Array(go), 0, 1);
  const own = await connectAll(rs, peer!, Number(count));
  const reps = await threads.stop(60_000);
  threads.terminate();
  emit("result", { t0: own, t1: reps[0]!.app });
  await rs.shutdown();
  process.exit(0);
}
