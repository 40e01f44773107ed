import { describe, expect, test } from "bun:test";
import { formatIpv4, parseCidr, parseIpv4, prefixMask, sameSubnet } from "../../../src/wire/ip-addr";

describe("parseIpv4", () => {
  test("valid addresses give uint32 values", () => {
    expect(parseIpv4("10.0.0.1")).toBe(0x0a000001);
    expect(parseIpv4("0.0.0.0")).toBe(0);
    expect(parseIpv4("255.255.255.255")).toBe(0xffffffff);
    expect(parseIpv4("192.168.1.254")).toBe(0xc0a801fe);
  });

  test("malformed input returns -1 and never throws", () => {
    const bad = [
      "", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.-4", "1..2.3", ".1.2.3", "1.2.3.4.", "a.b.c.d",
      " 1.2.3.4", "1.2.3.4 ", "01.2.3.4", "1.2.3.04", "1.2.3.4/24", "1.2.3.1000", "0x1.2.3.4", "1,2,3,4",
      "1.2.3.4444444444444",
    ];
    for (const s of bad) expect(parseIpv4(s)).toBe(-1);
    expect(parseIpv4(undefined as unknown as string)).toBe(-1);
    expect(parseIpv4(42 as unknown as string)).toBe(-1);
  });

  test("round-trips through formatIpv4", () => {
    for (const v of [0, 1, 0x0a4d0002, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff]) {
      expect(parseIpv4(formatIpv4(v))).toBe(v);
    }
  });
});

describe("formatIpv4", () => {
  test("formats uint32 and int32 bit patterns alike", () => {
    expect(formatIpv4(0x0a000001)).toBe("10.0.0.1");
    expect(formatIpv4(0xc0a80001)).toBe("192.168.0.1");
    expect(formatIpv4(0xc0a80001 | 0)).toBe("192.168.0.1");
  });
});

describe("CIDR", () => {
  test("parseCidr keeps host bits and the prefix length", () => {
    expect(parseCidr("10.0.0.5/24")).toEqual({ ip: 0x0a000005, prefixLen: 24 });
    expect(parseCidr("0.0.0.0/0")).toEqual({ ip: 0, prefixLen: 0 });
    expect(parseCidr("1.2.3.4/32")).toEqual({ ip: 0x01020304, prefixLen: 32 });
  });

  test("parseCidr rejects malformed input", () => {
    for (const s of ["10.0.0.5", "10.0.0.5/", "10.0.0.5/33", "10.0.0.5/-1", "10.0.0.5/024", "10.0.0/24", "10.0.0.5/2 4", "/24"]) {
      expect(parseCidr(s)).toBeNull();
    }
  });

  test("prefixMask", () => {
    expect(prefixMask(0)).toBe(0);
    expect(prefixMask(8)).toBe(0xff000000);
    expect(prefixMask(24)).toBe(0xffffff00);
    expect(prefixMask(31)).toBe(0xfffffffe);
    expect(prefixMask(32)).toBe(0xffffffff);
  });

  test("sameSubnet", () => {
    expect(sameSubnet(0x0a000001, 0x0a0000fe, 24)).toBe(true);
    expect(sameSubnet(0x0a000001, 0x0a000101, 24)).toBe(false);
    expect(sameSubnet(0x0a000101, 0x0a000001, 16)).toBe(true);
    expect(sameSubnet(0x01020304, 0xfefdfcfb, 0)).toBe(true);
    expect(sameSubnet(0xc0a80001, 0xc0a80001, 32)).toBe(true);
    expect(sameSubnet(0xc0a80001, 0xc0a80002, 32)).toBe(false);
    expect(sameSubnet(0xc0a80001 | 0, 0xc0a80002, 30)).toBe(true);
  });
});
