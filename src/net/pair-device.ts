/**
 * Two Devices joined back to back in one process, on a virtual clock, with
 * seeded fault injection: for unit and simulation tests of two stacks
 * (STYLE.md "Netsim"). A frame sent on one side is copied into a buffer of the
 * other side's pool and becomes receivable after the link delay (plus jitter);
 * the FaultConfig decides loss, duplication, reordering and corruption.
 */
import { emptyStats, type Device, type DeviceCaps, type DeviceStats } from "./device";
import type { PacketBatch } from "./packet-batch";
import { SeededRng } from "./seeded-rng";

/** A clock the test advances by hand. */
export class ManualClock {
  constructor(public nowUs = 0) {}
  advance(us: number): void {
    this.nowUs += us;
  }
}

export interface FaultConfig {
  /** Probability a frame is lost. */
  loss?: number;
  /** Probability a frame is delivered twice. */
  duplicate?: number;
  /** Probability a frame is held back by an extra `reorderUs` (so later frames overtake it). */
  reorder?: number;
  reorderUs?: number;
  /** Probability one random byte of a frame is flipped. */
  corrupt?: number;
  /** One-way delay and uniform jitter. */
  delayUs?: number;
  jitterUs?: number;
  /** Frames queued on the wire beyond which new ones are dropped (a tail-drop queue). */
  queueLimit?: number;
  /** Frames one txBurst takes at most, like a small NIC ring (the rest stay with the caller). */
  txRing?: number;
}

const HEADROOM = 128;
const BUF_BYTES = 2048;
const STRIDE = HEADROOM + BUF_BYTES;

/** One direction's wire: frames in flight, delivered to `to` in time order. */
class Wire {
  at: number[] = [];
  seq: number[] = [];
  data: Uint8Array[] = [];
  private n = 0;
  push(atUs: number, frame: Uint8Array): void {
    // Keep sorted by (time, arrival order): insertion from the back; frames mostly arrive in order.
    let i = this.at.length;
    while (i > 0 && this.at[i - 1]! > atUs) i--;
    this.at.splice(i, 0, atUs);
    this.seq.splice(i, 0, this.n++);
    this.data.splice(i, 0, frame);
  }
  size(): number {
    return this.at.length;
  }
}

export class PairDevice implements Device {
  readonly caps: DeviceCaps;
  readonly mem: Uint8Array;
  readonly dv: DataView;
  peer!: PairDevice;
  private readonly freeList: Int32Array;
  private freeCount: number;
  private readonly inUse: Uint8Array;
  private readonly stat: DeviceStats = emptyStats();
  private readonly inbound = new Wire();
  private up = true;
  /** Frames dropped by the fault injector, by reason. */
  readonly faults = { lost: 0, duplicated: 0, reordered: 0, corrupted: 0, queueDrops: 0 };

  private constructor(
    name: string,
    mac: Uint8Array,
    readonly clock: ManualClock,
    private readonly fault: FaultConfig,
    private readonly rng: SeededRng,
    readonly nbufs: number,
  ) {
    this.caps = { name, mac, mtu: 1500, maxBurst: 32, bufBytes: BUF_BYTES, queues: 1 };
    this.mem = new Uint8Array(nbufs * STRIDE);
    this.dv = new DataView(this.mem.buffer);
    this.freeList = new Int32Array(nbufs);
    for (let i = 0; i < nbufs; i++) this.freeList[i] = nbufs - 1 - i;
    this.freeCount = nbufs;
    this.inUse = new Uint8Array(nbufs);
  }

  /**
   * Make two joined devices. `faults` applies to both directions unless
   * `faultsBtoA` is given for the return direction.
   */
  static create(opts: {
    clock?: ManualClock;
    seed?: number;
    faults?: FaultConfig;
    faultsBtoA?: FaultConfig;
    nbufs?: number;
    macA?: Uint8Array;
    macB?: Uint8Array;
  } = {}): [PairDevice, PairDevice] {
    const clock = opts.clock ?? new ManualClock();
    const seed = opts.seed ?? 1;
    const nbufs = opts.nbufs ?? 4096;
    const a = new PairDevice("pair:a", opts.macA ?? new Uint8Array([2, 0, 0, 0, 0, 1]), clock, opts.faults ?? {}, new SeededRng(seed), nbufs);
    const b = new PairDevice("pair:b", opts.macB ?? new Uint8Array([2, 0, 0, 0, 0, 2]), clock, opts.faultsBtoA ?? opts.faults ?? {}, new SeededRng(seed ^ 0x5bd1e995), nbufs);
    a.peer = b;
    b.peer = a;
    return [a, b];
  }

  /** Earliest time a frame becomes receivable here, or +Infinity. */
  nextArrivalUs(): number {
    return this.inbound.size() > 0 ? this.inbound.at[0]! : Number.POSITIVE_INFINITY;
  }

