/**
 * Property test over the whole receive path (Ethernet -> ARP/IPv4 -> ICMP/TCP)
 * of a full stack with a listener and two established connections, fed random
 * and mutated frames (see receive-path-frames.ts). Properties:
 *   - receive() never throws and the stacks reach quiescence (no hang);
 *   - every frame is accounted for exactly once at the network layer:
 *     rxFrames == sum of the drop* counters + ARP accepted + ICMP accepted + delivered to TCP,
 *     and TCP saw every delivered segment (segsIn);
 *   - the sentinel connection, hit only by what RFC 5961 says must not disturb
 *     it, and a fresh connection both still echo 64 KiB intact afterwards; the
 *     victim connection ends in a valid state or closed with a reason.
 * Seed: FUZZ_SEED=n to replay a run; FUZZ_FRAMES=n to change the count.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { TcpState } from "../../src/tcp/state";
import { ConnHarness } from "./receive-path-harness";

const FRAMES = Number(process.env.FUZZ_FRAMES ?? 120_000);
// A fixed seed keeps the suite deterministic; bench/fuzz.ts explores new seeds.
const SEED = Number(process.env.FUZZ_SEED ?? 411046);

describe("receive path under hostile frames", () => {
  test(`${FRAMES} random and mutated frames: no throw, every frame counted, connections survive (seed ${SEED})`, () => {
    console.log(`receive-path fuzz: seed ${SEED} (replay with FUZZ_SEED=${SEED})`);
    const h = new ConnHarness(SEED);
    h.setUp();
    const before = h.accountingBefore();
    const batchSize = 32;
    const runs = Math.ceil(FRAMES / batchSize);
    let sent = 0;
    const out = fc.check(
      fc.property(fc.array(h.arb, { minLength: batchSize, maxLength: batchSize }), (specs) => {
        sent += h.inject(specs);
        h.checkAccounting(before);
      }),
      { numRuns: runs, seed: SEED, endOnFailure: true },
    );
    if (out.failed) {
      // Report the first failing batch briefly and rethrow the stack's own error.
      const bad = out.counterexample?.[0] ?? [];
      console.log(`failing batch (run ${out.numRuns}):`, JSON.stringify(bad).slice(0, 4000));
      throw out.errorInstance;
    }
    expect(sent).toBeGreaterThanOrEqual(FRAMES - batchSize);
    const acc = h.checkAccounting(before);
    console.log(`receive-path fuzz: ${sent} frames; accepted arp ${acc.arp} icmp ${acc.icmp}, to TCP ${acc.tcp}, dropped ${acc.drops}`);
    console.log("  drops by reason:", JSON.stringify(h.dropsByReason(before)));
    console.log("  tcp:", JSON.stringify(h.tcpSummary()));
    // The attack reached deep: TCP saw segments and acted on them by reason.
    const t = h.p.sb.tcp.counters;
    expect(acc.tcp).toBeGreaterThan(sent / 4);
    expect(t.challengeAcks + t.challengeAcksLimited).toBeGreaterThan(0);
    expect(t.outOfWindow).toBeGreaterThan(0);
    expect(t.badChecksum).toBeGreaterThan(0);
    expect(t.noListener).toBeGreaterThan(0);
    // Let every timer run out (retransmissions, SYN-RECEIVED, challenge windows).
    h.p.run(h.p.clock.nowUs + 3_000_000);
    h.checkAccounting(before);
    // The sentinel still carries data both ways intact.
    expect(h.sentinelState()).toBe(TcpState.Established);
    expect(h.echo(h.sentinel, 65536, 11)).toBe(true);
    // The victim is either still usable or closed with a reason; if open it echoes too.
    const vs = h.victimState();
    expect([TcpState.Established, TcpState.CloseWait, TcpState.Closed, TcpState.FinWait1, TcpState.FinWait2, TcpState.TimeWait, TcpState.Closing, TcpState.LastAck]).toContain(vs);
    // A fresh connection works.
    const fresh = h.connect();
    expect(fresh).not.toBeNull();
    expect(h.echo(fresh!, 65536, 12)).toBe(true);
    h.checkAccounting(before);
  }, 120_000);

  test("a batch of frames each cut at every length never throws and is counted", () => {
    const h = new ConnHarness(7);
    h.setUp();
    const before = h.accountingBefore();
    const samples = fc.sample(h.arb, { numRuns: 200, seed: 7 });
    const frame = new Uint8Array(1600);
    const dv = new DataView(frame.buffer);
    let n = 0;
    for (const s of samples) {
      const len = h.encode(s, frame, dv, n);
      for (let cut = 0; cut <= len; cut += 1 + (cut >> 4)) {
        h.injectBytes(frame, cut);
        n++;
      }
    }
    h.p.settle();
    const acc = h.checkAccounting(before);
    expect(acc.frames).toBe(n + acc.legit);
    expect(h.p.b.netif.counters.dropRuntFrame).toBeGreaterThan(0);
    expect(h.p.b.netif.counters.dropIpv4Truncated + h.p.b.netif.counters.dropIpv4BadTotalLength).toBeGreaterThan(0);
    expect(h.echo(h.sentinel, 4096, 3)).toBe(true);
  });
});
