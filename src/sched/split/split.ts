/**
 * Split mode (issue 5, "Flexible thread allocation"; layout `split:stack=1,app=N`).
 *
 * Threads. The stack thread is the thread that opened the device (the main
 * thread): it owns the device queue, the PollLoop and TCP. Each app thread is a
 * Bun Worker running application code on connection ids. Accepted connections
 * are spread round-robin over the app threads; a connection belongs to one app
 * thread for its life, so every connection's order is one lane's FIFO order.
 *
 * Lanes (channel.ts). Per app thread two lanes, each an SpscRing of 4-word
 * records plus a byte ring on a SharedArrayBuffer, one producer and one consumer,
 * no locks: stack -> app carries events (Open, Data, PeerFin, Closed, Stop; conn
 * id, priority class, payload position and length); app -> stack carries commands
 * (Send with payload, Shutdown, Close, Abort). Records are staged and published
 * with one Atomics.store per batch (FACTS: Atomics cost ~6 ns each).
 *
 * Copies. TcpLayer.recv copies from TCP's receive chunks straight into the event
 * lane's byte ring, and the app reads the bytes where they are (the view is valid
 * during its callback); TcpLayer.send copies from the command lane's byte ring
 * into TCP's send buffer. Those are the copies run-to-completion also makes (recv
 * into a buffer, send into the send buffer), so split mode adds none on the stack
 * side; an app that answers with received bytes (echo) copies them once into the
 * command lane. Frames (mbufs) never cross: TCP consumes them on the stack thread.
 *
 * Priority. Work is pending per connection and delivered class 0 first each
 * round (the class of the frame that caused it, Stack.rxClass); records carry the
 * class, and Send may ask for send-ahead in a class.
 *
 * Backpressure. The stack never blocks: a full event lane leaves the work pending
 * (TCP keeps the bytes, its window closes); a Send TCP cannot take whole is kept
 * and retried next round (this stalls that app thread's later commands until
 * acks free space: a documented head-of-line limit per app thread). An app
 * handler that finds the command lane full returns false and the same event is
 * offered again once the stack has made room.
 *
 * Idle. An app thread with nothing to do sleeps in Atomics.wait on its event
 * lane; the stack's publish notifies it (only when it announced it is waiting).
 * The stack thread keeps its PollLoop rules (spin, then sleep up to 1 ms); when
 * an app's command lane is empty it arms an Atomics.waitAsync on it, so a command
 * wakes the loop (PollLoop.wake) instead of waiting out the sleep.
 *
 * Pinning. Each thread may be pinned to a CPU from the layout (affinity.ts).
 */
import { Lane, type LaneShare } from "./channel";
import type { AppWorkerInit, AppWorkerReport } from "./app-worker";
import type { AppLanes } from "./stack-bridge";

export interface SplitAppsOptions {
  /** App threads. */
  count: number;
  /** Absolute path of the module exporting the handler factory, and the export name. */
  module: string;
  export: string;
  /** CPU for app thread i, or -1 (not pinned). */
  cpuFor?: (i: number) => number;
  /** Records per lane (default 4096) and payload bytes per lane (default 4 MiB). */
  laneRecords?: number;
  laneBytes?: number;
  idleWaitMs?: number;
}

export interface SplitApps {
  lanes: AppLanes[];
  /** Allowed CPUs each Worker reported after pinning, and pinning errors. */
  started: { cpus: string; pinError: string | null }[];
  /** Wait for every Worker to finish after their Stop records; returns their reports. */
  finished(timeoutMs?: number): Promise<AppWorkerReport[]>;
  /** Terminate the Workers (after finished(), or to give up). */
  terminate(): void;
}

/** Create the lanes, start the app Workers and wait until each is ready. */
export async function startSplitApps(o: SplitAppsOptions): Promise<SplitApps> {
  const lanes: AppLanes[] = [];
  const workers: Worker[] = [];
  const done: Promise<AppWorkerReport>[] = [];
  const ready: Promise<{ cpus: string; pinError: string | null }>[] = [];
  for (let i = 0; i < o.count; i++) {
    const l = { events: Lane.create(o.laneRecords ?? 4096, o.laneBytes ?? 1 << 22), commands: Lane.create(o.laneRecords ?? 4096, o.laneBytes ?? 1 << 22) };
    lanes.push(l);
    const w = new Worker(new URL("./app-worker.ts", import.meta.url).href);
    workers.push(w);
    let onReady!: (v: { cpus: string; pinError: string | null }) => void;
    let onDone!: (v: AppWorkerReport) => void;
    let onErr!: (e: Error) => void;
    const failed = new Promise<never>((_, rej) => (onErr = rej));
    failed.catch(() => {});
    ready.push(Promise.race([new Promise<{ cpus: string; pinError: string | null }>((r) => (onReady = r)), failed]));
    done.push(Promise.race([new Promise<AppWorkerReport>((r) => (onDone = r)), failed]));
    w.onmessage = (e: MessageEvent) => {
      const m = e.data as { ready?: boolean; cpus: string; pinError: string | null; done?: AppWorkerReport; error?: string };
      if (m.error !== undefined) onErr(new Error(`split app thread ${i}: ${m.error}`));
      else if (m.ready) onReady({ cpus: m.cpus, pinError: m.pinError });
      else if (m.done !== undefined) onDone(m.done);
    };
    w.onerror = (e) => onErr(new Error(`split app thread ${i}: ${e.message}`));
    const init: AppWorkerInit = {
      index: i, events: share(l.events), commands: share(l.commands), module: o.module, export: o.export,
      cpu: o.cpuFor?.(i) ?? -1, idleWaitMs: o.idleWaitMs,
    };
    w.postMessage(init);
  }
  let started: { cpus: string; pinError: string | null }[];
  try {
    started = await Promise.all(ready);
  } catch (e) {
    for (const w of workers) w.terminate();
    throw e;
  }
  return {
    lanes,
    started,
    async finished(timeoutMs = 5000) {
      let t: ReturnType<typeof setTimeout> | null = null;
      const timeout = new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error("split app threads did not stop in time")), timeoutMs)));
      try {
        return await Promise.race([Promise.all(done), timeout]);
      } finally {
        if (t !== null) clearTimeout(t);
      }
    },
    terminate() {
      for (const w of workers) w.terminate();
    },
  };
}

function share(l: Lane): LaneShare {
  return l.share();
}
