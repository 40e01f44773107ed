/**
 * The wire monitor's live mode: a BurstTap (src/net/interface.ts) on the
 * server's stack that hands every frame of every rx and tx burst to a
 * WirePairer as it happens, with the burst's timestamp: rx frames at the
 * round's clock reading (taken just before the rx burst), tx frames at a
 * clock reading right after the device took them. Same pairing as the pcap
 * path (wire-pairing.ts), without writing or reading a capture.
 *
 * The per-burst bookkeeping is FrameTap's (src/net/frame-tap.ts); nothing is
 * allocated per frame.
 */
import { FrameTap } from "../../src/net/frame-tap";
import { WirePairer, type WirePairerOptions } from "./wire-pairing";

export class LiveWireTap extends FrameTap {
  readonly pairer: WirePairer;

  constructor(
    opts: WirePairerOptions,
    /** The device's memory (frames' bytes at their offsets). */
    mem: Uint8Array,
    dv: DataView,
    /** Monotonic clock, integer us (the tx bursts' timestamps). */
    clockUs: () => number,
  ) {
    super(mem, dv, clockUs);
    this.pairer = new WirePairer(opts);
  }

  protected frame(tUs: number, mem: Uint8Array, dv: DataView, off: number, len: number): void {
    this.pairer.process(tUs, mem, dv, off, len);
  }
}
