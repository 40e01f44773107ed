/**
 * The wire monitor's live mode: LiveWireTap fed by hand (rx bursts at the
 * round's time, tx bursts of which the device takes a prefix at a time), and
 * on two stacks in virtual time with the tap installed on the server's
 * interface (NetInterface.setBurstTap), where the paired latency must be the
 * app's reply delay as seen at the server's bursts. The live and pcap views of
 * one real run are compared in stack-e2e.test.ts.
 */
import { describe, expect, test } from "bun:test";
import { writeEthernetHeader, ETHERTYPE_IPV4 } from "../../src/wire/ethernet";
import { writeIpv4Header } from "../../src/wire/ipv4";
import { TCP_ACK, TCP_PSH, writeTcpHeader } from "../../src/wire/tcp";
import { PacketBatch } from "../../src/net/packet-batch";
import { MessageBuilder, REPLY_LEN, writeReply } from "../../apps/iotep/protocol";
import { LiveWireTap } from "../../apps/iotep/wire-live";
import type { TcpSocket } from "../../src/api/tcp-sockets";
import { StackPair } from "../helpers/stack-pair";

const SERVER = 0x0a000001;
const CLIENT = 0x0a000002;
const MAC = new Uint8Array([2, 0, 0, 0, 0, 1]);
const mem = new Uint8Array(8192);
const dv = new DataView(mem.buffer);
const mb = new MessageBuilder(200);
const reply = new Uint8Array(REPLY_LEN);
writeReply(reply, 0);

/** A TCP frame at mem[at..); returns its length. */
function frame(at: number, toServer: boolean, cport: number, seq: number, ack: number, payload: Uint8Array): number {
  let p = at + writeEthernetHeader(mem, dv, at, MAC, MAC, ETHERTYPE_IPV4);
  p += writeIpv4Header(dv, p, 0, 40 + payload.length, 1, true, 64, 6, toServer ? CLIENT : SERVER, toServer ? SERVER : CLIENT);
  writeTcpHeader(dv, p, toServer ? cport : 80, toServer ? 80 : cport, seq, ack, 20, TCP_ACK | TCP_PSH, 65535);
  mem.set(payload, p + 20);
  return p + 20 + payload.length - at;
}

describe("LiveWireTap", () => {
  test("rx at the round's time; tx at the clock after the burst, only the frames the device took", () => {
    let clock = 0;
    const tap = new LiveWireTap({ serverPort: 80, msgLen: 200 }, mem, dv, () => clock);
    const rx = new PacketBatch(4);
    rx.push(0, 0, frame(0, true, 40001, 1, 1, mb.request(1)));
    rx.push(1, 1024, frame(1024, true, 40002, 1, 1, mb.request(2)));
    tap.rx(1000, mem, dv, rx);
    expect(tap.pairer.counters.requests).toBe(2);

    const tx = new PacketBatch(4);
    tx.push(2, 2048, frame(2048, false, 40001, 1, 201, reply));
    tx.push(3, 3072, frame(3072, false, 40002, 1, 201, reply));
    // The device takes one of two (and shifts the rest to the front, as DPDK's shim does).
    tap.txOffer(tx);
    clock = 1300;
    tx.handle[0] = tx.handle[1]!;
    tx.off[0] = tx.off[1]!;
    tx.len[0] = tx.len[1]!;
    tx.count = 1;
    tap.txTaken(1);
    expect(tap.pairer.counters.paired).toBe(1);
    // Nothing taken: nothing paired, nothing counted twice.
    tap.txOffer(tx);
    tap.txTaken(0);
    expect(tap.pairer.counters.replies).toBe(1);
    tap.txOffer(tx);
    clock = 1700;
    tap.txTaken(1);
    const c = tap.pairer.counters;
    expect(c.replies).toBe(2);
    expect(c.paired).toBe(2);
    expect(c.retransmissions).toBe(0);
    expect(tap.pairer.latencyHigh.minNonZeroValue).toBe(300);
    expect(tap.pairer.latencyHigh.maxValue).toBe(700);
    expect(tap.rxBursts).toBe(1);
    expect(tap.txBursts).toBe(2);
  });
});

describe("on the server's interface (two stacks, virtual time)", () => {
  test("every request paired with its reply; latency = the app's delay at the bursts", () => {
    const p = new StackPair();
    const clock = (): number => p.clock.nowUs;
    const tap = new LiveWireTap({ serverPort: 80, msgLen: 200 }, p.devB.mem, p.devB.dv, clock);
    p.b.netif.setBurstTap(tap);
    const DELAY = 700;
    let pending: { s: TcpSocket<undefined>; at: number }[] = [];
    p.sb.listen({
      port: 80,
      socket: {
        data: (s, d) => {
          // One 200-byte message per write below; requests get a reply DELAY us later.
          if (d.length >= 7 && d[5] === 1) pending.push({ s, at: p.clock.nowUs + DELAY });
        },
      },
    });
    let client: TcpSocket<undefined> | undefined;
    void p.sa.connect({ hostname: "10.0.0.2", port: 80, noDelay: true, socket: { open: (s) => void (client = s) } });
    p.run(p.clock.nowUs + 50_000, () => client !== undefined);
    const replyAt = (until: number): void => {
      while (p.clock.nowUs < until) {
        const next = Math.min(until, ...pending.map((x) => x.at));
        const n0 = pending.length;
        // Stop early when a request arrives, so its reply time becomes the next stop.
        p.run(next, () => pending.length !== n0);
        const due = pending.filter((x) => x.at <= p.clock.nowUs);
        pending = pending.filter((x) => x.at > p.clock.nowUs);
        for (const x of due) x.s.write(reply);
      }
    };
    for (let i = 0; i < 5; i++) {
      client!.write(mb.request(i));
      replyAt(p.clock.nowUs + 5_000);
      client!.write(mb.heartbeat(i));
      replyAt(p.clock.nowUs + 5_000);
    }
    p.b.netif.setBurstTap(null);
    const c = tap.pairer.counters;
    expect(c.flows).toBe(1);
    expect(c.requests).toBe(5);
    expect(c.heartbeats).toBe(5);
    expect(c.replies).toBe(5);
    expect(c.paired).toBe(5);
    expect(tap.pairer.outstanding()).toBe(0);
    // The reply is written at arrival + DELAY and leaves in that round's tx burst.
    expect(tap.pairer.latencyHigh.minNonZeroValue).toBe(DELAY);
    expect(tap.pairer.latencyHigh.maxValue).toBe(DELAY);
  });
});
