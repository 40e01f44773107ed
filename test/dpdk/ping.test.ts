/**
 * Bring-up interop: a Linux kernel in a network namespace pings the stack
 * through net_af_packet on a veth and through net_tap, 200 pings with no loss;
 * arping resolves the stack; the stack resolves the namespace's MAC.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { AppProcess } from "../helpers/app-process";
import { createVethNs, netnsSkipReason, removeAllVethNs, run, must } from "./helpers/netns";

const skip = netnsSkipReason();
if (skip) console.log(`skip dpdk/ping: ${skip}`);
const noHuge = Number(run(["cat", "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"]).stdout.trim() || 0) < 64;
const hugeFlag = noHuge ? ["--no-huge"] : [];

afterAll(() => removeAllVethNs());

function lossOf(out: string): number {
  const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
  if (!m) return -1;
  return Number(m[1]) - Number(m[2]);
}

describe.skipIf(skip !== null)("ping, arping and ARP against the Linux kernel", () => {
  test("net_af_packet on a veth: 200 pings, no loss; arping; the stack resolves the namespace's MAC", async () => {
    const env = createVethNs({ tag: "ping", nsAddr: "10.241.0.2/24" });
    const app = new AppProcess("echo", ["--vdev", `net_af_packet0,iface=${env.hostIf}`, "--ip", "10.241.0.1/24", "--ping", "10.241.0.2", "--stats", ...hugeFlag]);
    try {
      await app.waitFor(/echo: up on/);
      const m = await app.waitFor(/ping 10\.241\.0\.2: (\d+)\/3 replies, neighbour mac ([0-9a-f:]+)/);
      expect(Number(m[1])).toBe(3);
      expect(m[2]).toBe(env.nsMac);
      const ping = env.exec(["ping", "-c", "200", "-i", "0.005", "-W", "1", "10.241.0.1"], { timeoutMs: 30_000 });
      expect(lossOf(ping.stdout)).toBe(0);
      const arping = env.exec(["arping", "-c", "3", "-w", "5", "-I", env.nsIf, "10.241.0.1"], { timeoutMs: 10_000 });
      // Debian's arping (Habets): "3 packets transmitted, 3 packets received".
      expect(arping.stdout).toMatch(/3 packets transmitted, 3 packets received/);
      expect(arping.stdout.toLowerCase()).toContain(app.stdout.match(/mac ([0-9a-f:]{17})/)![1]!);
    } finally {
      await app.stop();
      env.remove();
    }
    const stats = JSON.parse(app.stdout.trim().split("\n").pop()!);
    expect(stats.net.icmpEchoReplies).toBeGreaterThanOrEqual(200);
    expect(stats.net.dropIpv4BadChecksum).toBe(0);
  }, 60_000);

  test("net_tap moved into a namespace: 200 pings, no loss", async () => {
    const tap = `qt${Math.floor(Math.random() * 1e6).toString(36)}`;
    const env = createVethNs({ tag: "tap" });
    const app = new AppProcess("echo", ["--vdev", `net_tap0,iface=${tap}`, "--ip", "10.242.0.1/24", "--stats", ...hugeFlag]);
    try {
      await app.waitFor(/echo: up on/);
      must(["ip", "link", "set", tap, "netns", env.ns]);
      must([...env.prefix, "ip", "addr", "add", "10.242.0.2/24", "dev", tap]);
      must([...env.prefix, "ip", "link", "set", tap, "up"]);
      run([...env.prefix, "ethtool", "-K", tap, "tx", "off", "tso", "off", "gso", "off", "gro", "off"]);
      const ping = env.exec(["ping", "-c", "200", "-i", "0.005", "-W", "1", "10.242.0.1"], { timeoutMs: 30_000 });
      expect(lossOf(ping.stdout)).toBe(0);
    } finally {
      await app.stop();
      env.remove();
    }
  }, 60_000);

  test("--mac sets the station address the namespace learns and pings", async () => {
    const env = createVethNs({ tag: "mac", nsAddr: "10.243.0.2/24" });
    const app = new AppProcess("echo", ["--vdev", `net_af_packet0,iface=${env.hostIf}`, "--ip", "10.243.0.1/24", "--mac", "02:51:53:00:00:07", ...hugeFlag]);
    try {
      await app.waitFor(/echo: up on .* mac 02:51:53:00:00:07/);
      const ping = env.exec(["ping", "-c", "20", "-i", "0.01", "-W", "1", "10.243.0.1"], { timeoutMs: 20_000 });
      expect(lossOf(ping.stdout)).toBe(0);
      expect(env.exec(["ip", "neigh", "show", "10.243.0.1"]).stdout).toContain("02:51:53:00:00:07");
    } finally {
      await app.stop();
      env.remove();
    }
  }, 60_000);
});
