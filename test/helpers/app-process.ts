/**
 * Runs an app (apps/*.ts) as a child process for integration tests: waits for
 * a line matching a pattern on stdout, collects output, and stops it with
 * SIGTERM (then SIGKILL). Each DPDK app is its own process because EAL starts
 * once per process.
 */
import { join } from "node:path";

export const BUN = process.execPath;
export const ROOT = join(import.meta.dir, "..", "..");

export class AppProcess {
  readonly proc: Bun.Subprocess<"pipe" | "ignore", "pipe", "pipe">;
  stdout = "";
  stderr = "";
  private readonly waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];
  readonly exited: Promise<number>;

  constructor(app: string, args: string[], opts: { stdin?: "pipe" | "ignore"; prefix?: string[]; env?: Record<string, string> } = {}) {
    const cmd = [...(opts.prefix ?? []), BUN, join(ROOT, "apps", `${app}.ts`), ...args];
    this.proc = Bun.spawn(cmd, { stdin: opts.stdin ?? "ignore", stdout: "pipe", stderr: "pipe", cwd: ROOT, env: { ...process.env, ...opts.env } }) as Bun.Subprocess<"pipe" | "ignore", "pipe", "pipe">;
    void this.read(this.proc.stdout, true);
    void this.read(this.proc.stderr, false);
    this.exited = this.proc.exited;
  }

  private async read(stream: ReadableStream<Uint8Array>, isOut: boolean): Promise<void> {
    const dec = new TextDecoder();
    for await (const chunk of stream) {
      const s = dec.decode(chunk, { stream: true });
      if (isOut) this.stdout += s;
      else this.stderr += s;
      this.check();
    }
  }

  private check(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      const m = (this.stdout + this.stderr).match(w.re);
      if (m) {
        this.waiters.splice(i, 1);
        w.resolve(m);
      }
    }
  }

  /** Resolve with the first match of `re` in the output; reject on timeout or exit. */
  waitFor(re: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const m = (this.stdout + this.stderr).match(re);
    if (m) return Promise.resolve(m);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${re}; output:\n${this.stdout}\n${this.stderr}`)), timeoutMs);
      this.waiters.push({
        re,
        resolve: (mm) => {
          clearTimeout(t);
          resolve(mm);
        },
      });
      void this.exited.then((code) => {
        setTimeout(() => {
          clearTimeout(t);
          reject(new Error(`exited (${code}) before ${re}; output:\n${this.stdout}\n${this.stderr}`));
        }, 50);
      });
    });
  }

  /** SIGTERM, then SIGKILL after `graceMs`. Resolves with the exit code. */
  async stop(graceMs = 5000): Promise<number> {
    this.proc.kill("SIGTERM");
    const t = setTimeout(() => this.proc.kill("SIGKILL"), graceMs);
    const code = await this.exited;
    clearTimeout(t);
    // Let the readers drain.
    await Bun.sleep(20);
    return code;
  }
}
