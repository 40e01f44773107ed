import { describe, expect, test } from "bun:test";
import { SackScoreboard } from "../../../src/tcp/sack-scoreboard";

const MSS = 1000;
// Sequence numbers relative to a base just below 2^31, so ranges cross the int32 sign boundary.
const BASE = 0x7fffff00 | 0;
const S = (x: number) => (BASE + x) | 0;

const L = new Int32Array(8);
const R = new Int32Array(8);
/** Feed [l, r) pairs (relative to BASE) as the blocks of one ACK. */
function ack(sb: SackScoreboard, id: number, una: number, blocks: number[][], nxt?: number): void {
  blocks.forEach(([l, r], i) => {
    L[i] = S(l!);
    R[i] = S(r!);
  });
  sb.update(id, S(una), L, R, blocks.length, nxt === undefined ? undefined : S(nxt));
}
function ranges(sb: SackScoreboard, id: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < sb.count(id); i++) out.push([(sb.left(id, i) - BASE) | 0, (sb.right(id, i) - BASE) | 0]);
  return out;
}

describe("RFC 2018 scoreboard updates", () => {
  test("blocks are stored sorted; overlapping and adjacent ones coalesce", () => {
    const sb = new SackScoreboard(2);
    ack(sb, 1, 0, [[5000, 6000], [2000, 3000]]);
    expect(ranges(sb, 1)).toEqual([[2000, 3000], [5000, 6000]]);
    ack(sb, 1, 0, [[3000, 4000]]); // adjacent
    ack(sb, 1, 0, [[5500, 7000]]); // overlapping
    expect(ranges(sb, 1)).toEqual([[2000, 4000], [5000, 7000]]);
    ack(sb, 1, 0, [[1000, 8000]]); // covers both
    expect(ranges(sb, 1)).toEqual([[1000, 8000]]);
    expect(ranges(sb, 0)).toEqual([]); // other connections untouched
  });

  test("blocks at or below SND.UNA (old or D-SACK, RFC 2883) are ignored", () => {
    const sb = new SackScoreboard(1);
    ack(sb, 0, 3000, [[1000, 2000], [2000, 3000], [4000, 5000]]);
    expect(ranges(sb, 0)).toEqual([[4000, 5000]]);
  });

  test("empty and inverted blocks are ignored", () => {
    const sb = new SackScoreboard(1);
    ack(sb, 0, 0, [[4000, 4000], [6000, 5000]]);
    expect(sb.count(0)).toBe(0);
  });

  test("blocks beyond SND.NXT are ignored", () => {
    const sb = new SackScoreboard(1);
    ack(sb, 0, 0, [[2000, 3000], [9000, 11000]], 10000);
    expect(ranges(sb, 0)).toEqual([[2000, 3000]]);
  });

  test("a block straddling SND.UNA is cut at SND.UNA", () => {
    const sb = new SackScoreboard(1);
    ack(sb, 0, 3000, [[2000, 5000]]);
    expect(ranges(sb, 0)).toEqual([[3000, 5000]]);
  });

  test("a cumulative ACK drops and trims covered ranges", () => {
    const sb = new SackScoreboard(1);
    ack(sb, 0, 0, [[1000, 2000], [3000, 5000], [7000, 8000]]);
    ack(sb, 0, 4000, []);
    expect(ranges(sb, 0)).toEqual([[4000, 5000], [7000, 8000]]);
    ack(sb, 0, 9000, []);
    expect(sb.count(0)).toBe(0);
  });

  test("with more than 4 ranges, the three lowest and the highest are kept", () => {
    const sb = new SackScoreboard(1);
    ack(sb, 0, 0, [[1000, 1500], [2000, 2500], [3000, 3500], [4000, 4500]]);
    ack(sb, 0, 0, [[9000, 9500], [6000, 6500]]);
    expect(ranges(sb, 0)).toEqual([[1000, 1500], [2000, 2500], [3000, 3500], [9000, 9500]]);
  });

  test("clear forgets everything (RFC 6675 5.1 after a timeout)", () => {
    const sb = new SackScoreboard(1);
    ack(sb, 0, 0, [[1000, 2000]]);
    sb.clear(0);
    expect(sb.count(0)).toBe(0);
    expect(sb.isSacked(0, S(1500))).toBe(false);
  });
});

describe("scoreboard queries", () => {
  test("isSacked, sackedBytes and highestSacked", () => {
    const sb = new SackScoreboard(1);
    ack(sb, 0, 0, [[2000, 4000], [6000, 6500]]);
    expect(sb.isSacked(0, S(1999))).toBe(false);
    expect(sb.isSacked(0, S(2000))).toBe(true);
    expect(sb.isSacked(0, S(3999))).toBe(true);
    expect(sb.isSacked(0, S(4000))).toBe(false);
    expect(sb.sackedBytes(0, S(0))).toBe(2500);
    expect(sb.sackedBytes(0, S(3000))).toBe(1500); // ranges below a newer SND.UNA do not count
    expect(sb.highestSacked(0)).toBe(S(6500));
  });
});

