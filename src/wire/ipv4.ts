/**
 * IPv4 header (RFC 791 3.1 "Internet Header Format"; RFC 1122 3.2.1 for the
 * receive checks; RFC 2474 / RFC 3168 5 for the DSCP and ECN split of the
 * old Type of Service octet):
 *
 *   0        1        2                 4                 6                 8     9      10        12     16     20
 *   |ver|ihl | dscp|ecn| total length   | identification  |flags| frag off  | ttl | proto| checksum | src  | dst  | options...
 *
 * Addresses are uint32 values (10.0.0.1 = 0x0a000001). Offsets are absolute in buf.
 */
import { checksumPartial, checksumPartialDv, checksumFold } from "./checksum";

const VER_IHL = 0;
const TOS = 1;
const TOTAL_LENGTH = 2;
const IDENTIFICATION = 4;
const FLAGS_FRAG = 6;
const TTL = 8;
const PROTOCOL = 9;
const CHECKSUM = 10;
const SRC = 12;
const DST = 16;

/** Length of a header without options (IHL 5). */
export const IPV4_HEADER_LEN = 20;
/** Largest header: IHL 15 words. */
export const IPV4_MAX_HEADER_LEN = 60;
/** RFC 791 3.1 Flags: bit 1 "Don't Fragment", bit 2 "More Fragments" (of the 16-bit flags/offset word). */
export const IPV4_FLAG_DF = 0x4000;
export const IPV4_FLAG_MF = 0x2000;
const FRAG_OFFSET_MASK = 0x1fff;

/** Parsed IPv4 fields (fixed shape, reused). */
export class Ipv4Repr {
  headerLen = 0;
  dscp = 0;
  ecn = 0;
  totalLength = 0;
  identification = 0;
  dontFragment = false;
  moreFragments = false;
  /** In units of 8 octets (RFC 791 3.1). */
  fragmentOffset = 0;
  ttl = 0;
  protocol = 0;
  srcIp = 0;
  dstIp = 0;
  payloadOff = 0;
  payloadLen = 0;
}

export class Ipv4View {
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

  /**
   * RFC 1122 3.2.1.1-3.2.1.2 receive checks that concern lengths: len >= 20,
   * version 4, IHL >= 5, header fits in len, headerLen <= totalLength <= len.
   * (len may exceed totalLength: Ethernet pads short frames; use payloadLen().)
   */
  checkLen(): boolean {
    if (this.len < IPV4_HEADER_LEN) return false;
    const vi = this.buf[this.off + VER_IHL]!;
    if (vi >>> 4 !== 4) return false;
    const hl = (vi & 0x0f) << 2;
    if (hl < IPV4_HEADER_LEN || hl > this.len) return false;
    const total = this.dv.getUint16(this.off + TOTAL_LENGTH);
    return total >= hl && total <= this.len;
  }

  version(): number {
    return this.buf[this.off + VER_IHL]! >>> 4;
  }

  /** Internet Header Length in 32-bit words. */
  ihl(): number {
    return this.buf[this.off + VER_IHL]! & 0x0f;
  }

  /** Header length in bytes (IHL * 4). */
  headerLen(): number {
    return (this.buf[this.off + VER_IHL]! & 0x0f) << 2;
  }

  /** The whole former Type of Service octet. */
  tos(): number {
    return this.buf[this.off + TOS]!;
  }

  /** Differentiated Services Code Point (RFC 2474 3), the upper 6 bits of octet 1. */
  dscp(): number {
    return this.buf[this.off + TOS]! >>> 2;
  }

  /** ECN field (RFC 3168 5), the lower 2 bits of octet 1. */
  ecn(): number {
    return this.buf[this.off + TOS]! & 3;
  }

  totalLength(): number {
    return this.dv.getUint16(this.off + TOTAL_LENGTH);
  }

  identification(): number {
    return this.dv.getUint16(this.off + IDENTIFICATION);
  }

  /** The 3-bit Flags field (reserved, DF, MF), RFC 791 3.1. */
  flags(): number {
    return this.buf[this.off + FLAGS_FRAG]! >>> 5;
  }

