/**
 * The Toeplitz hash NICs use for receive-side scaling (RSS), computed in
 * software so a stack thread can tell which queue a flow's segments will reach
 * (Microsoft, "RSS hashing functions" / "Verifying the RSS hash calculation";
 * DPDK rte_thash.h rte_softrss()).
 *
 * For each bit of the input, most significant bit of the first byte first: if
 * the bit is set, XOR into the result the 32 bits of the key that start at that
 * bit's position. IPv4/TCP input is 12 bytes in network order: source address,
 * destination address, source port, destination port; IPv4 alone is the first 8.
 * The queue is then reta[hash mod reta size] (the redirection table).
 */

/** The key of Microsoft's RSS verification suite (also the default of several NIC drivers). */
export const MS_RSS_KEY = Uint8Array.of(
  0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
  0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
  0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
);

/**
 * Toeplitz hash of the 32-bit words `w0..w{n-1}` (big-endian, as on the wire)
 * under `key` (at least 4 * n + 4 bytes). Returns an unsigned 32-bit hash.
 */
function toeplitzWords(key: Uint8Array, w0: number, w1: number, w2: number, n: number): number {
  let hash = 0;
  // The 32-bit key window at the current input bit, and the next key byte to shift in.
  let win = ((key[0]! << 24) | (key[1]! << 16) | (key[2]! << 8) | key[3]!) | 0;
  let kb = 4;
  for (let w = 0; w < n; w++) {
    const word = w === 0 ? w0 : w === 1 ? w1 : w2;
    for (let byte = 0; byte < 4; byte++) {
      const next = kb < key.length ? key[kb]! : 0;
      kb++;
      const in8 = (word >>> (24 - 8 * byte)) & 0xff;
      for (let bit = 7; bit >= 0; bit--) {
        if ((in8 >>> bit) & 1) hash ^= win;
        win = (win << 1) | ((next >>> bit) & 1);
      }
    }
  }
  return hash >>> 0;
}

/** Toeplitz hash of IPv4 + TCP/UDP ports: (srcIp, dstIp, srcPort, dstPort) as they appear in a received packet. */
export function toeplitzIpv4Ports(key: Uint8Array, srcIp: number, dstIp: number, srcPort: number, dstPort: number): number {
  if (key.length < 16) throw new RangeError("toeplitz: the key needs at least 16 bytes for IPv4 with ports");
  return toeplitzWords(key, srcIp, dstIp, ((srcPort & 0xffff) << 16) | (dstPort & 0xffff), 3);
}

/** Toeplitz hash of IPv4 addresses only (srcIp, dstIp). */
export function toeplitzIpv4(key: Uint8Array, srcIp: number, dstIp: number): number {
  if (key.length < 12) throw new RangeError("toeplitz: the key needs at least 12 bytes for IPv4");
  return toeplitzWords(key, srcIp, dstIp, 0, 2);
}

/** The queue RSS picks for `hash`: reta[hash mod reta.length] (DPDK: low bits of the hash). */
export function rssQueue(hash: number, reta: ArrayLike<number>): number {
  return reta[(hash >>> 0) % reta.length]!;
}
