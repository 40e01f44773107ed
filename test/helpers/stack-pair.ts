/**
 * Two full stacks (Ethernet/ARP/IPv4/TCP + sockets API) joined by a PairDevice
 * on a virtual clock. `run(untilUs)` jumps from event to event (frame arrivals,
 * timer deadlines), polling both stacks, so tests never sleep.
 */
import { Stack } from "../../src/api/stack";
import { TcpSockets } from "../../src/api/tcp-sockets";
import { TcpEpoll } from "../../src/api/tcp-epoll";
import type { TcpConfig } from "../../src/tcp/config";
import type { Classifier } from "../../src/sched/classifier";
import { ManualClock, PairDevice, type FaultConfig } from "../../src/net/pair-device";
import { SeededRng } from "../../src/net/seeded-rng";

export const IP_A = 0x0a000001;
export const IP_B = 0x0a000002;

export class StackPair {
  readonly clock = new ManualClock(1_000_000);
  readonly devA: PairDevice;
  readonly devB: PairDevice;
  readonly a: Stack;
  readonly b: Stack;
  readonly sa: TcpSockets;
  /** B's sockets API (absent when B uses the epoll API). */
  readonly sb: TcpSockets;
  /** B's epoll API, with `bApi: "epoll"`. */
  readonly eb: TcpEpoll | null = null;

  constructor(opts: { faults?: FaultConfig; faultsBtoA?: FaultConfig; seed?: number; nbufs?: number; tcp?: Partial<TcpConfig>; bApi?: "sockets" | "epoll"; classifyB?: Classifier } = {}) {
    const [da, db] = PairDevice.create({ clock: this.clock, seed: opts.seed ?? 1, faults: opts.faults ?? { delayUs: 100 }, faultsBtoA: opts.faultsBtoA, nbufs: opts.nbufs });
    this.devA = da;
    this.devB = db;
    const clock = () => this.clock.nowUs;
    this.a = new Stack(da, { ip: IP_A, prefixLen: 24 }, { clock });
    this.b = new Stack(db, { ip: IP_B, prefixLen: 24 }, { clock });
    const rngA = new SeededRng((opts.seed ?? 1) * 7 + 1);
    const rngB = new SeededRng((opts.seed ?? 1) * 7 + 2);
    this.sa = new TcpSockets(this.a, opts.tcp ?? {}, { rng: () => rngA.nextU32() });
    if (opts.classifyB) this.b.setClassifier(opts.classifyB);
    if (opts.bApi === "epoll") {
      this.eb = new TcpEpoll(this.b, opts.tcp ?? {}, { rng: () => rngB.nextU32() });
      this.sb = undefined as unknown as TcpSockets;
    } else {
      this.sb = new TcpSockets(this.b, opts.tcp ?? {}, { rng: () => rngB.nextU32() });
    }
  }

  settle(): void {
    for (let i = 0; i < 100_000; i++) {
      const now = this.clock.nowUs;
      const w = this.a.poll(now) + this.b.poll(now);
      if (w === 0) return;
    }
    throw new Error("stack-pair: no quiescence");
  }

  /** Advance virtual time to `untilUs` (or until `done()` holds), event by event. */
  run(untilUs: number, done?: () => boolean): void {
    this.settle();
    for (let guard = 0; guard < 50_000_000; guard++) {
      if (done !== undefined && done()) return;
      const next = Math.min(this.devA.nextArrivalUs(), this.devB.nextArrivalUs(), this.a.pollAt(), this.b.pollAt());
      if (next > untilUs) {
        this.clock.nowUs = untilUs;
        this.settle();
        return;
      }
      this.clock.nowUs = Math.max(this.clock.nowUs, Math.ceil(next));
      this.settle();
    }
    throw new Error("stack-pair: too many events");
  }
}
