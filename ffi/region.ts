/**
 * Zeroed memory regions for the TypeScript mempools (src/mem/), from the shim:
 * 2 MB hugetlb pages when reserved ones are free, normal pages (with
 * transparent huge pages advised) otherwise. Does not need EAL.
 * The memory lives until freeRegion(); an ArrayBuffer over it must not be used after that.
 */
import { toArrayBuffer, ptr, type Pointer } from "bun:ffi";
import { check, cstr, lastError, shim } from "./shim";

export interface RegionOptions {
  /** Try hugetlb pages first (default true). */
  huge?: boolean;
}

const owned = new WeakMap<ArrayBuffer, Pointer>();

/** A zeroed region of at least `bytes` bytes, viewed as one ArrayBuffer of exactly `bytes`. */
export function allocRegion(name: string, bytes: number, opts: RegionOptions = {}): ArrayBuffer {
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new RangeError(`allocRegion(${name}): bad size ${bytes}`);
  const lib = shim();
  const addr = lib.qs_region_alloc(cstr(name), bytes, opts.huge === false ? 0 : 1);
  if (addr === null || addr === 0) throw new Error(`allocRegion(${name}, ${bytes}): ${lastError()}`);
  const buf = toArrayBuffer(addr as Pointer, 0, bytes);
  owned.set(buf, addr as Pointer);
  return buf;
}

/** True when the region is backed by hugetlb pages. */
export function regionIsHuge(buf: ArrayBuffer): boolean {
  const addr = owned.get(buf);
  if (addr === undefined) return false;
  return shim().qs_region_is_huge(addr) === 1;
}

/** Give the region back to the kernel. Views over it must not be touched afterwards. */
export function freeRegion(buf: ArrayBuffer): void {
  const addr = owned.get(buf);
  if (addr === undefined) throw new Error("freeRegion: not a region from allocRegion");
  owned.delete(buf);
  check(shim().qs_region_free(addr), "freeRegion");
}

/** Address of a region (for diagnostics). */
export function regionAddress(buf: ArrayBuffer): number {
  return (owned.get(buf) ?? ptr(new Uint8Array(buf))) as number;
}
