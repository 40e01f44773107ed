/**
 * The mbuf layout and shim ABI that the TypeScript side was written against,
 * checked once at start against the shim's own sizeof/offsetof table
 * (qs_layout). A mismatch means a stale shim or a different DPDK: refuse to run.
 */
import { ConfigError } from "../src/api/errors";
import { shim } from "./shim";

/** Values for DPDK 22.11 on x86_64 (FACTS "mbuf field offsets"), in qs_layout order. */
export const LAYOUT = {
  abi: 1,
  mbufSize: 128,
  bufAddr: 0,
  dataOff: 16,
  pktLen: 36,
  dataLen: 40,
  next: 64,
  nbSegs: 20,
  port: 22,
  headroom: 128,
  bufLen: 54,
  refcnt: 18,
  pool: 56,
  statsN: 11,
  maxBurst: 256,
} as const;

const ORDER = Object.keys(LAYOUT) as (keyof typeof LAYOUT)[];

/** qs_layout() as a record with the same keys as LAYOUT. */
export function readLayout(): Record<keyof typeof LAYOUT, number> {
  const out = new Int32Array(32);
  const n = shim().qs_layout(out, out.length);
  const rec = {} as Record<keyof typeof LAYOUT, number>;
  for (let i = 0; i < ORDER.length; i++) rec[ORDER[i]!] = i < n ? out[i]! : -1;
  return rec;
}

let checked = false;

/** Throw ConfigError (one line) unless the shim's table matches LAYOUT. Cheap after the first call. */
export function checkLayout(): void {
  if (checked) return;
  const got = readLayout();
  const bad: string[] = [];
  for (const k of ORDER) if (got[k] !== LAYOUT[k]) bad.push(`${k} ${got[k]} (expected ${LAYOUT[k]})`);
  if (bad.length > 0) {
    throw new ConfigError(`the DPDK shim does not match this code (${bad.join(", ")}): rebuild it with scripts/build-shim --force`);
  }
  checked = true;
}
