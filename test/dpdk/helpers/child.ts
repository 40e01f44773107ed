/**
 * Run a test scenario in its own Bun process and talk to it in JSON lines.
 *
 * EAL starts once per process, so tests that need DPDK run each scenario as a
 * subprocess: the child prints one JSON object per line (emit()), reads
 * commands from stdin (nextCommand()), and the parent waits for the lines it
 * expects (waitFor()). A child that crashes shows up as a signal or exit code.
 */
import { join } from "node:path";
import { lines } from "../../../scripts/lines";

/** Path of the Bun binary running this process (works under `bun test` too). */
export const BUN = process.execPath;

export const HELPERS_DIR = import.meta.dir;

// ------------------------------------------------------------- parent side

export type Msg = Record<string, unknown> & { ev?: string };

export interface Child {
  readonly proc: Bun.Subprocess<"pipe", "pipe", "pipe">;
  /** Every JSON message received so far. */
  readonly msgs: Msg[];
  /** Lines that were not JSON (EAL logs and the like). */
  readonly other: string[];
  /** Wait until a message satisfies `pred` (including ones already received). */
  waitFor(pred: (m: Msg) => boolean, timeoutMs: number): Promise<Msg>;
  /** Wait for a message with this `ev`. */
  waitEv(ev: string, timeoutMs: number): Promise<Msg>;
  /** Send one command line to the child's stdin. */
  send(cmd: string): void;
  /** Resolves with the exit code (or 128 + signal number) and the signal name. */
  exited(): Promise<{ code: number; signal: string | null }>;
  kill(signal?: number): void;
  stderr(): Promise<string>;
}

/** Start `bun <helpers>/<script> ...args` with stdio piped. */
export function startChild(script: string, args: string[], env: Record<string, string> = {}): Child {
  const proc = Bun.spawn([BUN, join(HELPERS_DIR, script), ...args], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...env },
  });
  const msgs: Msg[] = [];
  const other: string[] = [];
  const waiters: { pred: (m: Msg) => boolean; resolve: (m: Msg) => void; reject: (why: string) => void }[] = [];
  let ended = false;
  (async () => {
    for await (const line of lines(proc.stdout)) {
      let m: Msg | null = null;
      if (line.startsWith("{")) {
        try {
          m = JSON.parse(line) as Msg;
        } catch {
          m = null;
        }
      }
      if (m === null) {
        other.push(line);
        continue;
      }
      msgs.push(m);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i]!.pred(m)) waiters.splice(i, 1)[0]!.resolve(m);
      }
    }
    ended = true;
    for (const w of waiters.splice(0)) w.reject("child output ended");
  })();
  let stderrText: Promise<string> | null = null;
  const child: Child = {
    proc,
    msgs,
    other,
    waitFor(pred, timeoutMs) {
      const seen = msgs.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise<Msg>((resolve, reject) => {
        const fail = (why: string) => {
          clearTimeout(t);
          const i = waiters.indexOf(w);
          if (i >= 0) waiters.splice(i, 1);
          reject(new Error(`${why}; messages so far: ${JSON.stringify(msgs).slice(0, 2000)}`));
        };
        const w = { pred, resolve: (m: Msg) => (clearTimeout(t), resolve(m)), reject: fail };
        const t = setTimeout(() => fail(`timed out after ${timeoutMs} ms waiting for a message`), timeoutMs);
        if (ended) fail("child output ended");
        else waiters.push(w);
      });
    },
    waitEv(ev, timeoutMs) {
      return child.waitFor((m) => m.ev === ev, timeoutMs);
    },
    send(cmd) {
      proc.stdin.write(cmd + "\n");
      proc.stdin.flush();
    },
    async exited() {
      const code = await proc.exited;
      return { code, signal: proc.signalCode === null ? null : String(proc.signalCode) };
    },
    kill(signal = 15) {
      try {
        proc.kill(signal);
      } catch {
        // already gone
      }
    },
    stderr() {
      if (stderrText === null) stderrText = new Response(proc.stderr).text();
      return stderrText;
    },
  };
  return child;
}

// ------------------------------------------------------------- child side

/** Print one JSON message line for the parent. */
export function emit(ev: string, data: Record<string, unknown> = {}): void {
  process.stdout.write(JSON.stringify({ ev, ...data }) + "\n");
}

const pending: string[] = [];
let stdinStarted = false;

function startStdin(): void {
  if (stdinStarted) return;
  stdinStarted = true;
  let buf = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      pending.push(buf.slice(0, nl).trim());
      buf = buf.slice(nl + 1);
    }
  });
}

/** A command the parent sent, if one has arrived (non-blocking; the event loop must get turns). */
export function pollCommand(): string | null {
  startStdin();
  return pending.length > 0 ? pending.shift()! : null;
}

/** Wait for the next command line from the parent. */
export async function nextCommand(timeoutMs: number): Promise<string> {
  startStdin();
  const end = Date.now() + timeoutMs;
  while (pending.length === 0) {
    if (Date.now() > end) throw new Error(`no command from the parent within ${timeoutMs} ms`);
    await Bun.sleep(5);
  }
  return pending.shift()!;
}

/** Let Bun's event loop run (stdin, timers) without sleeping a millisecond. */
export function yieldToLoop(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
