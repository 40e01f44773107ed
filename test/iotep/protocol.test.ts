import { describe, expect, test } from "bun:test";
import { heapStats } from "bun:jsc";
import fc from "fast-check";
import {
  HEAD_BYTES,
  MSG_HEARTBEAT,
  MSG_OTHER,
  MSG_REQUEST,
  MessageBuilder,
  MessageFramer,
  REPLY_LEN,
  ReplyBuilder,
  checkMsgLen,
  classifyMessage,
  imfFixdate,
  isReply,
  writeReply,
  type FrameSink,
} from "../../apps/iotep/protocol";

class Collect implements FrameSink {
  msgs: { conn: number; head: number[] }[] = [];
  onMessage(conn: number, src: Uint8Array, srcOff: number): void {
    this.msgs.push({ conn, head: Array.from(src.subarray(srcOff, srcOff + 9)) });
  }
}

describe("messages", () => {
  test("request: byte 5 = 0x01, byte 6 = 0x02, counter in bytes 0-3, fixed length", () => {
    const b = new MessageBuilder(200);
    const m = b.request(0x01020304);
    expect(m.length).toBe(200);
    expect(Array.from(m.subarray(0, 4))).toEqual([1, 2, 3, 4]);
    expect(m[5]).toBe(0x01);
    expect(m[6]).toBe(0x02);
    expect(classifyMessage(m, 0)).toBe(MSG_REQUEST);
  });

  test("heartbeat: byte 5 = 0x00, byte 6 = 0x02, byte 8 = 0x08", () => {
    const b = new MessageBuilder(64);
    const m = b.heartbeat(7);
    expect(m.length).toBe(64);
    expect([m[5], m[6], m[8]]).toEqual([0x00, 0x02, 0x08]);
    expect(m[3]).toBe(7);
    expect(classifyMessage(m, 0)).toBe(MSG_HEARTBEAT);
  });

  test("the builder reuses one buffer per kind (no allocation per message)", () => {
    const b = new MessageBuilder();
    expect(b.request(1)).toBe(b.request(2));
    expect(b.heartbeat(1)).toBe(b.heartbeat(2));
    expect(b.request(1)).not.toBe(b.heartbeat(1));
  });

  test("classification follows QStack's rule: byte 5 == 0x01 is a request; other patterns are low priority", () => {
    const m = new Uint8Array(16);
    m[5] = 1;
    expect(classifyMessage(m, 0)).toBe(MSG_REQUEST);
    m[5] = 0;
    m[6] = 2;
    m[8] = 8;
    expect(classifyMessage(m, 0)).toBe(MSG_HEARTBEAT);
    m[8] = 0;
    expect(classifyMessage(m, 0)).toBe(MSG_OTHER);
    m[5] = 0x31;
    expect(classifyMessage(m, 0)).toBe(MSG_OTHER);
  });

  test("length limits", () => {
    expect(() => checkMsgLen(8)).toThrow(RangeError);
    expect(() => checkMsgLen(9)).not.toThrow();
    expect(() => new MessageBuilder(70000)).toThrow(RangeError);
  });
});

describe("reply", () => {
  test("146 bytes, HTTP/1.1 200 header with the required lines, byte 6 = 0x03", () => {
    const out = new Uint8Array(REPLY_LEN);
    writeReply(out, Date.UTC(1994, 10, 6, 8, 49, 37));
    const text = new TextDecoder().decode(out);
    expect(out.length).toBe(146);
    expect(out[6]).toBe(0x03);
    expect(text.slice(0, 6)).toBe("HTTP/1");
    expect(text.slice(7, 17)).toBe("1 200 OK\r\n");
    expect(text).toContain("\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
    expect(text).toMatch(/\r\nServer: [^\r\n]+\r\n/);
    expect(text).toContain("\r\nContent-Length: 0\r\n");
    expect(text).toContain("\r\nConnection: keep-alive\r\n");
    expect(text.endsWith("\r\n\r\n")).toBe(true);
    expect(isReply(out, 0, out.length)).toBe(true);
  });

  test("IMF-fixdate has a fixed width for any date, so the reply is always 146 bytes", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253402300799000 }), (ms) => {
        expect(imfFixdate(ms).length).toBe(29);
        const out = new Uint8Array(REPLY_LEN);
        writeReply(out, ms);
        expect(out[6]).toBe(3);
      }),
      { numRuns: 300 },
    );
  });

  test("ReplyBuilder rewrites the shared buffer only when the second changes", () => {
    const r = new ReplyBuilder();
    const t0 = Date.UTC(2024, 0, 1, 0, 0, 0);
    const a = r.at(t0);
    const before = new TextDecoder().decode(a);
    expect(r.at(t0 + 999)).toBe(a);
    expect(new TextDecoder().decode(a)).toBe(before);
    r.at(t0 + 1000);
    expect(new TextDecoder().decode(a)).toContain("00:00:01 GMT");
  });

  test("a request or heartbeat is never taken for a reply", () => {
    const b = new MessageBuilder();
    expect(isReply(b.request(1), 0, 200)).toBe(false);
    expect(isReply(b.heartbeat(1), 0, 200)).toBe(false);
  });
});

