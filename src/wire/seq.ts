/**
 * TCP sequence-number arithmetic modulo 2^32 (RFC 9293 3.4 "Sequence Numbers":
 * "all arithmetic dealing with sequence numbers must be performed modulo 2**32";
 * RFC 1982 serial number comparison for the ordering).
 *
 * Sequence numbers are kept as int32 everywhere in the stack (FACTS.md: int32
 * arithmetic is several times cheaper than uint32 in JavaScriptCore). Every
 * function here takes int32 bit patterns (a uint32 value works too, it is
 * coerced) and returns int32. Convert with `>>> 0` only for display.
 *
 * The ordering is only meaningful for numbers less than 2^31 apart, which TCP
 * guarantees (windows are at most 2^30, RFC 7323 2.3).
 */

/** a < b in sequence space. */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** a <= b in sequence space. */
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/** a > b in sequence space. */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/** a >= b in sequence space. */
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/** a + n modulo 2^32, as int32. */
export function seqAdd(a: number, n: number): number {
  return (a + n) | 0;
}

/** Signed distance a - b modulo 2^32, as int32 (positive when a is after b). */
export function seqSub(a: number, b: number): number {
  return (a - b) | 0;
}

/** The later of a and b in sequence space, as int32. */
export function seqMax(a: number, b: number): number {
  return ((a - b) | 0) < 0 ? b | 0 : a | 0;
}

/** The earlier of a and b in sequence space, as int32. */
export function seqMin(a: number, b: number): number {
  return ((a - b) | 0) < 0 ? a | 0 : b | 0;
}

/**
 * lo <= x < lo + len in sequence space (RFC 9293 3.10.7.4 acceptability test
 * shape). `len` is a non-negative byte count below 2^31; len 0 contains nothing.
 */
export function seqInWindow(x: number, lo: number, len: number): boolean {
  const d = (x - lo) | 0;
  return d >= 0 && d < len;
}
