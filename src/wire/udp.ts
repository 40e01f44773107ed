/**
 * UDP header (RFC 768; RFC 1122 4.1.3.4 for checksum handling):
 *
 *   0          2          4        6          8
 *   | src port | dst port | length | checksum | data ...
 *
 * Length covers header and data. A transmitted checksum of 0 means "none"
 * (RFC 768 "If the computed checksum is zero, it is transmitted as all ones").
 * Here for demux completeness; the stack has no UDP sockets.
 */
import { checksumPartial, checksumFold, pseudoHeaderSum } from "./checksum";

const SRC_PORT = 0;
const DST_PORT = 2;
const LENGTH = 4;
const CHECKSUM = 6;

export const UDP_HEADER_LEN = 8;
const IPPROTO_UDP = 17;

export class UdpView {
  buf: Uint8Array = new Uint8Array(0);
  dv: DataView = new DataView(new ArrayBuffer(0));
  off = 0;
  len = 0;

  reset(buf: Uint8Array, dv: DataView, off: number, len: number): this {
    this.buf = buf;
    this.dv = dv;
    this.off = off;
    this.len = len;
    return this;
  }

  /** len >= 8 and 8 <= Length <= len. */
  checkLen(): boolean {
    if (this.len < UDP_HEADER_LEN) return false;
    const l = this.dv.getUint16(this.off + LENGTH);
    return l >= UDP_HEADER_LEN && l <= this.len;
  }

  srcPort(): number {
    return this.dv.getUint16(this.off + SRC_PORT);
  }

  dstPort(): number {
    return this.dv.getUint16(this.off + DST_PORT);
  }

  length(): number {
    return this.dv.getUint16(this.off + LENGTH);
  }

  checksum(): number {
    return this.dv.getUint16(this.off + CHECKSUM);
  }

  payloadOff(): number {
    return this.off + UDP_HEADER_LEN;
  }

  payloadLen(): number {
    return this.dv.getUint16(this.off + LENGTH) - UDP_HEADER_LEN;
  }

  setSrcPort(v: number): void {
    this.dv.setUint16(this.off + SRC_PORT, v);
  }

  setDstPort(v: number): void {
    this.dv.setUint16(this.off + DST_PORT, v);
  }

  setLength(v: number): void {
    this.dv.setUint16(this.off + LENGTH, v);
  }

  setChecksum(v: number): void {
    this.dv.setUint16(this.off + CHECKSUM, v);
  }

  /** True when the checksum is absent (0) or verifies over Length bytes with the pseudo header (RFC 768). */
  verifyChecksum(srcIp: number, dstIp: number): boolean {
    if (this.dv.getUint16(this.off + CHECKSUM) === 0) return true;
    const l = this.dv.getUint16(this.off + LENGTH);
    const sum = checksumPartial(this.buf, this.off, l, pseudoHeaderSum(srcIp, dstIp, IPPROTO_UDP, l));
    return checksumFold(sum) === 0;
  }

  /** Compute and store the checksum over Length bytes; a computed 0 is sent as 0xffff (RFC 768). */
  fillChecksum(srcIp: number, dstIp: number): void {
    const l = this.dv.getUint16(this.off + LENGTH);
    this.dv.setUint16(this.off + CHECKSUM, 0);
    const c = checksumFold(checksumPartial(this.buf, this.off, l, pseudoHeaderSum(srcIp, dstIp, IPPROTO_UDP, l)));
    this.dv.setUint16(this.off + CHECKSUM, c === 0 ? 0xffff : c);
  }
}
