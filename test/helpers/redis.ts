/**
 * Real Redis servers for tests (Debian's redis-server, no mocks):
 *
 *   const r = await RedisServer.start();      // Unix socket in a fresh temp dir
 *   ... r.socketPath ...
 *   await r.kill(); await r.restart();        // crash and come back on the same socket
 *   await r.stop();                           // stops and removes the temp dir
 *
 *   const c = await RedisCluster.start(3);    // 3 masters on 127.0.0.1, slots assigned
 *   ... c.nodes ("127.0.0.1:P,...") ...
 *   await c.stop();
 *
 * Nothing is persisted (no RDB, no AOF). `redisAvailable()` says whether the
 * binaries are installed, so suites can skip with a reason when they are not.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createConnection } from "node:net";

export const REDIS_SERVER = "/usr/bin/redis-server";
export const REDIS_CLI = "/usr/bin/redis-cli";

export function redisAvailable(): boolean {
  return existsSync(REDIS_SERVER) && existsSync(REDIS_CLI);
}

const BASE_ARGS = ["--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning", "--databases", "16"];

/** Send one inline command over a socket and return the raw reply (for readiness checks; no client library). */
function rawCommand(target: { path: string } | { port: number; host: string }, cmd: string, timeoutMs = 500): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = "path" in target ? createConnection(target.path) : createConnection(target.port, target.host);
    let buf = "";
    const t = setTimeout(() => {
      sock.destroy();
      reject(new Error("timeout"));
    }, timeoutMs);
    sock.on("connect", () => sock.write(cmd + "\r\n"));
    sock.on("data", (d) => {
      buf += d.toString();
      if (buf.endsWith("\r\n")) {
        clearTimeout(t);
        sock.end();
        resolve(buf);
      }
    });
    sock.on("error", (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

async function waitUntil(what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      if (await ok()) return;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

/** One redis-server listening only on a Unix socket. */
export class RedisServer {
  private proc: Bun.Subprocess | null = null;
  private constructor(
    readonly dir: string,
    readonly socketPath: string,
  ) {}

  static async start(): Promise<RedisServer> {
    const dir = mkdtempSync(join(tmpdir(), "iotep-redis-"));
    const r = new RedisServer(dir, join(dir, "redis.sock"));
    await r.launch();
    return r;
  }

  get pid(): number {
    return this.proc?.pid ?? -1;
  }

  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  private async launch(): Promise<void> {
    this.proc = Bun.spawn([REDIS_SERVER, "--port", "0", "--unixsocket", this.socketPath, "--unixsocketperm", "700", "--dir", this.dir, ...BASE_ARGS], {
      stdout: "ignore",
      stderr: "pipe",
      stdin: "ignore",
    });
    await waitUntil(`redis-server on ${this.socketPath}`, 5000, async () => (await rawCommand({ path: this.socketPath }, "PING")).startsWith("+PONG"));
  }

  /** Run a redis-cli command against this server; returns trimmed stdout. */
  async cli(...args: string[]): Promise<string> {
    const p = Bun.spawn([REDIS_CLI, "-s", this.socketPath, ...args], { stdout: "pipe", stderr: "pipe" });
    const out = await new Response(p.stdout).text();
    await p.exited;
    return out.trim();
  }

  /** Run a redis-cli command and return its raw stdout bytes without the final newline (binary values). */
  async cliBytes(...args: string[]): Promise<Uint8Array> {
    const p = Bun.spawn([REDIS_CLI, "-s", this.socketPath, ...args], { stdout: "pipe", stderr: "pipe" });
    const out = new Uint8Array(await new Response(p.stdout).arrayBuffer());
    await p.exited;
    return out.length > 0 && out[out.length - 1] === 0x0a ? out.subarray(0, out.length - 1) : out;
  }

  /** SIGKILL the server (a crash: in-flight commands get no replies). */
  async kill(): Promise<void> {
    const p = this.proc;
    if (p === null) return;
    p.kill("SIGKILL");
    await p.exited;
    this.proc = null;
    rmSync(this.socketPath, { force: true });
  }

  /** Start again on the same socket (after kill). Data is gone (nothing was persisted). */
  async restart(): Promise<void> {
    if (this.running) await this.kill();
    await this.launch();
  }

  /** Stop the server and remove its directory. */
  async stop(): Promise<void> {
    const p = this.proc;
    if (p !== null) {
      p.kill("SIGTERM");
      const t = setTimeout(() => p.kill("SIGKILL"), 3000);
      await p.exited;
      clearTimeout(t);
      this.proc = null;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Is TCP port `port` on 127.0.0.1 free to listen on? */
function portFree(port: number): boolean {
  try {
    const s = Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } });
    s.stop(true);
    return true;
  } catch {
    return false;
  }
}

/** A Redis Cluster of `n` masters (no replicas) on 127.0.0.1, all 16384 slots assigned. */
export class RedisCluster {
  private readonly procs: Bun.Subprocess[] = [];
  private constructor(
    readonly dir: string,
    readonly ports: number[],
  ) {}

  /** "127.0.0.1:P1,127.0.0.1:P2,..." as --redis-cluster takes it. */
  get nodes(): string {
    return this.ports.map((p) => `127.0.0.1:${p}`).join(",");
  }

  static async start(n = 3): Promise<RedisCluster> {
    const dir = mkdtempSync(join(tmpdir(), "iotep-cluster-"));
    // Ports P and the cluster bus P + 10000 must both be free.
    const ports: number[] = [];
    for (let tries = 0; ports.length < n && tries < 500; tries++) {
      const p = 20000 + Math.floor(Math.random() * 20000);
      if (!ports.includes(p) && portFree(p) && portFree(p + 10000)) ports.push(p);
    }
    if (ports.length < n) throw new Error("no free ports for a Redis Cluster");
    const c = new RedisCluster(dir, ports);
    try {
      for (const p of ports) {
        c.procs.push(
          Bun.spawn(
            [REDIS_SERVER, "--port", String(p), "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-config-file", join(dir, `nodes-${p}.conf`), "--cluster-node-timeout", "3000", "--dir", dir, ...BASE_ARGS],
            { stdout: "ignore", stderr: "pipe", stdin: "ignore" },
          ),
        );
      }
      for (const p of ports) {
        await waitUntil(`cluster node ${p}`, 5000, async () => (await rawCommand({ host: "127.0.0.1", port: p }, "PING")).startsWith("+PONG"));
      }
      const create = Bun.spawn([REDIS_CLI, "--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"], { stdout: "pipe", stderr: "pipe" });
      const out = await new Response(create.stdout).text();
      if ((await create.exited) !== 0) throw new Error(`redis-cli --cluster create failed:\n${out}`);
      for (const p of ports) {
        await waitUntil(`cluster_state:ok on ${p}`, 10000, async () => (await c.cli(p, "CLUSTER", "INFO")).includes("cluster_state:ok"));
      }
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  /** redis-cli against node `port` (-c follows MOVED redirections). */
  async cli(port: number, ...args: string[]): Promise<string> {
    const p = Bun.spawn([REDIS_CLI, "-c", "-h", "127.0.0.1", "-p", String(port), ...args], { stdout: "pipe", stderr: "pipe" });
    const out = await new Response(p.stdout).text();
    await p.exited;
    return out.trim();
  }

  /** Like cli, raw stdout bytes without the final newline. */
  async cliBytes(port: number, ...args: string[]): Promise<Uint8Array> {
    const p = Bun.spawn([REDIS_CLI, "-c", "-h", "127.0.0.1", "-p", String(port), ...args], { stdout: "pipe", stderr: "pipe" });
    const out = new Uint8Array(await new Response(p.stdout).arrayBuffer());
    await p.exited;
    return out.length > 0 && out[out.length - 1] === 0x0a ? out.subarray(0, out.length - 1) : out;
  }

  async stop(): Promise<void> {
    for (const p of this.procs) p.kill("SIGTERM");
    for (const p of this.procs) {
      const t = setTimeout(() => p.kill("SIGKILL"), 3000);
      await p.exited;
      clearTimeout(t);
    }
    this.procs.length = 0;
    rmSync(this.dir, { recursive: true, force: true });
  }
}
