/**
 * ARP for Ethernet and IPv4 (RFC 826 "Packet format"; RFC 5227 for probes and
 * announcements, which are ordinary requests with particular addresses):
 *
 *   0     2     4    5    6    8        14       18       24       28
 *   | hrd | pro | hln| pln| op | sha(6) | spa(4) | tha(6) | tpa(4) |
 *
 * Only the Ethernet/IPv4 shape (hrd 1, pro 0x0800, hln 6, pln 4) is modelled:
 * field offsets are fixed for it, so a caller checks checkLen() and then
 * isEthernetIpv4() before trusting the addresses.
 */
import { copyMac } from "./mac";

const HTYPE = 0;
const PTYPE = 2;
const HLEN = 4;
const PLEN = 5;
const OPER = 6;
const SHA = 8;
const SPA = 14;
const THA = 18;
const TPA = 24;

export const ARP_LEN = 28;
/** RFC 826 ar$op values. */
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;
/** ar$hrd for Ethernet (IANA "Hardware Types"). */
export const ARP_HTYPE_ETHERNET = 1;
/** ar$pro for IPv4: the EtherType. */
export const ARP_PTYPE_IPV4 = 0x0800;

/** Parsed ARP fields; MACs stay in the packet (offsets), addresses are uint32. */
export class ArpRepr {
  operation = 0;
  senderMacOff = 0;
  senderIp = 0;
  targetMacOff = 0;
  targetIp = 0;
}

export class ArpView {
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

  /** The 28-byte Ethernet/IPv4 ARP packet fits in len. */
  checkLen(): boolean {
    return this.len >= ARP_LEN;
  }

  hardwareType(): number {
    return this.dv.getUint16(this.off + HTYPE);
  }

  protocolType(): number {
    return this.dv.getUint16(this.off + PTYPE);
  }

  hlen(): number {
    return this.buf[this.off + HLEN]!;
  }

  plen(): number {
    return this.buf[this.off + PLEN]!;
  }

  operation(): number {
    return this.dv.getUint16(this.off + OPER);
  }

  /** Absolute offset of the sender hardware address (6 bytes). */
  senderMacOff(): number {
    return this.off + SHA;
  }

  senderIp(): number {
    return this.dv.getUint32(this.off + SPA);
  }

  /** Absolute offset of the target hardware address (6 bytes). */
  targetMacOff(): number {
    return this.off + THA;
  }

  targetIp(): number {
    return this.dv.getUint32(this.off + TPA);
  }

  /** RFC 826 "Packet Reception": ar$hrd, ar$pro and the lengths are the ones we speak. */
  isEthernetIpv4(): boolean {
    return (
      this.dv.getUint16(this.off + HTYPE) === ARP_HTYPE_ETHERNET &&
      this.dv.getUint16(this.off + PTYPE) === ARP_PTYPE_IPV4 &&
      this.buf[this.off + HLEN] === 6 &&
      this.buf[this.off + PLEN] === 4
    );
  }

  setHardwareType(v: number): void {
    this.dv.setUint16(this.off + HTYPE, v);
  }

  setProtocolType(v: number): void {
    this.dv.setUint16(this.off + PTYPE, v);
  }

  setHlen(v: number): void {
    this.buf[this.off + HLEN] = v;
  }

  setPlen(v: number): void {
    this.buf[this.off + PLEN] = v;
  }

  setOperation(v: number): void {
    this.dv.setUint16(this.off + OPER, v);
  }

  setSenderMac(mac: Uint8Array): void {
    copyMac(mac, 0, this.buf, this.off + SHA);
  }

  setSenderMacFrom(buf: Uint8Array, off: number): void {
    copyMac(buf, off, this.buf, this.off + SHA);
  }

  setSenderIp(v: number): void {
    this.dv.setUint32(this.off + SPA, v >>> 0);
  }

  setTargetMac(mac: Uint8Array): void {
    copyMac(mac, 0, this.buf, this.off + THA);
  }

  setTargetMacFrom(buf: Uint8Array, off: number): void {
    copyMac(buf, off, this.buf, this.off + THA);
  }

  setTargetIp(v: number): void {
    this.dv.setUint32(this.off + TPA, v >>> 0);
  }

  parseInto(repr: ArpRepr): ArpRepr {
    repr.operation = this.operation();
    repr.senderMacOff = this.off + SHA;
    repr.senderIp = this.senderIp();
    repr.targetMacOff = this.off + THA;
    repr.targetIp = this.targetIp();
    return repr;
  }
}

/**
 * Write a complete Ethernet/IPv4 ARP packet (28 bytes) at buf[off]; returns ARP_LEN.
 * MACs are read from senderMac[senderMacOff..+6) and targetMac[targetMacOff..+6)
 * (offsets default to 0), so a reply can be built in place over the request by
 * passing the request's own buffer and sender-MAC offset as the target: the
 * target MAC is written before the sender MAC for exactly that case.
 */
export function writeArp(
  buf: Uint8Array,
  dv: DataView,
  off: number,
  op: number,
  senderMac: Uint8Array,
  senderIp: number,
  targetMac: Uint8Array,
  targetIp: number,
  senderMacOff = 0,
  targetMacOff = 0,
): number {
  copyMac(targetMac, targetMacOff, buf, off + THA);
  copyMac(senderMac, senderMacOff, buf, off + SHA);
  dv.setUint16(off + HTYPE, ARP_HTYPE_ETHERNET);
  dv.setUint16(off + PTYPE, ARP_PTYPE_IPV4);
  buf[off + HLEN] = 6;
  buf[off + PLEN] = 4;
  dv.setUint16(off + OPER, op);
  dv.setUint32(off + SPA, senderIp >>> 0);
  dv.setUint32(off + TPA, targetIp >>> 0);
  return ARP_LEN;
}
