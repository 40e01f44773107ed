/**
 * TCP header (RFC 9293 3.1 "Header Format"; flags CWR/ECE from RFC 3168 6.1):
 *
 *   0        2        4     8     12       13     14       16         18       20
 *   | src    | dst    | seq | ack | doff|rsv| flags | window | checksum | urgent | options ... | data
 *
 * Sequence and acknowledgment numbers are returned as int32 (getInt32), the
 * stack's representation (seq.ts). The view's len is the whole segment
 * (header + payload = IP payload length): the checksum covers it with the
 * pseudo header (RFC 9293 3.1 "Checksum"). Options: tcp-options.ts,
 * re-exported here.
 */
import { checksumPartial, checksumFold, pseudoHeaderSum } from "./checksum";

export {
  TcpOptions,
  parseTcpOptions,
  writeMssOption,
  writeWscaleOption,
  writeSackPermittedOption,
  writeTimestampOption,
  writeSackOption,
  writeSynOptions,
  TCPOPT_EOL,
  TCPOPT_NOP,
  TCPOPT_MSS,
  TCPOPT_WSCALE,
  TCPOPT_SACK_PERMITTED,
  TCPOPT_SACK,
  TCPOPT_TIMESTAMP,
  TCP_MAX_OPTIONS_LEN,
  TCP_MAX_SACK_BLOCKS,
  TCP_MAX_WSCALE,
} from "./tcp-options";

const SRC_PORT = 0;
const DST_PORT = 2;
const SEQ = 4;
const ACK = 8;
const DATA_OFFSET = 12;
const FLAGS = 13;
const WINDOW = 14;
const CHECKSUM = 16;
const URGENT = 18;

export const TCP_HEADER_LEN = 20;
/** Data offset 15 words. */
export const TCP_MAX_HEADER_LEN = 60;
const IPPROTO_TCP = 6;

/** Control bits (RFC 9293 3.1; RFC 3168 6.1 for ECE and CWR). */
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

/** Parsed fixed header fields (fixed shape, reused). seq/ack are int32. */
export class TcpRepr {
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  dataOffset = 0;
  flags = 0;
  window = 0;
  checksum = 0;
  urgentPointer = 0;
  optionsOff = 0;
  optionsLen = 0;
  payloadOff = 0;
  payloadLen = 0;
}

export class TcpView {
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

  /** len >= 20 and 20 <= data offset <= len (RFC 9293 3.1 "Data Offset"). */
  checkLen(): boolean {
    if (this.len < TCP_HEADER_LEN) return false;
    const d = (this.buf[this.off + DATA_OFFSET]! >>> 4) << 2;
    return d >= TCP_HEADER_LEN && d <= this.len;
  }

  srcPort(): number {
    return this.dv.getUint16(this.off + SRC_PORT);
  }

  dstPort(): number {
    return this.dv.getUint16(this.off + DST_PORT);
  }

  /** Sequence number as int32. */
  seq(): number {
    return this.dv.getInt32(this.off + SEQ);
  }

  /** Acknowledgment number as int32. */
  ack(): number {
    return this.dv.getInt32(this.off + ACK);
  }

  /** Header length in bytes (Data Offset * 4). */
  dataOffset(): number {
    return (this.buf[this.off + DATA_OFFSET]! >>> 4) << 2;
  }

  /** The 8 control bits (CWR ECE URG ACK PSH RST SYN FIN). */
  flags(): number {
    return this.buf[this.off + FLAGS]!;
  }

  window(): number {
    return this.dv.getUint16(this.off + WINDOW);
  }

  checksum(): number {
    return this.dv.getUint16(this.off + CHECKSUM);
  }

  urgentPointer(): number {
    return this.dv.getUint16(this.off + URGENT);
  }

  /** Absolute offset of the option area. */
  optionsOff(): number {
    return this.off + TCP_HEADER_LEN;
  }

  optionsLen(): number {
    return ((this.buf[this.off + DATA_OFFSET]! >>> 4) << 2) - TCP_HEADER_LEN;
  }

  /** Absolute offset of the first payload byte. */
  payloadOff(): number {
    return this.off + ((this.buf[this.off + DATA_OFFSET]! >>> 4) << 2);
  }

