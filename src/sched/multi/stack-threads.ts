/**
 * Several stack threads (issue 5, "Flexible thread allocation"; --layout stack=N).
 *
 * Threads. Stack thread 0 is the main thread: it starts EAL, opens the port with
 * N rx/tx queue pairs and serves queue 0. Stack threads 1..N-1 are Bun Workers
 * (stack-worker.ts); each dlopens the shim itself, registers with EAL
 * (rte_thread_register: an lcore id and its own mempool cache, FACTS "Workers"),
 * binds to its queue pair and runs its own Stack, PollLoop, TCP and copy of the
 * app, run to completion. No TCP state is shared: a connection lives on the
 * thread whose queue its segments arrive on. Listening sockets are replicated
 * (each thread's app listens).
 *
 * Spreading. The device must deliver every received segment of one flow to one
 * queue: RSS on NICs (qs_port_setup configures it when the device reports
 * support); PACKET_FANOUT_HASH for net_af_packet with qpairs=N (DPDK 22.11
 * drivers/net/af_packet joins its per-queue sockets to one fanout group with
 * PACKET_FANOUT_HASH | FLAG_DEFRAG | FLAG_ROLLOVER; the kernel hashes the flow);
 * the kernel's queue choice for a multi-queue net_tap (tun picks by flow hash,
 * and by the queue a flow was last sent on, as we read drivers/net/tun.c).
 * Both vdevs were checked here (test/dpdk/multi-stack-echo.test.ts): 200
 * connections split about evenly, every one intact.
 *
 * Active opens. Where the device's hash is known (a NIC reporting its Toeplitz
 * key), each thread picks ephemeral ports whose returning flows hash to its own
 * queue (rss-ports.ts). Where it is not (af_packet: the kernel's fanout hash is
 * seeded per boot; tap: the kernel picks the queue), ports are partitioned
 * (thread k owns p mod N == k) and a segment that reaches a thread with no
 * connection or listener for it is forwarded once, over SPSC rings, to the
 * thread owning its destination port (segment-forward.ts, segment-mailbox.ts).
 * keepActiveOpensHome picks one or the other; every thread's app calls it once.
 * An explicit local port of another thread is refused with EADDRINUSE (as the
 * RSS probe refuses one whose flow hashes elsewhere).
 *
 * Known limits. FLAG_ROLLOVER moves frames to another socket when a queue's
 * ring is full, so under overload a segment of a passive connection can reach a
 * thread that does not know it; with TcpConfig.strayRst off (echo stack=N) it
 * is dropped and counted (the owner gets the peer's retransmission), and it is
 * not forwarded (listeners are replicated: their port says nothing about the
 * owner). A connection opened actively whose flow the device delivers to the
 * other thread has every segment it receives forwarded (two copies and a second
 * IPv4 input each): about half the connections on af_packet with N = 2,
 * fewer on tap (its flow table mostly follows the queue a flow was sent on).
 * A forwarded segment that finds the ring full is dropped (counted) and
 * recovered by TCP's retransmission.
 * Per-thread: --max-conns and buffer memory are per stack thread; --pcap is
 * refused; --metrics-port and the status line are stack thread 0's only.
 *
 * ARP. Each thread has its own ARP cache; every ARP packet a thread receives is
 * forwarded to the others over SPSC rings (arp-mailbox.ts, queue-device.ts).
 * ICMP echo is answered by the thread that receives the request.
 *
 * Idle. Every thread keeps the PollLoop's rules: spin a little after work, then
 * sleep (setTimeout, at most 1 ms) until the next deadline, so an idle thread
 * does not burn its core. A Worker's event loop also carries its stop message.
 */
import type { ArpMailboxShare } from "./arp-mailbox";
import type { SegmentMailboxShare } from "./segment-mailbox";

export interface StackWorkerInit {
  /** Stack thread index (1..threads-1; 0 is the main thread). */
  index: number;
  threads: number;
  /** DPDK port id the main thread opened with `threads` queue pairs. */
  port: number;
  /** Largest burst (the main device's caps.maxBurst). */
  maxBurst: number;
  cpu: number;
  mailbox: ArpMailboxShare;
  /** TCP segments forwarded between threads (segment-forward.ts), or null. */
  segments: SegmentMailboxShare | null;
  /** Absolute path of the module exporting the thread's app, and the export name. */
  module: string;
  export: string;
  /** The app's own start data (structured-cloneable, e.g. parsed flag values). */
  args: unknown;
}

