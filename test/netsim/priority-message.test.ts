/**
 * Message mode end to end: two stacks over a PairDevice in virtual time, B
 * classifying payloads starting with "H" as high. A high message reaches B's
 * app before earlier low data still unread; byte-stream sockets are unchanged;
 * a SEND_AHEAD write overtakes unsent low data.
 */
import { describe, expect, test } from "bun:test";
import { classifierFromSpec } from "../../src/api/classifier-spec";
import { SEND_AHEAD, type TcpSocket } from "../../src/api/tcp-sockets";
import { StackPair } from "../helpers/stack-pair";

const dec = new TextDecoder();

function setup(messageMode: boolean, tcp = {}) {
  const p = new StackPair({ classifyB: classifierFromSpec("byte:0=0x48"), tcp });
  const got: { text: string; cls: number }[] = [];
  let server: TcpSocket<undefined> | undefined;
  p.sb.listen({
    port: 80,
    messageMode,
    socket: {
      open: (s) => void (server = s),
      data: (s, d) => void got.push({ text: dec.decode(d), cls: s.messageClass }),
    },
  });
  let client: TcpSocket<undefined> | undefined;
  void p.sa.connect({ hostname: "10.0.0.2", port: 80, noDelay: true, socket: { open: (s) => void (client = s) } });
  p.run(p.clock.nowUs + 50_000, () => client !== undefined && server !== undefined);
  return { p, got, client: client!, server: server! };
}

describe("message mode over two stacks", () => {
  test("a high message overtakes earlier low data the app has not read yet", () => {
    const { p, got, client, server } = setup(true);
    server.pause();
    client.write("low-1;");
    p.run(p.clock.nowUs + 5_000);
    client.write("low-2;");
    p.run(p.clock.nowUs + 5_000);
    client.write("HIGH!");
    p.run(p.clock.nowUs + 5_000);
    expect(got).toEqual([]);
    server.resume();
    p.run(p.clock.nowUs + 5_000, () => got.length >= 2);
    expect(got[0]).toEqual({ text: "HIGH!", cls: 0 });
    expect(got.slice(1).map((g) => g.text).join("")).toBe("low-1;low-2;");
    expect(got.slice(1).every((g) => g.cls === -1)).toBe(true);
  });

  test("byte-stream sockets (the default) keep arrival order with the same classifier", () => {
    const { p, got, client, server } = setup(false);
    server.pause();
    client.write("low-1;");
    p.run(p.clock.nowUs + 5_000);
    client.write("HIGH!");
    p.run(p.clock.nowUs + 5_000);
    server.resume();
    p.run(p.clock.nowUs + 5_000, () => got.length >= 1);
    expect(got.map((g) => g.text).join("")).toBe("low-1;HIGH!");
    expect(got.every((g) => g.cls === -1)).toBe(true);
  });

  test("SEND_AHEAD: a message written after low data still unsent is received before it", () => {
    // B's small receive buffer closes A's window, so most of A's low data waits unsent at A.
    const { p, got, client, server } = setup(true, { rcvBufBytes: 4096, sndBufBytes: 65536 });
    server.pause();
    const low = "l".repeat(20_000);
    expect(client.write(low)).toBe(20_000);
    p.run(p.clock.nowUs + 20_000);
    expect(client.write("HIGH-ahead", 0, undefined, SEND_AHEAD)).toBe(10);
    server.resume();
    p.run(p.clock.nowUs + 2_000_000, () => got.map((g) => g.text).join("").length >= 20_010);
    const all = got.map((g) => g.text).join("");
    expect(all.length).toBe(20_010);
    const hi = got.findIndex((g) => g.text === "HIGH-ahead");
    expect(hi).toBeGreaterThanOrEqual(0);
    expect(got[hi]!.cls).toBe(0);
    // It came before the low bytes that were still unsent at A when it was written.
    const lowBefore = got.slice(0, hi).reduce((n, g) => n + g.text.length, 0);
    expect(lowBefore).toBeLessThan(20_000);
    expect(all.replace("HIGH-ahead", "")).toBe(low);
  });
});
