/**
 * The Linux kernel sockets baseline of bench/conns (a child process): one role
 * per process, because the per-process open-file hard limit here is 20,000 and
 * cannot be raised (FACTS.md), so one process holds at most ~19,900 sockets.
 *
 *   bun bench/conns-kernel.ts server PORT
 *   bun bench/conns-kernel.ts client PORT N SETUP_S EPOCH_S HOLD_S
 *
 * Same protocol as bench/conns-stage.ts: a 16-byte timestamped message per
 * connection per epoch, echoed by the server. JSON lines on stdout.
 */
import { heapStats } from "bun:jsc";
import * as net from "node:net";
import * as hdr from "hdr-histogram-js";

function emit(m: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(m) + "\n");
}

function mem(): { rss: number; heap: number } {
  Bun.gc(true);
  return { rss: process.memoryUsage().rss, heap: heapStats().heapSize };
}

const [role, portS, nS, setupS, epochS, holdS] = process.argv.slice(2);
const port = Number(portS);

if (role === "server") {
  let accepted = 0;
  const srv = net.createServer({ noDelay: true }, (s) => {
    accepted++;
    s.on("data", (d) => s.write(d));
    s.on("error", () => {});
    s.on("end", () => s.end());
  });
  srv.maxConnections = 1_000_000;
  srv.listen({ port, host: "127.0.0.1", backlog: 65535 }, () => emit({ ev: "ready", base: mem() }));
  for await (const line of console) {
    if (line.trim() === "mem") emit({ ev: "mem", accepted, mem: mem() });
    if (line.trim() === "stop") break;
  }
  process.exit(0);
} else {
  const n = Number(nS);
  const setup = Number(setupS);
  const epochUs = Number(epochS) * 1e6;
  const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
  const socks: net.Socket[] = [];
  let established = 0;
  let failed = 0;
  let received = 0;
  const base = mem();
  const t0 = performance.now();
  let tEnd = 0;
  await new Promise<void>((resolve) => {
    let opened = 0;
    const tick = () => {
      const due = Math.min(n, Math.floor(((performance.now() - t0) / 1000 / Math.max(setup, 1e-9)) * n) + 1);
      for (; opened < due; opened++) {
        const s = net.connect({ port, host: "127.0.0.1", noDelay: true });
        s.on("connect", () => {
          established++;
          if (established + failed === n) {
            tEnd = performance.now();
            resolve();
          }
        });
        s.on("error", () => {
          failed++;
          if (established + failed === n) {
            tEnd = performance.now();
            resolve();
          }
        });
        s.on("data", (d) => {
          for (let i = 0; i + 16 <= d.length; i += 16) {
            received++;
            const us = performance.now() * 1000 - d.readDoubleLE(i + 8);
            hist.recordValueWithExpectedInterval(Math.max(1, Math.round(us)), epochUs);
          }
        });
        socks.push(s);
      }
      if (opened < n) setTimeout(tick, 1);
    };
    tick();
  });
  const setupMs = tEnd - t0;
  emit({ ev: "established", established, failed, rate: established / (setupMs / 1000) });
  const msg = Buffer.alloc(16);
  const holdEnd = performance.now() + Number(holdS) * 1000;
  let cursor = 0;
  let sent = 0;
  const hold0 = performance.now();
  while (performance.now() < holdEnd) {
    const target = Math.floor(((performance.now() - hold0) * 1000 / epochUs) * socks.length);
    for (; sent < target; sent++) {
      const s = socks[cursor++ % socks.length]!;
      msg.writeUInt32LE(sent, 0);
      msg.writeDoubleLE(performance.now() * 1000, 8);
      s.write(msg);
    }
    await Bun.sleep(1);
  }
  await Bun.sleep(200);
  emit({ ev: "held", held: established, sent, received, mem: mem(), base, p50: hist.getValueAtPercentile(50), p99: hist.getValueAtPercentile(99), max: hist.maxValue });
  for (const s of socks) s.end();
  await Bun.sleep(500);
  process.exit(0);
}
