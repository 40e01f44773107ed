/**
 * The epoll-style API by connection id, over two full stacks in virtual time:
 * an echo server without a JS object per connection, and events of high-class
 * packets handed out before earlier low-class ones.
 */
import { describe, expect, test } from "bun:test";
import { classifierFromSpec } from "../../src/api/classifier-spec";
import { EPOLLHUP, EPOLLIN, EPOLLRDHUP } from "../../src/api/tcp-epoll";
import type { TcpSocket } from "../../src/api/tcp-sockets";
import { StackPair } from "../helpers/stack-pair";

describe("TcpEpoll", () => {
  test("an id-based echo server answers, sees the peer's FIN as EPOLLRDHUP and closes", () => {
    const p = new StackPair({ bApi: "epoll" });
    const ep = p.eb!;
    const l = ep.listen(0, 7, 16);
    expect(l).toBeGreaterThanOrEqual(ep.listenerBase);
    expect(ep.poll.ctl("add", l, EPOLLIN, 1)).toBe(0);
    const got: string[] = [];
    let closed = false;
    void p.sa.connect({
      hostname: "10.0.0.2",
      port: 7,
      socket: {
        open: (s) => {
          s.write("hello");
          s.shutdown();
        },
        data: (_s, d) => void got.push(new TextDecoder().decode(d)),
        end: (s) => s.end(),
        close: () => void (closed = true),
      },
    });
    const out = new Int32Array(64);
    const buf = new Uint8Array(1024);
    const server = {
      poll: () => {
        let work = 0;
        const n = ep.poll.wait(out, 32);
        for (let i = 0; i < n; i++) {
          const id = out[2 * i]!;
          const ev = out[2 * i + 1]!;
          work++;
          if (id === l) {
            for (let c = ep.accept(l); c >= 0; c = ep.accept(l)) ep.poll.ctl("add", c, EPOLLIN | EPOLLRDHUP, 1);
            continue;
          }
          for (;;) {
            const r = ep.tcp.recv(id, buf, 0, buf.length);
            if (r > 0) ep.tcp.send(id, buf, 0, r);
            else {
              if (r === 0 && (ev & (EPOLLRDHUP | EPOLLHUP)) !== 0) {
                ep.poll.ctl("del", id);
                ep.tcp.close(id);
              }
              break;
            }
          }
        }
        return work;
      },
      pollAt: () => Number.POSITIVE_INFINITY,
    };
    p.b.addAppStage(server);
    p.run(p.clock.nowUs + 5_000_000, () => closed);
    expect(got.join("")).toBe("hello");
    expect(closed).toBe(true);
  });

  test("events of high-class packets come out of wait before earlier low-class ones", () => {
    const p = new StackPair({ bApi: "epoll", classifyB: classifierFromSpec("port:80") });
    const ep = p.eb!;
    const ids: number[] = [];
    for (const port of [80, 81]) {
      const l = ep.listen(0, port, 4);
      ep.poll.ctl("add", l, EPOLLIN, 1);
    }
    const socks: Record<number, TcpSocket<undefined>> = {};
    for (const port of [80, 81]) void p.sa.connect({ hostname: "10.0.0.2", port, noDelay: true, socket: { open: (s) => void (socks[port] = s) } });
    const out = new Int32Array(64);
    // Accept both and register them, level-triggered, at the low class.
    p.run(p.clock.nowUs + 100_000, () => socks[80] !== undefined && socks[81] !== undefined);
    p.run(p.clock.nowUs + 10_000);
    const n = ep.poll.wait(out, 32);
    for (let i = 0; i < n; i++) {
      const lid = out[2 * i]!;
      for (let c = ep.accept(lid); c >= 0; c = ep.accept(lid)) {
        ep.poll.ctl("add", c, EPOLLIN, 1);
        ids.push(c);
      }
    }
    expect(ids.length).toBe(2);
    socks[81]!.write("low");
    socks[80]!.write("high");
    p.run(p.clock.nowUs + 10_000);
    const m = ep.poll.wait(out, 32);
    expect(m).toBe(2);
    const first = out[0]!;
    expect(ep.tcp.localPort(first)).toBe(80);
    expect(ep.tcp.localPort(out[2]!)).toBe(81);
  });
});
