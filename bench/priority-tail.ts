/**
 * Why a high-priority message was slow (bench/priority, issue 5): per-message
 * evidence instead of per-leg percentiles. The generator keeps every high
 * message slower than a threshold with its wall-clock stamps (intended send,
 * sent, read by the server, replied, received: both processes read the same
 * clock, wallUs); each process keeps its poll-round gaps over a threshold as
 * wall-clock intervals with the run-queue wait inside them. `explainTail`
 * then charges each slow message to the leg that took longest and says
 * whether a stall of either process overlapped that leg.
 *
 * Fixed-size typed arrays, filled only on slow events: nothing is allocated
 * per message or per round.
 */
import { wallUs } from "../src/api/clock";
import type { PollLoop, PollStage } from "../src/sched/poll-loop";
import { runQueueWaitUs } from "../apps/iotep/round-gaps";
import { FrameTap } from "../src/net/frame-tap";
import { IPPROTO_TCP } from "../src/net/l4-tx";
import { FrameInfo, parseFrameInfo } from "../src/sched/classifier";
import type { RoundProbe } from "./priority-gaps";
import { LABEL_REPLY, LABEL_REQUEST, OFF_LABEL, OFF_PRIO, OFF_SEQ, PRIO_HIGH } from "./priority-server";

/** Fields of one slow message. */
const SF = 7;
/**
 * Fields of one stall: start, length, run-queue wait, slept, then the six GAP_PARTS,
 * the thread's CPU time, the sample span around the gap and the frames received in it
 * (bench/priority-gaps.ts).
 */
const TF = 13;

/** Slow high-priority messages: intended, sent, read, replied, received (wall us) and the latency (us). */
export class SlowLog {
  readonly rec: Float64Array;
  n = 0;
  /** Slow messages beyond the capacity (counted, not kept). */
  over = 0;
  constructor(
    readonly thresholdUs = 1000,
    readonly capacity = 2000,
  ) {
    this.rec = new Float64Array(capacity * SF);
  }
  /** Keep one message if latUs is over the threshold; recvWall is now on the wall clock. */
  note(k: number, latUs: number, sent: number, read: number, replied: number, recvWall: number): void {
    if (latUs <= this.thresholdUs) return;
    if (this.n === this.capacity) {
      this.over++;
      return;
    }
    const r = this.rec;
    const o = this.n++ * SF;
    r[o] = recvWall - latUs;
    r[o + 1] = sent;
    r[o + 2] = read;
    r[o + 3] = replied;
    r[o + 4] = recvWall;
    r[o + 5] = latUs;
    r[o + 6] = k;
  }
  reset(): void {
    this.n = this.over = 0;
  }
  /** [intended, sent, read, replied, received, latency, message number] per message. */
  rows(): number[][] {
    const out: number[][] = [];
    for (let i = 0; i < this.n; i++) out.push(Array.from(this.rec.subarray(i * SF, i * SF + SF)));
    return out;
  }
}

/**
 * A poll stage that keeps every gap between round starts over `thresholdUs`
 * as [start wall us, length us, run-queue wait us inside it, 1 if the loop
 * slept inside it, and with a RoundProbe the gap's six parts (GAP_PARTS), else
 * zeros]. Add it after the probe's first stage.
 */
