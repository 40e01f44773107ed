/**
 * The wire monitor on a pcap with known latencies, written with the stack's
 * own pcap writer: whole, split and coalesced requests and replies, a
 * retransmission, heartbeats and unrelated frames. Then the monitor app on
 * the same file.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PcapWriter } from "../../src/net/pcap-writer";
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, writeEthernetHeader } from "../../src/wire/ethernet";
import { writeIpv4Header } from "../../src/wire/ipv4";
import { TCP_ACK, TCP_PSH, TCP_SYN, writeTcpHeader } from "../../src/wire/tcp";
import { MessageBuilder, REPLY_LEN, writeReply } from "../../apps/iotep/protocol";
import { readPcap } from "../../apps/iotep/pcap-reader";
import { WirePairer } from "../../apps/iotep/wire-pairing";
import { AppProcess } from "../helpers/app-process";

const SERVER = 0x0a000001;
const CLIENT = 0x0a000002;
const MAC_S = new Uint8Array([2, 0, 0, 0, 0, 1]);
const MAC_C = new Uint8Array([2, 0, 0, 0, 0, 2]);
const mem = new Uint8Array(4096);
const dv = new DataView(mem.buffer);
const mb = new MessageBuilder(200);
const reply = new Uint8Array(REPLY_LEN);
writeReply(reply, 0);

/** One TCP frame into mem[0..); returns its length. toServer: client port -> 80. */
function frame(toServer: boolean, cport: number, seq: number, ack: number, flags: number, payload: Uint8Array = new Uint8Array(0)): number {
  let p = writeEthernetHeader(mem, dv, 0, toServer ? MAC_S : MAC_C, toServer ? MAC_C : MAC_S, ETHERTYPE_IPV4);
  const total = 20 + 20 + payload.length;
  p += writeIpv4Header(dv, p, 0, total, 1, true, 64, 6, toServer ? CLIENT : SERVER, toServer ? SERVER : CLIENT);
  writeTcpHeader(dv, p, toServer ? cport : 80, toServer ? 80 : cport, seq, ack, 20, flags, 65535);
  mem.set(payload, p + 20);
  return p + 20 + payload.length;
}

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of parts) {
    out.set(x, o);
    o += x.length;
  }
  return out;
}

let dir: string;
let pcap: string;

