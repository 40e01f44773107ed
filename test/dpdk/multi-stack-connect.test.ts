/**
 * Active opens from several stack threads (src/sched/multi) characterized on a
 * multi-queue net_tap: each of two stack threads connects COUNT times to a kernel
 * echo server in a namespace. The device's hash is not known to us (the tap PMD
 * reports no RSS key), so a connection works only when the kernel happens to send
 * its SYN-ACK to the queue of the thread that sent the SYN; otherwise the other
 * thread, which does not know the flow, answers RST. Measured here: 9 of 20 and
 * 13 of 20 completed (about half, as a random queue choice gives). The test
 * asserts what holds: every attempt resolves (none hangs), each thread completes
 * some (a flow that comes home works), and some fail (the limitation is real; if
 * a later change steers active opens on this vdev, this line must change).
 * With a NIC that reports its Toeplitz key, rss-ports.ts picks ports that come home.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { startChild } from "./helpers/child";
import { createVethNs, must, netnsSkipReason, PYTHON, removeAllVethNs, run } from "./helpers/netns";

const skip = netnsSkipReason();
if (skip) console.log(`skip dpdk/multi-stack-connect: ${skip}`);
afterAll(() => removeAllVethNs());

const ECHO_SERVER = `
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 7)); s.listen(256)
def serve(c):
    while True:
        b = c.recv(65536)
        if not b: break
        c.sendall(b)
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
`;
const COUNT = 12;

type Res = { ok: number; failed: number };

describe.skipIf(skip !== null)("active opens from two stack threads", () => {
  test("net_tap with 2 queues: active opens complete only when the SYN-ACK reaches the sending thread", async () => {
    const tap = `qc${Math.floor(Math.random() * 1e6).toString(36)}`;
    const env = createVethNs({ tag: "mconn" });
    const child = startChild("multi-connect-child.ts", [`net_tap0,iface=${tap}`, "10.250.0.1/24", "10.250.0.2", String(COUNT)]);
    let res: { t0: Res; t1: Res } | null = null;
    try {
      await child.waitEv("up", 30_000);
      must(["ip", "link", "set", tap, "netns", env.ns]);
      must([...env.prefix, "ip", "addr", "add", "10.250.0.2/24", "dev", tap]);
      must([...env.prefix, "ip", "link", "set", tap, "up"]);
      run([...env.prefix, "ethtool", "-K", tap, "tx", "off", "tso", "off", "gso", "off", "gro", "off"]);
      env.spawn([PYTHON, "-c", ECHO_SERVER]);
      await Bun.sleep(300);
      child.send("go");
      res = (await child.waitEv("result", 150_000)) as unknown as { t0: Res; t1: Res };
    } finally {
      child.kill();
      env.remove();
    }
    console.log(`tap active opens: thread 0 ${JSON.stringify(res!.t0)}, thread 1 ${JSON.stringify(res!.t1)}`);
    for (const r of [res!.t0, res!.t1]) {
      expect(r.ok + r.failed).toBe(COUNT);
      expect(r.ok).toBeGreaterThan(0);
    }
    expect(res!.t0.failed + res!.t1.failed).toBeGreaterThan(0);
  }, 200_000);
});
