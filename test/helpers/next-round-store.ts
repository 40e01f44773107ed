/**
 * The iotep server's id transport over two stacks in virtual time, without Redis:
 * work deferred to the next poll round, and a store that answers there.
 */
import type { Db, GetCallback, IotepStore, SetCallback } from "../../apps/iotep/store";

/** Work deferred to the next poll round (Redis replies, the server's pump). */
export class Later {
  q: (() => void)[] = [];
  poll(): number {
    const q = this.q;
    this.q = [];
    for (const f of q) f();
    return q.length;
  }
  pollAt(): number {
    return this.q.length > 0 ? 0 : Number.POSITIVE_INFINITY;
  }
}

export class NextRoundStore implements IotepStore {
  readonly values = new Map<string, Buffer>();
  connected = true;
  connectionErrors = 0;
  constructor(private readonly later: Later) {}
  get(db: Db, key: number, cb: GetCallback): void {
    this.later.q.push(() => cb(null, this.values.get(`${db}:${key}`) ?? null));
  }
  set(db: Db, key: number, value: Buffer, cb: SetCallback): void {
    const v = Buffer.from(value);
    this.later.q.push(() => (this.values.set(`${db}:${key}`, v), cb(null, "OK")));
  }
  waitReady(): Promise<boolean> {
    return Promise.resolve(true);
  }
  async close(): Promise<void> {}
  describe(): string {
    return "next-round";
  }
}
