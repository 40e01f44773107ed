import { describe, expect, test } from "bun:test";
import { createCongestionControl } from "../../../src/tcp/congestion";
import { Cubic } from "../../../src/tcp/cubic";
import { NewReno, SSTHRESH_INFINITE, initialWindow } from "../../../src/tcp/newreno";

const MSS = 1000;

/** A connection with cwnd = ssthresh = `w` bytes (via a loss at flight 2w and recovery exit). */
function inAvoidance(cc: NewReno, id: number, w: number): void {
  cc.init(id, MSS, 0);
  cc.enterRecovery(id, 2 * w, 0);
  cc.exitRecovery(id, 0);
}

describe("RFC 6928 initial window", () => {
  test("IW = min(10*MSS, max(2*MSS, 14600))", () => {
    expect(initialWindow(1460, 10)).toBe(14600);
    expect(initialWindow(1000, 10)).toBe(10000);
    expect(initialWindow(536, 10)).toBe(5360);
    expect(initialWindow(9000, 10)).toBe(18000);
    expect(initialWindow(1460, 4)).toBe(5840);
  });

  test("init sets cwnd = IW and ssthresh arbitrarily high (RFC 5681 3.1)", () => {
    const cc = new NewReno(2);
    cc.init(1, 1460, 0);
    expect(cc.cwnd(1)).toBe(14600);
    expect(cc.ssthresh(1)).toBe(SSTHRESH_INFINITE);
  });

  test("initialWindowSegments option", () => {
    const cc = new NewReno(1, { initialWindowSegments: 2 });
    cc.init(0, 1460, 0);
    expect(cc.cwnd(0)).toBe(2920);
  });
});

describe("RFC 5681 3.1 slow start with RFC 3465 byte counting", () => {
  test("cwnd grows by the bytes acknowledged", () => {
    const cc = new NewReno(1);
    cc.init(0, MSS, 0);
    cc.onAck(0, 1000, 9000, 0, -1);
    expect(cc.cwnd(0)).toBe(11000);
    cc.onAck(0, 2000, 9000, 0, -1);
    expect(cc.cwnd(0)).toBe(13000);
  });

  test("RFC 3465 2.2: a stretch ACK grows cwnd by at most L = 2 SMSS", () => {
    const cc = new NewReno(1);
    cc.init(0, MSS, 0);
    cc.onAck(0, 5000, 5000, 0, -1);
    expect(cc.cwnd(0)).toBe(12000);
  });

  test("slow start stops at ssthresh", () => {
    const cc = new NewReno(1);
    cc.init(0, MSS, 0);
    cc.onRto(0, 23000, 0); // ssthresh 11500, cwnd 1000
    for (let i = 0; i < 20; i++) cc.onAck(0, 1000, cc.cwnd(0), 0, -1);
    expect(cc.cwnd(0)).toBe(11500);
  });

  test("RFC 7661: no growth while application limited", () => {
    const cc = new NewReno(1);
    cc.init(0, MSS, 0);
    // 2000 bytes outstanding when the ACK came: less than half of cwnd 10000.
    cc.onAck(0, 1000, 1000, 0, -1);
    expect(cc.cwnd(0)).toBe(10000);
    // half of cwnd outstanding counts in slow start
    cc.onAck(0, 1000, 4000, 0, -1);
    expect(cc.cwnd(0)).toBe(11000);
  });
});

describe("RFC 5681 3.1 congestion avoidance (byte counting)", () => {
  test("cwnd grows by one SMSS once cwnd bytes have been acknowledged", () => {
    const cc = new NewReno(1);
    inAvoidance(cc, 0, 20000);
    expect(cc.cwnd(0)).toBe(20000);
    expect(cc.ssthresh(0)).toBe(20000);
    for (let i = 0; i < 19; i++) cc.onAck(0, 1000, 19000, 0, -1);
    expect(cc.cwnd(0)).toBe(20000);
    cc.onAck(0, 1000, 19000, 0, -1); // 20000 bytes acknowledged
    expect(cc.cwnd(0)).toBe(21000);
    for (let i = 0; i < 21; i++) cc.onAck(0, 1000, 20000, 0, -1);
    expect(cc.cwnd(0)).toBe(22000);
  });

  test("no growth when the sender did not fill cwnd", () => {
    const cc = new NewReno(1);
    inAvoidance(cc, 0, 20000);
    // 15000 outstanding when each ACK came (more than one MSS below cwnd)
    for (let i = 0; i < 40; i++) cc.onAck(0, 1000, 14000, 0, -1);
    expect(cc.cwnd(0)).toBe(20000);
  });
});

