/**
 * TCP options (RFC 9293 3.2 "Specific Option Definitions" and 3.7.1 for MSS;
 * RFC 7323 2 (Window Scale) and 3 (Timestamps); RFC 2018 2-3 (SACK-Permitted
 * and SACK)). Re-exported by tcp.ts.
 *
 * Layout is TLV: kind(1) length(1) data(length-2), except EOL (kind 0, ends
 * the list) and NOP (kind 1, one byte of padding).
 *
 * parseTcpOptions never throws and always terminates: every step advances by
 * at least one byte or stops. RFC 9293 3.1 ("a TCP implementation MUST be
 * prepared to handle an illegal option length (e.g., zero)", MUST-7) is met
 * by stopping with `malformed` set when a length is 0 or 1, runs past the
 * option area, or a kind byte has no length byte after it. A known option with
 * the wrong fixed length is skipped by its length and not recorded (as Linux
 * does) rather than failing the whole segment; unknown kinds are skipped by
 * length (RFC 9293 3.1 MUST-6).
 */

export const TCPOPT_EOL = 0;
export const TCPOPT_NOP = 1;
export const TCPOPT_MSS = 2;
export const TCPOPT_WSCALE = 3;
export const TCPOPT_SACK_PERMITTED = 4;
export const TCPOPT_SACK = 5;
export const TCPOPT_TIMESTAMP = 8;

export const TCPOLEN_MSS = 4;
export const TCPOLEN_WSCALE = 3;
export const TCPOLEN_SACK_PERMITTED = 2;
export const TCPOLEN_TIMESTAMP = 10;
/** Option area maximum: data offset 15 words minus the 20-byte header. */
export const TCP_MAX_OPTIONS_LEN = 40;
/** At most 4 SACK blocks fit in 40 bytes (RFC 2018 3); 3 alongside timestamps. */
export const TCP_MAX_SACK_BLOCKS = 4;
/** RFC 7323 2.3: a shift count above 14 is treated as 14. */
export const TCP_MAX_WSCALE = 14;

/** Parsed options of one segment (fixed shape; one instance reused per thread). */
export class TcpOptions {
  /** Maximum Segment Size, -1 when absent. */
  mss = -1;
  /** Window scale shift count (clamped to 14), -1 when absent. */
  wscale = -1;
  sackPermitted = false;
  /** tsVal/tsEcr are valid only when tsPresent (they are int32 and any value is legal). */
  tsPresent = false;
  /** TSval as int32 (compare with seq.ts arithmetic); -1 when absent. */
  tsVal = -1;
  /** TSecr as int32; -1 when absent. */
  tsEcr = -1;
  /** Number of SACK blocks in sackLeft/sackRight (0 when absent). */
  sackCount = 0;
  /** SACK block left edges as int32 sequence numbers (RFC 2018 3). */
  readonly sackLeft = new Int32Array(TCP_MAX_SACK_BLOCKS);
  /** SACK block right edges (first sequence number after the block). */
  readonly sackRight = new Int32Array(TCP_MAX_SACK_BLOCKS);
  /** Parsing stopped at a structurally invalid option. */
  malformed = false;

  clear(): void {
    this.mss = -1;
    this.wscale = -1;
    this.sackPermitted = false;
    this.tsPresent = false;
    this.tsVal = -1;
    this.tsEcr = -1;
    this.sackCount = 0;
    this.malformed = false;
  }
}

/**
 * Parse the option area buf[off, off+len) into `out` (cleared first).
 * Returns false (and sets out.malformed) when the area is structurally
 * invalid; options parsed before the bad one stay in `out`.
 * Later duplicates of an option override earlier ones.
 */
