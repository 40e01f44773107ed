/**
 * Child process for test/dpdk/mbuf-exhaustion.test.ts: a port (net_tap here: its receive path
 * counts rx_nombuf; net_af_packet in DPDK 22.11 counts nothing when allocation fails) with a
 * deliberately small mbuf pool (DpdkDevice.open nbufs, no per-lcore cache). Commands:
 *   hold      receive and keep every mbuf (never free) until the pool is empty and
 *             bursts have kept returning nothing for 1 s under the flood; report
 *   release   free everything held; report
 *   count MS  receive (and free) for MS ms; report frames received
 *   close     close the port and exit 0
 *
 *   bun mbuf-exhaust-child.ts <devargs> <nbufs> <rxDesc>
 */
import { initEal } from "../../../ffi/eal";
import { DpdkDevice } from "../../../ffi/dpdk-device";
import { PacketBatch } from "../../../src/net/packet-batch";
import { emit, nextCommand, yieldToLoop } from "./child";

const [devargs, nbufsArg, rxDescArg] = process.argv.slice(2) as [string, string, string];
const NBUFS = Number(nbufsArg);

async function main(): Promise<void> {
  initEal({ vdevs: [devargs], pci: [], extra: [], noHuge: true, memMb: 256 });
  const dev = DpdkDevice.open({ devargs, nbufs: NBUFS, cache: 0, rxDesc: Number(rxDescArg) });
  emit("open", { avail: dev.poolAvail(), nbufs: NBUFS, mac: Array.from(dev.caps.mac, (b) => b.toString(16).padStart(2, "0")).join(":") });
  const held: PacketBatch[] = [];
  for (;;) {
    const cmd = (await nextCommand(120_000)).split(" ");
    if (cmd[0] === "hold") {
      let got = 0;
      let emptySince = 0;
      let bursts = 0;
      const deadline = Date.now() + 20_000;
      for (;;) {
        const b = new PacketBatch(32);
        const n = dev.rxBurst(b);
        bursts++;
        if (n > 0) {
          held.push(b);
          got += n;
          emptySince = 0;
        } else if (dev.poolAvail() === 0) {
          if (emptySince === 0) emptySince = Date.now();
          else if (Date.now() - emptySince > 1000) break;
        }
        if (Date.now() > deadline) break;
        if ((bursts & 63) === 0) await yieldToLoop();
      }
      emit("held", { got, avail: dev.poolAvail(), stats: dev.stats() });
    } else if (cmd[0] === "release") {
      let n = 0;
      for (const b of held) {
        n += b.count;
        dev.free(b);
      }
      held.length = 0;
      emit("released", { freed: n, avail: dev.poolAvail(), stats: dev.stats() });
    } else if (cmd[0] === "count") {
      const b = new PacketBatch(32);
      let got = 0;
      let i = 0;
      const end = Date.now() + Number(cmd[1]);
      while (Date.now() < end) {
        got += dev.rxBurst(b);
        dev.free(b);
        if ((++i & 63) === 0) await yieldToLoop();
      }
      emit("counted", { got, avail: dev.poolAvail(), stats: dev.stats() });
    } else if (cmd[0] === "close") {
      dev.close();
      emit("done", {});
      return;
    }
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    emit("error", { message: String(e instanceof Error ? e.message : e) });
    process.exit(1);
  },
);