/** What a stack thread's app gets. */
export interface StackThreadContext {
  index: number;
  threads: number;
  /** This thread's device: the port bound to queue `index`, with the ARP exchange. */
  device: import("./queue-device").QueueDevice;
  args: unknown;
  /** Call once the app serves (listening); the main thread waits for every thread's. */
  ready(): void;
  /** Resolves when the main thread asks the thread to stop. */
  stopped: Promise<string>;
}

/** An app module's export: runs the thread's app until ctx.stopped, returns its report. */
export type StackThreadApp = (ctx: StackThreadContext) => Promise<unknown>;

export interface StackThreadReport {
  index: number;
  cpus: string;
  pinError: string | null;
  /** Frames received on the thread's queue; ARP packets forwarded out, taken in, dropped. */
  rxFrames: number;
  arpSent: number;
  arpReceived: number;
  arpDropped: number;
  /** TCP segments forwarded to other threads, dropped (ring full), and injected here (segment-forward.ts). */
  segSent: number;
  segDropped: number;
  segInjected: number;
  /** The app's own report. */
  app: unknown;
}

export interface StackThreadsOptions {
  threads: number;
  port: number;
  maxBurst: number;
  mailbox: ArpMailboxShare;
  /** The segment exchange (segment-mailbox.ts), when active opens may need it. */
  segments?: SegmentMailboxShare | null;
  module: string;
  export: string;
  args: unknown;
  /** CPU for stack thread i (i >= 1), or -1. */
  cpuFor?: (i: number) => number;
  /** How long to wait for each Worker to be up (default 30 s). */
  readyTimeoutMs?: number;
}

export interface StackThreads {
  /** Allowed CPUs and pinning errors per Worker (index 0 of this array is stack thread 1). */
  started: { cpus: string; pinError: string | null }[];
  /** Ask every Worker to stop and wait for their reports (stack threads 1..N-1, in order). */
  stop(timeoutMs?: number): Promise<StackThreadReport[]>;
  terminate(): void;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: ReturnType<typeof setTimeout> | null = null;
  const timeout = new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(what)), ms)));
  return Promise.race([p, timeout]).finally(() => {
    if (t !== null) clearTimeout(t);
  });
}

/** Start stack threads 1..threads-1 as Workers and wait until each app is up. */
export async function startStackThreads(o: StackThreadsOptions): Promise<StackThreads> {
  const workers: Worker[] = [];
  const ready: Promise<{ cpus: string; pinError: string | null }>[] = [];
  const done: Promise<StackThreadReport>[] = [];
  for (let i = 1; i < o.threads; i++) {
    const w = new Worker(new URL("./stack-worker.ts", import.meta.url).href);
    workers.push(w);
    let onReady!: (v: { cpus: string; pinError: string | null }) => void;
    let onDone!: (v: StackThreadReport) => void;
    let onErr!: (e: Error) => void;
    const failed = new Promise<never>((_, rej) => (onErr = rej));
    failed.catch(() => {});
    ready.push(Promise.race([new Promise<{ cpus: string; pinError: string | null }>((r) => (onReady = r)), failed]));
    const d = Promise.race([new Promise<StackThreadReport>((r) => (onDone = r)), failed]);
    d.catch(() => {});
    done.push(d);
    w.onmessage = (e: MessageEvent) => {
      const m = e.data as { ready?: { cpus: string; pinError: string | null }; done?: StackThreadReport; error?: string };
      if (m.error !== undefined) onErr(new Error(`stack thread ${i}: ${m.error}`));
      else if (m.ready !== undefined) onReady(m.ready);
      else if (m.done !== undefined) onDone(m.done);
    };
    w.onerror = (e) => onErr(new Error(`stack thread ${i}: ${e.message}`));
    const init: StackWorkerInit = {
      index: i, threads: o.threads, port: o.port, maxBurst: o.maxBurst, cpu: o.cpuFor?.(i) ?? -1,
      mailbox: o.mailbox, segments: o.segments ?? null, module: o.module, export: o.export, args: o.args,
    };
    w.postMessage(init);
  }
  let started: { cpus: string; pinError: string | null }[];
  try {
    started = await withTimeout(Promise.all(ready), o.readyTimeoutMs ?? 30_000, "stack threads did not come up in time");
  } catch (e) {
    for (const w of workers) w.terminate();
    throw e;
  }
  return {
    started,
    async stop(timeoutMs = 10_000) {
      for (const w of workers) w.postMessage({ stop: "stop" });
      return withTimeout(Promise.all(done), timeoutMs, "stack threads did not stop in time");
    },
    terminate() {
      for (const w of workers) w.terminate();
    },
  };
}
