/**
 * SYN cookies: a listener under SYN flood answers with a SYN-ACK whose ISN
 * encodes what it would otherwise keep (RFC 4987 3.6), and rebuilds the
 * connection from the returning ACK. The layout is the one Linux uses:
 *
 *   ISN = H1(4-tuple) + peerIsn + (count << 24) + ((H2(H1, peerIsn, count) + mssIndex) mod 2^24)
 *
 * count is a 64-second counter (nowUs / 64 s); a cookie is accepted while the
 * counter has advanced by at most 1 since it was made (between 64 and 128 s of
 * validity). H1 and H2 are SipHash-2-4 (src/tcp/hash.ts) under the secret with
 * different domain words; unlike Linux, H2 also covers the peer's ISN, so an
 * ACK whose sequence number is not the SYN's + 1 fails too. The 24-bit field
 * must decode to a valid MSS index,
 * so a blind forgery succeeds with probability about 4 / 2^24 per try (times
 * 2/256 for the counter byte).
 *
 * The ISN carries only the MSS (an index into MSS_TABLE). When the peer sent
 * timestamps (RFC 7323), the low 6 bits of our SYN-ACK's TSval carry the
 * peer's window scale (4 bits, 15 = none) and SACK-permitted (1 bit); bit 5 is
 * always 0. They come back in the ACK's TSecr. The TSval is our timestamp clock
 * with its low 6 bits replaced, moved back by 64 if that put it in the future,
 * so later TSvals from the same clock never go backwards (RFC 7323 5.4).
 *
 * The timestamp clock is `tsClock(nowUs)` (1 ms ticks) unless the caller passes
 * its own current TSval as `tsNow`; the connection must keep using that clock.
 * Everything is int32 arithmetic; nothing is allocated per call.
 */

import { keyedHash } from "./hash";

/** MSS values a cookie can carry (Linux's IPv4 table): the largest not above the peer's MSS is used. */
export const MSS_TABLE: readonly number[] = [536, 1300, 1440, 1460];

/** Length of one counter period: 64 s. */
export const COOKIE_PERIOD_US = 64_000_000;
/** Cookies made this many periods ago or more are rejected (so a cookie lives 64..128 s). */
export const COOKIE_MAX_AGE_PERIODS = 2;

const COOKIE_BITS = 24;
const COOKIE_MASK = (1 << COOKIE_BITS) - 1;
const TS_OPT_BITS = 6;
const TS_OPT_MASK = (1 << TS_OPT_BITS) - 1;
const TS_WSCALE_MASK = 0x0f;
const TS_WSCALE_NONE = 0x0f;
const TS_SACK_BIT = 0x10;
const TS_MUST_BE_ZERO = 0x20;

const DOMAIN_H1 = 0x53594e31; // "SYN1"
const DOMAIN_H2 = 0x53594e32; // "SYN2"

const MSS_TABLE_I32 = new Int32Array(MSS_TABLE);

/** The default TCP timestamp clock for cookies: milliseconds (RFC 7323 5.4 allows 1 ms .. 1 s per tick), int32. */
export function tsClock(nowUs: number): number {
  return Math.floor(nowUs / 1000) | 0;
}

/** What encodeCookie produces and decodeCookie restores. Reuse one instance. */
export class SynCookieRepr {
  /** Our ISN (int32). */
  isn = 0;
  /** TSval for the SYN-ACK (int32), when tsOk. */
  tsVal = 0;
  /** Restored MSS (a MSS_TABLE entry). */
  mss = 0;
  /** Restored peer window shift 0..14, or -1 when the peer did not offer window scaling (or no timestamps). */
  wscale = -1;
  /** Restored SACK-permitted (false without timestamps). */
  sackOk = false;
  /** Whether the options came back in TSecr (the peer uses timestamps). */
  tsOk = false;
}

function ports(localPort: number, remotePort: number): number {
  return ((localPort & 0xffff) << 16) | (remotePort & 0xffff);
}

/** Index of the largest MSS_TABLE entry <= mss (0 when mss is below all of them). */
export function mssIndex(mss: number): number {
  let i = MSS_TABLE_I32.length - 1;
  while (i > 0 && MSS_TABLE_I32[i]! > mss) i--;
  return i;
}