  /** Frames in flight towards this device. */
  inFlight(): number {
    return this.inbound.size();
  }

  setLinkUp(up: boolean): void {
    this.up = up;
    this.peer.up = up;
  }

  private allocIndex(): number {
    if (this.freeCount === 0) return -1;
    const i = this.freeList[--this.freeCount]!;
    this.inUse[i] = 1;
    return i;
  }

  freeOne(handle: number): void {
    if (handle < 0 || handle >= this.nbufs || this.inUse[handle] === 0) throw new Error(`PairDevice: bad free of buffer ${handle}`);
    this.inUse[handle] = 0;
    this.freeList[this.freeCount++] = handle;
  }

  buffersFree(): number {
    return this.freeCount;
  }

  alloc(batch: PacketBatch, n: number): number {
    let k = 0;
    while (k < n && batch.count < batch.capacity) {
      const i = this.allocIndex();
      if (i < 0) break;
      batch.push(i, i * STRIDE + HEADROOM, 0);
      k++;
    }
    return k;
  }

  free(batch: PacketBatch): void {
    for (let i = 0; i < batch.count; i++) this.freeOne(batch.handle[i]!);
    batch.count = 0;
  }

  rxBurst(batch: PacketBatch): number {
    const w = this.inbound;
    const now = this.clock.nowUs;
    let k = 0;
    while (w.size() > 0 && w.at[0]! <= now && k < this.caps.maxBurst && batch.count < batch.capacity) {
      const frame = w.data[0]!;
      const i = this.allocIndex();
      if (i < 0) {
        this.stat.rxNoBuf++;
        this.stat.imissed++;
      } else {
        const off = i * STRIDE + HEADROOM;
        this.mem.set(frame, off);
        batch.push(i, off, frame.length);
        this.stat.ipackets++;
        this.stat.ibytes += frame.length;
        k++;
      }
      w.at.shift();
      w.seq.shift();
      w.data.shift();
    }
    return k;
  }

  txBurst(batch: PacketBatch): number {
    const n0 = batch.count;
    const ring = this.fault.txRing;
    const n = ring !== undefined && ring < n0 ? ring : n0;
    let sent = 0;
    for (let j = 0; j < n; j++) {
      const h = batch.handle[j]!;
      const off = batch.off[j]!;
      const len = batch.len[j]!;
      if (!this.up || len > this.caps.mtu + 14 + 4) {
        this.stat.oerrors++;
      } else {
        this.stat.opackets++;
        this.stat.obytes += len;
        sent++;
        this.transmit(this.mem.slice(off, off + len));
      }
      this.freeOne(h);
    }
    // Frames beyond the ring stay with the caller, moved to the front (Device contract).
    for (let j = n; j < n0; j++) {
      batch.handle[j - n] = batch.handle[j]!;
      batch.off[j - n] = batch.off[j]!;
      batch.len[j - n] = batch.len[j]!;
    }
    batch.count = n0 - n;
    if (n0 > n) this.txRingFull++;
    return sent;
  }

  /** txBurst calls that left frames with the caller. */
  txRingFull = 0;

  /** Put one frame on the wire towards the peer, through the fault injector. */
  private transmit(frame: Uint8Array): void {
    const f = this.fault;
    const rng = this.rng;
    if (f.loss && rng.next() < f.loss) {
      this.faults.lost++;
      return;
    }
    if (f.corrupt && rng.next() < f.corrupt && frame.length > 0) {
      // Corrupt beyond the Ethernet header so the frame still reaches IP/TCP checks.
      const pos = frame.length > 14 ? 14 + rng.below(frame.length - 14) : rng.below(frame.length);
      frame[pos] = frame[pos]! ^ (1 + rng.below(255));
      this.faults.corrupted++;
    }
    const copies = f.duplicate && rng.next() < f.duplicate ? 2 : 1;
    if (copies === 2) this.faults.duplicated++;
    for (let c = 0; c < copies; c++) {
      if (f.queueLimit !== undefined && this.peer.inbound.size() >= f.queueLimit) {
        this.faults.queueDrops++;
        continue;
      }
      let at = this.clock.nowUs + (f.delayUs ?? 0);
      if (f.jitterUs) at += rng.below(f.jitterUs + 1);
      if (f.reorder && rng.next() < f.reorder) {
        at += f.reorderUs ?? 1000;
        this.faults.reordered++;
      }
      this.peer.inbound.push(at, c === 0 ? frame : frame.slice());
    }
  }

  linkUp(): boolean {
    return this.up;
  }

  stats(): DeviceStats {
    return { ...this.stat };
  }

  close(): void {
    this.up = false;
  }
}
