/**
 * mcc --smp N on our stack, the stack thread's side (lanes: smp-lanes.ts).
 * One poll stage that, each round,
 *   1. runs every app thread's commands: Connect/Send/Close become IdClient
 *      calls (a Send's payload is copied from the lane's byte ring into a
 *      scratch buffer, as the generator's own buffer would be on one thread);
 *   2. runs IdClient's poll, whose generator callbacks (opened, connectFailed,
 *      closed, data) this router receives and forwards as event records to
 *      the lane of the thread that owns the connection, i mod N;
 *   3. publishes the staged event records (one Atomics.store per lane).
 *
 * The stack never blocks: an event that does not fit its lane waits in a
 * per-thread overflow list (a rare path that allocates; counted) and is
 * delivered first in later rounds, so per-connection order holds.
 *
 * Idle: when a command lane is empty the router arms an Atomics.waitAsync on
 * it (channel.ts AsyncWaker), so an app thread's command cuts the poll loop's
 * idle sleep short instead of waiting it out.
 *
 * After a thread's Finishing record its connections' events are dropped, as
 * IdClient drops them once the single-threaded generator has closed its
 * connections: that thread has stopped reading its lane.
 */
import type { PollStage } from "../../src/sched/poll-loop";
import { AsyncWaker, RecordWriter, REC_WORDS } from "../../src/sched/split/channel";
import type { GenEvents } from "./generator";
import type { IdClient } from "./id-client";
import { MAX_MSG_LEN } from "./protocol";
import { GenCommand, GenEvent, type ThreadLanes } from "./smp-lanes";

const CMD_BATCH = 64;
/** Commands taken from one thread per round at most (the others and the receive side get their turn). */
const CMDS_PER_ROUND = 1024;

interface Overflowed {
  kind: number;
  i: number;
  bytes: Uint8Array | null;
}

/** Per app thread, what the router did (for mcc.json). */
export interface RouterThreadCounts {
  commands: number;
  events: number;
  /** Events that found the lane full and waited in the overflow list. */
  overflowed: number;
  /** Sends IdClient refused (the connection had already closed on the stack side). */
  sendRefused: number;
  /** Events dropped after the thread finished. */
  droppedAfterFinish: number;
}

export class LaneRouter implements PollStage, GenEvents {
  readonly counts: RouterThreadCounts[];
  /** Called once, when the first thread reports Finishing (before its closes run). */
  onFirstFinish: (() => void) | null = null;
  private readonly n: number;
  private readonly writers: RecordWriter[];
  private readonly wakers: AsyncWaker[];
  private readonly overflow: Overflowed[][];
  private readonly finished: Uint8Array;
  private anyFinished = false;
  private readonly cmd = new Uint32Array(CMD_BATCH * REC_WORDS);
  private readonly scratch = new Uint8Array(MAX_MSG_LEN);

  constructor(
    private readonly client: IdClient,
    private readonly lanes: ThreadLanes[],
    wake: () => void,
  ) {
    this.n = lanes.length;
    this.writers = lanes.map((l) => new RecordWriter(l.events.records, 64));
    this.wakers = lanes.map((l) => new AsyncWaker(l.commands.records, wake));
    this.overflow = lanes.map(() => []);
    this.finished = new Uint8Array(lanes.length);
    this.counts = lanes.map(() => ({ commands: 0, events: 0, overflowed: 0, sendRefused: 0, droppedAfterFinish: 0 }));
  }

  // ---- PollStage ----

  poll(nowUs: number): number {
    let work = 0;
    for (let k = 0; k < this.n; k++) work += this.commands(k);
    for (let k = 0; k < this.n; k++) if (this.overflow[k]!.length > 0) work += this.drainOverflow(k);
    work += this.client.poll(nowUs);
    for (let k = 0; k < this.n; k++) this.writers[k]!.flush();
    return work;
  }

  pollAt(): number {
    return Number.POSITIVE_INFINITY;
  }

  // ---- GenEvents (from IdClient) ----

  opened(i: number): void {
    this.put(i % this.n, GenEvent.Opened, i);
  }

  connectFailed(i: number): void {
    this.put(i % this.n, GenEvent.ConnectFailed, i);
  }