/**
 * Make the cookie for a SYN: out.isn (our ISN) and, when tsOk, out.tsVal.
 * secret: 4 words (128-bit key). peerIsn: the SYN's sequence number. mss: the
 * peer's MSS option (or the default 536). wscale: the peer's window shift, -1
 * if absent. sackOk: the peer sent SACK-permitted. tsOk: the peer sent
 * timestamps (without them only the MSS survives). tsNow: our current TSval, if
 * the caller's timestamp clock is not tsClock(nowUs).
 */
export function encodeCookie(
  out: SynCookieRepr,
  secret: Uint32Array,
  localIp: number,
  localPort: number,
  remoteIp: number,
  remotePort: number,
  peerIsn: number,
  nowUs: number,
  mss: number,
  wscale: number,
  sackOk: boolean,
  tsOk: boolean,
  tsNow?: number,
): void {
  const count = Math.floor(nowUs / COOKIE_PERIOD_US);
  const p = ports(localPort, remotePort);
  const h1 = keyedHash(secret, localIp, remoteIp, p, DOMAIN_H1);
  const h2 = keyedHash(secret, h1, peerIsn, count, DOMAIN_H2);
  const idx = mssIndex(mss);
  out.isn = (h1 + peerIsn + ((count & 0xff) << COOKIE_BITS) + ((h2 + idx) & COOKIE_MASK)) | 0;
  out.mss = MSS_TABLE_I32[idx]!;
  out.tsOk = tsOk;
  if (tsOk) {
    let w = wscale < 0 ? TS_WSCALE_NONE : wscale > 14 ? 14 : wscale; // RFC 7323 2.3: at most 14
    w |= sackOk ? TS_SACK_BIT : 0;
    const now = tsNow === undefined ? tsClock(nowUs) : tsNow | 0;
    let ts = (now & ~TS_OPT_MASK) | w;
    if (((ts - now) | 0) > 0) ts = (ts - (1 << TS_OPT_BITS)) | 0;
    out.tsVal = ts;
    out.wscale = wscale < 0 ? -1 : wscale > 14 ? 14 : wscale;
    out.sackOk = sackOk;
  } else {
    out.tsVal = 0;
    out.wscale = -1;
    out.sackOk = false;
  }
}

/**
 * Check the ACK that completes a handshake we answered with a cookie.
 * peerIsn: the peer's ISN (the ACK's sequence number - 1). ackNumber: the ACK's
 * acknowledgment number (our ISN + 1). tsEcr: the ACK's TSecr, or -1 when it
 * carries no timestamp option (as TcpOptions reports it). Returns true and fills
 * out (isn, mss, wscale, sackOk, tsOk) for a valid cookie no older than
 * COOKIE_MAX_AGE_PERIODS counter periods; false for a forged or expired one.
 */
export function decodeCookie(
  secret: Uint32Array,
  localIp: number,
  localPort: number,
  remoteIp: number,
  remotePort: number,
  peerIsn: number,
  ackNumber: number,
  tsEcr: number,
  nowUs: number,
  out: SynCookieRepr,
): boolean {
  const count = Math.floor(nowUs / COOKIE_PERIOD_US);
  const p = ports(localPort, remotePort);
  const isn = (ackNumber - 1) | 0;
  const h1 = keyedHash(secret, localIp, remoteIp, p, DOMAIN_H1);
  const cookie = (isn - h1 - peerIsn) | 0;
  const age = (count - (cookie >>> COOKIE_BITS)) & 0xff;
  if (age >= COOKIE_MAX_AGE_PERIODS) return false;
  const made = count - age;
  if (made < 0) return false;
  const h2 = keyedHash(secret, h1, peerIsn, made, DOMAIN_H2);
  const idx = (cookie - h2) & COOKIE_MASK;
  if (idx >= MSS_TABLE_I32.length) return false;
  out.isn = isn;
  out.mss = MSS_TABLE_I32[idx]!;
  out.tsVal = 0;
  if ((tsEcr & TS_MUST_BE_ZERO) === 0) {
    // RFC 7323 3.2: the peer echoes our SYN-ACK's TSval.
    const w = tsEcr & TS_WSCALE_MASK;
    out.tsOk = true;
    out.wscale = w === TS_WSCALE_NONE ? -1 : w > 14 ? 14 : w;
    out.sackOk = (tsEcr & TS_SACK_BIT) !== 0;
  } else {
    out.tsOk = false;
    out.wscale = -1;
    out.sackOk = false;
  }
  return true;
}
