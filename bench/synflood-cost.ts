/**
 * Where a stack's time goes per flood SYN (issue 7), in one process, without DPDK:
 *
 *   bun bench/synflood-cost.ts [--frames 2000000] [--budget N] [--mix 0.05]
 *
 * A replay device hands the stack prebuilt frames in bursts of 32, in place (no copy, no
 * allocation): bare SYNs (no options, like hping3 -S) from random off-subnet sources to the
 * listening port, and, with --mix F, a fraction F of data segments of one established
 * connection's flow (not a real connection here: they are answered with RST by TCP, which is
 * enough to time the receive path). Transmitted frames are freed at once. The gateway's MAC is
 * learned up front, so no ARP resolution happens (as in bench/synflood, where --gw is the
 * namespace's address). Prints ns per frame for: classification alone, the whole poll round
 * without the classifier, with the classifier, and with the classifier plus a SYN budget
 * (--budget frames per full burst, shed SYNs counted; no retry table: the replayed templates
 * repeat every 4,096 frames and would count as retransmissions), and the counters that moved.
 */
import { Stack } from "../src/api/stack";
import { TcpSockets } from "../src/api/tcp-sockets";
import type { Device, DeviceCaps, DeviceStats } from "../src/net/device";
import { PacketBatch } from "../src/net/packet-batch";
import { SeededRng } from "../src/net/seeded-rng";
import { Classifier, synLowClassifier } from "../src/sched/classifier";
import { SynAdmission } from "../src/sched/syn-admission";
import { ETHERTYPE_IPV4, writeEthernetHeader } from "../src/wire/ethernet";
import { writeIpv4Header } from "../src/wire/ipv4";
import { TcpView, writeTcpHeader } from "../src/wire/tcp";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { frames: { type: "string", default: "2000000" }, budget: { type: "string", default: "4" }, mix: { type: "string", default: "0" } } });
const FRAMES = Number(values.frames);
const BUDGET = Number(values.budget);
const MIX = Number(values.mix);

const STACK_MAC = new Uint8Array([2, 0, 0, 0, 0, 1]);
const GW_MAC = new Uint8Array([2, 0, 0, 0, 0, 2]);
const STACK_IP = 0x0ac20001; // 10.194.0.1
const GW_IP = 0x0ac20002;
const SLOT = 2048;
const TEMPLATES = 4096;
const TX_SLOTS = 4096;

/** Frames [0, TEMPLATES) are the replayed templates (never freed); the rest are transmit buffers. */
class ReplayDevice implements Device {
  readonly caps: DeviceCaps = { name: "replay", mac: STACK_MAC, mtu: 1500, maxBurst: 32, bufBytes: SLOT - 128, queues: 1 };
  readonly mem = new Uint8Array((TEMPLATES + TX_SLOTS) * SLOT);
  readonly dv = new DataView(this.mem.buffer);
  readonly lens = new Int32Array(TEMPLATES);
  private readonly freeList = new Int32Array(TX_SLOTS);
  private freeCount = 0;
  next = 0;
  /** Frames left to hand out. */
  remaining = 0;
  tx = 0;
  constructor() {
    for (let i = 0; i < TX_SLOTS; i++) this.freeList[this.freeCount++] = TEMPLATES + i;
  }
  rxBurst(b: PacketBatch): number {
    let k = 0;
    while (k < 32 && this.remaining > 0 && b.count < b.capacity) {
      const i = this.next;
      this.next = (i + 1) % TEMPLATES;
      b.push(i, i * SLOT + 128, this.lens[i]!);
      this.remaining--;
      k++;
    }
    return k;
  }
  txBurst(b: PacketBatch): number {
    const n = b.count;
    for (let j = 0; j < n; j++) this.freeOne(b.handle[j]!);
    b.count = 0;
    this.tx += n;
    return n;
  }
  alloc(b: PacketBatch, n: number): number {
    let k = 0;
    while (k < n && this.freeCount > 0 && b.count < b.capacity) {
      const h = this.freeList[--this.freeCount]!;
      b.push(h, h * SLOT + 128, 0);
      k++;
    }
    return k;
  }
  free(b: PacketBatch): void {
    for (let j = 0; j < b.count; j++) this.freeOne(b.handle[j]!);
    b.count = 0;
  }
  freeOne(h: number): void {
    if (h >= TEMPLATES) this.freeList[this.freeCount++] = h;
  }
  linkUp(): boolean {
    return true;
  }
  stats(): DeviceStats {
    return { ipackets: 0, opackets: this.tx, ibytes: 0, obytes: 0, imissed: 0, ierrors: 0, oerrors: 0, rxNoBuf: 0 };
  }
  close(): void {}
}

