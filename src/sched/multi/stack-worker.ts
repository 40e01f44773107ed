/**
 * Body of stack thread i >= 1 of --layout stack=N (a Bun Worker; see
 * stack-threads.ts). It pins itself if asked, attaches to the port the main
 * thread opened (its own dlopen of the shim and rte_thread_register: lcore id
 * and mempool cache), binds to queue pair i, runs the app module's export with a
 * QueueDevice until the main thread posts "stop", then releases its lcore and
 * posts its report.
 */
import { allowedCpus, pinThread } from "../split/affinity";
import { ArpMailboxEnd } from "./arp-mailbox";
import { QueueDevice } from "./queue-device";
import { SegmentMailboxEnd } from "./segment-mailbox";
import type { StackThreadApp, StackThreadReport, StackWorkerInit } from "./stack-threads";

declare const self: Worker;

let stop: ((why: string) => void) | null = null;
const stopped = new Promise<string>((r) => (stop = r));

self.onmessage = async (e: MessageEvent<StackWorkerInit | { stop: string }>) => {
  const m = e.data;
  if ("stop" in m) {
    stop?.(m.stop);
    return;
  }
  const init = m;
  try {
    const pinError = init.cpu >= 0 ? pinThread(init.cpu) : null;
    // Only ffi/ touches bun:ffi; imported here, in the Worker, so it loads the shim for this thread.
    const { DpdkDevice } = await import("../../../ffi/dpdk-device");
    const inner = DpdkDevice.attach(init.port, init.threads, init.maxBurst, init.index);
    const mailbox = new ArpMailboxEnd(init.index, init.mailbox);
    const segments = init.segments === null ? null : new SegmentMailboxEnd(init.index, init.segments);
    const device = new QueueDevice(inner, mailbox, init.index, segments);
    const mod = (await import(init.module)) as Record<string, StackThreadApp>;
    const app = mod[init.export];
    if (typeof app !== "function") throw new Error(`${init.module} has no export ${init.export}`);
    const report = await app({
      index: init.index,
      threads: init.threads,
      device,
      args: init.args,
      ready: () => postMessage({ ready: { cpus: allowedCpus(), pinError } }),
      stopped,
    });
    const rep: StackThreadReport = {
      index: init.index, cpus: allowedCpus(), pinError, rxFrames: device.rxFrames,
      arpSent: mailbox.sent, arpReceived: mailbox.received, arpDropped: mailbox.dropped,
      segSent: segments?.sent ?? 0, segDropped: segments?.dropped ?? 0, segInjected: device.segInjected, app: report,
    };
    postMessage({ done: rep });
  } catch (err) {
    postMessage({ error: String((err as Error)?.stack ?? err) });
  }
};
