/**
 * Initial sequence numbers, RFC 6528 3 (updating RFC 9293 3.4.1):
 *
 *   ISN = M + F(localip, localport, remoteip, remoteport, secretkey)
 *
 * M is a timer that ticks every 4 microseconds (derived from the injected time
 * `nowUs`; it wraps modulo 2^32 every ~4.77 hours) and F is a keyed
 * pseudo-random function: SipHash-2-4 with a 128-bit secret (RFC 6528 3
 * recommends at least 128 bits), truncated to 32 bits (src/tcp/hash.ts).
 * The secret comes from the caller's injected RNG, so tests are deterministic.
 * Nothing is allocated per call. Result: an int32 sequence number.
 */

import { keyedHash } from "./hash";

/** Domain-separation word: the ISN function never shares inputs with the cookie or port hashes. */
const ISN_DOMAIN = 0x49534e31; // "ISN1"

export class IsnGenerator {
  private readonly key: Uint32Array;

  /** secretWords: at least 4 random 32-bit words (128 bits), from an injected RNG; copied. */
  constructor(secretWords: Uint32Array) {
    if (secretWords.length < 4) throw new RangeError("IsnGenerator: the secret needs 4 words (128 bits, RFC 6528 3)");
    this.key = new Uint32Array(4);
    for (let i = 0; i < 4; i++) this.key[i] = secretWords[i]!;
  }

  /**
   * The ISN for a connection (IPv4 addresses as uint32 values, ports 0..65535)
   * at time nowUs (integer microseconds), as int32.
   */
  isn(localIp: number, localPort: number, remoteIp: number, remotePort: number, nowUs: number): number {
    const m = Math.floor(nowUs / 4); // the 4-us timer M
    const f = keyedHash(this.key, localIp, remoteIp, ((localPort & 0xffff) << 16) | (remotePort & 0xffff), ISN_DOMAIN);
    return (m + f) | 0; // modulo 2^32
  }
}