function buildTemplates(dev: ReplayDevice, seed: number): void {
  const rng = new SeededRng(seed);
  const tcp = new TcpView();
  for (let i = 0; i < TEMPLATES; i++) {
    const off = i * SLOT + 128;
    const data = rng.next() < MIX;
    const src = data ? 0x0ac20002 : (0x0b000000 + (rng.nextU32() & 0x00ffffff)) >>> 0;
    const payload = data ? 32 : 0;
    let p = off + writeEthernetHeader(dev.mem, dev.dv, off, STACK_MAC, GW_MAC, ETHERTYPE_IPV4);
    p += writeIpv4Header(dev.dv, p, 0, 40 + payload, i & 0xffff, false, 64, 6, src, STACK_IP);
    const sport = data ? 40000 : 1024 + (rng.nextU32() % 60000);
    writeTcpHeader(dev.dv, p, sport, 7, rng.nextU32() | 0, data ? 1 : 0, 20, data ? 0x18 : 0x02, 512);
    dev.mem.fill(0x61, p + 20, p + 20 + payload);
    tcp.reset(dev.mem, dev.dv, p, 20 + payload).fillChecksum(src, STACK_IP);
    dev.lens[i] = Math.max(60, 14 + 40 + payload);
  }
}

function makeStack(classifier: Classifier | null): { stack: Stack; dev: ReplayDevice; clock: { now: number } } {
  const dev = new ReplayDevice();
  buildTemplates(dev, 7);
  const clock = { now: 1_000_000 };
  const stack = new Stack(dev, { ip: STACK_IP, prefixLen: 24, gateway: GW_IP }, { clock: () => clock.now });
  const rng = new SeededRng(3);
  const sockets = new TcpSockets(stack, { maxConnections: 4096 }, { rng: () => rng.nextU32() });
  sockets.listen({ port: 7, backlog: 1024, socket: { data() {} } });
  if (classifier !== null) stack.setClassifier(classifier);
  stack.netif.arp.cache.learn(GW_IP, GW_MAC, 0, clock.now);
  return { stack, dev, clock };
}

function run(name: string, classifier: Classifier | null, frames: number): void {
  const { stack, dev, clock } = makeStack(classifier);
  // Warm-up (JIT), then the timed run; virtual time advances 20 us per round.
  for (const [n, timed] of [[Math.min(frames, 300_000), false], [frames, true]] as const) {
    dev.remaining = n;
    const t0 = Bun.nanoseconds();
    while (dev.remaining > 0) {
      clock.now += 20;
      stack.poll(clock.now);
    }
    const ns = Bun.nanoseconds() - t0;
    if (timed) {
      const t = (stack as unknown as { transport: { counters: Record<string, number> } }).transport;
      const c = t.counters;
      const shed = classifier?.admission?.shed() ?? 0;
      console.log(`${name.padEnd(34)} ${(ns / n).toFixed(0).padStart(6)} ns/frame  (tx ${dev.tx}, cookies ${c["synCookiesSent"]}, shed ${shed})`);
    }
  }
}

function classifyOnly(frames: number): void {
  const dev = new ReplayDevice();
  buildTemplates(dev, 7);
  const cl = new Classifier({ classes: 2, fn: synLowClassifier() });
  const rx = new PacketBatch(32);
  const out = [new PacketBatch(32), new PacketBatch(32)];
  for (const [n, timed] of [[300_000, false], [frames, true]] as const) {
    dev.remaining = n;
    const t0 = Bun.nanoseconds();
    while (dev.remaining > 0) {
      dev.rxBurst(rx);
      cl.classifyBatch(dev.mem, dev.dv, rx, out);
      out[0]!.count = 0;
      out[1]!.count = 0;
    }
    if (timed) console.log(`${"classify only (parseFrameInfo + rule)".padEnd(34)} ${((Bun.nanoseconds() - t0) / n).toFixed(0).padStart(6)} ns/frame`);
  }
}

console.log(`synflood-cost: ${FRAMES} frames, ${(MIX * 100).toFixed(1)} % data segments, bun ${Bun.version}`);
classifyOnly(FRAMES);
run("poll, no classifier", null, FRAMES);
run("poll, SYN classifier, no budget", new Classifier({ classes: 2, fn: synLowClassifier() }), FRAMES);
run(`poll, SYN classifier, budget ${BUDGET}/round`, new Classifier({ classes: 2, fn: synLowClassifier(), admission: new SynAdmission({ overloadStreak: 1, perBurst: BUDGET, retry: null }) }), FRAMES);
