/**
 * IPv4 addresses as uint32 values (RFC 791 3.1 "Source Address", 32 bits) and
 * their dotted-decimal text form, plus CIDR prefixes (RFC 4632 3.1).
 *
 * 10.0.0.1 is 0x0a000001. These helpers are for configuration and display,
 * not the per-packet path (they allocate strings).
 */

/**
 * Parse dotted-decimal "A.B.C.D" (each part 0-255, decimal digits only, no
 * leading zeros except "0" itself, so "010" cannot be misread as octal).
 * Returns the address as a uint32 value, or -1 for malformed input; never throws.
 */
export function parseIpv4(s: string): number {
  if (typeof s !== "string") return -1;
  const n = s.length;
  if (n < 7 || n > 15) return -1;
  let value = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= n; i++) {
    const c = i < n ? s.charCodeAt(i) : 0x2e;
    if (c === 0x2e) {
      if (digits === 0) return -1;
      value = value * 256 + part;
      parts++;
      if (parts > 4) return -1;
      part = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && part === 0) return -1; // leading zero
      part = part * 10 + (c - 0x30);
      digits++;
      if (part > 255) return -1;
    } else {
      return -1;
    }
  }
  return parts === 4 ? value : -1;
}

/** Format a uint32 (or int32 bit pattern) address as "A.B.C.D". */
export function formatIpv4(v: number): string {
  return ((v >>> 24) & 0xff) + "." + ((v >>> 16) & 0xff) + "." + ((v >>> 8) & 0xff) + "." + (v & 0xff);
}

/**
 * Parse "A.B.C.D/LEN" (LEN 0-32, decimal, no leading zeros). The address keeps
 * its host bits (an interface address). Returns null for malformed input,
 * including a missing "/LEN".
 */
export function parseCidr(s: string): { ip: number; prefixLen: number } | null {
  if (typeof s !== "string") return null;
  const slash = s.indexOf("/");
  if (slash < 0) return null;
  const ip = parseIpv4(s.substring(0, slash));
  if (ip < 0) return null;
  const lenText = s.substring(slash + 1);
  if (!/^(?:[0-9]|[12][0-9]|3[0-2])$/.test(lenText)) return null;
  return { ip, prefixLen: Number(lenText) };
}

/** The netmask of a prefix length 0-32 as a uint32 value (24 -> 0xffffff00). Out-of-range lengths are clamped. */
export function prefixMask(len: number): number {
  if (!(len > 0)) return 0;
  if (len >= 32) return 0xffffffff;
  return (0xffffffff << (32 - len)) >>> 0;
}

/** True when a and b agree in their first prefixLen bits. */
export function sameSubnet(a: number, b: number, prefixLen: number): boolean {
  return ((a ^ b) & prefixMask(prefixLen)) === 0;
}
