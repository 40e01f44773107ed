/**
 * Graceful shutdown and observability on a real device: the echo app over
 * net_af_packet on a veth, a kernel client in a namespace holding a connection
 * open. While it runs, /metrics (kernel port) shows the connection; on SIGTERM
 * with --shutdown drain the stack stops accepting, sends FIN, the client sees
 * EOF after its echo, the app logs a JSON "stopped" record (drained 1, reset
 * 0) and exits 0, and the pcap ring it wrote is readable by tshark and shows
 * the stack's FIN. With --shutdown reset the client sees a reset instead.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PYTHON, removeAllVethNs, run } from "../dpdk/helpers/netns";
import { interopSkipReason, makeLink, startApp } from "../dpdk/helpers/tcp-link";

const skip = interopSkipReason() ?? (existsSync("/usr/bin/tshark") ? null : "tshark not installed");
if (skip) console.log(`skip fault/shutdown: ${skip}`);
const dir = mkdtempSync(join(tmpdir(), "qs-shutdown-"));

afterAll(() => {
  removeAllVethNs();
  rmSync(dir, { recursive: true, force: true });
});

/** Connect, send "hello", expect it echoed, then report how the stream ended (EOF or reset). */
const CLIENT = `
import socket, sys, time
s = socket.create_connection((sys.argv[1], 7), timeout=20)
s.sendall(b"hello")
got = b""
while len(got) < 5:
    got += s.recv(100)
print("ECHO", got.decode(), flush=True)
try:
    rest = s.recv(100)
    print("EOF" if rest == b"" else "DATA", flush=True)
except ConnectionResetError:
    print("RESET", flush=True)
s.close()
`;

async function scenario(mode: "drain" | "reset", net: number) {
  const link = makeLink("af_packet", net);
  const pcap = join(dir, `${mode}.pcap`);
  const app = startApp("echo", [
    ...link.stackArgs, "--pcap", pcap, "--pcap-max-mb", "1", "--metrics-port", "0", "--log-format", "json", "--shutdown", mode,
  ]);
  try {
    await app.waitFor(/echo: up on/, 30_000);
    const url = JSON.parse((await app.waitFor(/\{[^\n]*"metrics endpoint up"[^\n]*\}/))[0]).url as string;
    const client = Bun.spawn([...link.env.prefix, PYTHON, "-c", CLIENT, link.stackIp], { stdout: "pipe", stderr: "pipe" });
    const out = client.stdout.getReader();
    let first = "";
    while (!first.includes("\n")) {
      const r = await out.read();
      if (r.done) break;
      first += new TextDecoder().decode(r.value);
    }
    expect(first).toContain("ECHO hello");
    const metrics = await (await fetch(url)).text();
    expect(metrics).toMatch(/^qstack_tcp_connections 1$/m);
    expect(metrics).toMatch(/^qstack_tcp_passive_opens_total 1$/m);
    const code = await app.stop(10_000);
    let rest = first;
    for (;;) {
      const r = await out.read();
      if (r.done) break;
      rest += new TextDecoder().decode(r.value);
    }
    await client.exited;
    const stopped = JSON.parse((await app.waitFor(/\{[^\n]*"msg":"stopped"[^\n]*\}/))[0]);
    return { code, client: rest, stopped, pcap, log: app.stdout + app.stderr };
  } finally {
    if (app.proc.exitCode === null) app.proc.kill(9);
    link.remove();
  }
}

describe.skipIf(skip !== null)("graceful shutdown over net_af_packet", () => {
  test("SIGTERM with --shutdown drain: FIN to the client, JSON stop record, exit 0, pcap readable by tshark", async () => {
    const r = await scenario("drain", 231);
    if (r.code !== 0) console.log(r.log);
    expect(r.code).toBe(0);
    expect(r.client).toContain("EOF");
    expect(r.stopped).toMatchObject({ level: "info", mode: "drain", drained: 1, reset: 0, timedOut: false });
    const t = run(["tshark", "-r", r.pcap, "-Y", "tcp.flags.fin == 1 && ip.src == 10.231.0.1", "-T", "fields", "-e", "tcp.srcport"], { timeoutMs: 30_000 });
    expect(t.code).toBe(0);
    expect(t.stdout.trim().split("\n")).toContain("7");
  }, 60_000);

  test("SIGTERM with --shutdown reset: the client sees a reset", async () => {
    const r = await scenario("reset", 232);
    if (r.code !== 0) console.log(r.log);
    expect(r.code).toBe(0);
    expect(r.client).toContain("RESET");
    expect(r.stopped).toMatchObject({ mode: "reset", drained: 0, reset: 1 });
  }, 60_000);
});
