/**
 * nc: a netcat-compatible subset on the stack.
 *
 *   bun run nc [stack flags] HOST PORT      connect
 *   bun run nc [stack flags] -l -p PORT     listen for one connection
 *
 * stdin goes to the socket and the socket to stdout. At stdin EOF the sending
 * side is half-closed (FIN); nc exits when both directions are done: our FIN
 * acknowledged and the peer's FIN received (or on reset, with status 1).
 */
import { parseIpv4 } from "../src/wire/ip-addr";
import { ConfigError } from "../src/api/errors";
import type { TcpSocket } from "../src/api/tcp-sockets";
import { TcpState } from "../src/tcp/state";
import { onStopSignal, parseAppArgs, runMain, startStack } from "./common";

const spec = {
  name: "nc",
  usage: "bun run nc [stack flags] HOST PORT | bun run nc [stack flags] -l -p PORT",
  about: "Copies stdin to a TCP connection and the connection to stdout, over the user-space stack.",
  flags: [
    { name: "listen", short: "l", type: "bool" as const, help: "listen for one incoming connection instead of connecting" },
    { name: "port", short: "p", type: "int" as const, arg: "PORT", min: 1, max: 65535, help: "local port (with -l)" },
    { name: "wait", short: "w", type: "number" as const, arg: "S", min: 0, help: "give up connecting after S seconds" },
    { name: "quiet", short: "q", type: "bool" as const, help: "no status lines on stderr" },
  ],
};

runMain("nc", async () => {
  const args = parseAppArgs(spec);
  const v = args.values;
  const listen = v["listen"] === true;
  let host = "";
  let port = 0;
  if (listen) {
    port = (v["port"] as number | undefined) ?? Number(args.positionals[0] ?? NaN);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError("-l needs a port: -l -p PORT");
  } else {
    if (args.positionals.length !== 2) throw new ConfigError("expected HOST PORT (or -l -p PORT to listen)");
    host = args.positionals[0]!;
    port = Number(args.positionals[1]);
    if (parseIpv4(host) === -1) throw new ConfigError(`${host}: expected an IPv4 address (no name resolution on the stack)`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ConfigError(`${args.positionals[1]}: expected a port 1..65535`);
  }
  const quiet = v["quiet"] === true;
  const rs = await startStack(v);
  const out = Bun.stdout.writer();
  const stdin = Bun.stdin.stream().getReader();

  let sock: TcpSocket<undefined> | null = null;
  let pending: Uint8Array | null = null;
  let stdinDone = false;
  let peerDone = false;
  let failed = false;
  let finished!: (code: number) => void;
  const done = new Promise<number>((r) => (finished = r));
  let readerWaiting: (() => void) | null = null;

  const pump = async (s: TcpSocket<undefined>) => {
    for (;;) {
      if (pending === null) {
        const r = await stdin.read();
        if (r.done) {
          stdinDone = true;
          s.shutdown();
          return;
        }
        pending = r.value;
      }
      while (pending !== null) {
        const n = s.write(pending);
        if (n < 0) return;
        if (n === pending.length) pending = null;
        else {
          pending = pending.subarray(n);
          await new Promise<void>((r) => (readerWaiting = r));
        }
      }
    }
  };

  const handler = {
    open(s: TcpSocket<undefined>) {
      sock = s;
      if (!quiet) console.error(`nc: connected ${s.localAddress}:${s.localPort} <-> ${s.remoteAddress}:${s.remotePort}`);
      void pump(s);
    },
    data(_s: TcpSocket<undefined>, d: Uint8Array) {
      out.write(d);
    },
    drain() {
      const w = readerWaiting;
      readerWaiting = null;
      if (w) w();
    },
    end() {
      peerDone = true;
      void out.flush();
    },
    close(_s: TcpSocket<undefined>, err?: Error) {
      if (err) {
        failed = true;
        if (!quiet) console.error(`nc: ${err.message}`);
      }
      finished(failed ? 1 : 0);
    },
    connectError(_s: TcpSocket<undefined>, err: Error) {
      if (!quiet) console.error(`nc: ${err.message}`);
      finished(1);
    },
  };

  if (listen) {
    const l = rs.sockets.listen({
      port,
      backlog: 1,
      socket: {
        ...handler,
        open(s: TcpSocket<undefined>) {
          l.stop();
          handler.open(s);
        },
      },
    });
    if (!quiet) console.error(`nc: listening on ${rs.cfg.ip >>> 24}.${(rs.cfg.ip >>> 16) & 255}.${(rs.cfg.ip >>> 8) & 255}.${rs.cfg.ip & 255}:${port}`);
  } else {
    const wait = v["wait"] as number | undefined;
    rs.sockets.connect({ hostname: host, port, socket: handler }).catch(() => {});
    if (wait !== undefined) setTimeout(() => sock === null && finished(1), wait * 1000);
  }

  // Both directions done: the peer's FIN arrived and ours was acknowledged
  // (FIN-WAIT-2 / TIME-WAIT / CLOSED), then give the socket back.
  const check = setInterval(() => {
    if (sock === null || !stdinDone || !peerDone) return;
    const st = rs.sockets.tcp.state(sock.id);
    if (st === TcpState.TimeWait || st === TcpState.Closed || st === TcpState.FinWait2) {
      sock.end();
      finished(failed ? 1 : 0);
    }
  }, 1);
  const code = await Promise.race([done, onStopSignal().then(() => 130)]);
  clearInterval(check);
  await out.flush();
  await rs.shutdown();
  return code;
});
