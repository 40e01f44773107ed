/**
 * Fuzz: parseTcpOptions on arbitrary bytes and on TLV sequences built to hit
 * every structural case (EOL, NOP, length 0, length 1, lengths overflowing the
 * area, wrong fixed lengths, unknown kinds). Property: it terminates, never
 * throws, reads nothing past off+len, and agrees with an independent model.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { TcpOptions, parseTcpOptions } from "../../src/wire/tcp";

const RUNS = 15_000;

interface Model {
  ok: boolean;
  mss: number;
  wscale: number;
  sackPermitted: boolean;
  tsPresent: boolean;
  tsVal: number;
  tsEcr: number;
  sack: number[];
}

/** An independent reading of RFC 9293 3.1/3.2, RFC 7323, RFC 2018 over a plain array. */
function model(bytes: number[]): Model {
  const m: Model = { ok: true, mss: -1, wscale: -1, sackPermitted: false, tsPresent: false, tsVal: -1, tsEcr: -1, sack: [] };
  const be32 = (at: number) => ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) | 0;
  let rest = bytes;
  let base = 0;
  for (;;) {
    if (rest.length === 0 || rest[0] === 0) return m;
    if (rest[0] === 1) {
      rest = rest.slice(1);
      base++;
      continue;
    }
    if (rest.length < 2 || rest[1]! < 2 || rest[1]! > rest.length) {
      m.ok = false;
      return m;
    }
    const [kind, len] = [rest[0]!, rest[1]!];
    const at = base + 2;
    if (kind === 2 && len === 4) m.mss = (bytes[at]! << 8) | bytes[at + 1]!;
    if (kind === 3 && len === 3) m.wscale = Math.min(bytes[at]!, 14);
    if (kind === 4 && len === 2) m.sackPermitted = true;
    if (kind === 8 && len === 10) {
      m.tsPresent = true;
      m.tsVal = be32(at);
      m.tsEcr = be32(at + 4);
    }
    if (kind === 5 && len > 2 && (len - 2) % 8 === 0) {
      m.sack = [];
      for (let b = 0; b < Math.min((len - 2) / 8, 4); b++) m.sack.push(be32(at + 8 * b), be32(at + 8 * b + 4));
    }
    rest = rest.slice(len);
    base += len;
  }
}

function runBoth(bytes: Uint8Array, off: number, out: TcpOptions): void {
  const buf = new Uint8Array(off + bytes.length);
  buf.fill(2, 0, off); // junk before the area looks like MSS kinds
  buf.set(bytes, off);
  const ok = parseTcpOptions(buf, new DataView(buf.buffer), off, bytes.length, out);
  const m = model(Array.from(bytes));
  expect(ok).toBe(m.ok);
  expect(out.malformed).toBe(!m.ok);
  expect(out.mss).toBe(m.mss);
  expect(out.wscale).toBe(m.wscale);
  expect(out.sackPermitted).toBe(m.sackPermitted);
  expect(out.tsPresent).toBe(m.tsPresent);
  expect(out.tsVal).toBe(m.tsVal);
  expect(out.tsEcr).toBe(m.tsEcr);
  expect(out.sackCount * 2).toBe(m.sack.length);
  for (let b = 0; b < out.sackCount; b++) {
    expect(out.sackLeft[b]).toBe(m.sack[2 * b]!);
    expect(out.sackRight[b]).toBe(m.sack[2 * b + 1]!);
  }
}

const byte = fc.integer({ min: 0, max: 255 });

/** One TLV chosen to exercise a structural case; bodies are random. */
const tlv: fc.Arbitrary<number[]> = fc.oneof(
  fc.constant<number[]>([0]), // EOL
  fc.constant<number[]>([1]), // NOP
  fc.tuple(byte, byte).map(([a, b]) => [2, 4, a, b]), // MSS
  byte.map((s) => [3, 3, s]), // WS (shift may exceed 14)
  fc.constant<number[]>([4, 2]), // SACK-permitted
  fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => [8, 10, ...b]), // TS
  fc.integer({ min: 1, max: 5 }).chain((n) => fc.uint8Array({ minLength: 8 * n, maxLength: 8 * n }).map((b) => [5, 2 + 8 * n, ...b])),
  fc.tuple(fc.constantFrom(2, 3, 4, 5, 8), fc.integer({ min: 2, max: 12 })).chain(([k, l]) =>
    fc.uint8Array({ minLength: l - 2, maxLength: l - 2 }).map((b) => [k, l, ...b]),
  ), // known kind, any length (often wrong)
  fc.tuple(fc.integer({ min: 6, max: 255 }), fc.integer({ min: 2, max: 16 })).chain(([k, l]) =>
    fc.uint8Array({ minLength: l - 2, maxLength: l - 2 }).map((b) => [k, l, ...b]),
  ), // unknown kind
  fc.integer({ min: 2, max: 255 }).map((k) => [k, 0]), // length 0
  fc.integer({ min: 2, max: 255 }).map((k) => [k, 1]), // length 1
  fc.tuple(fc.integer({ min: 2, max: 255 }), fc.integer({ min: 3, max: 255 })).map(([k, l]) => [k, l]), // overflows unless more follows
  fc.integer({ min: 2, max: 255 }).map((k) => [k]), // kind with no length byte (if last)
);

describe("parseTcpOptions under random input", () => {
  test("arbitrary bytes: terminates, never throws, matches the model", () => {
    const out = new TcpOptions();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 60 }), fc.integer({ min: 0, max: 7 }), (bytes, off) => runBoth(bytes, off, out)),
      { numRuns: RUNS },
    );
  });

  test("TLV sequences with length 0/1, overflowing and wrong-length options: matches the model", () => {
    const out = new TcpOptions();
    let malformed = 0;
    fc.assert(
      fc.property(fc.array(tlv, { maxLength: 8 }), fc.integer({ min: 0, max: 7 }), (parts, off) => {
        const bytes = new Uint8Array(parts.flat());
        runBoth(bytes, off, out);
        if (out.malformed) malformed++;
      }),
      { numRuns: RUNS },
    );
    expect(malformed).toBeGreaterThan(RUNS / 20); // the bad cases were really generated
    expect(malformed).toBeLessThan(RUNS); // and so were good ones
  });
});
