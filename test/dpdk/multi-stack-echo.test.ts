/**
 * Several stack threads end to end: apps/echo.ts --layout stack=2 over
 * net_af_packet with qpairs=2 (the PMD's two sockets share one PACKET_FANOUT_HASH
 * group, so the kernel spreads flows over the two queues) answers a Linux peer in
 * a network namespace: 200 connections each send data and get it back intact,
 * both stack threads served some of them (the echo's per-thread counters), and
 * ping and ARP work whichever thread the frames reach.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { AppProcess } from "../helpers/app-process";
import { createVethNs, must, netnsSkipReason, PYTHON, removeAllVethNs, run } from "./helpers/netns";

const skip = netnsSkipReason();
if (skip) console.log(`skip dpdk/multi-stack-echo: ${skip}`);
const noHuge = Number(run(["cat", "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"]).stdout.trim() || 0) < 64;
const hugeFlag = noHuge ? ["--no-huge"] : [];

afterAll(() => removeAllVethNs());

/** CPU time (user + system, seconds) the process `pid` has used, all threads. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8");
  const rest = f.slice(f.lastIndexOf(")") + 2).split(" ");
  // Fields 14 and 15 (utime, stime) counted from 1; rest starts at field 3.
  return (Number(rest[11]) + Number(rest[12])) / 100;
}

// CONNS connections, at most PAR at a time: each sends SIZE seeded random bytes, half-closes, reads to EOF.
export const MULTI_CLIENT = `
import socket, sys, random, threading
host, conns, size, par = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ok = 0; lock = threading.Lock(); sem = threading.Semaphore(par)
def one(i):
    global ok
    with sem:
        try:
            data = random.Random(i).randbytes(size)
            s = socket.create_connection((host, 7), timeout=20)
            s.sendall(data); s.shutdown(socket.SHUT_WR)
            got = bytearray()
            while True:
                b = s.recv(65536)
                if not b: break
                got.extend(b)
            s.close()
            if bytes(got) == data:
                with lock: ok += 1
            else: print("conn", i, "got", len(got), "of", size)
        except Exception as e: print("conn", i, "error", e)
ths = [threading.Thread(target=one, args=(i,)) for i in range(conns)]
[t.start() for t in ths]; [t.join() for t in ths]
print("intact", ok, "of", conns)
`;

describe.skipIf(skip !== null)("several stack threads (--layout stack=2) against the Linux kernel", () => {
  test("200 connections over af_packet qpairs=2 echo intact, both threads serve some, ping works", async () => {
    const env = createVethNs({ tag: "multi", nsAddr: "10.246.0.2/24" });
    const app = new AppProcess("echo", ["--vdev", `net_af_packet0,iface=${env.hostIf},qpairs=2`, "--ip", "10.246.0.1/24", "--layout", "stack=2", ...hugeFlag]);
    let out = "";
    let ping = "";
    let idleCores = -1;
    try {
      await app.waitFor(/echo: up on .* layout stack=2/, 30_000);
      ping = env.exec(["ping", "-c", "3", "-i", "0.2", "-W", "2", "10.246.0.1"], { timeoutMs: 20_000 }).stdout;
      const r = env.exec([PYTHON, "-c", MULTI_CLIENT, "10.246.0.1", "200", "4096", "50"], { timeoutMs: 120_000 });
      out = r.stdout + r.stderr;
      // Idle: both stack threads sleep between polls instead of spinning.
      await Bun.sleep(500);
      const t0 = cpuSeconds(app.proc.pid);
      await Bun.sleep(2000);
      idleCores = (cpuSeconds(app.proc.pid) - t0) / 2;
    } finally {
      await app.stop();
      env.remove();
    }
    console.log(app.stdout.match(/echo: stack threads:.*/)?.[0] ?? app.stdout);
    expect(ping).toMatch(/3 received/);
    // af_packet spreads by the kernel's fanout hash: no RSS key to read (qs_port_rss says ENOTSUP).
    expect(app.stdout).toContain("RSS hash not reported by the device");
    expect(out).toContain("intact 200 of 200");
    const m = /stack threads: #0 connections (\d+) bytes (\d+) .*; #1 connections (\d+) bytes (\d+)/.exec(app.stdout);
    expect(m).not.toBeNull();
    const [c0, b0, c1, b1] = [Number(m![1]), Number(m![2]), Number(m![3]), Number(m![4])];
    expect(c0 + c1).toBe(200);
    expect(c0).toBeGreaterThan(0);
    expect(c1).toBeGreaterThan(0);
    expect(b0 + b1).toBe(200 * 4096);
    // No segment reached a thread that did not know its connection (that thread would answer RST).
    expect([...app.stdout.matchAll(/ rst (\d+)/g)].map((x) => Number(x[1]))).toEqual([0, 0]);
    expect(app.stdout).toMatch(new RegExp(`200 TCP connections, ${200 * 4096} bytes echoed`));
    // The neighbour's ARP reached one queue and was forwarded to the other thread.
    const fwd = [...app.stdout.matchAll(/arp-fwd (\d+)\/(\d+)/g)].map((x) => [Number(x[1]), Number(x[2])]);
    expect(fwd.length).toBe(2);
    expect(fwd[0]![0]! + fwd[1]![0]!).toBeGreaterThan(0);
    expect(fwd[0]![0]!).toBe(fwd[1]![1]!);
    expect(fwd[1]![0]!).toBe(fwd[0]![1]!);
    console.log(`idle: ${idleCores.toFixed(3)} cores used by the echo process (2 stack threads)`);
    expect(idleCores).toBeLessThan(0.5);
  }, 180_000);

  test("net_tap with 2 queues (moved into a namespace): 200 connections echo intact, both threads serve some", async () => {
    const tap = `qm${Math.floor(Math.random() * 1e6).toString(36)}`;
    const env = createVethNs({ tag: "multitap" });
    const app = new AppProcess("echo", ["--vdev", `net_tap0,iface=${tap}`, "--ip", "10.248.0.1/24", "--layout", "stack=2", ...hugeFlag]);
    let out = "";
    try {
      await app.waitFor(/echo: up on .* layout stack=2/, 30_000);
      must(["ip", "link", "set", tap, "netns", env.ns]);
      must([...env.prefix, "ip", "addr", "add", "10.248.0.2/24", "dev", tap]);
      must([...env.prefix, "ip", "link", "set", tap, "up"]);
      run([...env.prefix, "ethtool", "-K", tap, "tx", "off", "tso", "off", "gso", "off", "gro", "off"]);
      const r = env.exec([PYTHON, "-c", MULTI_CLIENT, "10.248.0.1", "200", "4096", "50"], { timeoutMs: 120_000 });
      out = r.stdout + r.stderr;
    } finally {
      await app.stop();
      env.remove();
    }
    console.log(app.stdout.match(/echo: stack threads:.*/)?.[0] ?? app.stdout);
    console.log(app.stdout.match(/echo: \d stack threads; .*/)?.[0] ?? "");
    expect(out).toContain("intact 200 of 200");
    const m = /stack threads: #0 connections (\d+) .*; #1 connections (\d+)/.exec(app.stdout);
    expect(m).not.toBeNull();
    expect(Number(m![1]) + Number(m![2])).toBe(200);
    expect(Number(m![1])).toBeGreaterThan(0);
    expect(Number(m![2])).toBeGreaterThan(0);
  }, 180_000);

  const oneCpu = navigator.hardwareConcurrency < 2;
  if (oneCpu) console.log("skip multi-stack-echo pinned: needs 2 CPUs");
  test.skipIf(oneCpu)("pinned: stack=2@0+1 runs stack thread 0 on CPU 0 and thread 1 on CPU 1, and still echoes", async () => {
    const env = createVethNs({ tag: "multipin", nsAddr: "10.249.0.2/24" });
    const app = new AppProcess("echo", ["--vdev", `net_af_packet0,iface=${env.hostIf},qpairs=2`, "--ip", "10.249.0.1/24", "--layout", "stack=2@0+1", ...hugeFlag]);
    let out = "";
    try {
      await app.waitFor(/echo: up on .* layout stack=2@0\+1/, 30_000);
      out = env.exec([PYTHON, "-c", MULTI_CLIENT, "10.249.0.1", "20", "1000", "20"], { timeoutMs: 60_000 }).stdout;
    } finally {
      await app.stop();
      env.remove();
    }
    expect(out).toContain("intact 20 of 20");
    expect(app.stdout).toMatch(/stack threads: #0 connections \d+ .* cpus 0; #1 connections \d+ .* cpus 1/);
  }, 90_000);

  test("af_packet without qpairs=2 is refused with the fix named, exit 2", async () => {
    const env = createVethNs({ tag: "multiq", nsAddr: "10.247.0.2/24" });
    const app = new AppProcess("echo", ["--vdev", `net_af_packet0,iface=${env.hostIf}`, "--ip", "10.247.0.1/24", "--layout", "stack=2", ...hugeFlag]);
    let code = -1;
    try {
      code = await app.exited;
    } finally {
      env.remove();
    }
    expect(code).toBe(2);
    expect(app.stderr).toContain("needs qpairs=2");
  }, 60_000);
});
