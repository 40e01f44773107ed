/**
 * A BurstTap (interface.ts) that sees frames one at a time: every received
 * frame at the round's clock reading (taken just before the rx burst), every
 * transmitted frame at a clock reading right after the device took it. Per tx
 * burst it copies the offered frames' offsets and lengths (the device may take
 * a prefix and shift the rest) and hands on the frames the device took.
 * Nothing is allocated per frame. Subclasses: the iotep wire monitor's live
 * mode (apps/iotep/wire-live.ts), bench/priority's wire view.
 */
import type { BurstTap } from "./interface";
import type { PacketBatch } from "./packet-batch";

export abstract class FrameTap implements BurstTap {
  /** Bursts seen, per direction (tx: bursts the device took frames from). */
  rxBursts = 0;
  txBursts = 0;
  private offs = new Uint32Array(256);
  private lens = new Uint32Array(256);
  private offered = 0;

  constructor(
    /** The device's memory (frames' bytes at their offsets). */
    protected readonly mem: Uint8Array,
    protected readonly dv: DataView,
    /** Monotonic clock, integer us (the tx bursts' timestamps). */
    protected readonly clockUs: () => number,
  ) {}

  /** One frame at `tUs`; `rx` tells the direction. The bytes are valid only during the call. */
  protected abstract frame(tUs: number, mem: Uint8Array, dv: DataView, off: number, len: number, rx: boolean): void;

  rx(nowUs: number, mem: Uint8Array, dv: DataView, batch: PacketBatch): void {
    this.rxBursts++;
    const n = batch.count;
    for (let i = 0; i < n; i++) this.frame(nowUs, mem, dv, batch.off[i]!, batch.len[i]!, true);
  }

  txOffer(batch: PacketBatch): void {
    const n = batch.count;
    if (this.offs.length < n) {
      let m = this.offs.length;
      while (m < n) m *= 2;
      this.offs = new Uint32Array(m);
      this.lens = new Uint32Array(m);
    }
    for (let i = 0; i < n; i++) {
      this.offs[i] = batch.off[i]!;
      this.lens[i] = batch.len[i]!;
    }
    this.offered = n;
  }

  txTaken(taken: number): void {
    const n = taken < this.offered ? taken : this.offered;
    this.offered = 0;
    if (n <= 0) return;
    this.txBursts++;
    const t = this.clockUs();
    for (let i = 0; i < n; i++) this.frame(t, this.mem, this.dv, this.offs[i]!, this.lens[i]!, false);
  }
}
