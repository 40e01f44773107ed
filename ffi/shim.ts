/**
 * bun:ffi binding of build/libqstack_shim.so (c-shim/qstack_shim.h).
 *
 * Only ffi/ imports bun:ffi (STYLE.md "One I/O boundary"). Every symbol takes
 * and returns 32-bit ints, doubles and pointers: a 64-bit integer would cost a
 * BigInt per call (FACTS "FFI cost").
 */
import { dlopen, FFIType } from "bun:ffi";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ConfigError } from "../src/api/errors";

/** Where scripts/build-shim puts the library. */
export const SHIM_PATH = join(import.meta.dir, "..", "build", "libqstack_shim.so");

const i32 = FFIType.i32;
const f64 = FFIType.f64;
const ptr = FFIType.ptr;

/** The typed symbol table. Names and argument order follow qstack_shim.h. */
export const shimSymbols = {
  qs_last_error: { args: [ptr, i32], returns: i32 },
  qs_layout: { args: [ptr, i32], returns: i32 },

  qs_eal_init: { args: [ptr, i32, i32], returns: i32 },
  qs_eal_cleanup: { args: [], returns: i32 },
  qs_iova_mode_va: { args: [], returns: i32 },
  qs_has_hugepages: { args: [], returns: i32 },
  qs_thread_register: { args: [], returns: i32 },
  qs_thread_unregister: { args: [], returns: i32 },
  qs_lcore_id: { args: [], returns: i32 },
  qs_tsc_hz: { args: [], returns: f64 },
  qs_guard_stats: { args: [ptr], returns: i32 },

  qs_pool_create: { args: [ptr, i32, i32, i32], returns: i32 },
  qs_pool_base: { args: [i32], returns: ptr },
  qs_pool_span: { args: [i32], returns: f64 },
  qs_pool_chunks: { args: [i32], returns: i32 },
  qs_pool_avail: { args: [i32], returns: i32 },
  qs_pool_free: { args: [i32], returns: i32 },

  qs_dev_probe: { args: [ptr], returns: i32 },
  qs_port_by_name: { args: [ptr], returns: i32 },
  qs_port_count: { args: [], returns: i32 },
  qs_port_setup: { args: [i32, i32, i32, i32, i32, i32, i32], returns: i32 },
  qs_port_pool: { args: [i32], returns: i32 },
  qs_port_mac: { args: [i32, ptr], returns: i32 },
  qs_port_set_mac: { args: [i32, ptr], returns: i32 },
  qs_port_mtu: { args: [i32], returns: i32 },
  qs_port_driver: { args: [i32, ptr, i32], returns: i32 },
  qs_link_up: { args: [i32], returns: i32 },
  qs_port_stats: { args: [i32, ptr], returns: i32 },
  qs_port_stats_reset: { args: [i32], returns: i32 },
  qs_port_stop: { args: [i32], returns: i32 },
  qs_port_close: { args: [i32, i32], returns: i32 },
  qs_port_rss: { args: [i32, ptr, i32, ptr, ptr, i32], returns: i32 },

  qs_rx_burst: { args: [i32, i32, ptr, i32, i32], returns: i32 },
  qs_tx_burst: { args: [i32, i32, ptr, i32, i32], returns: i32 },
  qs_tx_burst_keep: { args: [i32, i32, ptr, i32, i32, ptr], returns: i32 },
  qs_alloc_bulk: { args: [i32, ptr, i32, i32, i32], returns: i32 },
  qs_free_bulk: { args: [i32, ptr, i32, i32], returns: i32 },
  qs_free_one: { args: [i32, i32], returns: i32 },

  qs_region_alloc: { args: [ptr, f64, i32], returns: ptr },
  qs_region_free: { args: [ptr], returns: i32 },
  qs_region_is_huge: { args: [ptr], returns: i32 },

  qs_mem_copy: { args: [ptr, ptr, i32], returns: FFIType.void },
  qs_mem_csum: { args: [ptr, i32], returns: i32 },

  qs_bench_reflect: { args: [i32, i32, f64, ptr], returns: i32 },
  qs_bench_send: { args: [i32, i32, i32, f64, ptr, i32, ptr], returns: i32 },
  qs_bench_reflect_burst: { args: [i32, i32], returns: i32 },
  qs_bench_send_burst: { args: [i32, i32, i32, ptr, i32, ptr], returns: i32 },
} as const;

function load() {
  if (!existsSync(SHIM_PATH)) {
    throw new ConfigError(`the DPDK shim is not built (${SHIM_PATH} missing): run npm run setup (or scripts/build-shim)`);
  }
  try {
    return dlopen(SHIM_PATH, shimSymbols);
  } catch (e) {
    const why = e instanceof Error ? e.message.split("\n")[0] : String(e);
    throw new ConfigError(`cannot load ${SHIM_PATH} (${why}): DPDK runtime libraries missing? run npm run setup`);
  }
}

export type Shim = ReturnType<typeof load>["symbols"];

let lib: ReturnType<typeof load> | null = null;

/** The shim's symbols, loading the library on first use. Throws ConfigError when it cannot. */
export function shim(): Shim {
  if (lib === null) lib = load();
  return lib.symbols;
}

/** True when build/libqstack_shim.so exists (tests use it to decide whether to skip). */
export function shimBuilt(): boolean {
  return existsSync(SHIM_PATH);
}

const errBuf = new Uint8Array(512);

/** The calling thread's last shim error message. */
export function lastError(): string {
  const n = shim().qs_last_error(errBuf, errBuf.length);
  return new TextDecoder().decode(errBuf.subarray(0, Math.max(0, n)));
}

/** A NUL-terminated copy of `s` for a `const char *` argument. */
export function cstr(s: string): Uint8Array {
  return new TextEncoder().encode(s + "\0");
}

/** Throw an Error carrying the shim's message when `ret` is negative; return it otherwise. */
export function check(ret: number, what: string): number {
  if (ret < 0) throw new Error(`${what}: ${lastError() || `error ${-ret}`}`);
  return ret;
}
