/**
 * JIT warm-up of the SYN-flood paths before a stack serves (issue 7).
 *
 * Bun's engine (JavaScriptCore) compiles a function to optimised code only
 * after it has run many times. The paths a SYN flood takes (the classifier's
 * bare-SYN test and SynAdmission's bounds, TCP's listener lookup, the SYN
 * cookie and its SYN-ACK, the RST to a stray ACK) never run on a quiet server,
 * so the first second of a real flood runs them slowly while the compiler
 * threads take CPU from the poll loop: bench synflood measured an established
 * flow's p99 4.9-6x the no-flood figure for a cold flood against ~1-1.5x once
 * the same paths had run (`--warm-flood 0` against the default).
 *
 * prewarmFloodPaths() runs those paths before the stack starts serving, on a
 * private pair of stacks joined by a PairDevice on a virtual clock (no real
 * device, no time passing): stack B has the production TCP configuration and
 * the production classifier with its own SynAdmission, stack A holds a few
 * echo connections to B and floods B with bare SYNs from random sources in
 * full receive bursts, some of them retransmitted after 1 s and some from A's
 * own (known) address. Compiled code belongs to the functions, not to the
 * objects, so the real stack starts with it. Everything built here is dropped
 * on return; the caller's stack, counters and tables are not touched.
 */
import { Stack } from "./stack";
import { TcpSockets } from "./tcp-sockets";
import type { TcpConfig } from "../tcp/config";
import { Classifier, synLowClassifier } from "../sched/classifier";
import { SynAdmission, type SynAdmissionOptions } from "../sched/syn-admission";
import { ManualClock, PairDevice } from "../net/pair-device";
import { PacketBatch } from "../net/packet-batch";
import { SeededRng } from "../net/seeded-rng";
import { ETHERTYPE_IPV4, writeEthernetHeader } from "../wire/ethernet";
import { writeIpv4Header } from "../wire/ipv4";
import { TCP_SYN, TcpView, writeTcpHeader } from "../wire/tcp";

const IP_A = 0x0a000001;
const IP_B = 0x0a000002;
const PORT = 7;
const BURST = 32;

export interface PrewarmOptions {
  /** The production TCP configuration (maxConnections and buffers are capped here). */
  tcp: Partial<TcpConfig>;
  /** The production SYN admission bounds. */
  admission: SynAdmissionOptions;
  /** Bare SYNs to feed through (default 200,000). */
  syns?: number;
}

export interface PrewarmReport {
  syns: number;
  shed: number;
  cookies: number;
  /** SYNs let past the bounds as retransmissions of shed ones, and as from a known source. */
  retry: number;
  known: number;
  ms: number;
}

/** Run the SYN-flood paths `syns` times on a private stack pair (see the file comment). */
export function prewarmFloodPaths(o: PrewarmOptions): PrewarmReport {
  const t0 = performance.now();
  const syns = o.syns ?? 200_000;
  const clock = new ManualClock(1_000_000);
  const [da, db] = PairDevice.create({ clock, seed: 1, faults: { delayUs: 1 }, nbufs: 8192 });
  const now = () => clock.nowUs;
  // B routes the spoofed (off-subnet) sources through A, so its SYN-ACKs and RSTs leave the stack as in production.
  const a = new Stack(da, { ip: IP_A, prefixLen: 24 }, { clock: now });
  const b = new Stack(db, { ip: IP_B, prefixLen: 24, gateway: IP_A }, { clock: now });
  const rng = new SeededRng(7);
  const tcp: Partial<TcpConfig> = { ...o.tcp, maxConnections: 1024, synQueueSize: 16 };
  const sa = new TcpSockets(a, tcp, { rng: () => rng.nextU32() });
  const sb = new TcpSockets(b, tcp, { rng: () => rng.nextU32() });
  const adm = new SynAdmission(o.admission);
  b.setClassifier(new Classifier({ classes: 2, fn: synLowClassifier(), admission: adm }));
  sb.tcp.onPassiveOpen = (ip, nowUs) => adm.noteKnown(ip, nowUs);
  sb.listen({ port: PORT, backlog: 64, socket: { data: (s, d) => void s.write(d) } });
  const socks: { write(d: string): number }[] = [];
  for (let i = 0; i < 8; i++) {
    void sa.connect({ hostname: "10.0.0.2", port: PORT, noDelay: true, socket: { open: (s) => void socks.push(s) } });
  }
  const step = (us: number) => {
    clock.advance(us);
    for (let k = 0; k < 64 && a.poll(clock.nowUs) + b.poll(clock.nowUs) > 0; k++);
  };
  for (let k = 0; k < 100 && socks.length < 8; k++) step(100);

  const view = new TcpView();
  const batch = new PacketBatch(BURST);
  let sent = 0;
  let round = 0;
  while (sent < syns) {
    if (da.alloc(batch, BURST) !== BURST) {
      da.free(batch);
      step(1000);
      continue;
    }
    for (let i = 0; i < BURST; i++) {
      const off = batch.off[i]!;
      const n = sent + i;
      // Every 64th SYN repeats one of 1 s of virtual time ago (a retransmission); a few come from A itself.
      const id = n % 64 === 63 && n >= 32_000 ? n - 32_000 : n;
      const src = n % 512 === 511 ? IP_A : (0x0b000000 + (id & 0xffffff)) >>> 0;
      let q = off + writeEthernetHeader(da.mem, da.dv, off, db.caps.mac, da.caps.mac, ETHERTYPE_IPV4);
      q += writeIpv4Header(da.dv, q, 0, 40, id & 0xffff, false, 64, 6, src, IP_B);
      writeTcpHeader(da.dv, q, 1024 + ((id >>> 3) % 60000), PORT, Math.imul(id, 7919) >>> 0, 0, 20, TCP_SYN, 512);
      view.reset(da.mem, da.dv, q, 20).fillChecksum(src, IP_B);
      batch.len[i] = 60;
    }
    batch.count = BURST;
    da.txBurst(batch);
    batch.count = 0;
    sent += BURST;
    if (++round % 16 === 0) for (const s of socks) s.write("0123456789abcdef");
    // 1,000 full bursts per virtual second: the per-burst and rate bounds both engage.
    step(1000);
  }
  for (let k = 0; k < 20; k++) step(10_000);
  const shed = adm.shedBurst + adm.shedRate;
  const cookies = sb.tcp.counters.synCookiesSent;
  return { syns: sent, shed, cookies, retry: adm.retryAdmitted, known: adm.knownAdmitted, ms: Math.round(performance.now() - t0) };
}
