/**
 * A running stack: one device, one interface, optionally TCP, driven by a
 * PollLoop. Each round: rx burst -> receive (ARP/IPv4/ICMP/TCP input) -> ARP
 * retries -> transport timers -> app work -> transport flush -> tx burst.
 */
import type { Device } from "../net/device";
import { NetInterface, type InterfaceConfig, type TransportInput } from "../net/interface";
import { PacketBatch } from "../net/packet-batch";
import type { Classifier } from "../sched/classifier";
import { PollLoop, type PollLoopOptions, type PollStage } from "../sched/poll-loop";

/** What a transport offers the loop (TcpLayer implements it). */
export interface Transport extends TransportInput {
  timers(nowUs: number): void;
  flush(nowUs: number): void;
  pollAt(): number;
  /**
   * Set by the stack around receive: the class of the frames being processed
   * when it is above the lowest class, 255 otherwise (TcpLayer.rxClass).
   */
  rxClass?: number;
}

/** Transport.rxClass outside receive and for the lowest class. */
const NO_RX_CLASS = 255;

/**
 * After a round in which the device refused frames (its transmit ring full,
 * or no buffer), how long until the stack asks to be polled again, us (the
 * poll loop's longest idle sleep). Retrying at once makes the loop spin while
 * nothing can go out; the ring drains only when the peer runs (memif: the
 * other process), and a stack thread at SCHED_FIFO spinning here takes the
 * CPU the peer needs. Measured at 1 M connections (bench iotep --conns 1000000
 * --setup 60 --epoch 60 --kernel-conns 0 --huge --breakdown): iotepserver's
 * thread at 946-958 ms of CPU per second with no idle sleep, 100-150 k
 * refused transmissions per second, while mcc's stack thread waited 730-1738
 * ms per second for a CPU and could not drain the ring: a retransmission
 * storm that fed itself (wire request p99 3.4 s). Frames received meanwhile
 * still count as work and keep the loop going.
 */
export const TX_BLOCKED_RETRY_US = 1000;

export class Stack implements PollStage {
  readonly netif: NetInterface;
  readonly loop: PollLoop;
  private readonly rx: PacketBatch;
  private transport: Transport | null = null;
  private classifier: Classifier | null = null;
  private classRx: PacketBatch[] = [];
  /** Frames the classifier shed (bare SYNs over its budget), freed each round. */
  private shedRx: PacketBatch | null = null;
  /** App work run each round between transport timers and flush. */
  private readonly appStages: PollStage[] = [];
  /** The app stages with a pollHigh pass (run after class 0's frames; see receiveBurst). */
  private readonly highStages: PollStage[] = [];
  /** A transmitSoon() microtask is queued. */
  private transmitQueued = false;
  /** close() ran: the device is gone, nothing more is transmitted. */
  private closed = false;
  private readonly transmitFn = (): void => this.transmitNow();
  /** Out-of-round transmissions (transmitNow) that sent frames. */
  transmitsOutOfRound = 0;
  private started = false;
  /**
   * The priority class of the frames being processed right now (0 = highest):
   * the classifier's class during receive, the lowest class otherwise
   * (timers, app work). Events raised by TCP are filed under it.
   */
  rxClass = 0;
  /** Number of priority classes (1 without a classifier). */
  classes = 1;
  /**
   * Most rx bursts per poll round, taken while each comes full (default 1).
   * An app that keeps each round long (a Scheduler working through its
   * budget while saturated) needs more, or ingress is capped at one burst per
   * budget and the peer's frames back up (bench/priority).
   */
  rxBurstsPerRound = 1;
  /** Rounds that ended with the device refusing frames (see TX_BLOCKED_RETRY_US). */
  txBlockedRounds = 0;
  /** The last round ended with frames refused by the device: pollAt() waits TX_BLOCKED_RETRY_US. */
  private txBlocked = false;
  private lastRoundUs = 0;

  constructor(
    readonly dev: Device,
    cfg: InterfaceConfig,
    loopOpts: PollLoopOptions = {},
  ) {
    this.netif = new NetInterface(dev, cfg);
    this.rx = new PacketBatch(dev.caps.maxBurst);
    this.loop = new PollLoop(loopOpts);
    this.loop.add(this);
  }

  /**
   * Classify frames right after the rx burst and process the classes in order,
   * class 0 (highest) first (issue: priority end to end).
   */
  setClassifier(c: Classifier | null): void {
    this.classifier = c;
    this.classRx = [];
    if (c !== null) for (let i = 0; i < c.classes; i++) this.classRx.push(new PacketBatch(this.dev.caps.maxBurst));
    this.shedRx = c !== null && c.admission !== null && c.admission.active() ? new PacketBatch(this.dev.caps.maxBurst) : null;
    this.classes = c === null ? 1 : c.classes;
    this.rxClass = this.classes - 1;
  }

  setTransport(t: Transport): void {
    this.transport = t;
    this.netif.setTransport(t);
  }

  addAppStage(s: PollStage): void {
    this.appStages.push(s);
    if (s.pollHigh !== undefined) this.highStages.push(s);
  }

