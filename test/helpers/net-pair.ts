/**
 * Two interfaces joined by a PairDevice on a virtual clock, for netsim tests:
 * A = 10.0.0.1, B = 10.0.0.2 on 10.0.0.0/24. `run(untilUs)` advances virtual
 * time event by event (frame arrivals and timer deadlines), polling both
 * sides, so tests never sleep.
 */
import { NetInterface } from "../../src/net/interface";
import { PacketBatch } from "../../src/net/packet-batch";
import { ManualClock, PairDevice, type FaultConfig } from "../../src/net/pair-device";

export const IP_A = 0x0a000001;
export const IP_B = 0x0a000002;

export interface Side {
  dev: PairDevice;
  netif: NetInterface;
  rx: PacketBatch;
  /** Extra per-round work (a transport's timers/flush), optional. */
  extra?: { poll(nowUs: number): number; pollAt(): number };
}

export class NetPair {
  readonly clock = new ManualClock(0);
  readonly a: Side;
  readonly b: Side;

  constructor(opts: { faults?: FaultConfig; faultsBtoA?: FaultConfig; seed?: number; nbufs?: number } = {}) {
    const [da, db] = PairDevice.create({ clock: this.clock, seed: opts.seed ?? 1, faults: opts.faults ?? { delayUs: 50 }, faultsBtoA: opts.faultsBtoA, nbufs: opts.nbufs });
    this.a = { dev: da, netif: new NetInterface(da, { ip: IP_A, prefixLen: 24 }), rx: new PacketBatch(32) };
    this.b = { dev: db, netif: new NetInterface(db, { ip: IP_B, prefixLen: 24 }), rx: new PacketBatch(32) };
  }

  /** One poll round of one side at the current time. Returns work done. */
  pollSide(s: Side): number {
    const now = this.clock.nowUs;
    let work = s.dev.rxBurst(s.rx);
    if (work > 0) s.netif.receive(now, s.rx);
    s.netif.service(now);
    if (s.extra) work += s.extra.poll(now);
    work += s.netif.flush();
    return work;
  }

  /** Poll both sides until neither has work at the current instant. */
  settle(): void {
    for (let i = 0; i < 10_000; i++) {
      const w = this.pollSide(this.a) + this.pollSide(this.b);
      if (w === 0) return;
    }
    throw new Error("netsim: no quiescence after 10000 rounds");
  }

  /** Advance virtual time to `untilUs`, stopping at every arrival and deadline. */
  run(untilUs: number): void {
    this.settle();
    for (let guard = 0; guard < 10_000_000; guard++) {
      let next = Math.min(this.a.dev.nextArrivalUs(), this.b.dev.nextArrivalUs(), this.a.netif.pollAt(), this.b.netif.pollAt());
      if (this.a.extra) next = Math.min(next, this.a.extra.pollAt());
      if (this.b.extra) next = Math.min(next, this.b.extra.pollAt());
      if (next > untilUs) {
        this.clock.nowUs = untilUs;
        this.settle();
        return;
      }
      this.clock.nowUs = Math.max(this.clock.nowUs, next);
      this.settle();
    }
    throw new Error("netsim: too many events");
  }
}
