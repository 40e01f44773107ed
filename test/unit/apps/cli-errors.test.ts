/**
 * Bad configuration gets one clear line naming the problem and the fix, and
 * exit code 2; never a stack trace (issue: bring-up, item 7).
 */
import { describe, expect, test } from "bun:test";
import { BUN, ROOT } from "../../helpers/app-process";

function runApp(app: string, args: string[]): { code: number; out: string; err: string } {
  const r = Bun.spawnSync([BUN, `${ROOT}/apps/${app}.ts`, ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe", timeout: 30_000 });
  return { code: r.exitCode ?? -1, out: r.stdout.toString(), err: r.stderr.toString() };
}

const isRoot = process.getuid?.() === 0;

describe("apps refuse bad configuration with one line and exit code 2", () => {
  const cases: [string, string[], RegExp][] = [
    ["echo", ["--bogus"], /^echo: unknown flag --bogus/],
    ["echo", ["--vdev", "net_tap0", "--ip", "10.0.0.300/24"], /^echo: --ip 10\.0\.0\.300\/24: expected an IPv4 address/],
    ["echo", ["--ip", "10.0.0.1/24"], /^echo: no network device: pass --vdev/],
    ["echo", ["--vdev", "net_tap0", "--ip", "10.0.0.1/24", "--queues", "x"], /^echo: --queues: expected an integer/],
    ["nc", ["--vdev", "net_tap0", "--ip", "10.0.0.1/24", "host.example", "80"], /^nc: host\.example: expected an IPv4 address/],
    ["nc", ["--vdev", "net_tap0", "--ip", "10.0.0.1/24"], /^nc: expected HOST PORT/],
    ["httpd", ["--vdev", "net_tap0", "--ip", "10.0.0.1/24", "--root", "/nonexistent-dir"], /^httpd: --root \/nonexistent-dir: not a directory/],
    ["echo", ["--config", "/nonexistent.toml"], /^echo: --config \/nonexistent.toml: cannot read the file/],
    ["mcc", ["--smp", "3", "-c", "2", "--dest", "10.0.0.1"], /^mcc: --smp 3: more threads than connections \(-c 2\)/],
    ["mcc", ["--smp", "2", "--shard", "0/2", "--dest", "10.0.0.1"], /^mcc: --smp 2 with --shard 0\/2: .*pass one or the other/],
    ["mcc", ["--app-cpus", "1", "--dest", "10.0.0.1"], /^mcc: --app-cpus pins the app threads of --smp N/],
    ["mcc", ["--smp", "2", "--kernel", "--app-cpus", "1"], /^mcc: --app-cpus pins the app threads of --smp N/],
    ["mcc", ["--smp", "2", "--app-cpus", "1-x", "--dest", "10.0.0.1"], /^mcc: --app-cpus 1-x: expected CPU numbers/],
  ];
  for (const [app, args, re] of cases) {
    test(`${app} ${args.join(" ")}`, () => {
      const r = runApp(app, args);
      expect(r.code).toBe(2);
      const lines = r.err.trim().split("\n");
      expect(lines.length).toBe(1);
      expect(lines[0]!).toMatch(re);
      expect(r.err).not.toMatch(/\n\s+at /);
    });
  }

  for (const [script, name] of [["bench/iotep.ts", "bench iotep"], ["scripts/start.ts", "start"]] as const) {
    test(`${script} --rt bogus`, () => {
      const r = Bun.spawnSync([BUN, `${ROOT}/${script}`, "--rt", "bogus"], { cwd: ROOT, stdout: "pipe", stderr: "pipe", timeout: 30_000 });
      expect(r.exitCode).toBe(2);
      const err = r.stderr.toString().trim();
      expect(err.split("\n").length).toBe(1);
      expect(err).toMatch(new RegExp(`^${name}: --rt bogus: expected none or a comma list`));
    });
  }

  test.skipIf(!isRoot)("a vdev whose interface does not exist names the interface (root)", () => {
    const r = runApp("echo", ["--vdev", "net_af_packet0,iface=qsnosuchif0", "--ip", "10.0.0.1/24", "--no-huge"]);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toMatch(/^echo: network interface qsnosuchif0 does not exist/);
    expect(r.err.trim().split("\n").length).toBe(1);
  });

  test("--help prints the common and the app's own flags and exits 0", () => {
    const r = runApp("echo", ["--help"]);
    expect(r.code).toBe(0);
    for (const f of ["--vdev", "--pci", "--eal", "--ip", "--gw", "--mac", "--no-huge", "--queues", "--pcap", "--config", "--port"]) expect(r.out).toContain(f);
  });
});
if (!isRoot) console.log("skip: vdev interface check needs root");
