/**
 * Child process for test/dpdk/shim.test.ts: EAL + net_af_packet on the host
 * end of a veth whose peer is in a namespace. Prints one JSON line per step.
 *
 *   bun afpacket-scenario.ts <hostIf> <ns> <nsIf> <huge|nohuge>
 */
import { initEal } from "../../../ffi/eal";
import { DpdkDevice } from "../../../ffi/dpdk-device";
import { LAYOUT } from "../../../ffi/layout";
import { shim } from "../../../ffi/shim";
import { ConfigError } from "../../../src/api/errors";
import { PacketBatch } from "../../../src/net/packet-batch";
import { emit } from "./child";
import { PYTHON } from "./netns";
import { lines } from "../../../scripts/lines";

const [hostIf, ns, nsIf, mode] = process.argv.slice(2) as [string, string, string, string];
const ETHERTYPE = 0x88b5; // IEEE 802 local experimental EtherType 1
const NBUFS = 4095;

function pyRecv(iface: string, nonce: string): string {
  return [
    "import socket",
    `s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(${ETHERTYPE}))`,
    `s.bind((${JSON.stringify(iface)}, 0))`,
    "s.settimeout(10)",
    "print('ready', flush=True)",
    "while True:",
    "    f = s.recv(4096)",
    `    if f[12:14] == bytes([0x88, 0xb5]) and ${JSON.stringify(nonce)}.encode() in f:`,
    "        print(f.hex(), flush=True)",
    "        break",
  ].join("\n");
}

function pySend(iface: string, frameHex: string): string {
  return [
    "import socket, time",
    "s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)",
    `s.bind((${JSON.stringify(iface)}, 0))`,
    "for i in range(20):",
    `    s.send(bytes.fromhex(${JSON.stringify(frameHex)}))`,
    "    time.sleep(0.1)",
  ].join("\n");
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString("hex");
}

/** A 60-byte frame: dst, src, EtherType 0x88b5, ASCII payload, zero padding. */
function frame(dst: Uint8Array, src: Uint8Array, text: string): Uint8Array {
  const f = new Uint8Array(60);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = ETHERTYPE >> 8;
  f[13] = ETHERTYPE & 0xff;
  f.set(new TextEncoder().encode(text), 14);
  return f;
}

/** Line reader over a subprocess's stdout, one line per call (null at the end). */
class LineReader {
  private readonly it: AsyncIterator<string>;
  constructor(stream: ReadableStream<Uint8Array>) {
    this.it = lines(stream)[Symbol.asyncIterator]();
  }
  async line(): Promise<string | null> {
    const r = await this.it.next();
    return r.done ? null : r.value;
  }
}

