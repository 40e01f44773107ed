import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PcapWriter } from "../../../src/net/pcap-writer";

describe("pcap writer", () => {
  test("writes the libpcap global header and records in order", () => {
    const dir = mkdtempSync(join(tmpdir(), "qs-pcap-"));
    try {
      const f = join(dir, "a.pcap");
      const w = new PcapWriter(f, { bufferBytes: 256 });
      const mem = new Uint8Array(300);
      for (let i = 0; i < 300; i++) mem[i] = i & 0xff;
      w.record(1_500_000, mem, 10, 60);
      w.record(2_000_001, mem, 0, 100);
      w.close();
      const b = readFileSync(f);
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      expect(dv.getUint32(0, true)).toBe(0xa1b2c3d4);
      expect(dv.getUint32(20, true)).toBe(1);
      expect(dv.getUint32(24, true)).toBe(1);
      expect(dv.getUint32(28, true)).toBe(500_000);
      expect(dv.getUint32(32, true)).toBe(60);
      expect(b[40]).toBe(10);
      const r2 = 24 + 16 + 60;
      expect(dv.getUint32(r2, true)).toBe(2);
      expect(dv.getUint32(r2 + 4, true)).toBe(1);
      expect(dv.getUint32(r2 + 12, true)).toBe(100);
      expect(b.length).toBe(24 + 16 + 60 + 16 + 100);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  test("a ring-limited file never grows past its limit", () => {
    const dir = mkdtempSync(join(tmpdir(), "qs-pcap-"));
    try {
      const f = join(dir, "r.pcap");
      const w = new PcapWriter(f, { bufferBytes: 1024, maxBytes: 4096 });
      const mem = new Uint8Array(200);
      for (let i = 0; i < 100; i++) w.record(i, mem, 0, 200);
      w.close();
      expect(statSync(f).size).toBeLessThanOrEqual(4096);
      expect(w.wraps).toBeGreaterThan(0);
      expect(w.frames).toBe(100);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