describe("RFC 6675 IsLost", () => {
  test("DupThresh (3) discontiguous SACKed ranges above: lost", () => {
    const sb = new SackScoreboard(1);
    ack(sb, 0, 0, [[1000, 1100], [2000, 2100], [3000, 3100]]);
    expect(sb.isLost(0, S(0), MSS)).toBe(true);
    expect(sb.isLost(0, S(1500), MSS)).toBe(false); // only 2 ranges, 200 bytes above
  });

  test("more than (DupThresh - 1) * MSS SACKed bytes above: lost", () => {
    const sb = new SackScoreboard(1);
    ack(sb, 0, 0, [[1000, 3001]]);
    expect(sb.isLost(0, S(0), MSS)).toBe(true);
    sb.clear(0);
    ack(sb, 0, 0, [[1000, 3000]]); // exactly 2 * MSS: not more than
    expect(sb.isLost(0, S(0), MSS)).toBe(false);
  });

  test("a SACKed sequence number is not lost", () => {
    const sb = new SackScoreboard(1);
    ack(sb, 0, 0, [[1000, 2000], [3000, 4000], [5000, 9000]]);
    expect(sb.isLost(0, S(1500), MSS)).toBe(false);
    expect(sb.isLost(0, S(2500), MSS)).toBe(true); // 2 ranges, 5000 bytes above
  });
});

describe("RFC 6675 SetPipe", () => {
  // SND.UNA 0, SND.NXT 10000, SACKed [2000,4000) [5000,6000) [7000,8000).
  // Holes: [0,2000) lost (3 ranges above); [4000,5000) not lost (2 ranges, 2000 bytes = 2 MSS);
  // [6000,7000) and [8000,10000) not lost.
  function scenario(): SackScoreboard {
    const sb = new SackScoreboard(1);
    ack(sb, 0, 0, [[2000, 4000], [5000, 6000], [7000, 8000]], 10000);
    return sb;
  }

  test("counts un-SACKed bytes that are not lost", () => {
    expect(scenario().pipe(0, S(0), S(10000), MSS, S(0))).toBe(1000 + 1000 + 2000);
  });

  test("adds retransmitted bytes (below highRxt) once more", () => {
    expect(scenario().pipe(0, S(0), S(10000), MSS, S(1000))).toBe(4000 + 1000);
    // a retransmitted byte that is not lost counts twice: original and retransmission
    expect(scenario().pipe(0, S(0), S(10000), MSS, S(4500))).toBe(4000 + 2000 + 500);
  });

  test("without SACK information pipe is the flight size", () => {
    const sb = new SackScoreboard(1);
    expect(sb.pipe(0, S(0), S(7000), MSS, S(0))).toBe(7000);
    expect(sb.pipe(0, S(0), S(0), MSS, S(0))).toBe(0);
  });
});

describe("RFC 6675 NextSeg", () => {
  function scenario(): SackScoreboard {
    const sb = new SackScoreboard(1);
    ack(sb, 0, 0, [[2000, 4000], [5000, 6000], [7000, 8000]], 10000);
    return sb;
  }
  const out = new Int32Array(3);

  test("rule 1: the lowest lost un-SACKed segment at or above highRxt, one MSS at most", () => {
    const sb = scenario();
    expect(sb.nextSeg(0, S(0), S(10000), S(0), MSS, out)).toBe(true);
    expect([(out[0]! - BASE) | 0, out[1], out[2]]).toEqual([0, 1000, 1]);
    expect(sb.nextSeg(0, S(0), S(10000), S(1000), MSS, out)).toBe(true);
    expect([(out[0]! - BASE) | 0, out[1], out[2]]).toEqual([1000, 1000, 1]);
  });

  test("rule 1 does not cross into SACKed data", () => {
    const sb = scenario();
    sb.nextSeg(0, S(0), S(10000), S(1500), MSS, out);
    expect([(out[0]! - BASE) | 0, out[1], out[2]]).toEqual([1500, 500, 1]);
  });

  test("rule 2: with nothing lost left, new data at SND.NXT", () => {
    const sb = scenario();
    expect(sb.nextSeg(0, S(0), S(10000), S(2000), MSS, out)).toBe(true);
    expect([(out[0]! - BASE) | 0, out[1], out[2]]).toEqual([10000, 1000, 2]);
  });

  test("rule 3: no new data to send: the lowest un-SACKed segment below the highest SACK", () => {
    const sb = scenario();
    expect(sb.nextSeg(0, S(0), S(10000), S(2000), MSS, out, false)).toBe(true);
    expect([(out[0]! - BASE) | 0, out[1], out[2]]).toEqual([4000, 1000, 3]);
    expect(sb.nextSeg(0, S(0), S(10000), S(6500), MSS, out, false)).toBe(true);
    expect([(out[0]! - BASE) | 0, out[1], out[2]]).toEqual([6500, 500, 3]);
  });

  test("nothing to send: false", () => {
    const sb = scenario();
    expect(sb.nextSeg(0, S(0), S(10000), S(8000), MSS, out, false)).toBe(false);
    expect(new SackScoreboard(1).nextSeg(0, S(0), S(5000), S(0), MSS, out, false)).toBe(false);
  });

  test("a two-word out array is enough", () => {
    const sb = scenario();
    const two = new Int32Array(2);
    expect(sb.nextSeg(0, S(0), S(10000), S(0), MSS, two)).toBe(true);
    expect([(two[0]! - BASE) | 0, two[1]]).toEqual([0, 1000]);
  });
});

