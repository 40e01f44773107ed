/**
 * apps/iotep/epoll-server.ts: when the server's poll stage asks the poll loop
 * to end its step (PollLoop.yieldSoon) so Bun reads the Redis socket: after a
 * round that issued Redis calls, and (yieldForReplies, the default) after
 * every round while a request is in Redis. Fakes stand in for the stack, TCP
 * and the server logic: only the stage's decision is under test.
 */
import { describe, expect, test } from "bun:test";
import { EpollServer } from "../../../apps/iotep/epoll-server";
import type { IotepServer } from "../../../apps/iotep/server";
import type { TcpEpoll } from "../../../src/api/tcp-epoll";
import type { Stack } from "../../../src/api/stack";

interface FakeServer {
  storeCalls: number;
  requestsInFlight: number;
  pumpCalls: number;
  pump(): void;
}

function setup(): { h: EpollServer; server: FakeServer; yields: () => number } {
  let yields = 0;
  const server: FakeServer = {
    storeCalls: 0,
    requestsInFlight: 0,
    pumpCalls: 0,
    pump(): void {
      this.pumpCalls++;
    },
  };
  const ep = { listenerBase: 16, listen: () => 0, poll: { ctl: () => 0, wait: () => 0 } };
  const stack = {
    addAppStage: () => {},
    loop: {
      yieldSoon: () => {
        yields++;
      },
    },
  };
  const h = new EpollServer(server as unknown as IotepServer, ep as unknown as TcpEpoll, stack as unknown as Stack, 80);
  return { h, server, yields: () => yields };
}

describe("EpollServer's yields to Bun's event loop", () => {
  test("no Redis call and nothing in Redis: the step goes on", () => {
    const { h, yields } = setup();
    h.poll(0);
    h.poll(1);
    expect(yields()).toBe(0);
  });

  test("a round that issued a Redis call ends the step", () => {
    const { h, server, yields } = setup();
    server.pump = function (): void {
      this.storeCalls++;
    };
    h.poll(0);
    expect(yields()).toBe(1);
  });

  test("while a request is in Redis every round ends the step; with yieldForReplies off, it does not", () => {
    const { h, server, yields } = setup();
    server.requestsInFlight = 1;
    h.poll(0);
    h.poll(1);
    expect(yields()).toBe(2);
    h.yieldForReplies = false;
    h.poll(2);
    expect(yields()).toBe(2);
    h.yieldForReplies = true;
    server.requestsInFlight = 0;
    h.poll(3);
    expect(yields()).toBe(2);
  });
});