describe("MessageFramer", () => {
  test("coalesced: several whole messages in one read, passed from the read buffer", () => {
    const b = new MessageBuilder(20);
    const buf = new Uint8Array(60);
    buf.set(b.request(1), 0);
    buf.set(b.heartbeat(2), 20);
    buf.set(b.request(3), 40);
    const f = new MessageFramer(20, 4);
    const c = new Collect();
    expect(f.push(2, buf, 0, 60, c)).toBe(3);
    expect(c.msgs.map((m) => [m.conn, m.head[3], m.head[5]])).toEqual([
      [2, 1, 1],
      [2, 2, 0],
      [2, 3, 1],
    ]);
    expect(f.partial(2)).toBe(0);
  });

  test("split: a message arriving one byte at a time is delivered once, intact", () => {
    const b = new MessageBuilder(200);
    const msg = b.request(0xa1b2c3d4).slice();
    const f = new MessageFramer(200, 1);
    const c = new Collect();
    for (let i = 0; i < 200; i++) {
      expect(f.push(5, msg, i, 1, c)).toBe(i === 199 ? 1 : 0);
    }
    expect(c.msgs.length).toBe(1);
    expect(c.msgs[0]!.head).toEqual(Array.from(msg.subarray(0, 9)));
    expect(f.capacity).toBeGreaterThan(5);
  });

  test("connections are framed independently; reset drops a partial message", () => {
    const b = new MessageBuilder(10);
    const f = new MessageFramer(10, 2);
    const c = new Collect();
    const r = b.request(1).slice();
    const h = b.heartbeat(2).slice();
    f.push(0, r, 0, 4, c);
    f.push(1, h, 0, 7, c);
    f.push(0, r, 4, 6, c);
    expect(c.msgs.map((m) => m.conn)).toEqual([0]);
    f.reset(1);
    f.push(1, h, 0, 10, c);
    expect(c.msgs.map((m) => [m.conn, m.head[5]])).toEqual([
      [0, 1],
      [1, 0],
    ]);
  });

  test("property: any split of a stream of messages yields the same messages in order", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 9, max: 64 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 40 }),
        (len, kinds, cuts) => {
          const b = new MessageBuilder(len);
          const stream = new Uint8Array(len * kinds.length);
          kinds.forEach((k, i) => stream.set(k ? b.request(i) : b.heartbeat(i), i * len));
          const f = new MessageFramer(len, 1);
          const c = new Collect();
          let p = 0;
          let ci = 0;
          while (p < stream.length) {
            const n = Math.min(cuts[ci++ % cuts.length]!, stream.length - p);
            f.push(3, stream, p, n, c);
            p += n;
          }
          expect(c.msgs.length).toBe(kinds.length);
          c.msgs.forEach((m, i) => {
            expect(m.head[3]).toBe(i & 0xff);
            expect(classifyMessage(Uint8Array.from(m.head), 0)).toBe(kinds[i] ? MSG_REQUEST : MSG_HEARTBEAT);
          });
          expect(f.partial(3)).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("HEAD_BYTES covers every labelled byte", () => {
    expect(HEAD_BYTES).toBeGreaterThanOrEqual(9);
  });

  test("allocation guard: framing split and whole messages allocates nothing", () => {
    const b = new MessageBuilder(200);
    const buf = new Uint8Array(1000);
    for (let i = 0; i < 5; i++) buf.set(b.request(i), i * 200);
    const f = new MessageFramer(200, 64);
    let count = 0;
    const sink: FrameSink = {
      onMessage(_c, src, off) {
        count += src[off + 5]!;
      },
    };
    const run = (): void => {
      for (let i = 0; i < 2000; i++) {
        const conn = i & 63;
        f.push(conn, buf, 0, 333, sink);
        f.push(conn, buf, 333, 667, sink);
      }
    };
    run();
    Bun.gc(true);
    const before = heapStats().objectCount;
    run();
    Bun.gc(true);
    const after = heapStats().objectCount;
    expect(count).toBe(2 * 2000 * 5);
    expect(after - before).toBeLessThan(50);
  });
});