export function parseTcpOptions(buf: Uint8Array, dv: DataView, off: number, len: number, out: TcpOptions): boolean {
  out.clear();
  const end = off + len;
  let i = off;
  while (i < end) {
    const kind = buf[i]!;
    if (kind === TCPOPT_EOL) break; // RFC 9293 3.2: End of Option List
    if (kind === TCPOPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) {
      out.malformed = true; // a kind with no room for its length byte
      return false;
    }
    const olen = buf[i + 1]!;
    if (olen < 2 || olen > end - i) {
      out.malformed = true; // RFC 9293 3.1 MUST-7: illegal length (0, 1, or past the area)
      return false;
    }
    switch (kind) {
      case TCPOPT_MSS:
        if (olen === TCPOLEN_MSS) out.mss = dv.getUint16(i + 2);
        break;
      case TCPOPT_WSCALE:
        if (olen === TCPOLEN_WSCALE) {
          const s = buf[i + 2]!;
          out.wscale = s > TCP_MAX_WSCALE ? TCP_MAX_WSCALE : s; // RFC 7323 2.3
        }
        break;
      case TCPOPT_SACK_PERMITTED:
        if (olen === TCPOLEN_SACK_PERMITTED) out.sackPermitted = true;
        break;
      case TCPOPT_SACK: {
        // RFC 2018 3: length 2 + 8n, n >= 1
        const body = olen - 2;
        if (body > 0 && (body & 7) === 0) {
          let n = body >>> 3;
          if (n > TCP_MAX_SACK_BLOCKS) n = TCP_MAX_SACK_BLOCKS;
          for (let b = 0; b < n; b++) {
            out.sackLeft[b] = dv.getInt32(i + 2 + b * 8);
            out.sackRight[b] = dv.getInt32(i + 6 + b * 8);
          }
          out.sackCount = n;
        }
        break;
      }
      case TCPOPT_TIMESTAMP:
        if (olen === TCPOLEN_TIMESTAMP) {
          out.tsPresent = true;
          out.tsVal = dv.getInt32(i + 2);
          out.tsEcr = dv.getInt32(i + 6);
        }
        break;
      default:
        break; // unknown: skipped by length (RFC 9293 3.1 MUST-6)
    }
    i += olen;
  }
  return true;
}

/** MSS option (RFC 9293 3.2): 02 04 mss. Returns 4. */
export function writeMssOption(dv: DataView, off: number, mss: number): number {
  dv.setUint16(off, (TCPOPT_MSS << 8) | TCPOLEN_MSS);
  dv.setUint16(off + 2, mss);
  return 4;
}

/** Window scale (RFC 7323 2.2) with one NOP in front: 01 03 03 shift. Returns 4. */
export function writeWscaleOption(dv: DataView, off: number, shift: number): number {
  dv.setUint32(off, ((TCPOPT_NOP << 24) | (TCPOPT_WSCALE << 16) | (TCPOLEN_WSCALE << 8) | (shift & 0xff)) >>> 0);
  return 4;
}

/** SACK-Permitted (RFC 2018 2) with two NOPs in front: 01 01 04 02. Returns 4. */
export function writeSackPermittedOption(dv: DataView, off: number): number {
  dv.setUint32(off, 0x01010402);
  return 4;
}

/** Timestamps (RFC 7323 3.2) as NOP NOP TS, the RFC 7323 Appendix A layout. Returns 12. */
export function writeTimestampOption(dv: DataView, off: number, tsVal: number, tsEcr: number): number {
  dv.setUint32(off, 0x0101080a);
  dv.setInt32(off + 4, tsVal);
  dv.setInt32(off + 8, tsEcr);
  return 12;
}

/**
 * SACK (RFC 2018 3) with two NOPs in front: 01 01 05 (2+8n) then n blocks
 * [left[k], right[k]). n is clamped to 0..4 (the caller leaves room: 3 blocks
 * fit next to timestamps). Returns 4 + 8n, or 0 when n is 0.
 */
export function writeSackOption(dv: DataView, off: number, left: ArrayLike<number>, right: ArrayLike<number>, n: number): number {
  if (n > TCP_MAX_SACK_BLOCKS) n = TCP_MAX_SACK_BLOCKS;
  if (!(n > 0)) return 0;
  dv.setUint32(off, (0x01010500 | (2 + 8 * n)) >>> 0);
  for (let k = 0; k < n; k++) {
    dv.setInt32(off + 4 + k * 8, left[k]!);
    dv.setInt32(off + 8 + k * 8, right[k]!);
  }
  return 4 + 8 * n;
}

/**
 * The options of a SYN or SYN-ACK in the order and padding Linux uses
 * (MSS; SACK-Permitted merged with Timestamps as 04 02 08 0a; else NOP NOP
 * SACK-Permitted; NOP WS). Pass wscale -1 to omit window scaling. Returns
 * the bytes written, a multiple of 4 (at most 20).
 */
export function writeSynOptions(
  dv: DataView,
  off: number,
  mss: number,
  wscale: number,
  sackPermitted: boolean,
  tsPresent: boolean,
  tsVal: number,
  tsEcr: number,
): number {
  let p = off + writeMssOption(dv, off, mss);
  if (tsPresent) {
    dv.setUint32(p, sackPermitted ? 0x0402080a : 0x0101080a);
    dv.setInt32(p + 4, tsVal);
    dv.setInt32(p + 8, tsEcr);
    p += 12;
  } else if (sackPermitted) {
    p += writeSackPermittedOption(dv, p);
  }
  if (wscale >= 0) p += writeWscaleOption(dv, p, wscale);
  return p - off;
}
