/**
 * httpd: an HTTP/1.1 static file server on the stack (RFC 9110, RFC 9112):
 * GET and HEAD, persistent connections (keep-alive by default, "Connection:
 * close" honoured), Content-Length, 404 / 400 / 405 / 505, pipelined requests
 * answered in order, large files streamed with backpressure.
 *
 *   bun run httpd --vdev net_af_packet0,iface=veth0 --ip 10.0.0.1/24 --root ./public --port 80
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { resolve, sep } from "node:path";
import { ConfigError } from "../src/api/errors";
import type { TcpSocket } from "../src/api/tcp-sockets";
import { onStopSignal, parseAppArgs, runMain, startStack } from "./common";
import { HttpRequestParser } from "./http-parser";

const spec = {
  name: "httpd",
  usage: "bun run httpd [stack flags] [--root DIR] [--port N]",
  about: "Serves the files under --root over HTTP/1.1 (GET, HEAD, keep-alive).",
  flags: [
    { name: "root", type: "string" as const, arg: "DIR", default: ".", help: "directory to serve" },
    { name: "port", short: "p", type: "int" as const, arg: "N", default: 80, min: 1, max: 65535, help: "TCP port" },
    { name: "duration", type: "number" as const, arg: "S", min: 0, help: "stop after S seconds" },
  ],
};

const CHUNK = 64 * 1024;
const enc = new TextEncoder();

interface Conn {
  parser: HttpRequestParser;
  /** File being streamed, or -1. */
  fd: number;
  remaining: number;
  buf: Uint8Array;
  /** Unsent tail of buf. */
  pendOff: number;
  pendLen: number;
  closeAfter: boolean;
}

function statusLine(code: number): string {
  const reason: Record<number, string> = { 200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 505: "HTTP Version Not Supported" };
  return `HTTP/1.1 ${code} ${reason[code] ?? "Error"}\r\n`;
}

const TYPES: Record<string, string> = { html: "text/html; charset=utf-8", txt: "text/plain; charset=utf-8", json: "application/json", css: "text/css", js: "text/javascript" };

runMain("httpd", async () => {
  const args = parseAppArgs(spec);
  const root = resolve(args.values["root"] as string);
  try {
    if (!statSync(root).isDirectory()) throw new Error();
  } catch {
    throw new ConfigError(`--root ${root}: not a directory`);
  }
  const port = args.values["port"] as number;
  const rs = await startStack(args.values);
  let requests = 0;

  /** Push queued bytes and file data until the send buffer is full or the response is done. */
  const pump = (s: TcpSocket<Conn>): void => {
    const c = s.data;
    for (;;) {
      if (c.pendLen > 0) {
        const n = s.write(c.buf, c.pendOff, c.pendLen);
        if (n < 0) return;
        c.pendOff += n;
        c.pendLen -= n;
        if (c.pendLen > 0) return; // wait for drain
      }
      if (c.fd >= 0 && c.remaining > 0) {
        const want = Math.min(CHUNK, c.remaining);
        const got = readSync(c.fd, c.buf, 0, want, null);
        if (got <= 0) {
          s.terminate(); // file shrank under us: cannot keep Content-Length
          return;
        }
        c.remaining -= got;
        c.pendOff = 0;
        c.pendLen = got;
        continue;
      }
      if (c.fd >= 0) {
        closeSync(c.fd);
        c.fd = -1;
      }
      if (c.closeAfter) {
        s.end();
        return;
      }
      // Response finished: serve the next pipelined request, if any.
      if (!serveNext(s)) return;
    }
  };

  const queueText = (c: Conn, text: string): void => {
    const b = enc.encode(text);
    if (b.length > c.buf.length) c.buf = new Uint8Array(b.length);
    c.buf.set(b, 0);
    c.pendOff = 0;
    c.pendLen = b.length;
  };

  /** Start the response to the next complete request; false when none is waiting. */
  const serveNext = (s: TcpSocket<Conn>): boolean => {
    const c = s.data;
    const req = c.parser.next();
    if (req === null) return false;
    requests++;
    const date = new Date().toUTCString();
    const common = `Date: ${date}\r\nServer: qstack-bun-httpd\r\n`;
    if (req.error !== 0) {
      c.closeAfter = true;
      queueText(c, `${statusLine(req.error)}${common}Content-Length: 0\r\nConnection: close\r\n\r\n`);
      return true;
    }
    c.closeAfter = !req.keepAlive;
    const conn = c.closeAfter ? "Connection: close\r\n" : "Connection: keep-alive\r\n";
    if (req.method !== "GET" && req.method !== "HEAD") {
      queueText(c, `${statusLine(405)}${common}Allow: GET, HEAD\r\nContent-Length: 0\r\n${conn}\r\n`);
      return true;
    }
    let path: string;
    try {
      path = decodeURIComponent(req.target.split("?")[0]!);
    } catch {
      path = "\0";
    }
    const file = resolve(root, "." + path);
    let size = -1;
    if (!path.includes("\0") && (file === root || file.startsWith(root + sep))) {
      try {
        const st = statSync(file.endsWith(sep) || file === root ? resolve(file, "index.html") : file);
        if (st.isFile()) size = st.size;
      } catch {
        size = -1;
      }
    }
    if (size < 0) {
      const body = "not found\n";
      queueText(c, `${statusLine(404)}${common}Content-Type: text/plain\r\nContent-Length: ${body.length}\r\n${conn}\r\n${req.method === "HEAD" ? "" : body}`);
      return true;
    }
    const real = file === root || file.endsWith(sep) ? resolve(file, "index.html") : file;
    const ext = real.slice(real.lastIndexOf(".") + 1).toLowerCase();
    queueText(c, `${statusLine(200)}${common}Content-Type: ${TYPES[ext] ?? "application/octet-stream"}\r\nContent-Length: ${size}\r\n${conn}\r\n`);
    if (req.method === "GET" && size > 0) {
      c.fd = openSync(real, "r");
      c.remaining = size;
    }
    return true;
  };

  rs.sockets.listen<Conn>({
    port,
    backlog: 4096,
    data: undefined as unknown as Conn,
    socket: {
      open(s) {
        s.data = { parser: new HttpRequestParser(), fd: -1, remaining: 0, buf: new Uint8Array(CHUNK), pendOff: 0, pendLen: 0, closeAfter: false };
      },
      data(s, d) {
        const c = s.data;
        c.parser.push(d);
        if (c.parser.overflow) {
          c.closeAfter = true;
        }
        // Idle connection: start on the new request(s); otherwise the running response picks them up.
        if (c.fd < 0 && c.pendLen === 0) {
          if (serveNext(s)) pump(s);
        }
      },
      drain(s) {
        pump(s);
      },
      end(s) {
        const c = s.data;
        if (c.fd < 0 && c.pendLen === 0 && !c.parser.hasRequest()) s.end();
        else c.closeAfter = true;
      },
      close(s) {
        const c = s.data;
        if (c !== undefined && c.fd >= 0) closeSync(c.fd);
      },
    },
  });
  console.log(`httpd: serving ${root} on port ${port}`);
  const duration = args.values["duration"] as number | undefined;
  const reason = await Promise.race([onStopSignal(), duration !== undefined ? Bun.sleep(duration * 1000).then(() => "duration") : new Promise<string>(() => {})]);
  console.log(`httpd: stopping (${reason}) after ${requests} requests`);
  await rs.shutdown();
  return 0;
});
