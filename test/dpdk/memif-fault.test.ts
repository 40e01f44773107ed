/**
 * memif faults between two stack processes (issue 7): the echo app (memif server) and nc
 * (memif client) exchange data; nc is SIGKILLed mid-stream, three times over. The echo app
 * must not crash (FACTS: a memif receiver could segfault reading a vanished peer's ring), its
 * link goes down (qstack_link_up 0 on /metrics, Device.linkUp()), and when a new nc process
 * comes back on the same socket the link comes up and carries a new connection. Then the other
 * way round: the server is killed under a streaming client, which must not die of a signal.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { shimBuilt } from "../../ffi/shim";
import { AppProcess } from "../helpers/app-process";
import { isRoot, run } from "./helpers/netns";
import { scrape } from "./helpers/scapy";

run(["bash", `${import.meta.dir}/../../scripts/build-shim`], { timeoutMs: 120_000 });
const skip = !shimBuilt() ? "the DPDK shim is not built (run npm run setup)" : !isRoot ? "not root (DPDK vdevs need root here)" : null;
if (skip) console.log(`skip dpdk/memif-fault: ${skip}`);

const sock = `/tmp/qs-memif-fault-${process.pid}-${Math.random().toString(36).slice(2, 8)}.sock`;
const apps: AppProcess[] = [];
const SERVER_IP = "10.213.0.1";

afterAll(() => {
  for (const a of apps) if (a.proc.exitCode === null) a.proc.kill(9);
  rmSync(sock, { force: true });
});

function memif(role: "server" | "client"): string[] {
  return ["--vdev", `net_memif0,role=${role},id=0,socket=${sock},socket-abstract=no`, "--no-huge", "--status=false"];
}

function startEcho(): AppProcess {
  const a = new AppProcess("echo", [...memif("server"), "--ip", `${SERVER_IP}/24`, "--metrics-port", "0", "--log-format", "json", "--stats"]);
  apps.push(a);
  return a;
}

function startNc(): AppProcess {
  const a = new AppProcess("nc", [...memif("client"), "--ip", "10.213.0.2/24", "-w", "10", SERVER_IP, "7"], { stdin: "pipe" });
  apps.push(a);
  return a;
}

async function linkUp(url: string): Promise<number> {
  return (await scrape(url)).get("qstack_link_up") ?? -1;
}

async function waitMetric(url: string, want: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if ((await linkUp(url)) === want) return true;
    await Bun.sleep(50);
  }
  return false;
}

/** Write `text` on nc's stdin and wait for it on its stdout. */
async function echoed(nc: AppProcess, text: string, ms = 20_000): Promise<boolean> {
  const stdin = nc.proc.stdin as unknown as { write(s: string): void; flush(): void };
  stdin.write(text);
  stdin.flush();
  await nc.waitFor(new RegExp(text), ms);
  return true;
}

describe.skipIf(skip !== null)("memif: a peer stack process killed mid-run", () => {
  test("the survivor sees the link down, keeps serving its metrics, and carries new connections when a new peer comes", async () => {
    const echo = startEcho();
    const url = JSON.parse((await echo.waitFor(/\{[^\n]*"metrics endpoint up"[^\n]*\}/, 30_000))[0]).url as string;
    await echo.waitFor(/echo: up on/, 30_000);
    for (let round = 0; round < 3; round++) {
      const nc = startNc();
      expect(await echoed(nc, `hello-${round}-`)).toBe(true);
      expect(await linkUp(url)).toBe(1);
      // Stream for a while, then kill the peer mid-stream.
      const stdin = nc.proc.stdin as unknown as { write(s: string): void; flush(): void };
      const chunk = "x".repeat(1000);
      const end = Date.now() + 500;
      while (Date.now() < end) {
        stdin.write(chunk);
        stdin.flush();
        await Bun.sleep(1);
      }
      nc.proc.kill(9);
      await nc.exited;
      const down = await waitMetric(url, 0, 10_000);
      console.log(`round ${round}: peer killed; survivor link down seen: ${down}; survivor alive: ${echo.proc.exitCode === null}`);
      expect(down).toBe(true);
      expect(echo.proc.exitCode).toBeNull();
    }
    // A new peer: the link comes back and carries a new connection.
    const nc = startNc();
    expect(await echoed(nc, "after-recovery")).toBe(true);
    expect(await linkUp(url)).toBe(1);
    nc.proc.kill(9);
    await nc.exited;
    expect(await waitMetric(url, 0, 10_000)).toBe(true);
    const code = await echo.stop(10_000);
    expect(code).toBe(0);
    const stats = JSON.parse(echo.stdout.split("\n").find((l) => l.startsWith("{\"net\""))!) as { tcp: Record<string, number> };
    expect(stats.tcp.passiveOpens).toBe(4);
  }, 180_000);

  test("the client survives its server being killed mid-stream", async () => {
    const echo = startEcho();
    await echo.waitFor(/echo: up on/, 30_000);
    const nc = startNc();
    expect(await echoed(nc, "before-kill")).toBe(true);
    const stdin = nc.proc.stdin as unknown as { write(s: string): void; flush(): void };
    const chunk = "y".repeat(1000);
    let end = Date.now() + 500;
    while (Date.now() < end) {
      stdin.write(chunk);
      stdin.flush();
      await Bun.sleep(1);
    }
    echo.proc.kill(9);
    await echo.exited;
    // Keep the client busy on the dead link for a while; it must not die of a signal.
    end = Date.now() + 1500;
    while (Date.now() < end && nc.proc.exitCode === null) {
      try {
        stdin.write(chunk);
        stdin.flush();
      } catch {
        break;
      }
      await Bun.sleep(5);
    }
    const sig = nc.proc.signalCode;
    console.log(`client after server kill: exit ${nc.proc.exitCode} signal ${sig}`);
    expect(sig === null || sig === undefined).toBe(true);
    if (nc.proc.exitCode === null) await nc.stop(5000);
    expect(nc.proc.signalCode === "SIGSEGV" || nc.proc.signalCode === "SIGBUS").toBe(false);
  }, 120_000);
});
