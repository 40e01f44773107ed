/**
 * SYN flood with no kernel on the path (issue 7), short version of `bun run bench synflood`
 * (its default, --flood-source memif): the echo app on net_memif with SYN shedding, and a second
 * process on our stack over the same link holding 300 connections that echo 16 bytes 5 times a
 * second, which floods bare SYNs from random sources (as many as the ring takes, in its lowest
 * transmit class) for a few seconds and opens two new connections during it (from a never-seen
 * address and from a known one). Asserts the functional parts: the flood reached the stack, SYNs
 * were shed and counted, SYN cookies engaged, every held connection kept answering without errors,
 * both new connections succeeded, and the stack exits
 * cleanly with every received frame counted once. The p99 ratio is printed, not asserted:
 * bench/synflood.ts measures it.
 */
import { describe, expect, test } from "bun:test";
import { runSynfloodMemif, synfloodMemifSkipReason } from "./helpers/synflood-memif";

const skip = synfloodMemifSkipReason();
if (skip) console.log(`skip dpdk/synflood-memif: ${skip}`);

describe.skipIf(skip !== null)("SYN flood against the echo app (net_memif, flood from our own stack)", () => {
  test("cookies engage, held connections all answer, new connections from a fresh and a known source succeed", async () => {
    const conns = 300;
    const hz = 5;
    // The new connections open a quarter into the flood and have until 0.1 s before its end: 3.65 s,
    // past the first SYN retransmission (1 s, RFC 6298 (2.1)) with room for the second (3 s).
    const floodS = 5;
    const baseS = 2;
    const r = await runSynfloodMemif({
      conns, hz, warmS: 1, baseS, floodS, floodRate: 0, net: 195,
      appArgs: ["--syn-budget", "4", "--syn-rate", "5000"], log: console.log,
    });
    const [base, flood] = r.peer.phases;
    console.log(`synflood-memif: target rx during flood ${r.rxFramesFlood}; shed ${r.synShedFlood}; cookies sent ${r.synCookiesSent}, accepted ${r.synCookiesAccepted}; flood ${JSON.stringify(r.peer.flood)}`);
    console.log(`synflood-memif: cpu ${JSON.stringify(r.cpu)}`);
    console.log(`synflood-memif: base ${JSON.stringify(base)}\nsynflood-memif: flood ${JSON.stringify(flood)}\nsynflood-memif: p99 ratio ${(flood!.p99Us / base!.p99Us).toFixed(2)}; new connection (fresh source) ${JSON.stringify(r.peer.newConn)}, (known source) ${JSON.stringify(r.peer.newConnKnown)}; admitted past the bounds: known ${r.synKnownFlood}, retry ${r.synRetryFlood}`);
    expect(r.peer.connected).toBe(conns);
    expect(r.peer.errors).toBe(0);
    // The flood reached the stack: far more frames than the held connections' own.
    expect(flood!.floodFrames).toBeGreaterThan(50_000);
    expect(r.rxFramesFlood).toBeGreaterThan(50_000);
    expect(r.synShedFlood).toBeGreaterThan(10_000);
    expect(r.stats!.net.dropSynShed).toBeGreaterThanOrEqual(r.synShedFlood);
    // Cookies engaged, at most at the admission rate (5,000/s plus the bucket's depth).
    expect(r.synCookiesSent).toBeGreaterThan(1000);
    expect(r.synCookiesSent).toBeLessThanOrEqual(5000 * (floodS + 1) + 100);
    // The new connection from a never-seen address got through (a cookie: the SYN queue was full of flood):
    // its first SYN is shed (or admitted, when it finds a token) and remembered in the shed-SYN filter for
    // at least 3.3 s (src/sched/syn-retry-filter.ts), so its retransmission 1 s later is admitted.
    expect(r.peer.newConn?.ok).toBe(true);
    expect(r.peer.newConn!.ms).toBeLessThan(3500);
    expect(r.synCookiesAccepted).toBeGreaterThanOrEqual(1);
    // The new connection from the held connections' address (a known source) gets in on its first SYN
    // (no 1 s retransmission): past the bounds as known (syn-admission.ts), or within them when the
    // bucket had a token; so the "admitted as known" counter may stay 0 here (seen once in CI), and the
    // known-source rule itself is unit-tested (test/unit/sched/syn-admission.test.ts, syn-flood-stack).
    expect(r.peer.newConnKnown?.ok).toBe(true);
    expect(r.peer.newConnKnown!.ms).toBeLessThan(1000);
    // Every held connection kept answering through the flood (one message per 1/hz s each).
    expect(flood!.answered).toBe(conns);
    expect(base!.answered).toBe(conns);
    expect(flood!.messages).toBeGreaterThan(0.9 * conns * hz * floodS);
    expect(base!.messages).toBeGreaterThan(0.9 * conns * hz * baseS);
    expect(r.appExit).toBe(0);
    expect(r.stats).not.toBeNull();
    const net = r.stats!.net;
    let drops = 0;
    for (const [k, v] of Object.entries(net)) if (k.startsWith("drop")) drops += v;
    expect(net.rxFrames).toBe(drops + net.arpAccepted! + net.icmpAccepted! + net.tcpDelivered!);
  }, 60_000);
});
