import { describe, expect, test } from "bun:test";
import { BROADCAST_MAC, copyMac, formatMac, isBroadcastMac, isMulticastMac, macEquals, parseMac } from "../../../src/wire/mac";

describe("parseMac / formatMac", () => {
  test("parses colon and dash forms, either case", () => {
    expect(Array.from(parseMac("02:00:00:00:00:01")!)).toEqual([2, 0, 0, 0, 0, 1]);
    expect(Array.from(parseMac("F6-FC-39-6f-14-81")!)).toEqual([0xf6, 0xfc, 0x39, 0x6f, 0x14, 0x81]);
  });

  test("rejects malformed input without throwing", () => {
    for (const s of ["", "02:00:00:00:00", "02:00:00:00:00:01:02", "02:00:00:00:00:0g", "02:00-00:00:00:01", "0200.0000.0001", " 2:00:00:00:00:01"]) {
      expect(parseMac(s)).toBeNull();
    }
    expect(parseMac(null as unknown as string)).toBeNull();
  });

  test("formats in place at an offset and round-trips", () => {
    const buf = new Uint8Array(10);
    buf.set([0x26, 0x89, 0x49, 0x7a, 0x6f, 0xbd], 3);
    expect(formatMac(buf, 3)).toBe("26:89:49:7a:6f:bd");
    expect(formatMac(parseMac("0a:0b:0c:0d:0e:0f")!, 0)).toBe("0a:0b:0c:0d:0e:0f");
  });
});

describe("predicates", () => {
  const buf = new Uint8Array(20);
  buf.set(BROADCAST_MAC, 0);
  buf.set([0x01, 0x00, 0x5e, 0x00, 0x00, 0x01], 6);
  buf.set([0x02, 0x00, 0x00, 0x00, 0x00, 0x01], 12);

  test("broadcast", () => {
    expect(isBroadcastMac(buf, 0)).toBe(true);
    expect(isBroadcastMac(buf, 6)).toBe(false);
    expect(isBroadcastMac(buf, 12)).toBe(false);
  });

  test("multicast is the group bit; broadcast is multicast", () => {
    expect(isMulticastMac(buf, 0)).toBe(true);
    expect(isMulticastMac(buf, 6)).toBe(true);
    expect(isMulticastMac(buf, 12)).toBe(false);
  });

  test("macEquals compares all six bytes", () => {
    const mac = parseMac("02:00:00:00:00:01")!;
    expect(macEquals(buf, 12, mac)).toBe(true);
    for (let i = 0; i < 6; i++) {
      buf[12 + i]! ^= 1;
      expect(macEquals(buf, 12, mac)).toBe(false);
      buf[12 + i]! ^= 1;
    }
  });

  test("copyMac copies exactly six bytes", () => {
    const out = new Uint8Array(8).fill(0xaa);
    copyMac(buf, 12, out, 1);
    expect(Array.from(out)).toEqual([0xaa, 2, 0, 0, 0, 0, 1, 0xaa]);
  });
});
