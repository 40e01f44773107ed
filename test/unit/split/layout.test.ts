import { describe, expect, test } from "bun:test";
import { ConfigError } from "../../../src/api/errors";
import { cpuFor, formatLayout, parseLayout } from "../../../src/api/layout";

function err(spec: string, cpus = 4): string {
  try {
    parseLayout(spec, cpus);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    const m = (e as Error).message;
    expect(m.includes("\n")).toBe(false);
    return m;
  }
  throw new Error(`${spec} was accepted`);
}

describe("thread layout spec", () => {
  test("rtc is run to completion, unpinned", () => {
    expect(parseLayout("rtc", 4)).toEqual({ mode: "rtc", cpus: null });
  });
  test("rtc@CPUS pins the one thread", () => {
    expect(parseLayout("rtc@1", 4)).toEqual({ mode: "rtc", cpus: [1] });
  });
  test("split with counts, in either key order", () => {
    const want = { mode: "split" as const, stack: { count: 1, cpus: null }, app: { count: 3, cpus: null } };
    expect(parseLayout("split:stack=1,app=3", 4)).toEqual(want);
    expect(parseLayout("split:app=3,stack=1", 4)).toEqual(want);
  });
  test("CPU lists: single, range, '+' joined, duplicates dropped", () => {
    const l = parseLayout("split:stack=1@0,app=4@1-2+3+2", 4);
    expect(l).toEqual({ mode: "split", stack: { count: 1, cpus: [0] }, app: { count: 4, cpus: [1, 2, 3] } });
  });
  test("thread i is pinned to the i-th CPU of its list, cycling; -1 when unpinned", () => {
    const l = parseLayout("split:stack=1,app=3@2+3", 4);
    if (l.mode !== "split") throw new Error("mode");
    expect([0, 1, 2].map((i) => cpuFor(l.app, i))).toEqual([2, 3, 2]);
    expect(cpuFor(l.stack, 0)).toBe(-1);
  });
  test("formatLayout round-trips", () => {
    for (const s of ["rtc", "rtc@0+2", "split:stack=1,app=2", "split:stack=1@0,app=2@1+3"]) {
      expect(formatLayout(parseLayout(s, 4))).toBe(s);
    }
  });
  test("bad specs are one-line ConfigErrors naming the problem", () => {
    expect(err("rtx")).toContain("unknown mode");
    expect(err("split:stack=1")).toContain("app=N missing");
    expect(err("split:app=1")).toContain("stack=N missing");
    expect(err("split:stack=1,app=0")).toContain("app=0 is not a thread count");
    expect(err("split:stack=1,app=65")).toContain("app=65");
    expect(err("split:stack=1,app=x")).toContain("app=x");
    expect(err("split:stack=1,app=1,apps=2")).toContain('unknown key "apps"');
    expect(err("split:stack=1,app=1,app=2")).toContain("app given twice");
    expect(err("split:stack=1,app")).toContain("not key=value");
    expect(err("split:stack=1@9,app=1", 4)).toContain("CPU 9 does not exist");
    expect(err("split:stack=1@3-1,app=1")).toContain("runs backwards");
    expect(err("split:stack=1@,app=1")).toContain("empty CPU list");
    expect(err("rtc@a")).toContain('"a" is not a CPU');
    expect(err("split:stack=2,app=1")).toContain("use --layout stack=2");
  });
  test("every error says what a good spec looks like, except the unsupported-yet one which says the fix", () => {
    expect(err("nope")).toContain("split:stack=N");
  });
});
