/**
 * The one I/O boundary the stack sees (STYLE.md "One I/O boundary").
 *
 * Every packet byte a device hands out lives in `mem`; descriptors carry
 * offsets into it, so the stack reads and writes frames in place.
 * Implementations: ffi/dpdk-device.ts (DPDK ports and vdevs),
 * src/net/pair-device.ts (two stacks in one process on a virtual clock),
 * src/net/pcap-device.ts (wraps any device and records frames).
 */
import type { PacketBatch } from "./packet-batch";

export interface DeviceCaps {
  /** Human-readable name, e.g. "net_af_packet0" or "pair:a". */
  readonly name: string;
  /** Station MAC address, 6 bytes. */
  readonly mac: Uint8Array;
  /** IP MTU in bytes (1500 for Ethernet). */
  readonly mtu: number;
  /** Largest number of frames one rxBurst/txBurst moves. */
  readonly maxBurst: number;
  /** Bytes writable from a fresh buffer's frame offset (>= mtu + 14). */
  readonly bufBytes: number;
  /** Number of rx/tx queues this device object serves (1 unless RSS is configured). */
  readonly queues: number;
}

export interface DeviceStats {
  ipackets: number;
  opackets: number;
  ibytes: number;
  obytes: number;
  /** Frames the device dropped because the stack did not poll fast enough. */
  imissed: number;
  ierrors: number;
  oerrors: number;
  /** Receive failures for want of buffers. */
  rxNoBuf: number;
}

export interface Device {
  readonly caps: DeviceCaps;
  /** All packet memory of this device; batch offsets index into it. */
  readonly mem: Uint8Array;
  /** A DataView over exactly the same bytes as `mem`. */
  readonly dv: DataView;
  /**
   * Receive up to `batch.capacity - batch.count` frames from `queue`, appended
   * to `batch`. Returns the number appended. The caller owns the buffers and
   * must pass them to txBurst or free().
   */
  rxBurst(batch: PacketBatch, queue?: number): number;
  /**
   * Transmit descriptors [0, batch.count) on `queue`, in order. Returns the
   * number sent; the device owns those buffers now. Frames it could not take
   * because its transmit ring is full stay with the caller: their descriptors
   * are moved, in order, to the front of the batch and batch.count is set to
   * their number (retry them next round, or free them). Frames it can never
   * send (link down, invalid) are freed and counted in oerrors.
   */
  txBurst(batch: PacketBatch, queue?: number): number;
  /**
   * Append up to `n` fresh buffers to `batch` (len 0, off at the start of the
   * writable area, with headroom before it). Returns how many were appended:
   * fewer than n means the pool is exhausted.
   */
  alloc(batch: PacketBatch, n: number): number;
  /** Free descriptors [0, batch.count) and set batch.count to 0. */
  free(batch: PacketBatch): void;
  /** Free one buffer by handle. */
  freeOne(handle: number): void;
  /** True while the link is up (a memif peer is connected, a veth has carrier). */
  linkUp(): boolean;
  stats(): DeviceStats;
  close(): void;
}

export function emptyStats(): DeviceStats {
  return { ipackets: 0, opackets: 0, ibytes: 0, obytes: 0, imissed: 0, ierrors: 0, oerrors: 0, rxNoBuf: 0 };
}