  /**
   * Put on the wire, now, what app code running outside the poll round queued
   * (a reply written from an ioredis callback): TCP's flush and a tx burst, on
   * a microtask, so the replies written in one turn (one read of the Redis
   * socket calls back many) go out in one burst. Without it they wait for the
   * next round, which first takes an rx burst and processes every frame in it
   * (measured at 300 k connections at the 1 M message rate: callback to tx
   * p50 26 us, p99 490 us). What the device refuses stays queued for the round.
   */
  transmitSoon(): void {
    if (this.transmitQueued || !this.started || this.closed) return;
    this.transmitQueued = true;
    queueMicrotask(this.transmitFn);
  }

  private transmitNow(): void {
    this.transmitQueued = false;
    // Queued before close() in the same turn: the device is gone by now.
    if (this.closed) return;
    const t = this.transport;
    if (t !== null) t.flush(this.loop.clock());
    if (this.netif.flush() > 0) this.transmitsOutOfRound++;
  }

  /** One poll round at `nowUs`. Returns the work done (frames + app work). */
  poll(nowUs: number): number {
    if (!this.started) {
      this.started = true;
      this.netif.start(nowUs);
    }
    const rx = this.rx;
    let work = 0;
    const tx = this.netif.tx;
    const refusedBefore = tx.refused + this.netif.counters.txNoBuffer;
    // More bursts while they come full (rxBurstsPerRound > 1): a round that is long because
    // the app works through a budget must not cap ingress at one burst per round.
    for (let b = 0; b < this.rxBurstsPerRound; b++) {
      const n = this.dev.rxBurst(rx);
      work += n;
      if (n > 0) this.receiveBurst(nowUs, rx);
      if (n < this.dev.caps.maxBurst) break;
    }
    this.netif.service(nowUs);
    const t = this.transport;
    if (t !== null) t.timers(nowUs);
    for (let i = 0; i < this.appStages.length; i++) work += this.appStages[i]!.poll(nowUs);
    if (t !== null) t.flush(nowUs);
    const sent = this.netif.flush();
    work += sent;
    // Blocked: the device took nothing of what is queued, or refused a buffer this round.
    this.txBlocked = (sent === 0 && tx.backlog() > 0) || tx.refused + this.netif.counters.txNoBuffer !== refusedBefore;
    if (this.txBlocked) this.txBlockedRounds++;
    this.lastRoundUs = nowUs;
    return work;
  }

  /** Classify one rx burst (when a classifier is set) and process it, class 0 first. */
  private receiveBurst(nowUs: number, rx: PacketBatch): void {
    const cl = this.classifier;
    if (cl === null) {
      this.netif.receive(nowUs, rx);
      return;
    }
    const out = this.classRx;
    const shed = this.shedRx;
    cl.classifyBatch(this.dev.mem, this.dev.dv, rx, out, shed, nowUs);
    if (shed !== null && shed.count > 0) {
      // Received and dropped before any protocol work: one drop reason (NetCounters).
      const nc = this.netif.counters;
      nc.rxFrames += shed.count;
      nc.dropSynShed += shed.count;
      for (let i = 0; i < shed.count; i++) nc.rxBytes += shed.len[i]!;
      this.dev.free(shed);
    }
    const t = this.transport;
    const last = out.length - 1;
    for (let c = 0; c < out.length; c++) {
      if (out[c]!.count === 0) continue;
      this.rxClass = c;
      if (t !== null) t.rxClass = c < last ? c : NO_RX_CLASS;
      this.netif.receive(nowUs, out[c]!);
      if (c === 0 && c < last && this.highStages.length > 0) this.runHighStages(nowUs);
    }
    this.rxClass = this.classes - 1;
    if (t !== null) t.rxClass = NO_RX_CLASS;
  }

  /**
   * The app's high-priority pass, between class 0's frames and the rest of
   * the burst: a request reaches the app (and its Redis call the socket)
   * without waiting for TCP to process the burst's low-priority frames and
   * the round's timers. Measured at 300 k connections at the 1 M message rate
   * (bench iotep, bursts of 16-32 frames): rx burst to the request's arrival
   * in the server p50 121 us, p99 378 us without it. App work runs at the
   * lowest class, as in the round's app stage.
   */
  private runHighStages(nowUs: number): void {
    const t = this.transport;
    this.rxClass = this.classes - 1;
    if (t !== null) t.rxClass = NO_RX_CLASS;
    const hs = this.highStages;
    for (let i = 0; i < hs.length; i++) hs[i]!.pollHigh!(nowUs);
  }

  pollAt(): number {
    let at = this.netif.pollAt();
    if (this.transport !== null) at = Math.min(at, this.transport.pollAt());
    for (const s of this.appStages) at = Math.min(at, s.pollAt());
    // Nothing can go out until the device's ring drains: do not ask to be polled again at once.
    if (this.txBlocked && at < this.lastRoundUs + TX_BLOCKED_RETRY_US) at = this.lastRoundUs + TX_BLOCKED_RETRY_US;
    return at;
  }

  run(): Promise<void> {
    return this.loop.run();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  close(): void {
    this.closed = true;
    this.netif.close();
    this.dev.close();
  }
}
