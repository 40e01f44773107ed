/**
 * Every benchmark and every app refuses a bad command line with one line naming
 * the program on stderr, nothing on stdout and exit code 2 (DESIGN.md
 * "Contracts"; issue 7), and prints its flags with --help. Nothing here starts a
 * benchmark or a device: each run stops in flag parsing.
 *
 * The programs are discovered, so a new one is covered without editing this
 * file: benchmarks as bench/index.ts lists them (bench/NAME.ts without a dash),
 * apps from package.json's `bun apps/NAME.ts` scripts, plus scripts/start.ts
 * (npm start).
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { BUN, ROOT } from "../../helpers/app-process";

interface Program {
  /** The prefix of its error lines. */
  name: string;
  file: string;
}

function benches(): Program[] {
  return readdirSync(`${ROOT}/bench`)
    .filter((f) => f.endsWith(".ts") && f !== "index.ts" && !f.includes("-"))
    .sort()
    .map((f) => ({ name: `bench ${f.slice(0, -3)}`, file: `bench/${f}` }));
}

function apps(): Program[] {
  const scripts = (JSON.parse(readFileSync(`${ROOT}/package.json`, "utf8")) as { scripts: Record<string, string> }).scripts;
  const out: Program[] = [];
  for (const cmd of Object.values(scripts)) {
    const m = /^bun (apps\/([a-z0-9-]+)\.ts)$/.exec(cmd);
    if (m !== null) out.push({ name: m[2]!, file: m[1]! });
  }
  out.push({ name: "start", file: "scripts/start.ts" });
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** Run a program; a program that ignores its flags would run for long: killed after 20 s (and fails). */
async function run(file: string, args: string[]): Promise<Run> {
  const p = Bun.spawn([BUN, `${ROOT}/${file}`, ...args], { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe", timeout: 20_000, killSignal: "SIGKILL" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code: p.signalCode !== null ? null : code, out, err };
}

/** The first flag in --help that takes a value (`--name ARG`), preferring --json (every bench has it). */
function valueFlag(help: string): string | undefined {
  const flags = [...help.matchAll(/^\s+(?:-\w, )?\s*(--[a-z0-9-]+) [^\s]/gm)].map((m) => m[1]!);
  return flags.includes("--json") ? "--json" : flags[0];
}

function expectOneLine(r: Run, name: string, what: RegExp): void {
  expect(r.code).toBe(2);
  expect(r.out).toBe("");
  const lines = r.err.split("\n").filter((l) => l !== "");
  expect(lines).toHaveLength(1);
  expect(lines[0]!.startsWith(`${name}: `)).toBe(true);
  expect(lines[0]!).toMatch(what);
}

const programs = [...benches(), ...apps()];

describe("every bench and app: bad flags get one line and exit code 2", () => {
  test("the programs are discovered", () => {
    const names = programs.map((p) => p.name);
    for (const n of ["bench tcp", "bench pps", "bench priority", "echo", "nc", "httpd", "iotepserver", "mcc", "monitor", "start"]) expect(names).toContain(n);
  });

  test("bun run bench NAME passes the benchmark's exit code through (bench/index.ts)", async () => {
    const r = await run("bench/index.ts", ["tcp", "--bogus-flag"]);
    expectOneLine(r, "bench tcp", /unknown flag --bogus-flag/);
    expectOneLine(await run("bench/index.ts", ["no-such-bench"]), "bench", /no benchmark "no-such-bench"/);
  });

  for (const prog of programs) {
    test(prog.name, async () => {
      // --help first: a program without it (that would run instead) fails here, killed after 20 s.
      const help = await run(prog.file, ["--help"]);
      expect(help.code).toBe(0);
      expect(help.out).toMatch(/^usage: /);
      const flag = valueFlag(help.out);
      expect(flag).toBeDefined();
      if (prog.file.startsWith("bench/")) expect(flag).toBe("--json");
      const [bogus, missing] = await Promise.all([run(prog.file, ["--bogus-flag"]), run(prog.file, [flag!])]);
      expectOneLine(bogus, prog.name, /unknown flag --bogus-flag/);
      expectOneLine(missing, prog.name, new RegExp(`${flag} needs a value`));
    }, 60_000);
  }
});
