/**
 * Loss recovery after an RTO with the SACK scoreboard kept (RFC 6675 5.1, TcpConfig.sackAfterRto)
 * against forgetting it and going back N (RFC 2018 8): the same seeded lossy links, one bulk
 * transfer each, both settings in the same run. Prints a table (virtual time, goodput, RTOs,
 * bytes resent) per loss rate and asserts that keeping the scoreboard neither slows the transfer
 * down nor resends more, summed over the seeds, beyond the seeds' noise.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { lossyTransfer } from "../helpers/lossy-transfer";

const MiB = 1024 * 1024;
/** RTO_SACK_SEEDS=n runs n seeds (from 101) instead of 12, for a closer look. */
const SEEDS = Array.from({ length: Number(process.env.RTO_SACK_SEEDS ?? 12) }, (_, i) => 101 + i);

interface Result {
  vsec: number;
  rto: number;
  rtxBytes: number;
}

/** `bytes` from a to b over a link with `loss` both ways; returns when b has read them all. */
function transfer(loss: number, seed: number, sackAfterRto: boolean, bytes: number): Result {
  const { link, vsec } = lossyTransfer(loss, seed, bytes, 1_800_000_000, { sackAfterRto });
  return { vsec, rto: link.a.counters.rtoTimeouts, rtxBytes: link.a.counters.retransmittedBytes };
}

const rows: string[] = [];

describe("netsim: recovery after an RTO keeps the SACK scoreboard (RFC 6675 5.1)", () => {
  for (const loss of [0.05, 0.1, 0.2]) {
    test(`${loss * 100} % loss: not slower and no more resent than going back N`, () => {
      const bytes = loss >= 0.2 ? MiB / 2 : 2 * MiB;
      const sum = { keep: { vsec: 0, rto: 0, rtxBytes: 0 }, forget: { vsec: 0, rto: 0, rtxBytes: 0 } };
      for (const seed of SEEDS) {
        for (const keep of [true, false]) {
          const r = transfer(loss, seed, keep, bytes);
          const acc = keep ? sum.keep : sum.forget;
          acc.vsec += r.vsec;
          acc.rto += r.rto;
          acc.rtxBytes += r.rtxBytes;
        }
      }
      for (const [name, r] of [["keep scoreboard", sum.keep], ["go back N", sum.forget]] as const) {
        rows.push([`${(loss * 100).toFixed(0)} %`.padStart(5), name.padEnd(16), (bytes / MiB).toFixed(1).padStart(5),
          r.vsec.toFixed(2).padStart(9), ((bytes * SEEDS.length * 8) / r.vsec / 1e6).toFixed(2).padStart(8),
          String(r.rto).padStart(6), String(r.rtxBytes).padStart(10)].join(" "));
      }
      // Since RACK finds lost retransmissions and probes in and after recovery (src/tcp/rack.ts), RTOs
      // are rare here (a few per 12 seeds at 10 %, ~30 at 20 %): the two settings differ only in those,
      // and the sums move by a few % with each seed's trajectory. Keeping the scoreboard must not cost
      // more than that noise: 10 % in time, 5 % in bytes resent.
      expect(sum.keep.vsec).toBeLessThanOrEqual(sum.forget.vsec * 1.1);
      expect(sum.keep.rtxBytes).toBeLessThanOrEqual(sum.forget.rtxBytes * 1.05);
    }, 120_000);
  }
});

afterAll(() => {
  console.log(`rto-sack: ${SEEDS.length} seeds per row, one direction, 1 ms each way, sums over the seeds`);
  console.log([" loss", "recovery".padEnd(16), "  MiB", "    vsec", "  Mbit/s", "  RTOs", "rtx bytes"].join(" "));
  for (const r of rows) console.log(r);
});
