import { describe, expect, test } from "bun:test";
import { ConfigError } from "../../../src/api/errors";
import { cpuFor, formatLayout, parseLayout } from "../../../src/api/layout";

function err(spec: string, cpus = 4): string {
  try {
    parseLayout(spec, cpus);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error(`${spec} was accepted`);
}

describe("thread layout: several stack threads (stack=N)", () => {
  test("stack=2 is two run-to-completion stack threads, unpinned", () => {
    expect(parseLayout("stack=2", 4)).toEqual({ mode: "multi", stack: { count: 2, cpus: null } });
  });
  test("stack=1 is accepted (one stack thread, the main thread)", () => {
    expect(parseLayout("stack=1", 4)).toEqual({ mode: "multi", stack: { count: 1, cpus: null } });
  });
  test("stack=N@CPUS pins stack thread i to the i-th CPU, cycling", () => {
    const l = parseLayout("stack=3@0-1", 4);
    if (l.mode !== "multi") throw new Error("mode");
    expect(l.stack.cpus).toEqual([0, 1]);
    expect([0, 1, 2].map((i) => cpuFor(l.stack, i))).toEqual([0, 1, 0]);
  });
  test("formatLayout round-trips", () => {
    for (const s of ["stack=2", "stack=2@0+1", "stack=4@1"]) expect(formatLayout(parseLayout(s, 4))).toBe(s);
  });
  test("bad multi specs are ConfigErrors", () => {
    expect(err("stack=0")).toContain("stack=0 is not a thread count");
    expect(err("stack=17")).toContain("at most 16 stack threads");
    expect(err("stack=2,app=1")).toContain("takes no other keys");
    expect(err("stack=2@5", 4)).toContain("CPU 5 does not exist");
  });
  test("split with more than one stack thread points at stack=N", () => {
    expect(err("split:stack=2,app=1")).toContain("--layout stack=2");
  });
});
