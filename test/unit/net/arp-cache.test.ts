import { describe, expect, test } from "bun:test";
import { ARP_HIT, ARP_HIT_REFRESH, ARP_MISS, ArpCache } from "../../../src/net/arp-cache";

const MAC = new Uint8Array([2, 1, 2, 3, 4, 5]);

describe("ARP cache (RFC 826, RFC 1122 2.3.2.1)", () => {
  test("a learned mapping is returned until it expires (no stale grace)", () => {
    const c = new ArpCache({ lifetimeUs: 1000, staleUs: 0 });
    c.learn(0x0a000002, MAC, 0, 0);
    const out = new Uint8Array(8);
    expect(c.lookup(0x0a000002, 999, out, 2)).toBe(ARP_HIT);
    expect(Array.from(out.subarray(2))).toEqual(Array.from(MAC));
    expect(c.lookup(0x0a000002, 1000, out, 0)).toBe(ARP_MISS);
    expect(c.lookup(0x0a000003, 0, out, 0)).toBe(ARP_MISS);
  });

  test("an expired mapping stays usable for staleUs while refresh requests go out once per retry interval; a reply makes it fresh", () => {
    const c = new ArpCache({ lifetimeUs: 1000, retryUs: 100, maxRequests: 3 });
    expect(c.staleUs).toBe(300);
    c.learn(0x0a000002, MAC, 0, 0);
    const out = new Uint8Array(6);
    expect(c.lookup(0x0a000002, 1000, out, 0)).toBe(ARP_HIT_REFRESH);
    expect(Array.from(out)).toEqual(Array.from(MAC));
    expect(c.lookup(0x0a000002, 1050, out, 0)).toBe(ARP_HIT); // a refresh is outstanding
    expect(c.lookup(0x0a000002, 1100, out, 0)).toBe(ARP_HIT_REFRESH);
    expect(c.lookup(0x0a000002, 1299, out, 0)).toBe(ARP_HIT_REFRESH);
    expect(c.lookup(0x0a000002, 1300, out, 0)).toBe(ARP_MISS); // the grace is over: resolve again
    // A reply inside the grace refreshes the entry: fresh, no request due.
    c.learn(0x0a000002, MAC, 0, 2000);
    expect(c.lookup(0x0a000002, 3000, out, 0)).toBe(ARP_HIT_REFRESH);
    c.learn(0x0a000002, MAC, 0, 3010);
    expect(c.lookup(0x0a000002, 3020, out, 0)).toBe(ARP_HIT);
    expect(c.lookup(0x0a000002, 4009, out, 0)).toBe(ARP_HIT);
  });

  test("the grace starts at the first use after the lifetime: a neighbour idle for longer is used at once while it is revalidated", () => {
    const c = new ArpCache({ lifetimeUs: 1000, retryUs: 100, maxRequests: 3 });
    c.learn(0x0a000002, MAC, 0, 0);
    const out = new Uint8Array(6);
    // Idle far past lifetime + grace: the next frame still goes out, with a refresh request.
    expect(c.lookup(0x0a000002, 50_000, out, 0)).toBe(ARP_HIT_REFRESH);
    expect(Array.from(out)).toEqual(Array.from(MAC));
    expect(c.lookup(0x0a000002, 50_050, out, 0)).toBe(ARP_HIT);
    expect(c.lookup(0x0a000002, 50_100, out, 0)).toBe(ARP_HIT_REFRESH);
    // Unanswered for the whole grace: a miss (resolve again; frames wait).
    expect(c.lookup(0x0a000002, 50_300, out, 0)).toBe(ARP_MISS);
    // A reply, then idle again past the lifetime: a fresh grace.
    c.learn(0x0a000002, MAC, 0, 60_000);
    expect(c.lookup(0x0a000002, 90_000, out, 0)).toBe(ARP_HIT_REFRESH);
    expect(c.lookup(0x0a000002, 90_299, out, 0)).toBe(ARP_HIT_REFRESH);
    expect(c.lookup(0x0a000002, 90_300, out, 0)).toBe(ARP_MISS);
  });

  test("update refreshes only existing entries (RFC 826 merge flag)", () => {
    const c = new ArpCache();
    expect(c.update(0x0a000002, MAC, 0, 0)).toBe(false);
    expect(c.has(0x0a000002, 0)).toBe(false);
    c.learn(0x0a000002, MAC, 0, 0);
    expect(c.update(0x0a000002, new Uint8Array([2, 9, 9, 9, 9, 9]), 0, 5)).toBe(true);
    const out = new Uint8Array(6);
    c.lookup(0x0a000002, 6, out, 0);
    expect(out[1]).toBe(9);
  });

  test("requests go out at most once per retry interval and give up after maxRequests", () => {
    const c = new ArpCache({ retryUs: 100, maxRequests: 2 });
    const ip = 0x0a000009;
    expect(c.requestDue(ip, 0)).toBe(1);
    expect(c.requestDue(ip, 50)).toBe(0);
    expect(c.requestDue(ip, 100)).toBe(1);
    expect(c.requestDue(ip, 150)).toBe(0);
    expect(c.requestDue(ip, 200)).toBe(-1);
    expect(c.nextRetryUs()).toBe(Number.POSITIVE_INFINITY);
  });

  test("a full neighbourhood evicts the entry expiring first and still works", () => {
    const c = new ArpCache({ capacity: 16, lifetimeUs: 1_000_000 });
    for (let i = 0; i < 200; i++) c.learn(0x0a000000 + i, MAC, 0, i);
    expect(c.size).toBeLessThanOrEqual(16);
    expect(c.has(0x0a000000 + 199, 200)).toBe(true);
    expect(c.evictions).toBeGreaterThan(0);
  });
});
