/**
 * The wire monitor's live mode: a BurstTap (src/net/interface.ts) on the
 * server's stack that hands every frame of every rx and tx burst to a
 * WirePairer as it happens, with the burst's timestamp: rx frames at the
 * round's clock reading (taken just before the rx burst), tx frames at a
 * clock reading right after the device took them. Same pairing as the pcap
 * path (wire-pairing.ts), without writing or reading a capture.
 *
 * Per burst it copies the offered frames' offsets and lengths (the device may
 * take a prefix and shift the rest), and pairs the frames the device took;
 * nothing is allocated per frame.
 */
import type { BurstTap } from "../../src/net/interface";
import type { PacketBatch } from "../../src/net/packet-batch";
import { WirePairer, type WirePairerOptions } from "./wire-pairing";

export class LiveWireTap implements BurstTap {
  readonly pairer: WirePairer;
  /** Bursts seen, per direction. */
  rxBursts = 0;
  txBursts = 0;
  private offs = new Uint32Array(256);
  private lens = new Uint32Array(256);
  private offered = 0;

  constructor(
    opts: WirePairerOptions,
    /** The device's memory (frames' bytes at their offsets). */
    private readonly mem: Uint8Array,
    private readonly dv: DataView,
    /** Monotonic clock, integer us (the tx bursts' timestamps). */
    private readonly clockUs: () => number,
  ) {
    this.pairer = new WirePairer(opts);
  }

  rx(nowUs: number, mem: Uint8Array, dv: DataView, batch: PacketBatch): void {
    this.rxBursts++;
    const n = batch.count;
    const p = this.pairer;
    for (let i = 0; i < n; i++) p.process(nowUs, mem, dv, batch.off[i]!, batch.len[i]!);
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
    const p = this.pairer;
    for (let i = 0; i < n; i++) p.process(t, this.mem, this.dv, this.offs[i]!, this.lens[i]!);
  }
}
