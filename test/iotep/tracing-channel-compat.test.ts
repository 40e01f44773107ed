/**
 * The TracingChannel hasSubscribers getter (apps/iotep/tracing-channel-compat.ts):
 * ioredis builds a command's trace context only when someone listens.
 */
import { describe, expect, test } from "bun:test";
import dc from "node:diagnostics_channel";
import { installTracingChannelHasSubscribers } from "../../apps/iotep/tracing-channel-compat";
// ioredis' own tracing helpers, as its sendCommand calls them.
import { traceCommand, type CommandTraceContext } from "ioredis/built/tracing";

describe("TracingChannel hasSubscribers", () => {
  test("installed once: a second install finds the getter", () => {
    expect(installTracingChannelHasSubscribers()).toBe(false);
    expect(typeof dc.tracingChannel("qstack:test").hasSubscribers).toBe("boolean");
  });

  test("false with no subscriber, true while any of the five channels has one", () => {
    const t = dc.tracingChannel("qstack:test-subs");
    expect(t.hasSubscribers).toBe(false);
    for (const k of ["start", "end", "asyncStart", "asyncEnd", "error"] as const) {
      const f = (): void => {};
      t[k].subscribe(f);
      expect(t.hasSubscribers).toBe(true);
      t[k].unsubscribe(f);
      expect(t.hasSubscribers).toBe(false);
    }
  });

  test("ioredis builds no trace context without a subscriber, and still traces for one", async () => {
    let contexts = 0;
    const factory = (): CommandTraceContext => {
      contexts++;
      return { command: "evalsha", args: [], database: 0, serverAddress: "test", serverPort: undefined };
    };
    const p = Promise.resolve(7);
    // No subscriber: the command's own promise, no context.
    expect(traceCommand(() => p, factory)).toBe(p);
    expect(contexts).toBe(0);
    const seen: unknown[] = [];
    const onStart = (m: unknown): void => void seen.push(m);
    dc.subscribe("tracing:ioredis:command:start", onStart);
    try {
      expect(await traceCommand(() => p, factory)).toBe(7);
      expect(contexts).toBe(1);
      expect(seen.length).toBe(1);
    } finally {
      dc.unsubscribe("tracing:ioredis:command:start", onStart);
    }
  });
});
