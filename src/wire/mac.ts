/**
 * IEEE 802 48-bit MAC addresses (IEEE 802-2014 8.2; RFC 7042 2.1 for the
 * group bit), read in place from packet bytes.
 */

export const MAC_LEN = 6;

/** ff:ff:ff:ff:ff:ff. Treat as read-only. */
export const BROADCAST_MAC: Uint8Array = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

function hexNibble(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/**
 * Parse "02:00:00:00:00:01" (hex pairs separated by ':' or '-', either case).
 * Returns a new 6-byte array, or null for malformed input; never throws.
 */
export function parseMac(s: string): Uint8Array | null {
  if (typeof s !== "string" || s.length !== 17) return null;
  const sep = s.charCodeAt(2);
  if (sep !== 0x3a && sep !== 0x2d) return null;
  const out = new Uint8Array(MAC_LEN);
  for (let i = 0; i < MAC_LEN; i++) {
    const p = i * 3;
    if (i > 0 && s.charCodeAt(p - 1) !== sep) return null;
    const hi = hexNibble(s.charCodeAt(p));
    const lo = hexNibble(s.charCodeAt(p + 1));
    if (hi < 0 || lo < 0) return null;
    out[i] = (hi << 4) | lo;
  }
  return out;
}

function hex2(b: number): string {
  return (b < 16 ? "0" : "") + b.toString(16);
}

/** Format the 6 bytes at buf[off] as "02:00:00:00:00:01" (lower case). */
export function formatMac(buf: Uint8Array, off: number): string {
  return (
    hex2(buf[off]!) + ":" + hex2(buf[off + 1]!) + ":" + hex2(buf[off + 2]!) + ":" +
    hex2(buf[off + 3]!) + ":" + hex2(buf[off + 4]!) + ":" + hex2(buf[off + 5]!)
  );
}

/** True when the 6 bytes at buf[off] equal mac[0..6). */
export function macEquals(buf: Uint8Array, off: number, mac: Uint8Array): boolean {
  return (
    buf[off] === mac[0] && buf[off + 1] === mac[1] && buf[off + 2] === mac[2] &&
    buf[off + 3] === mac[3] && buf[off + 4] === mac[4] && buf[off + 5] === mac[5]
  );
}

/** True for ff:ff:ff:ff:ff:ff. */
export function isBroadcastMac(buf: Uint8Array, off: number): boolean {
  return (buf[off]! & buf[off + 1]! & buf[off + 2]! & buf[off + 3]! & buf[off + 4]! & buf[off + 5]!) === 0xff;
}

/** True when the group (I/G) bit, the least significant bit of the first byte, is set; broadcast included. */
export function isMulticastMac(buf: Uint8Array, off: number): boolean {
  return (buf[off]! & 1) !== 0;
}

/** Copy 6 bytes from src[srcOff] to dst[dstOff] (no allocation; overlapping ranges are not supported). */
export function copyMac(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): void {
  dst[dstOff] = src[srcOff]!;
  dst[dstOff + 1] = src[srcOff + 1]!;
  dst[dstOff + 2] = src[srcOff + 2]!;
  dst[dstOff + 3] = src[srcOff + 3]!;
  dst[dstOff + 4] = src[srcOff + 4]!;
  dst[dstOff + 5] = src[srcOff + 5]!;
}
