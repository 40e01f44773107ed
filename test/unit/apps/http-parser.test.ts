import { describe, expect, test } from "bun:test";
import { HttpRequestParser } from "../../../apps/http-parser";

const enc = new TextEncoder();

describe("HTTP/1.1 request parser (RFC 9112)", () => {
  test("a request split across pushes is parsed once complete", () => {
    const p = new HttpRequestParser();
    p.push(enc.encode("GET /a.txt HTTP/1.1\r\nHo"));
    expect(p.next()).toBeNull();
    p.push(enc.encode("st: x\r\n\r\n"));
    const r = p.next()!;
    expect(r).toMatchObject({ method: "GET", target: "/a.txt", version: "HTTP/1.1", keepAlive: true, error: 0 });
    expect(p.next()).toBeNull();
  });

  test("pipelined requests come out in order with their own persistence", () => {
    const p = new HttpRequestParser();
    p.push(enc.encode("HEAD / HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\nConnection: close\r\n\r\nGET /y HTTP/1.0\r\n\r\n"));
    expect(p.next()).toMatchObject({ method: "HEAD", keepAlive: true });
    expect(p.next()).toMatchObject({ target: "/x", keepAlive: false });
    expect(p.next()).toMatchObject({ target: "/y", keepAlive: false });
    expect(p.next()).toBeNull();
  });

  test("HTTP/1.0 persists only with keep-alive (RFC 9112 9.3)", () => {
    const p = new HttpRequestParser();
    p.push(enc.encode("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    expect(p.next()!.keepAlive).toBe(true);
  });

  test("malformed request lines, bodies, unknown versions and huge heads are refused", () => {
    const cases: [string, number][] = [
      ["GARBAGE\r\n\r\n", 400],
      ["GET / HTTP/2.0\r\n\r\n", 505],
      ["POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", 400],
      ["GET / HTTP/1.1\r\nbad header line\r\n\r\n", 400],
    ];
    for (const [text, code] of cases) {
      const p = new HttpRequestParser();
      p.push(enc.encode(text));
      expect(p.next()!.error).toBe(code);
    }
    const p = new HttpRequestParser();
    p.push(enc.encode("GET / HTTP/1.1\r\n" + "X: " + "a".repeat(20000)));
    expect(p.next()!.error).toBe(400);
  });
});
