/**
 * The established-connection load for the SYN flood test and benchmark (issue 7), run on kernel
 * sockets inside a network namespace:
 *
 *   bun synflood-client.ts --dest 10.1.0.1 --port 7 --conns 1000 --hz 5 --msg 32 --phases warm:2,base:5,flood:5
 *
 * Opens --conns connections (in batches, so the set-up itself stays inside the stack's SYN queue
 * and does not engage SYN cookies), then each connection sends one --msg byte message per 1/--hz s
 * on a fixed schedule (the connections' schedules are spread evenly over the period) and waits
 * for the echo before sending the next. Round trips go into one HdrHistogram per phase (the
 * "warm" phase is not reported). A message sent late because the previous echo had not come back
 * is timed from its scheduled send time (corrected for coordinated omission); one sent late only
 * because of the 1 ms ticker is timed from its actual send.
 *
 * Prints "connected N" once set up and "phase NAME" as each phase starts (the caller starts the
 * flood on "phase flood"). In a phase named "flood" it also opens one new connection after a
 * quarter of the phase and checks it echoes. Ends with one JSON line (ClientReport).
 */
import * as hdr from "hdr-histogram-js";

export interface PhaseReport {
  name: string;
  seconds: number;
  messages: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
}

export interface ClientReport {
  connected: number;
  /** Socket errors or closes on the established connections after set-up. */
  errors: number;
  /** Bytes echoed that differ from what was sent. */
  mismatches: number;
  phases: PhaseReport[];
  /** The fresh connection opened during the flood: did it echo, and how long it took (ms). */
  newConn: { ok: boolean; ms: number; error?: string } | null;
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : dflt;
}

const dest = arg("dest", "127.0.0.1");
const port = Number(arg("port", "7"));
const nConns = Number(arg("conns", "1000"));
const hz = Number(arg("hz", "5"));
const msgBytes = Math.max(8, Number(arg("msg", "32")));
const batch = Number(arg("batch", "100"));
const phases = arg("phases", "warm:1,base:3,flood:3").split(",").map((p) => {
  const [name, s] = p.split(":");
  return { name: name!, seconds: Number(s) };
});

const periodMs = 1000 / hz;
type Sock = Bun.Socket<number>;
const socks: (Sock | null)[] = new Array(nConns).fill(null);
const dueMs = new Float64Array(nConns);
const startMs = new Float64Array(nConns);
const outstanding = new Uint8Array(nConns);
const got = new Int32Array(nConns);
const seq = new Int32Array(nConns);
const out = new Uint8Array(msgBytes);
let errors = 0;
let mismatches = 0;
let setupDone = false;
let hist: hdr.Histogram | null = null;
let phaseMsgs = 0;

function newHist(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

/** Message k of connection i: bytes 0-3 the connection, 4-7 the sequence, the rest a pattern. */
function fill(i: number, k: number): void {
  const v = new DataView(out.buffer);
  v.setUint32(0, i);
  v.setUint32(4, k);
  for (let j = 8; j < msgBytes; j++) out[j] = (i + k + j) & 0xff;
}

function send(i: number, start: number): void {
  const s = socks[i];
  if (s === null || s === undefined) return;
  seq[i]!++;
  fill(i, seq[i]!);
  outstanding[i] = 1;
  got[i] = 0;
  startMs[i] = start;
  if (s.write(out) !== msgBytes) errors++;
}

function onData(i: number, data: Uint8Array): void {
  const now = performance.now();
  fill(i, seq[i]!);
  for (let j = 0; j < data.length; j++) {
    const at = got[i]! + j;
    if (at >= msgBytes || data[j] !== out[at]) mismatches++;
  }
  got[i]! += data.length;
  if (got[i]! < msgBytes) return;
  outstanding[i] = 0;
  if (hist !== null) {
    hist.recordValue(Math.max(1, Math.round((now - startMs[i]!) * 1000)));
    phaseMsgs++;
  }
  dueMs[i]! += periodMs;
  // Late for the next slot because this echo was late: send now, timed from the schedule.
  if (dueMs[i]! <= now) {
    const sched = dueMs[i]!;
    send(i, sched);
  }
}

function tick(): void {
  const now = performance.now();
  for (let i = 0; i < nConns; i++) {
    if (outstanding[i] === 0 && dueMs[i]! <= now && socks[i] !== null) send(i, now);
  }
}

function connectOne(i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    void Bun.connect<number>({
      hostname: dest,
      port,
      data: i,
      socket: {
        open(s) {
          socks[i] = s;
          resolve();
        },
        data(s, d) {
          onData(s.data, d);
        },
        close(s) {
          if (setupDone) errors++;
          socks[s.data] = null;
        },
        error(_s, e) {
          if (setupDone) errors++;
          reject(e);
        },
        connectError(_s, e) {
          reject(e);
        },
      },
    }).catch(reject);
  });
}

