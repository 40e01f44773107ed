/**
 * iotepserver's logic (EpollServer on TcpEpoll, stack B) and mcc's id client
 * (IdClient on a TcpLayer, stack A) over two stacks in virtual time, without
 * Redis: work deferred to the next poll round, and a store that answers there.
 */
import { EpollServer } from "../../apps/iotep/epoll-server";
import { IdClient } from "../../apps/iotep/id-client";
import { IotepServer } from "../../apps/iotep/server";
import type { Db, GetCallback, IotepStore, SetCallback } from "../../apps/iotep/store";
import { classifierFromSpec } from "../../src/api/classifier-spec";
import { SeededRng } from "../../src/net/seeded-rng";
import { makeTcpConfig } from "../../src/tcp/config";
import { TcpLayer } from "../../src/tcp/tcp-layer";
import { IP_A, IP_B, StackPair } from "./stack-pair";

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

/**
 * The pair wired up: B serves iotep on port 80 with a NextRoundStore, A holds an
 * IdClient for `conns` connections (ports 2000-2999) on its own TcpLayer. The
 * client's poll stage is not added: the caller drives it (directly or behind a router).
 */
export function iotepIdPair(conns: number) {
  const p = new StackPair({ bApi: "epoll", classifyB: classifierFromSpec("iotep"), tcp: { maxConnections: 1024 } });
  const later = new Later();
  p.b.addAppStage(later);
  const clock = (): number => p.clock.nowUs;
  const server = new IotepServer({ msgLen: 200, store: new NextRoundStore(later), clockUs: clock, schedule: (f) => void later.q.push(f) });
  const served = new EpollServer(server, p.eb!, p.b, 80);
  server.sink = served;
  const rng = new SeededRng(9);
  const client = new IdClient({ conns, firstIp: IP_A, ipCount: 1, portLo: 2000, portHi: 2999, dstIp: IP_B, dstPort: 80, ports: 1, clockUs: clock });
  const tcp = new TcpLayer({ config: makeTcpConfig({ maxConnections: 1024 }), tx: p.a.netif.out, rng: () => rng.nextU32(), nowUs: clock(), events: client.ring });
  p.a.setTransport(tcp);
  client.attach(tcp);
  return { p, later, clock, server, served, client, tcp };
}