  payloadLen(): number {
    return this.len - ((this.buf[this.off + DATA_OFFSET]! >>> 4) << 2);
  }

  setSrcPort(v: number): void {
    this.dv.setUint16(this.off + SRC_PORT, v);
  }

  setDstPort(v: number): void {
    this.dv.setUint16(this.off + DST_PORT, v);
  }

  setSeq(v: number): void {
    this.dv.setInt32(this.off + SEQ, v);
  }

  setAck(v: number): void {
    this.dv.setInt32(this.off + ACK, v);
  }

  /** Set the header length in bytes (a multiple of 4, 20-60); clears the reserved bits. */
  setDataOffset(bytes: number): void {
    this.buf[this.off + DATA_OFFSET] = ((bytes >>> 2) & 0x0f) << 4;
  }

  setFlags(v: number): void {
    this.buf[this.off + FLAGS] = v;
  }

  setWindow(v: number): void {
    this.dv.setUint16(this.off + WINDOW, v);
  }

  setChecksum(v: number): void {
    this.dv.setUint16(this.off + CHECKSUM, v);
  }

  setUrgentPointer(v: number): void {
    this.dv.setUint16(this.off + URGENT, v);
  }

  /** The checksum over [off, off+len) with the pseudo header verifies (RFC 9293 3.1 "Checksum", MUST-2/3). */
  verifyChecksum(srcIp: number, dstIp: number): boolean {
    const sum = checksumPartial(this.buf, this.off, this.len, pseudoHeaderSum(srcIp, dstIp, IPPROTO_TCP, this.len));
    return checksumFold(sum) === 0;
  }

  /** Compute and store the checksum over [off, off+len) with the pseudo header. */
  fillChecksum(srcIp: number, dstIp: number): void {
    this.dv.setUint16(this.off + CHECKSUM, 0);
    const sum = checksumPartial(this.buf, this.off, this.len, pseudoHeaderSum(srcIp, dstIp, IPPROTO_TCP, this.len));
    this.dv.setUint16(this.off + CHECKSUM, checksumFold(sum));
  }

  parseInto(repr: TcpRepr): TcpRepr {
    const o = this.off;
    const dv = this.dv;
    const d = (this.buf[o + DATA_OFFSET]! >>> 4) << 2;
    repr.srcPort = dv.getUint16(o + SRC_PORT);
    repr.dstPort = dv.getUint16(o + DST_PORT);
    repr.seq = dv.getInt32(o + SEQ);
    repr.ack = dv.getInt32(o + ACK);
    repr.dataOffset = d;
    repr.flags = this.buf[o + FLAGS]!;
    repr.window = dv.getUint16(o + WINDOW);
    repr.checksum = dv.getUint16(o + CHECKSUM);
    repr.urgentPointer = dv.getUint16(o + URGENT);
    repr.optionsOff = o + TCP_HEADER_LEN;
    repr.optionsLen = d - TCP_HEADER_LEN;
    repr.payloadOff = o + d;
    repr.payloadLen = this.len - d;
    return repr;
  }
}

/**
 * Write a 20-byte TCP header (no options, data offset `dataOffsetBytes`
 * so options can follow; checksum and urgent pointer 0) at dv[off]. Returns TCP_HEADER_LEN.
 * Call TcpView.fillChecksum once options and payload are in place.
 */
export function writeTcpHeader(
  dv: DataView,
  off: number,
  srcPort: number,
  dstPort: number,
  seq: number,
  ack: number,
  dataOffsetBytes: number,
  flags: number,
  window: number,
): number {
  dv.setUint16(off + SRC_PORT, srcPort);
  dv.setUint16(off + DST_PORT, dstPort);
  dv.setInt32(off + SEQ, seq);
  dv.setInt32(off + ACK, ack);
  dv.setUint16(off + DATA_OFFSET, ((((dataOffsetBytes >>> 2) & 0x0f) << 4) << 8) | (flags & 0xff));
  dv.setUint16(off + WINDOW, window);
  dv.setUint32(off + CHECKSUM, 0);
  return TCP_HEADER_LEN;
}
