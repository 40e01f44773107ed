/**
 * bench/pps sender process (net_memif client): floods 64-byte
 * Ethernet/IPv4/UDP frames with the shim's C sender (qs_bench_send) so the
 * receiver under test, not the sender, is the bottleneck; frees what comes back.
 *
 *   bun bench/pps-sender.ts <socket> <huge|nohuge> [cpu]
 * Commands: "send <dstMacHex>" (flood until "stop"), "stop", "close".
 */
import { DpdkDevice } from "../ffi/dpdk-device";
import { initEal } from "../ffi/eal";
import { shim } from "../ffi/shim";
import { ConfigError } from "../src/api/errors";
import { ETH_HEADER_LEN, ETHERTYPE_IPV4 } from "../src/wire/ethernet";
import { IPV4_HEADER_LEN, writeIpv4Header } from "../src/wire/ipv4";
import { UDP_HEADER_LEN } from "../src/wire/udp";
import { emit, nextCommand, pollCommand, yieldToLoop } from "./pps-ipc";

const [sock, mode, cpu] = process.argv.slice(2) as [string, string, string | undefined];
const FRAME_LEN = 64;
const SLICE_S = 0.2;

/** 64 bytes: Ethernet (RFC 894) + IPv4 (RFC 791, valid checksum) + UDP (RFC 768, checksum 0 = none) + payload. */
export function buildFrame(dst: Uint8Array, src: Uint8Array): Uint8Array {
  const f = new Uint8Array(FRAME_LEN);
  const dv = new DataView(f.buffer);
  f.set(dst, 0);
  f.set(src, 6);
  dv.setUint16(12, ETHERTYPE_IPV4);
  const ipLen = FRAME_LEN - ETH_HEADER_LEN;
  writeIpv4Header(dv, ETH_HEADER_LEN, 0, ipLen, 1, true, 64, 17, 0xc6120001, 0xc6120002); // 198.18.0.1 -> 198.18.0.2 (RFC 2544)
  const u = ETH_HEADER_LEN + IPV4_HEADER_LEN;
  dv.setUint16(u, 1024);
  dv.setUint16(u + 2, 9);
  dv.setUint16(u + 4, ipLen - IPV4_HEADER_LEN);
  dv.setUint16(u + 6, 0);
  for (let i = u + UDP_HEADER_LEN; i < FRAME_LEN; i++) f[i] = i;
  return f;
}

async function main(): Promise<void> {
  const pin = cpu !== undefined;
  initEal({ vdevs: [], pci: [], extra: [], noHuge: mode !== "huge", memMb: 512, lcores: pin ? `0@${cpu}` : undefined, keepAffinity: pin });
  const dev = DpdkDevice.open({ devargs: `net_memif0,role=client,id=0,socket=${sock},socket-abstract=no`, nbufs: 16383 });
  emit("open", { mac: Buffer.from(dev.caps.mac).toString("hex") });
  while (!dev.linkUp()) await Bun.sleep(2);
  emit("link", {});
  const lib = shim();
  const out = new Float64Array(4);
  const tot = { rx: 0, tx: 0, nobuf: 0, seconds: 0 };
  for (;;) {
    const cmd = (await nextCommand()).split(" ");
    if (cmd[0] === "send") {
      const frame = buildFrame(Buffer.from(cmd[1]!, "hex"), dev.caps.mac);
      emit("sending", {});
      // Flood in short C slices; between slices let the event loop see "stop".
      for (;;) {
        lib.qs_bench_send(dev.port, 0, dev.pool, SLICE_S, frame, frame.length, out);
        tot.rx += out[0]!;
        tot.tx += out[1]!;
        tot.nobuf += out[2]!;
        tot.seconds += out[3]!;
        await yieldToLoop();
        const c = pollCommand();
        if (c === "stop" || !dev.linkUp()) break;
      }
      emit("stopped", { ...tot, txMpps: tot.tx / tot.seconds / 1e6 });
    } else if (cmd[0] === "close") {
      // The peer closes first (it is not bursting); wait for the link to drop, then close.
      const end = Date.now() + 3000;
      while (dev.linkUp() && Date.now() < end) await Bun.sleep(2);
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
