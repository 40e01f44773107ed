import { expect, test } from "bun:test";
import * as table from "../../../src/tcp/conn-table";

test("connection flag bits are distinct single bits (a shared bit once hid every Closed event in TIME-WAIT)", () => {
  const flags = Object.entries(table).filter(([k, v]) => k.startsWith("F_") && typeof v === "number") as [string, number][];
  expect(flags.length).toBeGreaterThan(20);
  const seen = new Map<number, string>();
  for (const [name, v] of flags) {
    expect(v !== 0 && (v & (v - 1)) === 0).toBe(true);
    expect(seen.get(v)).toBeUndefined();
    seen.set(v, name);
  }
});
