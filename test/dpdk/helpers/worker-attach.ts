/**
 * Worker for afpacket-scenario.ts: attaches to a port the main thread opened
 * (DpdkDevice.attach registers the thread with EAL), allocates buffers from
 * the shared pool and writes a pattern the main thread then checks and frees.
 */
import { DpdkDevice } from "../../../ffi/dpdk-device";
import { shim } from "../../../ffi/shim";
import { PacketBatch } from "../../../src/net/packet-batch";

declare const self: Worker;

self.onmessage = (e: MessageEvent<{ port: number }>) => {
  try {
    const dev = DpdkDevice.attach(e.data.port);
    const b = new PacketBatch(8);
    const got = dev.alloc(b, 8);
    for (let i = 0; i < got; i++) {
      for (let k = 0; k < 16; k++) dev.mem[b.off[i]! + k] = (i * 16 + k) & 0xff;
      b.len[i] = 16;
    }
    const lcore = shim().qs_lcore_id();
    dev.close();
    postMessage({
      lcore,
      lcoreAfterClose: shim().qs_lcore_id(),
      got,
      memBytes: dev.mem.byteLength,
      handles: Array.from(b.handle.subarray(0, got)),
      offs: Array.from(b.off.subarray(0, got)),
    });
  } catch (err) {
    postMessage({ error: String(err) });
  }
};
