/**
 * DpdkDevice: the Device contract (src/net/device.ts) over one DPDK port.
 *
 * All packet memory is one mbuf pool in one virtually contiguous chunk, seen
 * through ONE Uint8Array (`mem`) and ONE DataView (`dv`). Descriptors carry
 * byte offsets from the pool base. Each burst is one FFI call with the
 * batch's descriptor words passed by pointer; the pointers of the last four
 * batches are cached, others are looked up in a WeakMap, so no call pays for ptr().
 */
import { ptr, toArrayBuffer, type Pointer } from "bun:ffi";
import type { Device, DeviceCaps, DeviceStats } from "../src/net/device";
import type { PacketBatch } from "../src/net/packet-batch";
import { attachVdev, ealReady } from "./eal";
import { LAYOUT } from "./layout";
import { enableNativeMem } from "./native-mem";
import { forgetNativeBuffer } from "../src/mem/native-mem";
import { check, cstr, lastError, shim, type Shim } from "./shim";

export interface DpdkDeviceOptions {
  /** vdev devargs ("net_af_packet0,iface=veth0", "net_memif0,role=client,socket=/tmp/x.sock") or a PCI address. */
  devargs: string;
  /** rx/tx queue pairs (RSS over rx queues when > 1). Default 1. */
  queues?: number;
  /** mbufs in the pool (default 8191). */
  nbufs?: number;
  /** Per-lcore mempool cache (default 256). */
  cache?: number;
  /** Bytes per mbuf data room after the headroom (default 2048). */
  bufBytes?: number;
  rxDesc?: number;
  txDesc?: number;
  /** Promiscuous mode (default true: virtual peers use their own MACs). */
  promisc?: boolean;
  /** Largest burst the stack asks for (default 32). */
  maxBurst?: number;
  /** Station MAC to use instead of the port's (--mac). */
  mac?: Uint8Array;
  /**
   * IP MTU (--mtu; default: the port's, at most 1500). Above 1500 the mbuf data room grows to
   * hold a whole frame (a chained mbuf cannot be one frame here) and caps.mtu is this value:
   * the peer must accept such frames (memif: bsize= in the devargs).
   */
  mtu?: number;
}

const STATS_N = LAYOUT.statsN;
let poolSeq = 0;

export class DpdkDevice implements Device {
  readonly caps: DeviceCaps;
  readonly mem: Uint8Array;
  readonly dv: DataView;
  /** DPDK port id. */
  readonly port: number;
  /** Shim pool index. */
  readonly pool: number;
  /** Name of the PMD driving the port ("net_af_packet", "net_memif", ...). */
  readonly driver: string;
  /**
   * The queue pair rxBurst/txBurst use when the caller names none (0 unless
   * attach() gave another): a stack thread of --layout stack=N owns queue i.
   */
  readonly queue: number;

  private readonly lib: Shim;
  private readonly owner: boolean;
  private readonly probed: boolean;
  private registered = false;
  private closed = false;
  // Pointers of the last few batches (a stack alternates rx, tx and free
  // batches every round), then a WeakMap: ptr() is never called per burst.
  private b0: PacketBatch | null = null;
  private b1: PacketBatch | null = null;
  private b2: PacketBatch | null = null;
  private b3: PacketBatch | null = null;
  private p0 = 0 as Pointer;
  private p1 = 0 as Pointer;
  private p2 = 0 as Pointer;
  private p3 = 0 as Pointer;
  private nextSlot = 0;
  private readonly ptrs = new WeakMap<PacketBatch, Pointer>();
  private readonly statsBuf = new Float64Array(STATS_N);
  /** qs_tx_burst_keep's out parameter: descriptors left in the batch. */
  private readonly left = new Int32Array(2);
  private readonly leftPtr: Pointer = ptr(this.left);

  private constructor(lib: Shim, port: number, pool: number, queues: number, maxBurst: number, owner: boolean, probed: boolean, queue = 0) {
    this.lib = lib;
    this.queue = queue;
    this.port = port;
    this.pool = pool;
    this.owner = owner;
    this.probed = probed;
    const base = lib.qs_pool_base(pool);
    const span = lib.qs_pool_span(pool);
    if (base === null || !(span > 0)) throw new Error(`pool ${pool}: ${lastError()}`);
    this.mem = new Uint8Array(toArrayBuffer(base as Pointer, 0, span));
    this.dv = new DataView(this.mem.buffer, this.mem.byteOffset, this.mem.byteLength);
    const mac = new Uint8Array(6);
    check(lib.qs_port_mac(port, mac), `MAC of port ${port}`);
    const mtu = lib.qs_port_mtu(port);
    const drv = new Uint8Array(64);
    const n = lib.qs_port_driver(port, drv, drv.length);
    this.driver = new TextDecoder().decode(drv.subarray(0, Math.max(0, n)));
    // Data room after the headroom, read back from a real mbuf's buf_len.
    const probe = new Uint32Array(3);
    let bufBytes = 2048;
    if (lib.qs_alloc_bulk(pool, probe, 1, 0, 1) === 1) {
      bufBytes = this.dv.getUint16(probe[0]! + LAYOUT.bufLen, true) - LAYOUT.headroom;
      lib.qs_free_bulk(pool, probe, 1, 1);
    }
    this.caps = {
      name: `${this.driver}:${port}`,
      mac,
      mtu: mtu > 0 && mtu < 1500 ? mtu : 1500,
      maxBurst,
      bufBytes,
      queues,
    };
  }

