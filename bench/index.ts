/**
 * `bun run bench <name> [flags] [--json FILE]`: runs bench/<name>.ts with the
 * remaining arguments. `bun run bench` alone lists the benchmarks.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const dir = import.meta.dir;
const names = readdirSync(dir)
  .filter((f) => f.endsWith(".ts") && f !== "index.ts" && !f.includes("-"))
  .map((f) => f.slice(0, -3))
  .sort();
const [name, ...rest] = process.argv.slice(2);
if (name === undefined || name === "--help" || name === "-h") {
  console.log(`usage: bun run bench <name> [flags] [--json FILE]\n\nbenchmarks: ${names.join(", ")}`);
  process.exit(name === undefined ? 2 : 0);
}
const file = join(dir, `${name}.ts`);
if (!existsSync(file)) {
  console.error(`bench: no benchmark "${name}"; benchmarks: ${names.join(", ")}`);
  process.exit(2);
}
const p = Bun.spawn([process.execPath, file, ...rest], { stdio: ["inherit", "inherit", "inherit"] });
process.exit(await p.exited);
