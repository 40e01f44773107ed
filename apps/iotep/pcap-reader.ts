/**
 * A streaming reader of classic libpcap files (what src/net/pcap-writer.ts,
 * tcpdump and tshark write): microsecond (0xa1b2c3d4) and nanosecond
 * (0xa1b23c4d) timestamps, either byte order, link type Ethernet. The file is
 * read in large blocks into one buffer; each record is handed to the callback
 * as (timestamp in us, buffer, offset, captured length, original length),
 * the view valid only during the call. pcapng is not read (tshark -F pcap
 * converts).
 */
import { closeSync, openSync, readSync } from "node:fs";

export const LINKTYPE_ETHERNET = 1;

export interface PcapInfo {
  nanos: boolean;
  littleEndian: boolean;
  linkType: number;
  snapLen: number;
}

export type PcapRecordFn = (tsUs: number, buf: Uint8Array, dv: DataView, off: number, capLen: number, origLen: number) => void;

export class PcapFormatError extends Error {}

/** Read every record of `path`; returns the header info and the record count. Throws PcapFormatError on a bad file. */
export function readPcap(path: string, onRecord: PcapRecordFn, blockBytes = 8 << 20): { info: PcapInfo; records: number; truncated: boolean } {
  const fd = openSync(path, "r");
  try {
    let buf = new Uint8Array(blockBytes);
    let dv = new DataView(buf.buffer);
    let have = readSync(fd, buf, 0, buf.length, null);
    if (have < 24) throw new PcapFormatError(`${path}: too short for a pcap file`);
    const magicLe = dv.getUint32(0, true);
    let littleEndian: boolean;
    let nanos: boolean;
    if (magicLe === 0xa1b2c3d4 || magicLe === 0xa1b23c4d) {
      littleEndian = true;
      nanos = magicLe === 0xa1b23c4d;
    } else {
      const magicBe = dv.getUint32(0, false);
      if (magicBe !== 0xa1b2c3d4 && magicBe !== 0xa1b23c4d) {
        throw new PcapFormatError(`${path}: not a classic pcap file (magic 0x${magicLe.toString(16)}); convert pcapng with: tshark -F pcap -r IN -w OUT`);
      }
      littleEndian = false;
      nanos = magicBe === 0xa1b23c4d;
    }
    const info: PcapInfo = { nanos, littleEndian, snapLen: dv.getUint32(16, littleEndian), linkType: dv.getUint32(20, littleEndian) };
    if (info.linkType !== LINKTYPE_ETHERNET) throw new PcapFormatError(`${path}: link type ${info.linkType}, only Ethernet (1) is read`);
    let p = 24;
    let records = 0;
    let truncated = false;
    for (;;) {
      if (have - p < 16) {
        // Move the tail to the front and refill.
        buf.copyWithin(0, p, have);
        have -= p;
        p = 0;
        const n = readSync(fd, buf, have, buf.length - have, null);
        have += n;
        if (have - p < 16) {
          truncated = have - p > 0;
          break;
        }
      }
      const sec = dv.getUint32(p, littleEndian);
      const frac = dv.getUint32(p + 4, littleEndian);
      const cap = dv.getUint32(p + 8, littleEndian);
      const orig = dv.getUint32(p + 12, littleEndian);
      if (p + 16 + cap > have) {
        if (16 + cap > buf.length) {
          const bigger = new Uint8Array(Math.max(buf.length * 2, 16 + cap));
          bigger.set(buf.subarray(p, have), 0);
          have -= p;
          p = 0;
          buf = bigger;
          dv = new DataView(buf.buffer);
        } else {
          buf.copyWithin(0, p, have);
          have -= p;
          p = 0;
        }
        const n = readSync(fd, buf, have, buf.length - have, null);
        have += n;
        if (p + 16 + cap > have) {
          truncated = true;
          break;
        }
      }
      const tsUs = sec * 1e6 + (nanos ? Math.floor(frac / 1000) : frac);
      onRecord(tsUs, buf, dv, p + 16, cap, orig);
      records++;
      p += 16 + cap;
    }
    return { info, records, truncated };
  } finally {
    closeSync(fd);
  }
}
