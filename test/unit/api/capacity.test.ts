/**
 * Capacity is configuration (issue 4): --max-conns / --buf-mb become TCP
 * settings and a memory plan, checked against free hugepages (or MemAvailable
 * with --no-huge) with one clear line when it does not fit.
 */
import { describe, expect, test } from "bun:test";
import { capacityFrom, checkCapacity, planCapacity, readMemoryInfo, tableLayout } from "../../../src/api/capacity";
import { TcpLayer } from "../../../src/tcp/tcp-layer";
import { parseArgs, STACK_FLAGS } from "../../../src/api/cli";
import { ConfigError } from "../../../src/api/errors";
import { BUN, ROOT } from "../../helpers/app-process";

const MEMINFO = `MemTotal:       24000000 kB
MemAvailable:    4194304 kB
HugePages_Total:    1024
HugePages_Free:      512
Hugepagesize:       2048 kB
`;

function cap(args: string[]) {
  return capacityFrom(parseArgs(args, STACK_FLAGS).values);
}

describe("capacity flags", () => {
  test("--max-conns and --buf-mb size the TCP tables and the buffer pool", () => {
    const p = planCapacity(cap(["--max-conns", "1000000", "--buf-mb", "64"]));
    expect(p.tcp.maxConnections).toBe(1_000_000);
    expect(p.tcp.chunkCount * p.tcp.chunkBytes).toBe(64 * 1024 * 1024);
    expect(p.bytesPerConn).toBeLessThanOrEqual(256);
    expect(p.tableBytes).toBeGreaterThanOrEqual(p.bytesPerConn * 1_000_000);
    expect(p.tableBytes % (2 * 1024 * 1024)).toBe(0);
    console.log(`capacity: 1 M connections: ${(p.tableBytes / 2 ** 20).toFixed(0)} MiB of tables (${p.bytesPerConn.toFixed(1)} B/conn) + ${(p.bufferBytes / 2 ** 20).toFixed(0)} MiB of buffers`);
  });

  test("tables are packed into shared regions of at most 1 GiB, each table 8-byte aligned, one page rounding per region", () => {
    for (const n of [1000, 1_000_000, 10_000_000]) {
      const p = planCapacity(cap(["--max-conns", String(n)]));
      const parts = TcpLayer.memoryPlan(p.tcp);
      const { at, regionBytes } = tableLayout(parts);
      let raw = 0;
      const end = regionBytes.map(() => 0);
      for (const part of parts) {
        const a = at.get(part.name);
        if (!part.perConnection) {
          expect(a).toBeUndefined();
          continue;
        }
        raw += part.bytes;
        expect(a!.offset % 8).toBe(0);
        expect(a!.offset).toBeGreaterThanOrEqual(end[a!.region]!); // no overlap: plan order, increasing offsets
        end[a!.region] = a!.offset + part.bytes;
      }
      for (let r = 0; r < regionBytes.length; r++) {
        expect(end[r]!).toBeLessThanOrEqual(regionBytes[r]!);
        expect(regionBytes[r]! - end[r]!).toBeLessThan(2 * 1024 * 1024 + 8 * parts.length);
        // Over 1 GiB only when one table alone is that large (the connection table at 10 M).
        const tablesIn = [...at.values()].filter((x) => x.region === r).length;
        if (regionBytes[r]! > 1024 * 1024 * 1024 + 2 * 1024 * 1024) expect(tablesIn).toBe(1);
      }
      expect(p.tableBytes).toBe(regionBytes.reduce((x, y) => x + y, 0));
      expect(p.tableBytes - raw).toBeLessThan(regionBytes.length * (2 * 1024 * 1024 + 8 * parts.length));
      if (n === 10_000_000) expect(regionBytes.length).toBeGreaterThan(1);
    }
  });

  test("an app's own maxConnections is kept unless --max-conns is given", () => {
    expect(planCapacity(cap([]), { maxConnections: 5000 }).tcp.maxConnections).toBe(5000);
    expect(planCapacity(cap(["--max-conns", "7000"]), { maxConnections: 5000 }).tcp.maxConnections).toBe(7000);
    expect(planCapacity(cap([])).tcp.maxConnections).toBe(65536);
  });

  test("bad values are one-line ConfigErrors", () => {
    expect(() => cap(["--max-conns", "0"])).toThrow(ConfigError);
    expect(() => cap(["--buf-mb", "x"])).toThrow(/--buf-mb: expected an integer/);
  });

  test("/proc/meminfo parsing", () => {
    const m = readMemoryInfo(MEMINFO);
    expect(m.hugeFreeBytes).toBe(512 * 2 * 1024 * 1024);
    expect(m.hugeTotalPages).toBe(1024);
    expect(m.memAvailableBytes).toBe(4194304 * 1024);
    expect(readMemoryInfo().memAvailableBytes).toBeGreaterThan(0);
  });
});

describe("checked against free memory", () => {
  const mem = readMemoryInfo(MEMINFO);
  test("fits: 1 M connections in 1 GiB of free hugepages", () => {
    expect(() => checkCapacity(planCapacity(cap(["--max-conns", "1000000"])), mem)).not.toThrow();
  });

  test("10 M connections do not fit in 1 GiB of hugepages: the line says what is needed, what is free and the fix", () => {
    let msg = "";
    try {
      checkCapacity(planCapacity(cap(["--max-conns", "10000000"])), mem);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/^--max-conns 10000000 --buf-mb 32 need 2\.\d+ GiB .* of hugepage memory but 1\.00 GiB is free \(1024 x 2 MB pages reserved\): reserve \d+ more \(QSTACK_HUGEPAGES=\d+ scripts\/setup\)/);
    expect(msg.includes("\n")).toBe(false);
  });

  test("--no-huge checks MemAvailable (less runtime headroom); --huge-budget-mb caps hugepage use", () => {
    expect(() => checkCapacity(planCapacity(cap(["--max-conns", "20000000", "--no-huge"])), mem)).toThrow(/of MemAvailable is left/);
    expect(() => checkCapacity(planCapacity(cap(["--max-conns", "1000000", "--no-huge"])), mem)).not.toThrow();
    expect(() => checkCapacity(planCapacity(cap(["--max-conns", "1000000", "--huge-budget-mb", "100"])), mem)).toThrow(/over --huge-budget-mb 100/);
  });
});

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.log("capacity: skipping the app start check (needs root for DPDK)");

describe("at start", () => {
  test.skipIf(!isRoot)("an app asked for more connections than memory allows exits 2 with one line", () => {
    const r = Bun.spawnSync(
      [BUN, `${ROOT}/apps/echo.ts`, "--vdev", "net_null0", "--ip", "10.9.0.1/24", "--no-huge", "--max-conns", "100000000", "--buf-mb", "100000"],
      { cwd: ROOT, stdout: "pipe", stderr: "pipe", timeout: 30_000 },
    );
    const err = r.stderr.toString().trim().split("\n").filter((l) => !/^(EAL|TELEMETRY|MEMIF|ETHDEV|NULL|net_null)/i.test(l));
    expect(r.exitCode).toBe(2);
    expect(err.length).toBe(1);
    expect(err[0]!).toMatch(/^echo: --max-conns 100000000 --buf-mb 100000 need .* of MemAvailable is left/);
  });
});