  dontFragment(): boolean {
    return (this.dv.getUint16(this.off + FLAGS_FRAG) & IPV4_FLAG_DF) !== 0;
  }

  moreFragments(): boolean {
    return (this.dv.getUint16(this.off + FLAGS_FRAG) & IPV4_FLAG_MF) !== 0;
  }

  /** Fragment Offset in units of 8 octets (RFC 791 3.1). */
  fragmentOffset(): number {
    return this.dv.getUint16(this.off + FLAGS_FRAG) & FRAG_OFFSET_MASK;
  }

  /** Part of a fragmented datagram: MF set or a non-zero offset (RFC 791 3.2 "Fragmentation and Reassembly"). */
  isFragment(): boolean {
    return (this.dv.getUint16(this.off + FLAGS_FRAG) & (IPV4_FLAG_MF | FRAG_OFFSET_MASK)) !== 0;
  }

  ttl(): number {
    return this.buf[this.off + TTL]!;
  }

  protocol(): number {
    return this.buf[this.off + PROTOCOL]!;
  }

  headerChecksum(): number {
    return this.dv.getUint16(this.off + CHECKSUM);
  }

  srcIp(): number {
    return this.dv.getUint32(this.off + SRC);
  }

  dstIp(): number {
    return this.dv.getUint32(this.off + DST);
  }

  hasOptions(): boolean {
    return (this.buf[this.off + VER_IHL]! & 0x0f) > 5;
  }

  /** Absolute offset of the options (valid when hasOptions()). */
  optionsOff(): number {
    return this.off + IPV4_HEADER_LEN;
  }

  /** RFC 1122 3.2.1.2: the ones-complement sum over the header, checksum included, is all ones. */
  verifyChecksum(): boolean {
    return checksumFold(checksumPartial(this.buf, this.off, this.headerLen(), 0)) === 0;
  }

  /** Absolute offset of the first payload byte. */
  payloadOff(): number {
    return this.off + this.headerLen();
  }

  /** totalLength - headerLen: excludes link-layer padding. */
  payloadLen(): number {
    return this.dv.getUint16(this.off + TOTAL_LENGTH) - this.headerLen();
  }

  setVersion(v: number): void {
    const p = this.off + VER_IHL;
    this.buf[p] = ((v & 0x0f) << 4) | (this.buf[p]! & 0x0f);
  }

  /** Set IHL in 32-bit words. */
  setIhl(words: number): void {
    const p = this.off + VER_IHL;
    this.buf[p] = (this.buf[p]! & 0xf0) | (words & 0x0f);
  }

  /** Set the header length in bytes (a multiple of 4, 20-60). */
  setHeaderLen(bytes: number): void {
    this.setIhl(bytes >>> 2);
  }

  setTos(v: number): void {
    this.buf[this.off + TOS] = v;
  }

  setDscp(v: number): void {
    const p = this.off + TOS;
    this.buf[p] = ((v & 0x3f) << 2) | (this.buf[p]! & 3);
  }

  setEcn(v: number): void {
    const p = this.off + TOS;
    this.buf[p] = (this.buf[p]! & 0xfc) | (v & 3);
  }

  setTotalLength(v: number): void {
    this.dv.setUint16(this.off + TOTAL_LENGTH, v);
  }

  setIdentification(v: number): void {
    this.dv.setUint16(this.off + IDENTIFICATION, v);
  }

  /** Set the 3-bit Flags field (reserved, DF, MF); the fragment offset is kept. */
  setFlags(v: number): void {
    const p = this.off + FLAGS_FRAG;
    this.buf[p] = ((v & 7) << 5) | (this.buf[p]! & 0x1f);
  }

  setDontFragment(on: boolean): void {
    const p = this.off + FLAGS_FRAG;
    const w = this.dv.getUint16(p);
    this.dv.setUint16(p, on ? w | IPV4_FLAG_DF : w & ~IPV4_FLAG_DF);
  }