  /**
   * Open a port by devargs (attaching the vdev if EAL did not create it yet),
   * create its mbuf pool and start it. initEal must have run.
   */
  static open(opts: DpdkDeviceOptions): DpdkDevice {
    if (!ealReady()) throw new Error("DpdkDevice.open: call initEal() first");
    const lib = shim();
    const name = opts.devargs.split(",")[0]!;
    let port = lib.qs_port_by_name(cstr(name));
    let probed = false;
    if (port < 0) {
      port = attachVdev(opts.devargs);
      probed = true;
    }
    const queues = opts.queues ?? 1;
    const jumbo = opts.mtu !== undefined && opts.mtu > 1500 ? opts.mtu : 0;
    const bufBytes = opts.bufBytes ?? (jumbo > 0 ? Math.max(2048, Math.ceil((jumbo + 14 + 4) / 1024) * 1024) : 2048);
    const pool = check(
      lib.qs_pool_create(cstr(`qsp${process.pid % 100000}_${poolSeq++}`), opts.nbufs ?? 8191, opts.cache ?? 256, bufBytes + LAYOUT.headroom),
      `mbuf pool for ${name}`,
    );
    const ret = lib.qs_port_setup(port, pool, queues, queues, opts.rxDesc ?? 1024, opts.txDesc ?? 1024, opts.promisc === false ? 0 : 1);
    if (ret < 0) {
      const msg = lastError();
      lib.qs_pool_free(pool);
      throw new Error(`setting up ${name} (port ${port}): ${msg}`);
    }
    const dev = new DpdkDevice(lib, port, pool, queues, opts.maxBurst ?? 32, true, probed);
    if (jumbo > 0) (dev.caps as { mtu: number }).mtu = Math.min(jumbo, dev.caps.bufBytes - 14);
    else if (opts.mtu !== undefined && opts.mtu < dev.caps.mtu) (dev.caps as { mtu: number }).mtu = opts.mtu;
    enableNativeMem();
    if (opts.mac !== undefined) {
      if (opts.mac.length !== 6) throw new Error("DpdkDevice.open: mac must be 6 bytes");
      // The PMD may refuse (some virtual ones do): the port stays promiscuous and
      // the stack uses the address in software either way.
      lib.qs_port_set_mac(port, opts.mac);
      dev.caps.mac.set(opts.mac);
    }
    return dev;
  }

  /**
   * A second view of a port another thread opened (for a Worker serving its
   * own queue). Registers the calling thread with EAL (mempool cache) unless
   * it already has an lcore id; close() gives the id back and leaves the port running.
   * `queue` is the queue pair bursts use by default (see `queue`).
   */
  static attach(port: number, queues = 1, maxBurst = 32, queue = 0): DpdkDevice {
    if (!(queue >= 0 && queue < queues)) throw new Error(`DpdkDevice.attach: queue ${queue} outside 0..${queues - 1}`);
    const lib = shim();
    const register = lib.qs_lcore_id() < 0;
    if (register) check(lib.qs_thread_register(), "rte_thread_register");
    const pool = check(lib.qs_port_pool(port), `port ${port}`);
    const dev = new DpdkDevice(lib, port, pool, queues, maxBurst, false, false, queue);
    dev.registered = register;
    return dev;
  }

  private ptrOf(batch: PacketBatch): Pointer {
    if (batch === this.b0) return this.p0;
    if (batch === this.b1) return this.p1;
    if (batch === this.b2) return this.p2;
    if (batch === this.b3) return this.p3;
    return this.ptrSlow(batch);
  }

  private ptrSlow(batch: PacketBatch): Pointer {
    let p = this.ptrs.get(batch);
    if (p === undefined) {
      p = ptr(batch.words);
      this.ptrs.set(batch, p);
    }
    switch (this.nextSlot) {
      case 0:
        this.b0 = batch;
        this.p0 = p;
        break;
      case 1:
        this.b1 = batch;
        this.p1 = p;
        break;
      case 2:
        this.b2 = batch;
        this.p2 = p;
        break;
      default:
        this.b3 = batch;
        this.p3 = p;
    }
    this.nextSlot = (this.nextSlot + 1) & 3;
    return p;
  }

