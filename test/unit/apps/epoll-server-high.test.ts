/**
 * apps/iotep/epoll-server.ts: the high-priority pass (pollHigh) takes class-0
 * events only and pumps the server when it found any; a reply written from a
 * Redis callback asks the stack to transmit at once (Stack.transmitSoon).
 * Fakes stand in for the stack, TCP and the server logic.
 */
import { describe, expect, test } from "bun:test";
import { EpollServer } from "../../../apps/iotep/epoll-server";
import type { IotepServer } from "../../../apps/iotep/server";
import type { TcpEpoll } from "../../../src/api/tcp-epoll";
import type { Stack } from "../../../src/api/stack";
import type { WaitOptions } from "../../../src/sched/event-poll";

function setup(events: number[][]) {
  const waits: (WaitOptions | undefined)[] = [];
  let pumps = 0;
  let transmits = 0;
  const server = { storeCalls: 0, requestsInFlight: 0, pump: () => void pumps++, open: () => {} };
  const ep = {
    listenerBase: 16,
    listen: () => 0,
    accept: () => -1,
    tcp: { recv: () => -11, send: (_c: number, _b: Uint8Array, _o: number, len: number) => len, setNoDelay: () => {} },
    poll: {
      ctl: () => 0,
      wait: (out: Int32Array, _max: number, opts?: WaitOptions) => {
        waits.push(opts);
        const e = events.shift() ?? [];
        for (let i = 0; i < e.length; i++) out[i] = e[i]!;
        return e.length / 2;
      },
    },
  };
  const stack = { addAppStage: () => {}, transmitSoon: () => void transmits++, loop: { yieldSoon: () => {}, wake: () => {} } };
  const h = new EpollServer(server as unknown as IotepServer, ep as unknown as TcpEpoll, stack as unknown as Stack, 80);
  return { h, waits, pumps: () => pumps, transmits: () => transmits };
}

describe("EpollServer's high-priority pass", () => {
  test("asks wait for class-0 events only, and pumps only when it found some", () => {
    const idle = setup([]);
    expect(idle.h.pollHigh(0)).toBe(0);
    expect(idle.waits).toEqual([{ lowBatch: 0 }]);
    expect(idle.pumps()).toBe(0);

    // One event (a listener's: nothing to accept), then none.
    const busy = setup([[16, 1]]);
    expect(busy.h.pollHigh(0)).toBe(1);
    expect(busy.waits.length).toBe(2);
    expect(busy.waits.every((w) => w?.lowBatch === 0)).toBe(true);
    expect(busy.pumps()).toBe(1);
  });

  test("a reply to an open connection asks for a transmit now; to a closed one, not", () => {
    const s = setup([]);
    const h = s.h as unknown as { open: Uint8Array; reply(c: number, b: Uint8Array, n: number): boolean };
    expect(h.reply(3, new Uint8Array(146), 146)).toBe(false);
    expect(s.transmits()).toBe(0);
    h.open[3] = 1;
    expect(h.reply(3, new Uint8Array(146), 146)).toBe(true);
    expect(h.reply(3, new Uint8Array(146), 146)).toBe(true);
    expect(s.transmits()).toBe(2);
  });
});
