import { describe, expect, test } from "bun:test";
import {
  TcpOptions,
  parseTcpOptions,
  writeMssOption,
  writeSackOption,
  writeSackPermittedOption,
  writeSynOptions,
  writeTimestampOption,
  writeWscaleOption,
} from "../../../src/wire/tcp";
import { hexBytes, toHex } from "./captures";

function parse(hex: string, out = new TcpOptions()): { ok: boolean; o: TcpOptions } {
  // place the option bytes at an odd offset with junk around them
  const bytes = hexBytes(hex);
  const buf = new Uint8Array(bytes.length + 10).fill(0x02);
  buf.set(bytes, 5);
  const ok = parseTcpOptions(buf, new DataView(buf.buffer), 5, bytes.length, out);
  return { ok, o: out };
}

describe("parseTcpOptions on Linux's options", () => {
  test("SYN: MSS, SACK_PERM, TS, NOP, WS", () => {
    const { ok, o } = parse("020405b40402080aab491a05000000000103030a");
    expect(ok).toBe(true);
    expect(o.malformed).toBe(false);
    expect(o.mss).toBe(1460);
    expect(o.sackPermitted).toBe(true);
    expect(o.tsPresent).toBe(true);
    expect(o.tsVal).toBe(2873694725 | 0);
    expect(o.tsEcr).toBe(0);
    expect(o.wscale).toBe(10);
    expect(o.sackCount).toBe(0);
  });

  test("no options: everything absent", () => {
    const { ok, o } = parse("");
    expect(ok).toBe(true);
    expect([o.mss, o.wscale, o.sackPermitted, o.tsPresent, o.sackCount, o.malformed]).toEqual([-1, -1, false, false, 0, false]);
  });

  test("SACK blocks as int32 edges, next to timestamps (RFC 2018 3)", () => {
    const good = parse("0101080a0000000100000002" + "0101051a" + "fffffff0" + "00000010" + "00000100" + "00000200" + "80000000" + "80000010");
    expect(good.ok).toBe(true);
    expect(good.o.sackCount).toBe(3);
    expect(Array.from(good.o.sackLeft.subarray(0, 3))).toEqual([-16, 0x100, 0x80000000 | 0]);
    expect(Array.from(good.o.sackRight.subarray(0, 3))).toEqual([0x10, 0x200, 0x80000010 | 0]);
    expect(good.o.tsVal).toBe(1);
    expect(good.o.tsEcr).toBe(2);
  });

  test("four SACK blocks (34 bytes) fill the array", () => {
    let hex = "0101" + "0522";
    for (let k = 0; k < 4; k++) hex += (k * 100).toString(16).padStart(8, "0") + (k * 100 + 50).toString(16).padStart(8, "0");
    const { ok, o } = parse(hex);
    expect(ok).toBe(true);
    expect(o.sackCount).toBe(4);
    expect(Array.from(o.sackLeft)).toEqual([0, 100, 200, 300]);
    expect(Array.from(o.sackRight)).toEqual([50, 150, 250, 350]);
  });

  test("more than four blocks in an over-long area: only four are kept", () => {
    let hex = "052a";
    for (let k = 0; k < 5; k++) hex += "0000000" + k + "0000000" + (k + 1);
    const { ok, o } = parse(hex);
    expect(ok).toBe(true);
    expect(o.sackCount).toBe(4);
    expect(o.sackRight[3]).toBe(4);
  });
});