  rxBurst(batch: PacketBatch, queue = this.queue): number {
    const p = this.ptrOf(batch);
    const n = this.lib.qs_rx_burst(this.port, queue, p, batch.capacity, batch.count);
    if (n > 0) {
      batch.count += n;
      return n;
    }
    if (n < 0) check(n, `rx burst on port ${this.port}`);
    return 0;
  }

  txBurst(batch: PacketBatch, queue = this.queue): number {
    const count = batch.count;
    if (count === 0) return 0;
    const p = this.ptrOf(batch);
    const n = this.lib.qs_tx_burst_keep(this.port, queue, p, batch.capacity, count, this.leftPtr);
    if (n < 0) {
      batch.count = 0;
      check(n, `tx burst on port ${this.port}`);
    }
    // Frames the PMD could not take stay at the front of the batch (Device contract).
    batch.count = this.left[0]!;
    return n;
  }

  alloc(batch: PacketBatch, n: number): number {
    const p = this.ptrOf(batch);
    const k = this.lib.qs_alloc_bulk(this.pool, p, batch.capacity, batch.count, n);
    if (k > 0) batch.count += k;
    return k > 0 ? k : 0;
  }

  free(batch: PacketBatch): void {
    if (batch.count === 0) return;
    const p = this.ptrOf(batch);
    this.lib.qs_free_bulk(this.pool, p, batch.capacity, batch.count);
    batch.count = 0;
  }

  freeOne(handle: number): void {
    this.lib.qs_free_one(this.pool, handle);
  }

  linkUp(): boolean {
    return !this.closed && this.lib.qs_link_up(this.port) === 1;
  }

  /**
   * Port counters. The shim's own drops are folded in: multi-segment or
   * foreign frames dropped on rx count as ierrors; impossible descriptors (and
   * frames qs_tx_burst, the freeing variant, could not send) count as oerrors.
   * Frames txBurst keeps for a retry are not errors. net_memif counts every
   * refused tx attempt in its oerrors (one frame is refused again on each
   * retry): for it, oerrors is the shim's count alone.
   */
  stats(): DeviceStats {
    const s = this.rawStats();
    const pmdOerrors = this.driver === "net_memif" ? 0 : s[6]!;
    return {
      ipackets: s[0]!,
      opackets: s[1]!,
      ibytes: s[2]!,
      obytes: s[3]!,
      imissed: s[4]!,
      ierrors: s[5]! + s[8]!,
      oerrors: pmdOerrors + s[9]! + s[10]!,
      rxNoBuf: s[7]!,
    };
  }

  /** qs_port_stats as read (QS_S_* order in qstack_shim.h). The array is reused. */
  rawStats(): Float64Array {
    check(this.lib.qs_port_stats(this.port, this.statsBuf), `stats of port ${this.port}`);
    return this.statsBuf;
  }

  /**
   * The port's RSS key and redirection table (qs_port_rss), or null when the
   * device does not report them (virtual PMDs). Not on the datapath.
   */
  rssInfo(): { key: Uint8Array; reta: Uint16Array } | null {
    const key = new Uint8Array(128);
    const keyLen = new Int32Array(1);
    const reta = new Uint16Array(4096);
    const n = this.lib.qs_port_rss(this.port, key, key.length, keyLen, reta, reta.length);
    if (n <= 0) return null;
    return { key: key.slice(0, keyLen[0]!), reta: reta.slice(0, n) };
  }

  /** Free mbufs left in the pool (per-lcore caches included). */
  poolAvail(): number {
    return this.lib.qs_pool_avail(this.pool);
  }

  /** Memory chunks of the pool: 1 when one chunk holds every mbuf. */
  poolChunks(): number {
    return check(this.lib.qs_pool_chunks(this.pool), `pool ${this.pool}`);
  }

  /**
   * Stop and close the port, then free its pool. The caller must have stopped
   * polling (every thread) first: for memif, stopping disconnects and unmaps
   * the shared rings, so a burst running at the same time would read unmapped
   * memory (FACTS "memif crash"). Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.b0 = this.b1 = this.b2 = this.b3 = null;
    if (!this.owner) {
      if (this.registered) this.lib.qs_thread_unregister();
      return;
    }
    forgetNativeBuffer(this.mem);
    this.lib.qs_port_stop(this.port);
    this.lib.qs_port_close(this.port, this.probed ? 1 : 0);
    this.lib.qs_pool_free(this.pool);
  }
}
