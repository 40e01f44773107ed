import { describe, expect, test } from "bun:test";
import { LOW_LATENCY_ENV, lowLatencyEnv, missingRuntimeEnv, runtimeEnvNote } from "../../../src/api/runtime-env";

describe("runtime-env", () => {
  test("adds every low-latency setting to the base environment", () => {
    const env = lowLatencyEnv({}, { PATH: "/bin" });
    expect(env["PATH"]).toBe("/bin");
    expect(env["MIMALLOC_PURGE_DELAY"]).toBe("-1");
    expect(env["BUN_JSC_decommitUnusedMarkedBlockPages"]).toBe("false");
    expect(env["BUN_GC_TIMER_DISABLE"]).toBe("1");
    expect(missingRuntimeEnv(env)).toEqual([]);
  });

  test("gcTimer and allocatorDefaults leave their settings out", () => {
    const noTimer = lowLatencyEnv({ gcTimer: true }, {});
    expect(noTimer["BUN_GC_TIMER_DISABLE"]).toBeUndefined();
    expect(noTimer["MIMALLOC_PURGE_DELAY"]).toBe("-1");
    const bunAlloc = lowLatencyEnv({ allocatorDefaults: true }, {});
    expect(bunAlloc["MIMALLOC_PURGE_DELAY"]).toBeUndefined();
    expect(bunAlloc["BUN_JSC_decommitUnusedMarkedBlockPages"]).toBeUndefined();
    expect(bunAlloc["BUN_GC_TIMER_DISABLE"]).toBe("1");
  });

  test("a value the user set wins", () => {
    const env = lowLatencyEnv({}, { MIMALLOC_PURGE_DELAY: "100" });
    expect(env["MIMALLOC_PURGE_DELAY"]).toBe("100");
  });

  test("the note names what is missing, and is null when nothing is", () => {
    expect(runtimeEnvNote("srv", { ...LOW_LATENCY_ENV })).toBeNull();
    const note = runtimeEnvNote("srv", { BUN_GC_TIMER_DISABLE: "1" });
    expect(note).toContain("srv: note:");
    expect(note).toContain("MIMALLOC_PURGE_DELAY=-1");
    expect(note).toContain("BUN_JSC_decommitUnusedMarkedBlockPages=false");
    expect(note).not.toContain("BUN_GC_TIMER_DISABLE");
  });

  const linux = process.platform === "linux";
  if (!linux) console.log("skipping the scavenger-thread test: /proc/self/task is Linux only");
  test.skipIf(!linux)("a child started with the settings has no mimalloc scavenger thread", async () => {
    // The child allocates and frees enough to need its allocator, then lists its threads.
    const script = `const a = []; for (let i = 0; i < 2000; i++) a.push(new Array(1000).fill(i)); a.length = 0; Bun.gc(true);
      await Bun.sleep(50);
      const fs = require("node:fs");
      console.log(fs.readdirSync("/proc/self/task").map((t) => fs.readFileSync("/proc/self/task/" + t + "/comm", "utf8").trim()).join(","));`;
    const run = async (env: Record<string, string>): Promise<string[]> => {
      const p = Bun.spawn([process.execPath, "-e", script], { env, stdout: "pipe", stderr: "pipe" });
      const out = await new Response(p.stdout).text();
      expect(await p.exited).toBe(0);
      return out.trim().split(",");
    };
    const tuned = await run(lowLatencyEnv());
    expect(tuned).not.toContain("mi-scavenger");
    const defaults = await run(lowLatencyEnv({ allocatorDefaults: true }, { PATH: process.env["PATH"] ?? "" }));
    // Bun's default allocator starts its scavenger once memory was freed; if a Bun
    // version stops doing so, the first assertion above no longer tells anything.
    expect(defaults).toContain("mi-scavenger");
  });
});