export class StallLog implements PollStage {
  readonly rec: Float64Array;
  n = 0;
  over = 0;
  private lastUs = -1;
  private lastSleeps = 0;
  private lastWaitUs: number;
  private readonly buf = new Uint8Array(96);
  /** Write each gap to stderr too (a `[qs-gap ...]` line beside BUN_JSC_logGC's lines). */
  private readonly logLines = process.env["BUN_JSC_logGC"] !== undefined;
  constructor(
    private readonly loop: PollLoop,
    readonly thresholdUs = 1000,
    readonly capacity = 4000,
    private readonly probe: RoundProbe | null = null,
  ) {
    this.rec = new Float64Array(capacity * TF);
    this.lastWaitUs = runQueueWaitUs(this.buf);
  }
  poll(nowUs: number): number {
    const sleeps = this.loop.idleSleeps;
    if (this.lastUs >= 0) {
      const gap = nowUs - this.lastUs;
      if (gap > this.thresholdUs) {
        const w = runQueueWaitUs(this.buf);
        if (this.n < this.capacity) {
          const r = this.rec;
          const o = this.n++ * TF;
          // The loop's clock and the wall clock advance together: the gap ended now.
          r[o] = wallUs() - (this.loop.clock() - nowUs) - gap;
          r[o + 1] = gap;
          const p = this.probe;
          // With a probe, its sample span around the gap (at most 100 us longer) gives the wait exactly.
          r[o + 2] = p !== null && p.spanUs > 0 ? Math.min(gap, p.spanWaitUs) : w >= 0 && this.lastWaitUs >= 0 ? Math.min(gap, w - this.lastWaitUs) : -1;
          r[o + 3] = sleeps !== this.lastSleeps ? 1 : 0;
          if (p !== null) {
            p.parts(nowUs, r, o + 4);
            r[o + 10] = p.spanCpuUs;
            r[o + 11] = p.spanUs;
            r[o + 12] = p.spanFrames;
          }
          if (this.logLines) process.stderr.write(`[qs-gap len=${Math.round(gap)} wait=${Math.round(r[o + 2]!)} slept=${r[o + 3]} parts=${Array.from(r.subarray(o + 4, o + 10), Math.round).join(",")} cpu=${Math.round(r[o + 10]!)} span=${Math.round(r[o + 11]!)} frames=${r[o + 12]}]\n`);
        } else this.over++;
        this.lastWaitUs = w;
      }
    }
    this.lastUs = nowUs;
    this.lastSleeps = sleeps;
    return 0;
  }
  pollAt(): number {
    return Number.POSITIVE_INFINITY;
  }
  reset(): void {
    this.n = this.over = 0;
  }
  /** [start wall us, length us, run-queue wait us, slept 0/1, six parts, CPU us, span us, frames] per stall. */
  rows(): number[][] {
    const out: number[][] = [];
    for (let i = 0; i < this.n; i++) out.push(Array.from(this.rec.subarray(i * TF, i * TF + TF)));
    return out;
  }
}

/**
 * The legs of a message, between its stamps: intended send, written by the
 * generator app, generator tx burst, server rx burst, read by the server app,
 * reply written, server tx burst, generator rx burst, reply read by the
 * generator app.
 */
export const LEGS = ["send lag", "gen stack out", "ring to server", "server stack in", "in server app", "server stack out", "ring back", "gen stack in"] as const;

export interface TailExplained {
  slow: number;
  /** Slow messages by their longest leg. */
  byLeg: Record<string, number>;
  /** Of them, how many had a round gap > 1 ms of the generator / the server overlapping that leg. */
  genStall: number;
  serverStall: number;
  /** ... and of those gaps, how many were mostly waiting for a CPU. */
  cpuWait: number;
  /** Sum over slow messages of each leg, us (where the slow messages' time went). */
  legUs: Record<string, number>;
  /** The slowest few: latency and legs, us, and the overlapping stalls. */
  worst: string[];
}

function overlaps(stalls: number[][], from: number, to: number): number[][] {
  return stalls.filter((s) => s[0]! < to && s[0]! + s[1]! > from && s[3] === 0);
}

/**
 * Charge each slow message to its longest leg and to the stalls that overlap
 * it. `genWire[i]` = [request tx, reply rx] at the generator's bursts and
 * `serverWire` rows [message number, request rx, reply tx] at the server's
 * (0: not seen; that leg then counts as 0 and the next takes its time).
 */
