/**
 * Option negotiation and timestamp processing:
 *   MSS: RFC 9293 3.7.1 (536 when absent), RFC 6691; clamped to our MTU - 40.
 *   Window scale: RFC 7323 2.2-2.3 (only when both SYNs carry it; shift <= 14).
 *   Timestamps: RFC 7323 3.2 (only when both SYNs carry it), 4.3 TS.Recent, 5.3 PAWS.
 *   SACK-permitted: RFC 2018 2.
 */
import type { TcpOptions } from "../wire/tcp-options";
import { F_SACK_OK, F_TS_OK, F_WS_OK } from "./conn-table";
import type { SegInfo } from "./segment";
import type { TcpLayer } from "./tcp-layer";

/** Smallest MSS we accept from a peer (as Linux's TCP_MIN_MSS): a tiny MSS would make us send floods of tiny segments. */
export const MIN_MSS = 88;
/** RFC 9293 3.7.1: the MSS assumed when the peer sends no MSS option. */
export const DEFAULT_MSS = 536;
/** RFC 7323 5.5: TS.Recent is invalid after 24 days idle. */
const PAWS_IDLE_MS = 24 * 24 * 3600 * 1000;

/** Effective send MSS from the peer's MSS option (RFC 9293 3.7.1, RFC 1122 4.2.2.6). */
export function effectiveMss(t: TcpLayer, peerMss: number): number {
  let m = peerMss > 0 ? peerMss : DEFAULT_MSS;
  if (m > t.ourMss) m = t.ourMss;
  if (m < MIN_MSS) m = MIN_MSS;
  return m;
}

/** Flags for the options we offer on our own SYN (active open). */
export function offeredOptionFlags(t: TcpLayer): number {
  let f = 0;
  if (t.cfg.windowScaling) f |= F_WS_OK;
  if (t.cfg.sack) f |= F_SACK_OK;
  if (t.cfg.timestamps) f |= F_TS_OK;
  return f;
}

/**
 * Apply the options of the peer's SYN (or SYN-ACK). `offered` are the option flags we
 * put (or will put) on our SYN; an option is on only when both sides sent it.
 */
export function negotiate(t: TcpLayer, c: number, o: TcpOptions, offered: number, nowUs: number): void {
  const conns = t.conns;
  let f = conns.flags[c]! & ~(F_WS_OK | F_SACK_OK | F_TS_OK);
  conns.mss[c] = effectiveMss(t, o.mss);
  if ((offered & F_WS_OK) !== 0 && o.wscale >= 0) {
    f |= F_WS_OK;
    conns.sndWscale[c] = o.wscale;
    conns.rcvWscale[c] = t.rcvWscale;
  } else {
    conns.sndWscale[c] = 0;
    conns.rcvWscale[c] = 0;
  }
  if ((offered & F_SACK_OK) !== 0 && o.sackPermitted) f |= F_SACK_OK;
  if ((offered & F_TS_OK) !== 0 && o.tsPresent) {
    f |= F_TS_OK;
    conns.tsRecent[c] = o.tsVal;
    conns.tsRecentMs[c] = (nowUs / 1000) | 0;
    // RFC 6691 / RFC 7323 3.2: the MSS counts payload only; every segment of this
    // connection carries the 12-byte timestamp option, so payload per segment shrinks.
    conns.mss[c] = conns.mss[c]! - TS_OPTION_BYTES;
  }
  conns.flags[c] = f;
}

/** NOP NOP TS(10): the timestamp option as every segment carries it (RFC 7323 Appendix A). */
export const TS_OPTION_BYTES = 12;

/**
 * RFC 7323 5.3 R1 (PAWS): a non-RST segment whose TSval is older than TS.Recent is a
 * duplicate from an earlier incarnation of the sequence space and is rejected, unless
 * TS.Recent is more than 24 days old (5.5).
 */
export function pawsRejects(t: TcpLayer, c: number, seg: SegInfo, nowUs: number): boolean {
  const conns = t.conns;
  if ((conns.flags[c]! & F_TS_OK) === 0 || !seg.opts.tsPresent || (seg.flags & 0x04) !== 0) return false;
  if (((seg.opts.tsVal - conns.tsRecent[c]!) | 0) >= 0) return false;
  const ageMs = (((nowUs / 1000) | 0) - conns.tsRecentMs[c]!) | 0;
  if (ageMs > PAWS_IDLE_MS || ageMs < 0) {
    // 5.5: too old to compare; take the new value.
    conns.tsRecent[c] = seg.opts.tsVal;
    conns.tsRecentMs[c] = (nowUs / 1000) | 0;
    return false;
  }
  return true;
}

/** RFC 7323 4.3 (2): TS.Recent = SEG.TSval when SEG.TSval >= TS.Recent and SEG.SEQ <= Last.ACK.sent. */
export function updateTsRecent(t: TcpLayer, c: number, seg: SegInfo, origSeq: number, nowUs: number): void {
  const conns = t.conns;
  if ((conns.flags[c]! & F_TS_OK) === 0 || !seg.opts.tsPresent) return;
  if (((seg.opts.tsVal - conns.tsRecent[c]!) | 0) >= 0 && ((origSeq - conns.lastAckSent[c]!) | 0) <= 0) {
    conns.tsRecent[c] = seg.opts.tsVal;
    conns.tsRecentMs[c] = (nowUs / 1000) | 0;
  }
}
