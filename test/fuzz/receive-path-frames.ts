/**
 * Hostile frames for the receive-path fuzz test and bench/fuzz.ts: a FrameSpec
 * (fast-check arbitrary) says what to build (ARP, ICMP, TCP toward a live
 * connection / the listener / a closed port, other IPv4, raw bytes) and how to
 * damage it (truncation, wrong IPv4 total/header length, wrong TCP data offset,
 * option TLVs of length 0, 1 and overflowing, byte flips, every flag
 * combination, sequence and ack numbers in and out of window). `encodeFrame`
 * turns a spec into bytes against the *current* numbers of the target
 * connection, so "at RCV.NXT" means the live RCV.NXT.
 *
 * Checksums: "valid" (correct for the frame as finally damaged, so the deeper
 * layers see the damage), "broken" (flipped after fixing), or "stale"
 * (computed before the damage, the way a corrupting link would leave them).
 */
import fc from "fast-check";
import { checksumFold, checksumPartial, pseudoHeaderSum } from "../../src/wire/checksum";

export const ETH_LEN = 14;
export const MAX_FRAME = 1514;

/** Where a TCP frame goes and what its numbers are relative to. */
export const enum Target {
  /** The victim connection: anything goes, including in-window data and an exact RST. */
  Victim = 0,
  /** The sentinel connection: only what RFC 5961 says must not disturb it (see `harmless`). */
  Sentinel = 1,
  /** The listening port from a random source (SYN queue, SYN cookies, bad ACKs in LISTEN). */
  Listener = 2,
  /** A closed port (RST replies). */
  Closed = 3,
}

export const enum SeqMode {
  AtRcvNxt = 0,
  InWindow = 1,
  JustBelow = 2,
  BeyondWindow = 3,
  Far = 4,
  Random = 5,
}

export const enum AckMode {
  AtSndUna = 0,
  AtSndNxt = 1,
  TooNew = 2,
  TooOld = 3,
  Random = 4,
}

export interface OptSpec {
  kind: number;
  /** -1: no length byte (the option area ends); else the length byte as written. */
  len: number;
  data: number;
}

export interface TcpSpec {
  target: Target;
  flags: number;
  seqMode: SeqMode;
  seqDelta: number;
  ackMode: AckMode;
  ackDelta: number;
  window: number;
  opts: OptSpec[];
  /** Add a timestamp option with this TSval offset from the peer's last TSval (or none). */
  tsDelta: number | null;
  payloadLen: number;
  srcPort: number;
  srcIpLow: number;
}

export interface Damage {
  /** Cut the frame to this many bytes (when below its length). */
  truncateTo: number | null;
  /** Overwrite the IPv4 total length. */
  ipTotalLen: number | null;
  /** Overwrite the IPv4 version/IHL octet. */
  verIhl: number | null;
  /** Overwrite the TCP data offset nibble. */
  tcpDataOff: number | null;
  /** Overwrite bytes: [position (mod frame length), value]. */
  flips: [number, number][];
  /** Frame longer than the IPv4 total length (Ethernet padding or trailing junk). */
  trailer: number;
  checksums: "valid" | "broken" | "stale";
  /** Set MF / a fragment offset / options / TTL 0 / broadcast source / another dst. */
  ipQuirk: number;
}

export type FrameSpec =
  | { kind: "tcp"; tcp: TcpSpec; damage: Damage }
  | { kind: "arp"; op: number; hw: number; targetLow: number; senderLow: number; damage: Damage }
  | { kind: "icmp"; type: number; code: number; quoteTcp: boolean; len: number; damage: Damage }
  | { kind: "ipv4"; proto: number; len: number; damage: Damage }
  | { kind: "raw"; etherType: number; bytes: Uint8Array; toUs: boolean };

/** The live numbers `encodeFrame` resolves specs against. */
export interface FrameContext {
  ourMac: Uint8Array;
  peerMac: Uint8Array;
  ourIp: number;
  peerIp: number;
  listenPort: number;
  closedPort: number;
  /** Per target connection (Victim, Sentinel): ports and B's view of the sequence space. */
  conns: ConnNumbers[];
}

export interface ConnNumbers {
  localPort: number;
  remotePort: number;
  rcvNxt: number;
  rcvWnd: number;
  sndUna: number;
  sndNxt: number;
  maxSndWnd: number;
  tsRecent: number;
}

