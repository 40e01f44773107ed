/**
 * mcc --smp N on our stack without DPDK:
 *  - netsim: IdClient on a full stack (TcpLayer over a PairDevice, virtual
 *    time) behind the LaneRouter, three generator shards on lanes (driven in
 *    this thread), against iotepserver's logic on the other stack: every
 *    connection opens on its own shard, every request is answered on the
 *    shard that sent it, the shards' counts add up to the run's schedule;
 *  - real Workers (GenThreads, smp-worker.ts) against a stand-in stack that
 *    answers every request, driven by a real PollLoop woken by the lanes:
 *    both threads send their share, the merged counters are the sums of the
 *    threads' and the merged histogram holds every reply.
 */
import { describe, expect, test } from "bun:test";
import { Generator, type GenEvents } from "../../apps/iotep/generator";
import { IdClient } from "../../apps/iotep/id-client";
import { classifyMessage, MSG_REQUEST, REPLY_LEN, writeReply } from "../../apps/iotep/protocol";
import { createThreadLanes, EventPump, LaneTransport } from "../../apps/iotep/smp-lanes";
import { LaneRouter } from "../../apps/iotep/smp-router";
import { GenThreads, mergeThreads } from "../../apps/iotep/smp-threads";
import { PollLoop } from "../../src/sched/poll-loop";
import { iotepIdPair } from "../helpers/iotep-id-pair";

describe("mcc --smp on our stack", () => {
  test("netsim, 3 shards behind the router: each connection on its own shard, every request answered on the shard that sent it", () => {
    const conns = 301;
    const n = 3;
    const { p, clock, server, client } = iotepIdPair(conns);

    const lanes = Array.from({ length: n }, () => createThreadLanes(4096, 1 << 18));
    const router = new LaneRouter(client, lanes, () => {});
    client.bind(router);
    // Each shard's generator sees only its own connections: a wrong route shows up as a bad reply or a stuck connection.
    const owner = new Int32Array(conns).fill(-1);
    const gens = lanes.map((l, k) => {
      const t = new LaneTransport(l.commands);
      const g = new Generator({ conns, setupS: 0.5, waitS: 0.2, epochS: 1, msgLen: 200, ratio: 0.3, durationS: 2, drainS: 1, shard: { index: k, count: n } }, t);
      const events: GenEvents = {
        opened: (i) => ((owner[i] = k), g.opened(i)),
        connectFailed: (i) => g.connectFailed(i),
        closed: (i) => g.closed(i),
        data: (i, b, o, len, now) => {
          if (owner[i] !== k) owner[i] = -2;
          g.data(i, b, o, len, now);
        },
      };
      return { g, t, pump: new EventPump(l.events), events, nextAt: 0 };
    });
    for (const a of gens) {
      a.g.start(clock());
      a.nextAt = clock();
    }
    // The app threads, run in this thread: pump events, tick when due, publish commands.
    p.a.addAppStage({
      poll(now) {
        let work = 0;
        for (const a of gens) {
          work += a.pump.pump(a.events, now);
          if (now >= a.nextAt) {
            a.nextAt = a.g.tick(now);
            work++;
          }
          a.t.flush();
        }
        return work;
      },
      pollAt: () => Math.min(...gens.map((a) => a.nextAt)),
    });
    p.a.addAppStage(router);
    p.run(p.clock.nowUs + 10_000_000, () => gens.every((a) => a.g.phase === "done"));

    for (let k = 0; k < n; k++) {
      const { g } = gens[k]!;
      const ct = g.counters;
      expect(g.phase).toBe("done");
      expect(ct.connected).toBe(g.shardConns);
      expect(ct.sentRequests).toBeGreaterThan(0);
      expect(ct.replies).toBe(ct.sentRequests);
      expect(ct.unanswered + ct.badReplies + ct.skipped).toBe(0);
    }
    for (let i = 0; i < conns; i++) expect(owner[i]).toBe(i % n);
    const sum = (f: (g: Generator) => number): number => gens.reduce((s, a) => s + f(a.g), 0);
    expect(sum((g) => g.counters.connected)).toBe(conns);
    // 2 s at c / e = 301 messages/s, all shards together: the global schedule is split, not repeated.
    expect(sum((g) => g.counters.sent)).toBe(602);
    expect(server.counters.requests).toBe(sum((g) => g.counters.sentRequests));
    expect(server.counters.heartbeats).toBe(sum((g) => g.counters.sentHeartbeats));
    expect(router.counts.reduce((s, c) => s + c.sendRefused + c.overflowed, 0)).toBe(0);
  });

  test("two real app threads (Workers) against a stand-in stack: both send their share, merged counts are the sums", async () => {
    const conns = 200;
    const threads = await GenThreads.start({
      count: 2,
      gen: { conns, setupS: 0.2, waitS: 0.1, epochS: 0.5, msgLen: 200, ratio: 0.5, durationS: 1, drainS: 0.5, seed: 3 },
    });
    // The stand-in for IdClient: every connect succeeds, every request gets a reply in the next round.
    const reply = new Uint8Array(REPLY_LEN);
    writeReply(reply, Date.now());
    const due: number[] = [];
    let sink: GenEvents | null = null;
    let sends = 0;
    const client = {
      bind(g: GenEvents) {
        sink = g;
      },
      connect(i: number) {
        sink!.opened(i);
      },
      send(i: number, buf: Uint8Array, _len: number) {
        sends++;
        if (classifyMessage(buf, 0) === MSG_REQUEST) due.push(i);
        return true;
      },
      close() {},
      poll() {
        const q = due.splice(0);
        for (const i of q) sink!.data(i, reply, 0, REPLY_LEN, 0);
        return q.length;
      },
    };
    const loop = new PollLoop({ idleSpinUs: 0 });
    const router = new LaneRouter(client as unknown as IdClient, threads.lanes, () => loop.wake());
    client.bind(router);
    loop.add(router);
    threads.go();
    const running = loop.run();
    let reports;
    try {
      reports = await threads.finished();
    } finally {
      await loop.stop();
      await running;
      threads.terminate();
    }
    const m = mergeThreads(reports);
    expect(reports.map((r) => r.index).sort()).toEqual([0, 1]);
    for (const r of reports) {
      expect(r.counters.connected).toBe(conns / 2);
      // 400 messages/s for 1 s: each thread sends its half (every connection is open by then).
      expect(r.counters.sent).toBe(200);
      expect(r.counters.replies).toBe(r.counters.sentRequests);
      expect(r.counters.unanswered).toBe(0);
    }
    expect(m.counters.sent).toBe(reports[0]!.counters.sent! + reports[1]!.counters.sent!);
    expect(m.counters.sent).toBe(sends);
    expect(m.counters.replies).toBe(reports[0]!.counters.replies! + reports[1]!.counters.replies!);
    expect(m.rttHigh.totalCount).toBe(m.counters.replies);
    expect(router.counts.every((c) => c.commands > 0 && c.overflowed === 0)).toBe(true);
  }, 20_000);
});
