import { heapStats } from "bun:jsc";
import { describe, expect, test } from "bun:test";
import { createCongestionControl } from "../../../src/tcp/congestion";
import { IsnGenerator } from "../../../src/tcp/isn";
import { EphemeralPorts } from "../../../src/tcp/ports";
import { RttEstimator } from "../../../src/tcp/rtt";
import { SackScoreboard } from "../../../src/tcp/sack-scoreboard";
import { SynCookieRepr, decodeCookie, encodeCookie } from "../../../src/tcp/syn-cookie";

// STYLE.md allocation guard: run the per-ACK (and per-SYN) paths many times after a
// full GC and check the heap object count stays flat.
describe("no allocation on per-ACK and per-SYN paths", () => {
  test("RTT, CUBIC, NewReno, SACK scoreboard, ISN, SYN cookies, ports", () => {
    const N = 64;
    const rtt = new RttEstimator(N);
    const cubic = createCongestionControl("cubic", N);
    const reno = createCongestionControl("newreno", N);
    const sb = new SackScoreboard(N);
    const isn = new IsnGenerator(new Uint32Array([1, 2, 3, 4]));
    const ports = new EphemeralPorts({ secret: new Uint32Array([5, 6, 7, 8]) });
    const portTable = {
      taken(_l: number, port: number, _r: number, _rp: number): boolean {
        return (port & 3) === 0;
      },
    };
    const secret = new Uint32Array([9, 10, 11, 12]);
    const repr = new SynCookieRepr();
    const lefts = new Int32Array(4);
    const rights = new Int32Array(4);
    const out = new Int32Array(3);
    for (let id = 0; id < N; id++) {
      cubic.init(id, 1460, 0);
      reno.init(id, 1460, 0);
      rtt.reset(id);
    }
    let now = 0;
    let sink = 0;
    const round = () => {
      for (let i = 0; i < 2000; i++) {
        const id = i & (N - 1);
        now += 100;
        rtt.sample(id, 20_000 + (i & 1023));
        sink += rtt.rtoUs(id);
        cubic.onAck(id, 1460, cubic.cwnd(id) - 1460, now, rtt.srttUs(id));
        reno.onAck(id, 1460, reno.cwnd(id) - 1460, now, -1);
        if ((i & 255) === 0) {
          cubic.enterRecovery(id, cubic.cwnd(id), now);
          cubic.onPartialAck(id, 1460);
          cubic.exitRecovery(id, now);
          reno.onRto(id, reno.cwnd(id), now);
        }
        const una = (i * 7919) | 0;
        lefts[0] = (una + 2920) | 0;
        rights[0] = (una + 4380) | 0;
        lefts[1] = (una + 5840) | 0;
        rights[1] = (una + 8760) | 0;
        sb.update(id, una, lefts, rights, 2, (una + 14600) | 0);
        sink += sb.pipe(id, una, (una + 14600) | 0, 1460, una);
        if (sb.nextSeg(id, una, (una + 14600) | 0, una, 1460, out)) sink += out[1]!;
        if (sb.isLost(id, una, 1460)) sink++;
        if ((i & 15) === 0) {
          sink += isn.isn(0x0a000001, 80, 0x0a000002, 40000 + i, now);
          encodeCookie(repr, secret, 0x0a000001, 80, 0x0a000002, 40000, i, now, 1460, 7, true, true);
          if (decodeCookie(secret, 0x0a000001, 80, 0x0a000002, 40000, i, (repr.isn + 1) | 0, repr.tsVal, now, repr)) sink++;
          sink += ports.pick(0x0a000001, 0x0a000002, 80 + (i & 7), portTable);
        }
      }
    };
    round(); // warm up (JIT)
    round();
    Bun.gc(true);
    const before = heapStats().objectCount;
    for (let k = 0; k < 50; k++) round();
    Bun.gc(true);
    const after = heapStats().objectCount;
    console.log(`tcp-algos allocation guard: heap objects ${before} -> ${after} over 100,000 ACKs (sink ${sink % 1000})`);
    expect(after - before).toBeLessThan(50);
  });
});