describe("structure (RFC 9293 3.1 MUST-6, MUST-7)", () => {
  test("EOL ends the list: what follows is not parsed", () => {
    const { ok, o } = parse("020405b400" + "0303ff");
    expect(ok).toBe(true);
    expect(o.mss).toBe(1460);
    expect(o.wscale).toBe(-1);
  });

  test("length 0 is malformed and stops", () => {
    const { ok, o } = parse("020405b4" + "0800" + "0303aa");
    expect(ok).toBe(false);
    expect(o.malformed).toBe(true);
    expect(o.mss).toBe(1460); // parsed before the bad option
    expect(o.wscale).toBe(-1);
  });

  test("length 1 is malformed and stops", () => {
    const { ok, o } = parse("0101" + "1e01" + "020405b4");
    expect(ok).toBe(false);
    expect(o.malformed).toBe(true);
    expect(o.mss).toBe(-1);
  });

  test("a length overflowing the option area is malformed", () => {
    expect(parse("020405b4" + "080a00000001").ok).toBe(false);
    expect(parse("0205").ok).toBe(false);
    expect(parse("02ff05b4").o.malformed).toBe(true);
  });

  test("a kind byte with no room for its length is malformed", () => {
    const { ok, o } = parse("01010102");
    expect(ok).toBe(false);
    expect(o.malformed).toBe(true);
  });

  test("a trailing NOP run or a trailing EOL is fine", () => {
    expect(parse("0101010101").ok).toBe(true);
    expect(parse("00").ok).toBe(true);
    expect(parse("00ff").ok).toBe(true); // garbage after EOL is padding
  });

  test("unknown kinds are skipped by length (MPTCP, TCP-AO, experimental)", () => {
    const { ok, o } = parse("1e0c" + "00".repeat(10) + "1d04abcd" + "fd06aabbccdd" + "020405b4");
    expect(ok).toBe(true);
    expect(o.mss).toBe(1460);
  });

  test("known options with the wrong fixed length are skipped, not recorded", () => {
    const { ok, o } = parse("020505b400" + "030403ff" + "0403ff" + "080b0000000100000002ff" + "0509" + "00000001000000" + "0303" + "07");
    expect(ok).toBe(true);
    expect(o.malformed).toBe(false);
    expect(o.mss).toBe(-1);
    expect(o.wscale).toBe(7); // the last, well-formed WS
    expect(o.sackPermitted).toBe(false);
    expect(o.tsPresent).toBe(false);
    expect(o.sackCount).toBe(0);
  });

  test("a window scale above 14 is used as 14 (RFC 7323 2.3)", () => {
    expect(parse("030315").o.wscale).toBe(14);
    expect(parse("03030e").o.wscale).toBe(14);
    expect(parse("030300").o.wscale).toBe(0);
  });

  test("the out object is cleared by each parse", () => {
    const o = new TcpOptions();
    parse("020405b40402080a000000010000000201030307", o);
    expect(o.mss).toBe(1460);
    parse("0101", o);
    expect([o.mss, o.wscale, o.sackPermitted, o.tsPresent, o.tsVal, o.tsEcr, o.sackCount]).toEqual([-1, -1, false, false, -1, -1, 0]);
    parse("0800", o);
    expect(o.malformed).toBe(true);
    parse("", o);
    expect(o.malformed).toBe(false);
  });
});

describe("writers", () => {
  const buf = new Uint8Array(64);
  const dv = new DataView(buf.buffer);

  test("each writer's bytes and length (multiples of 4)", () => {
    expect(writeMssOption(dv, 1, 1460)).toBe(4);
    expect(toHex(buf, 1, 4)).toBe("020405b4");
    expect(writeWscaleOption(dv, 1, 7)).toBe(4);
    expect(toHex(buf, 1, 4)).toBe("01030307");
    expect(writeSackPermittedOption(dv, 1)).toBe(4);
    expect(toHex(buf, 1, 4)).toBe("01010402");
    expect(writeTimestampOption(dv, 1, 0xab491a05, 65111395)).toBe(12);
    expect(toHex(buf, 1, 12)).toBe("0101080aab491a0503e18563");
  });

  test("writeSackOption writes n blocks and round-trips through the parser", () => {
    const left = new Int32Array([0x10, 0xfffffff0 | 0, 7]);
    const right = new Int32Array([0x20, 0x8, 9]);
    expect(writeSackOption(dv, 3, left, right, 2)).toBe(20);
    expect(toHex(buf, 3, 20)).toBe("01010512" + "00000010" + "00000020" + "fffffff0" + "00000008");
    const o = new TcpOptions();
    expect(parseTcpOptions(buf, dv, 3, 20, o)).toBe(true);
    expect(o.sackCount).toBe(2);
    expect(o.sackLeft[1]).toBe(-16);
    expect(o.sackRight[1]).toBe(8);
    expect(writeSackOption(dv, 3, left, right, 0)).toBe(0);
  });

  test("writeSynOptions variants match Linux layouts", () => {
    expect(writeSynOptions(dv, 0, 1460, 7, true, true, 1, 0)).toBe(20);
    expect(toHex(buf, 0, 20)).toBe("020405b40402080a000000010000000001030307");
    expect(writeSynOptions(dv, 0, 1460, 7, true, false, 0, 0)).toBe(12); // sysctl tcp_timestamps=0
    expect(toHex(buf, 0, 12)).toBe("020405b40101040201030307");
    expect(writeSynOptions(dv, 0, 536, -1, false, true, 5, 6)).toBe(16);
    expect(toHex(buf, 0, 16)).toBe("020402180101080a0000000500000006");
    expect(writeSynOptions(dv, 0, 1460, -1, false, false, 0, 0)).toBe(4);
  });

  test("everything a SYN writer produces parses back", () => {
    const o = new TcpOptions();
    const n = writeSynOptions(dv, 2, 8960, 14, true, true, -5, 77);
    expect(parseTcpOptions(buf, dv, 2, n, o)).toBe(true);
    expect([o.mss, o.wscale, o.sackPermitted, o.tsPresent, o.tsVal, o.tsEcr]).toEqual([8960, 14, true, true, -5, 77]);
  });
});
