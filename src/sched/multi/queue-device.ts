/**
 * The Device one stack thread of --layout stack=N sees: a DPDK port's device
 * object bound to this thread's queue pair (ffi/dpdk-device.ts `queue`), plus
 * the ARP exchange with the other stack threads (arp-mailbox.ts).
 *
 * rxBurst first turns ARP packets forwarded by other threads into frames of its
 * own (a fresh buffer from the shared pool: Ethernet header to our MAC, the ARP
 * packet with its operation set to reply, so the ARP layer learns the sender
 * when the target is ours and never answers a copy: RFC 826 reception), then
 * receives from the queue and forwards a copy of every ARP frame it got to the
 * other threads. Everything else passes through untouched; the Device contract
 * (src/net/device.ts) is unchanged.
 *
 * Where the flow hash is unknown, TCP segments another thread forwarded to this
 * one (segment-forward.ts, segment-mailbox.ts) are also taken first, each copied
 * into a fresh buffer as a received frame.
 */
import type { Device, DeviceCaps, DeviceStats } from "../../net/device";
import type { PacketBatch } from "../../net/packet-batch";
import { ETH_HEADER_LEN, ETHERTYPE_ARP } from "../../wire/ethernet";
import { ARP_REPLY } from "../../wire/arp";
import { ARP_BYTES, type ArpMailboxEnd } from "./arp-mailbox";
import type { RssInfo } from "./rss-ports";
import type { SegmentMailboxEnd } from "./segment-mailbox";

/** Byte offset of the ARP operation field (RFC 826: hrd 2, pro 2, hln 1, pln 1, op 2). */
const ARP_OP = 6;

export class QueueDevice implements Device {
  readonly caps: DeviceCaps;
  readonly mem: Uint8Array;
  readonly dv: DataView;
  /** Forwarded ARP packets turned into received frames, and ones that found no buffer. */
  arpInjected = 0;
  arpNoBuffer = 0;
  /** Forwarded TCP segments turned into received frames, and ones that waited for a buffer. */
  segInjected = 0;
  segNoBuffer = 0;
  /** Frames received from this thread's queue. */
  rxFrames = 0;
  /** The port's RSS key and table when the device reports them (NICs), else null. */
  readonly rss: RssInfo | null;

  constructor(
    readonly inner: Device,
    readonly mailbox: ArpMailboxEnd | null,
    /** This thread's queue pair (the stack thread index). */
    readonly queue = 0,
    /** Segments other threads forward to this one (null: no forwarding). */
    readonly segments: SegmentMailboxEnd | null = null,
  ) {
    const info = (inner as { rssInfo?: () => RssInfo | null }).rssInfo;
    this.rss = typeof info === "function" ? info.call(inner) : null;
    this.caps = inner.caps;
    this.mem = inner.mem;
    this.dv = inner.dv;
  }

  rxBurst(batch: PacketBatch, _queue?: number): number {
    const start = batch.count;
    const mb = this.mailbox;
    if (mb !== null && mb.waiting()) this.inject(batch, mb);
    const sm = this.segments;
    if (sm !== null && sm.waiting()) this.injectSegments(batch, sm);
    const mid = batch.count;
    const n = this.inner.rxBurst(batch);
    this.rxFrames += n;
    if (mb !== null) {
      const mem = this.mem;
      const off = batch.off;
      const len = batch.len;
      for (let i = mid; i < mid + n; i++) {
        const o = off[i]!;
        if (len[i]! >= ETH_HEADER_LEN + ARP_BYTES && mem[o + 12] === ETHERTYPE_ARP >> 8 && mem[o + 13] === (ETHERTYPE_ARP & 0xff)) {
          mb.forward(mem, o + ETH_HEADER_LEN);
        }
      }
    }
    return batch.count - start;
  }

  private inject(batch: PacketBatch, mb: ArpMailboxEnd): void {
    const mem = this.mem;
    const mac = this.caps.mac;
    while (batch.count < batch.capacity) {
      if (this.inner.alloc(batch, 1) !== 1) {
        this.arpNoBuffer++;
        return;
      }
      const i = batch.count - 1;
      const o = batch.off[i]!;
      if (!mb.take(mem, o + ETH_HEADER_LEN)) {
        this.inner.freeOne(batch.handle[i]!);
        batch.count = i;
        return;
      }
      // Ethernet: to us, from the ARP sender hardware address (bytes 8..13 of the packet).
      for (let k = 0; k < 6; k++) {
        mem[o + k] = mac[k]!;
        mem[o + 6 + k] = mem[o + ETH_HEADER_LEN + 8 + k]!;
      }
      mem[o + 12] = ETHERTYPE_ARP >> 8;
      mem[o + 13] = ETHERTYPE_ARP & 0xff;
      mem[o + ETH_HEADER_LEN + ARP_OP] = 0;
      mem[o + ETH_HEADER_LEN + ARP_OP + 1] = ARP_REPLY;
      batch.len[i] = ETH_HEADER_LEN + ARP_BYTES;
      this.arpInjected++;
    }
  }

  private injectSegments(batch: PacketBatch, sm: SegmentMailboxEnd): void {
    const room = this.caps.bufBytes;
    while (batch.count < batch.capacity) {
      if (this.inner.alloc(batch, 1) !== 1) {
        // The records wait in the ring for the next burst.
        this.segNoBuffer++;
        return;
      }
      const i = batch.count - 1;
      const len = sm.take(this.mem, batch.off[i]!, room);
      if (len === 0) {
        this.inner.freeOne(batch.handle[i]!);
        batch.count = i;
        return;
      }
      batch.len[i] = len;
      this.segInjected++;
    }
  }

  txBurst(batch: PacketBatch, _queue?: number): number {
    return this.inner.txBurst(batch);
  }

  alloc(batch: PacketBatch, n: number): number {
    return this.inner.alloc(batch, n);
  }

  free(batch: PacketBatch): void {
    this.inner.free(batch);
  }

  freeOne(handle: number): void {
    this.inner.freeOne(handle);
  }

  linkUp(): boolean {
    return this.inner.linkUp();
  }

  stats(): DeviceStats {
    return this.inner.stats();
  }

  close(): void {
    this.inner.close();
  }
}
