/**
 * ICMP for IPv4 (RFC 792; RFC 1122 3.2.2 for host requirements; RFC 1191 4 for
 * the Next-Hop MTU in "fragmentation needed"):
 *
 *   0      1      2          4                          8
 *   | type | code | checksum | rest of header (4 bytes) | data ...
 *
 * Rest of header: identifier + sequence number for echo (RFC 792 "Echo or Echo
 * Reply Message"); unused(2) + next-hop MTU(2) for destination unreachable code
 * 4 (RFC 1191 4); unused for time exceeded. For errors the data is the
 * offending datagram's IP header plus at least its first 64 bits (RFC 792;
 * RFC 1122 3.2.2 says more may be sent).
 *
 * The view's len is the whole ICMP message (the IP payload length): the
 * checksum covers all of it (RFC 792 "Checksum").
 */
import { checksumPartial, checksumFold } from "./checksum";

const TYPE = 0;
const CODE = 1;
const CHECKSUM = 2;
const REST = 4;
const IDENTIFIER = 4;
const SEQUENCE = 6;
const NEXT_HOP_MTU = 6;

export const ICMP_HEADER_LEN = 8;

/** Types (RFC 792). */
export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAMETER_PROBLEM = 12;

/** Destination Unreachable codes (RFC 792; RFC 1191 for 4). */
export const ICMP_CODE_NET_UNREACHABLE = 0;
export const ICMP_CODE_HOST_UNREACHABLE = 1;
export const ICMP_CODE_PROTOCOL_UNREACHABLE = 2;
export const ICMP_CODE_PORT_UNREACHABLE = 3;
export const ICMP_CODE_FRAGMENTATION_NEEDED = 4;
export const ICMP_CODE_FRAG_NEEDED = ICMP_CODE_FRAGMENTATION_NEEDED;

/** Time Exceeded codes (RFC 792). */
export const ICMP_CODE_TTL_EXCEEDED = 0;
export const ICMP_CODE_REASSEMBLY_TIME_EXCEEDED = 1;

/** Parsed ICMP header fields (fixed shape, reused). */
export class IcmpRepr {
  type = 0;
  code = 0;
  checksum = 0;
  restOfHeader = 0;
  payloadOff = 0;
  payloadLen = 0;
}

export class IcmpView {
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

  /** The 8-byte header fits in len. */
  checkLen(): boolean {
    return this.len >= ICMP_HEADER_LEN;
  }

  type(): number {
    return this.buf[this.off + TYPE]!;
  }

  code(): number {
    return this.buf[this.off + CODE]!;
  }

  checksum(): number {
    return this.dv.getUint16(this.off + CHECKSUM);
  }

  /** The checksum over the whole message [off, off+len) verifies. */
  verifyChecksum(): boolean {
    return checksumFold(checksumPartial(this.buf, this.off, this.len, 0)) === 0;
  }

  /** Echo identifier (RFC 792 "Echo or Echo Reply Message"). */
  identifier(): number {
    return this.dv.getUint16(this.off + IDENTIFIER);
  }

  /** Echo sequence number. */
  sequence(): number {
    return this.dv.getUint16(this.off + SEQUENCE);
  }

  /** Bytes 4-7 as one uint32. */
  restOfHeader(): number {
    return this.dv.getUint32(this.off + REST);
  }

  /** Next-Hop MTU of a "fragmentation needed" message (RFC 1191 4); 0 from pre-RFC 1191 routers. */
  nextHopMtu(): number {
    return this.dv.getUint16(this.off + NEXT_HOP_MTU);
  }

  /** Absolute offset of the data after the 8-byte header (echo data, or the quoted datagram of an error). */
  payloadOff(): number {
    return this.off + ICMP_HEADER_LEN;
  }

  payloadLen(): number {
    return this.len - ICMP_HEADER_LEN;
  }

  setType(v: number): void {
    this.buf[this.off + TYPE] = v;
  }

  setCode(v: number): void {
    this.buf[this.off + CODE] = v;
  }

  setChecksum(v: number): void {
    this.dv.setUint16(this.off + CHECKSUM, v);
  }

  setIdentifier(v: number): void {
    this.dv.setUint16(this.off + IDENTIFIER, v);
  }

  setSequence(v: number): void {
    this.dv.setUint16(this.off + SEQUENCE, v);
  }

  setRestOfHeader(v: number): void {
    this.dv.setUint32(this.off + REST, v >>> 0);
  }

  setNextHopMtu(v: number): void {
    this.dv.setUint16(this.off + NEXT_HOP_MTU, v);
  }

  /** Compute and store the checksum over the whole message [off, off+len). */
  fillChecksum(): void {
    this.dv.setUint16(this.off + CHECKSUM, 0);
    this.dv.setUint16(this.off + CHECKSUM, checksumFold(checksumPartial(this.buf, this.off, this.len, 0)));
  }

  parseInto(repr: IcmpRepr): IcmpRepr {
    repr.type = this.buf[this.off + TYPE]!;
    repr.code = this.buf[this.off + CODE]!;
    repr.checksum = this.dv.getUint16(this.off + CHECKSUM);
    repr.restOfHeader = this.dv.getUint32(this.off + REST);
    repr.payloadOff = this.off + ICMP_HEADER_LEN;
    repr.payloadLen = this.len - ICMP_HEADER_LEN;
    return repr;
  }
}