async function main(): Promise<void> {
  const devargs = `net_af_packet0,iface=${hostIf}`;
  initEal({ vdevs: [devargs], pci: [], extra: [], noHuge: mode !== "huge", memMb: 256 });
  const dev = DpdkDevice.open({ devargs, nbufs: NBUFS });
  emit("open", {
    driver: dev.driver,
    chunks: dev.poolChunks(),
    memBytes: dev.mem.byteLength,
    dvBytes: dev.dv.byteLength,
    sameBuffer: dev.dv.buffer === dev.mem.buffer,
    avail: dev.poolAvail(),
    nbufs: NBUFS,
    mac: hex(dev.caps.mac),
    mtu: dev.caps.mtu,
    bufBytes: dev.caps.bufBytes,
    maxBurst: dev.caps.maxBurst,
    link: dev.linkUp(),
  });

  // Alloc/free round trip, then exhaust the pool: alloc returns fewer than asked, free gives all back.
  const a = new PacketBatch(32);
  const got = dev.alloc(a, 32);
  const offsOk = Array.from({ length: got }, (_, i) => a.off[i]! - a.handle[i]! === LAYOUT.mbufSize + LAYOUT.headroom && a.len[i] === 0);
  const availDuring = dev.poolAvail();
  dev.free(a);
  const big = new PacketBatch(NBUFS + 100);
  const all = dev.alloc(big, NBUFS + 100);
  const handles = new Set(Array.from(big.handle.subarray(0, all)));
  const inRange = Array.from(big.off.subarray(0, all)).every((o) => o + dev.caps.bufBytes <= dev.mem.byteLength);
  const availEmpty = dev.poolAvail();
  dev.free(big);
  emit("alloc", { got, offsOk: offsOk.every(Boolean), availDuring, all, unique: handles.size, inRange, availEmpty, availAfter: dev.poolAvail() });

  // A Worker attaches to the same port and pool: buffers it fills are visible here and freed from here.
  const worker = new Worker(new URL("./worker-attach.ts", import.meta.url).href);
  const wr = await new Promise<Record<string, unknown>>((resolve) => {
    worker.onmessage = (e: MessageEvent<Record<string, unknown>>) => resolve(e.data);
    worker.postMessage({ port: dev.port });
  });
  worker.terminate();
  let patternSeen = wr.error === undefined;
  const wb = new PacketBatch(8);
  const offs = (wr.offs as number[] | undefined) ?? [];
  const whs = (wr.handles as number[] | undefined) ?? [];
  for (let i = 0; i < offs.length; i++) {
    for (let k = 0; k < 16; k++) if (dev.mem[offs[i]! + k] !== ((i * 16 + k) & 0xff)) patternSeen = false;
    wb.push(whs[i]!, offs[i]!, 16);
  }
  const availWithWorkerBufs = dev.poolAvail();
  dev.free(wb);
  emit("worker", { ...wr, mainLcore: shim().qs_lcore_id(), mainMemBytes: dev.mem.byteLength, patternSeen, availWithWorkerBufs, availAfter: dev.poolAvail() });

  // Transmit a broadcast frame; a raw socket in the namespace must see it byte for byte.
  const nonce = Math.random().toString(36).slice(2, 10);
  const txFrame = frame(new Uint8Array([255, 255, 255, 255, 255, 255]), dev.caps.mac, `qstack-tx-${nonce}`);
  const recv = Bun.spawn(["ip", "netns", "exec", ns, PYTHON, "-c", pyRecv(nsIf, nonce)], { stdout: "pipe", stderr: "pipe" });
  const rd = new LineReader(recv.stdout);
  const ready = await rd.line();
  const t = new PacketBatch(32);
  let sent = 0;
  if (ready === "ready") {
    if (dev.alloc(t, 1) === 1) {
      dev.mem.set(txFrame, t.off[0]!);
      t.len[0] = txFrame.length;
      sent = dev.txBurst(t);
    }
  }
  const seenHex = await Promise.race([rd.line(), Bun.sleep(8000).then(() => null)]);
  recv.kill(9);
  emit("tx", { ready, sent, batchCount: t.count, frameHex: hex(txFrame), seenHex });

  // Receive a frame the namespace sends; read it in place at the reported offset.
  const rxNonce = Math.random().toString(36).slice(2, 10);
  const rxFrame = frame(dev.caps.mac, new Uint8Array([2, 0, 0, 0, 0, 1]), `qstack-rx-${rxNonce}`);
  const snd = Bun.spawn(["ip", "netns", "exec", ns, PYTHON, "-c", pySend(nsIf, hex(rxFrame))], { stdout: "ignore", stderr: "pipe" });
  const r = new PacketBatch(32);
  let found: Record<string, unknown> | null = null;
  let other = 0;
  const end = Date.now() + 8000;
  while (found === null && Date.now() < end) {
    const n = dev.rxBurst(r);
    for (let i = 0; i < n; i++) {
      const off = r.off[i]!;
      const len = r.len[i]!;
      if (dev.dv.getUint16(off + 12) === ETHERTYPE && hex(dev.mem.subarray(off, off + len)) === hex(rxFrame)) {
        found = { handle: r.handle[i], off, len, bytesHex: hex(dev.mem.subarray(off, off + len)), offMinusHandle: off - r.handle[i]! };
      } else {
        other++;
      }
    }
    dev.free(r);
    if (n === 0) await Bun.sleep(1);
  }
  snd.kill(9);
  emit("rx", { found, other, frameHex: hex(rxFrame), batchCountAfterFree: r.count });

  emit("stats", { ...dev.stats(), avail: dev.poolAvail() });
  dev.close();
  emit("done", {});
}

main().then(
  () => process.exit(0),
  (e) => {
    emit("error", { message: String(e instanceof Error ? e.message : e), config: e instanceof ConfigError });
    process.exit(e instanceof ConfigError ? 2 : 1);
  },
);
