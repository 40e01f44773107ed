/**
 * Installs the shim's bulk-byte functions (c-shim/qs_mem.c) as the data path's
 * native memory operations (src/mem/native-mem.ts). Called when a DPDK device
 * opens: from then on copies between registered big buffers and checksum sums
 * over them are one FFI call each, with no view allocated.
 */
import { ptr, type Pointer } from "bun:ffi";
import { installNativeMem, nativeMemInstalled } from "../src/mem/native-mem";
import { shim } from "./shim";

export function enableNativeMem(): void {
  if (nativeMemInstalled() || process.env.QSTACK_NO_NATIVE_MEM === "1") return;
  const lib = shim();
  const copy = lib.qs_mem_copy;
  const sum = lib.qs_mem_csum;
  installNativeMem({
    addrOf: (buf) => Number(ptr(buf)),
    copy: (d, s, n) => copy(d as Pointer, s as Pointer, n),
    sum: (a, n) => sum(a as Pointer, n),
  });
}