  closed(i: number): void {
    this.put(i % this.n, GenEvent.Closed, i);
  }

  data(i: number, buf: Uint8Array, off: number, len: number, _nowUs: number): void {
    const k = i % this.n;
    if (this.finished[k] === 1) {
      this.counts[k]!.droppedAfterFinish++;
      return;
    }
    if (this.overflow[k]!.length === 0 && this.putData(k, i, buf, off, len)) return;
    this.counts[k]!.overflowed++;
    this.overflow[k]!.push({ kind: GenEvent.Data, i, bytes: buf.slice(off, off + len) });
  }

  private put(k: number, kind: number, i: number): void {
    if (this.finished[k] === 1) {
      this.counts[k]!.droppedAfterFinish++;
      return;
    }
    const w = this.writers[k]!;
    if (this.overflow[k]!.length === 0 && w.hasRoom()) {
      w.put(kind, 0, 0, i, 0, 0);
      this.counts[k]!.events++;
      return;
    }
    this.counts[k]!.overflowed++;
    this.overflow[k]!.push({ kind, i, bytes: null });
  }

  private putData(k: number, i: number, buf: Uint8Array, off: number, len: number): boolean {
    const w = this.writers[k]!;
    if (!w.hasRoom()) return false;
    const bytes = this.lanes[k]!.events.bytes;
    const pos = bytes.reserve(len);
    if (pos < 0) return false;
    const dst = bytes.u8;
    const at = pos & bytes.mask;
    if (len <= 256) for (let b = 0; b < len; b++) dst[at + b] = buf[off + b]!;
    else dst.set(buf.subarray(off, off + len), at);
    bytes.commit(pos, len);
    w.put(GenEvent.Data, 0, 0, i, pos, len);
    this.counts[k]!.events++;
    return true;
  }

  private drainOverflow(k: number): number {
    const q = this.overflow[k]!;
    const w = this.writers[k]!;
    let done = 0;
    while (done < q.length && this.finished[k] === 0) {
      const e = q[done]!;
      if (e.bytes !== null) {
        if (!this.putData(k, e.i, e.bytes, 0, e.bytes.length)) break;
      } else {
        if (!w.hasRoom()) break;
        w.put(e.kind, 0, 0, e.i, 0, 0);
        this.counts[k]!.events++;
      }
      done++;
    }
    if (this.finished[k] === 1) {
      this.counts[k]!.droppedAfterFinish += q.length - done;
      done = q.length;
    }
    q.splice(0, done);
    return done;
  }

  // ---- commands ----

  private commands(k: number): number {
    const lane = this.lanes[k]!.commands;
    const bytes = lane.bytes;
    const buf = this.cmd;
    const client = this.client;
    const scratch = this.scratch;
    let done = 0;
    let releaseTo = 0;
    let release = false;
    while (done < CMDS_PER_ROUND) {
      const m = lane.records.popBatch(buf, buf.length) / REC_WORDS;
      if (m === 0) {
        this.wakers[k]!.arm();
        break;
      }
      for (let r = 0; r < m; r++) {
        const w = r * REC_WORDS;
        const i = buf[w + 1]!;
        switch (buf[w]! & 0xff) {
          case GenCommand.Send: {
            const pos = buf[w + 2]! | 0;
            const len = buf[w + 3]!;
            const u8 = bytes.u8;
            const at = pos & bytes.mask;
            if (len <= 256) for (let b = 0; b < len; b++) scratch[b] = u8[at + b]!;
            else scratch.set(u8.subarray(at, at + len), 0);
            if (!client.send(i, scratch, len)) this.counts[k]!.sendRefused++;
            releaseTo = (pos + len) | 0;
            release = true;
            break;
          }
          case GenCommand.Connect:
            client.connect(i);
            break;
          case GenCommand.Close:
            client.close(i);
            break;
          case GenCommand.Finishing:
            this.finished[k] = 1;
            if (!this.anyFinished) {
              this.anyFinished = true;
              this.onFirstFinish?.();
            }
            break;
        }
      }
      done += m;
    }
    if (release) bytes.release(releaseTo);
    this.counts[k]!.commands += done;
    return done;
  }
}