// ---- arbitraries -------------------------------------------------------------

const optArb: fc.Arbitrary<OptSpec> = fc.record({
  kind: fc.oneof(fc.constantFrom(0, 1, 2, 3, 4, 5, 8, 30, 254), fc.integer({ min: 0, max: 255 })),
  // 0 and 1 are illegal lengths; 41+ overflows any option area.
  len: fc.oneof(fc.constantFrom(-1, 0, 1, 2, 3, 4, 10, 18, 34, 41, 255), fc.integer({ min: 0, max: 60 })),
  data: fc.integer({ min: 0, max: 0x7fffffff }),
});

/** `arb` about once in `w + 1` draws, else null. */
function rarely<T>(arb: fc.Arbitrary<T>, w: number): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: w, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });
}

const damageArb: fc.Arbitrary<Damage> = fc.record({
  truncateTo: rarely(fc.integer({ min: 0, max: 120 }), 4),
  ipTotalLen: rarely(fc.oneof(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 0, max: 0xffff })), 5),
  verIhl: rarely(fc.oneof(fc.constantFrom(0x44, 0x46, 0x4f, 0x40, 0x45, 0x65), fc.integer({ min: 0, max: 255 })), 6),
  tcpDataOff: rarely(fc.integer({ min: 0, max: 15 }), 4),
  flips: fc.oneof(
    { weight: 6, arbitrary: fc.constant([] as [number, number][]) },
    { weight: 1, arbitrary: fc.array(fc.tuple(fc.integer({ min: 0, max: 1600 }), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }) },
  ),
  trailer: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 64 }) }),
  checksums: fc.constantFrom("valid", "valid", "valid", "broken", "stale"),
  ipQuirk: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 7 }) }),
});

const cleanDamage: Damage = { truncateTo: null, ipTotalLen: null, verIhl: null, tcpDataOff: null, flips: [], trailer: 0, checksums: "valid", ipQuirk: 0 };

/** Damage that is usually none, so many frames get deep into TCP. */
const mostlyClean: fc.Arbitrary<Damage> = fc.oneof({ weight: 3, arbitrary: fc.constant(cleanDamage) }, { weight: 2, arbitrary: damageArb });

const tcpArb: fc.Arbitrary<TcpSpec> = fc.record({
  target: fc.constantFrom(Target.Victim, Target.Victim, Target.Sentinel, Target.Sentinel, Target.Listener, Target.Closed),
  // Every combination of the eight flag bits (SYN+FIN, SYN+RST, none, all...).
  flags: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x00, 0x02, 0x03, 0x06, 0x10, 0x11, 0x12, 0x14, 0x18, 0x04, 0x01, 0x3f, 0xff)),
  seqMode: fc.constantFrom(SeqMode.AtRcvNxt, SeqMode.InWindow, SeqMode.JustBelow, SeqMode.BeyondWindow, SeqMode.Far, SeqMode.Random),
  seqDelta: fc.oneof(fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 0x7fffffff })),
  ackMode: fc.constantFrom(AckMode.AtSndUna, AckMode.AtSndNxt, AckMode.TooNew, AckMode.TooOld, AckMode.Random),
  ackDelta: fc.integer({ min: 1, max: 0x3fffffff }),
  window: fc.oneof(fc.constantFrom(0, 1, 65535), fc.integer({ min: 0, max: 65535 })),
  opts: fc.oneof({ weight: 3, arbitrary: fc.constant([] as OptSpec[]) }, { weight: 2, arbitrary: fc.array(optArb, { maxLength: 6 }) }),
  tsDelta: fc.option(fc.oneof(fc.integer({ min: -5, max: 5 }), fc.integer({ min: -0x7fffffff, max: 0x7fffffff })), { freq: 2 }),
  payloadLen: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 0, max: 1460 })),
  srcPort: fc.integer({ min: 1, max: 65535 }),
  srcIpLow: fc.integer({ min: 3, max: 254 }),
});

