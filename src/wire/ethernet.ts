/**
 * Ethernet II frame header (IEEE 802.3-2018 3.1.1 MAC frame format, with the
 * Length/Type field used as a Type, RFC 894 "IP over Ethernet"):
 *
 *   0      6      12     14
 *   | dst  | src  | type | payload ...
 *
 * A view over (buf, off, len); no state beyond those. The frame check
 * sequence is not part of what a NIC hands us and is not modelled. An
 * 802.1Q tag (ETHERTYPE_VLAN) is reported as the EtherType; payloadOff()
 * does not skip it.
 */
import { MAC_LEN, copyMac, isBroadcastMac, isMulticastMac, macEquals } from "./mac";

const DST = 0;
const SRC = 6;
const ETHERTYPE = 12;

export const ETH_HEADER_LEN = 14;
/** RFC 894. */
export const ETHERTYPE_IPV4 = 0x0800;
/** RFC 826. */
export const ETHERTYPE_ARP = 0x0806;
/** IEEE 802.1Q tag protocol identifier. */
export const ETHERTYPE_VLAN = 0x8100;
/** RFC 8200 (recognised for demux counters only). */
export const ETHERTYPE_IPV6 = 0x86dd;

export class EthernetView {
  buf: Uint8Array = new Uint8Array(0);
  dv: DataView = new DataView(new ArrayBuffer(0));
  off = 0;
  len = 0;

  /** Re-point the view at frame bytes [off, off+len) of buf; dv views the same whole buffer. */
  reset(buf: Uint8Array, dv: DataView, off: number, len: number): this {
    this.buf = buf;
    this.dv = dv;
    this.off = off;
    this.len = len;
    return this;
  }

  /** The 14-byte header fits in len. */
  checkLen(): boolean {
    return this.len >= ETH_HEADER_LEN;
  }

  dstOff(): number {
    return this.off + DST;
  }

  srcOff(): number {
    return this.off + SRC;
  }

  dstMacEquals(mac: Uint8Array): boolean {
    return macEquals(this.buf, this.off + DST, mac);
  }

  srcMacEquals(mac: Uint8Array): boolean {
    return macEquals(this.buf, this.off + SRC, mac);
  }

  /** Destination is ff:ff:ff:ff:ff:ff. */
  isBroadcast(): boolean {
    return isBroadcastMac(this.buf, this.off + DST);
  }

  /** Destination has the group bit set (broadcast included). */
  isMulticast(): boolean {
    return isMulticastMac(this.buf, this.off + DST);
  }

  copyDst(out: Uint8Array, outOff: number): void {
    copyMac(this.buf, this.off + DST, out, outOff);
  }

  copySrc(out: Uint8Array, outOff: number): void {
    copyMac(this.buf, this.off + SRC, out, outOff);
  }

  setDst(mac: Uint8Array): void {
    copyMac(mac, 0, this.buf, this.off + DST);
  }

  /** Set the destination from 6 bytes at buf[off] (e.g. the source of a received frame). */
  setDstFrom(buf: Uint8Array, off: number): void {
    copyMac(buf, off, this.buf, this.off + DST);
  }

  setSrc(mac: Uint8Array): void {
    copyMac(mac, 0, this.buf, this.off + SRC);
  }

  setSrcFrom(buf: Uint8Array, off: number): void {
    copyMac(buf, off, this.buf, this.off + SRC);
  }

  /** Swap destination and source in place (for reflecting a frame back). */
  swapMacs(): void {
    const b = this.buf;
    const d = this.off + DST;
    const s = this.off + SRC;
    for (let i = 0; i < MAC_LEN; i++) {
      const t = b[d + i]!;
      b[d + i] = b[s + i]!;
      b[s + i] = t;
    }
  }

  etherType(): number {
    return this.dv.getUint16(this.off + ETHERTYPE);
  }

  setEtherType(v: number): void {
    this.dv.setUint16(this.off + ETHERTYPE, v);
  }

  /** Absolute offset of the first payload byte. */
  payloadOff(): number {
    return this.off + ETH_HEADER_LEN;
  }

  payloadLen(): number {
    return this.len - ETH_HEADER_LEN;
  }
}

/** Write a whole Ethernet II header at buf[off]; returns ETH_HEADER_LEN. */
export function writeEthernetHeader(buf: Uint8Array, dv: DataView, off: number, dst: Uint8Array, src: Uint8Array, etherType: number): number {
  copyMac(dst, 0, buf, off + DST);
  copyMac(src, 0, buf, off + SRC);
  dv.setUint16(off + ETHERTYPE, etherType);
  return ETH_HEADER_LEN;
}
