/**
 * Fuzz: checksumPartial against a byte-at-a-time reference on random data,
 * offsets (both parities, both parities of the Uint8Array's own byteOffset),
 * lengths and initial sums, and chained partial sums.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { checksumFold, checksumPartial } from "../../src/wire/checksum";

const RUNS = 10_000;

function reference(bytes: Uint8Array, off: number, len: number, initial: number): number {
  let sum = initial;
  for (let i = 0; i < len; i++) sum += (i & 1) === 0 ? bytes[off + i]! << 8 : bytes[off + i]!;
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

describe("checksum under random input", () => {
  test("matches the reference at any offset, length and initial sum; chains at even cuts", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000 }),
        fc.integer({ min: 0, max: 3 }),
        fc.nat(),
        fc.nat(),
        fc.nat({ max: 0x7fffffff }),
        fc.nat(),
        (data, shift, a, b, initial, cutSeed) => {
          // a Uint8Array whose byteOffset has the chosen parity, ending exactly at the data's end
          const backing = new Uint8Array(shift + data.length);
          backing.set(data, shift);
          const buf = backing.subarray(shift);
          const off = data.length === 0 ? 0 : a % data.length;
          const len = b % (data.length - off + 1);
          const got = checksumFold(checksumPartial(buf, off, len, initial));
          expect(got).toBe(reference(buf, off, len, initial));
          const cut = (cutSeed % (len + 1)) & ~1;
          const chained = checksumPartial(buf, off + cut, len - cut, checksumPartial(buf, off, cut, initial));
          expect(checksumFold(chained)).toBe(got);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
