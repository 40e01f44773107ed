/**
 * Body of one split-mode app thread (a Bun Worker). The stack thread posts one
 * message: the lanes to attach, the handler module and export to build the
 * handler from, and an optional CPU to pin to. The Worker answers "ready", runs
 * SplitApp.run() (blocking in Atomics.wait while idle) until a Stop record, then
 * posts its counters and closes.
 */
import { SplitApp, type SplitAppHandler } from "./app-end";
import { Lane, type LaneShare } from "./channel";
import { allowedCpus, pinThread } from "./affinity";

declare const self: Worker;

export interface AppWorkerInit {
  index: number;
  events: LaneShare;
  commands: LaneShare;
  /** Absolute module path and the export that returns a SplitAppHandler (called with `index`). */
  module: string;
  export: string;
  cpu: number;
  idleWaitMs?: number;
}

export interface AppWorkerReport {
  index: number;
  events: number;
  commands: number;
  fullWaits: number;
  idleWaits: number;
  cpus: string;
  pinError: string | null;
  counts?: unknown;
}

self.onmessage = async (e: MessageEvent<AppWorkerInit>) => {
  const init = e.data;
  try {
    const pinError = init.cpu >= 0 ? pinThread(init.cpu) : null;
    const mod = (await import(init.module)) as Record<string, (i: number) => SplitAppHandler & { counts?: unknown }>;
    const make = mod[init.export];
    if (typeof make !== "function") throw new Error(`${init.module} has no export ${init.export}`);
    const handler = make(init.index);
    const app = new SplitApp(Lane.attach(init.events), Lane.attach(init.commands), handler);
    postMessage({ ready: true, cpus: allowedCpus(), pinError });
    app.run(init.idleWaitMs ?? 100);
    const rep: AppWorkerReport = {
      index: init.index, events: app.events, commands: app.commands, fullWaits: app.fullWaits, idleWaits: app.idleWaits,
      cpus: allowedCpus(), pinError, counts: handler.counts,
    };
    postMessage({ done: rep });
  } catch (err) {
    postMessage({ error: String((err as Error)?.stack ?? err) });
  }
};
