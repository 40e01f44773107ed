/*
 * qstack_shim: bulk byte work for the TypeScript data path, addressed by raw
 * pointers into memory TypeScript already sees (the mbuf pool, stack regions,
 * large ArrayBuffers): memcpy without a per-call view allocation, and the
 * RFC 1071 Internet checksum sum. No protocol logic: callers in src/ decide
 * what to copy and what the sum covers (src/mem/native-mem.ts).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>

#include "qstack_shim.h"

void qs_mem_copy(void *dst, const void *src, int n) {
  if (n > 0) memmove(dst, src, (size_t)n);
}

/*
 * RFC 1071 partial sum of the big-endian 16-bit words of p[0, n), an odd last
 * byte padded with zero (RFC 1071 (4.1)). Sums native (little-endian) words in
 * a 64-bit accumulator 32 bits at a time, folds, and swaps once at the end
 * (RFC 1071 (2)(B): byte order independence). Returns a value below 2^16.
 */
int qs_mem_csum(const void *buf, int n) {
  const uint8_t *p = (const uint8_t *)buf;
  uint64_t s = 0;
  if (n <= 0) return 0;
  while (n >= 32) {
    uint64_t a, b, c, d;
    memcpy(&a, p, 8);
    memcpy(&b, p + 8, 8);
    memcpy(&c, p + 16, 8);
    memcpy(&d, p + 24, 8);
    s += (a & 0xffffffffu) + (a >> 32) + (b & 0xffffffffu) + (b >> 32) + (c & 0xffffffffu) + (c >> 32) +
         (d & 0xffffffffu) + (d >> 32);
    p += 32;
    n -= 32;
  }
  while (n >= 4) {
    uint32_t w;
    memcpy(&w, p, 4);
    s += w;
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    uint16_t w;
    memcpy(&w, p, 2);
    s += w;
    p += 2;
    n -= 2;
  }
  if (n == 1) s += p[0]; /* the low byte of a little-endian word = the high byte after the swap */
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (int)(((s & 0xff) << 8) | (s >> 8));
}
