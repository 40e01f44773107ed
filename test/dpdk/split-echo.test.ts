/**
 * Split mode end to end: apps/echo.ts --layout split:stack=1,app=2 (the stack on
 * the main thread owning the DPDK port, the echo in two Bun Workers fed over SPSC
 * rings) answers a Linux peer in a network namespace: several connections send
 * data through it and get it back intact; the echo's own report says both app
 * threads did work and every byte went through them.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { AppProcess } from "../helpers/app-process";
import { createVethNs, netnsSkipReason, PYTHON, removeAllVethNs, run } from "./helpers/netns";

const skip = netnsSkipReason();
if (skip) console.log(`skip dpdk/split-echo: ${skip}`);
const noHuge = Number(run(["cat", "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"]).stdout.trim() || 0) < 64;
const hugeFlag = noHuge ? ["--no-huge"] : [];

afterAll(() => removeAllVethNs());

// Each connection sends SIZE seeded random bytes while reading, then half-closes and reads to EOF.
const CLIENT = `
import socket, sys, random, hashlib, threading
host, conns, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ok = 0
def one(i):
    global ok
    data = random.Random(i).randbytes(size)
    s = socket.create_connection((host, 7), timeout=20)
    got = bytearray()
    def reader():
        while True:
            b = s.recv(65536)
            if not b: break
            got.extend(b)
    t = threading.Thread(target=reader); t.start()
    s.sendall(data); s.shutdown(socket.SHUT_WR); t.join(); s.close()
    if hashlib.sha256(got).digest() == hashlib.sha256(data).digest(): ok += 1
    else: print("conn", i, "got", len(got), "of", size)
ths = [threading.Thread(target=one, args=(i,)) for i in range(conns)]
[t.start() for t in ths]; [t.join() for t in ths]
print("intact", ok, "of", conns)
`;

describe.skipIf(skip !== null)("split mode echo against the Linux kernel", () => {
  test("4 connections x 256 KiB through --layout split:stack=1,app=2 come back intact", async () => {
    const env = createVethNs({ tag: "split", nsAddr: "10.243.0.2/24" });
    const app = new AppProcess("echo", ["--vdev", `net_af_packet0,iface=${env.hostIf}`, "--ip", "10.243.0.1/24", "--layout", "split:stack=1,app=2", "--stats", ...hugeFlag]);
    let out = "";
    try {
      await app.waitFor(/echo: up on .* layout split:stack=1,app=2/);
      const r = env.exec([PYTHON, "-c", CLIENT, "10.243.0.1", "4", String(256 * 1024)], { timeoutMs: 60_000 });
      out = r.stdout + r.stderr;
    } finally {
      await app.stop();
      env.remove();
    }
    expect(out).toContain("intact 4 of 4");
    const m = /split app threads: #0 events (\d+) commands (\d+) .*; #1 events (\d+) commands (\d+)/.exec(app.stdout);
    expect(m).not.toBeNull();
    // Round-robin: two connections per app thread, so both did work.
    expect(Number(m![1])).toBeGreaterThan(4);
    expect(Number(m![3])).toBeGreaterThan(4);
    expect(app.stdout).toMatch(new RegExp(`4 TCP connections, ${4 * 256 * 1024} bytes echoed`));
  }, 90_000);

  const oneCpu = navigator.hardwareConcurrency < 2;
  if (oneCpu) console.log("skip split-echo pinned: needs 2 CPUs to pin the stack and the app apart");
  test.skipIf(oneCpu)("pinned: split:stack=1@0,app=2@1 runs both app threads on CPU 1 and still echoes", async () => {
    const env = createVethNs({ tag: "splitpin", nsAddr: "10.244.0.2/24" });
    const app = new AppProcess("echo", ["--vdev", `net_af_packet0,iface=${env.hostIf}`, "--ip", "10.244.0.1/24", "--layout", "split:stack=1@0,app=2@1", ...hugeFlag]);
    let out = "";
    try {
      await app.waitFor(/echo: up on .* layout split:stack=1@0,app=2@1/);
      out = env.exec([PYTHON, "-c", CLIENT, "10.244.0.1", "2", String(64 * 1024)], { timeoutMs: 60_000 }).stdout;
    } finally {
      await app.stop();
      env.remove();
    }
    expect(out).toContain("intact 2 of 2");
    expect(app.stdout).toMatch(/#0 events \d+ commands \d+ cpus 1; #1 events \d+ commands \d+ cpus 1;/);
  }, 90_000);
});

test("a bad --layout is one line and exit code 2", async () => {
  const app = new AppProcess("echo", ["--vdev", "net_null0", "--ip", "10.243.1.1/24", "--layout", "split:stack=1,app=0"]);
  const code = await app.exited;
  await Bun.sleep(20);
  expect(code).toBe(2);
  expect(app.stderr.trim().split("\n")).toHaveLength(1);
  expect(app.stderr).toContain("app=0 is not a thread count");
}, 20_000);
