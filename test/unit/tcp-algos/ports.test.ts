import { describe, expect, test } from "bun:test";
import { EphemeralPorts, type PortTable } from "../../../src/tcp/ports";

const SECRET = new Uint32Array([5, 6, 7, 8]);
const LIP = 0x0a000001;
const RIP = 0x0a000063;

class Taken implements PortTable {
  used = new Set<string>();
  calls = 0;
  lastArgs: number[] = [];
  taken(localIp: number, localPort: number, remoteIp: number, remotePort: number): boolean {
    this.calls++;
    this.lastArgs = [localIp, localPort, remoteIp, remotePort];
    return this.used.has(localIp + ":" + localPort + ">" + remoteIp + ":" + remotePort);
  }
  add(localPort: number, remotePort: number, remoteIp = RIP): void {
    this.used.add(LIP + ":" + localPort + ">" + remoteIp + ":" + remotePort);
  }
}

describe("RFC 6056 3.3.4 double-hash port selection", () => {
  test("ports stay in the default range 32768..60999", () => {
    const p = new EphemeralPorts({ secret: SECRET });
    expect(p.lo).toBe(32768);
    expect(p.hi).toBe(60999);
    const t = new Taken();
    for (let i = 0; i < 2000; i++) {
      const port = p.pick(LIP, RIP + i, 80, t);
      expect(port).toBeGreaterThanOrEqual(32768);
      expect(port).toBeLessThanOrEqual(60999);
    }
  });

  test("successive connections to one destination get successive ports", () => {
    const p = new EphemeralPorts({ secret: SECRET });
    const t = new Taken();
    const first = p.pick(LIP, RIP, 443, t);
    for (let i = 1; i < 10; i++) {
      const expected = 32768 + ((first - 32768 + i) % 28232);
      expect(p.pick(LIP, RIP, 443, t)).toBe(expected);
    }
  });

  test("the starting port depends on the destination and looks random", () => {
    const p = new EphemeralPorts({ secret: SECRET });
    const t = new Taken();
    const starts = new Set<number>();
    let sequential = 0;
    let prev = -1;
    for (let i = 0; i < 200; i++) {
      const port = p.pick(LIP, RIP, 1000 + i, t);
      starts.add(port);
      if (port === prev + 1) sequential++;
      prev = port;
    }
    expect(starts.size).toBeGreaterThan(190);
    expect(sequential).toBeLessThan(5);
  });

  test("the starting port depends on the secret", () => {
    const t = new Taken();
    const a = new EphemeralPorts({ secret: SECRET });
    const b = new EphemeralPorts({ secret: new Uint32Array([5, 6, 7, 9]) });
    let same = 0;
    for (let i = 0; i < 50; i++) if (a.pick(LIP, RIP, 2000 + i, t) === b.pick(LIP, RIP, 2000 + i, t)) same++;
    expect(same).toBeLessThan(3);
  });

  test("check_suitable_port: taken ports are skipped, with the full 4-tuple asked", () => {
    const probe = new EphemeralPorts({ secret: SECRET });
    const p = new EphemeralPorts({ secret: SECRET });
    const t = new Taken();
    const first = probe.pick(LIP, RIP, 8080, t); // what p will try first
    t.add(first, 8080);
    t.calls = 0;
    const got = p.pick(LIP, RIP, 8080, t);
    expect(got).toBe(first === 60999 ? 32768 : first + 1);
    expect(t.calls).toBe(2);
    expect(t.lastArgs).toEqual([LIP, got, RIP, 8080]);
  });

  test("a port in use towards another destination is still usable", () => {
    const probe = new EphemeralPorts({ secret: SECRET });
    const p = new EphemeralPorts({ secret: SECRET });
    const t = new Taken();
    const first = probe.pick(LIP, RIP, 8080, t);
    t.add(first, 8080, RIP + 1);
    expect(p.pick(LIP, RIP, 8080, t)).toBe(first);
  });

  test("exhausted range: -1 after trying every port once", () => {
    const p = new EphemeralPorts({ lo: 40000, hi: 40009, secret: SECRET });
    const t = new Taken();
    for (let port = 40000; port <= 40009; port++) t.add(port, 80);
    t.calls = 0;
    expect(p.pick(LIP, RIP, 80, t)).toBe(-1);
    expect(t.calls).toBe(10);
    t.used.clear();
    const got = p.pick(LIP, RIP, 80, t);
    expect(got).toBeGreaterThanOrEqual(40000);
    expect(got).toBeLessThanOrEqual(40009);
  });

  test("bad options are rejected", () => {
    expect(() => new EphemeralPorts({ lo: 0, hi: 10, secret: SECRET })).toThrow(RangeError);
    expect(() => new EphemeralPorts({ lo: 100, hi: 99, secret: SECRET })).toThrow(RangeError);
    expect(() => new EphemeralPorts({ lo: 100, hi: 70000, secret: SECRET })).toThrow(RangeError);
    expect(() => new EphemeralPorts({ secret: new Uint32Array(1) })).toThrow(RangeError);
    expect(() => new EphemeralPorts({ secret: SECRET, tableSize: 1000 })).toThrow(RangeError);
  });
});
