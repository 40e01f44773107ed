/**
 * Allocation guards (STYLE.md): the per-message paths of the server logic
 * (framing, queueing, slots, reply) and of the generator (schedule, message
 * build, reply pairing) retain nothing per message: the live heap object
 * count stays flat after a full GC. (JSC exposes no counter of short-lived
 * garbage; see test/unit/wire/alloc.test.ts.) The Redis client is replaced by
 * a store that completes at once, because ioredis itself allocates a command
 * object per call.
 */
import { describe, expect, test } from "bun:test";
import { heapStats } from "bun:jsc";
import { IotepServer } from "../../apps/iotep/server";
import { Generator, type GenTransport } from "../../apps/iotep/generator";
import { MessageBuilder, REPLY_LEN, writeReply } from "../../apps/iotep/protocol";
import type { Db, GetCallback, IotepStore, SetCallback } from "../../apps/iotep/store";

const value = Buffer.from([1, 2, 3, 4, 5, 6]);

/** Completes every command synchronously: GET db1 finds a value on odd keys. */
class InstantStore implements IotepStore {
  connected = true;
  connectionErrors = 0;
  get(db: Db, key: number, cb: GetCallback): void {
    cb(null, db === 1 && (key & 1) === 1 ? value : null);
  }
  set(_db: Db, _key: number, _value: Buffer, cb: SetCallback): void {
    cb(null, "OK");
  }
  waitReady(): Promise<boolean> {
    return Promise.resolve(true);
  }
  async close(): Promise<void> {}
  describe(): string {
    return "instant";
  }
}

/** The same, one call per message (the script store's shape): 1 = incremented on odd keys. */
class InstantMessageStore extends InstantStore {
  message(key: number, _first: Buffer, cb: (err: Error | null | undefined, r?: unknown) => void): void {
    cb(null, key & 1);
  }
}

function objectsAfter(run: () => void): number {
  run();
  Bun.gc(true);
  const before = heapStats().objectCount;
  run();
  Bun.gc(true);
  return heapStats().objectCount - before;
}

describe("allocation guards", () => {
  for (const whole of [false, true])
  test(`server: 40,000 messages (split and whole, both classes, replies) allocate nothing (${whole ? "one store call per message, --breakdown" : "three store calls per message"})`, () => {
    let pending: (() => void) | null = null;
    let replies = 0;
    const srv = new IotepServer({
      msgLen: 200,
      store: whole ? new InstantMessageStore() : new InstantStore(),
      breakdown: whole,
      sink: {
        reply(_c, _b, len) {
          replies += len;
          return true;
        },
      },
      schedule: (f) => {
        pending = f;
      },
      clockUs: () => 0,
      wallMs: () => 0,
    });
    const mb = new MessageBuilder(200);
    const buf = new Uint8Array(400);
    for (let c = 0; c < 256; c++) srv.open(c);
    const run = (): void => {
      for (let i = 0; i < 10_000; i++) {
        const c = i & 255;
        buf.set(i % 3 === 0 ? mb.request(i) : mb.heartbeat(i), 0);
        buf.set(mb.heartbeat(i + 1), 200);
        srv.data(c, buf, 0, 150);
        srv.data(c, buf, 150, 250);
        while (pending !== null) {
          const f: () => void = pending;
          pending = null;
          f();
        }
      }
    };
    const grew = objectsAfter(run);
    expect(srv.counters.messages).toBe(40_000);
    expect(srv.isIdle()).toBe(true);
    expect(replies).toBeGreaterThan(0);
    expect(grew).toBeLessThan(100);
  });

  test("generator: 100,000 scheduled messages and their replies allocate nothing", () => {
    const reply = new Uint8Array(REPLY_LEN);
    writeReply(reply, 0);
    let sent = 0;
    const t: GenTransport = {
      connect(i) {
        gen.opened(i);
      },
      send() {
        sent++;
        return true;
      },
      close() {},
    };
    const gen = new Generator({ conns: 1000, setupS: 0, waitS: 0, epochS: 0.01, msgLen: 200, ratio: 0.5, durationS: 100, drainS: 0 }, t);
    gen.start(0);
    let now = 0;
    const run = (): void => {
      for (let k = 0; k < 1000; k++) {
        now += 1000;
        gen.tick(now);
        for (let i = 0; i < 1000; i += 7) gen.data(i, reply, 0, REPLY_LEN, now + 50);
      }
    };
    const grew = objectsAfter(run);
    expect(sent).toBeGreaterThan(100_000);
    expect(gen.counters.replies).toBeGreaterThan(0);
    expect(grew).toBeLessThan(100);
  });
});
