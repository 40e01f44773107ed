/**
 * Land attack (issue 7): a SYN whose source is the stack's own address and port.
 * A datagram from the wire claiming one of our own addresses as its source is a
 * martian (RFC 1812 5.3.7; Linux drops it in fib_validate_source): it is dropped as
 * dropIpv4BadSource before TCP sees it, and nothing is sent in reply.
 */
import { describe, expect, test } from "bun:test";
import { SeqMode, AckMode, Target, type FrameSpec } from "../fuzz/receive-path-frames";
import { ConnHarness, ECHO_PORT } from "../fuzz/receive-path-harness";
import { IP_B } from "../helpers/stack-pair";

function landSyn(): FrameSpec {
  return {
    kind: "tcp",
    tcp: {
      target: Target.Listener, flags: 0x02, seqMode: SeqMode.Random, seqDelta: 1000, ackMode: AckMode.AtSndUna, ackDelta: 0,
      window: 65535, opts: [], tsDelta: null, payloadLen: 0, srcPort: ECHO_PORT, srcIpLow: IP_B & 0xff,
    },
    damage: { truncateTo: null, ipTotalLen: null, verIhl: null, tcpDataOff: null, flips: [], trailer: 0, checksums: "valid", ipQuirk: 0 },
  } as FrameSpec;
}

describe("land attack", () => {
  test("a SYN from our own address and port to it is dropped as a bad source; no SYN-ACK, no connection", () => {
    const h = new ConnHarness(1);
    h.setUp();
    const base = h.accountingBefore();
    const net = h.p.b.netif.counters;
    const tcp = h.p.sb.tcp.counters;
    const tx0 = net.txFrames;
    const opens0 = tcp.passiveOpens;
    const segs0 = tcp.segsIn;
    expect(h.inject([landSyn(), landSyn(), landSyn()])).toBe(3);
    expect(net.dropIpv4BadSource - (base.net.dropIpv4BadSource ?? 0)).toBe(3);
    expect(tcp.segsIn).toBe(segs0);
    expect(tcp.passiveOpens).toBe(opens0);
    expect(net.txFrames).toBe(tx0);
    h.checkAccounting(base);
  });
});