export const frameSpecArb: fc.Arbitrary<FrameSpec> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ kind: fc.constant("tcp" as const), tcp: tcpArb, damage: mostlyClean }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("arp" as const),
      op: fc.oneof(fc.constantFrom(1, 2), fc.integer({ min: 0, max: 65535 })),
      hw: fc.constantFrom(0, 0, 0, 1, 2),
      targetLow: fc.constantFrom(1, 2, 3, 255),
      senderLow: fc.constantFrom(0, 1, 9, 77),
      damage: mostlyClean,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("icmp" as const),
      type: fc.oneof(fc.constantFrom(0, 3, 8, 11, 12, 5), fc.integer({ min: 0, max: 255 })),
      code: fc.oneof(fc.constantFrom(0, 1, 2, 3, 4), fc.integer({ min: 0, max: 255 })),
      quoteTcp: fc.boolean(),
      len: fc.integer({ min: 0, max: 600 }),
      damage: mostlyClean,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("ipv4" as const),
      proto: fc.oneof(fc.constantFrom(17, 2, 41, 47, 50, 132), fc.integer({ min: 0, max: 255 })),
      len: fc.integer({ min: 0, max: 200 }),
      damage: mostlyClean,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("raw" as const),
      etherType: fc.constantFrom(0x0800, 0x0806, 0x8100, 0x86dd, 0x88cc, 0x0000, 0xffff),
      bytes: fc.uint8Array({ maxLength: 200 }),
      toUs: fc.boolean(),
    }),
  },
);

// ---- encoding ------------------------------------------------------------------

/** The IPv4 address with low octet `low` in the /24 of `ip`. */
function sameNet(ip: number, low: number): number {
  return ((ip & 0xffffff00) | (low & 0xff)) >>> 0;
}

function writeEth(out: Uint8Array, dst: Uint8Array, src: Uint8Array, type: number): void {
  out.set(dst, 0);
  out.set(src, 6);
  out[12] = type >>> 8;
  out[13] = type & 0xff;
}

function writeIp(dv: DataView, totalLen: number, proto: number, src: number, dst: number, id: number): void {
  const o = ETH_LEN;
  dv.setUint16(o, 0x4500);
  dv.setUint16(o + 2, totalLen);
  dv.setUint16(o + 4, id & 0xffff);
  dv.setUint16(o + 6, 0x4000);
  dv.setUint16(o + 8, (64 << 8) | proto);
  dv.setUint16(o + 10, 0);
  dv.setUint32(o + 12, src >>> 0);
  dv.setUint32(o + 16, dst >>> 0);
}

function ipChecksum(out: Uint8Array, dv: DataView): void {
  const hl = (out[ETH_LEN]! & 0x0f) << 2;
  const n = hl >= 20 && hl <= 60 ? hl : 20;
  dv.setUint16(ETH_LEN + 10, 0);
  dv.setUint16(ETH_LEN + 10, checksumFold(checksumPartial(out, ETH_LEN, n, 0)));
}

/** TCP checksum over what the IPv4 header claims (clamped to the frame), at `csumAt`. */
function l4Checksum(out: Uint8Array, dv: DataView, frameLen: number, proto: number, csumAt: number, pseudo: boolean): void {
  const hl = (out[ETH_LEN]! & 0x0f) << 2;
  const l4Off = ETH_LEN + (hl >= 20 ? hl : 20);
  let l4Len = dv.getUint16(ETH_LEN + 2) - (hl >= 20 ? hl : 20);
  if (l4Len > frameLen - l4Off) l4Len = frameLen - l4Off;
  if (l4Len < csumAt + 2) return;
  dv.setUint16(l4Off + csumAt, 0);
  const init = pseudo ? pseudoHeaderSum(dv.getUint32(ETH_LEN + 12), dv.getUint32(ETH_LEN + 16), proto, l4Len) : 0;
  dv.setUint16(l4Off + csumAt, checksumFold(checksumPartial(out, l4Off, l4Len, init)));
}

function writeOptions(out: Uint8Array, dv: DataView, off: number, spec: TcpSpec, ts: number, tsEcr: number): number {
  let p = off;
  const end = off + 40;
  if (spec.tsDelta !== null) {
    dv.setUint32(p, 0x0101080a);
    dv.setInt32(p + 4, ts);
    dv.setInt32(p + 8, tsEcr);
    p += 12;
  }
  for (const o of spec.opts) {
    if (p >= end) break;
    out[p++] = o.kind;
    if (o.kind === 0 || o.kind === 1) continue;
    if (o.len < 0 || p >= end) break;
    out[p++] = o.len & 0xff;
    // Fill the body as far as it fits; an overflowing length stays overflowing.
    for (let i = 0; i < o.len - 2 && p < end; i++) out[p++] = (o.data >>> ((i & 3) * 8)) & 0xff;
  }
  while ((p - off) & 3) out[p++] = 0;
  return p - off;
}

