/**
 * The id-based transports of iotepserver (EpollServer on TcpEpoll) and mcc
 * (IdClient on TcpLayer) over two full stacks in virtual time: every
 * connection opens, every request is answered, the server's counts match the
 * generator's, and at the end both sides close every connection cleanly.
 * Redis is a store that answers in the next poll round (no server needed).
 */
import { describe, expect, test } from "bun:test";
import { EpollServer } from "../../apps/iotep/epoll-server";
import { Generator } from "../../apps/iotep/generator";
import { IotepServer } from "../../apps/iotep/server";
import { MessageBuilder } from "../../apps/iotep/protocol";
import type { IotepStore, MessageCallback } from "../../apps/iotep/store";
import { classifierFromSpec } from "../../src/api/classifier-spec";
import { TcpState } from "../../src/tcp/state";
import { StackPair } from "../helpers/stack-pair";
import { iotepIdPair } from "../helpers/iotep-id-pair";

describe("iotep id transports (TcpEpoll server, TcpLayer-by-id generator)", () => {
  test("300 connections: all open, every request answered, counts agree, clean close", () => {
    const conns = 300;
    const { p, clock, server, served, client, tcp } = iotepIdPair(conns);
    p.a.addAppStage(client);
    const gen = new Generator({ conns, setupS: 0.5, waitS: 0.2, epochS: 1, msgLen: 200, ratio: 0.3, durationS: 2, drainS: 1 }, client);
    client.bind(gen);
    let nextAt = clock();
    gen.start(clock());
    p.a.addAppStage({
      poll(now) {
        if (now < nextAt) return 0;
        nextAt = gen.tick(now);
        return 1;
      },
      pollAt: () => nextAt,
    });
    p.run(p.clock.nowUs + 10_000_000, () => gen.phase === "done");
    const ct = gen.counters;
    expect(gen.phase).toBe("done");
    expect(ct.connected).toBe(conns);
    expect(ct.sent).toBeGreaterThan(conns);
    expect(ct.sentRequests).toBeGreaterThan(0);
    expect(ct.replies).toBe(ct.sentRequests);
    expect(ct.unanswered).toBe(0);
    expect(ct.badReplies).toBe(0);
    expect(server.counters.requests).toBe(ct.sentRequests);
    expect(server.counters.heartbeats).toBe(ct.sentHeartbeats);
    expect(server.counters.replies).toBe(ct.sentRequests);
    // The generator closed everything at the end; the server sees the FINs and closes too.
    // The generator closed first, so its side ends in TIME-WAIT (RFC 9293 3.6).
    const notTimeWait = (): number => {
      let n = 0;
      for (let c = 0; c < tcp.cfg.maxConnections; c++) if (tcp.conns.isUsed(c) && tcp.state(c) !== TcpState.TimeWait) n++;
      return n;
    };
    p.run(p.clock.nowUs + 5_000_000, () => served.openConnections === 0 && notTimeWait() === 0 && p.eb!.tcp.connectionsInUse() === 0);
    expect(served.openConnections).toBe(0);
    expect(server.counters.connections).toBe(0);
    expect(notTimeWait()).toBe(0);
    expect(p.eb!.tcp.connectionsInUse()).toBe(0);
  });

  test("--redis-wait awake: the poll loop is kept awake while a request is in Redis (pollAt now), never for heartbeats alone", () => {
    const p = new StackPair({ bApi: "epoll", classifyB: classifierFromSpec("iotep"), tcp: { maxConnections: 64 } });
    const pending: MessageCallback[] = [];
    const store: IotepStore = {
      connected: true,
      connectionErrors: 0,
      get: () => undefined,
      set: () => undefined,
      message: (_key: number, _first: Buffer, cb: MessageCallback) => void pending.push(cb),
      waitReady: () => Promise.resolve(true),
      close: async () => undefined,
      describe: () => "held",
    };
    const server = new IotepServer({ msgLen: 200, store, clockUs: () => p.clock.nowUs });
    const served = new EpollServer(server, p.eb!, p.b, 80);
    server.sink = served;
    // Off by default (iotepserver --redis-wait sleep).
    expect(served.awakeForRequests).toBe(false);
    served.awakeForRequests = true;
    const mb = new MessageBuilder(200);
    server.open(1);
    server.open(2);
    expect(served.pollAt()).toBe(Number.POSITIVE_INFINITY);
    server.data(2, mb.heartbeat(2), 0, 200);
    expect(pending.length).toBe(1);
    expect(server.requestsInFlight).toBe(0);
    expect(served.pollAt()).toBe(Number.POSITIVE_INFINITY);
    server.data(1, mb.request(1), 0, 200);
    expect(pending.length).toBe(2);
    expect(server.requestsInFlight).toBe(1);
    expect(served.pollAt()).toBe(0);
    // --redis-wait sleep: the loop may sleep.
    served.awakeForRequests = false;
    expect(served.pollAt()).toBe(Number.POSITIVE_INFINITY);
    served.awakeForRequests = true;
    // The request's reply came back: nothing keeps the loop awake any more (the heartbeat is still out).
    pending[1]!(null, 0);
    expect(server.requestsInFlight).toBe(0);
    expect(served.pollAt()).toBe(Number.POSITIVE_INFINITY);
    pending[0]!(null, 0);
    expect(server.isIdle()).toBe(true);
  });
});