/** One fresh connection: connect, send a line, wait for its echo. */
async function freshConnection(timeoutMs: number): Promise<{ ok: boolean; ms: number; error?: string }> {
  const t0 = performance.now();
  const msg = new TextEncoder().encode("legitimate during the flood\n");
  try {
    const ok = await new Promise<boolean>((resolve, reject) => {
      let n = 0;
      const timer = setTimeout(() => reject(new Error(`no echo within ${timeoutMs} ms`)), timeoutMs);
      void Bun.connect({
        hostname: dest,
        port,
        socket: {
          open(s) {
            s.write(msg);
          },
          data(s, d) {
            n += d.length;
            if (n >= msg.length) {
              clearTimeout(timer);
              s.end();
              resolve(true);
            }
          },
          connectError(_s, e) {
            clearTimeout(timer);
            reject(e);
          },
        },
      }).catch(reject);
    });
    return { ok, ms: performance.now() - t0 };
  } catch (e) {
    return { ok: false, ms: performance.now() - t0, error: String(e) };
  }
}

for (let b = 0; b < nConns; b += batch) {
  const ps: Promise<void>[] = [];
  for (let i = b; i < Math.min(nConns, b + batch); i++) ps.push(connectOne(i));
  await Promise.all(ps);
}
setupDone = true;
let connected = 0;
for (const s of socks) if (s !== null) connected++;
console.log(`connected ${connected}`);

const t0 = performance.now();
for (let i = 0; i < nConns; i++) dueMs[i] = t0 + (i * periodMs) / nConns;
const ticker = setInterval(tick, 1);
const reports: PhaseReport[] = [];
let newConn: ClientReport["newConn"] = null;
for (const ph of phases) {
  hist = ph.name === "warm" ? null : newHist();
  phaseMsgs = 0;
  console.log(`phase ${ph.name}`);
  const pEnd = performance.now() + ph.seconds * 1000;
  if (ph.name === "flood") {
    await Bun.sleep((ph.seconds * 1000) / 4);
    // Room for two SYN retransmissions (1 s and 3 s after the first, RFC 6298 2.1 and 5.5).
    newConn = await freshConnection(Math.max(1000, (ph.seconds * 1000 * 3) / 4 - 200));
  }
  const left = pEnd - performance.now();
  if (left > 0) await Bun.sleep(left);
  if (hist !== null) {
    const h = hist;
    reports.push({
      name: ph.name, seconds: ph.seconds, messages: phaseMsgs,
      p50Us: h.getValueAtPercentile(50), p99Us: h.getValueAtPercentile(99), p999Us: h.getValueAtPercentile(99.9), maxUs: h.maxValue,
    });
  }
}
clearInterval(ticker);
hist = null;
setupDone = false;
for (const s of socks) s?.end();
const report: ClientReport = { connected, errors, mismatches, phases: reports, newConn };
console.log(JSON.stringify(report));
process.exit(0);