describe("RFC 5681 3.2 fast retransmit / fast recovery, RFC 6582 NewReno", () => {
  test("step 2: ssthresh = max(FlightSize/2, 2*SMSS); cwnd = ssthresh (RFC 6675 5 (4.2))", () => {
    const cc = new NewReno(1);
    cc.init(0, MSS, 0);
    cc.enterRecovery(0, 30000, 0);
    expect(cc.ssthresh(0)).toBe(15000);
    expect(cc.cwnd(0)).toBe(15000);
    cc.enterRecovery(0, 3000, 0);
    expect(cc.ssthresh(0)).toBe(2000);
    expect(cc.cwnd(0)).toBe(2000);
  });

  test("steps 3-4: without SACK each duplicate ACK inflates cwnd by SMSS", () => {
    const cc = new NewReno(1);
    cc.init(0, MSS, 0);
    cc.enterRecovery(0, 30000, 0);
    cc.onDupAcks(0, 3);
    expect(cc.cwnd(0)).toBe(18000);
    cc.onDupAcks(0, 1);
    expect(cc.cwnd(0)).toBe(19000);
  });

  test("RFC 6582 3.2 step 5: a partial ACK deflates by the bytes acknowledged and adds back one SMSS", () => {
    const cc = new NewReno(1);
    cc.init(0, MSS, 0);
    cc.enterRecovery(0, 30000, 0); // 15000
    cc.onDupAcks(0, 8); // 23000
    cc.onPartialAck(0, 4000);
    expect(cc.cwnd(0)).toBe(23000 - 4000 + 1000);
    cc.onPartialAck(0, 500); // less than one SMSS: nothing added back
    expect(cc.cwnd(0)).toBe(19500);
  });

  test("partial ACK deflation stops at ssthresh (SACK recovery keeps cwnd = ssthresh)", () => {
    const cc = new NewReno(1);
    cc.init(0, MSS, 0);
    cc.enterRecovery(0, 30000, 0);
    cc.onPartialAck(0, 9000);
    expect(cc.cwnd(0)).toBe(15000);
  });

  test("RFC 6582 3.2 step 3: a full ACK sets cwnd = ssthresh", () => {
    const cc = new NewReno(1);
    cc.init(0, MSS, 0);
    cc.enterRecovery(0, 30000, 0);
    cc.onDupAcks(0, 10);
    cc.exitRecovery(0, 0);
    expect(cc.cwnd(0)).toBe(15000);
  });
});

describe("RFC 5681 3.1 retransmission timeout", () => {
  test("(4): ssthresh = max(FlightSize/2, 2*SMSS) and cwnd = LW = 1 SMSS", () => {
    const cc = new NewReno(1);
    cc.init(0, MSS, 0);
    cc.onRto(0, 17000, 0);
    expect(cc.ssthresh(0)).toBe(8500);
    expect(cc.cwnd(0)).toBe(1000);
  });

  test("a repeated timeout of the same retransmission keeps ssthresh", () => {
    const cc = new NewReno(1);
    cc.init(0, MSS, 0);
    cc.onRto(0, 17000, 0);
    cc.onRto(0, 1000, 0);
    expect(cc.ssthresh(0)).toBe(8500);
    expect(cc.cwnd(0)).toBe(1000);
  });

  test("after new data is acknowledged, the next timeout sets ssthresh again", () => {
    const cc = new NewReno(1);
    cc.init(0, MSS, 0);
    cc.onRto(0, 17000, 0);
    cc.onAck(0, 1000, 0, 0, -1);
    cc.onRto(0, 6000, 0);
    expect(cc.ssthresh(0)).toBe(3000);
  });

  test("RFC 3465 2.3: slow start after a timeout uses L = 1 SMSS", () => {
    const cc = new NewReno(1);
    cc.init(0, MSS, 0);
    cc.onRto(0, 40000, 0); // ssthresh 20000, cwnd 1000
    cc.onAck(0, 3000, 0, 0, -1);
    expect(cc.cwnd(0)).toBe(2000);
  });
});

describe("RFC 5681 4.1 restart after idle", () => {
  test("cwnd = min(cwnd, RW) with RW = IW", () => {
    const cc = new NewReno(1);
    inAvoidance(cc, 0, 30000);
    cc.onIdleRestart(0, 5_000_000, 1_000_000);
    expect(cc.cwnd(0)).toBe(10000);
    cc.onRto(0, 10000, 0); // cwnd 1000
    cc.onIdleRestart(0, 9_000_000, 1_000_000);
    expect(cc.cwnd(0)).toBe(1000);
  });
});

describe("MSS changes and the factory", () => {
  test("setMss keeps cwnd in bytes and at least one MSS; new counting uses the new MSS", () => {
    const cc = new NewReno(1);
    cc.init(0, MSS, 0);
    cc.onRto(0, 10000, 0); // cwnd 1000
    cc.setMss(0, 1400);
    expect(cc.cwnd(0)).toBe(1400);
    cc.onAck(0, 5000, 0, 0, -1); // L = 1 after the RTO: one new MSS
    expect(cc.cwnd(0)).toBe(2800);
  });

  test("createCongestionControl returns the named algorithm", () => {
    const a = createCongestionControl("newreno", 4);
    const b = createCongestionControl("cubic", 4);
    expect(a).toBeInstanceOf(NewReno);
    expect(b).toBeInstanceOf(Cubic);
    expect(a.name).toBe("newreno");
    expect(b.name).toBe("cubic");
    expect(() => createCongestionControl("vegas" as "cubic", 4)).toThrow(/unknown congestion control/);
  });

  test("connections are independent", () => {
    const cc = new NewReno(3);
    cc.init(0, MSS, 0);
    cc.init(2, MSS, 0);
    cc.onRto(2, 10000, 0);
    expect(cc.cwnd(0)).toBe(10000);
    expect(cc.cwnd(2)).toBe(1000);
  });

  test("bytes per connection: 15", () => {
    expect(NewReno.bytesPerConn).toBe(15);
    expect(new NewReno(1).bytesPerConn).toBe(15);
  });
});