export function explainTail(slow: number[][], genWire: number[][], serverWire: number[][], genStalls: number[][], serverStalls: number[][], worstN = 12): TailExplained {
  const byLeg: Record<string, number> = Object.fromEntries(LEGS.map((l) => [l, 0]));
  const legUs: Record<string, number> = Object.fromEntries(LEGS.map((l) => [l, 0]));
  const srv = new Map<number, number[]>();
  for (const r of serverWire) srv.set(r[0]!, r);
  let genStall = 0;
  let serverStall = 0;
  let cpuWait = 0;
  const lines: [number, string][] = [];
  for (let i = 0; i < slow.length; i++) {
    const [intended, sent, read, replied, recv, lat, k] = slow[i] as [number, number, number, number, number, number, number];
    const gw = genWire[i] ?? [0, 0];
    const sw = srv.get(k) ?? [k, 0, 0];
    const raw = [intended, sent, gw[0]!, sw[1]!, read, replied, sw[2]!, gw[1]!, recv];
    const b: number[] = [];
    for (let j = 0; j < raw.length; j++) b.push(raw[j]! > 0 ? raw[j]! : j > 0 ? b[j - 1]! : raw[j]!);
    const legs = LEGS.map((_, j) => b[j + 1]! - b[j]!);
    let li = 0;
    for (let j = 1; j < legs.length; j++) if (legs[j]! > legs[li]!) li = j;
    byLeg[LEGS[li]!]!++;
    for (let j = 0; j < legs.length; j++) legUs[LEGS[j]!]! += legs[j]!;
    const from = b[li]!;
    const to = b[li + 1]!;
    const g = overlaps(genStalls, from, to);
    const s = overlaps(serverStalls, from, to);
    if (g.length > 0) genStall++;
    if (s.length > 0) serverStall++;
    if ([...g, ...s].some((x) => x[2]! > x[1]! / 2)) cpuWait++;
    const st = (who: string, xs: number[][]) => xs.map((x) => `${who} gap ${Math.round(x[1]!)} us (${Math.round(x[2]!)} waiting) at +${Math.round(x[0]! - from)}`).join(", ");
    const gaps = [st("generator", g), st("server", s)].filter((x) => x !== "").join(", ");
    lines.push([lat, `#${k} ${Math.round(lat)} us = ${legs.map((x) => Math.round(x)).join(" + ")}; longest ${LEGS[li]}${gaps !== "" ? `; ${gaps}` : ""}`]);
  }
  lines.sort((a, b) => b[0] - a[0]);
  for (const l of LEGS) legUs[l] = Math.round(legUs[l]!);
  return { slow: slow.length, byLeg, genStall, serverStall, cpuWait, legUs, worst: lines.slice(0, worstN).map((x) => x[1]) };
}

/**
 * High-priority messages' times at a process's wire, by message number: when
 * a request frame and its reply frame crossed this stack's bursts (wall us;
 * the first time only). On the generator: request tx, reply rx; on the server
 * (PriorityWireTap.high): request rx, reply tx. High messages start their own
 * segment both ways (SEND_AHEAD), so only a message at the payload's start is
 * looked at.
 */
export class HighStamps {
  readonly req: Float64Array;
  readonly rep: Float64Array;
  private readonly wallOffset: number;
  constructor(
    clockUs: () => number,
    readonly size = 1 << 17,
  ) {
    this.req = new Float64Array(size);
    this.rep = new Float64Array(size);
    this.wallOffset = wallUs() - clockUs();
  }
  note(tUs: number, request: boolean, no: number): void {
    if (no < 0 || no >= this.size) return;
    const a = request ? this.req : this.rep;
    if (a[no] === 0) a[no] = tUs + this.wallOffset;
  }
  reset(): void {
    this.req.fill(0);
    this.rep.fill(0);
  }
  /** [request, reply] wall us of message `no` (0: not seen). */
  of(no: number): [number, number] {
    return no >= 0 && no < this.size ? [this.req[no]!, this.rep[no]!] : [0, 0];
  }
  /** The stamps of messages `nos` (for the orchestrator). */
  pick(nos: number[]): number[][] {
    return nos.map((k) => this.of(k));
  }
}

/** The generator's tap: its high requests' tx bursts and their replies' rx bursts. */
export class GenHighTap extends FrameTap {
  readonly stamps: HighStamps;
  private readonly info = new FrameInfo();
  constructor(
    private readonly serverPort: number,
    mem: Uint8Array,
    dv: DataView,
    clockUs: () => number,
  ) {
    super(mem, dv, clockUs);
    this.stamps = new HighStamps(clockUs);
  }
  protected frame(tUs: number, buf: Uint8Array, dv: DataView, off: number, len: number, rx: boolean): void {
    const f = this.info;
    if (!parseFrameInfo(buf, dv, off, len, f) || f.l4Proto !== IPPROTO_TCP) return;
    if ((rx ? f.srcPort : f.dstPort) !== this.serverPort || f.payloadLen < OFF_SEQ + 4) return;
    const p = f.payloadOff;
    if (buf[p + OFF_PRIO] !== PRIO_HIGH) return;
    const label = buf[p + OFF_LABEL];
    if (label !== (rx ? LABEL_REPLY : LABEL_REQUEST)) return;
    this.stamps.note(tUs, !rx, dv.getInt32(p + OFF_SEQ, true));
  }
}
