/**
 * Optional native bulk-byte operations for the data path: copying between two
 * big memories (the device's mbuf pool, the TCP buffer pool) and the RFC 1071
 * checksum sum, done by the DPDK shim when ffi/native-mem.ts installed it.
 *
 * Why: in Bun, `dst.set(src.subarray(a, b), o)` allocates a view per copy, and
 * on memory from toArrayBuffer that view costs far more than the memcpy it
 * feeds (the sender's per-segment copy was ~25 % of its profile). A native call
 * with two addresses allocates nothing and costs a few ns.
 *
 * This file does not import bun:ffi (only ffi/ does, STYLE.md): it keeps the
 * functions ffi/ installs and the base addresses of a few large buffers, looked
 * up by identity (a stack thread uses two or three: device memory, buffer pool).
 * Small or unknown buffers (an app's own Uint8Array) get -1 and the callers use
 * their plain TypeScript path; so does everything when nothing is installed
 * (unit tests, PairDevice).
 */

/** What ffi/ installs. Addresses are byte addresses as numbers (below 2^53). */
export interface NativeMemOps {
  /** Base address of buf's first byte (its memory must not move or be freed while registered). */
  addrOf(buf: Uint8Array): number;
  /** memmove(dst, src, n). */
  copy(dstAddr: number, srcAddr: number, n: number): void;
  /** RFC 1071 partial sum of the big-endian 16-bit words at [addr, addr + n), below 2^16. */
  sum(addr: number, n: number): number;
}

/** Buffers at least this large are worth a native address (pool-sized memory, not app chunks). */
export const MIN_REGISTERED_BYTES = 1 << 20;
const SLOTS = 4;

const bufs: (Uint8Array | null)[] = [null, null, null, null];
const addrs: number[] = [0, 0, 0, 0];
let nextSlot = 0;
let ops: NativeMemOps | null = null;

/** Install (or with null remove) the native operations; forgets registered buffers. */
export function installNativeMem(o: NativeMemOps | null): void {
  ops = o;
  for (let i = 0; i < SLOTS; i++) bufs[i] = null;
  nextSlot = 0;
}

/** True when native operations are installed. */
export function nativeMemInstalled(): boolean {
  return ops !== null;
}

/** Forget `buf` (its memory is about to be freed). */
export function forgetNativeBuffer(buf: Uint8Array): void {
  for (let i = 0; i < SLOTS; i++) if (bufs[i] === buf) bufs[i] = null;
}

/** Base address of buf for the native operations, or -1 (not installed, or buf too small to register). */
export function nativeAddr(buf: Uint8Array): number {
  for (let i = 0; i < SLOTS; i++) if (bufs[i] === buf) return addrs[i]!;
  const o = ops;
  if (o === null || buf.byteLength < MIN_REGISTERED_BYTES) return -1;
  const k = nextSlot;
  nextSlot = (k + 1) % SLOTS;
  bufs[k] = buf;
  addrs[k] = o.addrOf(buf);
  return addrs[k]!;
}

/**
 * Copy n bytes from src[srcOff] to dst[dstOff] natively when both buffers are
 * registered; returns false (nothing copied) otherwise.
 */
export function nativeCopy(dst: Uint8Array, dstOff: number, src: Uint8Array, srcOff: number, n: number): boolean {
  const o = ops;
  if (o === null) return false;
  const d = nativeAddr(dst);
  if (d < 0) return false;
  const s = nativeAddr(src);
  if (s < 0) return false;
  o.copy(d + dstOff, s + srcOff, n);
  return true;
}

/** RFC 1071 partial sum of buf[off, off + n) natively (below 2^16), or -1 when buf is not registered. */
export function nativeSum(buf: Uint8Array, off: number, n: number): number {
  const o = ops;
  if (o === null) return -1;
  const a = nativeAddr(buf);
  if (a < 0) return -1;
  return o.sum(a + off, n);
}
