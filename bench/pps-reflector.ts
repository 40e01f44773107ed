/**
 * bench/pps receiver process (net_memif server): reflects every UDP/IPv4
 * frame back to its sender, either through the stack's receive path in
 * TypeScript (reflectTs: wire views, demux on protocol, swap, txBurst) or
 * through the same loop in C (qs_bench_reflect), for the given seconds.
 *
 *   bun bench/pps-reflector.ts <socket> <huge|nohuge> [cpu]
 * Commands: "ts <warmupS> <seconds>", "c <warmupS> <seconds>", "close".
 */
import { DpdkDevice } from "../ffi/dpdk-device";
import { initEal } from "../ffi/eal";
import { shim } from "../ffi/shim";
import { ConfigError } from "../src/api/errors";
import { PacketBatch } from "../src/net/packet-batch";
import { IPPROTO_UDP } from "../src/net/l4-tx";
import { ETH_HEADER_LEN, ETHERTYPE_IPV4, EthernetView } from "../src/wire/ethernet";
import { Ipv4View } from "../src/wire/ipv4";
import { emit, nextCommand } from "./pps-ipc";

const [sock, mode, cpu] = process.argv.slice(2) as [string, string, string | undefined];

export interface ReflectResult {
  rx: number;
  tx: number;
  drop: number;
  seconds: number;
}

/**
 * The TypeScript reflect path, one burst at a time: rx burst -> Ethernet
 * checkLen/EtherType -> IPv4 checkLen (version, IHL, lengths) -> switch on
 * protocol -> swap MACs and addresses (the header checksum is invariant under
 * the swap) -> tx burst. Views and batches are made once and reused.
 */
export class TsReflector {
  rx = 0;
  tx = 0;
  drop = 0;
  private readonly rxb = new PacketBatch(32);
  private readonly txb = new PacketBatch(32);
  private readonly dropb = new PacketBatch(32);
  private readonly eth = new EthernetView();
  private readonly ip = new Ipv4View();

  constructor(private readonly dev: DpdkDevice) {}

  /** One rx burst reflected; returns the frames received. */
  burst(): number {
    const dev = this.dev;
    const rxb = this.rxb;
    const txb = this.txb;
    const dropb = this.dropb;
    const eth = this.eth;
    const ip = this.ip;
    const mem = dev.mem;
    const dv = dev.dv;
    const n = dev.rxBurst(rxb);
    if (n === 0) return 0;
    this.rx += n;
    const off = rxb.off;
    const len = rxb.len;
    const handle = rxb.handle;
    for (let i = 0; i < n; i++) {
      const o = off[i]!;
      const l = len[i]!;
      eth.reset(mem, dv, o, l);
      if (!eth.checkLen() || eth.etherType() !== ETHERTYPE_IPV4) {
        dropb.push(handle[i]!, o, l);
        continue;
      }
      ip.reset(mem, dv, o + ETH_HEADER_LEN, l - ETH_HEADER_LEN);
      if (!ip.checkLen()) {
        dropb.push(handle[i]!, o, l);
        continue;
      }
      switch (ip.protocol()) {
        case IPPROTO_UDP: {
          eth.swapMacs();
          const src = ip.srcIp();
          ip.setSrcIp(ip.dstIp());
          ip.setDstIp(src);
          txb.push(handle[i]!, o, l);
          break;
        }
        default:
          dropb.push(handle[i]!, o, l);
      }
    }
    rxb.count = 0;
    if (txb.count > 0) {
      // Frames a full ring did not take stay in txb (Device contract): retry a
      // few times, then drop them, as qs_bench_reflect does in C.
      let tries = 0;
      do this.tx += dev.txBurst(txb);
      while (txb.count > 0 && ++tries < 4);
      if (txb.count > 0) {
        this.drop += txb.count;
        dev.free(txb);
      }
    }
    if (dropb.count > 0) {
      this.drop += dropb.count;
      dev.free(dropb);
    }
    return n;
  }
}

/** TsReflector for `seconds`; the clock is read once per 64 polls. */
export function reflectTs(dev: DpdkDevice, seconds: number): ReflectResult {
  const r = new TsReflector(dev);
  let polls = 0;
  const t0 = performance.now();
  const endMs = t0 + seconds * 1000;
  let now = t0;
  for (;;) {
    if ((++polls & 63) === 0) {
      now = performance.now();
      if (now >= endMs) break;
    }
    r.burst();
  }
  return { rx: r.rx, tx: r.tx, drop: r.drop, seconds: (now - t0) / 1000 };
}

function reflectC(dev: DpdkDevice, seconds: number): ReflectResult {
  const out = new Float64Array(4);
  shim().qs_bench_reflect(dev.port, 0, seconds, out);
  return { rx: out[0]!, tx: out[1]!, drop: out[2]!, seconds: out[3]! };
}

async function main(): Promise<void> {
  const pin = cpu !== undefined;
  initEal({ vdevs: [], pci: [], extra: [], noHuge: mode !== "huge", memMb: 512, lcores: pin ? `0@${cpu}` : undefined, keepAffinity: pin });
  const dev = DpdkDevice.open({ devargs: `net_memif0,role=server,id=0,socket=${sock},socket-abstract=no`, nbufs: 16383 });
  emit("open", { mac: Buffer.from(dev.caps.mac).toString("hex") });
  while (!dev.linkUp()) await Bun.sleep(2);
  emit("link", {});
  for (;;) {
    const cmd = (await nextCommand()).split(" ");
    const warm = Number(cmd[1]);
    const secs = Number(cmd[2]);
    if (cmd[0] === "ts" || cmd[0] === "c") {
      const run = cmd[0] === "ts" ? reflectTs : reflectC;
      const w = run(dev, warm);
      const before = dev.stats();
      const cpu0 = process.cpuUsage();
      const r = run(dev, secs);
      const cpu = process.cpuUsage(cpu0);
      const after = dev.stats();
      const cpuSeconds = (cpu.user + cpu.system) / 1e6;
      emit("result", {
        side: cmd[0],
        ...r,
        rxMpps: r.rx / r.seconds / 1e6,
        txMpps: r.tx / r.seconds / 1e6,
        warmupRxMpps: w.rx / w.seconds / 1e6,
        cpuSeconds,
        // Robust to time-slicing by other processes: packets per second of CPU this process got.
        rxMppsPerCpu: r.rx / cpuSeconds / 1e6,
        rxNoBuf: after.rxNoBuf - before.rxNoBuf,
        imissed: after.imissed - before.imissed,
      });
    } else if (cmd[0] === "close") {
      dev.close();
      emit("closed", {});
      return;
    }
  }
}

if (import.meta.main) {
  main().then(
    () => process.exit(0),
    (e) => {
      emit("error", { message: e instanceof Error ? e.message : String(e), config: e instanceof ConfigError });
      process.exit(e instanceof ConfigError ? 2 : 1);
    },
  );
}
