/**
 * bench/pps single-process variant: both memif ends in one process and one
 * thread. Each iteration sends a burst of 32 frames on the client port (C,
 * qs_bench_send_burst, which also frees what came back), then reflects one
 * burst on the server port, in TypeScript (TsReflector) or in C
 * (qs_bench_reflect_burst). Nothing waits on another process, so the rate per
 * CPU second holds up on a machine shared with other work; the sender's cost
 * is in both sides, which pulls the ratio towards 1.
 *
 *   bun bench/pps-loop.ts <socket> <huge|nohuge>
 * Commands: "ts <warmupS> <seconds>", "c <warmupS> <seconds>", "close".
 */
import { DpdkDevice } from "../ffi/dpdk-device";
import { initEal } from "../ffi/eal";
import { shim } from "../ffi/shim";
import { ConfigError } from "../src/api/errors";
import { emit, nextCommand } from "./pps-ipc";
import { TsReflector } from "./pps-reflector";
import { buildFrame } from "./pps-sender";

const [sock, mode] = process.argv.slice(2) as [string, string];

interface LoopResult {
  rx: number;
  sent: number;
  back: number;
  seconds: number;
  cpuSeconds: number;
}

function runLoop(side: "ts" | "c", client: DpdkDevice, server: DpdkDevice, frame: Uint8Array, seconds: number): LoopResult {
  const lib = shim();
  const acc = new Float64Array(2);
  const refl = new TsReflector(server);
  const sport = server.port;
  const cport = client.port;
  const cpool = client.pool;
  const flen = frame.length;
  let rx = 0;
  let polls = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const endMs = t0 + seconds * 1000;
  let now = t0;
  if (side === "ts") {
    for (;;) {
      if ((++polls & 63) === 0) {
        now = performance.now();
        if (now >= endMs) break;
      }
      lib.qs_bench_send_burst(cport, 0, cpool, frame, flen, acc);
      rx += refl.burst();
    }
  } else {
    for (;;) {
      if ((++polls & 63) === 0) {
        now = performance.now();
        if (now >= endMs) break;
      }
      lib.qs_bench_send_burst(cport, 0, cpool, frame, flen, acc);
      rx += lib.qs_bench_reflect_burst(sport, 0);
    }
  }
  const cpu = process.cpuUsage(cpu0);
  return { rx, sent: acc[0]!, back: acc[1]!, seconds: (now - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

async function main(): Promise<void> {
  initEal({ vdevs: [], pci: [], extra: [], noHuge: mode !== "huge", memMb: 512 });
  const server = DpdkDevice.open({ devargs: `net_memif0,role=server,id=0,socket=${sock},socket-abstract=no`, nbufs: 16383 });
  const client = DpdkDevice.open({ devargs: `net_memif1,role=client,id=0,socket=${sock},socket-abstract=no`, nbufs: 16383 });
  const end = Date.now() + 10_000;
  while (!(server.linkUp() && client.linkUp())) {
    if (Date.now() > end) throw new Error("memif pair in one process did not link up");
    await Bun.sleep(2);
  }
  emit("link", {});
  // The frame's destination is the server's MAC: the reflector sends it back to the client.
  const frame = buildFrame(server.caps.mac, client.caps.mac);
  for (;;) {
    const cmd = (await nextCommand()).split(" ");
    if (cmd[0] === "ts" || cmd[0] === "c") {
      const w = runLoop(cmd[0], client, server, frame, Number(cmd[1]));
      const r = runLoop(cmd[0], client, server, frame, Number(cmd[2]));
      emit("result", {
        side: cmd[0],
        ...r,
        rxMpps: r.rx / r.seconds / 1e6,
        rxMppsPerCpu: r.rx / r.cpuSeconds / 1e6,
        warmupRxMpps: w.rx / w.seconds / 1e6,
      });
    } else if (cmd[0] === "close") {
      client.close();
      server.close();
      emit("closed", {});
      return;
    }
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    emit("error", { message: e instanceof Error ? e.message : String(e), config: e instanceof ConfigError });
    process.exit(e instanceof ConfigError ? 2 : 1);
  },
);
