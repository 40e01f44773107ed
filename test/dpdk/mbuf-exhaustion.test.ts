/**
 * Real-device mbuf exhaustion (issue 7): net_tap (moved into a namespace) with a 511-mbuf
 * pool and 128 receive descriptors under an ICMP flood (hping3 --flood from the namespace).
 * The receiver holds every mbuf it gets, so the pool runs dry: receive bursts then return
 * nothing, nothing crashes, and the device counts what it could not take (rx_nombuf). When the
 * buffers are freed and the flood stops, frames are received again and the pool is whole.
 * (net_af_packet in DPDK 22.11 counts nothing when its mbuf allocation fails: the frames stay
 * in the kernel ring and the kernel drops them, so tap is the device to test with here.)
 *
 * net_tap reads only after its Rx-trigger signal; a flood leaves the tun queue full, tun then
 * drops new frames before signalling, and without help the port would never receive again. The
 * shim re-arms the trigger while bursts come back empty (c-shim/qs_port.c, tap_rearm), so
 * receiving again after the flood is asserted.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { shimBuilt } from "../../ffi/shim";
import { startChild, type Child } from "./helpers/child";
import { createVethNs, must, netnsSkipReason, removeAllVethNs, run } from "./helpers/netns";


run(["bash", `${import.meta.dir}/../../scripts/build-shim`], { timeoutMs: 120_000 });
const skip = netnsSkipReason() ?? (!shimBuilt() ? "the DPDK shim is not built (run npm run setup)" : Bun.which("hping3") === null ? "hping3 not installed" : null);
if (skip) console.log(`skip dpdk/mbuf-exhaustion: ${skip}`);

const NBUFS = 511;
const children: Child[] = [];
afterAll(() => {
  for (const c of children) c.kill(9);
  removeAllVethNs();
});

describe.skipIf(skip !== null)("mbuf exhaustion on a real device", () => {
  test("a small pool under a flood refuses cleanly, counts it, and recovers when the flood stops", async () => {
    const env = createVethNs({ tag: "nombuf" });
    const tap = `qx${Math.floor(Math.random() * 36 ** 6).toString(36)}`;
    const target = "10.214.0.1";
    const child = startChild("mbuf-exhaust-child.ts", [`net_tap0,iface=${tap}`, String(NBUFS), "128"]);
    children.push(child);
    const open = await child.waitEv("open", 30_000);
    const avail0 = open.avail as number;
    console.log(`pool: ${NBUFS} mbufs, ${avail0} free after the tap's receive ring took its share`);
    expect(avail0).toBeGreaterThan(0);
    expect(avail0).toBeLessThan(NBUFS);
    must(["ip", "link", "set", tap, "netns", env.ns]);
    must([...env.prefix, "ip", "addr", "add", "10.214.0.2/24", "dev", tap]);
    must([...env.prefix, "ip", "link", "set", tap, "up"]);
    // No stack answers ARP here: a static neighbour lets the kernel send straight away.
    must([...env.prefix, "ip", "neigh", "replace", target, "lladdr", open.mac as string, "dev", tap]);

    // Bounded in time by timeout(1) itself (killing the ip-netns-exec wrapper would leave hping3 running).
    const flood = env.spawn(["timeout", "-s", "KILL", "3", "hping3", "--flood", "--icmp", "-q", target]);
    child.send("hold");
    const held = await child.waitEv("held", 30_000);
    const hs = held.stats as Record<string, number>;
    console.log(`exhausted: held ${held.got} mbufs, pool avail ${held.avail}, stats ${JSON.stringify(hs)}`);
    expect(held.avail).toBe(0);
    expect(held.got).toBe(avail0);
    expect(hs.rxNoBuf).toBeGreaterThan(0);

    child.send("release");
    const rel = await child.waitEv("released", 10_000);
    expect(rel.freed).toBe(avail0);
    expect(rel.avail).toBe(avail0);
    await flood.exited;

    // After the flood: a paced burst of pings is received in full (bar what the kernel ring had queued).
    child.send("count 2500");
    const ping = env.exec(["ping", "-c", "50", "-i", "0.01", "-W", "1", target], { timeoutMs: 10_000 });
    const counted = await child.waitEv("counted", 10_000);
    console.log(`recovered: received ${counted.got} frames after the flood, pool avail ${counted.avail}; ping: ${ping.stdout.split("\n").find((l) => l.includes("transmitted"))}`);
    expect(counted.got as number).toBeGreaterThanOrEqual(50);
    expect(counted.avail).toBe(avail0);
    child.send("close");
    await child.waitEv("done", 10_000);
    expect((await child.exited()).code).toBe(0);
  }, 90_000);
});
