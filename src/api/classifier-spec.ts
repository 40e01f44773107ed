/**
 * `--classify SPEC`: the built-in classifiers by name, for apps and configs.
 *
 *   iotep                   QStack's rule: frame > 80 bytes and TCP payload byte 5 == 0x01 -> high
 *   port:80,443             TCP/UDP frames to or from these ports -> high, the rest low
 *   dscp:46,34              IPv4 DSCP values -> high
 *   byte:OFFSET=VALUE       payload byte at OFFSET equal to VALUE (decimal or 0x..) -> high
 *
 * Two classes: 0 (high) and 1 (low). Code can build richer ones with
 * src/sched/classifier.ts directly (up to 8 classes).
 */
import { byDscp, byPayloadByte, byPort, Classifier, iotepClassifier, type ClassifyFn } from "../sched/classifier";
import { ConfigError } from "./errors";

function ints(list: string, what: string, max: number): number[] {
  const out: number[] = [];
  for (const part of list.split(",")) {
    const v = Number(part.trim());
    if (part.trim() === "" || !Number.isInteger(v) || v < 0 || v > max) throw new ConfigError(`--classify: bad ${what} "${part}" (0..${max})`);
    out.push(v);
  }
  return out;
}

export function classifierFromSpec(spec: string): Classifier {
  let fn: ClassifyFn;
  const colon = spec.indexOf(":");
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const arg = colon < 0 ? "" : spec.slice(colon + 1);
  switch (kind) {
    case "iotep":
      fn = iotepClassifier();
      break;
    case "port":
      fn = byPort(ints(arg, "port", 65535).map((port) => ({ port, cls: 0 })), 1);
      break;
    case "dscp":
      fn = byDscp(ints(arg, "DSCP value", 63).map((dscp) => ({ dscp, cls: 0 })), 1);
      break;
    case "byte": {
      const m = /^(\d+)=(0x[0-9a-fA-F]+|\d+)$/.exec(arg);
      if (!m) throw new ConfigError(`--classify byte:${arg}: expected byte:OFFSET=VALUE, e.g. byte:5=0x01`);
      const value = Number(m[2]);
      if (value > 255) throw new ConfigError(`--classify byte:${arg}: VALUE must be 0..255`);
      fn = byPayloadByte(Number(m[1]), value, 0, 1);
      break;
    }
    default:
      throw new ConfigError(`--classify ${spec}: unknown classifier; use iotep, port:P[,P..], dscp:D[,D..] or byte:OFFSET=VALUE`);
  }
  return new Classifier({ classes: 2, fn });
}
