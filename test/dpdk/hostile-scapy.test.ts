/**
 * Hostile scenarios crafted with scapy from a Linux namespace against the echo app over
 * net_af_packet (issue 7): land attack, overlapping and conflicting retransmissions, zero-window
 * abuse, blind RST/SYN/ACK injection (RFC 5961), an ICMP echo flood, IPv4 total length beyond the
 * frame. After each, a fresh connection is still echoed and the named counters that should move
 * did (read live from --metrics-port; the final --stats JSON must balance).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { AppProcess } from "../helpers/app-process";
import { removeAllVethNs } from "./helpers/netns";
import { delta, dropKernelRsts, moved, scapyScenario, scapySkipReason, scrape } from "./helpers/scapy";
import { interopSkipReason, makeLink, startApp, type KernelLink } from "./helpers/tcp-link";

const skip = interopSkipReason() ?? scapySkipReason();
if (skip) console.log(`skip dpdk/hostile-scapy: ${skip}`);

const T = "qstack_tcp_";
const DROP = (r: string) => `qstack_net_rx_drops_total{reason="${r}"}`;

let link: KernelLink;
let app: AppProcess;
let url = "";
let undoNft: () => void = () => {};

describe.skipIf(skip !== null)("hostile traffic from scapy (echo over net_af_packet)", () => {
  beforeAll(async () => {
    link = makeLink("af_packet", 171);
    app = startApp("echo", [...link.stackArgs, "--metrics-port", "0", "--log-format", "json", "--status=false", "--stats"]);
    await app.waitFor(/echo: up on/, 30_000);
    url = JSON.parse((await app.waitFor(/\{[^\n]*"metrics endpoint up"[^\n]*\}/))[0]).url as string;
    undoNft = dropKernelRsts(link.env);
  }, 60_000);

  afterAll(async () => {
    undoNft();
    if (app !== undefined) {
      await app.stop(10_000);
      if (app.proc.exitCode === null) app.proc.kill(9);
    }
    removeAllVethNs();
  });

  async function scenario(name: string, extra: string[] = []) {
    const before = await scrape(url);
    const r = await scapyScenario(link.env, link.stackIp, link.kernelIp, name, extra);
    const after = await scrape(url);
    console.log(`${name}: ${JSON.stringify(r)}\n  moved: ${JSON.stringify(moved(before, after))}`);
    expect(r.error).toBeUndefined();
    return { r, d: (k: string) => delta(before, after, k) };
  }

  test("land attack (source = destination = the stack's address and port): dropped as a bad source, nothing sent", async () => {
    const { r, d } = await scenario("land");
    expect(r.tcpReplies).toBe(0);
    expect(d(DROP("ipv4_bad_source"))).toBe(5);
    expect(d(`${T}passive_opens_total`)).toBe(1); // only the fresh echo connection
    expect((r.after as { ok: boolean }).ok).toBe(true);
  }, 60_000);

  test("overlapping and conflicting retransmissions: the stream keeps the first copy of every byte", async () => {
    const { r, d } = await scenario("overlap");
    expect(r.got).toBe(r.expect as string);
    expect(d(`${T}ooo_segments_total`)).toBeGreaterThanOrEqual(1);
    expect((r.after as { ok: boolean }).ok).toBe(true);
  }, 60_000);

  test("blind injection (RFC 5961): in-window RST and SYN get a challenge ACK, out-of-window RST is ignored, bad ACKs are dropped", async () => {
    const { r, d } = await scenario("blind");
    const g = (k: string) => r[k] as Record<string, unknown>;
    expect(g("rstInWindow").challengeAck).toBe(true);
    expect(g("rstOutOfWindow").replies).toBe(0);
    expect(g("synInWindow").challengeAck).toBe(true);
    expect(g("ackTooNew").echoed).toBe(false);
    expect(g("ackTooOld").echoed).toBe(false);
    expect(r.stillEchoes).toBe(true);
    expect(r.exactRstClosed).toBe(true);
    expect(d(`${T}rst_not_exact_total`)).toBe(1);
    expect(d(`${T}syn_in_synchronized_total`)).toBe(1);
    expect(d(`${T}challenge_acks_total`)).toBe(2);
    expect(d(`${T}out_of_window_total`)).toBeGreaterThanOrEqual(1);
    expect(d(`${T}ack_too_new_total`)).toBe(1);
    expect(d(`${T}bad_ack_total`)).toBe(1);
    expect(d(`${T}rsts_received_total`)).toBe(2); // the exact RST and the fresh connection's closing RST
    expect((r.after as { ok: boolean }).ok).toBe(true);
  }, 60_000);

  test("IPv4 total length beyond the frame: dropped and counted, no answer", async () => {
    const { r, d } = await scenario("badlen");
    expect(r.tcpReplies).toBe(0);
    expect(d(DROP("ipv4_bad_total_length"))).toBe(20);
    expect((r.after as { ok: boolean }).ok).toBe(true);
  }, 60_000);

  test("zero-window abuse: persist probes continue with backoff; the stack still serves others", async () => {
    const { r, d } = await scenario("zerowin", ["6"]);
    const gaps = r.gaps as number[];
    expect(r.probes as number).toBeGreaterThanOrEqual(3);
    // Backed off: the last interval is at least twice the first.
    expect(gaps[gaps.length - 1]!).toBeGreaterThanOrEqual(2 * gaps[0]! * 0.9);
    expect(d(`${T}persist_probes_total`)).toBeGreaterThanOrEqual(3);
    expect((r.after as { ok: boolean }).ok).toBe(true);
  }, 60_000);

  test("ICMP echo flood: replies keep up and a TCP connection is served during the flood", async () => {
    const before = await scrape(url);
    const ping = link.env.spawn(["ping", "-f", "-q", "-c", "20000", "-w", "6", link.stackIp]);
    const during = await scapyScenario(link.env, link.stackIp, link.kernelIp, "echo");
    const pingOut = await new Response(ping.stdout).text();
    await ping.exited;
    const after = await scrape(url);
    const m = /(\d+) packets transmitted, (\d+) received/.exec(pingOut);
    console.log(`icmp flood: ${m?.[0]}; echo during flood ${JSON.stringify(during)}; moved ${JSON.stringify(moved(before, after))}`);
    expect(m).not.toBeNull();
    const sent = Number(m![1]);
    const got = Number(m![2]);
    expect(sent).toBeGreaterThan(1000);
    expect(got / sent).toBeGreaterThan(0.95);
    expect(delta(before, after, "qstack_net_icmp_echo_requests_total")).toBeGreaterThanOrEqual(got);
    expect((during as { ok: boolean }).ok).toBe(true);
  }, 60_000);

  test("after everything: the final --stats JSON balances (frames and segments each end in one outcome)", async () => {
    await app.stop(10_000);
    const line = app.stdout.split("\n").find((l) => l.startsWith("{\"net\""));
    expect(line).toBeDefined();
    const s = JSON.parse(line!) as { net: Record<string, number>; tcp: Record<string, number> };
    let drops = 0;
    for (const [k, v] of Object.entries(s.net)) if (k.startsWith("drop")) drops += v;
    expect(s.net.rxFrames).toBe(drops + s.net.arpAccepted! + s.net.icmpAccepted! + s.net.tcpDelivered!);
    const reasons = [
      "badOffset", "badChecksum", "noListener", "outOfWindow", "pawsRejected", "badAck", "ackTooNew", "listenDrops",
      "noAckInSynchronized", "nonSynInSynSent", "rstWithoutAckInSynSent", "rstInListen", "nonSynInListen", "ackInListen",
      "rstNotExact", "synInSynchronized",
    ];
    let tcpDrops = 0;
    for (const k of reasons) tcpDrops += s.tcp[k] ?? 0;
    expect(s.tcp.segsIn).toBe(s.net.tcpDelivered!);
    expect(s.tcp.segsIn).toBe(s.tcp.segsAccepted! + tcpDrops);
  }, 30_000);
});