function seqFor(spec: TcpSpec, cn: ConnNumbers | null): number {
  if (cn === null || spec.seqMode === SeqMode.Random) return spec.seqDelta | 0;
  const wnd = cn.rcvWnd > 0 ? cn.rcvWnd : 1;
  switch (spec.seqMode) {
    case SeqMode.AtRcvNxt:
      return cn.rcvNxt;
    case SeqMode.InWindow:
      return (cn.rcvNxt + 1 + (spec.seqDelta % wnd)) | 0;
    case SeqMode.JustBelow:
      return (cn.rcvNxt - 1 - (spec.seqDelta % 70000)) | 0;
    case SeqMode.BeyondWindow:
      return (cn.rcvNxt + wnd + (spec.seqDelta % 70000)) | 0;
    default:
      return (cn.rcvNxt + 0x40000000 + (spec.seqDelta & 0x3fffffff)) | 0;
  }
}

function ackFor(spec: TcpSpec, cn: ConnNumbers | null): number {
  if (cn === null || spec.ackMode === AckMode.Random) return spec.ackDelta | 0;
  switch (spec.ackMode) {
    case AckMode.AtSndUna:
      return cn.sndUna;
    case AckMode.AtSndNxt:
      return cn.sndNxt;
    case AckMode.TooNew:
      return (cn.sndNxt + spec.ackDelta) | 0;
    default:
      return (cn.sndUna - cn.maxSndWnd - 1 - (spec.ackDelta & 0xffff)) | 0;
  }
}

/**
 * Frames sent to the sentinel connection are restricted to what must leave it
 * undisturbed (RFC 9293 3.10.7.4 acceptability, RFC 5961 3-5): out-of-window
 * segments, RSTs not exactly at RCV.NXT, SYNs (challenge ACK), ACKs outside
 * [SND.UNA - MAX.SND.WND, SND.NXT], and anything a checksum or header check
 * rejects. Returns the spec unchanged or adjusted to one of those.
 */
export function harmless(spec: TcpSpec, cn: ConnNumbers): TcpSpec {
  const fl = spec.flags;
  if (spec.seqMode === SeqMode.BeyondWindow || spec.seqMode === SeqMode.Far) return spec;
  if (spec.seqMode === SeqMode.JustBelow) {
    // Wholly below RCV.NXT (payload and FIN included) is a duplicate: dropped with an ACK.
    const len = spec.payloadLen + (fl & 0x01 ? 1 : 0) + (fl & 0x02 ? 1 : 0);
    return { ...spec, seqDelta: len + (spec.seqDelta % 1000) };
  }
  const seq = seqFor(spec, cn);
  if ((fl & 0x04) !== 0 && seq !== cn.rcvNxt) return spec; // RST off RCV.NXT: challenge ACK
  if ((fl & 0x04) === 0 && (fl & 0x02) !== 0) return spec; // SYN in window: challenge ACK
  if ((fl & 0x04) === 0 && (fl & 0x10) !== 0 && (spec.ackMode === AckMode.TooNew || spec.ackMode === AckMode.TooOld)) return spec;
  // Otherwise push it out of the window.
  return { ...spec, seqMode: SeqMode.BeyondWindow };
}

