/**
 * bench/pps plumbing: the orchestrator runs each DPDK side in its own Bun
 * process (EAL starts once per process) and talks to it in JSON lines:
 * commands on the child's stdin, events on its stdout.
 */
import { lines } from "../scripts/lines";

export type Ev = Record<string, unknown> & { ev: string };

export interface Proc {
  readonly name: string;
  send(cmd: string): void;
  /** Next event named `ev` (events are queued until asked for). */
  next(ev: string, timeoutMs: number): Promise<Ev>;
  exited(): Promise<number>;
  kill(): void;
  stderr(): Promise<string>;
}

/** Spawn `bun <script> ...args`; stderr is kept for error reports. */
export function spawnProc(name: string, script: string, args: string[], env?: Record<string, string>): Proc {
  const proc = Bun.spawn([process.execPath, script, ...args], { stdin: "pipe", stdout: "pipe", stderr: "pipe", env: env === undefined ? undefined : { ...process.env, ...env } });
  const queue: Ev[] = [];
  const waiting: { ev: string; resolve: (e: Ev) => void; reject: (e: Error) => void }[] = [];
  let ended = false;
  (async () => {
    for await (const line of lines(proc.stdout)) {
      if (!line.startsWith("{")) continue;
      let e: Ev;
      try {
        e = JSON.parse(line) as Ev;
      } catch {
        continue;
      }
      const w = waiting.findIndex((x) => x.ev === e.ev || e.ev === "error");
      if (w >= 0) {
        const x = waiting.splice(w, 1)[0]!;
        if (e.ev === "error") x.reject(new Error(`${name}: ${String(e.message)}`));
        else x.resolve(e);
      } else {
        queue.push(e);
      }
    }
    ended = true;
    for (const x of waiting.splice(0)) x.reject(new Error(`${name} exited before sending "${x.ev}"`));
  })();
  let errText: Promise<string> | null = null;
  return {
    name,
    send(cmd) {
      proc.stdin.write(cmd + "\n");
      proc.stdin.flush();
    },
    next(ev, timeoutMs) {
      const i = queue.findIndex((e) => e.ev === ev || e.ev === "error");
      if (i >= 0) {
        const e = queue.splice(i, 1)[0]!;
        return e.ev === "error" ? Promise.reject(new Error(`${name}: ${String(e.message)}`)) : Promise.resolve(e);
      }
      if (ended) return Promise.reject(new Error(`${name} exited before sending "${ev}"`));
      return new Promise<Ev>((resolve, reject) => {
        const t = setTimeout(() => {
          const k = waiting.findIndex((x) => x.resolve === res);
          if (k >= 0) waiting.splice(k, 1);
          reject(new Error(`${name}: no "${ev}" within ${timeoutMs} ms`));
        }, timeoutMs);
        const res = (e: Ev) => (clearTimeout(t), resolve(e));
        waiting.push({ ev, resolve: res, reject: (e) => (clearTimeout(t), reject(e)) });
      });
    },
    exited: () => proc.exited,
    kill() {
      try {
        proc.kill(9);
      } catch {
        // gone already
      }
    },
    stderr() {
      errText ??= new Response(proc.stderr).text();
      return errText;
    },
  };
}

/** Child side: print one event line. */
export function emit(ev: string, data: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ ev, ...data }) + "\n");
}

/**
 * emit(), resolving once the line has left this process: a peer that exits
 * right after its last event awaits it. Writes to a pipe are asynchronous, and
 * a process that exits with a write pending loses it (bench priority saw a
 * server's "stats" line, ~200 KB or three pipe buffers, lost this way when
 * the reader, at SCHED_IDLE, had not drained the pipe yet).
 */
export function emitFlushed(ev: string, data: Record<string, unknown> = {}): Promise<void> {
  return new Promise((resolve) => void process.stdout.write(JSON.stringify({ ev, ...data }) + "\n", () => resolve()));
}

const commands: string[] = [];
let reading = false;

/** Child side: the next command line if one has arrived (the event loop must get turns). */
export function pollCommand(): string | null {
  if (!reading) {
    reading = true;
    let buf = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        commands.push(buf.slice(0, nl).trim());
        buf = buf.slice(nl + 1);
      }
    });
  }
  return commands.length > 0 ? commands.shift()! : null;
}

/** Child side: wait for the next command line. */
export async function nextCommand(): Promise<string> {
  for (;;) {
    const c = pollCommand();
    if (c !== null) return c;
    await Bun.sleep(2);
  }
}

/** Let Bun's event loop run once (stdin) without a 1 ms timer clamp. */
export function yieldToLoop(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
