/**
 * Child process for test/dpdk/memif.test.ts: one end of a net_memif link,
 * driven by commands on stdin, reporting JSON lines on stdout.
 *
 *   bun memif-peer.ts <server|client> <socketPath> [huge|nohuge]
 *
 * Commands:
 *   send N     transmit N numbered frames (seq 0..N-1 accepted by the PMD, in order)
 *   recv N T   receive until N frames arrived or T ms passed; report order and counts
 *   flood      transmit numbered frames until the link goes down
 *   poll       receive (and free) until the link goes down
 *   close      stop and close the port, then exit 0
 * After `flood`/`poll` see the link go down the child keeps bursting for
 * 300 ms (a vanished peer must not crash us), closes the port and exits 0.
 */
import { guardStats, initEal } from "../../../ffi/eal";
import { DpdkDevice } from "../../../ffi/dpdk-device";
import { ConfigError } from "../../../src/api/errors";
import { PacketBatch } from "../../../src/net/packet-batch";
import { emit, nextCommand, yieldToLoop } from "./child";

const [role, sock, mode] = process.argv.slice(2) as [string, string, string | undefined];
const ETHERTYPE = 0x88b5;
const FRAME = 64;
const MAGIC = 0x51535441; // "QSTA"

function devargs(): string {
  return `net_memif0,role=${role},id=0,socket=${sock},socket-abstract=no`;
}

async function waitLink(dev: DpdkDevice, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!dev.linkUp()) {
    if (Date.now() > end) return false;
    await Bun.sleep(2);
  }
  return true;
}

/** Fill descriptors [0, count) of `b` with frames seq, seq+1, ... */
function fill(dev: DpdkDevice, b: PacketBatch, seq: number): void {
  const dv = dev.dv;
  for (let i = 0; i < b.count; i++) {
    const off = b.off[i]!;
    for (let k = 0; k < 6; k++) dv.setUint8(off + k, 0xff);
    dev.mem.set(dev.caps.mac, off + 6);
    dv.setUint16(off + 12, ETHERTYPE);
    dv.setUint32(off + 14, seq + i);
    dv.setUint32(off + 18, MAGIC);
    b.len[i] = FRAME;
  }
}

/** Send up to `limit` frames (Infinity: until the link drops). Unsent tails are re-sent with the same numbers. */
async function send(dev: DpdkDevice, limit: number): Promise<Record<string, number>> {
  const b = new PacketBatch(32);
  let seq = 0;
  let full = 0;
  let rounds = 0;
  while (seq < limit) {
    // Frames a full ring did not take stay at the front of b (Device contract)
    // and keep their numbers; top up behind them without passing `limit`.
    const want = Math.min(32, limit - seq) - b.count;
    if (want > 0) dev.alloc(b, want);
    if (b.count === 0) {
      await yieldToLoop();
      continue;
    }
    const n = b.count;
    fill(dev, b, seq);
    const sent = dev.txBurst(b);
    seq += sent;
    if (sent < n) {
      full++;
      await yieldToLoop();
    }
    if ((++rounds & 255) === 0) {
      await yieldToLoop();
      if (limit === Infinity && !dev.linkUp()) break;
    }
  }
  dev.free(b);
  return { accepted: seq, ringFull: full };
}

async function recv(dev: DpdkDevice, want: number, ms: number): Promise<Record<string, number>> {
  const b = new PacketBatch(32);
  let received = 0;
  let inOrder = 0;
  let outOfOrder = 0;
  let foreign = 0;
  let next = 0;
  let idle = 0;
  const end = Date.now() + ms;
  while (received < want) {
    const n = dev.rxBurst(b);
    for (let i = 0; i < n; i++) {
      const off = b.off[i]!;
      if (b.len[i] !== FRAME || dev.dv.getUint16(off + 12) !== ETHERTYPE || dev.dv.getUint32(off + 18) !== MAGIC) {
        foreign++;
        continue;
      }
      const seq = dev.dv.getUint32(off + 14);
      if (seq === next) inOrder++;
      else outOfOrder++;
      next = seq + 1;
      received++;
    }
    dev.free(b);
    if (n === 0 && (++idle & 1023) === 0) {
      if (Date.now() > end) break;
      await yieldToLoop();
    }
  }
  return { received, inOrder, outOfOrder, foreign, lastSeq: next - 1 };
}

async function pollUntilDown(dev: DpdkDevice): Promise<Record<string, number>> {
  const b = new PacketBatch(32);
  let received = 0;
  let i = 0;
  for (;;) {
    received += dev.rxBurst(b);
    dev.free(b);
    if ((++i & 1023) === 0) {
      if (!dev.linkUp()) break;
      await yieldToLoop();
    }
  }
  return { received };
}

/** Keep bursting on the dead link for a while: this is where a use-after-unmap would crash. */
async function afterDown(dev: DpdkDevice, ms: number): Promise<number> {
  const b = new PacketBatch(32);
  let bursts = 0;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    dev.rxBurst(b);
    dev.free(b);
    if (dev.alloc(b, 1) === 1) {
      b.len[0] = FRAME;
      dev.txBurst(b);
    }
    if ((++bursts & 255) === 0) await yieldToLoop();
  }
  return bursts;
}

async function main(): Promise<void> {
  initEal({ vdevs: [], pci: [], extra: [], noHuge: mode !== "huge", memMb: 256, noGuard: process.env.QS_NO_GUARD === "1" });
  const dev = DpdkDevice.open({ devargs: devargs(), nbufs: 8191 });
  emit("open", { driver: dev.driver, role });
  const up = await waitLink(dev, 10_000);
  emit("link", { up, guard: guardStats() });
  for (;;) {
    const cmd = (await nextCommand(60_000)).split(" ");
    switch (cmd[0]) {
      case "send":
        emit("sent", { ...(await send(dev, Number(cmd[1]))), stats: dev.stats() });
        break;
      case "recv":
        emit("recv", { ...(await recv(dev, Number(cmd[1]), Number(cmd[2]))), stats: dev.stats(), raw: Array.from(dev.rawStats()) });
        break;
      case "flood": {
        emit("flooding", {});
        const r = await send(dev, Infinity);
        emit("linkdown", { ...r, bursts: await afterDown(dev, 300), guard: guardStats() });
        dev.close();
        emit("done", {});
        return;
      }
      case "poll": {
        emit("polling", {});
        const r = await pollUntilDown(dev);
        emit("linkdown", { ...r, bursts: await afterDown(dev, 300), guard: guardStats() });
        dev.close();
        emit("done", {});
        return;
      }
      case "close":
        dev.close();
        emit("done", {});
        return;
      default:
        emit("error", { message: `unknown command ${cmd[0]}` });
    }
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    emit("error", { message: String(e instanceof Error ? e.message : e), config: e instanceof ConfigError });
    process.exit(e instanceof ConfigError ? 2 : 1);
  },
);