/** Encode `spec` into out[0..); returns the frame length. `id` varies the IPv4 identification. */
export function encodeFrame(spec: FrameSpec, ctx: FrameContext, out: Uint8Array, dv: DataView, id: number): number {
  if (spec.kind === "raw") {
    writeEth(out, spec.toUs ? ctx.ourMac : RANDOM_MAC, ctx.peerMac, spec.etherType);
    const n = Math.min(spec.bytes.length, MAX_FRAME - ETH_LEN);
    out.set(spec.bytes.subarray(0, n), ETH_LEN);
    return ETH_LEN + n;
  }
  let len: number;
  let proto = 0;
  let csumAt = -1;
  let pseudo = true;
  let d = spec.damage;
  if (spec.kind === "tcp" && spec.tcp.target === Target.Sentinel && d.checksums === "valid") {
    // Rewritten bytes under a valid checksum could turn a harmless segment into in-window data.
    d = { ...d, flips: [], tcpDataOff: null };
  }
  if (spec.kind === "arp" && spec.senderLow === 1 && d.flips.length > 0) {
    // ARP has no checksum: a flipped sender MAC in an otherwise valid ARP from the
    // real peer's address is a forged mapping (RFC 826 merge accepts it, as Linux
    // does), which would cut the sentinel off for the cache lifetime. Real links drop
    // such frames on the Ethernet FCS; forged ARP is not what this test measures.
    d = { ...d, flips: [] };
  }
  if (spec.kind === "arp") {
    writeEth(out, spec.op === 1 ? BROADCAST : ctx.ourMac, ctx.peerMac, 0x0806);
    const o = ETH_LEN;
    dv.setUint16(o, spec.hw === 1 ? 6 : 1);
    dv.setUint16(o + 2, spec.hw === 2 ? 0x86dd : 0x0800);
    out[o + 4] = 6;
    out[o + 5] = 4;
    dv.setUint16(o + 6, spec.op);
    out.set(ctx.peerMac, o + 8);
    dv.setUint32(o + 14, spec.senderLow === 0 ? 0 : sameNet(ctx.peerIp, spec.senderLow));
    out.fill(0, o + 18, o + 24);
    dv.setUint32(o + 24, sameNet(ctx.ourIp, spec.targetLow));
    len = ETH_LEN + 28;
    applyCommon(out, dv, d, len, false);
    return finishLen(d, len);
  }
  writeEth(out, ctx.ourMac, ctx.peerMac, 0x0800);
  const ipl = ETH_LEN + 20;
  if (spec.kind === "tcp") {
    const t = spec.tcp;
    proto = 6;
    csumAt = 16;
    let cn: ConnNumbers | null = null;
    let sport = t.srcPort;
    let dport = ctx.closedPort;
    let src = sameNet(ctx.peerIp, t.srcIpLow);
    let spec2 = t;
    if (t.target === Target.Victim || t.target === Target.Sentinel) {
      cn = ctx.conns[t.target]!;
      if (t.target === Target.Sentinel) spec2 = harmless(t, cn);
      sport = cn.remotePort;
      dport = cn.localPort;
      src = ctx.peerIp;
    } else if (t.target === Target.Listener) {
      dport = ctx.listenPort;
    }
    if (cn === null && src === ctx.peerIp && (sport === ctx.conns[0]!.remotePort || sport === ctx.conns[1]!.remotePort)) {
      sport = 1; // never the 4-tuple of a live connection by accident
    }
    const seq = seqFor(spec2, cn);
    const ack = ackFor(spec2, cn);
    const o = ipl;
    dv.setUint16(o, sport);
    dv.setUint16(o + 2, dport);
    dv.setInt32(o + 4, seq);
    dv.setInt32(o + 8, ack);
    dv.setUint16(o + 14, spec2.window);
    dv.setUint16(o + 16, 0);
    dv.setUint16(o + 18, t.flags & 0x20 ? 1 : 0);
    const ts = cn !== null ? (cn.tsRecent + (spec2.tsDelta ?? 0)) | 0 : spec2.tsDelta ?? 0;
    const optLen = writeOptions(out, dv, o + 20, spec2, ts, 0);
    dv.setUint16(o + 12, ((((20 + optLen) >>> 2) << 12) | (spec2.flags & 0xff)) & 0xffff);
    const pay = Math.min(spec2.payloadLen, MAX_FRAME - (o + 20 + optLen));
    for (let i = 0; i < pay; i++) out[o + 20 + optLen + i] = (i * 7 + id) & 0xff;
    len = o + 20 + optLen + pay;
    writeIp(dv, len - ETH_LEN, proto, src, ctx.ourIp, id);
  } else if (spec.kind === "icmp") {
    proto = 1;
    csumAt = 2;
    pseudo = false;
    const o = ipl;
    out[o] = spec.type;
    out[o + 1] = spec.code;
    dv.setUint16(o + 2, 0);
    dv.setUint32(o + 4, spec.type === 3 && spec.code === 4 ? 576 : id);
    let body = Math.min(spec.len, MAX_FRAME - o - 8);
    if (spec.quoteTcp && body >= 28) {
      // Quote one of our own segments (us -> peer) so TCP's ICMP handling runs.
      const q = o + 8;
      dv.setUint16(q, 0x4500);
      dv.setUint16(q + 2, 40);
      dv.setUint16(q + 8, (64 << 8) | 6);
      dv.setUint32(q + 12, ctx.ourIp >>> 0);
      dv.setUint32(q + 16, ctx.peerIp >>> 0);
      const cn = ctx.conns[id & 1]!;
      dv.setUint16(q + 20, cn.localPort);
      dv.setUint16(q + 22, cn.remotePort);
      dv.setInt32(q + 24, (cn.sndUna + (id & 3)) | 0);
    } else {
      for (let i = 0; i < body; i++) out[o + 8 + i] = (i + id) & 0xff;
    }
    len = o + 8 + body;
    writeIp(dv, len - ETH_LEN, proto, sameNet(ctx.peerIp, 2 + (id & 1)), ctx.ourIp, id);
  } else {
    proto = spec.proto;
    const body = Math.min(spec.len, MAX_FRAME - ipl);
    for (let i = 0; i < body; i++) out[ipl + i] = (i ^ id) & 0xff;
    len = ipl + body;
    writeIp(dv, len - ETH_LEN, proto, ctx.peerIp, ctx.ourIp, id);
  }
  // Trailing bytes beyond the IPv4 total length (padding / junk).
  for (let i = 0; i < d.trailer && len < MAX_FRAME; i++) out[len++] = 0xee;
  if (d.checksums === "stale") {
    ipChecksum(out, dv);
    if (csumAt >= 0) l4Checksum(out, dv, len, proto, csumAt, pseudo);
  }
  applyIpDamage(out, dv, d, len, spec.kind === "tcp");
  applyCommon(out, dv, d, len, true);
  if (d.checksums !== "stale") {
    if (csumAt >= 0) l4Checksum(out, dv, len, proto, csumAt, pseudo);
    ipChecksum(out, dv);
    if (d.checksums === "broken") {
      // Break one of the two: the IPv4 header sum or the L4 sum.
      const at = (id & 1) === 0 || csumAt < 0 ? ETH_LEN + 10 : ETH_LEN + ((out[ETH_LEN]! & 0x0f) << 2) + csumAt;
      if (at + 1 < len) out[at + 1] = out[at + 1]! ^ 0x5a;
    }
  }
  return finishLen(d, len);
}

