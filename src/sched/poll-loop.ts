/**
 * The poll loop of one stack thread (DESIGN.md "The poll loop"): read the clock
 * once, rx burst, process, expire timers, run app work, tx burst; then let Bun's
 * event loop run (ioredis, timers, stdin) without busy-spinning the core away
 * from it. FACTS.md: only setImmediate lets socket callbacks run, so the loop
 * yields with setImmediate every `burstsPerYield` busy rounds, and when idle it
 * sleeps until the next deadline (bounded by `idleSleepMaxUs`) so an idle stack
 * costs little CPU.
 */
import { monotonicUs } from "../api/clock";

/** One phase of a poll round. Returns work done (frames, events), 0 if idle. */
export interface PollStage {
  poll(nowUs: number): number;
  /** Next time this stage has timed work, or +Infinity. */
  pollAt(): number;
  /**
   * App stages only (Stack.addAppStage): called within the round right after
   * the highest class's frames went through TCP, before the lower classes'
   * frames are processed, to take the high-priority events only. Returns
   * work done.
   */
  pollHigh?(nowUs: number): number;
}

export interface PollLoopOptions {
  /** Busy rounds between yields to Bun's event loop. */
  burstsPerYield?: number;
  /** Longest idle sleep, so new frames are noticed soon (DPDK has no interrupt here). */
  idleSleepMaxUs?: number;
  /** How long the loop keeps spinning after its last work before it sleeps (latency vs CPU). */
  idleSpinUs?: number;
  /** Never sleep (dedicated core, lowest latency). */
  busyPoll?: boolean;
  /**
   * Called after each round that found no work while the loop keeps polling
   * (sched_yield, ffi/cpu-yield.ts): other runnable threads on this CPU run
   * first, so a stack that shares its core does not spin its peer's time away.
   */
  yieldCpu?: (() => void) | null;
  clock?: () => number;
}

export class PollLoop {
  private readonly stages: PollStage[] = [];
  private running = false;
  private stopped: Promise<void> | null = null;
  private resolveStopped: (() => void) | null = null;
  readonly burstsPerYield: number;
  readonly idleSleepMaxUs: number;
  readonly idleSpinUs: number;
  readonly busyPoll: boolean;
  readonly yieldCpu: (() => void) | null;
  readonly clock: () => number;
  rounds = 0;
  /**
   * Runs of rounds (each one turn of Bun's event loop in between), and the
   * clock when the last run ended (one read per run): a gap between two rounds
   * that spans a run boundary splits into the round and the event loop's turn.
   */
  runs = 0;
  runEndUs = 0;
  /** Empty rounds followed by yieldCpu(). */
  cpuYields = 0;
  idleSleeps = 0;

  constructor(opts: PollLoopOptions = {}) {
    this.burstsPerYield = opts.burstsPerYield ?? 64;
    this.idleSleepMaxUs = opts.idleSleepMaxUs ?? 1000;
    this.idleSpinUs = opts.idleSpinUs ?? 2000;
    this.busyPoll = opts.busyPoll ?? false;
    this.yieldCpu = opts.yieldCpu ?? null;
    this.clock = opts.clock ?? monotonicUs;
  }

  /** Add a stage after the others, or before them with `first` (a probe that marks the round's start). */
  add(stage: PollStage, first = false): void {
    if (first) this.stages.unshift(stage);
    else this.stages.push(stage);
  }

  /** One round through every stage at one clock reading. Returns work done. */
  round(nowUs: number): number {
    let work = 0;
    const st = this.stages;
    for (let i = 0; i < st.length; i++) work += st[i]!.poll(nowUs);
    this.rounds++;
    return work;
  }

  nextDeadline(): number {
    let t = Number.POSITIVE_INFINITY;
    for (const s of this.stages) {
      const d = s.pollAt();
      if (d < t) t = d;
    }
    return t;
  }

  /** Run until stop(). Resolves when the loop has exited. */
  run(): Promise<void> {
    if (this.running) return this.stopped!;
    this.running = true;
    this.stopped = new Promise((r) => (this.resolveStopped = r));
    let lastWorkUs = this.clock();
    const step = (): void => {
      this.sleepTimer = null;
      this.yieldAsked = false;
      if (!this.running) {
        this.resolveStopped!();
        return;
      }
      this.runs++;
      let now = 0;
      const yieldCpu = this.yieldCpu;
      for (let i = 0; i < this.burstsPerYield && this.running; i++) {
        now = this.clock();
        if (this.round(now) > 0) lastWorkUs = now;
        else if (now - lastWorkUs > this.idleSpinUs) break;
        else if (yieldCpu !== null) {
          yieldCpu();
          this.cpuYields++;
        }
        if (this.yieldAsked) {
          this.yieldAsked = false;
          this.earlyYields++;
          break;
        }
      }
      if (!this.running) {
        this.resolveStopped!();
        return;
      }
      this.runEndUs = this.clock();
      if (this.busyPoll || now - lastWorkUs <= this.idleSpinUs) {
        setImmediate(step);
        return;
      }
      // Idle: sleep until the next deadline, at most idleSleepMaxUs.
      const wait = Math.min(this.idleSleepMaxUs, this.nextDeadline() - now);
      if (wait < 500) {
        setImmediate(step);
        return;
      }
      this.idleSleeps++;
      this.sleepTimer = setTimeout(step, Math.max(1, Math.round(wait / 1000)));
    };
    this.stepFn = step;
    setImmediate(step);
    return this.stopped;
  }

  stop(): Promise<void> {
    this.running = false;
    this.wake();
    return this.stopped ?? Promise.resolve();
  }

  /**
   * Cut an idle sleep short: app code running outside the loop (an ioredis
   * callback that writes a reply, a timer) calls this so its output goes out
   * now rather than after the sleep.
   */
  wake(): void {
    const t = this.sleepTimer;
    if (t === null) return;
    clearTimeout(t);
    this.sleepTimer = null;
    this.wakeups++;
    setImmediate(this.stepFn!);
  }

  /**
   * End the current run of busy rounds after this one and let Bun's event
   * loop run now: a stage that handed work to code which runs on the next
   * tick (ioredis' auto-pipeline writes its commands on process.nextTick)
   * calls this, so that work is not held back by up to burstsPerYield - 1
   * further rounds.
   */
  yieldSoon(): void {
    this.yieldAsked = true;
  }

  private yieldAsked = false;
  /** Runs of rounds ended by yieldSoon(). */
  earlyYields = 0;
  private sleepTimer: ReturnType<typeof setTimeout> | null = null;
  private stepFn: (() => void) | null = null;
  /** Sleeps cut short by wake(). */
  wakeups = 0;
}