/** Writes the capture; the expected request latencies (us) are listed in `expected`. */
const expected = [250, 800, 600, 100, 300, 500, 400, 100, 400];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "iotep-monitor-"));
  pcap = join(dir, "server.pcap");
  const w = new PcapWriter(pcap);
  const T = 1_700_000_000_000_000; // wall-clock us, as the stack writes
  const rec = (t: number, len: number): void => w.record(T + t, mem, 0, len);
  const req = (n: number): Uint8Array => mb.request(n).slice();
  const hb = (n: number): Uint8Array => mb.heartbeat(n).slice();
  // Flow A: SYN, request (250 us), pure ACK, heartbeat, request retransmitted (800 us from the first copy).
  rec(0, frame(true, 40001, 1000, 0, TCP_SYN));
  rec(1000, frame(true, 40001, 1001, 5001, TCP_ACK | TCP_PSH, req(1)));
  rec(1010, frame(false, 40001, 5001, 1201, TCP_ACK));
  rec(1250, frame(false, 40001, 5001, 1201, TCP_ACK | TCP_PSH, reply));
  rec(2000, frame(true, 40001, 1201, 5147, TCP_ACK | TCP_PSH, hb(2)));
  rec(3000, frame(true, 40001, 1401, 5147, TCP_ACK | TCP_PSH, req(3)));
  rec(3500, frame(true, 40001, 1401, 5147, TCP_ACK | TCP_PSH, req(3)));
  rec(3800, frame(false, 40001, 5147, 1601, TCP_ACK | TCP_PSH, reply));
  // Flow B: a request split over two segments (600 us from its first byte).
  const r = req(4);
  rec(1000, frame(true, 40002, 7001, 9001, TCP_ACK | TCP_PSH, r.subarray(0, 100)));
  rec(1100, frame(true, 40002, 7101, 9001, TCP_ACK | TCP_PSH, r.subarray(100)));
  rec(1600, frame(false, 40002, 9001, 7201, TCP_ACK | TCP_PSH, reply));
  // Flow C: two requests coalesced in one segment; replies 100 and 300 us later.
  rec(5000, frame(true, 40003, 100, 200, TCP_ACK | TCP_PSH, cat(req(5), req(6))));
  rec(5100, frame(false, 40003, 200, 500, TCP_ACK | TCP_PSH, reply));
  rec(5300, frame(false, 40003, 346, 500, TCP_ACK | TCP_PSH, reply));
  // Flow D: two requests, both replies coalesced in one segment (500 and 400 us).
  rec(6000, frame(true, 40004, 0x7fffff00, 1, TCP_ACK | TCP_PSH, req(7)));
  rec(6100, frame(true, 40004, 0x7fffffc8, 1, TCP_ACK | TCP_PSH, req(8))); // sequence numbers wrap past 2^31
  rec(6500, frame(false, 40004, 1, 0x80000090, TCP_ACK | TCP_PSH, cat(reply, reply)));
  // Flow E: the first request never reached the capture (dropped before the server's rx burst); the
  // second arrives, then the first is retransmitted: a hole, filled. Replies come in stream order.
  rec(6900, frame(true, 40006, 5199, 0, TCP_SYN));
  rec(7000, frame(true, 40006, 5400, 1, TCP_ACK | TCP_PSH, req(12)));
  rec(7200, frame(true, 40006, 5200, 1, TCP_ACK | TCP_PSH, req(11)));
  rec(7300, frame(false, 40006, 1, 5600, TCP_ACK | TCP_PSH, reply));
  rec(7400, frame(false, 40006, 147, 5600, TCP_ACK | TCP_PSH, reply));
  // Unrelated: another port and an ARP frame.
  const other = frame(true, 40005, 1, 1, TCP_ACK | TCP_PSH, req(9));
  dv.setUint16(34 + 2, 8080);
  rec(7000, other);
  const arpLen = writeEthernetHeader(mem, dv, 0, MAC_S, MAC_C, ETHERTYPE_ARP) + 28;
  rec(7100, arpLen);
  w.close();
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("WirePairer", () => {
  // Without a size, sized below the flows seen (grows), and sized for 1 M (the server's tables): the same pairing.
  test.each([[undefined], [3], [1_000_000]])("pairs requests and replies per flow with the known latencies (expectedFlows %p)", (expectedFlows) => {
    const p = new WirePairer({ serverPort: 80, msgLen: 200, expectedFlows });
    const res = readPcap(pcap, (ts, buf, d, off, cap) => p.process(ts, buf, d, off, cap));
    expect(res.records).toBe(24);
    expect(res.truncated).toBe(false);
    const c = p.counters;
    expect(c.requests).toBe(9);
    expect(c.heartbeats).toBe(1);
    expect(c.replies).toBe(9);
    expect(c.paired).toBe(9);
    expect(c.unpairedReplies).toBe(0);
    expect(c.retransmissions).toBe(1); // the hole fill is the first copy the capture shows
    expect(c.ignored).toBe(2);
    expect(c.flows).toBe(5);
    expect(p.outstanding()).toBe(0);
    const h = p.latencyHigh;
    expect(h.totalCount).toBe(expected.length);
    expect(h.minNonZeroValue).toBe(100);
    expect(h.maxValue).toBe(800);
    const sorted = [...expected].sort((a, b) => a - b);
    // Exact at these magnitudes (3 significant digits).
    for (let i = 0; i < sorted.length; i++) {
      const q = ((i + 1) / sorted.length) * 100;
      expect(h.getValueAtPercentile(q)).toBe(sorted[i]!);
    }
  });

  test("a reply with no request on its flow is counted, not paired", () => {
    const p = new WirePairer({ serverPort: 80, msgLen: 200 });
    const len = frame(false, 41000, 1, 1, TCP_ACK | TCP_PSH, reply);
    p.process(10, mem, dv, 0, len);
    expect(p.counters.replies).toBe(1);
    expect(p.counters.unpairedReplies).toBe(1);
    expect(p.latencyHigh.totalCount).toBe(0);
  });
});

describe("monitor app", () => {
  test("--read writes cdf.txt, JSON and the report", async () => {
    const out = join(dir, "out");
    const app = new AppProcess("monitor", ["--read", pcap, "--out", out]);
    expect(await app.exited).toBe(0);
    expect(app.stdout).toContain("9 paired");
    const cdf = readFileSync(join(out, "cdf.txt"), "utf8");
    expect(cdf).toContain("request_wire__num:9");
    expect(cdf).toMatch(/^0\.50:\s+0\.4000/m);
    expect(cdf).toMatch(/^1\.00:\s+0\.8000/m);
    const j = JSON.parse(readFileSync(join(out, "monitor.json"), "utf8"));
    expect(j.latencyUs["request (wire)"].p50Us).toBe(400);
    expect(readFileSync(join(out, "monitor.html"), "utf8")).toContain("<svg");
  });

  test("a file that is not a pcap: one line, exit code 2", async () => {
    const bad = join(dir, "bad.pcap");
    writeFileSync(bad, "this is not a capture file at all");
    const app = new AppProcess("monitor", ["--read", bad]);
    expect(await app.exited).toBe(2);
    expect(app.stderr.trim().split("\n").length).toBe(1);
    expect(app.stderr).toContain("not a classic pcap file");
  });
});