function applyIpDamage(out: Uint8Array, dv: DataView, d: Damage, len: number, tcp: boolean): void {
  if (d.ipTotalLen !== null) dv.setUint16(ETH_LEN + 2, d.ipTotalLen);
  if (d.verIhl !== null) out[ETH_LEN] = d.verIhl;
  if (tcp && d.tcpDataOff !== null && ETH_LEN + 33 < len) out[ETH_LEN + 32] = (d.tcpDataOff << 4) | (out[ETH_LEN + 32]! & 0x0f);
  switch (d.ipQuirk) {
    case 1:
      dv.setUint16(ETH_LEN + 6, 0x2000); // MF: a first fragment
      break;
    case 2:
      dv.setUint16(ETH_LEN + 6, 0x0010); // a later fragment
      break;
    case 3:
      out[ETH_LEN + 8] = 0; // TTL 0
      break;
    case 4:
      dv.setUint32(ETH_LEN + 12, 0xffffffff); // broadcast source
      break;
    case 5:
      dv.setUint32(ETH_LEN + 16, 0x08080808); // not our address
      break;
    case 6:
      dv.setUint32(ETH_LEN + 12, 0xe0000001); // multicast source
      break;
    case 7:
      dv.setUint32(ETH_LEN + 16, dv.getUint32(ETH_LEN + 16) | 0xff); // subnet broadcast
      break;
  }
}

function applyCommon(out: Uint8Array, _dv: DataView, d: Damage, len: number, _ip: boolean): void {
  for (const [pos, v] of d.flips) if (len > ETH_LEN) out[ETH_LEN + (pos % (len - ETH_LEN))] = v;
}

function finishLen(d: Damage, len: number): number {
  return d.truncateTo !== null && d.truncateTo < len ? d.truncateTo : len;
}

const BROADCAST = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
const RANDOM_MAC = new Uint8Array([0x02, 0x99, 0x88, 0x77, 0x66, 0x55]);
