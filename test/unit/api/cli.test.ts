import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { helpText, parseArgs, STACK_FLAGS, type FlagSpec } from "../../../src/api/cli";
import { ConfigError } from "../../../src/api/errors";
import { splitArgs, stackConfigFrom } from "../../../src/api/stack-config";

const APP: FlagSpec[] = [
  ...STACK_FLAGS,
  { name: "connections", short: "c", type: "int", min: 1, help: "connections", default: 10 },
  { name: "ratio", short: "r", type: "number", min: 0, max: 1, help: "ratio" },
  { name: "verbose", type: "bool", help: "talk" },
];

describe("flag parsing", () => {
  test("long, short, inline and repeated flags", () => {
    const p = parseArgs(["--vdev", "net_tap0,iface=a", "--vdev=net_tap1", "-c", "5", "-r0.25", "--verbose", "pos"], APP);
    expect(p.values["vdev"]).toEqual(["net_tap0,iface=a", "net_tap1"]);
    expect(p.values["connections"]).toBe(5);
    expect(p.values["ratio"]).toBe(0.25);
    expect(p.values["verbose"]).toBe(true);
    expect(p.positionals).toEqual(["pos"]);
  });

  test("defaults fill flags not given", () => {
    const p = parseArgs([], APP);
    expect(p.values["connections"]).toBe(10);
    expect(p.values["queues"]).toBe(1);
  });

  test("unknown flag is a one-line ConfigError naming it", () => {
    expect(() => parseArgs(["--bogus"], APP)).toThrow(ConfigError);
    expect(() => parseArgs(["--bogus"], APP)).toThrow(/unknown flag --bogus/);
  });

  test("bad numbers and out-of-range values are refused", () => {
    expect(() => parseArgs(["-c", "many"], APP)).toThrow(/-c: expected an integer/);
    expect(() => parseArgs(["-c", "0"], APP)).toThrow(/below the minimum/);
    expect(() => parseArgs(["-r", "2"], APP)).toThrow(/above the maximum/);
    expect(() => parseArgs(["--queues"], APP)).toThrow(/needs a value/);
  });

  test("--help is reported and the help text lists every flag", () => {
    expect(parseArgs(["--help"], APP).help).toBe(true);
    const h = helpText("x", "about", APP);
    for (const f of APP) expect(h).toContain(`--${f.name}`);
  });

  test("a TOML config file fills what the command line did not give", () => {
    const dir = mkdtempSync(join(tmpdir(), "qs-cli-"));
    try {
      const f = join(dir, "c.toml");
      writeFileSync(f, 'ip = "10.1.0.1/16"\nconnections = 7\nvdev = ["net_tap0"]\n');
      const p = parseArgs(["--config", f, "-c", "3"], APP);
      expect(p.values["ip"]).toBe("10.1.0.1/16");
      expect(p.values["connections"]).toBe(3);
      expect(p.values["vdev"]).toEqual(["net_tap0"]);
      writeFileSync(f, "nonsense = 1\n");
      expect(() => parseArgs(["--config", f], APP)).toThrow(/unknown setting "nonsense"/);
      writeFileSync(f, "ip = \n");
      expect(() => parseArgs(["--config", f], APP)).toThrow(/not valid TOML/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe("stack configuration", () => {
  test("valid flags produce a config", () => {
    const c = stackConfigFrom(parseArgs(["--vdev", "net_af_packet0,iface=v0", "--ip", "10.0.0.1/24", "--gw", "10.0.0.254", "--mac", "02:00:00:00:00:09", "--no-huge", "--eal", "--log-level 'lib.eal:8'"], APP).values);
    expect(c.ip).toBe(0x0a000001);
    expect(c.prefixLen).toBe(24);
    expect(c.gateway).toBe(0x0a0000fe);
    expect(Array.from(c.mac!)).toEqual([2, 0, 0, 0, 0, 9]);
    expect(c.noHuge).toBe(true);
    expect(c.eal).toEqual(["--log-level", "lib.eal:8"]);
    expect(c.idlePoller).toBe(false);
    expect(stackConfigFrom(parseArgs(["--vdev", "net_tap0", "--ip", "10.0.0.1/24", "--idle-poller"], APP).values).idlePoller).toBe(true);
  });

  test("each bad value names its flag", () => {
    const base = ["--vdev", "net_tap0"];
    expect(() => stackConfigFrom(parseArgs([...base, "--ip", "10.0.0.300/24"], APP).values)).toThrow(/--ip 10.0.0.300\/24/);
    expect(() => stackConfigFrom(parseArgs([...base, "--ip", "10.0.0.1/24", "--gw", "x"], APP).values)).toThrow(/--gw x/);
    expect(() => stackConfigFrom(parseArgs([...base, "--ip", "10.0.0.1/24", "--mac", "zz"], APP).values)).toThrow(/--mac zz/);
    expect(() => stackConfigFrom(parseArgs(["--ip", "10.0.0.1/24"], APP).values)).toThrow(/no network device/);
    expect(() => stackConfigFrom(parseArgs(["--vdev", "eth0", "--ip", "10.0.0.1/24"], APP).values)).toThrow(/--vdev eth0/);
    expect(() => stackConfigFrom(parseArgs([...base], APP).values)).toThrow(/no address/);
  });

  test("splitArgs keeps quoted groups", () => {
    expect(splitArgs(`-a "b c" 'd e' f`)).toEqual(["-a", "b c", "d e", "f"]);
  });
});
