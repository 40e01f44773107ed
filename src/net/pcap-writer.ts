/**
 * A pcap writer (the classic libpcap format, microsecond timestamps, link type
 * Ethernet) that Wireshark and tshark read, and `PcapDevice`, which wraps any
 * Device and records every frame it receives and transmits (`--pcap FILE`).
 *
 * Frames are copied into an in-memory buffer and written out in large blocks;
 * with `maxBytes` set the file is a ring: when it would grow past the limit it
 * starts over (keeping the global header), so a long run keeps its recent past.
 */
import { closeSync, openSync, writeSync, ftruncateSync } from "node:fs";
import type { Device, DeviceCaps, DeviceStats } from "./device";
import type { PacketBatch } from "./packet-batch";

const PCAP_MAGIC_US = 0xa1b2c3d4;
const LINKTYPE_ETHERNET = 1;
const GLOBAL_HEADER_LEN = 24;
const RECORD_HEADER_LEN = 16;

export class PcapWriter {
  private fd: number;
  private readonly buf: Uint8Array;
  private readonly dv: DataView;
  private used = 0;
  private fileBytes = 0;
  readonly snapLen: number;
  /** Frames recorded. */
  frames = 0;
  /** Times the ring wrapped. */
  wraps = 0;

  constructor(
    readonly path: string,
    opts: { snapLen?: number; bufferBytes?: number; maxBytes?: number } = {},
  ) {
    this.snapLen = opts.snapLen ?? 65535;
    this.maxBytes = opts.maxBytes ?? 0;
    this.buf = new Uint8Array(opts.bufferBytes ?? 1 << 20);
    this.dv = new DataView(this.buf.buffer);
    this.fd = openSync(path, "w");
    this.writeGlobalHeader();
  }

  private readonly maxBytes: number;

  private writeGlobalHeader(): void {
    const h = new DataView(new ArrayBuffer(GLOBAL_HEADER_LEN));
    h.setUint32(0, PCAP_MAGIC_US, true);
    h.setUint16(4, 2, true);
    h.setUint16(6, 4, true);
    h.setInt32(8, 0, true);
    h.setUint32(12, 0, true);
    h.setUint32(16, this.snapLen, true);
    h.setUint32(20, LINKTYPE_ETHERNET, true);
    writeSync(this.fd, new Uint8Array(h.buffer), 0, GLOBAL_HEADER_LEN, 0);
    this.fileBytes = GLOBAL_HEADER_LEN;
  }

  /** Record one frame of `len` bytes at mem[off..], seen at `timeUs` (wall-clock microseconds). */
  record(timeUs: number, mem: Uint8Array, off: number, len: number): void {
    const cap = len < this.snapLen ? len : this.snapLen;
    const need = RECORD_HEADER_LEN + cap;
    if (this.used + need > this.buf.length) this.flush();
    if (need > this.buf.length) return;
    const sec = Math.floor(timeUs / 1e6);
    const usec = Math.floor(timeUs - sec * 1e6);
    const dv = this.dv;
    const p = this.used;
    dv.setUint32(p, sec >>> 0, true);
    dv.setUint32(p + 4, usec, true);
    dv.setUint32(p + 8, cap, true);
    dv.setUint32(p + 12, len, true);
    this.buf.set(mem.subarray(off, off + cap), p + RECORD_HEADER_LEN);
    this.used = p + need;
    this.frames++;
  }

  /** Write buffered records to the file. */
  flush(): void {
    if (this.used === 0 || this.fd < 0) return;
    if (this.maxBytes > 0 && this.fileBytes + this.used > this.maxBytes) {
      // Ring: start the file over after its global header.
      ftruncateSync(this.fd, GLOBAL_HEADER_LEN);
      this.fileBytes = GLOBAL_HEADER_LEN;
      this.wraps++;
    }
    writeSync(this.fd, this.buf, 0, this.used, this.fileBytes);
    this.fileBytes += this.used;
    this.used = 0;
  }

  close(): void {
    if (this.fd < 0) return;
    this.flush();
    closeSync(this.fd);
    this.fd = -1;
  }
}

/** Wraps a device and records all traffic through it into a PcapWriter. */
export class PcapDevice implements Device {
  readonly caps: DeviceCaps;
  readonly mem: Uint8Array;
  readonly dv: DataView;

  constructor(
    readonly inner: Device,
    readonly writer: PcapWriter,
    /** Wall-clock time in microseconds for record timestamps. */
    private readonly wallUs: () => number = () => Math.floor((performance.timeOrigin + performance.now()) * 1000),
  ) {
    this.caps = inner.caps;
    this.mem = inner.mem;
    this.dv = inner.dv;
  }

  rxBurst(batch: PacketBatch, queue?: number): number {
    const start = batch.count;
    const n = this.inner.rxBurst(batch, queue);
    if (n > 0) {
      const t = this.wallUs();
      for (let i = start; i < start + n; i++) this.writer.record(t, this.mem, batch.off[i]!, batch.len[i]!);
    }
    return n;
  }

  txBurst(batch: PacketBatch, queue?: number): number {
    const n = batch.count;
    if (n === 0) return 0;
    // Record only what the device took: it sends a prefix, and keeps the rest
    // for a retry (recorded then), so remember where the frames were.
    if (this.offs.length < n) {
      this.offs = new Uint32Array(n);
      this.lens = new Uint32Array(n);
    }
    for (let i = 0; i < n; i++) {
      this.offs[i] = batch.off[i]!;
      this.lens[i] = batch.len[i]!;
    }
    const sent = this.inner.txBurst(batch, queue);
    const taken = n - batch.count;
    if (taken > 0) {
      const t = this.wallUs();
      for (let i = 0; i < taken; i++) this.writer.record(t, this.mem, this.offs[i]!, this.lens[i]!);
    }
    return sent;
  }

  private offs = new Uint32Array(64);
  private lens = new Uint32Array(64);

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
    this.writer.close();
    this.inner.close();
  }
}
