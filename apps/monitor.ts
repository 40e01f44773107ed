/**
 * monitor: wire-level request latency of an iotepserver, like HCMonitor:
 * pairs each request (payload bytes 5..6 = 01 02) with its reply (byte 6 =
 * 03) per flow, from the timestamps of the frames at the server's NIC, and
 * writes an HCMonitor-style cdf.txt, JSON and the HTML report with the CDF.
 *
 *   bun run iotepserver ... --pcap server.pcap        # the stack records rx/tx bursts
 *   bun run monitor --read server.pcap [--port 80] [-l 200] [--out DIR]
 *
 * Live mode (no pcap): `bun run iotepserver ... --monitor DIR` pairs the
 * frames of the server's rx/tx bursts as they happen (apps/iotep/wire-live.ts)
 * and writes the same files to DIR when it stops.
 */
import { existsSync } from "node:fs";
import { ConfigError } from "../src/api/errors";
import { parseAppArgs, runMain } from "./common";
import { readPcap, PcapFormatError } from "./iotep/pcap-reader";
import { DEFAULT_MSG_LEN, MAX_MSG_LEN, MIN_MSG_LEN } from "./iotep/protocol";
import { WirePairer } from "./iotep/wire-pairing";
import { writeWireReport } from "./iotep/wire-report";

const spec = {
  name: "monitor",
  usage: "bun run monitor --read FILE [--port N] [-l LEN] [--out DIR]",
  about: "Wire-level iotep latency (HCMonitor style): pairs requests and replies per flow from a pcap the stack wrote.",
  stackFlags: false,
  flags: [
    { name: "read", short: "r", type: "string" as const, arg: "FILE", help: "pcap file to analyse (classic pcap, e.g. from --pcap)" },
    { name: "port", short: "p", type: "int" as const, arg: "N", default: 80, min: 1, max: 65535, help: "the server's TCP port" },
    { name: "ports", type: "int" as const, arg: "N", default: 1, min: 1, max: 32, help: "the server listens on N consecutive ports from --port (up to 32)" },
    { name: "length", short: "l", type: "int" as const, arg: "LEN", default: DEFAULT_MSG_LEN, min: MIN_MSG_LEN, max: MAX_MSG_LEN, help: "request message length" },
    { name: "out", type: "string" as const, arg: "DIR", default: "iotep-out", help: "directory for monitor.json, cdf.txt and monitor.html" },
    { name: "warmup", type: "number" as const, arg: "S", default: 0, min: 0, help: "do not measure requests in the first S seconds after the first message (as mcc --warmup)" },
  ],
};

runMain("monitor", async () => {
  const args = parseAppArgs(spec);
  const v = args.values;
  const file = v["read"] as string | undefined;
  if (file === undefined) throw new ConfigError("no input: pass --read FILE (a pcap written with --pcap); for the live view run iotepserver with --monitor DIR");
  if (!existsSync(file)) throw new ConfigError(`--read ${file}: no such file`);
  const port = v["port"] as number;
  const msgLen = v["length"] as number;
  const pairer = new WirePairer({ serverPort: port, serverPorts: v["ports"] as number, msgLen, warmupUs: (v["warmup"] as number) * 1e6 });
  let res;
  try {
    res = readPcap(file, (ts, buf, dv, off, cap) => pairer.process(ts, buf, dv, off, cap));
  } catch (e) {
    if (e instanceof PcapFormatError) throw new ConfigError(e.message);
    throw e;
  }
  writeWireReport({
    pairer,
    dir: v["out"] as string,
    source: file,
    params: { pcap: file, port, msgLen, frames: res.records },
    note: res.truncated ? " (file truncated)" : "",
  });
  return 0;
});
