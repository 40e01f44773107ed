/**
 * Receive-side priority: with a classifier, frames of the high class in a burst
 * are processed (and their data delivered) before earlier low-class frames.
 */
import { describe, expect, test } from "bun:test";
import { classifierFromSpec } from "../../src/api/classifier-spec";
import { ConfigError } from "../../src/api/errors";
import type { TcpSocket } from "../../src/api/tcp-sockets";
import { StackPair } from "../helpers/stack-pair";

function setup(withClassifier: boolean) {
  const p = new StackPair({ faults: { delayUs: 100 } });
  if (withClassifier) p.b.setClassifier(classifierFromSpec("port:80"));
  const order: number[] = [];
  for (const port of [80, 81]) {
    p.sb.listen({ port, socket: { data: () => void order.push(port) } });
  }
  const socks: Record<number, TcpSocket<undefined>> = {};
  for (const port of [80, 81]) {
    void p.sa.connect({ hostname: "10.0.0.2", port, noDelay: true, socket: { open: (s) => void (socks[port] = s) } });
  }
  p.run(p.clock.nowUs + 50_000, () => socks[80] !== undefined && socks[81] !== undefined);
  p.run(p.clock.nowUs + 50_000);
  return { p, order, socks };
}

describe("receive priority (classifier after the rx burst)", () => {
  test("high-class data sent after low-class data in the same burst is delivered first", () => {
    const { p, order, socks } = setup(true);
    // Low first, then high: both frames leave A in one tx burst and reach B in one rx burst.
    socks[81]!.write("low");
    socks[80]!.write("high");
    p.run(p.clock.nowUs + 10_000, () => order.length === 2);
    expect(order).toEqual([80, 81]);
  });

  test("without a classifier the same burst is processed in arrival order", () => {
    const { p, order, socks } = setup(false);
    socks[81]!.write("low");
    socks[80]!.write("high");
    p.run(p.clock.nowUs + 10_000, () => order.length === 2);
    expect(order).toEqual([81, 80]);
  });

  test("bad --classify specs are configuration errors", () => {
    expect(() => classifierFromSpec("nope")).toThrow(ConfigError);
    expect(() => classifierFromSpec("port:70000")).toThrow(/bad port/);
    expect(() => classifierFromSpec("byte:5")).toThrow(/byte:OFFSET=VALUE/);
    expect(classifierFromSpec("byte:5=0x01").classes).toBe(2);
  });
});