describe("size", () => {
  test("bytes per connection: a 4-byte record index; records (33 B + free list + 20 B of RACK state) only while SACK ranges are held", () => {
    expect(SackScoreboard.bytesPerConn).toBe(4);
    expect(SackScoreboard.bytesPerRecord).toBe(57);
  });

  test("side table: a record is taken on the first SACK block, returned when SND.UNA covers it; exhaustion ignores blocks", () => {
    const sb = new SackScoreboard(3, { records: 1 });
    expect(sb.recordsInUse()).toBe(0);
    ack(sb, 0, 1000, [[2000, 3000]]);
    expect(sb.recordsInUse()).toBe(1);
    expect(ranges(sb, 0)).toEqual([[2000, 3000]]);
    // Pool empty: connection 1's blocks are ignored (counted), connection 0 keeps its ranges.
    ack(sb, 1, 5000, [[6000, 7000]]);
    expect(sb.count(1)).toBe(0);
    expect(sb.exhausted).toBe(1);
    expect(ranges(sb, 0)).toEqual([[2000, 3000]]);
    // The cumulative ACK passes the range: the record goes back and connection 1 can have it.
    ack(sb, 0, 3000, []);
    expect(sb.count(0)).toBe(0);
    expect(sb.recordsInUse()).toBe(0);
    ack(sb, 1, 5000, [[6000, 7000]]);
    expect(ranges(sb, 1)).toEqual([[6000, 7000]]);
    sb.clear(1);
    expect(sb.recordsInUse()).toBe(0);
    expect(sb.isLost(1, S(5000), 100)).toBe(false);
  });
});

describe("SetPipe and NextSeg agree with the byte-by-byte definitions (random scoreboards)", () => {
  test("2000 random cases", () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) | 0;
      return ((seed >>> 8) % n) | 0;
    };
    const mss = 100;
    const out = new Int32Array(3);
    for (let iter = 0; iter < 2000; iter++) {
      const sb = new SackScoreboard(1);
      const nxt = 200 + rnd(2800);
      const una = rnd(200);
      const nb = rnd(6);
      const bl: number[][] = [];
      for (let i = 0; i < nb; i++) {
        const l = rnd(nxt);
        bl.push([l, l + 1 + rnd(400)]);
      }
      ack(sb, 0, 0, bl.slice(0, 4), nxt);
      ack(sb, 0, una, bl.slice(4), nxt);
      const highRxt = una + rnd(nxt - una + 1);
      // Oracle over single bytes, using only isSacked and isLost.
      let pipe = 0;
      let rule1 = -1;
      const top = sb.count(0) > 0 ? (sb.highestSacked(0) - BASE) | 0 : una;
      for (let x = una; x < nxt; x++) {
        if (sb.isSacked(0, S(x))) continue;
        const lost = sb.isLost(0, S(x), mss);
        if (!lost) pipe++;
        if (x < highRxt) pipe++;
        if (rule1 < 0 && x >= highRxt && x < top && lost) rule1 = x;
      }
      expect(sb.pipe(0, S(una), S(nxt), mss, S(highRxt))).toBe(pipe);
      const ok = sb.nextSeg(0, S(una), S(nxt), S(highRxt), mss, out, true);
      expect(ok).toBe(true);
      if (rule1 >= 0) {
        expect(out[2]).toBe(1);
        expect((out[0]! - BASE) | 0).toBe(rule1);
        // the segment is un-SACKed throughout and at most one MSS
        expect(out[1]!).toBeGreaterThan(0);
        expect(out[1]!).toBeLessThanOrEqual(mss);
        for (let x = rule1; x < rule1 + out[1]!; x++) expect(sb.isSacked(0, S(x))).toBe(false);
      } else {
        expect(out[2]).toBe(2);
        expect((out[0]! - BASE) | 0).toBe(nxt);
      }
    }
  });
});