  setMoreFragments(on: boolean): void {
    const p = this.off + FLAGS_FRAG;
    const w = this.dv.getUint16(p);
    this.dv.setUint16(p, on ? w | IPV4_FLAG_MF : w & ~IPV4_FLAG_MF);
  }

  /** Set the Fragment Offset in units of 8 octets. */
  setFragmentOffset(v: number): void {
    const p = this.off + FLAGS_FRAG;
    this.dv.setUint16(p, (this.dv.getUint16(p) & ~FRAG_OFFSET_MASK) | (v & FRAG_OFFSET_MASK));
  }

  setTtl(v: number): void {
    this.buf[this.off + TTL] = v;
  }

  setProtocol(v: number): void {
    this.buf[this.off + PROTOCOL] = v;
  }

  setHeaderChecksum(v: number): void {
    this.dv.setUint16(this.off + CHECKSUM, v);
  }

  setSrcIp(v: number): void {
    this.dv.setUint32(this.off + SRC, v >>> 0);
  }

  setDstIp(v: number): void {
    this.dv.setUint32(this.off + DST, v >>> 0);
  }

  /** Compute and store the header checksum over headerLen() bytes (RFC 791 3.1 "Header Checksum"). */
  fillChecksum(): void {
    this.dv.setUint16(this.off + CHECKSUM, 0);
    this.dv.setUint16(this.off + CHECKSUM, checksumFold(checksumPartial(this.buf, this.off, this.headerLen(), 0)));
  }

  parseInto(repr: Ipv4Repr): Ipv4Repr {
    const o = this.off;
    const dv = this.dv;
    const hl = (this.buf[o + VER_IHL]! & 0x0f) << 2;
    const tos = this.buf[o + TOS]!;
    const ff = dv.getUint16(o + FLAGS_FRAG);
    const total = dv.getUint16(o + TOTAL_LENGTH);
    repr.headerLen = hl;
    repr.dscp = tos >>> 2;
    repr.ecn = tos & 3;
    repr.totalLength = total;
    repr.identification = dv.getUint16(o + IDENTIFICATION);
    repr.dontFragment = (ff & IPV4_FLAG_DF) !== 0;
    repr.moreFragments = (ff & IPV4_FLAG_MF) !== 0;
    repr.fragmentOffset = ff & FRAG_OFFSET_MASK;
    repr.ttl = this.buf[o + TTL]!;
    repr.protocol = this.buf[o + PROTOCOL]!;
    repr.srcIp = dv.getUint32(o + SRC);
    repr.dstIp = dv.getUint32(o + DST);
    repr.payloadOff = o + hl;
    repr.payloadLen = total - hl;
    return repr;
  }
}

/**
 * Write a 20-byte IPv4 header without options at dv[off] (version 4, IHL 5,
 * fragment offset 0, MF clear) and fill its checksum. `tos` is the whole
 * DSCP/ECN octet; `df` sets Don't Fragment. Returns IPV4_HEADER_LEN.
 */
export function writeIpv4Header(
  dv: DataView,
  off: number,
  tos: number,
  totalLen: number,
  id: number,
  df: boolean | number,
  ttl: number,
  proto: number,
  src: number,
  dst: number,
): number {
  dv.setUint16(off + VER_IHL, 0x4500 | (tos & 0xff));
  dv.setUint16(off + TOTAL_LENGTH, totalLen);
  dv.setUint16(off + IDENTIFICATION, id);
  dv.setUint16(off + FLAGS_FRAG, df ? IPV4_FLAG_DF : 0);
  dv.setUint16(off + TTL, ((ttl & 0xff) << 8) | (proto & 0xff));
  dv.setUint16(off + CHECKSUM, 0);
  dv.setUint32(off + SRC, src >>> 0);
  dv.setUint32(off + DST, dst >>> 0);
  dv.setUint16(off + CHECKSUM, checksumFold(checksumPartialDv(dv, off, IPV4_HEADER_LEN, 0)));
  return IPV4_HEADER_LEN;
}
