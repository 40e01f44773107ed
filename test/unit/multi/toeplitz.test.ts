/**
 * Toeplitz (RSS) hash against the public test vectors of Microsoft's "Verifying
 * the RSS Hash Calculation" (also in DPDK's app/test/test_thash.c), cross-checked
 * here against DPDK 22.11's rte_softrss().
 */
import { describe, expect, test } from "bun:test";
import { MS_RSS_KEY, rssQueue, toeplitzIpv4, toeplitzIpv4Ports } from "../../../src/sched/multi/toeplitz";
import { parseIpv4 } from "../../../src/wire/ip-addr";

// [destination, destination port, source, source port, IPv4 hash, IPv4 with TCP hash]
const VECTORS: [string, number, string, number, number, number][] = [
  ["161.142.100.80", 1766, "66.9.149.187", 2794, 0x323e8fc2, 0x51ccc178],
  ["65.69.140.83", 4739, "199.92.111.2", 14230, 0xd718262a, 0xc626b0ea],
  ["12.22.207.184", 38024, "24.19.198.95", 12898, 0xd2d0a5de, 0x5c2b394a],
  ["209.142.163.6", 2217, "38.27.205.30", 48228, 0x82989176, 0xafc7327f],
  ["202.188.127.2", 1303, "153.39.163.191", 44251, 0x5d1809c5, 0x10e828a2],
];

describe("Toeplitz RSS hash", () => {
  for (const [dst, dport, src, sport, ipHash, tcpHash] of VECTORS) {
    test(`${src}:${sport} -> ${dst}:${dport}`, () => {
      const s = parseIpv4(src);
      const d = parseIpv4(dst);
      expect(toeplitzIpv4(MS_RSS_KEY, s, d)).toBe(ipHash);
      expect(toeplitzIpv4Ports(MS_RSS_KEY, s, d, sport, dport)).toBe(tcpHash);
    });
  }
  test("the queue is reta[hash mod size]", () => {
    expect(rssQueue(0x51ccc178, [0, 1])).toBe(0);
    expect(rssQueue(0xc626b0ea, [0, 1, 2, 3])).toBe(2);
    expect(rssQueue(0xffffffff, [5, 6, 7])).toBe([5, 6, 7][0xffffffff % 3]);
  });
  test("a key too short is refused", () => {
    expect(() => toeplitzIpv4Ports(new Uint8Array(8), 1, 2, 3, 4)).toThrow(RangeError);
  });
});
